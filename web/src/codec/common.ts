// What every part of the codec shares: error constructors, the overflow
// signal of fixed writers, platform facts and little-endian byte accessors.

import { DeserializationError, SerializationError } from '../errors.js';

/** @internal the origin of every codec error. */
export const kOrigin = 'web/codec';

/** @internal "1 byte", "3 bytes". */
export function countBytes(n: number): string {
  return n === 1 ? '1 byte' : `${n} bytes`;
}
/** @internal two lowercase hex digits. */
export function hex2(b: number): string {
  return (b < 16 ? '0' : '') + b.toString(16);
}
/** @internal */
export function serErr(message: string): SerializationError {
  return new SerializationError(message, kOrigin);
}
/** @internal */
export function deserErr(message: string): DeserializationError {
  return new DeserializationError(message, kOrigin);
}

// Thrown (and caught in encodeInto) when a fixed writer runs out of room; not
// an Error, so that it captures no stack.
export const kOverflow = { overflow: true };

export const kLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
export const kHasSab = typeof SharedArrayBuffer !== 'undefined';

const kEmptyBuffer = new ArrayBuffer(0);
export const kEmptyU8 = new Uint8Array(kEmptyBuffer);
export const kEmptyDv = new DataView(kEmptyBuffer);

/** @internal little-endian u16 at `at`. */
export function u16At(u8: Uint8Array, at: number): number {
  return u8[at]! | (u8[at + 1]! << 8);
}
/** @internal little-endian u32 at `at`. */
export function u32At(u8: Uint8Array, at: number): number {
  return (u8[at]! | (u8[at + 1]! << 8) | (u8[at + 2]! << 16) | (u8[at + 3]! << 24)) >>> 0;
}

/** @internal true when u8 views a SharedArrayBuffer. */
export function isShared(u8: Uint8Array): boolean {
  return isSharedBuffer(u8.buffer);
}

/** @internal isShared() for a buffer already at hand (a view's .buffer costs a look each time). */
export function isSharedBuffer(b: ArrayBufferLike): boolean {
  return kHasSab && b instanceof SharedArrayBuffer;
}

/** An ArrayBuffer or a SharedArrayBuffer (a bytes value). */
export function isRawBuffer(v: unknown): v is ArrayBuffer | SharedArrayBuffer {
  return v instanceof ArrayBuffer || (kHasSab && v instanceof SharedArrayBuffer);
}

// Scratch buffers (a writer's, the UTF-8 decoder's) never grow past this.
export const kScratchKeep = 1 << 20;
