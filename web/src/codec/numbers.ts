// Number types on the wire: the ranges an encoder checks, and the raw
// little-endian payload bytes of one number (for packed elements too).

import { SerializationError } from '../errors.js';
import { kLittleEndian, serErr, u16At, u32At } from './common.js';
import { Tag, wireName } from './tags.js';
import { describeJs } from './values.js';

// Readers read multi-byte numbers from the input's bytes directly (a DataView
// would need the input's ArrayBuffer, which costs more than the whole decode
// of a small on-heap Uint8Array): integers by shifts, floats and 64-bit
// integers through this 8-byte scratch.
const kScratch = new ArrayBuffer(8);
const kScratchU8 = new Uint8Array(kScratch);
const kScratchF32 = new Float32Array(kScratch);
export const kScratchF64 = new Float64Array(kScratch);
const kScratchI64 = new BigInt64Array(kScratch);
export const kScratchU64 = new BigUint64Array(kScratch);

/** @internal copies n little-endian bytes at u8[at] into the scratch, in platform order. */
export function toScratch(u8: Uint8Array, at: number, n: number): void {
  if (kLittleEndian) for (let i = 0; i < n; i++) kScratchU8[i] = u8[at + i]!;
  else for (let i = 0; i < n; i++) kScratchU8[n - 1 - i] = u8[at + i]!;
}

/** @internal ranges of the integer tags up to u32, indexed by tag. */
export const kIntLo = [0, 0, -128, 0, -32768, 0, -2147483648, 0];
export const kIntHi = [0, 0, 127, 255, 32767, 65535, 2147483647, 4294967295];
export const kI64Lo = -(1n << 63n);
export const kI64Hi = (1n << 63n) - 1n;
export const kU64Hi = (1n << 64n) - 1n;
export const kU32Max = 0xffffffff;

/** @internal Serialization for a value outside number tag `tag`. */
export function badNumber(tag: number, v: unknown): SerializationError {
  const name = wireName(tag);
  let range: string;
  if (tag === Tag.I64) range = `${kI64Lo}..${kI64Hi}`;
  else if (tag === Tag.U64) range = `0..${kU64Hi}`;
  else range = `${kIntLo[tag]}..${kIntHi[tag]}`;
  const what = typeof v === 'number' || typeof v === 'bigint' ? String(v) : describeJs(v);
  return serErr(`${name} value ${what} is not an integer in ${range}`);
}

/** @internal v as an integer of tag I8..U32, or Serialization. */
export function intOf(tag: number, v: unknown): number {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= kIntLo[tag]! && v <= kIntHi[tag]!) return v;
  } else if (typeof v === 'bigint') {
    const n = Number(v);
    if (n >= kIntLo[tag]! && n <= kIntHi[tag]!) return n;
  }
  throw badNumber(tag, v);
}

/** @internal v as an integer of tag I64 or U64, or Serialization. */
export function bigOf(tag: number, v: unknown): bigint {
  if (typeof v === 'bigint') {
    if (tag === Tag.I64 ? v >= kI64Lo && v <= kI64Hi : v >= 0n && v <= kU64Hi) return v;
  } else if (typeof v === 'number' && Number.isSafeInteger(v) && (tag === Tag.I64 || v >= 0)) {
    return BigInt(v);
  }
  throw badNumber(tag, v);
}

/** @internal one element of packed type `elem` at absolute `at`, little-endian. */
export function writeRaw(dv: DataView, elem: number, at: number, x: number | bigint): void {
  switch (elem) {
    case Tag.I8: dv.setInt8(at, x as number); break;
    case Tag.U8: dv.setUint8(at, x as number); break;
    case Tag.I16: dv.setInt16(at, x as number, true); break;
    case Tag.U16: dv.setUint16(at, x as number, true); break;
    case Tag.I32: dv.setInt32(at, x as number, true); break;
    case Tag.U32: dv.setUint32(at, x as number, true); break;
    case Tag.I64: dv.setBigInt64(at, x as bigint, true); break;
    case Tag.U64: dv.setBigUint64(at, x as bigint, true); break;
    case Tag.F32: dv.setFloat32(at, x as number, true); break;
    default: dv.setFloat64(at, x as number, true); break;
  }
}

/** @internal the element of packed type `elem` at absolute `at`. */
export function readRaw(u8: Uint8Array, elem: number, at: number): number | bigint {
  switch (elem) {
    case Tag.I8: return (u8[at]! << 24) >> 24;
    case Tag.U8: return u8[at]!;
    case Tag.I16: return (u16At(u8, at) << 16) >> 16;
    case Tag.U16: return u16At(u8, at);
    case Tag.I32: return u32At(u8, at) | 0;
    case Tag.U32: return u32At(u8, at);
    case Tag.I64: toScratch(u8, at, 8); return kScratchI64[0]!;
    case Tag.U64: toScratch(u8, at, 8); return kScratchU64[0]!;
    case Tag.F32: toScratch(u8, at, 4); return kScratchF32[0]!;
    default: toScratch(u8, at, 8); return kScratchF64[0]!;
  }
}
