// ferry streams for JavaScript: typed values over one record channel each way.
//
// A stream between the pool (main thread) and a task is two channels: `in`
// (pool -> task) and `out` (task -> pool). A channel is a ring of
// core/RING.md in shared memory, or its postMessage stand-in
// (message-channel.ts) — both offer the RecordProducer / RecordConsumer
// surface below. Value records carry tag 0 and one or more codec values back
// to back: the values sent in one batch share a record where the channel can
// grow its last record in place (stream/STREAMS.md).
//
// StreamWriter and StreamReader are the two ends as user code sees them; the
// pool's Stream pairs one of each, and a JavaScript task (worker.ts) gets the
// other two. Guarantees:
// - send() resolves once the value is in the channel; while the channel is
//   full it waits (the backpressure), and later sends queue behind it, so
//   values are never reordered. trySend() never waits: false when full.
// - recv() resolves with {done: false, value}, or {done: true} once the other
//   side closed and everything was read; it rejects with the error that ended
//   the stream (a task failure, WorkerCrashed, Cancelled, Closed by terminate).
//   When the task's worker crashes, what it had published is still read,
//   in order, before recv() rejects with WorkerCrashed.
// - Nothing here blocks the thread: waits are the channel's async waits.
// - readable / writable are WHATWG adapters whose only buffer is the channel
//   (highWaterMark 0 for the readable, 1 for the writable).

import { decodeFirst, encode, encodedSize, encodeToRange, valueEnd } from './codec.js';
import { ClosedError, DeserializationError, ErrorKind, FerryError, InvalidArgumentError, MessageTooLargeError } from './errors.js';

// ---------------------------------------------------------------------------
// Channels

/** The writing end of a record channel (RingProducer has this shape). */
export interface RecordProducer {
  readonly maxPayload: number;
  /** A view to fill for a record of up to `length` bytes, or null when there is no room now. */
  tryReserve(length: number, tag: number): Uint8Array | null;
  /** tryReserve() without allocating: where the payload goes in `bytes`, or -1. */
  reserveAt(length: number, tag: number): number;
  /** What reserveAt()'s offsets index (read it after reserveAt: a channel's chunk may grow). */
  readonly bytes: Uint8Array;
  commit(length: number): void;
  /**
   * Grows the last record written since the last publish by up to `length`
   * bytes in place: where they go in `bytes`, or -1 (write a new record).
   * Finish with commitExtend(). Channels that cannot grow a record lack it.
   */
  extendAt?(length: number): number;
  commitExtend?(length: number): void;
  /**
   * True where each publish costs a message (the postMessage channel): a
   * stream writer then publishes once per task instead of once per
   * microtask, so that a loop of `await send(v)` sends one message per
   * batch, not one per value.
   */
  readonly coalesce?: boolean;
  tryWrite(tag: number, payload: Uint8Array): boolean;
  publish(): void;
  close(): void;
  consumerClosed(): boolean;
  /** Publishes, then resolves once `length` fits or retrying would throw. */
  waitForSpace(length: number, timeoutMs?: number): Promise<boolean>;
}

/** The reading end of a record channel (RingConsumer has this shape). */
export interface RecordConsumer {
  /** The next record (a view valid until release()), null when none; throws once the channel ended. */
  tryRead(): { tag: number; payload: Uint8Array } | null;
  /**
   * tryRead() without allocating: the next record's tag, or -1 when none;
   * its payload is recordBytes[recordOffset, recordOffset + recordLength),
   * valid until release().
   */
  nextRecord(): number;
  readonly recordBytes: Uint8Array;
  readonly recordOffset: number;
  readonly recordLength: number;
  release(): void;
  close(): void;
  producerClosed(): boolean;
  /** True when tryRead() would return a record or throw. */
  hasData(): boolean;
  /** Releases, then resolves once tryRead() would return a record or throw. */
  waitForData(timeoutMs?: number): Promise<boolean>;
  /**
   * Releases and arms a wake-up without waiting: null when tryRead() has
   * something now, else a promise that settles once the producer wrote (or
   * ended the channel). unpark() afterwards (RingConsumer.park).
   */
  park(): Promise<unknown> | null;
  unpark(): void;
}

// ---------------------------------------------------------------------------
// Values

/** How one value becomes a record payload and back, in place. */
export interface ValueCodec {
  /** Encodes into bytes[start, end), returns the bytes written; throws MessageTooLarge when it does not fit. */
  encodeAt(value: unknown, bytes: Uint8Array, start: number, end: number): number;
  encode(value: unknown): Uint8Array;
  /** Exact encoded size (only asked for after encodeAt found the room too small). */
  size(value: unknown): number;
  /**
   * Decodes the first value of bytes[start, end) (more may follow) and sets
   * `next.at` to where it ends; the result must not refer to `bytes` (it
   * dies at release).
   */
  decodeAt(bytes: Uint8Array, start: number, end: number, next: { at: number }): unknown;
}

/** Values as core/CODEC.md's generic mapping encodes them (codec.ts). */
export const plainCodec: ValueCodec = {
  encodeAt: encodeToRange,
  encode,
  size: encodedSize,
  decodeAt: (bytes, start, end, next) => decodeFirst(bytes, start, end, next),
};

function isTooLarge(e: unknown): boolean {
  return e instanceof FerryError && e.kind === ErrorKind.MessageTooLarge;
}

/**
 * Writes records whose payload is a fixed header followed by one encoded
 * value, straight into the channel's reservation when it fits. It learns the
 * usual value size so that the first reservation is nearly always enough.
 */
export class RecordWriter {
  private hint = 248;

  /**
   * @param parted a value too large for one record is returned whole (its
   *   caller sends it in parts: web/src/protocol.ts) instead of throwing
   *   MessageTooLarge.
   */
  constructor(private readonly parted = false) {}

  /**
   * Writes `head[0, headLen)` + `value` as one record. Returns null once it is
   * written (not yet published), or the complete payload when the channel has
   * no room now (the caller waits and writes it later) or, if parted, never
   * will. Throws encoding errors, MessageTooLarge (can never fit, unless
   * parted) and the channel's errors.
   */
  put(p: RecordProducer, tag: number, head: Uint8Array | null, headLen: number, value: unknown, codec: ValueCodec): Uint8Array | null {
    const max = p.maxPayload;
    const want = Math.min(max, headLen + this.hint);
    let at = p.reserveAt(want, tag);
    if (at >= 0) {
      let n = -1;
      try {
        n = codec.encodeAt(value, p.bytes, at + headLen, at + want);
      } catch (e) {
        if (!isTooLarge(e)) throw e;
      }
      if (n >= 0) {
        if (headLen !== 0) p.bytes.set(head!.subarray(0, headLen), at);
        p.commit(headLen + n);
        this.learn(n);
        return null;
      }
    }
    const size = codec.size(value);
    this.learn(size);
    const total = headLen + size;
    if (total > max && !this.parted) {
      throw new MessageTooLargeError(`value encodes to ${total} bytes, more than the ${max} bytes one record of this channel can carry`, 'web/stream');
    }
    at = total > max ? -1 : p.reserveAt(total, tag);
    if (at >= 0) {
      const n = codec.encodeAt(value, p.bytes, at + headLen, at + total);
      if (headLen !== 0) p.bytes.set(head!.subarray(0, headLen), at);
      p.commit(headLen + n);
      return null;
    }
    const body = codec.encode(value);
    const full = new Uint8Array(headLen + body.length);
    if (headLen !== 0) full.set(head!.subarray(0, headLen));
    full.set(body, headLen);
    return full;
  }

  /**
   * Appends `value` to the channel's last unpublished record when the
   * channel can grow it in place (values of one batch share a record): the
   * bytes written; -1 when it cannot (write a new record with put()).
   * Throws encoding errors.
   */
  append(p: RecordProducer, value: unknown, codec: ValueCodec): number {
    if (p.extendAt === undefined) return -1;
    let want = this.hint;
    let at = p.extendAt(want);
    if (at < 0) return -1;
    let n = -1;
    try {
      n = codec.encodeAt(value, p.bytes, at, at + want);
    } catch (e) {
      if (!isTooLarge(e)) throw e;
    }
    if (n < 0) {
      want = codec.size(value);
      this.learn(want);
      at = p.extendAt(want);
      if (at < 0) return -1;
      n = codec.encodeAt(value, p.bytes, at, at + want);
    }
    p.commitExtend!(n);
    this.learn(n);
    return n;
  }

  /** The complete payload as new bytes (for records that wait in a queue). */
  bytes(head: Uint8Array | null, headLen: number, value: unknown, codec: ValueCodec): Uint8Array {
    const body = codec.encode(value);
    const full = new Uint8Array(headLen + body.length);
    if (headLen !== 0) full.set(head!.subarray(0, headLen));
    full.set(body, headLen);
    return full;
  }

  private learn(n: number): void {
    // Twice the last size, so that a value a little larger still fits.
    this.hint = Math.min(1 << 20, Math.max(56, 2 * n));
  }
}

// Little-endian u64 (ids and offsets stay below 2^53) without a DataView.
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

/** Stream value records carry tag 0 (stream/STREAMS.md). */
export const kValueTag = 0;

const kOrigin = 'web/stream';
const RESOLVED: Promise<void> = Promise.resolve();

function closedByUs(): ClosedError {
  return new ClosedError('the stream is closed for sending', kOrigin);
}

// ---------------------------------------------------------------------------
// Writer

interface QueuedSend {
  value: unknown;
  bytes: Uint8Array | null;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** What the owner of an end wants to hear about. */
export interface EndHooks {
  /** recv() found the channel closed and drained: resolve to end the stream, throw to fail it. */
  atEnd?: () => Promise<void> | void;
  /** The end is finished (closed, failed or drained). */
  onFinish?: () => void;
  /** writable.abort(reason) / readable.cancel(reason). */
  onAbort?: (reason: unknown) => void;
}

// What both ends share: the channel wait in progress, if any, which the pool
// awaits before it frees the channel's memory.
abstract class ChannelEnd {
  protected waitP: Promise<unknown> | null = null;

  /** Resolves when no channel wait is in progress (the memory may be reused then). */
  idle(): Promise<void> {
    return this.waitP === null ? RESOLVED : this.waitP.then(() => this.idle());
  }

  /** True while a channel wait is in progress. */
  get waiting(): boolean {
    return this.waitP !== null;
  }
}

/**
 * The sending end of a stream. One channel producer; sends publish once per
 * microtask (many sends in one turn become one batch).
 */
export class StreamWriter<T = unknown> extends ChannelEnd {
  private readonly queue: QueuedSend[] = [];
  private qHead = 0;
  private pumping = false;
  private error: FerryError | null = null;
  private closing = false;
  private closed = false;
  private closeWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private publishQueued = false;
  private writableStream: WritableStream<T> | null = null;
  private readonly records = new RecordWriter();
  private packed = 0; // bytes appended to the channel's last record
  private readonly packLimit: number; // a record stops growing here: the reader releases per record

  constructor(
    private readonly p: RecordProducer,
    private readonly codec: ValueCodec = plainCodec,
    private readonly hooks: EndHooks = {},
  ) {
    super();
    this.packLimit = p.maxPayload >>> 2;
  }

  /** Largest encoded value one record carries. */
  get maxValueBytes(): number {
    return this.p.maxPayload;
  }

  /**
   * Writes `value` if the channel has room now: true; false when it is full
   * (or earlier sends still wait). Throws the error that ended the stream,
   * ClosedError after close(), MessageTooLarge, encoding errors.
   */
  trySend(value: T): boolean {
    this.checkOpen();
    if (this.qHead < this.queue.length) return false;
    const rest = this.write(value);
    if (rest !== null) {
      this.p.publish(); // the receiver can only make room for what it sees
      return false;
    }
    this.schedulePublish();
    return true;
  }

  /** Resolves once `value` is in the channel; waits while it is full. */
  send(value: T): Promise<void> {
    if (this.error !== null) return Promise.reject(this.error);
    if (this.closing) return Promise.reject(closedByUs());
    if (this.qHead === this.queue.length) {
      let rest: Uint8Array | null;
      try {
        rest = this.write(value);
      } catch (e) {
        return Promise.reject(this.channelError(e));
      }
      if (rest === null) {
        this.schedulePublish();
        return RESOLVED;
      }
      return new Promise<void>((resolve, reject) => {
        this.queue.push({ value, bytes: rest, resolve, reject });
        void this.pump();
      });
    }
    let bytes: Uint8Array;
    try {
      bytes = this.records.bytes(null, 0, value, this.codec);
      if (bytes.length > this.p.maxPayload) {
        throw new MessageTooLargeError(`value encodes to ${bytes.length} bytes, more than the ${this.p.maxPayload} bytes one record of this stream can carry`, kOrigin);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ value, bytes, resolve, reject });
      void this.pump();
    });
  }

  /**
   * Sends every value in order (C++ send_batch's twin): resolves once all are
   * in the channel, waiting only while it is full, so a batch costs one
   * promise rather than one per value. On an error the values before it were
   * sent and none after it.
   */
  async sendBatch(values: Iterable<T>): Promise<void> {
    for (const v of values) {
      const sent = this.send(v);
      if (sent !== RESOLVED) await sent;
    }
  }

  /**
   * Ends this direction once every queued send is in the channel: the
   * receiver drains and then sees the end. Idempotent.
   */
  close(): Promise<void> {
    if (this.closed) return this.error !== null && this.error.kind !== ErrorKind.Closed ? Promise.reject(this.error) : RESOLVED;
    this.closing = true;
    if (this.error !== null) return Promise.reject(this.error);
    if (this.qHead === this.queue.length) {
      this.finishClose();
      return RESOLVED;
    }
    return new Promise<void>((resolve, reject) => this.closeWaiters.push({ resolve, reject }));
  }

  /** Ends the stream with `error`: queued and later sends reject with it. */
  fail(error: FerryError): void {
    if (this.error !== null) return;
    this.error = error;
    this.closing = true;
    for (let i = this.qHead; i < this.queue.length; i++) this.queue[i]!.reject(error);
    this.queue.length = 0;
    this.qHead = 0;
    for (const w of this.closeWaiters) w.reject(error);
    this.closeWaiters = [];
    this.endChannel();
  }

  /** True once closed or failed. */
  get isClosed(): boolean {
    return this.closing;
  }

  /** A WHATWG WritableStream over this end: writer.ready resolves when the channel took the last value. */
  get writable(): WritableStream<T> {
    this.writableStream ??= this.makeWritable(null);
    return this.writableStream;
  }

  /**
   * @internal A new WritableStream over this end whose sink holds `owner`:
   * the pool's Stream stays alive while its writable is used.
   */
  makeWritable(owner: object | null): WritableStream<T> {
    const sink: UnderlyingSink<T> & { owner: object | null } = {
      owner,
      write: (chunk) => this.send(chunk),
      close: () => this.close(),
      abort: (reason) => {
        if (this.hooks.onAbort) this.hooks.onAbort(reason);
        else this.fail(new ClosedError(`the writable was aborted: ${String(reason)}`, kOrigin));
      },
    };
    return new WritableStream<T>(sink, new CountQueuingStrategy({ highWaterMark: 1 }));
  }

  private checkOpen(): void {
    if (this.error !== null) throw this.error;
    if (this.closing) throw closedByUs();
  }

  // Writes `value` into the channel's batch: appended to its last record,
  // else as a new record. null once written; else the complete payload (no
  // room now: the caller queues it).
  private write(value: T): Uint8Array | null {
    if (this.packed < this.packLimit) {
      const n = this.records.append(this.p, value, this.codec);
      if (n >= 0) {
        this.packed += n;
        return null;
      }
    }
    this.packed = 0;
    return this.records.put(this.p, kValueTag, null, 0, value, this.codec);
  }

  // A channel error (the other side closed, the ring was aborted) ends the
  // writer; encoding errors only fail the one send.
  private channelError(e: unknown): unknown {
    if (e instanceof FerryError && (e.kind === ErrorKind.Closed || e.kind === ErrorKind.WorkerCrashed || e.kind === ErrorKind.Cancelled)) {
      this.fail(e);
      return this.error;
    }
    return e;
  }

  private schedulePublish(): void {
    if (this.publishQueued) return;
    this.publishQueued = true;
    const publish = () => {
      this.publishQueued = false;
      if (!this.closed) this.p.publish();
    };
    if (this.p.coalesce === true) setTimeout(publish, 0);
    else queueMicrotask(publish);
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.qHead < this.queue.length && this.error === null) {
        const q = this.queue[this.qHead]!;
        let ok: boolean;
        try {
          ok = this.p.tryWrite(kValueTag, q.bytes!);
        } catch (e) {
          this.channelError(e);
          if (this.error === null) {
            this.qHead++;
            q.reject(e);
          }
          continue;
        }
        if (ok) {
          this.queue[this.qHead++] = undefined as unknown as QueuedSend;
          q.resolve();
          continue;
        }
        const wait = this.p.waitForSpace(q.bytes!.length);
        this.waitP = wait;
        try {
          await wait;
        } finally {
          this.waitP = null;
        }
      }
    } finally {
      this.pumping = false;
    }
    if (this.qHead === this.queue.length) {
      this.queue.length = 0;
      this.qHead = 0;
    }
    if (this.error !== null) return;
    this.schedulePublish();
    if (this.closing && this.qHead === this.queue.length) {
      this.finishClose();
      for (const w of this.closeWaiters) w.resolve();
      this.closeWaiters = [];
    }
  }

  private finishClose(): void {
    if (this.closed) return;
    this.endChannel();
  }

  private endChannel(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.p.close();
    } catch {
      // already ended from the other side: nothing to tell it
    }
    this.hooks.onFinish?.();
  }
}

// ---------------------------------------------------------------------------
// Reader

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined }) as IteratorReturnResult<undefined>;

/**
 * The receiving end of a stream: recv(), for await, or readable. Values are
 * decoded (copied) out of the channel, which is released after each one.
 */
export class StreamReader<T = unknown> extends ChannelEnd implements AsyncIterable<T> {
  private error: unknown = null;
  private ended = false; // saw the end, was closed, or failed
  private finished = false; // onFinish ran
  private busy: Promise<unknown> = RESOLVED; // serialises recv() calls
  private active = 0; // recv() calls not yet settled
  private wake: (() => void) | null = null;
  private readableStream: ReadableStream<T> | null = null;
  // A record read and not yet used up, and where its next value starts (its
  // values are handed out one per call; the record is released after its last).
  private peeked: { tag: number; payload: Uint8Array } | null = null;
  private at = 0;
  private readonly nextAt = { at: 0 };
  private drainError: unknown = null; // failAfterDrain(): the error once the channel is empty
  private pending: unknown = null; // a value's decoding error met by recvBatch() after it had values

  constructor(
    private readonly c: RecordConsumer,
    private readonly codec: ValueCodec = plainCodec,
    private readonly hooks: EndHooks = {},
  ) {
    super();
  }

  /**
   * The next value if one is there now: {done: false, value}; {done: true} at
   * the end (only when the end needs no waiting); null when nothing is there
   * yet. Throws a record's decoding error (the record is consumed) or the
   * error that ended the stream.
   */
  tryRecv(): IteratorResult<T, undefined> | null {
    if (this.active !== 0) return null; // an awaited recv() goes first
    if (this.error !== null) throw this.error;
    if (this.pending !== null) throw this.takePending();
    if (this.ended) return DONE;
    let rec: { tag: number; payload: Uint8Array } | null;
    try {
      rec = this.next();
    } catch (e) {
      if (e instanceof FerryError && e.kind === ErrorKind.Closed && this.hooks.atEnd === undefined) {
        this.end(null);
        return DONE;
      }
      if (!(e instanceof FerryError && e.kind === ErrorKind.Closed)) {
        this.end(e);
        throw e;
      }
      return null; // the end needs the owner's word: recv() asks it
    }
    if (rec === null) return null;
    return this.take(rec);
  }

  /** Resolves with the next value, or {done: true} once the stream ended normally. */
  recv(): Promise<IteratorResult<T, undefined>> {
    if (this.pending !== null && this.active === 0 && this.error === null) return Promise.reject(this.takePending());
    if (this.active === 0 && this.error === null && !this.ended) {
      // Fast path: a record is there now.
      let rec: { tag: number; payload: Uint8Array } | null = null;
      try {
        rec = this.next();
      } catch {
        rec = null; // the slow path reports it
      }
      if (rec !== null) {
        try {
          return Promise.resolve(this.take(rec));
        } catch (e) {
          return Promise.reject(e);
        }
      }
    }
    this.active++;
    const p = this.busy.then(() => this.recvSlow());
    this.busy = p.then(
      () => (this.active--, undefined),
      () => (this.active--, undefined),
    );
    return p;
  }

  /**
   * Waits for at least one value, then takes what is there now, up to `max`
   * (C++ recv_batch's twin): one promise for many values. Resolves with []
   * once the stream ended normally; rejects as recv() does. A value that
   * does not decode after some were taken ends the batch early, and the next
   * call rejects with its error.
   */
  async recvBatch(max: number): Promise<T[]> {
    if (!(max >= 1)) throw new InvalidArgumentError(`recvBatch(${max}): max must be at least 1`, kOrigin);
    const first = await this.recv();
    if (first.done) return [];
    const out = [first.value];
    while (out.length < max) {
      let r: IteratorResult<T, undefined> | null;
      try {
        r = this.tryRecv();
      } catch (e) {
        if (this.error === null) this.pending = e; // one value's error: the next call reports it
        break;
      }
      if (r === null || r.done) break;
      out.push(r.value);
    }
    return out;
  }

  /** Stops reading: the sender's later sends fail with Closed. Pending recv() calls end with {done: true}. */
  close(): void {
    if (this.ended) return;
    this.end(null);
  }

  /** Ends the stream with `error`: pending and later recv() calls reject with it. */
  fail(error: unknown): void {
    if (this.ended) return; // an end already seen stays the end
    this.end(error);
  }

  /**
   * @internal The sender died (its worker crashed) and the channel was
   * aborted: what it had published is still read, in order, then recv()
   * rejects with `error` instead of the channel's own abort error.
   */
  failAfterDrain(error: unknown): void {
    if (this.ended) return;
    this.drainError = error;
    this.wake?.(); // a waiting recv() reads the rest, then fails
    if (this.active === 0 && this.peeked === null) {
      try {
        this.peeked = this.c.tryRead();
        this.at = 0;
      } catch {
        this.fail(error); // nothing was left
      }
    }
  }

  /** True once the end was seen, or the reader was closed or failed. */
  get isEnded(): boolean {
    return this.ended;
  }

  [Symbol.asyncIterator](): AsyncIterator<T, undefined> {
    return this.makeIterator(null);
  }

  /** @internal An iterator over this end that holds `owner` (see makeWritable). */
  makeIterator(owner: object | null): AsyncIterator<T, undefined> & { owner: object | null } {
    return {
      owner,
      next: () => this.recv(),
      return: () => {
        this.close();
        return Promise.resolve(DONE);
      },
    };
  }

  /** A WHATWG ReadableStream over this end (highWaterMark 0: it reads only when asked). */
  get readable(): ReadableStream<T> {
    this.readableStream ??= this.makeReadable(null);
    return this.readableStream;
  }

  /** @internal A new ReadableStream over this end whose source holds `owner` (see makeWritable). */
  makeReadable(owner: object | null): ReadableStream<T> {
    const source: UnderlyingDefaultSource<T> & { owner: object | null } = {
      owner,
      pull: async (controller) => {
        const r = await this.recv();
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      },
      cancel: (reason) => {
        if (this.hooks.onAbort) this.hooks.onAbort(reason);
        else this.close();
      },
    };
    return new ReadableStream<T>(source, new CountQueuingStrategy({ highWaterMark: 0 }));
  }

  /**
   * @internal The sender is done (the task answered): if nothing is left to
   * read, end now — with `error` if the task failed — so that a caller who
   * never reads the output does not keep the stream alive. A record that is
   * left waits for recv().
   */
  endIfDrained(error: unknown): void {
    if (this.ended || this.active !== 0 || this.peeked !== null) return;
    try {
      this.peeked = this.c.tryRead();
      this.at = 0;
    } catch (e) {
      if (e instanceof FerryError && e.kind === ErrorKind.Closed) {
        if (error !== undefined) this.fail(error);
        else this.end(null);
      } else {
        this.fail(e);
      }
    }
  }

  private takePending(): unknown {
    const e = this.pending;
    this.pending = null;
    return e;
  }

  private next(): { tag: number; payload: Uint8Array } | null {
    const p = this.peeked;
    if (p !== null) {
      this.peeked = null;
      return p;
    }
    this.at = 0;
    try {
      return this.c.tryRead();
    } catch (e) {
      // The aborted channel is empty now: the owner's error, not the ring's.
      if (this.drainError !== null && !(e instanceof FerryError && e.kind === ErrorKind.CorruptRecord)) throw this.drainError;
      throw e;
    }
  }

  // The value at `this.at` of `rec`; the record is kept for the next call
  // while values are left in it, else released. A value that does not decode
  // is consumed and thrown (bytes that are no value end their record).
  private take(rec: { tag: number; payload: Uint8Array }): IteratorResult<T, undefined> {
    let value: unknown;
    let bad: unknown = null;
    const bytes = rec.payload;
    const end = bytes.length;
    if (rec.tag !== kValueTag || end === 0) {
      bad = new DeserializationError(rec.tag !== kValueTag ? `stream record with tag ${rec.tag}` : 'empty stream record (tag 0 carries at least one value)', kOrigin);
      this.at = end;
    } else {
      const start = this.at;
      try {
        value = this.codec.decodeAt(bytes, start, end, this.nextAt);
        this.at = this.nextAt.at;
      } catch (e) {
        bad = e;
        try {
          this.at = valueEnd(bytes, start, end);
        } catch {
          this.at = end;
        }
      }
    }
    if (this.at < end) {
      this.peeked = rec;
    } else {
      this.c.release();
    }
    if (bad !== null) throw bad;
    return { done: false, value: value as T };
  }

  private async recvSlow(): Promise<IteratorResult<T, undefined>> {
    for (;;) {
      if (this.error !== null) throw this.error;
      if (this.ended) return DONE;
      let rec: { tag: number; payload: Uint8Array } | null;
      try {
        rec = this.next();
      } catch (e) {
        if (e instanceof FerryError && e.kind === ErrorKind.Closed) {
          // The sender closed and we read everything: the owner decides
          // whether that is the end or a failure (a task's error result).
          try {
            await this.hooks.atEnd?.();
          } catch (err) {
            this.fail(err);
            throw err;
          }
          if (this.error !== null) throw this.error;
          this.end(null);
          return DONE;
        }
        this.fail(e);
        throw e;
      }
      if (rec !== null) return this.take(rec);
      await this.waitData();
    }
  }

  // Waits for the channel, or for fail()/close() from this side.
  private waitData(): Promise<void> {
    const wait = this.c.waitForData();
    this.waitP = wait;
    void wait.then(
      () => {
        if (this.waitP === wait) this.waitP = null;
      },
      () => {
        if (this.waitP === wait) this.waitP = null;
      },
    );
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      void wait.then(
        () => resolve(),
        () => resolve(),
      );
    }).finally(() => {
      this.wake = null;
    });
  }

  private end(error: unknown): void {
    this.ended = true;
    if (error !== null && this.error === null) this.error = error;
    try {
      this.c.close();
    } catch {
      // already ended from the other side
    }
    this.wake?.();
    if (!this.finished) {
      this.finished = true;
      this.hooks.onFinish?.();
    }
  }
}

// ---------------------------------------------------------------------------
// The pool's stream

/** What the pool does for a Stream (pool/streams.ts implements it). */
export interface StreamControl {
  cancel(reason: unknown): void;
}

/**
 * One running stream task, as the pool's caller holds it: send() values to
 * the task, recv() (or for await) its output, `done` for its result.
 *
 * - close() ends our sending direction (the task's input ends after what was
 *   sent); reading to the end (or breaking out of for await, or
 *   readable.cancel()) ends the other.
 * - recv() gives {done: true} once the task closed its output and returned;
 *   if the task failed, recv() rejects with its error instead.
 * - cancel(reason) ends both directions at once with CancelledError, and
 *   the task's AbortSignal fires.
 * - The stream's memory is freed when the task's result has arrived and our
 *   reading end is finished (read to the end, closed or cancelled).
 * - A Stream dropped with a direction still open is closed once it is
 *   garbage-collected (its iterator, readable and writable keep it alive),
 *   with a console warning and pool.stats().leakedStreams. Hold the Stream
 *   while you await `done`.
 */
export class Stream<In = unknown, Out = unknown, R = unknown> implements AsyncIterable<Out> {
  /** The task's result; rejects with its error (or WorkerCrashed, Cancelled, Closed). */
  readonly done: Promise<R>;

  /** @internal built by WorkerPool.stream() */
  constructor(
    readonly id: number,
    /** @internal */ readonly writer: StreamWriter<In>,
    /** @internal */ readonly reader: StreamReader<Out>,
    done: Promise<R>,
    private readonly control: StreamControl,
  ) {
    this.done = done;
    done.catch(() => {}); // reported through recv() too; never an unhandled rejection
  }

  /** Sends one value to the task; waits while the channel is full (backpressure). */
  send(value: In): Promise<void> {
    return this.writer.send(value);
  }
  /** Sends if there is room now: false when the channel is full. */
  trySend(value: In): boolean {
    return this.writer.trySend(value);
  }
  /** Sends every value in order; one promise for the batch (StreamWriter.sendBatch). */
  sendBatch(values: Iterable<In>): Promise<void> {
    return this.writer.sendBatch(values);
  }
  /** Ends our sending direction after what was sent. */
  close(): Promise<void> {
    return this.writer.close();
  }
  /** The next value from the task: {done: false, value}, or {done: true} at the end. */
  recv(): Promise<IteratorResult<Out, undefined>> {
    return this.reader.recv();
  }
  /** The next value if one is there now, else null. */
  tryRecv(): IteratorResult<Out, undefined> | null {
    return this.reader.tryRecv();
  }
  /** At least one value, up to `max`; [] once the stream ended (StreamReader.recvBatch). */
  recvBatch(max: number): Promise<Out[]> {
    return this.reader.recvBatch(max);
  }
  /** Ends both directions with CancelledError and cancels the task. */
  cancel(reason?: unknown): void {
    this.control.cancel(reason);
  }
  // The iterator and the adapters hold this Stream, so that it lives as long
  // as any of them is used (the pool's garbage backstop watches it).
  [Symbol.asyncIterator](): AsyncIterator<Out, undefined> {
    return this.reader.makeIterator(this);
  }
  /** The task's output as a WHATWG ReadableStream (pulls from the channel). */
  get readable(): ReadableStream<Out> {
    this.readableStream ??= this.reader.makeReadable(this);
    return this.readableStream;
  }
  /** The task's input as a WHATWG WritableStream (ready when the channel has room). */
  get writable(): WritableStream<In> {
    this.writableStream ??= this.writer.makeWritable(this);
    return this.writableStream;
  }
  private readableStream: ReadableStream<Out> | null = null;
  private writableStream: WritableStream<In> | null = null;
}
