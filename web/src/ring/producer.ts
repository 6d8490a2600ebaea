// ferry web ring (internal): RingProducer, the writing end — the twin of
// core/detail/ring_endpoints.hpp's RingProducer members. Part of ring.ts:
// import ring.ts, not this file. Every atomic says which ordering pairs
// with which; the words it uses are in words.ts.
import { ErrorKind, ferryError } from '../errors.js';
import { F, RING, SKIP_TAG_I32, W, type RingBuffer } from './layout.js';
import {
  ORIGIN,
  State,
  bellIndex,
  bytesOf,
  checkRing,
  claim,
  closedError,
  deadlineOf,
  invalid,
  isShared,
  ring,
  waitUntil,
  waitUntilSync,
  wakeIfParked,
  wordsOf,
  type Waiter,
} from './words.js';

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
