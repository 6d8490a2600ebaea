// ferry streams (internal): Sender, the sending end of a stream —
// the twin of stream/sender.hpp. Sends queue in order behind a full channel
// and publish once per microtask (once per task where each publish costs a
// message). Part of stream.ts: import stream.ts, not this file.

import { ClosedError, ErrorKind, FerryError, MessageTooLargeError } from '../errors.js';
import { RecordWriter, plainCodec, type RecordProducer, type ValueCodec } from '../records.js';
import { ChannelEnd, RESOLVED, kOrigin, kValueTag, type EndHooks } from './end.js';

function closedByUs(): ClosedError {
  return new ClosedError('the stream is closed for sending', kOrigin);
}

interface QueuedSend {
  value: unknown;
  bytes: Uint8Array | null;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * The sending end of a stream. One channel producer; sends publish once per
 * microtask (many sends in one turn become one batch).
 */
export class Sender<T = unknown> extends ChannelEnd {
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
