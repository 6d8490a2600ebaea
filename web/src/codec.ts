// ferry wire codec for JavaScript: the twin of core/codec.hpp.
//
// The bytes are the contract of core/CODEC.md (golden vectors in
// tests/golden/codec.txt); this file only chooses how JavaScript values map to
// them. Decoding needs no schema (every value is tagged); encoding picks the
// wire type from the JavaScript value:
//
//   JavaScript                                  wire
//   undefined                                   unit
//   boolean                                     bool
//   number                                      f64 (use i32(v), u8(v), ... for other number types)
//   bigint                                      i64
//   Typed (i8() .. u64(), f32(), f64())         that number type
//   string                                      string (lone surrogates refused)
//   Uint8Array, DataView, ArrayBuffer,
//   SharedArrayBuffer                           bytes
//   Int8Array, Uint8ClampedArray (u8), Int16Array, Uint16Array, Int32Array,
//   Uint32Array, BigInt64Array, BigUint64Array,
//   Float32Array, Float64Array                  packed
//   Array                                       array
//   null, NONE / Some (some(v))                 optional none / some
//   Variant (variant(i, v))                     variant
//   Map                                         map (any keys)
//   plain object, struct(name, fields)          struct (name under STRUCT_NAME; '' when absent)
//   FerryError (other Error: JsException)       error
//
// Decoding gives the same JavaScript types back, with plain numbers for the
// 32-bit-and-smaller types and f32/f64, bigint for i64/u64, null for none and
// the value itself for some(v) (so some(none) and none both give null). Pass
// { preserveTypes: true } to get Typed numbers and Some/NONE optionals, which
// re-encode to the same bytes.
//
// Guarantees:
// - Every failure throws a FerryError: Serialization (a value that has no
//   encoding), MessageTooLarge (a fixed slot that is too small), or
//   Deserialization (bytes that break a rule of CODEC.md, with the offset).
// - Decoding never reads outside its input, checks every count against the
//   bytes that remain before allocating, and nests at most 64 containers.
// - A Writer keeps one DataView over its whole buffer and works with absolute
//   offsets, so rebinding it to another slot of the same buffer (another ring
//   record) allocates nothing. A Reader reads the input's bytes directly and
//   allocates nothing either.
// - Everything is synchronous. encode/decode stay correct when a getter they
//   run calls them again (the shared scratch writer/reader is lent out once).

import {
  DeserializationError,
  ErrorKind,
  FerryError,
  InvalidArgumentError,
  MessageTooLargeError,
  SerializationError,
  ferryError,
  isErrorKind,
  kindName,
  toFerryError,
} from './errors.js';

// ---------------------------------------------------------------------------
// Tags and type names

/** The first byte of every value (core/CODEC.md "Tags"). */
export enum Tag {
  Unit = 0x00,
  Bool = 0x01,
  I8 = 0x02,
  U8 = 0x03,
  I16 = 0x04,
  U16 = 0x05,
  I32 = 0x06,
  U32 = 0x07,
  I64 = 0x08,
  U64 = 0x09,
  F32 = 0x0a,
  F64 = 0x0b,
  String = 0x0c,
  Bytes = 0x0d,
  Array = 0x0e,
  Packed = 0x0f,
  Optional = 0x10,
  Variant = 0x11,
  Map = 0x12,
  Struct = 0x13,
  Error = 0x14,
}

/** The number tags 0x02..0x0b. */
export type NumberTag = 0x02 | 0x03 | 0x04 | 0x05 | 0x06 | 0x07 | 0x08 | 0x09 | 0x0a | 0x0b;

/** Containers nest at most this deep, both ways (CODEC.md "Depth"). */
export const kMaxDepth = 64;

const kWireNames = [
  'unit', 'bool', 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'f32', 'f64',
  'string', 'bytes', 'array', 'packed', 'optional', 'variant', 'map', 'struct', 'error',
];

/** The wire type name of a tag ("i32", "struct"), "unknown" past 0x14. */
export function wireName(tag: number): string {
  return tag >= 0 && tag < kWireNames.length ? kWireNames[tag]! : 'unknown';
}

/** True for 0x02..0x0b. */
export function isNumberTag(tag: number): tag is NumberTag {
  return tag >= 0x02 && tag <= 0x0b;
}

/** Byte size of a number tag's payload. */
export function numberSize(tag: NumberTag): 1 | 2 | 4 | 8 {
  return tag <= 0x03 ? 1 : tag <= 0x05 ? 2 : tag <= 0x07 || tag === 0x0a ? 4 : 8;
}

const kOrigin = 'web/codec';

// ---------------------------------------------------------------------------
// Value wrappers

/** A number with its wire type chosen: build with i8() .. u64(), f32(), f64(). */
export class Typed {
  constructor(
    readonly tag: NumberTag,
    readonly value: number | bigint,
  ) {}
}
export const i8 = (v: number): Typed => new Typed(0x02, v);
export const u8 = (v: number): Typed => new Typed(0x03, v);
export const i16 = (v: number): Typed => new Typed(0x04, v);
export const u16 = (v: number): Typed => new Typed(0x05, v);
export const i32 = (v: number): Typed => new Typed(0x06, v);
export const u32 = (v: number): Typed => new Typed(0x07, v);
/** bigint, or a safe-integer number. */
export const i64 = (v: bigint | number): Typed => new Typed(0x08, v);
/** bigint, or a safe-integer number. */
export const u64 = (v: bigint | number): Typed => new Typed(0x09, v);
export const f32 = (v: number): Typed => new Typed(0x0a, v);
export const f64 = (v: number): Typed => new Typed(0x0b, v);
/** typed(Tag.I32, 5) is i32(5). */
export function typed(tag: NumberTag, v: number | bigint): Typed {
  return new Typed(tag, v);
}

/** A present optional: some(v). Decoded with preserveOptional (or preserveTypes). */
export class Some {
  constructor(readonly some: unknown) {}
}
export function some(v: unknown): Some {
  return new Some(v);
}
/** The absent optional. `null` encodes the same. */
export const NONE: Readonly<{ none: true }> = Object.freeze({ none: true as const });

/** A variant value: alternative `index` (0-based, as in the C++ std::variant) holding `value`. */
export class Variant {
  constructor(
    readonly index: number,
    readonly value: unknown,
  ) {}
}
export function variant(index: number, value: unknown): Variant {
  return new Variant(index, value);
}

/** Where a struct object keeps its wire name. */
export const STRUCT_NAME: unique symbol = Symbol.for('ferry.struct');

/** A struct value whose fields are `fields` in their key order: struct('Point', {x: i32(1), y: i32(-2)}). */
export function struct<T extends object>(name: string, fields: T): T & { [STRUCT_NAME]: string } {
  const o = { [STRUCT_NAME]: name } as T & { [STRUCT_NAME]: string };
  for (const k of Object.keys(fields)) setField(o as Record<string, unknown>, k, (fields as Record<string, unknown>)[k]);
  return o;
}

function setField(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  else o[k] = v;
}

// ---------------------------------------------------------------------------
// Errors

function countBytes(n: number): string {
  return n === 1 ? '1 byte' : `${n} bytes`;
}
function hex2(b: number): string {
  return (b < 16 ? '0' : '') + b.toString(16);
}
function serErr(message: string): SerializationError {
  return new SerializationError(message, kOrigin);
}
function deserErr(message: string): DeserializationError {
  return new DeserializationError(message, kOrigin);
}

// Thrown (and caught in encodeInto) when a fixed writer runs out of room; not
// an Error, so that it captures no stack.
const kOverflow = { overflow: true };

const kLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const kHasSab = typeof SharedArrayBuffer !== 'undefined';

const kEmptyBuffer = new ArrayBuffer(0);
const kEmptyU8 = new Uint8Array(kEmptyBuffer);
const kEmptyDv = new DataView(kEmptyBuffer);

// Readers read multi-byte numbers from the input's bytes directly (a DataView
// would need the input's ArrayBuffer, which costs more than the whole decode
// of a small on-heap Uint8Array): integers by shifts, floats and 64-bit
// integers through this 8-byte scratch.
const kScratch = new ArrayBuffer(8);
const kScratchU8 = new Uint8Array(kScratch);
const kScratchF32 = new Float32Array(kScratch);
const kScratchF64 = new Float64Array(kScratch);
const kScratchI64 = new BigInt64Array(kScratch);
const kScratchU64 = new BigUint64Array(kScratch);

function toScratch(u8: Uint8Array, at: number, n: number): void {
  if (kLittleEndian) for (let i = 0; i < n; i++) kScratchU8[i] = u8[at + i]!;
  else for (let i = 0; i < n; i++) kScratchU8[n - 1 - i] = u8[at + i]!;
}
/** @internal little-endian u16 at `at`. */
export function u16At(u8: Uint8Array, at: number): number {
  return u8[at]! | (u8[at + 1]! << 8);
}
/** @internal little-endian u32 at `at`. */
export function u32At(u8: Uint8Array, at: number): number {
  return (u8[at]! | (u8[at + 1]! << 8) | (u8[at + 2]! << 16) | (u8[at + 3]! << 24)) >>> 0;
}

function isShared(u8: Uint8Array): boolean {
  return kHasSab && u8.buffer instanceof SharedArrayBuffer;
}

// ---------------------------------------------------------------------------
// Writer

/**
 * Appends encoded values to a growable buffer (new Writer()), or writes into
 * a fixed slot (Writer.over(slot)) without touching a byte outside it. The
 * put* methods are the low level for record headers; all positions are
 * relative to the start of the writer's bytes.
 */
export class Writer {
  /** @internal the whole underlying buffer */ u8: Uint8Array;
  /** @internal */ dv: DataView;
  /** @internal absolute offset of byte 0 */ base: number;
  /** @internal absolute write position */ pos: number;
  /** @internal absolute end of the room */ end: number;
  /** @internal a slot: never grows */ fixed: boolean;

  constructor(initialCapacity = 256) {
    const ab = new ArrayBuffer(Math.max(16, initialCapacity | 0));
    this.u8 = new Uint8Array(ab);
    this.dv = new DataView(ab);
    this.base = 0;
    this.pos = 0;
    this.end = ab.byteLength;
    this.fixed = false;
  }

  /** A writer that fills `slot` (for example a ring reservation) and never grows. */
  static over(slot: Uint8Array): Writer {
    const w = new Writer(16);
    w.rebind(slot);
    return w;
  }

  /** Makes this writer fill `slot` from its start; allocates nothing when slot shares the buffer of the last slot. */
  rebind(slot: Uint8Array): void {
    const ab = slot.buffer;
    if (this.dv.buffer !== ab) {
      this.u8 = new Uint8Array(ab);
      this.dv = new DataView(ab);
    }
    this.base = slot.byteOffset;
    this.pos = this.base;
    this.end = this.base + slot.byteLength;
    this.fixed = true;
  }

  /**
   * Makes this writer fill bytes[start, end) of `u8`, a view of a whole
   * buffer (a ring's, a channel chunk's): nothing is allocated once it has
   * seen that view. Any other view is taken as a slot (rebind).
   */
  rebindRange(u8: Uint8Array, start: number, end: number): void {
    if (u8.byteOffset !== 0 || u8.byteLength !== u8.buffer.byteLength) {
      this.rebind(u8.subarray(start, end));
      return;
    }
    if (this.u8 !== u8) {
      this.u8 = u8;
      this.dv = new DataView(u8.buffer);
    }
    this.base = start;
    this.pos = start;
    this.end = end;
    this.fixed = true;
  }

  /** Bytes written so far. */
  get size(): number {
    return this.pos - this.base;
  }
  /** Bytes that fit without growing (a slot's length). */
  get capacity(): number {
    return this.end - this.base;
  }
  /** The bytes written: a view that stays valid until the next write or reset. */
  bytes(): Uint8Array {
    return this.u8.subarray(this.base, this.pos);
  }
  /** A copy of the bytes written. */
  toUint8Array(): Uint8Array {
    return this.u8.slice(this.base, this.pos);
  }
  /** Forgets everything written (keeps the buffer). */
  reset(): void {
    this.pos = this.base;
  }

  /** Makes room for n more bytes: grows by doubling, or throws MessageTooLarge for a slot. */
  ensure(n: number): void {
    if (this.pos + n > this.end) this.grow(n);
  }
  /** @internal */
  grow(n: number): void {
    if (this.fixed) throw kOverflow;
    const used = this.pos - this.base;
    const cap = Math.max(2 * (this.end - this.base), used + n, 64);
    const ab = new ArrayBuffer(cap);
    const u8 = new Uint8Array(ab);
    u8.set(this.u8.subarray(this.base, this.pos));
    this.u8 = u8;
    this.dv = new DataView(ab);
    this.base = 0;
    this.pos = used;
    this.end = cap;
  }

  putU8(v: number): void {
    this.ensure(1);
    this.u8[this.pos++] = v;
  }
  putU16(v: number): void {
    this.ensure(2);
    this.dv.setUint16(this.pos, v, true);
    this.pos += 2;
  }
  putU32(v: number): void {
    this.ensure(4);
    this.dv.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  putI32(v: number): void {
    this.ensure(4);
    this.dv.setInt32(this.pos, v, true);
    this.pos += 4;
  }
  /** u64 from a bigint or a non-negative safe integer (anything else: Serialization). */
  putU64(v: bigint | number): void {
    const x = typeof v === 'bigint' ? v : Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : -1n;
    if (x < 0n || x > kU64Hi) throw badNumber(0x09, v);
    this.ensure(8);
    this.dv.setBigUint64(this.pos, x, true);
    this.pos += 8;
  }
  putF64(v: number): void {
    this.ensure(8);
    this.dv.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
  putBytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.u8.set(b, this.pos);
    this.pos += b.length;
  }
  /** Raw UTF-8 of `s` (no length prefix); returns the byte count. Lone surrogates: Serialization. */
  putUtf8(s: string): number {
    const start = this.pos;
    writeUtf8(this, s, 'string');
    return this.pos - start;
  }
  /** Writes v at byte `at` (relative to the writer's start) of what was already written. */
  patchU32(at: number, v: number): void {
    this.dv.setUint32(this.base + at, v, true);
  }
}

// ---------------------------------------------------------------------------
// Reader

/**
 * Reads encoded values from `bytes`, front to back, starting at `offset`.
 * Error messages give offsets from the start of `bytes`.
 */
export class Reader {
  /** @internal the input */ u8: Uint8Array;
  /** @internal where the value's bytes start: messages give offsets from here */ base: number;
  /** @internal read position */ pos: number;
  /** @internal input length */ end: number;

  constructor(bytes: Uint8Array, offset = 0) {
    this.u8 = kEmptyU8;
    this.base = this.pos = this.end = 0;
    this.reset(bytes, offset);
  }

  /** Reads `bytes` from `offset` on (allocates nothing). */
  reset(bytes: Uint8Array, offset = 0): void {
    if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError(`the input is a ${describeJs(bytes)}, not a Uint8Array`, kOrigin);
    if (!(offset >= 0 && offset <= bytes.length)) throw new InvalidArgumentError(`offset ${offset} is outside the ${countBytes(bytes.length)} of input`, kOrigin);
    this.u8 = bytes;
    this.base = 0;
    this.pos = offset;
    this.end = bytes.length;
  }

  /** Reads bytes[start, end) as the whole input (offsets in messages count from start; allocates nothing). */
  resetRange(bytes: Uint8Array, start: number, end: number): void {
    if (!(start >= 0 && start <= end && end <= bytes.length)) {
      throw new InvalidArgumentError(`range [${start}, ${end}) is outside the ${countBytes(bytes.length)} of input`, kOrigin);
    }
    this.u8 = bytes;
    this.base = start;
    this.pos = start;
    this.end = end;
  }

  /** Bytes from the start of the input to the next value. */
  get position(): number {
    return this.pos - this.base;
  }
  get remaining(): number {
    return this.end - this.pos;
  }
  get atEnd(): boolean {
    return this.pos === this.end;
  }

  /** Throws Deserialization "<what> at offset P needs N bytes but R remain" unless n bytes remain. */
  need(n: number, what: string): void {
    if (n > this.end - this.pos) needFail(this, n, what, '');
  }
  readU8(what = 'u8'): number {
    if (this.pos + 1 > this.end) needFail(this, 1, what, '');
    return this.u8[this.pos++]!;
  }
  readU16(what = 'u16'): number {
    if (this.pos + 2 > this.end) needFail(this, 2, what, '');
    const v = u16At(this.u8, this.pos);
    this.pos += 2;
    return v;
  }
  readU32(what = 'u32'): number {
    if (this.pos + 4 > this.end) needFail(this, 4, what, '');
    const v = u32At(this.u8, this.pos);
    this.pos += 4;
    return v;
  }
  readU64(what = 'u64'): bigint {
    if (this.pos + 8 > this.end) needFail(this, 8, what, '');
    toScratch(this.u8, this.pos, 8);
    this.pos += 8;
    const v = kScratchU64[0]!;
    return v;
  }
  /** n bytes as a view into the input (zero-copy). */
  readBytes(n: number, what = 'bytes'): Uint8Array {
    if (this.pos + n > this.end) needFail(this, n, what, '');
    const b = this.u8.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  /** n bytes of strict UTF-8 as a string. */
  readUtf8(n: number, what = 'string'): string {
    if (this.pos + n > this.end) needFail(this, n, what, '');
    const at = this.pos;
    this.pos += n;
    return textAt(this, at, at, n, what);
  }
}

function needFail(r: Reader, n: number, what: string, suffix: string): never {
  const rem = r.end - r.pos;
  throw deserErr(`${what}${suffix} at offset ${r.pos - r.base} needs ${countBytes(n)} but ${countBytes(rem)} ${rem === 1 ? 'remains' : 'remain'}`);
}

// ---------------------------------------------------------------------------
// UTF-8

const kEncoder = new TextEncoder();
const kDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
// Strings up to this many UTF-16 units (encode) or bytes (decode) are coded
// by hand: cheaper than a call into TextEncoder/TextDecoder.
const kShortText = 24;
// Into shared memory (a ring slot) TextEncoder cannot write in place: it
// allocates and the bytes are copied. Up to this many units the hand-written
// loop is cheaper than that (measured in Node 20: 32 units 220 ns by hand,
// 700 ns encode+copy; 128 units 680 vs 840 ns).
const kShortSharedText = 128;
let decodeScratch = new Uint8Array(256); // TextDecoder may refuse shared memory: copy first
const kScratchKeep = 1 << 20; // scratch buffers never grow past this

const hasIsWellFormed = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function';

// Index of the first lone surrogate in s, or -1.
function loneSurrogate(s: string): number {
  if (hasIsWellFormed && s.isWellFormed()) return -1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
    }
    return i;
  }
  return -1;
}

function loneSurrogateErr(s: string, at: number, what: string): SerializationError {
  return serErr(`${what} is not valid UTF-8 (lone surrogate U+${s.charCodeAt(at).toString(16).toUpperCase()} at index ${at})`);
}

/** UTF-8 byte length of s (lone surrogates count 3, as TextEncoder writes U+FFFD). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // 4 bytes for 2 units
      i++;
    } else n += 2;
  }
  return n;
}

// Writes the UTF-8 of s at w.pos (no length), growing as needed; refuses lone surrogates.
function writeUtf8(w: Writer, s: string, what: string): void {
  const n = s.length;
  if (n <= kShortText || (n <= kShortSharedText && isShared(w.u8))) {
    if (w.pos + 3 * n > w.end) w.ensure(utf8Length(s));
    const u8 = w.u8;
    let p = w.pos;
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        u8[p++] = c;
      } else if (c < 0x800) {
        u8[p++] = 0xc0 | (c >> 6);
        u8[p++] = 0x80 | (c & 0x3f);
      } else if (c < 0xd800 || c > 0xdfff) {
        u8[p++] = 0xe0 | (c >> 12);
        u8[p++] = 0x80 | ((c >> 6) & 0x3f);
        u8[p++] = 0x80 | (c & 0x3f);
      } else {
        const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c > 0xdbff || (d & 0xfc00) !== 0xdc00) throw loneSurrogateErr(s, i, what);
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        u8[p++] = 0xf0 | (c >> 18);
        u8[p++] = 0x80 | ((c >> 12) & 0x3f);
        u8[p++] = 0x80 | ((c >> 6) & 0x3f);
        u8[p++] = 0x80 | (c & 0x3f);
      }
    }
    w.pos = p;
    return;
  }
  const bad = loneSurrogate(s);
  if (bad >= 0) throw loneSurrogateErr(s, bad, what);
  if (w.pos + 3 * n > w.end) w.ensure(utf8Length(s));
  const target = w.u8.subarray(w.pos, w.end);
  if (kHasSab && target.buffer instanceof SharedArrayBuffer) {
    // Browsers' encodeInto refuses shared memory (a ring slot): encode, then copy.
    const bytes = kEncoder.encode(s);
    if (bytes.length > target.length) throw kOverflow;
    target.set(bytes);
    w.pos += bytes.length;
    return;
  }
  const res = kEncoder.encodeInto(s, target);
  if (res.read !== n) throw kOverflow; // only a slot can be short: ensure() grew anything else
  w.pos += res.written;
}

// Offset (from start) of the first byte that starts an invalid UTF-8 sequence
// in u8[start, end), or -1. Same rules as core/codec.hpp find_invalid_utf8.
function findInvalidUtf8(u8: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const c = u8[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let len: number;
    let cp: number;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else return i - start;
    if (end - i < len) return i - start;
    for (let k = 1; k < len; k++) {
      const b = u8[i + k]!;
      if ((b & 0xc0) !== 0x80) return i - start;
      cp = (cp << 6) | (b & 0x3f);
    }
    if (len === 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) return i - start;
    if (len === 4 && (cp < 0x10000 || cp > 0x10ffff)) return i - start;
    i += len;
  }
  return -1;
}

// Decodes short UTF-8 by hand; null when invalid.
function decodeShortUtf8(u8: Uint8Array, i: number, end: number): string | null {
  let s = '';
  while (i < end) {
    const c = u8[i]!;
    if (c < 0x80) {
      s += String.fromCharCode(c);
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      if (i + 1 >= end) return null;
      const b1 = u8[i + 1]!;
      if ((b1 & 0xc0) !== 0x80) return null;
      s += String.fromCharCode(((c & 0x1f) << 6) | (b1 & 0x3f));
      i += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      if (i + 2 >= end) return null;
      const b1 = u8[i + 1]!;
      const b2 = u8[i + 2]!;
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80) return null;
      const cp = ((c & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
      if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return null;
      s += String.fromCharCode(cp);
      i += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (i + 3 >= end) return null;
      const b1 = u8[i + 1]!;
      const b2 = u8[i + 2]!;
      const b3 = u8[i + 3]!;
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80 || (b3 & 0xc0) !== 0x80) return null;
      const cp = ((c & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
      if (cp < 0x10000 || cp > 0x10ffff) return null;
      const x = cp - 0x10000;
      s += String.fromCharCode(0xd800 + (x >> 10), 0xdc00 + (x & 0x3ff));
      i += 4;
    } else return null;
  }
  return s;
}

// The text of n bytes at absolute `data`; `at` is where the field began (for messages).
function textAt(r: Reader, at: number, data: number, n: number, what: string): string {
  let s: string | null;
  if (n <= kShortText) {
    s = decodeShortUtf8(r.u8, data, data + n);
  } else {
    let src = r.u8.subarray(data, data + n);
    if (isShared(r.u8)) {
      if (n > kScratchKeep) {
        src = src.slice(); // too big to keep around
      } else {
        if (decodeScratch.length < n) decodeScratch = new Uint8Array(Math.min(kScratchKeep, Math.max(n, 2 * decodeScratch.length)));
        decodeScratch.set(src);
        src = decodeScratch.subarray(0, n);
      }
    }
    try {
      s = kDecoder.decode(src);
    } catch {
      s = null;
    }
  }
  if (s === null) {
    const bad = findInvalidUtf8(r.u8, data, data + n);
    throw deserErr(`${what} at offset ${at - r.base} is not valid UTF-8 (byte 0x${hex2(r.u8[data + bad]!)} at offset ${data + bad - r.base})`);
  }
  return s;
}

function checkUtf8(r: Reader, at: number, data: number, n: number, what: string): void {
  const bad = findInvalidUtf8(r.u8, data, data + n);
  if (bad >= 0) throw deserErr(`${what} at offset ${at - r.base} is not valid UTF-8 (byte 0x${hex2(r.u8[data + bad]!)} at offset ${data + bad - r.base})`);
}

// ---------------------------------------------------------------------------
// Encoding

const kIntLo = [0, 0, -128, 0, -32768, 0, -2147483648, 0];
const kIntHi = [0, 0, 127, 255, 32767, 65535, 2147483647, 4294967295];
const kI64Lo = -(1n << 63n);
const kI64Hi = (1n << 63n) - 1n;
const kU64Hi = (1n << 64n) - 1n;
const kU32Max = 0xffffffff;

function badNumber(tag: number, v: unknown): SerializationError {
  const name = wireName(tag);
  let range: string;
  if (tag === 0x08) range = `${kI64Lo}..${kI64Hi}`;
  else if (tag === 0x09) range = `0..${kU64Hi}`;
  else range = `${kIntLo[tag]}..${kIntHi[tag]}`;
  const what = typeof v === 'number' || typeof v === 'bigint' ? String(v) : describeJs(v);
  return serErr(`${name} value ${what} is not an integer in ${range}`);
}

function intOf(tag: number, v: unknown): number {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= kIntLo[tag]! && v <= kIntHi[tag]!) return v;
  } else if (typeof v === 'bigint') {
    const n = Number(v);
    if (n >= kIntLo[tag]! && n <= kIntHi[tag]!) return n;
  }
  throw badNumber(tag, v);
}

function bigOf(tag: number, v: unknown): bigint {
  if (typeof v === 'bigint') {
    if (tag === 0x08 ? v >= kI64Lo && v <= kI64Hi : v >= 0n && v <= kU64Hi) return v;
  } else if (typeof v === 'number' && Number.isSafeInteger(v) && (tag === 0x08 || v >= 0)) {
    return BigInt(v);
  }
  throw badNumber(tag, v);
}

/** @internal writes one number of wire type `tag` (checked) with its tag byte. */
export function putNumber(w: Writer, tag: number, v: unknown): void {
  if (w.pos + 9 > w.end && isNumberTag(tag)) w.ensure(1 + numberSize(tag));
  const dv = w.dv;
  const p = w.pos;
  switch (tag) {
    case 0x02:
      dv.setInt8(p + 1, intOf(tag, v));
      w.pos = p + 2;
      break;
    case 0x03:
      dv.setUint8(p + 1, intOf(tag, v));
      w.pos = p + 2;
      break;
    case 0x04:
      dv.setInt16(p + 1, intOf(tag, v), true);
      w.pos = p + 3;
      break;
    case 0x05:
      dv.setUint16(p + 1, intOf(tag, v), true);
      w.pos = p + 3;
      break;
    case 0x06:
      dv.setInt32(p + 1, intOf(tag, v), true);
      w.pos = p + 5;
      break;
    case 0x07:
      dv.setUint32(p + 1, intOf(tag, v), true);
      w.pos = p + 5;
      break;
    case 0x08:
      dv.setBigInt64(p + 1, bigOf(tag, v), true);
      w.pos = p + 9;
      break;
    case 0x09:
      dv.setBigUint64(p + 1, bigOf(tag, v), true);
      w.pos = p + 9;
      break;
    case 0x0a:
      if (typeof v !== 'number') throw serErr(`f32 value ${describeJs(v)} is not a number`);
      dv.setFloat32(p + 1, v, true);
      w.pos = p + 5;
      break;
    case 0x0b:
      if (typeof v !== 'number') throw serErr(`f64 value ${describeJs(v)} is not a number`);
      dv.setFloat64(p + 1, v, true);
      w.pos = p + 9;
      break;
    default:
      throw serErr(`number tag ${typeof tag === 'number' ? '0x' + hex2(tag & 0xff) : describeJs(tag)} is not a number type (0x02..0x0b)`);
  }
  w.u8[p] = tag;
}

/** @internal a string value: tag, u32 length, UTF-8. */
export function putString(w: Writer, s: string): void {
  if (w.pos + 5 > w.end) w.ensure(5);
  const at = w.pos;
  w.u8[at] = 0x0c;
  w.pos = at + 5;
  writeUtf8(w, s, 'string');
  w.dv.setUint32(at + 1, w.pos - at - 5, true);
}

/** @internal a u8-length name (struct and field names). */
export function putName(w: Writer, s: string, what: string): void {
  if (w.pos + 1 > w.end) w.ensure(1);
  const at = w.pos;
  w.pos = at + 1;
  writeUtf8(w, s, what);
  const n = w.pos - at - 1;
  if (n > 255) throw serErr(`${what} of ${n} bytes exceeds the limit of 255`);
  w.u8[at] = n;
}

/** @internal a bytes value from raw bytes. */
export function putBlob(w: Writer, b: Uint8Array): void {
  const n = b.length;
  if (n > kU32Max) throw serErr(`bytes length of ${n} exceeds the u32 limit of ${kU32Max}`);
  if (w.pos + 5 + n > w.end) w.ensure(5 + n);
  const p = w.pos;
  w.u8[p] = 0x0d;
  w.dv.setUint32(p + 1, n, true);
  w.u8.set(b, p + 5);
  w.pos = p + 5 + n;
}

/** @internal tag byte + u32. */
export function putTagU32(w: Writer, tag: number, n: number): void {
  if (w.pos + 5 > w.end) w.ensure(5);
  w.u8[w.pos] = tag;
  w.dv.setUint32(w.pos + 1, n, true);
  w.pos += 5;
}

/** @internal opening a container at `depth` (levels already open). */
export function enterEnc(depth: number): void {
  if (depth >= kMaxDepth) throw serErr(`nesting depth ${depth + 1} exceeds the limit of ${kMaxDepth}`);
}

/** @internal an error value. */
export function putError(w: Writer, e: FerryError): void {
  const kind = e.kind;
  if (!isErrorKind(kind)) throw serErr(`error kind ${String(kind)} is not a known ErrorKind`);
  if (w.pos + 2 > w.end) w.ensure(2);
  w.u8[w.pos] = 0x14;
  w.u8[w.pos + 1] = kind;
  w.pos += 2;
  putText(w, String(e.message), 'error message');
  putText(w, String(e.origin ?? ''), 'error origin');
  // Only a TypeMismatch carries its two type names (CODEC.md, error 0x14).
  if (kind === ErrorKind.TypeMismatch) {
    const m = e as { expected?: unknown; actual?: unknown };
    putText(w, String(m.expected ?? ''), 'error expected type');
    putText(w, String(m.actual ?? ''), 'error actual type');
  }
}

function putText(w: Writer, s: string, what: string): void {
  if (w.pos + 4 > w.end) w.ensure(4);
  const at = w.pos;
  w.pos = at + 4;
  writeUtf8(w, s, what);
  w.dv.setUint32(at, w.pos - at - 4, true);
}

/** @internal packed element tag of a typed array (Uint8Array is bytes, not packed): 0 if none. */
export function packedTagOf(v: ArrayBufferView): number {
  switch ((v as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag]) {
    case 'Int8Array': return 0x02;
    case 'Uint8ClampedArray': return 0x03;
    case 'Int16Array': return 0x04;
    case 'Uint16Array': return 0x05;
    case 'Int32Array': return 0x06;
    case 'Uint32Array': return 0x07;
    case 'BigInt64Array': return 0x08;
    case 'BigUint64Array': return 0x09;
    case 'Float32Array': return 0x0a;
    case 'Float64Array': return 0x0b;
    default: return 0;
  }
}

/** @internal a packed value from a typed array of the element type `elem`. */
export function putPacked(w: Writer, elem: number, v: ArrayBufferView & { length: number }): void {
  const count = v.length;
  if (count > kU32Max) throw serErr(`packed array of ${count} exceeds the u32 limit of ${kU32Max}`);
  const n = v.byteLength;
  if (w.pos + 6 + n > w.end) w.ensure(6 + n);
  const p = w.pos;
  w.u8[p] = 0x0f;
  w.u8[p + 1] = elem;
  w.dv.setUint32(p + 2, count, true);
  if (kLittleEndian || n === count) {
    w.u8.set(new Uint8Array(v.buffer, v.byteOffset, n), p + 6);
  } else {
    const a = v as unknown as ArrayLike<number | bigint>;
    const size = n / count;
    for (let i = 0; i < count; i++) writeRaw(w.dv, elem, p + 6 + i * size, a[i]!);
  }
  w.pos = p + 6 + n;
}

function writeRaw(dv: DataView, elem: number, at: number, x: number | bigint): void {
  switch (elem) {
    case 0x04: dv.setInt16(at, x as number, true); break;
    case 0x05: dv.setUint16(at, x as number, true); break;
    case 0x06: dv.setInt32(at, x as number, true); break;
    case 0x07: dv.setUint32(at, x as number, true); break;
    case 0x08: dv.setBigInt64(at, x as bigint, true); break;
    case 0x09: dv.setBigUint64(at, x as bigint, true); break;
    case 0x0a: dv.setFloat32(at, x as number, true); break;
    default: dv.setFloat64(at, x as number, true); break;
  }
}

/** @internal raw bytes of a bytes-like object, or null. */
export function bytesOf(v: object): Uint8Array | null {
  if (v instanceof Uint8Array) return v;
  if (v instanceof DataView) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof ArrayBuffer || (kHasSab && v instanceof SharedArrayBuffer)) return new Uint8Array(v);
  return null;
}

function encValue(w: Writer, v: unknown, depth: number): void {
  switch (typeof v) {
    case 'number': {
      if (w.pos + 9 > w.end) w.ensure(9);
      const p = w.pos;
      w.u8[p] = 0x0b;
      w.dv.setFloat64(p + 1, v, true);
      w.pos = p + 9;
      return;
    }
    case 'string':
      putString(w, v);
      return;
    case 'boolean': {
      if (w.pos + 2 > w.end) w.ensure(2);
      w.u8[w.pos] = 0x01;
      w.u8[w.pos + 1] = v ? 1 : 0;
      w.pos += 2;
      return;
    }
    case 'undefined':
      if (w.pos + 1 > w.end) w.ensure(1);
      w.u8[w.pos++] = 0x00;
      return;
    case 'bigint':
      putNumber(w, 0x08, v);
      return;
    case 'object':
      encObject(w, v, depth);
      return;
    default:
      throw serErr(`cannot encode a ${typeof v}`);
  }
}

function encObject(w: Writer, v: object | null, depth: number): void {
  if (v === null || v === NONE) {
    enterEnc(depth);
    if (w.pos + 2 > w.end) w.ensure(2);
    w.u8[w.pos] = 0x10;
    w.u8[w.pos + 1] = 0;
    w.pos += 2;
    return;
  }
  if (v instanceof Typed) {
    putNumber(w, v.tag, v.value);
    return;
  }
  if (Array.isArray(v)) {
    enterEnc(depth);
    const n = v.length;
    putTagU32(w, 0x0e, n);
    for (let i = 0; i < n; i++) encValue(w, v[i], depth + 1);
    return;
  }
  if (ArrayBuffer.isView(v)) {
    if (v instanceof Uint8Array || v instanceof DataView) {
      putBlob(w, bytesOf(v)!);
      return;
    }
    const elem = packedTagOf(v);
    if (elem === 0) throw serErr(`cannot encode a ${describeJs(v)}`);
    putPacked(w, elem, v as ArrayBufferView & { length: number });
    return;
  }
  if (v instanceof Map) {
    enterEnc(depth);
    putTagU32(w, 0x12, v.size);
    for (const [k, x] of v) {
      encValue(w, k, depth + 1);
      encValue(w, x, depth + 1);
    }
    return;
  }
  if (v instanceof Some) {
    enterEnc(depth);
    if (w.pos + 2 > w.end) w.ensure(2);
    w.u8[w.pos] = 0x10;
    w.u8[w.pos + 1] = 1;
    w.pos += 2;
    encValue(w, v.some, depth + 1);
    return;
  }
  if (v instanceof Variant) {
    enterEnc(depth);
    const index = v.index;
    if (!(Number.isInteger(index) && index >= 0 && index <= kU32Max)) {
      throw serErr(`variant index ${String(index)} is not an integer in 0..${kU32Max}`);
    }
    putTagU32(w, 0x11, index);
    encValue(w, v.value, depth + 1);
    return;
  }
  if (v instanceof FerryError) {
    putError(w, v);
    return;
  }
  if (v instanceof ArrayBuffer || (kHasSab && v instanceof SharedArrayBuffer)) {
    putBlob(w, new Uint8Array(v));
    return;
  }
  if (v instanceof Error) {
    putError(w, toFerryError(v, ''));
    return;
  }
  if (v instanceof Set || v instanceof WeakMap || v instanceof WeakSet || v instanceof Date || v instanceof RegExp || v instanceof Promise) {
    throw serErr(`cannot encode a ${describeJs(v)} (use an Array, a Map or a plain object)`);
  }
  encStruct(w, v as Record<string | symbol, unknown>, depth);
}

function encStruct(w: Writer, o: Record<string | symbol, unknown>, depth: number): void {
  enterEnc(depth);
  const name = o[STRUCT_NAME] ?? '';
  if (typeof name !== 'string') throw serErr(`struct name is a ${describeJs(name)}, not a string`);
  const keys = Object.keys(o);
  if (keys.length > 0xffff) throw serErr(`struct ${name} has ${keys.length} fields, more than the limit of 65535`);
  if (w.pos + 1 > w.end) w.ensure(1);
  w.u8[w.pos++] = 0x13;
  putName(w, name, 'struct name');
  if (w.pos + 2 > w.end) w.ensure(2);
  w.dv.setUint16(w.pos, keys.length, true);
  w.pos += 2;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    putName(w, k, 'field name');
    encValue(w, o[k], depth + 1);
  }
}

/** @internal a value at `depth` open levels (schema.ts uses it for the untyped parts). */
export function encodeValueAt(w: Writer, v: unknown, depth: number): void {
  encValue(w, v, depth);
}

/**
 * Runs `body(w)` as the encoding of one top-level value: on failure the
 * partial value is removed again, and a slot that runs out of room becomes
 * MessageTooLarge naming the bytes needed (measured by running body again
 * into a growable writer).
 * @internal
 */
export function encodeTop(w: Writer, body: (w: Writer) => void): void {
  const start = w.pos;
  try {
    body(w);
  } catch (e) {
    w.pos = start;
    if (e === kOverflow) {
      const m = new Writer(Math.max(256, 2 * (w.end - w.base)));
      body(m);
      throw tooLarge(w, start - w.base + m.size);
    }
    throw e;
  }
}

function tooLarge(w: Writer, need: number): MessageTooLargeError {
  const holds = w.end - w.base;
  return new MessageTooLargeError(`encoding needs ${countBytes(need)} but the buffer holds ${holds} (${need - holds} more)`, kOrigin);
}

/** Appends one value to `w`. Throws Serialization or (a slot) MessageTooLarge; the writer then holds what it held before. */
export function encodeInto(w: Writer, value: unknown): void {
  const start = w.pos;
  try {
    encValue(w, value, 0);
  } catch (e) {
    w.pos = start;
    if (e === kOverflow) throw tooLarge(w, start - w.base + encodedSize(value));
    throw e;
  }
}

let scratchWriter: Writer | null = new Writer(4096);

/** One value as new bytes. */
export function encode(value: unknown): Uint8Array {
  const w = scratchWriter ?? new Writer(256);
  scratchWriter = null; // reentrant calls (from getters) get their own writer
  try {
    w.reset();
    encodeInto(w, value);
    return w.toUint8Array();
  } finally {
    scratchWriter = w.capacity <= kScratchKeep ? w : new Writer(4096);
  }
}

let slotWriter: Writer | null = null;

/**
 * Encodes one value directly into `slot` (for example a ring reservation)
 * and returns the bytes written. A slot that is too small: MessageTooLarge
 * "encoding needs N bytes but the buffer holds M (K more)"; bytes of the slot
 * past what fits may have been written.
 */
export function encodeToSlot(value: unknown, slot: Uint8Array): number {
  return encodeToRange(value, slot, 0, slot.length);
}

/**
 * encodeToSlot() into bytes[start, end) of `u8`; nothing is allocated when
 * `u8` views a whole buffer (Writer.rebindRange). Returns the bytes written.
 */
export function encodeToRange(value: unknown, u8: Uint8Array, start: number, end: number): number {
  const w = slotWriter ?? new Writer(16);
  slotWriter = null;
  try {
    w.rebindRange(u8, start, end);
    encodeInto(w, value);
    return w.pos - w.base;
  } finally {
    if (!(kHasSab && w.dv.buffer instanceof SharedArrayBuffer)) {
      w.u8 = kEmptyU8; // keep no ordinary buffer alive (shared ones are rings and wasm memory)
      w.dv = kEmptyDv;
    }
    w.base = w.pos = w.end = 0;
    slotWriter = w;
  }
}

/** Exact byte count encode(value) produces. Throws Serialization for values that have no encoding. */
export function encodedSize(value: unknown): number {
  return sizeOf(value, 0);
}

function sizeOf(v: unknown, depth: number): number {
  switch (typeof v) {
    case 'number':
      return 9;
    case 'string':
      return 5 + utf8Length(v);
    case 'boolean':
      return 2;
    case 'undefined':
      return 1;
    case 'bigint':
      return 9;
    case 'object':
      break;
    default:
      throw serErr(`cannot encode a ${typeof v}`);
  }
  if (v === null || v === NONE) return 2;
  if (v instanceof Typed) return isNumberTag(v.tag) ? 1 + numberSize(v.tag) : 1;
  if (ArrayBuffer.isView(v)) return (v instanceof Uint8Array || v instanceof DataView ? 5 : 6) + v.byteLength;
  if (v instanceof ArrayBuffer || (kHasSab && v instanceof SharedArrayBuffer)) return 5 + v.byteLength;
  if (v instanceof Error) {
    const e = v instanceof FerryError ? v : toFerryError(v, '');
    const n = 10 + utf8Length(String(e.message)) + utf8Length(String(e.origin ?? ''));
    if (e.kind !== ErrorKind.TypeMismatch) return n;
    const m = e as { expected?: unknown; actual?: unknown };
    return n + 8 + utf8Length(String(m.expected ?? '')) + utf8Length(String(m.actual ?? ''));
  }
  enterEnc(depth);
  if (Array.isArray(v)) {
    let n = 5;
    for (let i = 0; i < v.length; i++) n += sizeOf(v[i], depth + 1);
    return n;
  }
  if (v instanceof Map) {
    let n = 5;
    for (const [k, x] of v) n += sizeOf(k, depth + 1) + sizeOf(x, depth + 1);
    return n;
  }
  if (v instanceof Some) return 2 + sizeOf(v.some, depth + 1);
  if (v instanceof Variant) return 5 + sizeOf(v.value, depth + 1);
  const o = v as Record<string | symbol, unknown>;
  const name = o[STRUCT_NAME];
  let n = 4 + (typeof name === 'string' ? utf8Length(name) : 0);
  for (const k of Object.keys(o)) n += 1 + utf8Length(k) + sizeOf(o[k], depth + 1);
  return n;
}

// ---------------------------------------------------------------------------
// Decoding

export interface DecodeOptions {
  /** false: bytes values are views into the input (zero-copy); default true (copies). */
  copy?: boolean;
  /** Numbers as Typed wrappers (and optionals as Some/NONE), so values re-encode byte-exact. */
  preserveTypes?: boolean;
  /** Optionals as Some/NONE instead of value/null; defaults to preserveTypes. */
  preserveOptional?: boolean;
}

const F_VIEW = 1;
const F_TYPES = 2;
const F_OPTIONAL = 4;

function flagsOf(o: DecodeOptions | undefined): number {
  if (o === undefined) return 0;
  let f = 0;
  if (o.copy === false) f |= F_VIEW;
  if (o.preserveTypes) f |= F_TYPES | F_OPTIONAL;
  if (o.preserveOptional !== undefined) f = o.preserveOptional ? f | F_OPTIONAL : f & ~F_OPTIONAL;
  return f;
}

/** @internal opening a container whose tag sits at absolute `at`, with `depth` levels open. */
export function enterDec(r: Reader, at: number, depth: number): void {
  if (depth >= kMaxDepth) throw deserErr(`nesting depth ${depth + 1} at offset ${at - r.base} exceeds the limit of ${kMaxDepth}`);
}

/** @internal the tag of the next value. */
export function readTag(r: Reader): number {
  if (r.pos >= r.end) throw deserErr(`input ends at offset ${r.pos - r.base} where a value was expected`);
  return r.u8[r.pos++]!;
}

/** @internal */
export function unknownTag(r: Reader, tag: number, at: number): never {
  throw deserErr(`unknown type tag 0x${hex2(tag)} at offset ${at - r.base}`);
}

/** @internal one 0/1 byte. */
export function readFlag(r: Reader, what: string): boolean {
  const p = r.pos;
  if (p >= r.end) needFail(r, 1, what, '');
  const b = r.u8[p]!;
  if (b > 1) throw deserErr(`${what} 0x${hex2(b)} at offset ${p - r.base} is not 0 or 1`);
  r.pos = p + 1;
  return b === 1;
}

/** @internal u32 with a "<what><suffix>" need message. */
export function readU32(r: Reader, what: string, suffix: string): number {
  const p = r.pos;
  if (p + 4 > r.end) needFail(r, 4, what, suffix);
  r.pos = p + 4;
  return u32At(r.u8, p);
}

/** @internal a u32 count of items of at least `minEach` bytes each. */
export function readCount(r: Reader, what: string, minEach: number): number {
  const at = r.pos;
  const count = readU32(r, what, '');
  const least = count * minEach;
  const rem = r.end - r.pos;
  if (least > rem) {
    throw deserErr(`${what} ${count} at offset ${at - r.base} needs at least ${countBytes(least)} but ${countBytes(rem)} remain`);
  }
  return count;
}

/** @internal u32 length then that many bytes; returns the length, r.pos is past them, data starts at r.pos - n. */
export function readBlob(r: Reader, what: string): number {
  const at = r.pos;
  const n = readU32(r, what, ' length');
  const rem = r.end - r.pos;
  if (n > rem) throw deserErr(`${what} length ${n} at offset ${at - r.base} exceeds the ${rem} remaining ${rem === 1 ? 'byte' : 'bytes'}`);
  r.pos += n;
  return n;
}

/** @internal u32 length + strict UTF-8. */
export function readText(r: Reader, what: string): string {
  const at = r.pos;
  const n = readBlob(r, what);
  return textAt(r, at, at + 4, n, what);
}

/** @internal u8 length + strict UTF-8 (struct and field names); `at` is the length byte. */
export function readName(r: Reader, what: string): string {
  const at = r.pos;
  if (at >= r.end) needFail(r, 1, what, ' length');
  const n = r.u8[at]!;
  r.pos = at + 1;
  if (r.pos + n > r.end) needFail(r, n, what, '');
  r.pos += n;
  return textAt(r, at, at + 1, n, what);
}

/** @internal the u8 ErrorKind. */
export function readErrorKind(r: Reader): ErrorKind {
  const p = r.pos;
  if (p >= r.end) needFail(r, 1, 'error kind', '');
  const k = r.u8[p]!;
  if (!isErrorKind(k)) throw deserErr(`error kind ${k} at offset ${p - r.base} is not a known ErrorKind (1..${ErrorKind.InvalidArgument})`);
  r.pos = p + 1;
  return k;
}

/** @internal the payload of a packed value (tag already read) as a typed array copy. */
export function readPacked(r: Reader): ArrayBufferView {
  const p = r.pos;
  if (p >= r.end) needFail(r, 1, 'packed element tag', '');
  const elem = r.u8[p]!;
  if (!isNumberTag(elem)) throw deserErr(`packed element tag 0x${hex2(elem)} at offset ${p - r.base} is not a number type (0x02..0x0b)`);
  r.pos = p + 1;
  const size = numberSize(elem);
  const count = readCount(r, 'packed count', size);
  const at = r.pos;
  r.pos = at + count * size;
  return packedCopy(r, elem, at, count);
}

function packedCopy(r: Reader, elem: number, at: number, count: number): ArrayBufferView {
  let out: ArrayBufferView & { length: number };
  switch (elem) {
    case 0x02: out = new Int8Array(count); break;
    case 0x03: out = new Uint8ClampedArray(count); break;
    case 0x04: out = new Int16Array(count); break;
    case 0x05: out = new Uint16Array(count); break;
    case 0x06: out = new Int32Array(count); break;
    case 0x07: out = new Uint32Array(count); break;
    case 0x08: out = new BigInt64Array(count); break;
    case 0x09: out = new BigUint64Array(count); break;
    case 0x0a: out = new Float32Array(count); break;
    default: out = new Float64Array(count); break;
  }
  const n = out.byteLength;
  if (kLittleEndian || n === count) {
    new Uint8Array(out.buffer).set(r.u8.subarray(at, at + n));
  } else {
    const a = out as unknown as { [i: number]: number | bigint };
    const size = n / count;
    for (let i = 0; i < count; i++) a[i] = readRaw(r.u8, elem, at + i * size);
  }
  return out;
}

function readRaw(u8: Uint8Array, elem: number, at: number): number | bigint {
  switch (elem) {
    case 0x02: return (u8[at]! << 24) >> 24;
    case 0x03: return u8[at]!;
    case 0x04: return (u16At(u8, at) << 16) >> 16;
    case 0x05: return u16At(u8, at);
    case 0x06: return u32At(u8, at) | 0;
    case 0x07: return u32At(u8, at);
    case 0x08: toScratch(u8, at, 8); return kScratchI64[0]!;
    case 0x09: toScratch(u8, at, 8); return kScratchU64[0]!;
    case 0x0a: toScratch(u8, at, 4); return kScratchF32[0]!;
    default: toScratch(u8, at, 8); return kScratchF64[0]!;
  }
}

/** @internal the payload of a number value whose tag was read. */
export function readNumber(r: Reader, tag: NumberTag): number | bigint {
  const size = numberSize(tag);
  const p = r.pos;
  if (p + size > r.end) needFail(r, size, wireName(tag), ' payload');
  r.pos = p + size;
  return readRaw(r.u8, tag, p);
}

/** @internal decodes an error value whose tag was read. */
export function readErrorValue(r: Reader): FerryError {
  const kind = readErrorKind(r);
  const message = readText(r, 'error message');
  const origin = readText(r, 'error origin');
  if (kind !== ErrorKind.TypeMismatch) return ferryError(kind, message, origin);
  const expected = readText(r, 'error expected type');
  const actual = readText(r, 'error actual type');
  return ferryError(kind, message, origin, { expected, actual });
}

function decValue(r: Reader, flags: number, depth: number): unknown {
  const at = r.pos;
  if (at >= r.end) throw deserErr(`input ends at offset ${at - r.base} where a value was expected`);
  const tag = r.u8[at]!;
  r.pos = at + 1;
  switch (tag) {
    case 0x00:
      return undefined;
    case 0x01:
      return readFlag(r, 'bool byte');
    case 0x02: case 0x03: case 0x04: case 0x05: case 0x06: case 0x07:
    case 0x08: case 0x09: case 0x0a: case 0x0b: {
      const v = readNumber(r, tag as NumberTag);
      return flags & F_TYPES ? new Typed(tag, v) : v;
    }
    case 0x0c:
      return readText(r, 'string');
    case 0x0d: {
      const n = readBlob(r, 'bytes');
      const p = r.pos - n;
      return flags & F_VIEW ? r.u8.subarray(p, p + n) : r.u8.slice(p, p + n);
    }
    case 0x0e: {
      enterDec(r, at, depth);
      const count = readCount(r, 'array count', 1);
      const out = new Array<unknown>(count);
      for (let i = 0; i < count; i++) out[i] = decValue(r, flags, depth + 1);
      return out;
    }
    case 0x0f:
      return readPacked(r);
    case 0x10: {
      enterDec(r, at, depth);
      const present = readFlag(r, 'optional flag');
      if (!present) return flags & F_OPTIONAL ? NONE : null;
      const v = decValue(r, flags, depth + 1);
      return flags & F_OPTIONAL ? new Some(v) : v;
    }
    case 0x11: {
      enterDec(r, at, depth);
      const index = readU32(r, 'variant index', '');
      return new Variant(index, decValue(r, flags, depth + 1));
    }
    case 0x12: {
      enterDec(r, at, depth);
      const count = readCount(r, 'map count', 2);
      const m = new Map<unknown, unknown>();
      for (let i = 0; i < count; i++) {
        const k = decValue(r, flags, depth + 1);
        m.set(k, decValue(r, flags, depth + 1));
      }
      return m;
    }
    case 0x13: {
      enterDec(r, at, depth);
      const name = readName(r, 'struct name');
      const count = readFieldCount(r);
      const o: Record<string | symbol, unknown> = { [STRUCT_NAME]: name };
      for (let i = 0; i < count; i++) {
        const field = readName(r, 'field name');
        setField(o as Record<string, unknown>, field, decValue(r, flags, depth + 1));
      }
      return o;
    }
    case 0x14:
      return readErrorValue(r);
    default:
      return unknownTag(r, tag, at);
  }
}

/** @internal the u16 field count of a struct, checked against what remains. */
export function readFieldCount(r: Reader): number {
  const at = r.pos;
  if (at + 2 > r.end) needFail(r, 2, 'struct field count', '');
  const count = u16At(r.u8, at);
  r.pos = at + 2;
  const rem = r.end - r.pos;
  if (2 * count > rem) {
    throw deserErr(`struct field count ${count} at offset ${at - r.base} needs at least ${countBytes(2 * count)} but ${countBytes(rem)} remain`);
  }
  return count;
}

/** @internal Deserialization for bytes left after a whole-buffer decode. */
export function trailingCheck(r: Reader): void {
  const rem = r.end - r.pos;
  if (rem !== 0) throw deserErr(`${rem} trailing ${rem === 1 ? 'byte' : 'bytes'} after value (the value ends at offset ${r.pos - r.base})`);
}

/** @internal the generic decoder at `depth` open levels (schema.ts uses it for untyped parts). */
export function decodeValueAt(r: Reader, opts: DecodeOptions | undefined, depth: number): unknown {
  return decValue(r, flagsOf(opts), depth);
}

/** Decodes the value at the reader's position and moves past it. */
export function decodeFrom(r: Reader, opts?: DecodeOptions): unknown {
  return decValue(r, flagsOf(opts), 0);
}

let scratchReader: Reader | null = null;

/** @internal a Reader over `bytes` for one synchronous use; pair with releaseReader. */
export function borrowReader(bytes: Uint8Array | ArrayBuffer): Reader {
  const input = bytes instanceof Uint8Array ? bytes : bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
  const r = scratchReader;
  if (r === null) return new Reader(input as Uint8Array);
  scratchReader = null;
  r.reset(input as Uint8Array);
  return r;
}
/** @internal */
export function releaseReader(r: Reader): void {
  r.u8 = kEmptyU8; // keep no buffer alive
  r.base = r.pos = r.end = 0;
  scratchReader = r;
}

/** decode() of exactly one value filling bytes[start, end), without a view of it. */
export function decodeRange(bytes: Uint8Array, start: number, end: number, opts?: DecodeOptions): unknown {
  const r = scratchReader ?? new Reader(kEmptyU8);
  scratchReader = null;
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
  const r = scratchReader ?? new Reader(kEmptyU8);
  scratchReader = null;
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
  const r = scratchReader ?? new Reader(kEmptyU8);
  scratchReader = null;
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
scratchReader = new Reader(new Uint8Array(0));

// ---------------------------------------------------------------------------
// Skipping and the text form

/** Validates the value at the reader's position (every rule decode applies) and moves past it. */
export function skipValue(r: Reader): void {
  walk(r, 0, null);
}

/** The text form of exactly one value (core/CODEC.md "Text form"): `struct Point {x: i32 1, y: i32 -2}`. */
export function describe(bytes: Uint8Array | ArrayBuffer): string {
  const r = borrowReader(bytes);
  try {
    const out = { s: '' };
    walk(r, 0, out);
    trailingCheck(r);
    return out.s;
  } finally {
    releaseReader(r);
  }
}

/** The text of one decoded-number payload, as describe prints it (without the tag name). */
export function formatNumber(tag: NumberTag, v: number | bigint): string {
  if (tag === 0x0a) return formatF32(v as number);
  if (tag === 0x0b) return formatF64(v as number);
  return String(v);
}

function formatF64(x: number): string {
  return x === 0 && 1 / x < 0 ? '-0' : String(x);
}

function formatF32(x: number): string {
  if (x === 0) return 1 / x < 0 ? '-0' : '0';
  if (!Number.isFinite(x)) return String(x);
  // The C++ side takes the shortest printf("%.*e") that strtof reads back as x.
  // toExponential rounds exact ties up where printf rounds them to even, so
  // an odd last digit of an exact tie steps down.
  const ax = Math.abs(x);
  for (let p = 1; p <= 9; p++) {
    let s = ax.toExponential(p - 1);
    const e = s.indexOf('e');
    const last = s.charCodeAt(e - 1) - 48;
    if (last & 1 && isExactTie(ax, s, e)) s = s.slice(0, e - 1) + String.fromCharCode(47 + last) + s.slice(e);
    const y = Number(s);
    if (Math.fround(y) === ax) return (x < 0 ? '-' : '') + String(y);
  }
  return String(x);
}

// True when ax lies exactly halfway between the decimal `s` (d.ddd e±x, its
// exponent at index e) and the decimal one unit of its last digit below.
function isExactTie(ax: number, s: string, e: number): boolean {
  const digits = BigInt(s.slice(0, e).replace('.', ''));
  const k = Number(s.slice(e + 1)) - (e > 1 ? e - 2 : 0); // value = digits * 10^k
  kScratchF64[0] = ax;
  const bits = kScratchU64[0]!;
  const biased = Number(bits >> 52n);
  const frac = bits & ((1n << 52n) - 1n);
  const m = biased === 0 ? frac : frac | (1n << 52n);
  const exp = (biased === 0 ? -1074 : biased - 1075) + 1; // 2 * ax = m * 2^exp
  let lhs = m;
  let rhs = 2n * digits - 1n; // 2 * midpoint = (2 * digits - 1) * 10^k
  if (exp >= 0) lhs <<= BigInt(exp);
  else rhs <<= BigInt(-exp);
  if (k >= 0) rhs *= 10n ** BigInt(k);
  else lhs *= 10n ** BigInt(-k);
  return lhs === rhs;
}

/** Quoted text of the text form: "h\u{e9}llo". */
export function quoteText(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) {
      out += c === 0x22 ? '\\"' : c === 0x5c ? '\\\\' : s[i];
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    out += `\\u{${c.toString(16)}}`;
  }
  return out + '"';
}

const kIdent = /^[A-Za-z_][A-Za-z0-9_]*$/;
function nameText(s: string): string {
  return kIdent.test(s) ? s : quoteText(s);
}

// The generic walker: validates one value; appends its text to out unless null.
function walk(r: Reader, depth: number, out: { s: string } | null): void {
  const at = r.pos;
  const tag = readTag(r);
  switch (tag) {
    case 0x00:
      if (out) out.s += 'unit';
      return;
    case 0x01: {
      const b = readFlag(r, 'bool byte');
      if (out) out.s += b ? 'bool true' : 'bool false';
      return;
    }
    case 0x02: case 0x03: case 0x04: case 0x05: case 0x06: case 0x07:
    case 0x08: case 0x09: case 0x0a: case 0x0b: {
      const v = readNumber(r, tag as NumberTag);
      if (out) out.s += `${kWireNames[tag]} ${formatNumber(tag, v)}`;
      return;
    }
    case 0x0c: {
      if (out) out.s += 'string ' + quoteText(readText(r, 'string'));
      else skipText(r, 'string');
      return;
    }
    case 0x0d: {
      const n = readBlob(r, 'bytes');
      if (out) {
        const p = r.pos - n;
        let s = 'bytes [';
        for (let i = 0; i < n; i++) s += (i ? ' ' : '') + hex2(r.u8[p + i]!);
        out.s += s + ']';
      }
      return;
    }
    case 0x0e: {
      enterDec(r, at, depth);
      const count = readCount(r, 'array count', 1);
      if (out) out.s += 'array [';
      for (let i = 0; i < count; i++) {
        if (out && i) out.s += ', ';
        walk(r, depth + 1, out);
      }
      if (out) out.s += ']';
      return;
    }
    case 0x0f: {
      const p = r.pos;
      if (p >= r.end) needFail(r, 1, 'packed element tag', '');
      const elem = r.u8[p]!;
      if (!isNumberTag(elem)) throw deserErr(`packed element tag 0x${hex2(elem)} at offset ${p - r.base} is not a number type (0x02..0x0b)`);
      r.pos = p + 1;
      const size = numberSize(elem);
      const count = readCount(r, 'packed count', size);
      const data = r.pos;
      r.pos = data + count * size;
      if (out) {
        let s = `${kWireNames[elem]}[] [`;
        for (let i = 0; i < count; i++) s += (i ? ', ' : '') + formatNumber(elem, readRaw(r.u8, elem, data + i * size));
        out.s += s + ']';
      }
      return;
    }
    case 0x10: {
      enterDec(r, at, depth);
      const present = readFlag(r, 'optional flag');
      if (!present) {
        if (out) out.s += 'none';
        return;
      }
      if (out) out.s += 'some(';
      walk(r, depth + 1, out);
      if (out) out.s += ')';
      return;
    }
    case 0x11: {
      enterDec(r, at, depth);
      const index = readU32(r, 'variant index', '');
      if (out) out.s += `variant ${index}(`;
      walk(r, depth + 1, out);
      if (out) out.s += ')';
      return;
    }
    case 0x12: {
      enterDec(r, at, depth);
      const count = readCount(r, 'map count', 2);
      if (out) out.s += 'map {';
      for (let i = 0; i < count; i++) {
        if (out && i) out.s += ', ';
        walk(r, depth + 1, out);
        if (out) out.s += ': ';
        walk(r, depth + 1, out);
      }
      if (out) out.s += '}';
      return;
    }
    case 0x13: {
      enterDec(r, at, depth);
      const name = out ? readName(r, 'struct name') : skipName(r, 'struct name');
      const count = readFieldCount(r);
      if (out) out.s += `struct ${nameText(name)} {`;
      for (let i = 0; i < count; i++) {
        const field = out ? readName(r, 'field name') : skipName(r, 'field name');
        if (out) out.s += `${i ? ', ' : ''}${nameText(field)}: `;
        walk(r, depth + 1, out);
      }
      if (out) out.s += '}';
      return;
    }
    case 0x14: {
      const kind = readErrorKind(r);
      if (out) {
        const message = readText(r, 'error message');
        const origin = readText(r, 'error origin');
        out.s += `error ${kindName(kind)}(${quoteText(message)}, ${quoteText(origin)}`;
        if (kind === ErrorKind.TypeMismatch) {
          const expected = readText(r, 'error expected type');
          const actual = readText(r, 'error actual type');
          out.s += `, ${quoteText(expected)}, ${quoteText(actual)}`;
        }
        out.s += ')';
      } else {
        skipText(r, 'error message');
        skipText(r, 'error origin');
        if (kind === ErrorKind.TypeMismatch) {
          skipText(r, 'error expected type');
          skipText(r, 'error actual type');
        }
      }
      return;
    }
    default:
      unknownTag(r, tag, at);
  }
}

function skipText(r: Reader, what: string): void {
  const at = r.pos;
  const n = readBlob(r, what);
  checkUtf8(r, at, at + 4, n, what);
}

function skipName(r: Reader, what: string): string {
  const at = r.pos;
  if (at >= r.end) needFail(r, 1, what, ' length');
  const n = r.u8[at]!;
  r.pos = at + 1;
  if (r.pos + n > r.end) needFail(r, n, what, '');
  r.pos += n;
  checkUtf8(r, at, at + 1, n, what);
  return '';
}

// ---------------------------------------------------------------------------
// JavaScript descriptions (for messages): "string", "number 1.5", "array of 3"

/** A short description of a JavaScript value for error messages: `number 1.5`, `array of 3`, `Int32Array of 2`. */
export function describeJs(v: unknown): string {
  switch (typeof v) {
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof v} ${String(v)}`;
    case 'string':
      return 'string';
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return 'symbol';
    case 'function':
      return 'function';
  }
  if (v === null) return 'null';
  if (v === NONE) return 'NONE';
  if (v instanceof Typed) return `${wireName(v.tag)} ${String(v.value)}`;
  if (Array.isArray(v)) return `array of ${v.length}`;
  if (ArrayBuffer.isView(v)) {
    const name = (v as unknown as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] ?? 'DataView';
    const len = (v as unknown as { length?: number }).length;
    return len === undefined ? `${name} of ${v.byteLength} bytes` : `${name} of ${len}`;
  }
  if (v instanceof Map) return `Map of ${v.size}`;
  if (v instanceof Some) return 'some';
  if (v instanceof Variant) return `variant ${v.index}`;
  if (v instanceof FerryError) return `error ${kindName(v.kind)}`;
  if (v instanceof Error) return 'Error';
  const name = (v as Record<symbol, unknown>)[STRUCT_NAME];
  if (typeof name === 'string') return `struct ${name}`;
  const ctor = (v as { constructor?: { name?: unknown } }).constructor;
  const cname = ctor && typeof ctor.name === 'string' ? ctor.name : '';
  return cname && cname !== 'Object' ? cname : 'object';
}
