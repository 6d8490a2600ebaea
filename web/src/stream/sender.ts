// ferry streams (internal): Sender, the sending end of a stream —
// the twin of stream/sender.hpp. Sends queue in order behind a full channel
// and publish once per microtask (once per task where each publish costs a
// message); a value larger than one record goes in part records
// (web/PROTOCOL.md "Stream rings"). Part of stream.ts: import stream.ts, not
// this file.

import { ClosedError, ErrorKind, FerryError, MessageTooLargeError } from '../errors.js';
import { kMaxPartedBytes, putU64 } from '../protocol.js';
import { RecordWriter, plainCodec, type RecordProducer, type ValueCodec } from '../records.js';
import { ChannelEnd, RESOLVED, kFirstPartHeaderBytes, kFirstPartTag, kNextPartTag, kOrigin, kValueTag, type EndHooks } from './end.js';

function closedByUs(): ClosedError {
  return new ClosedError('the stream is closed for sending', kOrigin);
}

// A stream value may encode to at most 1 GiB, as a call's record may.
function checkValueSize(length: number): void {
  if (length > kMaxPartedBytes) throw new MessageTooLargeError(`value encodes to ${length} bytes, more than the 1 GiB a stream value may have`, kOrigin);
}

interface QueuedSend {
  /** The value's encoding: one tag-0 record, or parts when it is larger than one record. */
  bytes: Uint8Array;
  /** Parts: how many of `bytes` are in the channel. */
  at: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * The sending end of a stream. One channel producer; sends publish once per
 * microtask (many sends in one turn become one batch). A value larger than
 * one record (maxValueBytes) goes in parts of a quarter of the channel each,
 * with nothing else between them; send() waits as often as the channel fills.
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
  private readonly records = new RecordWriter(checkValueSize); // a value too large for a record comes back whole
  private packed = 0; // bytes appended to the channel's last record
  private readonly packLimit: number; // a record stops growing here: the reader releases per record
  private readonly partBytes: number; // payload of a part record: a quarter of the channel

  constructor(
    private readonly p: RecordProducer,
    private readonly codec: ValueCodec = plainCodec,
    private readonly hooks: EndHooks = {},
  ) {
    super();
    this.packLimit = p.maxPayload >>> 2;
    this.partBytes = (p.maxPayload + 8) >>> 2;
  }

  /** Largest encoded value one record carries; send() takes larger ones (up to 1 GiB) in parts. */
  get maxValueBytes(): number {
    return this.p.maxPayload;
  }

  /**
   * Writes `value` if the channel has room now: true; false when it is full
   * (or earlier sends still wait). Throws the error that ended the stream,
   * ClosedError after close(), MessageTooLarge for a value larger than one
   * record (it never waits, so it sends no parts: use send()), encoding errors.
   */
  trySend(value: T): boolean {
    this.checkOpen();
    if (this.qHead < this.queue.length) return false;
    const rest = this.write(value);
    if (rest !== null && rest.length > this.p.maxPayload) {
      throw new MessageTooLargeError(
        `value encodes to ${rest.length} bytes, more than the ${this.p.maxPayload} bytes one record of this stream can carry: trySend() never waits, use send() for values larger than one record`,
        kOrigin,
      );
    }
    if (rest !== null) {
      this.p.publish(); // the receiver can only make room for what it sees
      return false;
    }
    this.schedulePublish();
    return true;
  }

  /**
   * Resolves once `value` is in the channel; waits while it is full, and
   * between the parts of a value larger than one record. Rejects with
   * MessageTooLarge (nothing written) above 1 GiB. A send that rejects after
   * its first part (fail(), the other side closed) delivers nothing of its
   * value: the receiver drops the parts it got.
   */
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
      return this.enqueue(rest);
    }
    let bytes: Uint8Array;
    try {
      const size = this.codec.size(value);
      checkValueSize(size);
      bytes = this.records.bytes(null, 0, value, this.codec, size);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.enqueue(bytes);
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

  /**
   * Ends the stream with `error`: queued and later sends reject with it (a
   * value whose parts were under way is dropped by the receiver).
   */
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
  // room now, or larger than one record: the caller queues it).
  private write(value: T): Uint8Array | null {
    if (this.packed < this.packLimit) {
      const n = this.records.append(this.p, value, this.codec);
      if (n >= 0) {
        this.packed += n;
        return null;
      }
    }
    // The last record is full: on a ring, publish it (and the rest of the
    // batch) before starting the next one, so that the receiver works on a
    // quarter of the channel while this side fills the next, as C++
    // publishes at the latest every quarter ring (stream/detail/core.hpp).
    // Without it a loop of trySend() in one turn publishes only once the
    // ring is full, and the two sides take turns instead of running side by
    // side. Not where each publish costs a message (coalesce): there one
    // message per task carries more (8-byte values: 3.2 M/s against 1.4 M/s
    // in Chromium).
    if (this.p.coalesce !== true) this.p.publish();
    this.packed = 0;
    return this.records.put(this.p, kValueTag, null, 0, value, this.codec);
  }

  private enqueue(bytes: Uint8Array): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ bytes, at: 0, resolve, reject });
      void this.pump();
    });
  }

  // Writes the parts of q.bytes from q.at on while there is room: 0 once the
  // last is in, else the payload length of the part that waits for room.
  // Each part is its own record, and none grows: the next value starts a
  // record of its own.
  private writeParts(q: QueuedSend): number {
    const bytes = q.bytes;
    for (;;) {
      const head = q.at === 0 ? kFirstPartHeaderBytes : 0;
      const n = Math.min(this.partBytes - head, bytes.length - q.at);
      const at = this.p.reserveAt(head + n, head !== 0 ? kFirstPartTag : kNextPartTag);
      if (at < 0) return head + n;
      const b = this.p.bytes; // after reserveAt: a channel's chunk may have grown
      if (head !== 0) putU64(b, at, bytes.length);
      b.set(bytes.subarray(q.at, q.at + n), at + head);
      this.p.commit(head + n);
      this.packed = this.packLimit; // append() must not grow this record
      q.at += n;
      if (q.at === bytes.length) return 0;
    }
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
        let wanted: number; // 0 once q is in, else the record length that waits for room
        try {
          if (q.bytes.length > this.p.maxPayload) wanted = this.writeParts(q);
          else wanted = this.p.tryWrite(kValueTag, q.bytes) ? 0 : q.bytes.length;
        } catch (e) {
          this.channelError(e);
          if (this.error === null) {
            this.qHead++;
            q.reject(e);
          }
          continue;
        }
        if (wanted === 0) {
          this.queue[this.qHead++] = undefined as unknown as QueuedSend;
          q.resolve();
          continue;
        }
        const wait = this.p.waitForSpace(wanted); // publishes first: the receiver frees only what it sees
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
