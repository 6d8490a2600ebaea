// The schema form (core/CODEC.md "Schema form 0x15"): a value whose type
// both ends know travels wrapped once (tag 0x15, u32 length) and bare inside,
// with no tags, struct names or field names. partOf() builds, once per schema
// object, an encoder and a decoder of its bare bytes out of closures, so a
// value costs no walk over its schema and no names. Values convert as
// encode.ts's table says and decode to what decode.ts gives.
//
// Structs and arrays are where the time goes. Where the page allows it (a
// Content-Security-Policy without 'unsafe-eval' refuses new Function), their
// parts are generated code instead: field names become constants, a struct
// decodes as one object literal, and each struct or array has call sites of
// its own, which the engine can inline. Both ways behave the same; the tests
// run both.

import {
  F_OPTIONAL,
  F_VIEW,
  NONE,
  Reader,
  STRUCT_NAME,
  Some,
  Typed,
  Variant,
  Writer,
  deserErr,
  encodeTop,
  enterDec,
  enterEnc,
  hex2,
  needFail,
  putBlobBody,
  putErrorBody,
  putNumber,
  putText,
  kEncoder,
  readBlob,
  readCount,
  readErrorValue,
  readFlag,
  readNumber,
  readPackedOf,
  readSchemaForm,
  readText,
  readU32,
  setField,
  u32At,
  writeRaw,
} from '../codec.js';
// Tag comes from codec/tags.ts itself, not codec.js: build.mjs bundles that
// file into dist/schema.js, so its members are constants here.
import { Tag, numberSize, type NumberTag } from '../codec/tags.js';
import { InvalidArgumentError, toFerryError } from '../errors.js';
import { bytesFor, checkArity, encPacked, fieldOf, numberFor, numberMismatch, putMapWith, structObject, variantOf, type MapWriter } from './encode.js';
import { describeSchema, formatSchema } from './format.js';
import { Mismatch, mismatch, toTypeMismatch, typeMismatchAt, withPath } from './mismatch.js';
import { kOrigin, type ScalarSchema, type Schema, type Signature, type StructSchema } from './types.js';

type Enc = (w: Writer, v: unknown, depth: number) => void;
type Dec = (r: Reader, flags: number, depth: number) => unknown;
/** A schema's bare encoder and decoder; `depth` is the levels open around the value. */
interface Part {
  enc: Enc;
  dec: Dec;
}

let kParts = new WeakMap<Schema, Part>();

function canGenerate(): boolean {
  try {
    return new Function('return true')() === true;
  } catch {
    return false; // EvalError under a Content-Security-Policy
  }
}
let generate = canGenerate();

/**
 * @internal tests: builds parts from now on with generated code (where the
 * page allows it) or closures only; forgets the parts built so far. Returns
 * whether generated code is in use.
 */
export function useGeneratedCode(on: boolean): boolean {
  generate = on && canGenerate();
  kParts = new WeakMap();
  return generate;
}

// A function made from `body`, which sees `env`'s entries as variables.
function generated<F>(env: Record<string, unknown>, body: string): F {
  return new Function(...Object.keys(env), body)(...Object.values(env)) as F;
}

// The part of `s`, built on first use. A recursive struct reaches itself
// while its fields are built: its entry exists by then and is filled after.
function partOf(s: Schema): Part {
  let p = kParts.get(s);
  if (p === undefined) {
    p = { enc: unbuilt, dec: unbuilt };
    kParts.set(s, p);
    try {
      const built = build(s);
      p.enc = built.enc;
      p.dec = built.dec;
    } catch (e) {
      kParts.delete(s); // a struct without a body: nothing is kept half built
      throw e;
    }
  }
  return p;
}
function unbuilt(): never {
  throw new Error('ferry: a schema part ran before it was built');
}

/** @internal the one byte 00 of unit, an empty tuple and a struct without fields. */
function readZero(r: Reader, what: string): void {
  const p = r.pos;
  if (p >= r.end) needFail(r, 1, what, '');
  const b = r.u8[p]!;
  if (b !== 0) throw deserErr(`${what} 0x${hex2(b)} at offset ${p - r.base} is not 0`);
  r.pos = p + 1;
}

function build(s: Schema): Part {
  switch (s.kind) {
    case 'scalar':
      return scalar(s);
    case 'string':
      return {
        enc: (w, v) => {
          if (typeof v !== 'string') throw mismatch(s, v);
          putText(w, v, 'string');
        },
        dec: (r) => readText(r, 'string'),
      };
    case 'bytes':
      return {
        enc: (w, v) => putBlobBody(w, bytesFor(s, v)),
        dec: (r, flags) => {
          const n = readBlob(r, 'bytes');
          const p = r.pos - n;
          return flags & F_VIEW ? r.u8.subarray(p, p + n) : r.u8.slice(p, p + n);
        },
      };
    case 'packed':
      return { enc: (w, v) => encPacked(w, s, v, true), dec: (r) => readPackedOf(r, s.elem) };
    case 'array': {
      const item = partOf(s.item);
      // Generated: the same function, compiled again for this array, so that its item call site is its own.
      return (generate ? generated<typeof arrayPart>({}, `return ${arrayPart.toString()};`) : arrayPart)(s, item, kArrayHelpers);
    }
    case 'tuple': {
      const items = s.items.map(partOf);
      const n = items.length;
      return {
        enc: (w, v, depth) => {
          if (!Array.isArray(v)) throw mismatch(s, v);
          if (v.length !== n) throw new Mismatch(`array of ${n}`, `array of ${v.length}`);
          enterEnc(depth);
          if (n === 0) w.putU8(0);
          let i = 0;
          try {
            for (; i < n; i++) items[i]!.enc(w, v[i], depth + 1);
          } catch (e) {
            throw withPath(e, `[${i}]`);
          }
        },
        dec: (r, flags, depth) => {
          enterDec(r, r.pos, depth);
          if (n === 0) readZero(r, 'empty tuple byte');
          const out = new Array<unknown>(n);
          for (let i = 0; i < n; i++) out[i] = items[i]!.dec(r, flags, depth + 1);
          return out;
        },
      };
    }
    case 'optional': {
      const value = partOf(s.value);
      return {
        enc: (w, v, depth) => {
          if (v === undefined) throw mismatch(s, v, 'use null for none');
          enterEnc(depth);
          if (v === null || v === NONE) {
            w.putU8(0);
            return;
          }
          w.putU8(1);
          value.enc(w, v instanceof Some ? v.some : v, depth + 1);
        },
        dec: (r, flags, depth) => {
          enterDec(r, r.pos, depth);
          if (!readFlag(r, 'optional flag')) return flags & F_OPTIONAL ? NONE : null;
          const v = value.dec(r, flags, depth + 1);
          return flags & F_OPTIONAL ? new Some(v) : v;
        },
      };
    }
    case 'variant': {
      const alts = s.alts.map(partOf);
      return {
        enc: (w, v, depth) => {
          const { index, value } = variantOf(s, v);
          enterEnc(depth);
          w.putU32(index);
          try {
            alts[index]!.enc(w, value, depth + 1);
          } catch (e) {
            throw withPath(e, `<${index}>`);
          }
        },
        dec: (r, flags, depth) => {
          enterDec(r, r.pos, depth);
          const index = readVariantIndex(r, alts.length);
          return new Variant(index, alts[index]!.dec(r, flags, depth + 1));
        },
      };
    }
    case 'map': {
      const key = partOf(s.key);
      const value = partOf(s.value);
      return {
        enc: (w, v, depth) => putMapWith(w, s, v, depth, kBareMap),
        dec: (r, flags, depth) => {
          enterDec(r, r.pos, depth);
          return readMapPairs(r, readCount(r, 'map count', 2), () => key.dec(r, flags, depth + 1), () => value.dec(r, flags, depth + 1));
        },
      };
    }
    case 'struct':
      return struct(s);
    case 'error':
      return {
        enc: (w, v) => {
          if (!(v instanceof Error)) throw mismatch(s, v);
          putErrorBody(w, toFerryError(v, ''));
        },
        dec: (r) => readErrorValue(r),
      };
    case 'result': {
      const value = partOf(s.value);
      return {
        enc: (w, v, depth) => {
          if (v instanceof Error) {
            w.putU8(1);
            putErrorBody(w, toFerryError(v, ''));
            return;
          }
          w.putU8(0);
          value.enc(w, v, depth);
        },
        dec: (r, flags, depth) => (readFlag(r, 'result flag') ? readErrorValue(r) : value.dec(r, flags, depth)),
      };
    }
  }
}

/** @internal a variant's u32 index, which must be below `alts` (Deserialization). */
export function readVariantIndex(r: Reader, alts: number): number {
  const at = r.pos;
  const index = readU32(r, 'variant index', '');
  if (index >= alts) throw deserErr(`variant index ${index} at offset ${at - r.base} is out of range for ${alts} alternatives`);
  return index;
}

/**
 * @internal a map's `count` pairs, each read by readKey then readValue;
 * a key that repeats (keys compare as values for primitives, by their
 * bytes otherwise) is Deserialization.
 */
export function readMapPairs(r: Reader, count: number, readKey: () => unknown, readValue: () => unknown): Map<unknown, unknown> {
  const m = new Map<unknown, unknown>();
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const keyAt = r.pos;
    const k = readKey();
    const id = keyId(r.u8, keyAt, r.pos, k);
    const v = readValue();
    if (seen.has(id)) throw deserErr(`duplicate map key at offset ${keyAt - r.base}`);
    seen.add(id);
    m.set(k, v);
  }
  return m;
}

// A map key's identity for the duplicate check: primitives by value, others by their bytes[start, end).
function keyId(u8: Uint8Array, start: number, end: number, k: unknown): string {
  // Primitive keys are their own identity; others use the key's encoding.
  switch (typeof k) {
    case 'string':
      return 's' + k;
    case 'number':
      return 'n' + (Object.is(k, -0) ? '-0' : String(k));
    case 'bigint':
      return 'b' + String(k);
    case 'boolean':
      return k ? 't' : 'f';
    case 'undefined':
      return 'u';
  }
  let s = 'x';
  for (let i = start; i < end; i++) s += String.fromCharCode(u8[i]!);
  return s;
}

const kBareMap: MapWriter = { head: (w, n) => w.putU32(n), put: (w, s, v, depth) => partOf(s).enc(w, v, depth) };

function scalar(s: ScalarSchema): Part {
  const tag = s.tag;
  if (tag === Tag.Unit) {
    return {
      enc: (w, v) => {
        if (v !== undefined && v !== null) throw mismatch(s, v);
        w.putU8(0);
      },
      dec: (r) => readZero(r, 'unit byte'),
    };
  }
  if (tag === Tag.Bool) {
    return {
      enc: (w, v) => {
        if (typeof v !== 'boolean') throw mismatch(s, v);
        w.putU8(v ? 1 : 0);
      },
      dec: (r) => readFlag(r, 'bool byte'),
    };
  }
  const size = numberSize(tag as NumberTag);
  const dec: Dec = (r) => readNumber(r, tag as NumberTag);
  // The common cases skip the table lookups of numberFor() and readRaw().
  if (tag === Tag.I32) {
    return {
      dec: (r) => {
        const p = r.pos;
        if (p + 4 > r.end) needFail(r, 4, 'i32', ' payload');
        r.pos = p + 4;
        return u32At(r.u8, p) | 0;
      },
      enc: (w, v) => {
        if (typeof v === 'number' && (v | 0) === v) {
          if (w.pos + 4 > w.end) w.ensure(4);
          w.dv.setInt32(w.pos, v, true);
          w.pos += 4;
        } else encNumber(w, s, v, size);
      },
    };
  }
  if (tag === Tag.F64) {
    return {
      enc: (w, v) => {
        if (typeof v === 'number') {
          if (w.pos + 8 > w.end) w.ensure(8);
          w.dv.setFloat64(w.pos, v, true);
          w.pos += 8;
        } else encNumber(w, s, v, size);
      },
      dec,
    };
  }
  return { enc: (w, v) => encNumber(w, s, v, size), dec };
}

function encNumber(w: Writer, s: ScalarSchema, v: unknown, size: number): void {
  const tag = s.tag;
  if (v instanceof Typed) {
    if (v.tag !== tag) throw mismatch(s, v);
    // putNumber checks the range (Serialization) as for the tagged form; then drop its tag byte.
    const p = w.pos;
    putNumber(w, tag, v.value);
    w.u8.copyWithin(p, p + 1, w.pos);
    w.pos--;
    return;
  }
  const x = numberFor(tag, v);
  if (x === undefined) throw numberMismatch(s, v);
  if (w.pos + size > w.end) w.ensure(size);
  writeRaw(w.dv, tag, w.pos, x);
  w.pos += size;
}

function struct(s: StructSchema): Part {
  const fields = s.fields;
  if (fields === null) throw new InvalidArgumentError(`struct ${s.name} has no known body, so it has no schema form (use the tagged form)`, kOrigin);
  const parts = fields.map((f) => partOf(f.type));
  const names = fields.map((f) => f.name);
  const n = fields.length;
  if (generate) return structCode(s, parts);
  const plainNames = !names.includes('__proto__'); // else setField defines it as an own field
  return {
    enc: (w, v, depth) => {
      const o = structObject(s, v);
      enterEnc(depth);
      if (n === 0) w.putU8(0);
      for (let i = 0; i < n; i++) {
        const x = fieldOf(s, o, fields[i]!);
        try {
          parts[i]!.enc(w, x, depth + 1);
        } catch (e) {
          throw withPath(e, `.${names[i]}`);
        }
      }
    },
    dec: (r, flags, depth) => {
      enterDec(r, r.pos, depth);
      if (n === 0) readZero(r, 'empty struct byte');
      const o: Record<string | symbol, unknown> = { [STRUCT_NAME]: s.name };
      if (plainNames) for (let i = 0; i < n; i++) o[names[i]!] = parts[i]!.dec(r, flags, depth + 1);
      else for (let i = 0; i < n; i++) setField(o, names[i]!, parts[i]!.dec(r, flags, depth + 1));
      return o;
    },
  };
}

// An array's part. It sees nothing but its parameters, so that its source
// text compiles again on its own (build(): one copy per array where code is
// generated), whatever the bundler names things.
function arrayPart(s: Schema, item: Part, h: typeof kArrayHelpers): Part {
  return {
    enc: (w, v, depth) => {
      if (!Array.isArray(v)) throw h.mismatch(s, v);
      h.enterEnc(depth);
      const n = v.length;
      w.putU32(n);
      let i = 0;
      try {
        for (; i < n; i++) item.enc(w, v[i], depth + 1);
      } catch (e) {
        throw h.withPath(e, `[${i}]`);
      }
    },
    dec: (r, flags, depth) => {
      h.enterDec(r, r.pos, depth);
      const count = h.readCount(r, 'array count', 1); // every bare value takes a byte
      const out = new Array<unknown>(count);
      for (let i = 0; i < count; i++) out[i] = item.dec(r, flags, depth + 1);
      return out;
    },
  };
}
const kArrayHelpers = { mismatch, enterEnc, enterDec, readCount, withPath };

// The struct part as generated code: field names are constants, and a value
// decodes as one object literal (its fields in order, its name last).
function structCode(s: StructSchema, parts: Part[]): Part {
  const fields = s.fields!;
  const env = { s, fields, names: fields.map((f) => f.name), P: parts, NAME: STRUCT_NAME, structObject, fieldOf, enterEnc, enterDec, readZero, withPath };
  // A key as literal code; __proto__ computed, so that it is an own field, not the prototype.
  const key = (i: number) => (fields[i]!.name === '__proto__' ? `[names[${i}]]` : JSON.stringify(fields[i]!.name));
  const each = (f: (i: number) => string) => fields.map((_, i) => f(i)).join('\n');
  return {
    enc: generated(env, `${each((i) => `const P${i} = P[${i}];`)}
    return function structEnc(w, v, depth) {
      const o = structObject(s, v);
      enterEnc(depth);
      ${fields.length === 0 ? 'w.putU8(0);' : 'let x;'}
      ${each((i) => `x = o[${key(i).replace(/^\[|\]$/g, '')}];
      if (x === undefined) x = fieldOf(s, o, fields[${i}]);
      try {
        P${i}.enc(w, x, depth + 1);
      } catch (e) {
        throw withPath(e, '.' + names[${i}]);
      }`)}
    };`),
    dec: generated(env, `${each((i) => `const P${i} = P[${i}];`)}
    return function structDec(r, flags, depth) {
      enterDec(r, r.pos, depth);
      ${fields.length === 0 ? "readZero(r, 'empty struct byte');" : ''}
      return { ${each((i) => `${key(i)}: P${i}.dec(r, flags, depth + 1),`)} [NAME]: s.name };
    };`),
  };
}

const kHasForm = new WeakMap<Schema, boolean>();
const kPays = new WeakMap<Schema, boolean>();

/** True when every struct `s` reaches has a known body: only then has it a schema form. */
export function hasSchemaForm(s: Schema): boolean {
  let has = kHasForm.get(s);
  if (has === undefined) {
    has = everyStruct(s, (x) => x.fields !== null, new Set());
    kHasForm.set(s, has);
  }
  return has;
}

/**
 * True when ferry's encoders choose the schema form for `s`, as the C++ ones
 * do (core/codec.hpp, prefers_schema_form): `s` has one and reaches a
 * struct, whose names it saves. A number or a string is smaller tagged (one
 * tag byte against five of the wrapper).
 */
export function prefersSchemaForm(s: Schema): boolean {
  let pays = kPays.get(s);
  if (pays === undefined) {
    pays = hasSchemaForm(s) && !everyStruct(s, () => false, new Set());
    kPays.set(s, pays);
  }
  return pays;
}

// True when `ok` holds for every struct `s` reaches (through any container).
function everyStruct(s: Schema, ok: (s: StructSchema) => boolean, seen: Set<Schema>): boolean {
  if (seen.has(s)) return true;
  seen.add(s);
  switch (s.kind) {
    case 'array':
      return everyStruct(s.item, ok, seen);
    case 'tuple':
      return s.items.every((x) => everyStruct(x, ok, seen));
    case 'optional':
    case 'result':
      return everyStruct(s.value, ok, seen);
    case 'variant':
      return s.alts.every((x) => everyStruct(x, ok, seen));
    case 'map':
      return everyStruct(s.key, ok, seen) && everyStruct(s.value, ok, seen);
    case 'struct':
      return ok(s) && (s.fields ?? []).every((f) => everyStruct(f.type, ok, seen));
    default:
      return true;
  }
}

/** 32-bit FNV-1a of the UTF-8 of `text`: a schema's fingerprint (CODEC.md "Schema form"). */
export function fingerprint(text: string): number {
  let h = 2166136261;
  for (const b of kEncoder.encode(text)) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h;
}

const kPrints = new WeakMap<Schema | Signature, number>();

// The fingerprint of a type (its text as schema_of<T>() writes it: formatSchema).
function fingerprintOf(s: Schema): number {
  let f = kPrints.get(s);
  if (f === undefined) kPrints.set(s, (f = fingerprint(formatSchema(s))));
  return f;
}

// The fingerprint of a task's arguments: their tuple, as the C++ registry decodes it.
function argsFingerprint(sig: Signature): number {
  let f = kPrints.get(sig);
  if (f === undefined) kPrints.set(sig, (f = fingerprint(formatSchema({ kind: 'tuple', items: sig.args }))));
  return f;
}

// Writes tag 0x15, the u32 length and the fingerprint around what body writes (a value's bare bytes).
function putWrapped(w: Writer, print: number, body: (w: Writer) => void): void {
  encodeTop(w, (into) => {
    if (into.pos + 9 > into.end) into.ensure(9);
    const at = into.pos; // a growable writer starts at 0 and a slot never moves: `at` stays valid
    into.u8[at] = Tag.Schema;
    into.dv.setUint32(at + 5, print, true);
    into.pos = at + 9;
    body(into);
    into.dv.setUint32(at + 1, into.pos - at - 5, true);
  });
}

/**
 * Appends `value` in the schema form of `schema` (hasSchemaForm must hold),
 * converting as encodeAs does and failing as it does: TypeMismatch
 * "<context>: type mismatch: expected i32, got string at points[2].x",
 * Serialization, MessageTooLarge for a slot; nothing stays after a failure.
 */
export function encodeSchemaForm(w: Writer, schema: Schema, value: unknown, context = ''): void {
  const p = partOf(schema);
  try {
    putWrapped(w, fingerprintOf(schema), (into) => p.enc(into, value, 0));
  } catch (e) {
    if (e instanceof Mismatch) throw toTypeMismatch(e, context);
    throw e;
  }
}

/**
 * The arguments of a call or stream in the schema form of their tuple, as
 * encodeArgsInto writes them tagged: the wrong arity is "add takes 2
 * arguments, got 3", a wrong argument "argument 1 of add: type mismatch: ...".
 */
export function encodeArgsSchemaForm(w: Writer, sig: Signature, args: readonly unknown[]): void {
  checkArity(sig, args);
  const n = sig.args.length;
  let i = 0;
  try {
    putWrapped(w, argsFingerprint(sig), (into) => {
      if (n === 0) into.putU8(0);
      for (i = 0; i < n; i++) partOf(sig.args[i]!).enc(into, args[i], 1);
    });
  } catch (e) {
    if (e instanceof Mismatch) throw toTypeMismatch(e, `argument ${i + 1} of ${sig.name}`);
    throw e;
  }
}

/**
 * @internal decodes the schema-form value at the reader (its tag not yet
 * read) as `schema`, with decode flags: another type's fingerprint is a
 * TypeMismatch; the bare value must fill the rest of its length.
 */
export function decodeSchemaForm(r: Reader, schema: Schema, flags: number): unknown {
  const at = r.pos;
  r.pos = at + 1;
  const n = readSchemaForm(r);
  const start = r.pos - n + 4; // the bare value, after the fingerprint
  if (!hasSchemaForm(schema)) throw deserErr(`a schema-form value at offset ${at - r.base} cannot be read as a struct without a known body`);
  const print = u32At(r.u8, start - 4);
  if (print !== fingerprintOf(schema)) {
    throw typeMismatchAt(r, describeSchema(schema), `schema form 0x${print.toString(16).padStart(8, '0')}`, at);
  }
  const end = r.end;
  r.pos = start;
  r.end = start + n - 4;
  try {
    const v = partOf(schema).dec(r, flags, 0);
    if (r.pos !== r.end) throw deserErr(`schema form of ${n} bytes at offset ${at - r.base} holds a value of ${r.pos - start} bytes`);
    return v;
  } finally {
    r.end = end;
  }
}
