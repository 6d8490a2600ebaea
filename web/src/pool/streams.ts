// The pool's side of streams: a Stream opened on its two channels, its
// result, its cancellation, its end when the worker dies or the pool stops,
// and the freeing of its channels once neither side can touch them — also
// for a Stream the caller dropped while still open (a backstop).

import { ClosedError, ErrorKind, FerryError } from '../errors.js';
import { Stream, Receiver, Sender } from '../stream.js';
import type { StreamChannels } from '../transport.js';
import { State, cancelledError, ignore, kOrigin, type Pending, type PoolContext, type Slot, type StreamState } from './common.js';
import type { TaskCodecs } from './encode.js';

export class PoolStreams {
  /** Streams garbage-collected while still open. */
  leaked = 0;
  private readonly backstop =
    typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<StreamState>((st) => this.collected(st)) : null;

  constructor(private readonly pool: PoolContext) {}

  /** p's stream record went to slot s: resolves p with the Stream over ch. */
  open(s: Slot, p: Pending, ch: StreamChannels, codecs: TaskCodecs): void {
    let resolveDone!: (v: unknown) => void;
    let rejectDone!: (e: unknown) => void;
    const done = new Promise<unknown>((res, rej) => {
      resolveDone = res;
      rejectDone = rej;
    });
    const st = { id: p.id, name: p.name, slot: s, gen: s.gen, ch, resolveDone, rejectDone, doneSettled: false, resultIn: false, freed: false, retired: null } as StreamState;
    st.writer = new Sender(ch.input, codecs.input, { onAbort: (reason) => this.cancel(st, reason) });
    st.reader = new Receiver(ch.output, codecs.output, {
      // The output's end is the task's: its error result fails the stream.
      atEnd: () => done.then(() => undefined),
      onFinish: () => this.maybeFree(st),
      // readable.cancel() is like breaking out of for await: it closes our end.
    });
    const stream = new Stream(p.id, st.writer, st.reader, done, { cancel: (reason) => this.cancel(st, reason) });
    p.st = st;
    p.resolve(stream);
    // Nothing of ours may keep the Stream alive (st does not point to it; the
    // resolved promise's resolvers are dropped), so that the backstop below
    // sees it go when the caller drops it.
    p.resolve = p.reject = ignore;
    this.backstop?.register(stream, st);
  }

  /** The task of stream p answered (its result record arrived). */
  answered(p: Pending, error: unknown, value: unknown): void {
    this.result(p.st!, error, value);
    this.pool.cleanup(p);
    if (p.state !== State.Settled) {
      p.state = State.Settled;
      if (error !== undefined) this.pool.failedCount++;
      else this.pool.completedCount++;
    }
  }

  /** Rejects stream p with err (its worker died, or the pool stopped); both directions end. */
  end(p: Pending, err: FerryError, abortKind: number): void {
    const st = p.st!;
    st.resultIn = true;
    st.writer.fail(err);
    try {
      st.ch.abort(abortKind); // wakes whatever waits on the channels
    } catch {
      // the memory is gone with the worker
    }
    // A crashed worker's output that it had published is still read.
    if (abortKind === ErrorKind.WorkerCrashed) st.reader.failAfterDrain(err);
    else st.reader.fail(err);
    if (!st.doneSettled) {
      st.doneSettled = true;
      st.rejectDone(err);
    }
    if (p.state !== State.Settled) {
      p.state = State.Settled;
      this.pool.cleanup(p);
      this.pool.failedCount++;
    }
    if (abortKind === ErrorKind.WorkerCrashed) this.maybeFree(st);
  }

  /** The caller (or its AbortSignal) cancelled the stream. */
  cancel(st: StreamState, reason: unknown): void {
    if (st.doneSettled && st.reader.isEnded) return;
    const err = cancelledError(reason, `stream '${st.name}'`);
    const p = st.slot.pending.get(st.id);
    if (!st.resultIn && st.slot.alive && st.slot.gen === st.gen) this.pool.sendCancel(st.slot, st.id);
    st.writer.fail(err);
    st.reader.fail(err);
    if (!st.doneSettled) {
      st.doneSettled = true;
      st.rejectDone(err);
      if (p !== undefined && p.state !== State.Settled) {
        p.state = State.Settled;
        this.pool.cleanup(p);
        this.pool.failedCount++;
      }
    }
    this.maybeFree(st);
  }

  private result(st: StreamState, error: unknown, value: unknown): void {
    st.resultIn = true;
    // The task has closed its ends: later sends cannot reach it. After a
    // failure they fail with its error, as its ring's close reason says.
    st.writer.fail(error instanceof FerryError ? error : new ClosedError('the stream task has finished', kOrigin));
    if (!st.doneSettled) {
      st.doneSettled = true;
      if (error !== undefined) st.rejectDone(error);
      else st.resolveDone(value);
    }
    st.reader.endIfDrained(error);
    this.maybeFree(st);
  }

  // Frees a stream's channels once the task is done with them and so are we.
  private maybeFree(st: StreamState): void {
    if (st.freed || !st.resultIn || !st.reader.isEnded) return;
    st.freed = true;
    void Promise.all([st.writer.idle(), st.reader.idle(), st.retired]).then(() => {
      if (!this.pool.closed) st.ch.free();
    });
  }

  // The caller dropped a Stream with a direction still open (input not
  // closed, or output not read to its end): its task could wait forever and
  // its rings would stay. Close what is open, as a C++ endpoint's destructor
  // does: the task's input ends after what was sent, and its further sends
  // fail with Closed. Then the task ends and the memory is freed. Say so.
  private collected(st: StreamState): void {
    if (this.pool.closed || (st.writer.isClosed && st.reader.isEnded)) return;
    this.leaked++;
    console.warn(`ferry: stream ${st.id} ('${st.name}') was garbage-collected while still open; closing it (read it to the end, or close() or cancel() it, before dropping it)`);
    st.writer.close().catch(ignore);
    st.reader.close();
  }
}
