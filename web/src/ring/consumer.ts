// ferry web ring (internal): RingConsumer, the reading end — the twin of
// core/detail/ring_endpoints.hpp's RingConsumer members. Part of ring.ts:
// import ring.ts, not this file. Every atomic says which ordering pairs
// with which; the words it uses are in words.ts.
import { ErrorKind, ferryError } from '../errors.js';
import { F, RING, SKIP_TAG_I32, W, type RingBuffer } from './layout.js';
import {
  ORIGIN,
  RESOLVED,
  State,
  bellIndex,
  bytesOf,
  canBlock,
  checkRing,
  claim,
  closedError,
  deadlineOf,
  invalid,
  isShared,
  ring,
  sleep,
  waitUntil,
  waitUntilSync,
  wakeIfParked,
  wordsOf,
  type Waiter,
} from './words.js';

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
