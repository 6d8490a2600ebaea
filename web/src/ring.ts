// ferry web: the TypeScript twin of core/ring.hpp — a single-producer
// single-consumer byte ring in a SharedArrayBuffer (or wasm linear memory).
//
// This file is the ring's surface and its whole-ring functions (format, set
// the bells, abort); ring/ holds the rest, named after the C++ twin's parts:
// ring/layout.ts the byte layout (core/RING.md), ring/words.ts the shared
// words (checks, bells, eventcount wait), ring/producer.ts and
// ring/consumer.ts the two endpoints (core/detail/ring_endpoints.hpp). The
// build makes them one module again, dist/ring.js.
//
// Guarantees:
// - One RingProducer and one RingConsumer per ring (attach refuses a second).
// - try* calls never wait and never throw for "full" or "empty": they return
//   null/false. They throw FerryError for what retrying cannot fix.
// - waitFor*() never blocks the thread: a short spin, then Atomics.waitAsync
//   (a setTimeout poll where that is missing). waitFor*Sync() blocks with
//   Atomics.wait and throws InvalidArgument where that is not allowed. Both
//   return true when trying again makes sense (it may still throw: closed,
//   aborted), false when `timeoutMs` passed first. timeoutMs omitted or
//   Infinity: no limit; 0 or less: check once, never park. A wait with a
//   finite timeout keeps Node's event loop alive until it settles; one
//   without relies on the other side (a live Worker) to do so.
// - A side that keeps up never calls Atomics.notify: the other side notifies
//   only if this side has raised its parked flag (eventcount, RING.md).
import { F, RING, W, ringBytes, type RingBuffer } from './ring/layout.js';
import { bellIndex, checkPlace, checkRing, invalid, isPowerOfTwo, ring, wordsOf } from './ring/words.js';

export { RING, recordBytes, ringBytes, type RingBuffer } from './ring/layout.js';
export { canBlock } from './ring/words.js';
export { RingProducer } from './ring/producer.js';
export { RingConsumer, type RingRecord } from './ring/consumer.js';

/**
 * Formats `ringBytes(capacity)` bytes at `byteOffset` (a multiple of 64) as
 * an empty ring. capacity: a power of two in [64, 2^30]. The data area is
 * left as it is.
 */
export function ringInit(buffer: RingBuffer, byteOffset: number, capacity: number): void {
  checkPlace(buffer, byteOffset);
  if (capacity < RING.MIN_CAPACITY || capacity > RING.MAX_CAPACITY || !isPowerOfTwo(capacity)) {
    throw invalid(`ring capacity ${capacity} must be a power of two between 64 and 2^30 bytes`);
  }
  if (byteOffset + ringBytes(capacity) > buffer.byteLength) {
    throw invalid(`a ring of capacity ${capacity} needs ${ringBytes(capacity)} bytes at byte offset ${byteOffset}, but the buffer has ${buffer.byteLength}`);
  }
  const w = wordsOf(buffer);
  const base = byteOffset >>> 2;
  for (let i = 0; i < RING.HEADER_BYTES >> 2; ++i) Atomics.store(w, base + i, 0);
  Atomics.store(w, base + W.version, RING.VERSION);
  Atomics.store(w, base + W.capacity, capacity);
  Atomics.store(w, base + W.dataBell, RING.offsets.dataSeq);
  Atomics.store(w, base + W.spaceBell, RING.offsets.spaceSeq);
  // Last: publishes the fields above to whoever attaches (pairs with checkRing).
  Atomics.store(w, base + W.magic, RING.MAGIC);
}

/**
 * Points the ring's bells at other words of the same buffer (absolute byte
 * offsets, 4-byte aligned), e.g. an executor's doorbell serving many rings;
 * null keeps the ring's own word. Stored relative to the ring base. Call it
 * before either side attaches.
 */
export function ringSetBells(
  buffer: RingBuffer,
  byteOffset: number,
  dataBellByteOffset: number | null,
  spaceBellByteOffset: number | null,
): void {
  checkRing(buffer, byteOffset);
  const w = wordsOf(buffer);
  const base = byteOffset >>> 2;
  if (Atomics.load(w, base + W.flags) & (F.producerAttached | F.consumerAttached)) {
    throw invalid('ring bells must be set before either side attaches');
  }
  const check = (bell: number | null, name: string): number | null => {
    if (bell === null) return null;
    const rel = bell - byteOffset;
    if (!Number.isSafeInteger(bell) || bell < 0 || bell % 4 !== 0 || bell + 4 > buffer.byteLength) {
      throw invalid(`the ${name} bell at byte offset ${bell} must be a 4-byte aligned word inside the buffer of ${buffer.byteLength} bytes`);
    }
    if (rel < -(2 ** 31) || rel > 2 ** 31 - 1) {
      throw invalid(`the ${name} bell is ${rel} bytes from the ring; it must be within 2 GiB`);
    }
    return rel;
  };
  const data = check(dataBellByteOffset, 'data');
  const space = check(spaceBellByteOffset, 'space');
  if (data !== null) Atomics.store(w, base + W.dataBell, data);
  if (space !== null) Atomics.store(w, base + W.spaceBell, space);
}

function checkReason(kind: number, what: string): void {
  if (!Number.isInteger(kind) || kind < 1 || kind > 255) throw invalid(`${what} ${kind} must be an ErrorKind number`);
}

/**
 * Ends both directions from outside the endpoints (one side's thread died):
 * the consumer still reads what was published, then both sides get an error
 * of kind `kind` (an ErrorKind number, e.g. 9 WorkerCrashed) where a normal
 * close gives Closed.
 */
export function ringAbort(buffer: RingBuffer, byteOffset: number, kind: number): void {
  checkPlace(buffer, byteOffset);
  checkReason(kind, 'abort reason');
  const w = wordsOf(buffer);
  const base = byteOffset >>> 2;
  const dataBell = bellIndex(buffer, byteOffset, W.dataBell, 'data'); // checked before anything changes
  const spaceBell = bellIndex(buffer, byteOffset, W.spaceBell, 'space');
  Atomics.store(w, base + W.closeReason, kind);
  // seq_cst (release): whoever sees the closed bits also sees the reason.
  Atomics.or(w, base + W.flags, F.producerClosed | F.consumerClosed);
  ring(w, dataBell);
  ring(w, spaceBell);
}

/**
 * Says why the ring will end, before a side closes it normally (core/RING.md
 * "A reason before a close"; ring_set_close_reason is the C++ twin): stored
 * only while no reason is, and published by the close that follows. A stream
 * whose task failed closes its rings so: the reader drains what was
 * published, then both sides get an error of kind `kind` instead of Closed.
 */
export function ringSetCloseReason(buffer: RingBuffer, byteOffset: number, kind: number): void {
  checkPlace(buffer, byteOffset);
  checkReason(kind, 'close reason');
  // seq_cst like every Atomics operation; the close after it (an Atomics.or
  // on the flags) is what publishes it to a side that sees the ring closed.
  Atomics.compareExchange(wordsOf(buffer), (byteOffset >>> 2) + W.closeReason, 0, kind);
}

/** 0, or the ErrorKind number the ring was aborted with. */
export function ringCloseReason(buffer: RingBuffer, byteOffset: number): number {
  checkPlace(buffer, byteOffset);
  return Atomics.load(wordsOf(buffer), (byteOffset >>> 2) + W.closeReason) >>> 0;
}
