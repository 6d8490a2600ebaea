// Reader, and the read* primitives that check and read one wire value (or a
// value's header): what the generic decoder (decode.ts), the text form
// (text.ts) and the schema decoder (src/schema/decode.ts) are built from.

import { DeserializationError, ErrorKind, FerryError, InvalidArgumentError, ferryError, isErrorKind } from '../errors.js';
import { countBytes, deserErr, hex2, kEmptyU8, kLittleEndian, kOrigin, u16At, u32At } from './common.js';
import { kScratchU64, readRaw, toScratch } from './numbers.js';
import { Tag, isNumberTag, kMaxDepth, numberSize, wireName, type NumberTag } from './tags.js';
import { decodeUtf8, findInvalidUtf8 } from './utf8.js';
import { describeJs } from './values.js';

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

/** @internal Deserialization "<what><suffix> at offset P needs N bytes but R remain". */
export function needFail(r: Reader, n: number, what: string, suffix: string): never {
  const rem = r.end - r.pos;
  throw deserErr(`${what}${suffix} at offset ${r.pos - r.base} needs ${countBytes(n)} but ${countBytes(rem)} ${rem === 1 ? 'remains' : 'remain'}`);
}

// The text of n bytes at absolute `data`; `at` is where the field began (for messages).
function textAt(r: Reader, at: number, data: number, n: number, what: string): string {
  const s = decodeUtf8(r.u8, data, n);
  if (s === null) throw invalidUtf8(r, at, data, findInvalidUtf8(r.u8, data, data + n), what);
  return s;
}

// Deserialization unless the n bytes at absolute `data` are valid UTF-8.
function checkUtf8(r: Reader, at: number, data: number, n: number, what: string): void {
  const bad = findInvalidUtf8(r.u8, data, data + n);
  if (bad >= 0) throw invalidUtf8(r, at, data, bad, what);
}

function invalidUtf8(r: Reader, at: number, data: number, bad: number, what: string): DeserializationError {
  return deserErr(`${what} at offset ${at - r.base} is not valid UTF-8 (byte 0x${hex2(r.u8[data + bad]!)} at offset ${data + bad - r.base})`);
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

/**
 * @internal the u32 length of a schema form (its tag read) and its bytes,
 * which start with the 4-byte fingerprint; returns the length, r.pos is past them.
 */
export function readSchemaForm(r: Reader): number {
  const at = r.pos;
  const n = readBlob(r, 'schema form');
  if (n < 4) throw deserErr(`schema form length ${n} at offset ${at - r.base} is less than the 4 bytes of its fingerprint`);
  return n;
}

/** @internal u32 length + strict UTF-8. */
export function readText(r: Reader, what: string): string {
  const at = r.pos;
  const n = readBlob(r, what);
  return textAt(r, at, at + 4, n, what);
}

/** @internal moves past a u32 length + strict UTF-8 without making the string. */
export function skipText(r: Reader, what: string): void {
  const at = r.pos;
  const n = readBlob(r, what);
  checkUtf8(r, at, at + 4, n, what);
}

/** @internal u8 length + strict UTF-8 (struct and field names); `at` is the length byte. */
export function readName(r: Reader, what: string): string {
  const at = nameBytes(r, what);
  return textAt(r, at, at + 1, r.pos - at - 1, what);
}

/** @internal moves past a u8 length + strict UTF-8 without making the string; returns ''. */
export function skipName(r: Reader, what: string): string {
  const at = nameBytes(r, what);
  checkUtf8(r, at, at + 1, r.pos - at - 1, what);
  return '';
}

/** @internal moves past the u8 length and the bytes of a name, unchecked; returns where it began. */
export function nameBytes(r: Reader, what: string): number {
  const at = r.pos;
  if (at >= r.end) needFail(r, 1, what, ' length');
  const n = r.u8[at]!;
  r.pos = at + 1;
  if (r.pos + n > r.end) needFail(r, n, what, '');
  r.pos += n;
  return at;
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

/** @internal the element tag of a packed value (its tag already read), checked but not consumed. */
export function peekPackedElem(r: Reader): NumberTag {
  const p = r.pos;
  if (p >= r.end) needFail(r, 1, 'packed element tag', '');
  const elem = r.u8[p]!;
  if (!isNumberTag(elem)) throw deserErr(`packed element tag 0x${hex2(elem)} at offset ${p - r.base} is not a number type (0x02..0x0b)`);
  return elem;
}

/** @internal moves past the payload of a packed value (tag already read); returns where its elements start. */
export function skipPacked(r: Reader): number {
  const elem = peekPackedElem(r);
  r.pos++;
  const size = numberSize(elem);
  const count = readCount(r, 'packed count', size);
  const at = r.pos;
  r.pos = at + count * size;
  return at;
}

/** @internal the payload of a packed value (tag already read) as a typed array copy. */
export function readPacked(r: Reader): ArrayBufferView {
  const at = skipPacked(r);
  const elem = r.u8[at - 5]! as NumberTag; // the element tag, then the u32 count
  return packedCopy(r, elem, at, (r.pos - at) / numberSize(elem));
}

/** @internal u32 count, then that many raw `elem` numbers (a packed value's bare form), as a typed array copy. */
export function readPackedOf(r: Reader, elem: NumberTag): ArrayBufferView {
  const size = numberSize(elem);
  const count = readCount(r, 'packed count', size);
  const at = r.pos;
  r.pos = at + count * size;
  return packedCopy(r, elem, at, count);
}

function packedCopy(r: Reader, elem: number, at: number, count: number): ArrayBufferView {
  let out: ArrayBufferView & { length: number };
  switch (elem) {
    case Tag.I8: out = new Int8Array(count); break;
    case Tag.U8: out = new Uint8ClampedArray(count); break;
    case Tag.I16: out = new Int16Array(count); break;
    case Tag.U16: out = new Uint16Array(count); break;
    case Tag.I32: out = new Int32Array(count); break;
    case Tag.U32: out = new Uint32Array(count); break;
    case Tag.I64: out = new BigInt64Array(count); break;
    case Tag.U64: out = new BigUint64Array(count); break;
    case Tag.F32: out = new Float32Array(count); break;
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

let scratchReader: Reader | null = new Reader(kEmptyU8);

/** @internal the shared Reader (or a new one when it is lent out); pair with releaseReader. */
export function takeReader(): Reader {
  const r = scratchReader ?? new Reader(kEmptyU8);
  scratchReader = null;
  return r;
}


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
