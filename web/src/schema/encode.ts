// Encoding plain JavaScript values as a schema says, so that a C++ task gets
// exactly the wire types it decodes (C++ decoders never convert: a JS number
// must travel as i32 for an `int` parameter).
//
// encodeAs is strict: it converts only where no information is lost (or
// where the table says so), and refuses anything else with TypeMismatch
// (expected = the wire type name of core/CODEC.md, actual = a description of
// the JavaScript value, the message names the argument and the path to the
// part, e.g. "argument 1 of f: type mismatch: expected i32, got string at
// points[2].x"):
//   unit        undefined or null
//   bool        a boolean
//   i8..u32     an integer number in range, or a Typed of that tag (a bigint is
//               refused: bigints are for i64/u64)
//   i64, u64    a bigint in range, a safe-integer number, or a Typed of that tag
//   f32         a number, rounded to the nearest f32 (the one deliberate lossy
//               conversion); a finite number beyond the f32 range is refused
//               (it would become Infinity); NaN and ±Infinity pass
//   f64         a number, or a Typed of that tag
//   string      a string
//   bytes       Uint8Array, ArrayBuffer, SharedArrayBuffer, any ArrayBufferView (its bytes)
//   T[]         a typed array of that element type, or an Array of values as for T
//   [T]         an Array
//   (A,B)       an Array of exactly that length
//   ?T          null or NONE for none; some(v); any other value of T is some(value);
//               undefined is refused (use null)
//   <A|B>       variant(i, v) or {index, value}; a bare value is refused
//   {K:V}       a Map, or a plain object (its string keys, converted to
//               numbers for an integer or float K)
//   struct P    a plain object with exactly the fields of P by name: a missing
//               field (unless it is unit) or an extra one is refused, naming it;
//               an instance of a class: its fields (own or getters), other
//               properties are not looked at
//   error       a FerryError (another Error becomes JsException)
//   !T          a FerryError or Error becomes the error value, anything else T

import {
  NONE,
  STRUCT_NAME,
  Some,
  Typed,
  Variant,
  Writer,
  bytesOf,
  describeJs,
  encodeTop,
  enterEnc,
  kI64Hi,
  kI64Lo,
  kIntHi,
  kIntLo,
  kScratchKeep,
  kU64Hi,
  numberSize,
  packedTagOf,
  putBlob,
  putError,
  putFields,
  putName,
  putNumber,
  putPacked,
  putPackedHead,
  putString,
  putTag,
  putTagFlag,
  putTagU32,
  wireName,
  writeRaw,
} from '../codec.js';
// Tag comes from codec/tags.ts itself, not codec.js: build.mjs bundles that
// file into dist/schema.js, so its members are constants here.
import { Tag } from '../codec/tags.js';
import { TypeMismatchError, toFerryError } from '../errors.js';
import { Mismatch, mismatch, toTypeMismatch, withPath } from './mismatch.js';
import {
  kOrigin,
  type ArraySchema,
  type BytesSchema,
  type MapSchema,
  type OptionalSchema,
  type PackedSchema,
  type ScalarSchema,
  type Schema,
  type Signature,
  type StructField,
  type StructSchema,
  type TupleSchema,
  type VariantSchema,
} from './types.js';

/**
 * @internal the value converted for number tag `tag`, or undefined when it
 * does not fit without loss (f32: rounding is allowed, overflow is not).
 */
export function numberFor(tag: number, v: unknown): number | bigint | undefined {
  if (tag <= Tag.U32) {
    return typeof v === 'number' && Number.isInteger(v) && v >= kIntLo[tag]! && v <= kIntHi[tag]! ? v : undefined;
  }
  if (tag <= Tag.U64) {
    const lo = tag === Tag.I64 ? kI64Lo : 0n;
    const hi = tag === Tag.I64 ? kI64Hi : kU64Hi;
    if (typeof v === 'bigint') return v >= lo && v <= hi ? v : undefined;
    if (typeof v === 'number') return Number.isSafeInteger(v) && (tag === Tag.I64 || v >= 0) ? BigInt(v) : undefined;
    return undefined;
  }
  if (typeof v !== 'number') return undefined;
  if (tag === Tag.F32 && Number.isFinite(v) && !Number.isFinite(Math.fround(v))) return undefined;
  return v;
}

function encScalar(w: Writer, s: ScalarSchema, v: unknown): void {
  const tag = s.tag;
  if (tag === Tag.Unit) {
    if (v !== undefined && v !== null) throw mismatch(s, v);
    putTag(w, Tag.Unit);
    return;
  }
  if (tag === Tag.Bool) {
    if (typeof v !== 'boolean') throw mismatch(s, v);
    putTagFlag(w, Tag.Bool, v);
    return;
  }
  if (v instanceof Typed) {
    if (v.tag !== tag) throw mismatch(s, v);
    putNumber(w, tag, v.value); // range: Serialization, as for any Typed
    return;
  }
  const x = numberFor(tag, v);
  if (x === undefined) throw numberMismatch(s, v);
  putNumber(w, tag, x);
}

/** @internal the Mismatch of a value that numberFor() refused for scalar `s`. */
export function numberMismatch(s: ScalarSchema, v: unknown): Mismatch {
  const tag = s.tag;
  return mismatch(s, v, tag === Tag.F32 && typeof v === 'number' ? 'beyond the f32 range' : tag <= Tag.U32 && typeof v === 'bigint' ? 'bigints are for i64 and u64' : '');
}

/**
 * @internal a typed array of the element type, or an Array of numbers, as
 * packed `s`: tagged, or (bare) only the u32 count and the elements.
 */
export function encPacked(w: Writer, s: PackedSchema, v: unknown, bare = false): void {
  const elem = s.elem;
  if (ArrayBuffer.isView(v)) {
    const t = packedTagOf(v);
    if (t === elem || (elem === Tag.U8 && v instanceof Uint8Array)) {
      putPacked(w, elem, v as ArrayBufferView & { length: number }, bare);
      return;
    }
    throw mismatch(s, v);
  }
  if (!Array.isArray(v)) throw mismatch(s, v);
  const n = v.length;
  const size = numberSize(elem);
  let at = putPackedHead(w, elem, n, n * size, bare);
  const dv = w.dv;
  for (let i = 0; i < n; i++, at += size) {
    let x = v[i];
    if (x instanceof Typed) x = x.tag === elem ? x.value : undefined;
    const y = numberFor(elem, x);
    if (y === undefined) throw withPath(new Mismatch(wireName(elem), describeJs(v[i])), `[${i}]`);
    writeRaw(dv, elem, at, y);
  }
  w.pos = at;
}

/** @internal the bytes of a Uint8Array, ArrayBuffer, SharedArrayBuffer or any ArrayBufferView, for `s`. */
export function bytesFor(s: BytesSchema, v: unknown): Uint8Array {
  const b = typeof v === 'object' && v !== null ? bytesOf(v) ?? (ArrayBuffer.isView(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : null) : null;
  if (b === null) throw mismatch(s, v);
  return b;
}

function encOptionalAs(w: Writer, s: OptionalSchema, v: unknown, depth: number): void {
  if (v === undefined) throw mismatch(s, v, 'use null for none');
  enterEnc(depth);
  if (v === null || v === NONE) {
    putTagFlag(w, Tag.Optional, false);
    return;
  }
  putTagFlag(w, Tag.Optional, true);
  encAs(w, s.value, v instanceof Some ? v.some : v, depth + 1);
}

function encAs(w: Writer, s: Schema, v: unknown, depth: number): void {
  switch (s.kind) {
    case 'scalar':
      encScalar(w, s, v);
      return;
    case 'string':
      if (typeof v !== 'string') throw mismatch(s, v);
      putString(w, v);
      return;
    case 'bytes':
      putBlob(w, bytesFor(s, v));
      return;
    case 'packed':
      encPacked(w, s, v);
      return;
    case 'array':
      encArray(w, s, v, depth);
      return;
    case 'tuple':
      encTuple(w, s, v, depth);
      return;
    case 'optional':
      encOptionalAs(w, s, v, depth);
      return;
    case 'variant':
      encVariant(w, s, v, depth);
      return;
    case 'map':
      encMap(w, s, v, depth);
      return;
    case 'struct':
      encStructAs(w, s, v, depth);
      return;
    case 'error':
      if (!(v instanceof Error)) throw mismatch(s, v);
      putError(w, toFerryError(v, ''));
      return;
    case 'result':
      if (v instanceof Error) {
        putError(w, toFerryError(v, ''));
        return;
      }
      encAs(w, s.value, v, depth);
      return;
  }
}

function encArray(w: Writer, s: ArraySchema, v: unknown, depth: number): void {
  if (!Array.isArray(v)) throw mismatch(s, v);
  enterEnc(depth);
  const n = v.length;
  putTagU32(w, Tag.Array, n);
  let i = 0;
  try {
    for (; i < n; i++) encAs(w, s.item, v[i], depth + 1);
  } catch (e) {
    throw withPath(e, `[${i}]`);
  }
}

// A fixed sequence (C++ tuple, pair, std::array): an array of exactly its length.
function encTuple(w: Writer, s: TupleSchema, v: unknown, depth: number): void {
  const items = s.items;
  if (!Array.isArray(v)) throw mismatch(s, v);
  if (v.length !== items.length) throw new Mismatch(`array of ${items.length}`, `array of ${v.length}`);
  enterEnc(depth);
  putTagU32(w, Tag.Array, items.length);
  let i = 0;
  try {
    for (; i < items.length; i++) encAs(w, items[i]!, v[i], depth + 1);
  } catch (e) {
    throw withPath(e, `[${i}]`);
  }
}

/** @internal a variant(index, value) or {index, value} for `s`, its index checked. */
export function variantOf(s: VariantSchema, v: unknown): { index: number; value: unknown } {
  let index: unknown;
  let value: unknown;
  if (v instanceof Variant) {
    index = v.index;
    value = v.value;
  } else if (typeof v === 'object' && v !== null && !(STRUCT_NAME in v) && 'index' in v && 'value' in v && Object.keys(v).length === 2) {
    index = (v as { index: unknown }).index;
    value = (v as { value: unknown }).value;
  } else {
    throw mismatch(s, v, 'a variant takes variant(index, value) or {index, value}');
  }
  if (!(typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < s.alts.length)) {
    throw new Mismatch(`variant of ${s.alts.length} alternatives`, `variant index ${String(index)}`);
  }
  return { index, value };
}

function encVariant(w: Writer, s: VariantSchema, v: unknown, depth: number): void {
  const { index, value } = variantOf(s, v);
  enterEnc(depth);
  putTagU32(w, Tag.Variant, index);
  try {
    encAs(w, s.alts[index]!, value, depth + 1);
  } catch (e) {
    throw withPath(e, `<${index}>`);
  }
}

function keyFor(k: Schema, key: string): unknown {
  if (k.kind === 'scalar' && k.tag >= Tag.I8 && k.tag <= Tag.U64 && /^-?\d+$/.test(key)) return k.tag >= Tag.I64 ? BigInt(key) : Number(key);
  if (k.kind === 'scalar' && k.tag >= Tag.F32 && key.trim() !== '' && !Number.isNaN(Number(key))) return Number(key);
  return key;
}

/** @internal how a map's parts are written: its count (after its tag, if any), and a key or value of `schema`. */
export interface MapWriter {
  head(w: Writer, count: number): void;
  put(w: Writer, schema: Schema, v: unknown, depth: number): void;
}

/**
 * @internal a Map, or a plain object (its keys converted for an integer or
 * float key type), as map `s`, opened at `depth`; a failing part throws with
 * its path.
 */
export function putMapWith(w: Writer, s: MapSchema, v: unknown, depth: number, mw: MapWriter): void {
  if (v instanceof Map) {
    enterEnc(depth);
    mw.head(w, v.size);
    let i = 0;
    for (const [k, x] of v) {
      try {
        mw.put(w, s.key, k, depth + 1);
      } catch (e) {
        throw withPath(e, `{key ${i}}`);
      }
      try {
        mw.put(w, s.value, x, depth + 1);
      } catch (e) {
        throw withPath(e, `{${typeof k === 'string' ? JSON.stringify(k) : `key ${i}`}}`);
      }
      i++;
    }
    return;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v) || v instanceof Typed || v instanceof Error) throw mismatch(s, v);
  enterEnc(depth);
  const keys = Object.keys(v);
  mw.head(w, keys.length);
  for (const key of keys) {
    try {
      mw.put(w, s.key, keyFor(s.key, key), depth + 1);
      mw.put(w, s.value, (v as Record<string, unknown>)[key], depth + 1);
    } catch (e) {
      throw withPath(e, `.${key}`);
    }
  }
}

const kTaggedMap: MapWriter = { head: (w, n) => putTagU32(w, Tag.Map, n), put: (w, s, v, depth) => encAs(w, s, v, depth) };

function encMap(w: Writer, s: MapSchema, v: unknown, depth: number): void {
  putMapWith(w, s, v, depth, kTaggedMap);
}

/**
 * @internal v as an object of struct `s`: refuses anything else, an object
 * named as another struct, and (for a body that is known) a plain object
 * with a field the struct does not have.
 */
export function structObject(s: StructSchema, v: unknown): Record<string | symbol, unknown> {
  if (typeof v !== 'object' || v === null) throw mismatch(s, v);
  // A plain object (none of the kinds below: their checks are skipped).
  // Its inherited constructor answers in a nanosecond, getPrototypeOf in ten.
  const plain = (v as { constructor?: unknown }).constructor === Object || isPlainObject(v);
  if (!plain && (Array.isArray(v) || ArrayBuffer.isView(v) || v instanceof Map || v instanceof Typed || v instanceof Error)) {
    throw mismatch(s, v);
  }
  const o = v as Record<string | symbol, unknown>;
  const own = o[STRUCT_NAME];
  if (own !== undefined && own !== '' && own !== s.name) throw new Mismatch(`struct ${s.name}`, `struct ${String(own)}`);
  if (s.fields === null || !plain) return o;
  // A plain object is data: a property the struct does not have is a typo or
  // a wrong type, not something to drop. A class instance (a WasmBuffer for
  // SharedBytes) may carry other state: only its fields are read.
  const extra = extraField(o, s.fields);
  if (extra !== null) throw withPath(new Mismatch(`struct ${s.name}`, `an object with the extra field '${extra}'`), `.${extra}`);
  return o;
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** @internal field f of struct object o (structObject); a missing field is refused unless it is unit. */
export function fieldOf(s: StructSchema, o: Record<string | symbol, unknown>, f: StructField): unknown {
  const x = o[f.name];
  if (x === undefined && !(f.name in o) && !(f.type.kind === 'scalar' && f.type.tag === Tag.Unit)) {
    throw withPath(new Mismatch(`struct ${s.name}`, `an object without the field '${f.name}'`), `.${f.name}`);
  }
  return x;
}

function encStructAs(w: Writer, s: StructSchema, v: unknown, depth: number): void {
  const o = structObject(s, v);
  enterEnc(depth);
  const fields = s.fields;
  putTag(w, Tag.Struct);
  putName(w, s.name, 'struct name');
  if (fields === null) {
    // No body known: the object's own fields, untyped.
    putFields(w, s.name, o, depth);
    return;
  }
  w.putU16(fields.length);
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    const x = fieldOf(s, o, f);
    putName(w, f.name, 'field name');
    try {
      encAs(w, f.type, x, depth + 1);
    } catch (e) {
      throw withPath(e, `.${f.name}`);
    }
  }
}

// The first own enumerable string key of o that is not a field of the struct, or null.
function extraField(o: Record<string | symbol, unknown>, fields: readonly StructField[]): string | null {
  for (const k in o) {
    if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
    let known = false;
    for (let i = 0; i < fields.length; i++) {
      if (fields[i]!.name === k) {
        known = true;
        break;
      }
    }
    if (!known) return k;
  }
  return null;
}

/**
 * Appends `value` to `w` as the wire type `schema` says, converting plain
 * JavaScript values (see the table at the top). A value that does not fit:
 * TypeMismatchError (expected: the wire type name, actual: what the value
 * is), message "<context>: type mismatch: expected i32, got string at
 * points[2].x". Nothing of the value stays in the writer after a failure; a
 * fixed slot that is too small gives MessageTooLarge.
 */
export function encodeAs(w: Writer, schema: Schema, value: unknown, context = ''): void {
  try {
    encodeTop(w, (into) => encAs(into, schema, value, 0));
  } catch (e) {
    if (e instanceof Mismatch) throw toTypeMismatch(e, context);
    throw e;
  }
}

/** One value of `schema` as new bytes. */
export function encodeSchema(schema: Schema, value: unknown, context = ''): Uint8Array {
  const w = new Writer(64);
  encodeAs(w, schema, value, context);
  return w.toUint8Array();
}

/**
 * Appends the arguments of a call or stream as C++ decodes them: one array
 * value (Tag.Array, count, the values), each converted by its parameter's schema.
 * Wrong arity: TypeMismatch "add takes 2 arguments, got 3"; a wrong argument:
 * "argument 1 of add: type mismatch: expected i32, got string".
 */
export function encodeArgsInto(w: Writer, sig: Signature, args: readonly unknown[]): void {
  checkArity(sig, args);
  const n = sig.args.length;
  let i = 0;
  try {
    encodeTop(w, (into) => {
      putTagU32(into, Tag.Array, n);
      for (i = 0; i < n; i++) encAs(into, sig.args[i]!, args[i], 1);
    });
  } catch (e) {
    if (e instanceof Mismatch) throw toTypeMismatch(e, `argument ${i + 1} of ${sig.name}`);
    throw e;
  }
}

/** @internal TypeMismatch "add takes 2 arguments, got 3" unless args is an Array of sig's arity. */
export function checkArity(sig: Signature, args: unknown): void {
  const n = sig.args.length;
  if (!Array.isArray(args) || args.length !== n) {
    const got = Array.isArray(args) ? args.length : 0;
    throw new TypeMismatchError(`${sig.name} takes ${n} argument${n === 1 ? '' : 's'}, got ${got}`, kOrigin, `array of ${n}`, Array.isArray(args) ? `array of ${got}` : describeJs(args));
  }
}

let argsWriter: Writer | null = new Writer(1024);

/** The arguments as new bytes (see encodeArgsInto). */
export function encodeArgs(sig: Signature, args: readonly unknown[]): Uint8Array {
  const w = argsWriter ?? new Writer(256);
  argsWriter = null;
  try {
    w.reset();
    encodeArgsInto(w, sig, args);
    return w.toUint8Array();
  } finally {
    argsWriter = w.capacity <= kScratchKeep ? w : new Writer(1024);
  }
}
