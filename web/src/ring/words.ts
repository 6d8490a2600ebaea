// ferry web ring (internal): the ring's shared words — the twin of
// core/detail/ring_words.hpp. Part of ring.ts: import ring.ts, not this file
// (the build makes ring.ts and ring/ one module, dist/ring.js, so that the
// constants and the State enum stay inlined on the endpoints' hot paths).
//
// Views on the buffer, the header check, the role claim, the bells and the
// eventcount (wake, park and wait), and the errors the endpoints throw.
//
// All shared words go through Atomics on one Int32Array over the buffer;
// Atomics operations are seq_cst, which covers every fence RING.md asks for.
// Record headers and payloads are plain memory, ordered by the tail/head
// stores that publish and release them.
import { ErrorKind, ferryError } from '../errors.js';
import { RING, W, ringBytes, type RingBuffer } from './layout.js';

export const ORIGIN = 'web/ring';

// Where an endpoint stands (each endpoint keeps its own).
export const enum State {
  Open,
  Closed, // this endpoint called close()
  Detached,
}

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
export function wordsOf(buffer: RingBuffer): Int32Array {
  let w = wordViews.get(buffer);
  if (w === undefined) {
    w = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
    wordViews.set(buffer, w);
  }
  return w;
}
export function bytesOf(buffer: RingBuffer): Uint8Array {
  let b = byteViews.get(buffer);
  if (b === undefined) {
    b = new Uint8Array(buffer);
    byteViews.set(buffer, b);
  }
  return b;
}

// By brand, not instanceof: buffers may come from another realm.
const brand = (x: unknown) => Object.prototype.toString.call(x);
export function isShared(buffer: RingBuffer): boolean {
  return brand(buffer) === '[object SharedArrayBuffer]';
}

export function invalid(message: string): Error {
  return ferryError(ErrorKind.InvalidArgument, message, ORIGIN);
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

// Checks that `buffer` can hold a ring header at `byteOffset`.
export function checkPlace(buffer: RingBuffer, byteOffset: number): void {
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
export function checkRing(buffer: RingBuffer, byteOffset: number): number {
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
export function bellIndex(buffer: RingBuffer, byteOffset: number, field: number, name: string): number {
  // Bells are set before either side attaches and never change afterwards.
  const rel = Atomics.load(wordsOf(buffer), (byteOffset >>> 2) + field); // i32: may be negative
  const at = byteOffset + rel;
  if (rel % 4 !== 0 || at < 0 || at + 4 > buffer.byteLength) {
    throw invalid(`the ${name} bell (${rel} bytes from the ring at ${byteOffset}) is not a word of the buffer`);
  }
  return at >>> 2;
}

// Sets `bit` in the flags word; false if it was already set.
export function claim(w: Int32Array, base: number, bit: number): boolean {
  // seq_cst: claiming a role orders after the previous holder's release.
  return (Atomics.or(w, base + W.flags, bit) & bit) === 0;
}

// Bumps a bell and wakes everyone asleep on it. The add is the release that
// carries the waker's earlier stores to a waiter that reads the new value.
export function ring(w: Int32Array, bell: number): void {
  Atomics.add(w, bell, 1);
  Atomics.notify(w, bell); // returns 0 on a non-shared buffer: nothing to wake
}

// The waking half of the eventcount, right after a tail/head store. seq_cst
// orders that store before this load of the flag (Dekker: pairs with the
// waiter's flag store then re-check). The exchange makes one wake per park.
export function wakeIfParked(w: Int32Array, parked: number, bell: number): boolean {
  if (Atomics.load(w, parked) === 1 && Atomics.exchange(w, parked, 0) === 1) {
    ring(w, bell);
    return true;
  }
  return false;
}

// The error a closed ring reports: Closed, or the kind an abort gave.
export function closedError(w: Int32Array, base: number, what: string): Error {
  const reason = Atomics.load(w, base + W.closeReason) >>> 0;
  const name = (ErrorKind as unknown as Record<number, string | undefined>)[reason];
  if (reason !== 0 && typeof name === 'string') {
    return ferryError(reason as ErrorKind, `the ring was aborted: ${name}`, ORIGIN);
  }
  return ferryError(ErrorKind.Closed, what, ORIGIN);
}

export function deadlineOf(timeoutMs: number | undefined): number {
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

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const RESOLVED: Promise<void> = Promise.resolve();

export interface Waiter {
  w: Int32Array;
  parked: number; // word index of this side's parked flag
  bell: number; // word index of the bell this side sleeps on
  shared: boolean;
}

// The waiting half of the eventcount, without blocking the thread. Resolves
// true once ready() holds, false when the deadline passes first.
export async function waitUntil(s: Waiter, deadline: number, ready: () => boolean): Promise<boolean> {
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
export function waitUntilSync(s: Waiter, deadline: number, ready: () => boolean, what: string, instead: string): boolean {
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
