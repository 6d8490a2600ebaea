// Serving streams: a stream request attaches the stream's two rings (or
// channels), runs the stream task with a Receiver of its input and a
// Sender of its output, and when the task is over closes both ends
// and detaches them before the result goes out (the pool reuses their
// memory once it has the result). A task that failed closes them with its
// error's kind as the reason, as a C++ task does (stream/STREAMS.md "Ending
// operations"): the pool's reader drains what was sent, and a send racing
// the end fails with that kind, not with Closed.
import { FerryError } from '../errors.js';
import { plainCodec } from '../records.js';
import { Receiver, Sender } from '../stream.js';
import { Context, type Calls } from './calls.js';
import { kStreamTask, ownTask, setCurrentCall, type StreamTask } from './tasks.js';
import type { Env, StreamEnds } from './transport.js';

export class Streams {
  constructor(
    private readonly calls: Calls,
    private readonly env: Env,
  ) {}

  /** Runs stream `id` of task `name` over the rings inWire and outWire, with the arguments in bytes[start, end) (`owned`: Calls.args). */
  start(id: number, inWire: number, outWire: number, name: string, bytes: Uint8Array, start: number, end: number, owned: boolean): void {
    const calls = this.calls;
    const ends = this.env.attachStream(inWire, outWire);
    const def = ownTask(calls.tasks, name);
    const fn = typeof def === 'object' && def !== null ? (def as StreamTask)[kStreamTask] : undefined;
    // The task's for await closes its input as the loop exits, also when the
    // body threw. The channel's close waits one macrotask, which is after
    // the task's outcome is known: a failure first gives the channel its
    // reason (end() closes it then), and a send waiting for room hears the
    // task's kind, not Closed.
    let closeInput: (() => void) | null = null;
    const flushInput = (): void => {
      const close = closeInput;
      closeInput = null;
      close?.();
    };
    const input = new Receiver(ends.input, plainCodec, {
      closeChannel: (close) => {
        closeInput = close;
        setTimeout(flushInput, 0);
      },
    });
    const output = new Sender(ends.output, plainCodec);
    const finish = async (result: unknown): Promise<void> => {
      await this.end(input, flushInput, output, ends, result instanceof FerryError ? result : null);
      calls.settle(id, result);
    };
    if (typeof fn !== 'function') {
      void finish(calls.unknownTask(name));
      return;
    }
    let args: unknown[];
    try {
      args = calls.args(bytes, start, end, owned);
    } catch (e) {
      void finish(calls.taskError(e, name));
      return;
    }
    const ctx = new Context(id, name, calls.index);
    ctx.ends = { input, output };
    calls.track(ctx);
    let r: unknown;
    setCurrentCall(ctx);
    try {
      r = fn.call(ctx, input, output, ...args);
    } catch (e) {
      r = Promise.reject(e);
    } finally {
      setCurrentCall(null);
    }
    Promise.resolve(r).then(
      (v) => finish(v),
      (e) => finish(calls.taskError(e, name)),
    );
  }

  // The task is over (`failure`: its error, null if it succeeded): close both
  // ends, make sure nothing still waits on the channels (the pool reuses
  // their memory once it has the result), detach.
  private async end(input: Receiver, flushInput: () => void, output: Sender, ends: StreamEnds, failure: FerryError | null): Promise<void> {
    if (failure === null) {
      try {
        await output.close();
      } catch {
        // the pool stopped reading: nothing more to deliver
      }
    } else {
      if (failure.kind > 0) ends.setCloseReason(failure.kind);
      output.fail(failure); // what the task still had queued is not sent
    }
    input.close();
    flushInput();
    if (output.waiting || input.waiting) {
      ends.kick();
      await Promise.all([output.idle(), input.idle()]);
    }
    ends.detach();
  }
}
