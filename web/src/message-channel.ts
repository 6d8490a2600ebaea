// The channels of the postMessage fallback (message-backend.ts is the pool's
// side of it, worker.ts the worker's): the same WorkerPool, calls and streams
// where shared memory is missing (no SharedArrayBuffer, a page that is not
// cross-origin isolated) or when asked for with transport: 'postMessage'.
//
// Design: each ring of web/PROTOCOL.md becomes a *channel* over the worker's
// message port, carrying the very same records (8-byte header, payload
// padded to 8) in chunks: a producer fills a local chunk and publish() posts
// it (one postMessage per batch, the chunk's buffer transferred). So the pool
// and expose() run the same record code over rings and over channels, and
// values travel as codec bytes either way (the same types, the same errors).
//
// Backpressure is credit based, in bytes, like a ring's capacity: a producer
// may have at most `capacity` bytes of records that its consumer has not
// released yet. The consumer grants credit back as it releases records (in
// batches: a quarter of the capacity, or whenever it has read everything).
// Initial credit: the setup message gives each slot's request and response
// channel their capacity; a stream's `in` channel starts with the stream's
// capacity, and the pool grants the task the `out` channel's capacity when
// it opens the stream. send() on a stream waits for credit exactly as it
// waits for ring space.
//
// Port messages (besides the start-up handshake of js-backend.ts):
//   {c, d: ArrayBuffer}   records for channel c
//   {c, g: n}             n more bytes of credit for channel c's producer
//   {c, cap: n}           channel c (a stream's in) has capacity n
//   {c, e: 1}             the producer of c closed it
//   {c, x: 1}             the consumer of c closed it
//   {c, e|x: 1, r: kind}  ... with a reason (an ErrorKind), as a ring's
//                         close_reason: a stream task that failed closes its
//                         channels so (only workers send r; the pool's ends
//                         exist before any message for them arrives)
// Channel 0 is a slot's request channel, 1 its response channel; streams use
// the ids the pool puts into the stream record where a ring would have its
// byte offsets.

import { ClosedError, CorruptRecordError, InvalidArgumentError, MessageTooLargeError, ferryError, isErrorKind, kindName, type ErrorKind } from './errors.js';
import type { RecordConsumer, RecordProducer } from './records.js';

// Errors name the postMessage fallback as a whole (message-backend.ts is its entry).
const kOrigin = 'web/message-backend';

/** A slot's request and response channels; stream channels are numbered from kFirstStreamChannel. */
export const kRequestChannel = 0;
export const kResponseChannel = 1;
export const kFirstStreamChannel = 2;

export interface HubMessage {
  c: number;
  d?: ArrayBuffer;
  g?: number;
  cap?: number;
  e?: 1;
  x?: 1;
  r?: number;
}

type Post = (message: HubMessage, transfer?: Transferable[]) => void;

function abortedError(kind: number): Error {
  return ferryError(kind as ErrorKind, `the channel was aborted: ${kindName(kind as ErrorKind)}`, kOrigin);
}

// A close message's reason: an ErrorKind number, or 0 (none, or not one).
function reasonOf(msg: HubMessage): number {
  return typeof msg.r === 'number' && isErrorKind(msg.r) ? msg.r : 0;
}

interface Waitable {
  waiter: (() => void) | null;
}

// One wait at a time per end, as on a ring: resolves true once ready()
// holds (re-checked on every wake), false when the timeout passes first.
function waitUntil(end: Waitable, ready: () => boolean, timeoutMs: number | undefined): Promise<boolean> {
  if (ready()) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = () => {
      if (ready()) {
        if (timer !== undefined) clearTimeout(timer);
        resolve(true);
      } else {
        end.waiter = check;
      }
    };
    end.waiter = check;
    if (timeoutMs !== undefined && timeoutMs !== Infinity) {
      timer = setTimeout(() => {
        if (end.waiter === check) end.waiter = null;
        resolve(ready());
      }, Math.max(0, timeoutMs));
    }
  });
}

/** The producing end of a channel: a RecordProducer over postMessage. */
export class MsgProducer implements RecordProducer {
  readonly maxPayload: number;
  private credit: number;
  private chunk: Uint8Array;
  private used = 0;
  private reservedLen = -1;
  private reservedTag = 0;
  private extendLen = -1; // the open extension (extendAt), -1 for none
  private lastAt = -1; // the chunk offset of the last record since the last publish, -1 for none
  private lastLen = 0;
  private closedByUs = false;
  private peerClosed = false;
  private abortKind = 0;
  private closeReason = 0; // ours, sent with our close
  private peerReason = 0; // the consumer's, from its close
  /** @internal */ waiter: (() => void) | null = null;
  /** Each publish is a postMessage: a stream writer publishes once per task, not per microtask. */
  readonly coalesce = true;

  constructor(
    private readonly post: Post,
    readonly id: number,
    readonly capacity: number,
    credit: number,
  ) {
    this.maxPayload = capacity - 8;
    this.credit = credit;
    this.chunk = new Uint8Array(Math.min(capacity, 4096));
  }

  tryReserve(length: number, tag: number): Uint8Array | null {
    const at = this.reserveAt(length, tag);
    return at < 0 ? null : this.chunk.subarray(at, at + length);
  }

  reserveAt(length: number, tag: number): number {
    this.reservedLen = -1;
    this.extendLen = -1;
    this.check(length);
    const need = 8 + ((length + 7) & ~7);
    if (need > this.credit) return -1;
    this.ensure(this.used + need);
    this.reservedLen = length;
    this.reservedTag = tag;
    return this.used + 8;
  }

  /** The chunk being filled (reserveAt()'s offsets index it). */
  get bytes(): Uint8Array {
    return this.chunk;
  }

  commit(length: number): void {
    if (this.reservedLen < 0) throw new InvalidArgumentError('commit() without a reservation', kOrigin);
    if (length > this.reservedLen) throw new InvalidArgumentError(`commit of ${length} bytes does not fit the reservation of ${this.reservedLen}`, kOrigin);
    const b = this.chunk;
    const at = this.used;
    const tag = this.reservedTag;
    b[at] = length;
    b[at + 1] = length >>> 8;
    b[at + 2] = length >>> 16;
    b[at + 3] = length >>> 24;
    b[at + 4] = tag;
    b[at + 5] = tag >>> 8;
    b[at + 6] = tag >>> 16;
    b[at + 7] = tag >>> 24;
    const span = 8 + ((length + 7) & ~7);
    this.lastAt = at;
    this.lastLen = length;
    this.used += span;
    this.credit -= span;
    this.reservedLen = -1;
  }

  /** RingProducer.extendAt's twin: grows the last record of the unpublished chunk, as far as credit allows. */
  extendAt(length: number): number {
    if (this.lastAt < 0 || length >>> 0 !== length || this.closedByUs || this.consumerClosed()) return -1;
    const grown = this.lastLen + length;
    if (grown > this.maxPayload) return -1;
    const extra = ((grown + 7) & ~7) - ((this.lastLen + 7) & ~7);
    if (extra > this.credit) return -1;
    this.ensure(this.used + extra);
    this.reservedLen = -1;
    this.extendLen = length;
    return this.lastAt + 8 + this.lastLen;
  }

  commitExtend(length: number): void {
    if (this.extendLen < 0) throw new InvalidArgumentError('commitExtend() without extendAt()', kOrigin);
    if (length > this.extendLen) throw new InvalidArgumentError(`commitExtend of ${length} bytes does not fit the extension of ${this.extendLen}`, kOrigin);
    const before = (this.lastLen + 7) & ~7;
    this.lastLen += length;
    const extra = ((this.lastLen + 7) & ~7) - before;
    const b = this.chunk;
    const at = this.lastAt;
    const n = this.lastLen;
    b[at] = n;
    b[at + 1] = n >>> 8;
    b[at + 2] = n >>> 16;
    b[at + 3] = n >>> 24;
    this.used += extra;
    this.credit -= extra;
    this.extendLen = -1;
  }

  // The chunk holds at least `n` bytes (what was written is kept).
  private ensure(n: number): void {
    if (n <= this.chunk.length) return;
    const bigger = new Uint8Array(Math.max(2 * this.chunk.length, n));
    bigger.set(this.chunk.subarray(0, this.used));
    this.chunk = bigger;
  }

  tryWrite(tag: number, payload: Uint8Array): boolean {
    const view = this.tryReserve(payload.length, tag);
    if (view === null) return false;
    view.set(payload);
    this.commit(payload.length);
    return true;
  }

  publish(): void {
    if (this.used === 0 || this.abortKind !== 0) return;
    const out = this.chunk.slice(0, this.used);
    this.used = 0;
    this.lastAt = -1;
    this.post({ c: this.id, d: out.buffer }, [out.buffer]);
  }

  close(): void {
    if (this.closedByUs) return;
    this.publish();
    this.closedByUs = true;
    this.reservedLen = -1;
    if (this.abortKind === 0) this.post(this.closeReason === 0 ? { c: this.id, e: 1 } : { c: this.id, e: 1, r: this.closeReason });
    this.wake();
  }

  /** Why this end will close (ringSetCloseReason's twin): sent with the close; the first one given stays. */
  setCloseReason(kind: number): void {
    if (this.closeReason === 0) this.closeReason = kind;
  }

  consumerClosed(): boolean {
    return this.peerClosed || this.abortKind !== 0;
  }

  waitForSpace(length: number, timeoutMs?: number): Promise<boolean> {
    if (length > this.maxPayload) {
      return Promise.reject(new MessageTooLargeError(`record of ${length} bytes exceeds channel capacity ${this.capacity} (at most ${this.maxPayload} payload bytes)`, kOrigin));
    }
    this.reservedLen = -1;
    this.publish();
    return waitUntil(this, () => this.closedByUs || this.consumerClosed() || this.credit >= 8 + ((length + 7) & ~7), timeoutMs);
  }

  /** @internal the consumer released `n` bytes. */
  grant(n: number): void {
    this.credit += n;
    this.wake();
  }
  /** @internal the consumer closed its end (`reason`: why, 0 for none). */
  peerClose(reason = 0): void {
    this.peerClosed = true;
    this.peerReason = reason;
    this.wake();
  }
  /** Ends the channel from outside (the worker died): operations fail with `kind`. */
  abort(kind: number): void {
    if (this.abortKind === 0) this.abortKind = kind;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private check(length: number): void {
    if (this.abortKind !== 0) throw abortedError(this.abortKind);
    if (this.closedByUs) throw new ClosedError('the producer closed the channel', kOrigin);
    if (length >>> 0 !== length) throw new InvalidArgumentError(`record length ${length} must be a non-negative integer`, kOrigin);
    if (length > this.maxPayload) {
      throw new MessageTooLargeError(`record of ${length} bytes exceeds channel capacity ${this.capacity} (at most ${this.maxPayload} payload bytes)`, kOrigin);
    }
    if (this.peerClosed) throw this.peerReason !== 0 ? abortedError(this.peerReason) : new ClosedError('the consumer closed the channel', kOrigin);
  }
}

/** The consuming end of a channel: a RecordConsumer over postMessage. */
export class MsgConsumer implements RecordConsumer {
  private readonly chunks: Uint8Array[] = [];
  private cHead = 0;
  private cur: Uint8Array | null = null;
  private pos = 0;
  private readBytes = 0; // read since the last credit we granted
  private producerEnded = false;
  private endReason = 0; // the producer's, from its close
  private closedByUs = false;
  private abortKind = 0;
  private closeReason = 0; // ours, sent with our close
  /** @internal */ waiter: (() => void) | null = null;
  private threshold: number;

  constructor(
    private readonly post: Post,
    readonly id: number,
    capacity: number,
  ) {
    this.threshold = capacity >>> 2;
  }

  /** The last record nextRecord() returned: recordBytes[recordOffset, recordOffset + recordLength). */
  recordBytes: Uint8Array = new Uint8Array(0);
  recordOffset = 0;
  recordLength = 0;

  tryRead(): { tag: number; payload: Uint8Array } | null {
    const tag = this.nextRecord();
    return tag < 0 ? null : { tag, payload: this.recordBytes.subarray(this.recordOffset, this.recordOffset + this.recordLength) };
  }

  nextRecord(): number {
    if (this.closedByUs) throw new ClosedError('the consumer closed the channel', kOrigin);
    for (;;) {
      const b = this.cur;
      if (b !== null && this.pos < b.length) {
        const at = this.pos;
        if (b.length - at < 8) throw new CorruptRecordError(`a record header at offset ${at} of a ${b.length}-byte chunk is cut short`, kOrigin);
        const length = (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
        const tag = (b[at + 4]! | (b[at + 5]! << 8) | (b[at + 6]! << 16) | (b[at + 7]! << 24)) >>> 0;
        const span = 8 + ((length + 7) & ~7);
        if (at + 8 + length > b.length) throw new CorruptRecordError(`record at offset ${at} claims ${length} payload bytes, more than its chunk holds`, kOrigin);
        this.pos = Math.min(b.length, at + span);
        this.readBytes += span;
        this.recordBytes = b;
        this.recordOffset = at + 8;
        this.recordLength = length;
        return tag;
      }
      if (this.cHead < this.chunks.length) {
        this.cur = this.chunks[this.cHead]!;
        this.chunks[this.cHead++] = undefined as unknown as Uint8Array;
        if (this.cHead === this.chunks.length) {
          this.chunks.length = 0;
          this.cHead = 0;
        }
        this.pos = 0;
        continue;
      }
      this.cur = null;
      if (this.abortKind !== 0) throw abortedError(this.abortKind);
      if (this.endReason !== 0) throw abortedError(this.endReason);
      if (this.producerEnded) throw new ClosedError('the producer closed the channel', kOrigin);
      return -1;
    }
  }

  release(): void {
    if (this.readBytes === 0 || this.closedByUs) return;
    if (this.readBytes >= this.threshold || !this.buffered()) this.grantNow();
  }

  close(): void {
    if (this.closedByUs) return;
    this.closedByUs = true;
    this.chunks.length = 0;
    this.cHead = 0;
    this.cur = null;
    if (this.abortKind === 0) this.post(this.closeReason === 0 ? { c: this.id, x: 1 } : { c: this.id, x: 1, r: this.closeReason });
    this.wake();
  }

  /** Why this end will close (ringSetCloseReason's twin): sent with the close; the first one given stays. */
  setCloseReason(kind: number): void {
    if (this.closeReason === 0) this.closeReason = kind;
  }

  producerClosed(): boolean {
    return this.producerEnded || this.abortKind !== 0;
  }

  waitForData(timeoutMs?: number): Promise<boolean> {
    if (this.readBytes !== 0 && !this.closedByUs) this.grantNow();
    return waitUntil(this, () => this.closedByUs || this.buffered() || this.producerClosed(), timeoutMs);
  }

  hasData(): boolean {
    return this.closedByUs || this.buffered() || this.producerClosed();
  }

  /** Resolves on the next arrival (records, the end, an abort), or null when something is there now (RingConsumer.park's twin). */
  park(): Promise<unknown> | null {
    if (this.readBytes !== 0 && !this.closedByUs) this.grantNow();
    if (this.hasData()) return null;
    return new Promise<void>((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Nothing to lower: a message wakes no one but this end. */
  unpark(): void {}

  /** @internal records arrived. */
  data(chunk: ArrayBuffer): void {
    if (this.closedByUs) return;
    this.chunks.push(new Uint8Array(chunk));
    this.wake();
  }
  /** @internal the producer closed (`reason`: why, 0 for none). */
  end(reason = 0): void {
    this.producerEnded = true;
    this.endReason = reason;
    this.wake();
  }
  /** @internal the capacity (a stream's in channel, learned after creation). */
  setCapacity(n: number): void {
    this.threshold = n >>> 2;
  }
  /** Ends the channel from outside (the worker died): what arrived is still read, then `kind`. */
  abort(kind: number): void {
    if (this.abortKind === 0) this.abortKind = kind;
    this.wake();
  }

  private buffered(): boolean {
    return (this.cur !== null && this.pos < this.cur.length) || this.cHead < this.chunks.length;
  }

  private grantNow(): void {
    const n = this.readBytes;
    this.readBytes = 0;
    if (this.abortKind === 0) this.post({ c: this.id, g: n });
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }
}

interface Early {
  credit: number;
  peerClosed: boolean;
  chunks: ArrayBuffer[];
  ended: boolean;
  capacity: number;
}

/**
 * The channels of one message port. The pool creates its ends before any
 * message for them can arrive; a worker may hear of a stream channel (its
 * first credit, its data) before the stream record that names it, so it
 * keeps such early messages (acceptEarly) until it claims the channel.
 */
export class MessageHub {
  private readonly ends = new Map<number, MsgProducer | MsgConsumer>();
  private readonly early = new Map<number, Early>();
  private highestClaimed = 1;

  constructor(
    private readonly post: Post,
    private readonly acceptEarly: boolean,
  ) {}

  producer(id: number, capacity: number, credit: number): MsgProducer {
    const e = this.claim(id);
    // capacity 0: a stream's out channel, whose first credit is its capacity.
    const p = new MsgProducer(this.post, id, capacity || e?.credit || 64, credit + (e?.credit ?? 0));
    if (e?.peerClosed) p.peerClose();
    this.ends.set(id, p);
    return p;
  }

  consumer(id: number, capacity: number): MsgConsumer {
    const e = this.claim(id);
    const c = new MsgConsumer(this.post, id, e?.capacity || capacity);
    if (e) {
      for (const d of e.chunks) c.data(d);
      if (e.ended) c.end();
    }
    this.ends.set(id, c);
    return c;
  }

  /** Forgets channel `id` (later messages for it are dropped). */
  drop(id: number): void {
    this.ends.delete(id);
  }

  /** Handles one port message; false if it is not a channel message. */
  deliver(m: unknown): boolean {
    const msg = m as HubMessage | null;
    if (msg === null || typeof msg !== 'object' || typeof msg.c !== 'number') return false;
    const end = this.ends.get(msg.c);
    if (end === undefined) {
      if (this.acceptEarly && msg.c > this.highestClaimed) this.keepEarly(msg);
      return true;
    }
    if (end instanceof MsgConsumer) {
      if (msg.d !== undefined) end.data(msg.d);
      if (msg.cap !== undefined) end.setCapacity(msg.cap);
      if (msg.e === 1) end.end(reasonOf(msg));
    } else {
      if (msg.g !== undefined) end.grant(msg.g);
      if (msg.x === 1) end.peerClose(reasonOf(msg));
    }
    return true;
  }

  /** Ends every channel from outside: the worker died or the pool stopped. */
  abortAll(kind: number): void {
    for (const end of this.ends.values()) end.abort(kind);
  }

  private claim(id: number): Early | undefined {
    if (id > this.highestClaimed) this.highestClaimed = id;
    const e = this.early.get(id);
    if (e !== undefined) this.early.delete(id);
    return e;
  }

  private keepEarly(msg: HubMessage): void {
    let e = this.early.get(msg.c);
    if (e === undefined) {
      e = { credit: 0, peerClosed: false, chunks: [], ended: false, capacity: 0 };
      this.early.set(msg.c, e);
    }
    if (msg.d !== undefined) e.chunks.push(msg.d);
    if (msg.g !== undefined) e.credit += msg.g;
    if (msg.cap !== undefined) e.capacity = msg.cap;
    if (msg.e === 1) e.ended = true;
    if (msg.x === 1) e.peerClosed = true;
  }
}
