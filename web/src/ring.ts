// ferry web: the TypeScript twin of core/ring.hpp — a single-producer
// single-consumer byte ring in a SharedArrayBuffer (or wasm linear memory).
//
// Layout (core/RING.md is the contract; the test compares these offsets with
// core/ring.hpp). A ring is 256 header bytes plus `capacity` data bytes at a
// 64-byte aligned byte offset of the buffer. u32 words, little-endian:
//
//    0 magic 0x474E5246   4 version 1   8 capacity   12 flags (bits: 1 producer
//   closed, 2 consumer closed, 4 producer attached, 8 consumer attached)
//   16 data bell, 20 space bell: i32 byte offsets from the ring base of the
//   words each side sleeps on (default 192 / 200; may lie outside the ring)
//   24 close_reason: 0, or the ErrorKind a ring abort ended the ring with
//   64 tail (producer)   128 head (consumer)   192 data_seq
//  196 consumer_parked  200 space_seq  204 producer_parked   256.. records
//
// A record is u32 length, u32 tag, then the payload padded to 8 bytes; it
// never wraps: a skip record (tag 0xFFFFFFFF) fills the end of the data area.
// head/tail are free-running byte counters, modulo 2^32.
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
//
// All shared words go through Atomics on one Int32Array over the buffer;
// Atomics operations are seq_cst, which covers every fence RING.md asks for.
// Record headers and payloads are plain memory, ordered by the tail/head
// stores that publish and release them.
import { ErrorKind, ferryError } from './errors.js';

const ORIGIN = 'web/ring';

export const RING = Object.freeze({
  MAGIC: 0x474e5246, // "FRNG" as bytes 46 52 4E 47
  VERSION: 1,
  HEADER_BYTES: 256,
  MIN_CAPACITY: 64,
  MAX_CAPACITY: 2 ** 30,
  SKIP_TAG: 0xffffffff,
  RECORD_HEADER_BYTES: 8,
  offsets: Object.freeze({
    magic: 0,
    version: 4,
    capacity: 8,
    flags: 12,
    dataBell: 16,
    spaceBell: 20,
    closeReason: 24,
    tail: 64,
    head: 128,
    dataSeq: 192,
    consumerParked: 196,
    spaceSeq: 200,
    producerParked: 204,
  } as const),
  flags: Object.freeze({ producerClosed: 1, consumerClosed: 2, producerAttached: 4, consumerAttached: 8 } as const),
} as const);

export type RingBuffer = SharedArrayBuffer | ArrayBuffer;

/** Bytes a ring of `capacity` data bytes needs: header plus data. */
export function ringBytes(capacity: number): number {
  return RING.HEADER_BYTES + capacity;
}

/** Bytes a record with `payloadLength` payload bytes occupies in the ring. */
export function recordBytes(payloadLength: number): number {
  return RING.RECORD_HEADER_BYTES + Math.ceil(payloadLength / 8) * 8;
}

// Word indices (byte offset / 4) of the header fields, relative to the base.
const W = {
  magic: RING.offsets.magic >> 2,
  version: RING.offsets.version >> 2,
  capacity: RING.offsets.capacity >> 2,
  flags: RING.offsets.flags >> 2,
  dataBell: RING.offsets.dataBell >> 2,
  spaceBell: RING.offsets.spaceBell >> 2,
  closeReason: RING.offsets.closeReason >> 2,
  tail: RING.offsets.tail >> 2,
  head: RING.offsets.head >> 2,
  consumerParked: RING.offsets.consumerParked >> 2,
  producerParked: RING.offsets.producerParked >> 2,
} as const;
const F = RING.flags;
const SKIP_TAG_I32 = RING.SKIP_TAG | 0; // -1: how the skip tag reads through an Int32Array

// Spins re-checking the condition before parking: a few microseconds, since
// the other side is often that close and a park/wake costs far more.
const SPINS_BEFORE_PARK = 128;
// Fallback poll (no Atomics.waitAsync, or a non-shared buffer): setTimeout
// delays 0, 1, 2, 4, ... up to this many milliseconds.
const POLL_MAX_DELAY_MS = 8;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// One Int32Array and one Uint8Array per buffer, shared by every ring in it.
const wordViews = new WeakMap<RingBuffer, Int32Array>();
const byteViews = new WeakMap<RingBuffer, Uint8Array>();
function wordsOf(buffer: RingBuffer): Int32Array {
  let w = wordViews.get(buffer);
  if (w === undefined) {
    w = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
    wordViews.set(buffer, w);
  }
  return w;
}
function bytesOf(buffer: RingBuffer): Uint8Array {
  let b = byteViews.get(buffer);
  if (b === undefined) {
    b = new Uint8Array(buffer);
    byteViews.set(buffer, b);
  }
  return b;
}

// By brand, not instanceof: buffers may come from another realm.
const brand = (x: unknown) => Object.prototype.toString.call(x);
function isShared(buffer: RingBuffer): boolean {
  return brand(buffer) === '[object SharedArrayBuffer]';
}

function invalid(message: string): Error {
  return ferryError(ErrorKind.InvalidArgument, message, ORIGIN);
}

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

// Checks that `buffer` can hold a ring header at `byteOffset`.
function checkPlace(buffer: RingBuffer, byteOffset: number): void {
  if (brand(buffer) !== '[object ArrayBuffer]' && !isShared(buffer)) {
    throw invalid('ring memory must be a SharedArrayBuffer or an ArrayBuffer');
  }
  if (!LITTLE_ENDIAN) throw invalid('the ferry ring needs a little-endian platform');
  if (!Number.isSafeInteger(byteOffset) || byteOffset < 0 || byteOffset % 64 !== 0) {
    throw invalid(`ring byte offset ${byteOffset} must be a non-negative multiple of 64`);
  }
  if (byteOffset + RING.HEADER_BYTES > buffer.byteLength) {
    throw invalid(`a ring header at byte offset ${byteOffset} does not fit in a buffer of ${buffer.byteLength} bytes`);
  }
}

// Checks magic, version and capacity of an initialised ring; returns capacity.
function checkRing(buffer: RingBuffer, byteOffset: number): number {
  checkPlace(buffer, byteOffset);
  const w = wordsOf(buffer);
  const base = byteOffset >>> 2;
  // seq_cst (acquire): pairs with ringInit's store of the magic word, after
  // which the other header fields are visible.
  if (Atomics.load(w, base + W.magic) >>> 0 !== RING.MAGIC) {
    throw invalid(`memory at byte offset ${byteOffset} does not hold a ferry ring (bad magic)`);
  }
  const version = Atomics.load(w, base + W.version) >>> 0;
  if (version !== RING.VERSION) {
    throw invalid(`ring layout version ${version} is not the supported ${RING.VERSION}`);
  }
  const capacity = Atomics.load(w, base + W.capacity) >>> 0;
  if (capacity < RING.MIN_CAPACITY || capacity > RING.MAX_CAPACITY || !isPowerOfTwo(capacity)) {
    throw invalid(`ring capacity ${capacity} must be a power of two between 64 and 2^30 bytes`);
  }
  if (byteOffset + ringBytes(capacity) > buffer.byteLength) {
    throw invalid(`a ring of capacity ${capacity} at byte offset ${byteOffset} does not fit in a buffer of ${buffer.byteLength} bytes`);
  }
  return capacity;
}

// The word index of a bell: the ring base plus the i32 offset in the field.
function bellIndex(buffer: RingBuffer, byteOffset: number, field: number, name: string): number {
  // Bells are set before either side attaches and never change afterwards.
  const rel = Atomics.load(wordsOf(buffer), (byteOffset >>> 2) + field); // i32: may be negative
  const at = byteOffset + rel;
  if (rel % 4 !== 0 || at < 0 || at + 4 > buffer.byteLength) {
    throw invalid(`the ${name} bell (${rel} bytes from the ring at ${byteOffset}) is not a word of the buffer`);
  }
  return at >>> 2;
}

// Sets `bit` in the flags word; false if it was already set.
function claim(w: Int32Array, base: number, bit: number): boolean {
  // seq_cst: claiming a role orders after the previous holder's release.
  return (Atomics.or(w, base + W.flags, bit) & bit) === 0;
}

// Bumps a bell and wakes everyone asleep on it. The add is the release that
// carries the waker's earlier stores to a waiter that reads the new value.
function ring(w: Int32Array, bell: number): void {
  Atomics.add(w, bell, 1);
  Atomics.notify(w, bell); // returns 0 on a non-shared buffer: nothing to wake
}

// The waking half of the eventcount, right after a tail/head store. seq_cst
// orders that store before this load of the flag (Dekker: pairs with the
// waiter's flag store then re-check). The exchange makes one wake per park.
function wakeIfParked(w: Int32Array, parked: number, bell: number): boolean {
  if (Atomics.load(w, parked) === 1 && Atomics.exchange(w, parked, 0) === 1) {
    ring(w, bell);
    return true;
  }
  return false;
}

// The error a closed ring reports: Closed, or the kind an abort gave.
function closedError(w: Int32Array, base: number, what: string): Error {
  const reason = Atomics.load(w, base + W.closeReason) >>> 0;
  const name = (ErrorKind as unknown as Record<number, string | undefined>)[reason];
  if (reason !== 0 && typeof name === 'string') {
    return ferryError(reason as ErrorKind, `the ring was aborted: ${name}`, ORIGIN);
  }
  return ferryError(ErrorKind.Closed, what, ORIGIN);
}

function deadlineOf(timeoutMs: number | undefined): number {
  if (timeoutMs === undefined || timeoutMs === Infinity) return Infinity;
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs)) {
    throw invalid(`timeout ${String(timeoutMs)} must be a number of milliseconds`);
  }
  return performance.now() + Math.max(0, timeoutMs);
}

let blockingAllowed: boolean | undefined;
/** Whether this thread may Atomics.wait (not on a browser's main thread). */
export function canBlock(): boolean {
  if (blockingAllowed === undefined) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0); // "not-equal" at once
      blockingAllowed = true;
    } catch {
      blockingAllowed = false;
    }
  }
  return blockingAllowed;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const RESOLVED: Promise<void> = Promise.resolve();

interface Waiter {
  w: Int32Array;
  parked: number; // word index of this side's parked flag
  bell: number; // word index of the bell this side sleeps on
  shared: boolean;
}

// The waiting half of the eventcount, without blocking the thread. Resolves
// true once ready() holds, false when the deadline passes first.
async function waitUntil(s: Waiter, deadline: number, ready: () => boolean): Promise<boolean> {
  for (let i = 0; i < SPINS_BEFORE_PARK; ++i) if (ready()) return true;
  const waitAsync = (Atomics as { waitAsync?: typeof Atomics.waitAsync }).waitAsync;
  if (!s.shared || typeof waitAsync !== 'function') return pollUntil(deadline, ready);
  const { w, parked, bell } = s;
  for (;;) {
    // seq_cst: a bell value bumped by a waker carries the waker's stores.
    const key = Atomics.load(w, bell);
    Atomics.store(w, parked, 1);
    // seq_cst: the flag store is ordered before the re-check (Dekker with
    // wakeIfParked): either we see the progress or the waker sees the flag
    // and bumps the bell, so the wait on `key` returns at once.
    if (ready()) {
      Atomics.store(w, parked, 0);
      return true;
    }
    const left = deadline - performance.now();
    if (left <= 0) {
      Atomics.store(w, parked, 0);
      return false;
    }
    const r = waitAsync(w, bell, key, left);
    if (r.async) await (left === Infinity ? r.value : withTimer(r.value, left));
    Atomics.store(w, parked, 0);
  }
}

// The same, blocking the thread in Atomics.wait.
function waitUntilSync(s: Waiter, deadline: number, ready: () => boolean, what: string, instead: string): boolean {
  if (!s.shared) {
    throw invalid(`cannot block waiting for ${what} in a non-shared ArrayBuffer (nobody else can change it); use ${instead}`);
  }
  if (!canBlock()) {
    throw invalid(`cannot block waiting for ${what} on the browser main thread; use ${instead}`);
  }
  for (let i = 0; i < SPINS_BEFORE_PARK; ++i) if (ready()) return true;
  const { w, parked, bell } = s;
  for (;;) {
    const key = Atomics.load(w, bell); // seq_cst, as in waitUntil
    Atomics.store(w, parked, 1);
    if (ready()) {
      Atomics.store(w, parked, 0);
      return true;
    }
    const left = deadline - performance.now();
    if (left <= 0) {
      Atomics.store(w, parked, 0);
      return false;
    }
    Atomics.wait(w, bell, key, left);
    Atomics.store(w, parked, 0);
  }
}

// Node does not count a pending Atomics.waitAsync as work (nodejs/node#61941):
// alone, it lets the process exit before the wait settles. A timer racing it
// keeps the event loop alive, so a wait with a timeout always settles.
function withTimer(wait: Promise<unknown>, ms: number): Promise<unknown> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void wait.then((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

// Fallback where nothing can wake us: poll with a growing setTimeout delay.
async function pollUntil(deadline: number, ready: () => boolean): Promise<boolean> {
  let delay = 0;
  for (;;) {
    if (ready()) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    await sleep(Math.min(delay, left));
    delay = delay === 0 ? 1 : Math.min(delay * 2, POLL_MAX_DELAY_MS);
  }
}

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

/**
 * Ends both directions from outside the endpoints (one side's thread died):
 * the consumer still reads what was published, then both sides get an error
 * of kind `kind` (an ErrorKind number, e.g. 9 WorkerCrashed) where a normal
 * close gives Closed.
 */
export function ringAbort(buffer: RingBuffer, byteOffset: number, kind: number): void {
  checkPlace(buffer, byteOffset);
  if (!Number.isInteger(kind) || kind < 1 || kind > 255) {
    throw invalid(`abort reason ${kind} must be an ErrorKind number`);
  }
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

/** 0, or the ErrorKind number the ring was aborted with. */
export function ringCloseReason(buffer: RingBuffer, byteOffset: number): number {
  checkPlace(buffer, byteOffset);
  return Atomics.load(wordsOf(buffer), (byteOffset >>> 2) + W.closeReason) >>> 0;
}

const enum State {
  Open,
  Closed, // this endpoint called close()
  Detached,
}

/**
 * The writing end. Reserve/commit (or tryWrite) many records, then publish()
 * once: one Atomics.store of tail, and one notify only if the consumer sleeps.
 * Used by one thread; at most one waitForSpace() at a time.
 */
export class RingProducer {
  readonly buffer: RingBuffer;
  readonly byteOffset: number;
  readonly capacity: number;
  /** Largest payload one record can carry: capacity - 8. */
  readonly maxPayload: number;

  /** The whole buffer as bytes (the view reserveAt()'s offsets index). */
  readonly bytes: Uint8Array;
  private readonly w: Int32Array;
  private readonly base: number; // word index of the ring base
  private readonly data: number; // byte offset (in buffer) of the data area
  private readonly mask: number;
  private readonly waiter: Waiter; // sleeps on the space bell
  private readonly dataBell: number; // word index of the consumer's bell
  private write: number; // local: end of the committed batch
  private published: number; // local: last tail stored
  private headCache: number; // local copy of the consumer's head
  private reservedLen = -1; // the open reservation, -1 for none
  private reservedTag = 0;
  private extendLen = -1; // the open extension (extendAt), -1 for none
  // The last record committed since the last publish, which extendAt may
  // grow: its header's write counter and payload length; -1 for none.
  private lastStart = -1;
  private lastLen = 0;
  private state = State.Open;
  /**
   * Called each time this producer rings the consumer's data bell: for a
   * consumer that cannot wait on the bell (no Atomics.waitAsync where it
   * runs) and listens for a message instead (RingConsumer.whenRung).
   */
  onRing: (() => void) | null = null;

  private constructor(buffer: RingBuffer, byteOffset: number, capacity: number, dataBell: number, spaceBell: number) {
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.capacity = capacity;
    this.maxPayload = capacity - RING.RECORD_HEADER_BYTES;
    this.w = wordsOf(buffer);
    this.bytes = bytesOf(buffer);
    this.base = byteOffset >>> 2;
    this.data = byteOffset + RING.HEADER_BYTES;
    this.mask = capacity - 1;
    this.waiter = { w: this.w, parked: this.base + W.producerParked, bell: spaceBell, shared: isShared(buffer) };
    this.dataBell = dataBell;
    this.write = Atomics.load(this.w, this.base + W.tail) >>> 0; // own counter
    this.published = this.write;
    this.headCache = Atomics.load(this.w, this.base + W.head) >>> 0;
  }

  /** Attaches to a ring made by ringInit(); InvalidArgument if it already has a producer. */
  static attach(buffer: RingBuffer, byteOffset: number): RingProducer {
    const capacity = checkRing(buffer, byteOffset);
    // Bells never change once a side is attached: resolve them once.
    const dataBell = bellIndex(buffer, byteOffset, W.dataBell, 'data');
    const spaceBell = bellIndex(buffer, byteOffset, W.spaceBell, 'space');
    if (!claim(wordsOf(buffer), byteOffset >>> 2, F.producerAttached)) {
      throw invalid('ring already has a producer (single producer only)');
    }
    return new RingProducer(buffer, byteOffset, capacity, dataBell, spaceBell);
  }

  /**
   * Reserves room for a record of up to `length` payload bytes, tagged `tag`
   * (a u32 other than 0xFFFFFFFF), and returns the view to fill; finish it
   * with commit(). null: no room now (nothing is lost; a skip record may have
   * joined the batch). Throws MessageTooLarge (can never fit), Closed or the
   * abort's kind (consumer closed, ring aborted), InvalidArgument.
   */
  tryReserve(length: number, tag: number): Uint8Array | null {
    const at = this.reserve(length, tag);
    return at < 0 ? null : new Uint8Array(this.buffer, at, length);
  }

  /** tryReserve() without allocating: the payload's byte offset in `bytes`, or -1 when there is no room now. */
  reserveAt(length: number, tag: number): number {
    return this.reserve(length, tag);
  }

  /** Ends the open reservation with `length` (<= the reserved length) payload bytes. */
  commit(length: number): void {
    if (this.reservedLen < 0) throw invalid('commit() without a reservation');
    if (length >>> 0 !== length || length > this.reservedLen) {
      throw invalid(`commit of ${length} bytes does not fit the reservation of ${this.reservedLen}`);
    }
    const at = (this.data + (this.write & this.mask)) >>> 2;
    this.w[at] = length;
    this.w[at + 1] = this.reservedTag;
    this.lastStart = this.write;
    this.lastLen = length;
    this.write = (this.write + RING.RECORD_HEADER_BYTES + ((length + 7) & ~7)) >>> 0;
    this.reservedLen = -1;
  }

  /**
   * Grows the last record committed since the last publish by up to
   * `length` payload bytes, in place (core/RING.md, "Growing the last
   * record"): the payload offset in `bytes` where they go, right after its
   * payload; finish with commitExtend(). An open reservation is abandoned.
   * -1, and nothing changes, when there is no such record (none committed
   * since the last publish, or a skip record followed it, or the consumer
   * closed: reserveAt() reports that) or it cannot grow by `length` now (it
   * would cross the end of the data area, or there is no room).
   */
  extendAt(length: number): number {
    if (this.lastStart < 0 || this.state !== State.Open || length >>> 0 !== length) return -1;
    if (this.consumerClosed()) return -1;
    const pos = this.lastStart & this.mask;
    const grown = RING.RECORD_HEADER_BYTES + ((this.lastLen + length + 7) & ~7);
    if (grown > this.capacity - pos) return -1; // a record never crosses the end
    if (!this.fits(grown - ((this.write - this.lastStart) >>> 0))) return -1;
    this.reservedLen = -1;
    this.extendLen = length;
    return this.data + pos + RING.RECORD_HEADER_BYTES + this.lastLen;
  }

  /** Ends the extension extendAt() offered with `length` (<= what was asked) more payload bytes. */
  commitExtend(length: number): void {
    if (this.extendLen < 0) throw invalid('commitExtend() without extendAt()');
    if (length >>> 0 !== length || length > this.extendLen) {
      throw invalid(`commitExtend of ${length} bytes does not fit the extension of ${this.extendLen}`);
    }
    this.lastLen += length;
    // Not published yet: the consumer cannot see the header change.
    this.w[(this.data + (this.lastStart & this.mask)) >>> 2] = this.lastLen;
    this.write = (this.lastStart + RING.RECORD_HEADER_BYTES + ((this.lastLen + 7) & ~7)) >>> 0;
    this.extendLen = -1;
  }

  /** Copies a whole record in: tryReserve + set + commit. false: no room now. */
  tryWrite(tag: number, payload: Uint8Array): boolean {
    const at = this.reserve(payload.length, tag);
    if (at < 0) return false;
    if (payload.length !== 0) this.bytes.set(payload, at);
    this.commit(payload.length);
    return true;
  }

  /** Makes every committed record visible; notifies only a parked consumer. */
  publish(): void {
    if (this.published === this.write) return;
    this.published = this.write;
    this.lastStart = -1; // the consumer may read it from now on
    // seq_cst (release): publishes every record up to write; pairs with the
    // consumer's load of tail.
    Atomics.store(this.w, this.base + W.tail, this.write | 0);
    if (wakeIfParked(this.w, this.base + W.consumerParked, this.dataBell)) this.onRing?.();
  }

  /** Publishes, marks the ring closed for writing and wakes the consumer. */
  close(): void {
    if (this.state !== State.Open) return;
    this.publish();
    this.reservedLen = -1;
    this.state = State.Closed;
    // seq_cst (release): a consumer that sees the bit sees every record.
    Atomics.or(this.w, this.base + W.flags, F.producerClosed);
    ring(this.w, this.dataBell);
    this.onRing?.();
  }

  /** Publishes what is committed and gives up the producer role. Idempotent. */
  detach(): void {
    if (this.state === State.Detached) return;
    this.publish();
    this.reservedLen = -1;
    this.state = State.Detached;
    // seq_cst (release): a later producer attaching sees our tail.
    Atomics.and(this.w, this.base + W.flags, ~F.producerAttached);
  }

  /** True once the consumer closed its end (or the ring was aborted). */
  consumerClosed(): boolean {
    return (Atomics.load(this.w, this.base + W.flags) & F.consumerClosed) !== 0;
  }

  /** Free bytes now (re-reads head); counts committed but unpublished records as used. */
  freeBytes(): number {
    this.refreshHead();
    return this.free();
  }

  /** Whether a record of `length` payload bytes (and the skip record it may need first) fits now. */
  canWrite(length: number): boolean {
    if (length >>> 0 !== length || length > this.maxPayload) return false;
    return this.fits(this.roomFor(length));
  }

  /**
   * Publishes pending records, then waits without blocking the thread until
   * a record of `length` payload bytes fits (a skip record that stands in the
   * way is written and published) or the consumer closed / the ring was
   * aborted: true; false when `timeoutMs` (default forever) passes first. An
   * open reservation is abandoned. Rejects with MessageTooLarge if it can
   * never fit.
   */
  async waitForSpace(length: number, timeoutMs?: number): Promise<boolean> {
    const deadline = this.prepareWait(length, timeoutMs);
    return waitUntil(this.waiter, deadline, () => this.spaceReady(length));
  }

  /** Like waitForSpace, blocking in Atomics.wait (workers, Node). InvalidArgument on a browser main thread. */
  waitForSpaceSync(length: number, timeoutMs?: number): boolean {
    const deadline = this.prepareWait(length, timeoutMs);
    return waitUntilSync(this.waiter, deadline, () => this.spaceReady(length), 'ring space', 'waitForSpace()');
  }

  private free(): number {
    return this.capacity - ((this.write - this.headCache) >>> 0);
  }

  private refreshHead(): void {
    // seq_cst (acquire): pairs with the consumer's store of head; after it
    // the bytes it released may be overwritten.
    this.headCache = Atomics.load(this.w, this.base + W.head) >>> 0;
  }

  // Bytes a record of `length` needs from the write position: the record,
  // plus the skip record in front of it if it would cross the end.
  private roomFor(length: number): number {
    const need = RING.RECORD_HEADER_BYTES + ((length + 7) & ~7);
    const toEnd = this.capacity - (this.write & this.mask);
    return need > toEnd ? toEnd + need : need;
  }

  private fits(bytes: number): boolean {
    if (this.free() >= bytes) return true;
    this.refreshHead();
    return this.free() >= bytes;
  }

  private checkOpen(): void {
    if (this.state === State.Detached) throw invalid('the ring producer is detached');
    if (this.state === State.Closed) throw closedError(this.w, this.base, 'the producer closed the ring');
  }

  private checkLength(length: number): void {
    if (length >>> 0 !== length) throw invalid(`record length ${length} must be a non-negative integer`);
    if (length > this.maxPayload) {
      throw ferryError(
        ErrorKind.MessageTooLarge,
        `record of ${length} bytes exceeds ring capacity ${this.capacity} (at most ${this.maxPayload} payload bytes)`,
        ORIGIN,
      );
    }
  }

  // try_reserve of RING.md: returns the payload's byte offset in the buffer, or -1.
  private reserve(length: number, tag: number): number {
    this.reservedLen = -1;
    this.extendLen = -1;
    this.checkOpen();
    if (tag >>> 0 !== tag) throw invalid(`record tag ${tag} must be a u32`);
    if (tag === RING.SKIP_TAG) throw invalid('tag 0xFFFFFFFF is reserved for skip records');
    this.checkLength(length);
    if (this.consumerClosed()) throw closedError(this.w, this.base, 'the consumer closed the ring');
    const need = RING.RECORD_HEADER_BYTES + ((length + 7) & ~7);
    let pos = this.write & this.mask;
    const toEnd = this.capacity - pos;
    if (need > toEnd) {
      // The record would cross the end: fill [pos, capacity) with a skip
      // first. The skip may go in alone, so that a record bigger than half
      // the ring still fits once the consumer has moved past it.
      if (!this.fits(toEnd)) return -1;
      this.writeSkip(pos, toEnd);
      pos = 0;
    }
    if (!this.fits(need)) return -1;
    this.reservedLen = length;
    this.reservedTag = tag;
    return this.data + pos + RING.RECORD_HEADER_BYTES;
  }

  private writeSkip(pos: number, toEnd: number): void {
    const at = (this.data + pos) >>> 2;
    this.w[at] = toEnd - RING.RECORD_HEADER_BYTES;
    this.w[at + 1] = SKIP_TAG_I32;
    this.write = (this.write + toEnd) >>> 0;
    this.lastStart = -1; // the skip now follows the last record
  }

  private prepareWait(length: number, timeoutMs: number | undefined): number {
    this.checkLength(length);
    const deadline = deadlineOf(timeoutMs);
    this.reservedLen = -1;
    this.publish(); // the consumer can only make room for records it can see
    return deadline;
  }

  // The wait condition: the record fits, or trying again would throw.
  private spaceReady(length: number): boolean {
    if (this.state !== State.Open || this.consumerClosed()) return true;
    const need = RING.RECORD_HEADER_BYTES + ((length + 7) & ~7);
    const pos = this.write & this.mask;
    const toEnd = this.capacity - pos;
    if (need > toEnd) {
      if (!this.fits(toEnd)) return false;
      this.writeSkip(pos, toEnd);
      this.publish(); // the consumer must see the skip to move past it
    }
    return this.fits(need);
  }
}

/** One record as the consumer sees it: a view into the ring, valid until release(). */
export interface RingRecord {
  tag: number;
  payload: Uint8Array;
}

/**
 * The reading end. Read many records, then release() once: one Atomics.store
 * of head, and one notify only if the producer sleeps. Used by one thread; at
 * most one waitForData() at a time.
 */
export class RingConsumer {
  readonly buffer: RingBuffer;
  readonly byteOffset: number;
  readonly capacity: number;

  private readonly w: Int32Array;
  private readonly base: number;
  private readonly data: number;
  private readonly mask: number;
  private readonly waiter: Waiter; // sleeps on the data bell
  private readonly spaceBell: number; // word index of the producer's bell
  private read: number; // local: end of what was read
  private released: number; // local: last head stored
  private tailCache: number; // local copy of the producer's tail
  private corrupt: Error | null = null; // sticky: the ring is unusable
  private state = State.Open;
  /**
   * Where Atomics.waitAsync is missing, park() waits for this instead of
   * polling: next() settles at the producer's next ring (RingProducer.onRing
   * posting a message, for example); wake() settles it at once (whoever
   * aborts the ring from outside calls it, as ringAbort rings the bell).
   */
  whenRung: { next(): Promise<void>; wake(): void } | null = null;
  /** The last record nextRecord() returned: its payload is recordBytes[recordOffset, recordOffset + recordLength). */
  recordOffset = 0;
  recordLength = 0;
  /** The whole buffer as bytes. */
  readonly recordBytes: Uint8Array;

  private constructor(buffer: RingBuffer, byteOffset: number, capacity: number, dataBell: number, spaceBell: number) {
    this.buffer = buffer;
    this.byteOffset = byteOffset;
    this.capacity = capacity;
    this.recordBytes = bytesOf(buffer);
    this.w = wordsOf(buffer);
    this.base = byteOffset >>> 2;
    this.data = byteOffset + RING.HEADER_BYTES;
    this.mask = capacity - 1;
    this.waiter = { w: this.w, parked: this.base + W.consumerParked, bell: dataBell, shared: isShared(buffer) };
    this.spaceBell = spaceBell;
    this.read = Atomics.load(this.w, this.base + W.head) >>> 0; // own counter
    this.released = this.read;
    this.tailCache = Atomics.load(this.w, this.base + W.tail) >>> 0;
  }

  /** Attaches to a ring made by ringInit(); InvalidArgument if it already has a consumer. */
  static attach(buffer: RingBuffer, byteOffset: number): RingConsumer {
    const capacity = checkRing(buffer, byteOffset);
    const dataBell = bellIndex(buffer, byteOffset, W.dataBell, 'data');
    const spaceBell = bellIndex(buffer, byteOffset, W.spaceBell, 'space');
    if (!claim(wordsOf(buffer), byteOffset >>> 2, F.consumerAttached)) {
      throw invalid('ring already has a consumer (single consumer only)');
    }
    return new RingConsumer(buffer, byteOffset, capacity, dataBell, spaceBell);
  }

  /**
   * The next record, or null if none is published yet. Throws Closed (or the
   * abort's kind) once the producer closed and everything was read, and
   * CorruptRecord for a header that cannot be right (from then on, always).
   */
  tryRead(): RingRecord | null {
    const tag = this.nextRecord();
    return tag < 0 ? null : { tag, payload: new Uint8Array(this.buffer, this.recordOffset, this.recordLength) };
  }

  /**
   * tryRead() without allocating: the next record's tag (a u32), or -1 when
   * none is published yet; its payload is `recordLength` bytes at
   * `recordOffset` of `recordBytes` (the whole buffer), valid until release().
   * Throws as tryRead() does.
   */
  nextRecord(): number {
    if (this.corrupt !== null) throw this.corrupt;
    if (this.state !== State.Open) {
      if (this.state === State.Detached) throw invalid('the ring consumer is detached');
      throw closedError(this.w, this.base, 'the consumer closed the ring');
    }
    for (;;) {
      if (this.read === this.tailCache && !this.refreshTail()) {
        if (!this.producerClosed()) return -1;
        // The producer publishes before it closes: one more look at tail.
        if (!this.refreshTail()) throw closedError(this.w, this.base, 'the producer closed the ring');
      }
      const pos = this.read & this.mask;
      const avail = (this.tailCache - this.read) >>> 0;
      const toEnd = this.capacity - pos;
      const at = (this.data + pos) >>> 2;
      const length = this.w[at] >>> 0;
      const tag = this.w[at + 1] >>> 0;
      const span = length + 15 - ((length + 7) & 7); // 8 + roundup8(length), exact for any u32
      // Validate before touching the payload (RING.md, consumer step 2).
      if (tag === RING.SKIP_TAG) {
        if (span !== toEnd || avail < toEnd) {
          throw this.fail(`skip record at offset ${pos} covers ${span} bytes, but ${toEnd} remain before the end of the ring`);
        }
        this.read = (this.read + toEnd) >>> 0;
        continue;
      }
      if (span > avail || span > toEnd) {
        throw this.fail(`record at offset ${pos} claims ${length} payload bytes, but only ${Math.min(avail, toEnd)} bytes are published there`);
      }
      this.read = (this.read + span) >>> 0;
      this.recordOffset = this.data + pos + RING.RECORD_HEADER_BYTES;
      this.recordLength = length;
      return tag;
    }
  }

  /** Hands every record read so far back to the producer; their views die here. */
  release(): void {
    if (this.released === this.read) return;
    this.released = this.read;
    // seq_cst (release): our reads of the records happen before the producer
    // reuses the bytes; pairs with the producer's load of head.
    Atomics.store(this.w, this.base + W.head, this.read | 0);
    wakeIfParked(this.w, this.base + W.producerParked, this.spaceBell);
  }

  /** Releases, marks the ring closed for reading and wakes the producer. */
  close(): void {
    if (this.state !== State.Open) return;
    this.release();
    this.state = State.Closed;
    // seq_cst (release): pairs with the producer's consumerClosed().
    Atomics.or(this.w, this.base + W.flags, F.consumerClosed);
    ring(this.w, this.spaceBell);
  }

  /** Releases what was read and gives up the consumer role. Idempotent. */
  detach(): void {
    if (this.state === State.Detached) return;
    this.release();
    this.state = State.Detached;
    Atomics.and(this.w, this.base + W.flags, ~F.consumerAttached);
  }

  /** True once the producer closed its end (or the ring was aborted). */
  producerClosed(): boolean {
    return (Atomics.load(this.w, this.base + W.flags) & F.producerClosed) !== 0;
  }

  /**
   * True if tryRead() would return a record or throw (end of stream, a
   * corrupt header, this end closed). Moves past a lone skip record.
   */
  hasData(): boolean {
    if (this.corrupt !== null || this.state !== State.Open) return true;
    for (;;) {
      if (this.read === this.tailCache && !this.refreshTail()) return this.producerClosed();
      const pos = this.read & this.mask;
      const at = (this.data + pos) >>> 2;
      const toEnd = this.capacity - pos;
      // A well-formed skip is not a record: step over it (tryRead would).
      if (this.w[at + 1] === SKIP_TAG_I32 && this.w[at] >>> 0 === toEnd - 8 && ((this.tailCache - this.read) >>> 0) >= toEnd) {
        this.read = (this.read + toEnd) >>> 0;
        continue;
      }
      return true;
    }
  }

  /**
   * Releases what was read (the producer may be waiting for that room), then
   * waits without blocking the thread until hasData(): true; false when
   * `timeoutMs` (default forever) passes first.
   */
  async waitForData(timeoutMs?: number): Promise<boolean> {
    const deadline = deadlineOf(timeoutMs);
    this.release();
    return waitUntil(this.waiter, deadline, () => this.dataReady());
  }

  /** Like waitForData, blocking in Atomics.wait (workers, Node). InvalidArgument on a browser main thread. */
  waitForDataSync(timeoutMs?: number): boolean {
    const deadline = deadlineOf(timeoutMs);
    this.release();
    return waitUntilSync(this.waiter, deadline, () => this.dataReady(), 'ring data', 'waitForData()');
  }

  /**
   * The waiting half of the eventcount for a caller that runs its own spin
   * and parks many rings at once (the pool's response rings): releases, raises
   * the parked flag, re-checks. null: a record is there (or tryRead() would
   * throw) and the flag is down again. Otherwise a promise that settles once
   * the producer rings the data bell (its next publish or close, or an
   * abort), or at once if it rang since; without Atomics.waitAsync, when
   * `whenRung` says it rang, or else after a 1 ms poll delay. Awake,
   * call unpark() before parking again.
   */
  park(): Promise<unknown> | null {
    this.release();
    const { w, parked, bell, shared } = this.waiter;
    // seq_cst: as in waitUntil (the key first, then the flag, then the re-check).
    const key = Atomics.load(w, bell);
    Atomics.store(w, parked, 1);
    if (this.dataReady()) {
      Atomics.store(w, parked, 0);
      return null;
    }
    const waitAsync = (Atomics as { waitAsync?: typeof Atomics.waitAsync }).waitAsync;
    if (!shared || typeof waitAsync !== 'function') return this.whenRung !== null ? this.whenRung.next() : sleep(1);
    const r = waitAsync(w, bell, key);
    return r.async ? r.value : RESOLVED;
  }

  /**
   * park() for a thread that may block: raises the flag, re-checks, then
   * sleeps in Atomics.wait until the producer rings or `timeoutMs` passes;
   * lowers the flag again. True when a record is there (or tryRead() would
   * throw), false after the timeout. No spin first: the caller spins as
   * long as it thinks it pays (spin.ts). InvalidArgument where blocking is
   * not allowed or the buffer is not shared.
   */
  parkSync(timeoutMs: number): boolean {
    const { w, parked, bell, shared } = this.waiter;
    if (!shared || !canBlock()) throw invalid('parkSync() needs shared memory and a thread that may block; use park()');
    this.release();
    // seq_cst: as in waitUntil (the key first, then the flag, then the re-check).
    const key = Atomics.load(w, bell);
    Atomics.store(w, parked, 1);
    if (!this.dataReady()) Atomics.wait(w, bell, key, timeoutMs);
    Atomics.store(w, parked, 0);
    return this.dataReady();
  }

  /** Lowers the parked flag that park() raised (the producer stops ringing). */
  unpark(): void {
    Atomics.store(this.w, this.waiter.parked, 0);
  }

  // The wait condition. hasData() may step over a lone skip record; release
  // it then, since the producer may be waiting for exactly that room.
  private dataReady(): boolean {
    if (this.hasData()) return true;
    this.release();
    return false;
  }

  // Re-reads tail; true if there is something past `read`.
  private refreshTail(): boolean {
    // seq_cst (acquire): pairs with the producer's store of tail in publish().
    this.tailCache = Atomics.load(this.w, this.base + W.tail) >>> 0;
    return this.read !== this.tailCache;
  }

  private fail(message: string): Error {
    this.corrupt = ferryError(ErrorKind.CorruptRecord, message, ORIGIN);
    return this.corrupt;
  }
}
