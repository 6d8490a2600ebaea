// Running calls: a call request becomes a task run with its decoded
// arguments and a CallContext as `this`; its return value (or what its
// promise settles to, or what it throws) is answered through Answers. Keeps
// the calls and streams still running, for cancel records and for the
// request loop, which blocks only while none is pending on the event loop.
import { CancelledError, DeserializationError, FerryError, TaskFailedError, UnknownTaskError, ferryError } from '../errors.js';
import type { Receiver, Sender } from '../stream.js';
import { decodeRecordValue } from '../records.js';
import type { Answers } from './answer.js';
import { kStreamTask, ownTask, setCurrentCall, type CallContext, type Tasks } from './tasks.js';

export class Context implements CallContext {
  private controller: AbortController | null = null;
  private cancelled = false;
  private reason: unknown;
  /** A stream task's ends, which a cancel ends at once. */
  ends: { input: Receiver; output: Sender } | null = null;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly worker: number,
  ) {}

  // Made on first use: most calls never look at their signal.
  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.cancelled) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  cancel(reason: unknown): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.reason = reason;
    // The task's input stops here, buffered values and all, and its further
    // sends fail: a task that awaits either ends even if it never looks at
    // its signal.
    if (this.ends !== null) {
      const err = reason instanceof FerryError ? reason : new CancelledError(String(reason), 'pool');
      this.ends.input.fail(err);
      this.ends.output.fail(err);
    }
    this.controller?.abort(reason);
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

export class Calls {
  private readonly running = new Map<number, Context>();
  private idle: (() => void) | null = null; // whenIdle() waits for running to empty

  constructor(
    readonly tasks: Tasks,
    readonly index: number,
    readonly answers: Answers,
  ) {}

  /** Whether a call or stream of ours waits on the event loop. */
  get busy(): boolean {
    return this.running.size > 0;
  }

  /**
   * Runs call `id` of task `name` with the arguments in bytes[start, end)
   * (`owned`: see args()); answers it now or once it settles.
   */
  start(id: number, name: string, bytes: Uint8Array, start: number, end: number, owned: boolean): void {
    const fn = ownTask(this.tasks, name);
    if (typeof fn !== 'function') {
      this.answers.reply(id, this.unknownTask(name));
      return;
    }
    let args: unknown[];
    try {
      args = this.args(bytes, start, end, owned);
    } catch (e) {
      this.answers.reply(id, this.taskError(e, name));
      return;
    }
    const ctx = new Context(id, name, this.index);
    let r: unknown;
    setCurrentCall(ctx);
    try {
      r = fn.apply(ctx, args);
    } catch (e) {
      this.answers.reply(id, this.taskError(e, name));
      return;
    } finally {
      setCurrentCall(null);
    }
    if (!isThenable(r)) {
      this.answers.reply(id, r);
      return;
    }
    this.track(ctx);
    Promise.resolve(r).then(
      (v) => this.settle(id, v),
      (e) => this.settle(id, this.taskError(e, name)),
    );
  }

  /** Cancels call or stream `id`, if it still runs (a cancel record). */
  cancel(id: number): void {
    this.running.get(id)?.cancel(new CancelledError('the pool cancelled this call (its timeout passed or its AbortSignal fired)', 'pool'));
  }

  /** Counts ctx's call as running until settle(). */
  track(ctx: Context): void {
    this.running.set(ctx.id, ctx);
  }

  /** Answers a call that ran on the event loop, and no longer counts it as running. */
  settle(id: number, result: unknown): void {
    this.answers.reply(id, result);
    this.answers.schedulePublish();
    this.running.delete(id);
    if (this.running.size === 0 && this.idle !== null) {
      const idle = this.idle;
      this.idle = null;
      idle();
    }
  }

  /** Resolves once no call of ours waits on the event loop any more. */
  whenIdle(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.idle = resolve;
    });
  }

  /**
   * The call arguments in bytes[start, end): one codec array. `owned`: the
   * bytes are ours for good, so byte arrays are views of them (records.ts).
   */
  args(bytes: Uint8Array, start: number, end: number, owned: boolean): unknown[] {
    const v = decodeRecordValue(bytes, start, end, owned);
    if (!Array.isArray(v)) throw new DeserializationError('the call arguments are not an array value', `worker ${this.index}`);
    return v;
  }

  /** What a task threw, as the error its caller gets. */
  taskError(e: unknown, name: string): FerryError {
    const origin = `worker ${this.index}: ${name}`;
    if (e instanceof FerryError) return e.origin ? e : ferryError(e.kind, e.message, origin);
    const message = e instanceof Error ? e.message : typeof e === 'string' ? e : String(e);
    return new TaskFailedError(message, origin);
  }

  /** The answer to a request for `name` that is not a task of this kind (or no task at all). */
  unknownTask(name: string): FerryError {
    const def = ownTask(this.tasks, name);
    if (def !== undefined) {
      const isStream = typeof def === 'object' && def !== null && kStreamTask in def;
      return new UnknownTaskError(
        `'${name}' is a ${isStream ? 'stream' : 'call'} task in worker ${this.index}: use pool.${isStream ? 'stream' : 'call'}()`,
        `worker ${this.index}`,
      );
    }
    const names = Object.keys(this.tasks).sort();
    return new UnknownTaskError(`no task named '${name}' in worker ${this.index} (exported: ${names.length ? names.join(', ') : 'none'})`, `worker ${this.index}`);
  }
}
