// The pool protocol: every record that crosses a worker's request and
// response rings, in one place (web/PROTOCOL.md is its specification;
// workers/protocol.hpp its C++ twin, with the same tags and layouts).
//
// Request ring (pool -> worker):
//   RequestTag.Call    u64 id, u16 name length n, n bytes name, arguments (one codec array)
//   RequestTag.Cancel  u64 id
//   RequestTag.Stream  u64 id, u64 in ring, u64 out ring, u64 keepalive, u16 n, name, arguments
// Response ring (worker -> pool):
//   ResponseTag.Result u64 id, one codec value (the result, or an error value)
//   ResponseTag.Crash  one codec string: why a C++ worker died
// Stream rings carry value records (stream/STREAMS.md), tag kValueTag in stream.ts.

import { decodeRange } from './codec.js';
import { putU64 } from './stream.js';

export const RequestTag = { Call: 1, Cancel: 2, Stream: 3 } as const;
export const ResponseTag = { Result: 1, Crash: 2 } as const;

/** Bytes before the name: id, name length. */
export const kCallHeaderBytes = 10;
/** Bytes before the name: id, in ring, out ring, keepalive, name length. */
export const kStreamHeaderBytes = 34;
export const kCancelBytes = 8;

/** Writes a call record's header (the name follows at kCallHeaderBytes). */
export function putCallHeader(h: Uint8Array, id: number, nameLength: number): void {
  putU64(h, 0, id);
  h[8] = nameLength;
  h[9] = nameLength >>> 8;
}

/** Writes a stream record's header (the name follows at kStreamHeaderBytes). */
export function putStreamHeader(h: Uint8Array, id: number, inRing: number, outRing: number, nameLength: number): void {
  putU64(h, 0, id);
  putU64(h, 8, inRing);
  putU64(h, 16, outRing);
  putU64(h, 24, 0); // keepalive: only C++ callers use it
  h[32] = nameLength;
  h[33] = nameLength >>> 8;
}

export function cancelRecord(id: number): Uint8Array {
  const b = new Uint8Array(kCancelBytes);
  putU64(b, 0, id);
  return b;
}

/** The name length of a call (at = kCallHeaderBytes - 2) or stream (kStreamHeaderBytes - 2) header. */
export function nameLengthAt(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

/** A crash record's reason; a record that is not one codec string says so. */
export function crashReason(bytes: Uint8Array, at: number, len: number): string {
  try {
    const v = decodeRange(bytes, at, at + len);
    if (typeof v === 'string') return v;
  } catch {
    // not a string: say so below
  }
  return 'its rings were aborted (with an unreadable reason)';
}
