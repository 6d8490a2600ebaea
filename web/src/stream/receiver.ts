// ferry streams (internal): Receiver, the receiving end of a stream —
// the twin of stream/receiver.hpp. Values are decoded one per call out of
// the channel's records, each record released after its last value; a value
// sent in parts is put together first, each part released as it is copied.
// Part of stream.ts: import stream.ts, not this file.

import { valueEnd } from '../codec.js';
import { DeserializationError, ErrorKind, FerryError, InvalidArgumentError } from '../errors.js';
import { Assembly, getU64, kMaxPartedBytes } from '../protocol.js';
import { plainCodec, type RecordConsumer, type ValueCodec } from '../records.js';
import { ChannelEnd, RESOLVED, kFirstPartHeaderBytes, kFirstPartTag, kNextPartTag, kOrigin, kValueTag, type EndHooks } from './end.js';

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined }) as IteratorReturnResult<undefined>;

/**
 * The receiving end of a stream: recv(), for await, or readable. Values are
 * decoded (copied) out of the channel, which is released after each one. A
 * value sent in parts is copied into a buffer of its own as they come (each
 * part released at once: the sender needs the room) and decoded once whole;
 * one left unfinished (its send failed, the stream ended) is dropped.
 */
export class Receiver<T = unknown> extends ChannelEnd implements AsyncIterable<T> {
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
  // A value in parts being put together.
  private parts: Assembly | null = null;
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
   * yet (the parts of a value that are there are taken). Throws a record's
   * decoding error (the record is consumed) or the error that ended the
   * stream.
   */
  tryRecv(): IteratorResult<T, undefined> | null {
    if (this.active !== 0) return null; // an awaited recv() goes first
    if (this.error !== null) throw this.error;
    if (this.pending !== null) throw this.takePending();
    if (this.ended) return DONE;
    for (;;) {
      let rec: { tag: number; payload: Uint8Array } | null;
      try {
        rec = this.next();
      } catch (e) {
        if (e instanceof FerryError && e.kind === ErrorKind.Closed && this.hooks.atEnd === undefined) {
          this.end(null);
          return DONE;
        }
        if (!this.isChannelEnd(e)) {
          this.end(e);
          throw e;
        }
        return null; // the end needs the owner's word: recv() asks it
      }
      if (rec === null) return null;
      const r = this.take(rec);
      if (r !== null) return r;
    }
  }

  /** Resolves with the next value, or {done: true} once the stream ended normally. */
  recv(): Promise<IteratorResult<T, undefined>> {
    if (this.pending !== null && this.active === 0 && this.error === null) return Promise.reject(this.takePending());
    if (this.active === 0 && this.error === null && !this.ended) {
      // Fast path: a value is there now.
      for (;;) {
        let rec: { tag: number; payload: Uint8Array } | null = null;
        try {
          rec = this.next();
        } catch {
          rec = null; // the slow path reports it
        }
        if (rec === null) break;
        let r: IteratorResult<T, undefined> | null;
        try {
          r = this.take(rec);
        } catch (e) {
          return Promise.reject(e);
        }
        if (r !== null) return Promise.resolve(r);
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
      if (this.isChannelEnd(e)) {
        if (error !== undefined) this.fail(error);
        else this.end(null);
      } else {
        this.fail(e);
      }
    }
  }

  // Whether e (from reading the channel) says that the sender closed and
  // everything was read: Closed; or, where an owner decides the end, the
  // kind the sender closed with (a task that failed gives its rings its
  // error's kind), which the owner's answer replaces with the task's error.
  private isChannelEnd(e: unknown): boolean {
    if (!(e instanceof FerryError)) return false;
    if (e.kind === ErrorKind.Closed) return true;
    return this.hooks.atEnd !== undefined && this.drainError === null && e.kind !== ErrorKind.CorruptRecord && this.c.producerClosed();
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
  // is consumed and thrown (bytes that are no value end their record). A part
  // record is taken whole: null until the value's last part is in.
  private take(rec: { tag: number; payload: Uint8Array }): IteratorResult<T, undefined> | null {
    if (rec.tag === kNextPartTag || rec.tag === kFirstPartTag) return this.takePart(rec.tag, rec.payload);
    if (rec.tag === kValueTag) this.parts = null; // a value after parts: their value's send failed
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

  // Copies a part into the value it belongs to and releases it: the value
  // once whole, else null. A part that cannot be one (web/PROTOCOL.md
  // "Stream rings") is thrown as Deserialization; the stream goes on.
  private takePart(tag: number, b: Uint8Array): IteratorResult<T, undefined> | null {
    let at = 0;
    let bad: string | null = null;
    if (tag === kFirstPartTag) {
      this.parts = null; // a new value: the unfinished one's send failed
      const length = b.length < kFirstPartHeaderBytes ? -1 : getU64(b, 0);
      if (length < 0) bad = `first part record of ${b.length} bytes, shorter than its ${kFirstPartHeaderBytes}-byte length`;
      else if (length === 0 || length > kMaxPartedBytes) bad = `first part record announces a value of ${length} bytes (1 byte to 1 GiB)`;
      else {
        this.parts = new Assembly(length); // room grows with the bytes that come (a broken sender may announce 1 GiB)
        at = kFirstPartHeaderBytes;
      }
    } else if (this.parts === null) {
      bad = 'next part record (tag 2) with no value in parts under way';
    } else if (b.length === 0) {
      bad = 'empty next part record (tag 2)';
    }
    const parts = this.parts;
    if (bad === null && parts !== null && !parts.add(b.subarray(at))) {
      bad = `part record of ${b.length - at} value bytes takes its value past the ${parts.length} bytes its first part announced (${parts.filled} were in); the value is dropped`;
      this.parts = null;
    }
    this.c.release(); // the sender may be waiting for this room
    if (bad !== null) throw new DeserializationError(bad, kOrigin);
    const whole = parts?.whole() ?? null;
    if (whole === null) return null;
    this.parts = null;
    // As a record holding this one value: it must end where the bytes do.
    const value = this.codec.decodeAt(whole, 0, whole.length, this.nextAt, true); // `whole` is ours: its byte arrays may be views
    const rest = whole.length - this.nextAt.at;
    if (rest !== 0) {
      throw new DeserializationError(`${rest} trailing ${rest === 1 ? 'byte' : 'bytes'} after the value sent in parts (it ends at offset ${this.nextAt.at} of ${whole.length})`, kOrigin);
    }
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
        if (this.isChannelEnd(e)) {
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
      if (rec !== null) {
        const r = this.take(rec);
        if (r !== null) return r;
        continue;
      }
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
    this.parts = null; // a value still in parts at the end was never sent
    if (error !== null && this.error === null) this.error = error;
    const close = (): void => {
      try {
        this.c.close();
      } catch {
        // already ended from the other side
      }
    };
    if (this.hooks.closeChannel !== undefined) this.hooks.closeChannel(close);
    else close();
    this.wake?.();
    if (!this.finished) {
      this.finished = true;
      this.hooks.onFinish?.();
    }
  }
}
