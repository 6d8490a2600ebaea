// ferry streams for JavaScript: typed values over one record channel each way.
//
// A stream between the pool (main thread) and a task is two channels: `in`
// (pool -> task) and `out` (task -> pool). A channel is a ring of
// core/RING.md in shared memory, or its postMessage stand-in
// (message-channel.ts) — both offer the RecordProducer / RecordConsumer
// surface of records.ts. Value records carry tag 0 and one or more codec
// values back to back: the values sent in one batch share a record where the
// channel can grow its last record in place (stream/STREAMS.md). A value
// larger than one record goes in part records (tags 1 and 2) of a quarter of
// the channel each, up to 1 GiB (web/PROTOCOL.md "Stream rings").
//
// Sender and Receiver are the two ends as user code sees them; the
// pool's Stream pairs one of each, and a JavaScript task (worker.ts) gets the
// other two. Guarantees:
// - send() resolves once the value is in the channel; while the channel is
//   full it waits (the backpressure), also between the parts of a large
//   value, and later sends queue behind it, so values are never reordered.
//   trySend() never waits: false when full, MessageTooLarge for a value
//   larger than one record. A send that fails delivers nothing of its value.
// - recv() resolves with {done: false, value}, or {done: true} once the other
//   side closed and everything was read; it rejects with the error that ended
//   the stream (a task failure, WorkerCrashed, Cancelled, Closed by terminate).
//   When the task's worker crashes, what it had published is still read,
//   in order, before recv() rejects with WorkerCrashed.
// - Nothing here blocks the thread: waits are the channel's async waits.
// - readable / writable are WHATWG adapters whose only buffer is the channel
//   (highWaterMark 0 for the readable, 1 for the writable).
//
// This file is the pool's Stream; the two ends live in stream/ (sender.ts,
// receiver.ts, and end.ts what they share), named after the C++ twins
// stream/sender.hpp and stream/receiver.hpp. The build makes them one
// module again, dist/stream.js.

import { Receiver } from './stream/receiver.js';
import { Sender } from './stream/sender.js';

export { Receiver, Sender };

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
    /** @internal */ readonly writer: Sender<In>,
    /** @internal */ readonly reader: Receiver<Out>,
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
  /** Sends every value in order; one promise for the batch (Sender.sendBatch). */
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
  /** At least one value, up to `max`; [] once the stream ended (Receiver.recvBatch). */
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
