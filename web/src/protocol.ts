// The pool protocol: every record that crosses a worker's request and
// response rings, in one place (web/PROTOCOL.md is its specification;
// workers/protocol.hpp its C++ twin, with the same tags and layouts).
//
// Request ring (pool -> worker):
//   RequestTag.Call    u64 id, u16 name length n, n bytes name, arguments (one codec array)
//   RequestTag.Cancel  u64 id
//   RequestTag.Stream  u64 id, u64 in ring, u64 out ring, u64 keepalive, u16 n, name, arguments
//   RequestTag.Part    a part of a record too large for one ring record (below)
//   RequestTag.Block   u32 tag, u32 0, u64 length, u64 address: that record, out of band (blocks.ts)
// Response ring (worker -> pool):
//   ResponseTag.Result u64 id, one codec value (the result, or an error value)
//   ResponseTag.Crash  one codec string: why a C++ worker died
//   ResponseTag.Part   a part of a record too large for one ring record
//   ResponseTag.Block  as RequestTag.Block
// Stream rings carry value records and, for a value larger than one record,
// part records of their own form (PROTOCOL.md "Stream rings"); their tags
// are in stream/end.ts.
//
// Parts: a record larger than the ring's largest payload travels as
// consecutive part records (its producer writes nothing else in between).
// The first: u32 the whole record's tag, u32 0, u64 its length, then its
// first bytes; each later part: the next bytes. The consumer has the whole
// record once the parts add up to its length. At most kMaxPartedBytes.

import { decodeRange } from './codec.js';
import { CorruptRecordError, MessageTooLargeError } from './errors.js';

export const RequestTag = { Call: 1, Cancel: 2, Stream: 3, Part: 4, Block: 6 } as const;
export const ResponseTag = { Result: 1, Crash: 2, Part: 3, Block: 4 } as const;

// The records' u64 fields, little-endian (ids and ring offsets stay below
// 2^53), without a DataView.
export function putU64(b: Uint8Array, at: number, v: number): void {
  const lo = v >>> 0;
  const hi = Math.floor(v / 4294967296) >>> 0;
  b[at] = lo;
  b[at + 1] = lo >>> 8;
  b[at + 2] = lo >>> 16;
  b[at + 3] = lo >>> 24;
  b[at + 4] = hi;
  b[at + 5] = hi >>> 8;
  b[at + 6] = hi >>> 16;
  b[at + 7] = hi >>> 24;
}
export function getU64(b: Uint8Array, at: number): number {
  const lo = (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
  const hi = (b[at + 4]! | (b[at + 5]! << 8) | (b[at + 6]! << 16) | (b[at + 7]! << 24)) >>> 0;
  return hi * 4294967296 + lo;
}

/** Bytes before the first part's share: the whole record's tag, 0, its length. */
export const kPartHeaderBytes = 16;
/** The largest record that may travel in parts (1 GiB). */
export const kMaxPartedBytes = 2 ** 30;

/** The longest task name, in UTF-8 bytes (its length is a u16; workers/protocol.hpp's kMaxNameBytes). */
export const kMaxNameBytes = 0xffff;

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

/** The id of a call, cancel, stream or result record at b[at] (its first 8 bytes). */
export function recordId(b: Uint8Array, at: number): number {
  return getU64(b, at);
}

/**
 * The name length of the call or stream record at b[at], whose header has
 * `headerBytes` (kCallHeaderBytes or kStreamHeaderBytes; the length is its last two).
 */
export function nameLength(b: Uint8Array, at: number, headerBytes: number): number {
  const n = at + headerBytes - 2;
  return b[n]! | (b[n + 1]! << 8);
}

/** A stream record's in ring (the pool writes, the task reads): a byte offset, or a channel id over postMessage. */
export function streamInRing(b: Uint8Array, at: number): number {
  return getU64(b, at + 8);
}

/** A stream record's out ring (the task writes, the pool reads). */
export function streamOutRing(b: Uint8Array, at: number): number {
  return getU64(b, at + 16);
}

/** Bytes before a result record's value: the call's id. */
export const kResultHeaderBytes = 8;

/** Writes a result record's header (the value follows at kResultHeaderBytes). */
export function putResultHeader(h: Uint8Array, id: number): void {
  putU64(h, 0, id);
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

/** MessageTooLarge for a record over kMaxPartedBytes, which neither parts nor a block may carry. */
export function checkPartedSize(length: number): void {
  if (length > kMaxPartedBytes) {
    throw new MessageTooLargeError(`a record of ${length} bytes: more than the 1 GiB a record sent in parts or out of band may hold`, 'web/protocol');
  }
}

/** The header a first part and a block record start with: u32 the whole record's tag, u32 0, u64 its length. */
export function putWholeHeader(b: Uint8Array, tag: number, length: number): void {
  b[0] = tag;
  b[1] = tag >>> 8;
  b[2] = tag >>> 16;
  b[3] = tag >>> 24;
  putU64(b, 8, length);
}

export function readWholeHeader(b: Uint8Array, at: number): { tag: number; length: number } {
  return { tag: (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0, length: getU64(b, at + 8) };
}

/**
 * The part records of the record (tag, bytes) for a ring whose records carry
 * at most `maxPayload` bytes (views into `bytes`, except the first). Throws
 * MessageTooLarge above kMaxPartedBytes.
 */
export function splitParts(tag: number, bytes: Uint8Array, maxPayload: number): Uint8Array[] {
  checkPartedSize(bytes.length);
  const max = partBytes(maxPayload);
  const share = Math.min(bytes.length, max - kPartHeaderBytes);
  const first = new Uint8Array(kPartHeaderBytes + share);
  putWholeHeader(first, tag, bytes.length);
  first.set(bytes.subarray(0, share), kPartHeaderBytes);
  const parts: Uint8Array[] = [first];
  for (let at = share; at < bytes.length; at += max) parts.push(bytes.subarray(at, Math.min(bytes.length, at + max)));
  return parts;
}

/**
 * How large a part is: a quarter of the ring (record header included), so
 * the producer writes the next parts while the consumer copies the last one;
 * parts that filled the ring would make the two sides take turns.
 */
export function partBytes(maxPayload: number): number {
  return Math.max(kPartHeaderBytes + 8, ((maxPayload + 8) >>> 2) - 8);
}

/**
 * The bytes of one record or stream value sent in parts, put together as the
 * parts come (PartReader; stream/receiver.ts). It takes room for all of them
 * at once only up to kUpFrontBytes; past that the room grows with the bytes
 * that arrive (doubling, up to `length`), so that a broken sender's first part
 * announcing 1 GiB takes no more memory than it sends.
 */
export class Assembly {
  private bytes: Uint8Array;
  /** How many bytes are in. */
  filled = 0;

  /** @param length the bytes the first part announced (checked against kMaxPartedBytes by the caller) */
  constructor(readonly length: number) {
    this.bytes = new Uint8Array(Math.min(length, kUpFrontBytes));
  }

  /** Appends b; false (nothing taken) when it would run past `length`. */
  add(b: Uint8Array): boolean {
    const n = b.length;
    if (n > this.length - this.filled) return false;
    if (n > this.bytes.length - this.filled) {
      const room = new Uint8Array(Math.min(this.length, Math.max(this.filled + n, 2 * this.bytes.length)));
      room.set(this.bytes.subarray(0, this.filled));
      this.bytes = room;
    }
    this.bytes.set(b, this.filled);
    this.filled += n;
    return true;
  }

  /** The whole, once `filled` reached `length` (a buffer of its own, exactly that long); else null. */
  whole(): Uint8Array | null {
    return this.filled === this.length ? this.bytes : null;
  }
}

// Parts up to this many bytes get their room at the first part (Assembly).
const kUpFrontBytes = 16 << 20;

/** Puts a record sent in parts back together (workers/protocol.hpp's PartReader). */
export class PartReader {
  /** The whole record's tag, once add() returned it. */
  tag = 0;
  private parts: Assembly | null = null;

  /**
   * Reads the parts of one direction: `partTag` is its part record's tag
   * (RequestTag.Part or ResponseTag.Part), which a whole record never has.
   */
  constructor(private readonly partTag: number) {}

  /**
   * Takes the next part, b[at, at + len): the whole record once its last
   * part is in, else null. Throws CorruptRecord for a part that contradicts
   * the first (longer than what is left, a length over 1 GiB, a record that
   * would itself be a part).
   */
  add(b: Uint8Array, at: number, len: number): Uint8Array | null {
    if (this.parts === null) {
      if (len < kPartHeaderBytes) throw new CorruptRecordError(`a first part of ${len} bytes is shorter than its 16-byte header`, 'web/protocol');
      const { tag, length } = readWholeHeader(b, at);
      if (length > kMaxPartedBytes) throw new CorruptRecordError(`a first part announces ${length} bytes, more than 1 GiB`, 'web/protocol');
      if (tag === this.partTag) throw new CorruptRecordError(`a first part announces a record of parts (tag ${tag}): parts do not nest`, 'web/protocol');
      this.tag = tag;
      this.parts = new Assembly(length);
      at += kPartHeaderBytes;
      len -= kPartHeaderBytes;
    }
    const parts = this.parts;
    if (!parts.add(b.subarray(at, at + len))) {
      this.parts = null;
      throw new CorruptRecordError(`a part of ${len} bytes runs past the ${parts.length} bytes its record announced`, 'web/protocol');
    }
    const whole = parts.whole();
    if (whole !== null) this.parts = null;
    return whole;
  }

  /** Forgets a record half put together (its producer is gone). */
  reset(): void {
    this.parts = null;
  }
}
