// UTF-8 without TextEncoder/TextDecoder where hand-written code is cheaper
// (short strings, shared memory), and the strict validation rules of
// core/codec.hpp find_invalid_utf8.

import { SerializationError } from '../errors.js';
import { isShared, kScratchKeep, serErr } from './common.js';

/** @internal */
export const kEncoder = new TextEncoder();
const kDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
// Strings up to this many UTF-16 units (encode) or bytes (decode) are coded
// by hand: cheaper than a call into TextEncoder/TextDecoder.
export const kShortText = 24;
// Into shared memory (a ring slot, wasm memory) TextEncoder cannot write in
// place: longer text is encoded into ordinary memory and copied. Up to this
// many units the hand-written loop is cheaper (measured in Node 20, a
// stream's trySend per value: 32 units 204 ns by hand, 345 ns encoded and
// copied; 64 units 360 and 322 ns; 128 units 584 and 366 ns).
export const kShortSharedText = 48;
let decodeScratch = new Uint8Array(256); // TextDecoder may refuse shared memory: copy first
let encodeScratch = new Uint8Array(256); // TextEncoder cannot write into shared memory: encode here first

// `scratch` if it holds n bytes, else a larger one (at most kScratchKeep; n must not exceed it).
function scratchFor(scratch: Uint8Array<ArrayBuffer>, n: number): Uint8Array<ArrayBuffer> {
  return scratch.length >= n ? scratch : new Uint8Array(Math.min(kScratchKeep, Math.max(n, 2 * scratch.length)));
}

const hasIsWellFormed = typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function';

/** @internal index of the first lone surrogate in s, or -1. */
export function loneSurrogate(s: string): number {
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

/** @internal */
export function loneSurrogateErr(s: string, at: number, what: string): SerializationError {
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

// Offset (from start) of the first byte that starts an invalid UTF-8 sequence
// in u8[start, end), or -1. Same rules as core/codec.hpp find_invalid_utf8.
/** @internal */
export function findInvalidUtf8(u8: Uint8Array, start: number, end: number): number {
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

// ASCII text up to this many bytes is made 8 units per String.fromCharCode
// call, after one pass that checks that no byte has its high bit set.
// Measured in Node 20 from shared memory, the string's middle read so that
// it is flattened: 32 bytes 215 ns (copy + TextDecoder 352 ns, one unit per
// call 583 ns), 16 bytes 133 ns (TextDecoder 391, by hand 365), 64 bytes
// 324 ns (TextDecoder 359): about even there.
const kAsciiText = 48;

/** @internal the string of the n UTF-8 bytes at u8[data]; null when they are not valid UTF-8. */
export function decodeUtf8(u8: Uint8Array, data: number, n: number): string | null {
  if (n <= kAsciiText) {
    const s = decodeAscii(u8, data, data + n);
    if (s !== null) return s;
  }
  return n <= kShortText ? decodeShortUtf8(u8, data, data + n) : decodeLongUtf8(u8, data, n);
}

// u8[i, end) as a string if every byte is ASCII, else null.
function decodeAscii(u8: Uint8Array, i: number, end: number): string | null {
  let any = 0;
  for (let k = i; k < end; k++) any |= u8[k]!;
  if (any & 0x80) return null;
  let s = '';
  for (; i + 8 <= end; i += 8) {
    s += String.fromCharCode(u8[i]!, u8[i + 1]!, u8[i + 2]!, u8[i + 3]!, u8[i + 4]!, u8[i + 5]!, u8[i + 6]!, u8[i + 7]!);
  }
  for (; i < end; i++) s += String.fromCharCode(u8[i]!);
  return s;
}

/** @internal decodes short UTF-8 by hand; null when invalid. */
export function decodeShortUtf8(u8: Uint8Array, i: number, end: number): string | null {
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

/** @internal the UTF-8 of s (well formed) in ordinary memory, to be copied into shared memory: valid until the next call. */
export function encodeForCopy(s: string): Uint8Array {
  const worst = 3 * s.length;
  if (worst > kScratchKeep) return kEncoder.encode(s); // too big to keep around
  encodeScratch = scratchFor(encodeScratch, worst);
  return encodeScratch.subarray(0, kEncoder.encodeInto(s, encodeScratch).written);
}

/** @internal the string of the n UTF-8 bytes at u8[data] (past kShortText: TextDecoder); null when they are not valid UTF-8. */
export function decodeLongUtf8(u8: Uint8Array, data: number, n: number): string | null {
  let src = u8.subarray(data, data + n);
  if (isShared(u8)) {
    if (n > kScratchKeep) {
      src = src.slice(); // too big to keep around
    } else {
      decodeScratch = scratchFor(decodeScratch, n);
      decodeScratch.set(src);
      src = decodeScratch.subarray(0, n);
    }
  }
  try {
    return kDecoder.decode(src);
  } catch {
    return null;
  }
}
