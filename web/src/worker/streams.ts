// Serving streams: a stream request attaches the stream's two rings (or
// channels), runs the stream task with a Receiver of its input and a
// Sender of its output, and when the task is over closes both ends
// and detaches them before the result goes out (the pool reuses their
// memory once it has the result).
import { ClosedError, FerryError } from '../errors.js';
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

  /** Runs stream `id` of task `name` over the rings inWire and outWire, with the arguments in bytes[start, end). */
  start(id: number, inWire: number, outWire: number, name: string, bytes: Uint8Array, start: number, end: number): void {
    const calls = this.calls;
    const ends = this.env.attachStream(inWire, outWire);
    const def = ownTask(calls.tasks, name);
    const fn = typeof def === 'object' && def !== null ? (def as StreamTask)[kStreamTask] : undefined;
    const input = new Receiver(ends.input, plainCodec);
    const output = new Sender(ends.output, plainCodec);
    const finish = async (result: unknown): Promise<void> => {
      await this.end(input, output, ends, !(result instanceof FerryError));
      calls.settle(id, result);
    };
    if (typeof fn !== 'function') {
      void finish(calls.unknownTask(name));
      return;
    }
    let args: unknown[];
    try {
      args = calls.args(bytes, start, end);
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

  // The task is over: close both ends, make sure nothing still waits on the
  // channels (the pool reuses their memory once it has the result), detach.
  private async end(input: Receiver, output: Sender, ends: StreamEnds, ok: boolean): Promise<void> {
    if (ok) {
      try {
        await output.close();
      } catch {
        // the pool stopped reading: nothing more to deliver
      }
    } else {
      output.fail(new ClosedError('the stream task failed', `worker ${this.calls.index}`));
    }
    input.close();
    if (output.waiting || input.waiting) {
      ends.kick();
      await Promise.all([output.idle(), input.idle()]);
    }
    ends.detach();
  }
}
