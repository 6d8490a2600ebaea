// The generic decoder: the wire to JavaScript values, needing no schema
// (every value is tagged).

import { deserErr } from './common.js';
import {
  Reader,
  borrowReader,
  enterDec,
  readBlob,
  readCount,
  readErrorValue,
  readFieldCount,
  readFlag,
  readName,
  readNumber,
  readPacked,
  readSchemaForm,
  readText,
  readU32,
  releaseReader,
  takeReader,
  trailingCheck,
  unknownTag,
} from './reader.js';
import { Tag, type NumberTag } from './tags.js';
import { walk } from './text.js';
import { NONE, STRUCT_NAME, SchemaForm, Some, Typed, Variant, setField } from './values.js';

export interface DecodeOptions {
  /** false: bytes values are views into the input (zero-copy); default true (copies). */
  copy?: boolean;
  /** Numbers as Typed wrappers (and optionals as Some/NONE), so values re-encode byte-exact. */
  preserveTypes?: boolean;
  /** Optionals as Some/NONE instead of value/null; defaults to preserveTypes. */
  preserveOptional?: boolean;
}

/** @internal decode flags: bytes as views of the input, Typed numbers, Some/NONE optionals. */
export const F_VIEW = 1;
/** @internal */
export const F_TYPES = 2;
/** @internal */
export const F_OPTIONAL = 4;

/** @internal the flags of `o`. */
export function flagsOf(o: DecodeOptions | undefined): number {
  if (o === undefined) return 0;
  let f = 0;
  if (o.copy === false) f |= F_VIEW;
  if (o.preserveTypes) f |= F_TYPES | F_OPTIONAL;
  if (o.preserveOptional !== undefined) f = o.preserveOptional ? f | F_OPTIONAL : f & ~F_OPTIONAL;
  return f;
}

/** @internal the generic decoder with decode flags (F_*) at `depth` open levels. */
export function decValue(r: Reader, flags: number, depth: number): unknown {
  const at = r.pos;
  if (at >= r.end) throw deserErr(`input ends at offset ${at - r.base} where a value was expected`);
  const tag = r.u8[at]!;
  r.pos = at + 1;
  switch (tag) {
    case Tag.Unit:
      return undefined;
    case Tag.Bool:
      return readFlag(r, 'bool byte');
    case Tag.I8: case Tag.U8: case Tag.I16: case Tag.U16: case Tag.I32: case Tag.U32:
    case Tag.I64: case Tag.U64: case Tag.F32: case Tag.F64: {
      const v = readNumber(r, tag as NumberTag);
      return flags & F_TYPES ? new Typed(tag, v) : v;
    }
    case Tag.String:
      return readText(r, 'string');
    case Tag.Bytes: {
      const n = readBlob(r, 'bytes');
      const p = r.pos - n;
      return flags & F_VIEW ? r.u8.subarray(p, p + n) : r.u8.slice(p, p + n);
    }
    case Tag.Array: {
      enterDec(r, at, depth);
      const count = readCount(r, 'array count', 1);
      const out = new Array<unknown>(count);
      for (let i = 0; i < count; i++) out[i] = decValue(r, flags, depth + 1);
      return out;
    }
    case Tag.Packed:
      return readPacked(r);
    case Tag.Optional: {
      enterDec(r, at, depth);
      const present = readFlag(r, 'optional flag');
      if (!present) return flags & F_OPTIONAL ? NONE : null;
      const v = decValue(r, flags, depth + 1);
      return flags & F_OPTIONAL ? new Some(v) : v;
    }
    case Tag.Variant: {
      enterDec(r, at, depth);
      const index = readU32(r, 'variant index', '');
      return new Variant(index, decValue(r, flags, depth + 1));
    }
    case Tag.Map: {
      enterDec(r, at, depth);
      const count = readCount(r, 'map count', 2);
      const m = new Map<unknown, unknown>();
      for (let i = 0; i < count; i++) {
        const k = decValue(r, flags, depth + 1);
        m.set(k, decValue(r, flags, depth + 1));
      }
      return m;
    }
    case Tag.Struct: {
      enterDec(r, at, depth);
      const name = readName(r, 'struct name');
      return readFields(r, { [STRUCT_NAME]: name }, flags, depth);
    }
    case Tag.Error:
      return readErrorValue(r);
    case Tag.Schema: {
      const n = readSchemaForm(r);
      const p = r.pos - n;
      return new SchemaForm(flags & F_VIEW ? r.u8.subarray(p, p + n) : r.u8.slice(p, p + n));
    }
    default:
      return unknownTag(r, tag, at);
  }
}

/**
 * @internal the u16 field count and the fields of a struct at `depth`, whose
 * tag and name were read, into `o` (src/schema/decode.ts uses it for a struct
 * with no known body).
 */
export function readFields(r: Reader, o: Record<string | symbol, unknown>, flags: number, depth: number): Record<string | symbol, unknown> {
  const count = readFieldCount(r);
  for (let i = 0; i < count; i++) {
    const field = readName(r, 'field name');
    setField(o, field, decValue(r, flags, depth + 1));
  }
  return o;
}

/** Decodes the value at the reader's position and moves past it. */
export function decodeFrom(r: Reader, opts?: DecodeOptions): unknown {
  return decValue(r, flagsOf(opts), 0);
}

/** decode() of exactly one value filling bytes[start, end), without a view of it. */
export function decodeRange(bytes: Uint8Array, start: number, end: number, opts?: DecodeOptions): unknown {
  const r = takeReader();
  try {
    r.resetRange(bytes, start, end);
    const v = decValue(r, flagsOf(opts), 0);
    trailingCheck(r);
    return v;
  } finally {
    releaseReader(r);
  }
}

/**
 * Decodes the first value of bytes[start, end) — more values may follow it,
 * as in a stream record (stream/STREAMS.md) — and sets `next.at` to where it
 * ends. Offsets in messages count from `start`.
 */
export function decodeFirst(bytes: Uint8Array, start: number, end: number, next: { at: number }, opts?: DecodeOptions): unknown {
  const r = takeReader();
  try {
    r.resetRange(bytes, start, end);
    const v = decValue(r, flagsOf(opts), 0);
    next.at = r.pos;
    return v;
  } finally {
    releaseReader(r);
  }
}

/** Where the value that starts at bytes[start] (and ends by `end`) ends, checked as decode would; throws Deserialization. */
export function valueEnd(bytes: Uint8Array, start: number, end: number): number {
  const r = takeReader();
  try {
    r.resetRange(bytes, start, end);
    walk(r, 0, null);
    return r.pos;
  } finally {
    releaseReader(r);
  }
}

/** Decodes exactly one value filling `bytes`; trailing bytes are Deserialization. */
export function decode(bytes: Uint8Array | ArrayBuffer, opts?: DecodeOptions): unknown {
  const r = borrowReader(bytes);
  try {
    const v = decValue(r, flagsOf(opts), 0);
    trailingCheck(r);
    return v;
  } finally {
    releaseReader(r);
  }
}
