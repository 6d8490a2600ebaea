// Typed decoding: a value decoded as a C++ decoder of the schema's type
// would, refusing anything else (TypeMismatch for a value of another type,
// Deserialization for broken bytes), built from the codec's read* primitives.

import {
  F_OPTIONAL,
  F_TYPES,
  F_VIEW,
  NONE,
  Reader,
  STRUCT_NAME,
  Some,
  Variant,
  borrowReader,
  deserErr,
  enterDec,
  flagsOf,
  kEncoder,
  nameBytes,
  peekPackedElem,
  readBlob,
  readCount,
  readErrorValue,
  readFields,
  readFlag,
  readNumber,
  readPacked,
  readText,
  readU32,
  releaseReader,
  setField,
  trailingCheck,
  unknownTag,
  type DecodeOptions,
} from '../codec.js';
// Tag comes from codec/tags.ts itself, not codec.js: build.mjs bundles that
// file into dist/schema.js, so its members are constants here.
import { Tag, type NumberTag } from '../codec/tags.js';
import { decodeSchemaForm, readMapPairs, readVariantIndex } from './compile.js';
import { describeSchema } from './format.js';
import { actualName, printable, typeMismatchAt } from './mismatch.js';
import type { MapSchema, Schema, StructSchema } from './types.js';

// Consumes the tag if it is `tag`; otherwise TypeMismatch (or Deserialization for no tag at all).
function expectTag(r: Reader, s: Schema, tag: number): void {
  const at = r.pos;
  if (at >= r.end) throw deserErr(`input ends at offset ${at - r.base} where ${describeSchema(s)} was expected`);
  const got = r.u8[at]!;
  if (got === tag) {
    r.pos = at + 1;
    return;
  }
  if (got > Tag.Schema) unknownTag(r, got, at);
  throw typeMismatchAt(r, describeSchema(s), actualName(r, at), at);
}

// A u8-length name compared byte for byte with `want` (a typed decoder does not validate, it compares).
function nameMatches(r: Reader, want: Uint8Array, what: string): { ok: boolean; at: number; n: number } {
  const at = nameBytes(r, what);
  const n = r.pos - at - 1;
  let ok = n === want.length;
  for (let i = 0; ok && i < n; i++) ok = r.u8[at + 1 + i] === want[i];
  return { ok, at, n };
}

// The UTF-8 of a struct's name and field names, made once per schema object.
const kNameBytes = new WeakMap<StructSchema, { name: Uint8Array; fields: Uint8Array[] }>();
function namesOf(s: StructSchema): { name: Uint8Array; fields: Uint8Array[] } {
  let n = kNameBytes.get(s);
  if (n === undefined) {
    n = { name: kEncoder.encode(s.name), fields: (s.fields ?? []).map((f) => kEncoder.encode(f.name)) };
    kNameBytes.set(s, n);
  }
  return n;
}

// A map of `s`, whose keys must be unique.
function decMapAs(r: Reader, s: MapSchema, flags: number, depth: number): Map<unknown, unknown> {
  const at = r.pos;
  expectTag(r, s, Tag.Map);
  enterDec(r, at, depth);
  return readMapPairs(r, readCount(r, 'map count', 2), () => decAs(r, s.key, flags, depth + 1), () => decAs(r, s.value, flags, depth + 1));
}

function decAs(r: Reader, s: Schema, flags: number, depth: number): unknown {
  const at = r.pos;
  switch (s.kind) {
    case 'scalar': {
      expectTag(r, s, s.tag);
      if (s.tag === Tag.Unit) return undefined;
      if (s.tag === Tag.Bool) return readFlag(r, 'bool byte');
      return readNumber(r, s.tag as NumberTag);
    }
    case 'string':
      expectTag(r, s, Tag.String);
      return readText(r, 'string');
    case 'bytes': {
      expectTag(r, s, Tag.Bytes);
      const n = readBlob(r, 'bytes');
      const p = r.pos - n;
      return flags & F_VIEW ? r.u8.subarray(p, p + n) : r.u8.slice(p, p + n);
    }
    case 'packed': {
      expectTag(r, s, Tag.Packed);
      if (peekPackedElem(r) !== s.elem) throw typeMismatchAt(r, describeSchema(s), actualName(r, at), at);
      return readPacked(r);
    }
    case 'array': {
      expectTag(r, s, Tag.Array);
      enterDec(r, at, depth);
      const count = readCount(r, 'array count', 1);
      const out = new Array<unknown>(count);
      for (let i = 0; i < count; i++) out[i] = decAs(r, s.item, flags, depth + 1);
      return out;
    }
    case 'tuple': {
      expectTag(r, s, Tag.Array);
      enterDec(r, at, depth);
      const n = s.items.length;
      const count = readU32(r, 'array count', '');
      if (count !== n) throw typeMismatchAt(r, `array of ${n}`, `array of ${count}`, at, `a fixed sequence of ${n} decodes only from an array of ${n}`);
      const out = new Array<unknown>(n);
      for (let i = 0; i < n; i++) out[i] = decAs(r, s.items[i]!, flags, depth + 1);
      return out;
    }
    case 'optional': {
      expectTag(r, s, Tag.Optional);
      enterDec(r, at, depth);
      if (!readFlag(r, 'optional flag')) return flags & F_OPTIONAL ? NONE : null;
      const v = decAs(r, s.value, flags, depth + 1);
      return flags & F_OPTIONAL ? new Some(v) : v;
    }
    case 'variant': {
      expectTag(r, s, Tag.Variant);
      enterDec(r, at, depth);
      const index = readVariantIndex(r, s.alts.length);
      return new Variant(index, decAs(r, s.alts[index]!, flags, depth + 1));
    }
    case 'map':
      return decMapAs(r, s, flags, depth);
    case 'struct':
      return decStructAs(r, s, flags, depth);
    case 'error':
      expectTag(r, s, Tag.Error);
      return readErrorValue(r);
    case 'result':
      if (r.pos < r.end && r.u8[r.pos] === Tag.Error) {
        r.pos++;
        return readErrorValue(r);
      }
      return decAs(r, s.value, flags, depth);
  }
}

function decStructAs(r: Reader, s: StructSchema, flags: number, depth: number): unknown {
  const at = r.pos;
  expectTag(r, s, Tag.Struct);
  enterDec(r, at, depth);
  const names = namesOf(s);
  const nm = nameMatches(r, names.name, 'struct name');
  if (!nm.ok) throw typeMismatchAt(r, `struct ${s.name}`, `struct ${printable(r.u8, nm.at + 1, nm.n)}`, at);
  const o: Record<string | symbol, unknown> = { [STRUCT_NAME]: s.name };
  // No body known: any fields, decoded generically.
  if (s.fields === null) return readFields(r, o, flags, depth);
  // The count is compared before the bytes it needs are: a wrong count is a TypeMismatch.
  const countAt = r.pos;
  const count = r.readU16('struct field count');
  const fields = s.fields;
  if (count !== fields.length) {
    throw typeMismatchAt(r, `struct ${s.name} with ${fields.length} fields`, `struct ${s.name} with ${count} fields`, countAt);
  }
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    const fm = nameMatches(r, names.fields[i]!, 'field name');
    if (!fm.ok) throw typeMismatchAt(r, `${s.name}.${f.name}`, `${s.name}.${printable(r.u8, fm.at + 1, fm.n)}`, fm.at);
    setField(o, f.name, decAs(r, f.type, flags, depth + 1));
  }
  return o;
}

/**
 * decodeAs() of the first value of bytes[start, end) (more may follow, as in
 * a stream record); sets `next.at` to where it ends. Offsets in messages
 * count from `start`.
 */
export function decodeAsFirst(bytes: Uint8Array, start: number, end: number, next: { at: number }, schema: Schema): unknown {
  const r = borrowReader(bytes);
  try {
    r.resetRange(bytes, start, end);
    const v = decTop(r, schema, 0);
    next.at = r.pos;
    return v;
  } finally {
    releaseReader(r);
  }
}

/** decodeAs() of exactly the one value filling bytes[start, end) (offsets in messages count from start). */
export function decodeAsRange(bytes: Uint8Array, start: number, end: number, schema: Schema): unknown {
  const r = borrowReader(bytes);
  try {
    r.resetRange(bytes, start, end);
    const v = decTop(r, schema, 0);
    trailingCheck(r);
    return v;
  } finally {
    releaseReader(r);
  }
}

// A value at the top: the tagged form or the schema form (CODEC.md "Schema form").
function decTop(r: Reader, schema: Schema, flags: number): unknown {
  if (r.pos < r.end && r.u8[r.pos] === Tag.Schema) return decodeSchemaForm(r, schema, flags);
  return decAs(r, schema, flags, 0);
}

/**
 * Decodes one value as a C++ decoder of `schema`'s type would, refusing
 * anything else: TypeMismatch for a value of another type ("type mismatch:
 * expected i32, got string at offset 10"), Deserialization for broken bytes,
 * an out-of-range variant index or a repeated map key. Values come back as
 * decode() gives them (numbers, bigint for 64-bit, null for none, ...); an
 * error value where `error` or `!T` allows one is returned as a FerryError.
 * It reads the tagged form and the schema form (tag 0x15) alike. With a
 * Reader: decodes at its position and moves past the value; with bytes:
 * exactly one value, trailing bytes are Deserialization.
 */
export function decodeAs(input: Uint8Array | Reader, schema: Schema, opts?: DecodeOptions): unknown {
  const flags = flagsOf(opts) & ~F_TYPES; // typed decoding gives plain numbers
  if (input instanceof Reader) return decTop(input, schema, flags);
  const r = borrowReader(input);
  try {
    const v = decTop(r, schema, flags);
    trailingCheck(r);
    return v;
  } finally {
    releaseReader(r);
  }
}
