// expose(): the worker side of a JavaScript WorkerPool.
//
//   // my-worker.js (a module script; a Web Worker or a Node worker_threads Worker)
//   import { expose, streamTask } from '@ferry/web/worker';
//   expose({
//     add: (a, b) => a + b,
//     async slow(ms) {                       // `this` is the call's context
//       await sleep(ms, this.signal);        // this.signal fires on timeout / cancel
//       return 'done';
//     },
//     upper: streamTask(async function (input, output, suffix) {
//       for await (const s of input) await output.send(s.toUpperCase() + suffix);
//       return 'ok';                         // the stream's `done` value
//     }),
//   });
//
// The pool posts one setup message (the only postMessage on the shared-memory
// transport); the worker then reads request records from its request ring and
// writes result records to its response ring (web/PROTOCOL.md), or does the
// same over postMessage channels (message-channel.ts).
//
// Tasks:
// - A task is a function (sync or async). Its arguments are the decoded call
//   arguments; `this` is a CallContext: { signal, id, name, worker }. For
//   arrow functions, currentCall() returns the same context — during the
//   synchronous part of the call only (capture it before the first await).
// - The return value (or resolved value) is the result; undefined is unit.
// - A thrown FerryError keeps its kind (and origin, when it has one); any
//   other throw becomes TaskFailedError with its message, origin
//   "worker N: name".
// - A stream task, streamTask(fn), gets (input, output, ...args): input is a
//   StreamReader (recv(), for await, readable), output a StreamWriter
//   (send() waits while the pool's side is full, trySend(), writable). When
//   fn returns, output is closed (after its pending sends) and input too;
//   then the result goes out.
// - An error thrown outside any task (a timer, an event handler) crashes the
//   worker: the pool fails its pending calls with WorkerCrashedError and
//   starts a new worker.

import { decodeRange } from './codec.js';
import { CancelledError, ClosedError, CorruptRecordError, DeserializationError, ErrorKind, FerryError, InvalidArgumentError, TaskFailedError, UnknownTaskError, ferryError } from './errors.js';
import { holdLivenessLock, startBeating, type SetupMessage } from './spawn.js';
import { MessageHub } from './message-channel.js';
import { nodeModule } from './platform.js';
import { RingConsumer, RingProducer, canBlock, ringAbort } from './ring.js';
import { SpinBudget, nowUs } from './spin.js';
import { PartReader, RequestTag, ResponseTag, getU64, kCallHeaderBytes, kCancelBytes, kStreamHeaderBytes, nameLengthAt, putU64, splitParts } from './protocol.js';
import { RecordWriter, plainCodec, type RecordConsumer, type RecordProducer } from './records.js';
import { StreamReader, StreamWriter } from './stream.js';

export { StreamReader, StreamWriter } from './stream.js';

/** What a running task sees as `this` (and through currentCall()). */
export interface CallContext {
  /** Aborted when the pool cancels the call (its AbortSignal fired, or its timeout passed). */
  readonly signal: AbortSignal;
  /** The call's id, unique within the pool. */
  readonly id: number;
  /** The task's name. */
  readonly name: string;
  /** This worker's slot index. */
  readonly worker: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskFunction = (this: CallContext, ...args: any[]) => unknown;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type StreamTaskFunction<In = any, Out = any> = (this: CallContext, input: StreamReader<In>, output: StreamWriter<Out>, ...args: any[]) => unknown;

const kStreamTask: unique symbol = Symbol.for('ferry.streamTask');

/** A stream task, made by streamTask(). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface StreamTask<In = any, Out = any> {
  readonly [kStreamTask]: StreamTaskFunction<In, Out>;
}

/** Marks `fn` as a stream task: the pool opens it with pool.stream(name, ...). */
export function streamTask<In = unknown, Out = unknown>(fn: StreamTaskFunction<In, Out>): StreamTask<In, Out> {
  if (typeof fn !== 'function') throw new InvalidArgumentError('streamTask() takes a function', 'worker');
  return { [kStreamTask]: fn };
}

export type Tasks = Record<string, TaskFunction | StreamTask>;

let current: CallContext | null = null;

/**
 * The context of the call whose synchronous part is running right now (for
 * arrow functions, which have no `this`). Throws InvalidArgument elsewhere:
 * after an await, capture it at the top (`const { signal } = currentCall()`).
 */
export function currentCall(): CallContext {
  if (current === null) {
    throw new InvalidArgumentError('currentCall() works only in the synchronous part of a task: call it before the first await', 'worker');
  }
  return current;
}

let exposed = false;

/**
 * Serves `tasks` to the WorkerPool that started this worker. Call it once,
 * at the top level of the worker script.
 */
export function expose(tasks: Tasks): void {
  if (exposed) throw new InvalidArgumentError('expose() was already called in this worker', 'worker');
  if (tasks === null || typeof tasks !== 'object') throw new InvalidArgumentError('expose() takes an object of task functions', 'worker');
  exposed = true;
  void start(tasks).catch(die);
}

// An error that means this worker cannot go on: crash it, the pool replaces it.
function die(e: unknown): void {
  setTimeout(() => {
    throw e;
  });
}

// ---------------------------------------------------------------------------
// Where the worker runs

interface HostPort {
  post(message: unknown, transfer?: Transferable[]): void;
  listen(callback: (message: unknown) => void): void;
}

async function hostPort(): Promise<HostPort> {
  const g = globalThis as unknown as {
    WorkerGlobalScope?: new () => unknown;
    postMessage: (m: unknown, t: Transferable[]) => void;
    addEventListener: (type: string, cb: (e: MessageEvent) => void) => void;
  };
  if (typeof g.WorkerGlobalScope === 'function' && g instanceof g.WorkerGlobalScope) {
    return {
      post: (m, t) => g.postMessage(m, t ?? []),
      listen: (cb) => g.addEventListener('message', (e) => cb(e.data)),
    };
  }
  const wt = await nodeModule<typeof import('node:worker_threads')>('node:worker_threads');
  const port = wt.parentPort;
  if (port === null) throw new InvalidArgumentError('expose() must run in a worker (a Web Worker or a Node worker_threads Worker)', 'worker');
  return {
    post: (m, t) => port.postMessage(m, t as never),
    listen: (cb) => port.on('message', cb),
  };
}

interface StreamEnds {
  input: RecordConsumer;
  output: RecordProducer;
  /** Wakes a wait still in progress on either channel (the task is over). */
  kick(): void;
  detach(): void;
}

interface Env {
  request: RecordConsumer;
  /** The request ring, when this thread may block on it (shared memory). */
  blocking: RingConsumer | null;
  response: RecordProducer;
  attachStream(inWire: number, outWire: number): StreamEnds;
}

async function start(tasks: Tasks): Promise<void> {
  const port = await hostPort();
  let hub: MessageHub | null = null;
  let started = false;
  port.listen((m) => {
    if (hub !== null && hub.deliver(m)) return;
    const setup = m as SetupMessage | null;
    if (started || setup === null || typeof setup !== 'object' || setup.ferry !== 'setup') return;
    started = true;
    let env: Env;
    try {
      if (setup.transport === 'postMessage') {
        hub = new MessageHub((msg, transfer) => port.post(msg, transfer), true);
        env = messageEnv(hub, setup.capacity!);
      } else {
        env = ringEnv(setup.buffer!, setup.request!, setup.response!, setup.answerBell);
      }
    } catch (e) {
      port.post({ ferry: 'error', message: e instanceof Error ? e.message : String(e) });
      return;
    }
    startBeating(setup.heartbeat, (beat) => port.post(beat));
    void holdLivenessLock(setup.lock).then((locked) => {
      port.post({ ferry: 'ready', index: setup.index, locked });
      return new Runtime(tasks, env, setup.index, setup.spinUs ?? 0).run();
    }).catch(die);
  });
  port.post({ ferry: 'hello' });
}

function ringEnv(buffer: SharedArrayBuffer, request: number, response: number, answerBell: MessagePort | undefined): Env {
  const req = RingConsumer.attach(buffer, request);
  const resp = RingProducer.attach(buffer, response);
  if (answerBell !== undefined) resp.onRing = () => answerBell.postMessage(0); // the page cannot wait on the ring's bell
  return {
    request: req,
    blocking: req,
    response: resp,
    attachStream(inWire, outWire) {
      const input = RingConsumer.attach(buffer, inWire);
      const output = RingProducer.attach(buffer, outWire);
      return {
        input,
        output,
        kick() {
          ringAbort(buffer, inWire, ErrorKind.Closed);
          ringAbort(buffer, outWire, ErrorKind.Closed);
        },
        detach() {
          input.detach();
          output.detach();
        },
      };
    },
  };
}

function messageEnv(hub: MessageHub, capacity: number): Env {
  return {
    request: hub.consumer(0, capacity),
    blocking: null,
    response: hub.producer(1, capacity, capacity),
    attachStream(inWire, outWire) {
      // in: the pool said its capacity; out: the pool's first credit is the capacity.
      const input = hub.consumer(inWire, 0);
      const output = hub.producer(outWire, 0, 0);
      return {
        input,
        output,
        kick() {
          input.abort(ErrorKind.Closed);
          output.abort(ErrorKind.Closed);
        },
        detach() {
          hub.drop(inWire);
          hub.drop(outWire);
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------
// Serving requests


// Waiting for requests (Runtime.run): the longest block in Atomics.wait
// before the event loop gets its turn, and how often a worker that keeps
// blocking yields to it anyway (timers, messages of user code). The longest
// spin before blocking is the pool's to say (SetupMessage.spinUs).
const kBlockMs = 2;
const kYieldMs = 10;

// A macrotask turn without setTimeout's clamping: the worker's timers and
// messages run, then this resolves.
let yieldPort: { port1: MessagePort; port2: MessagePort } | null = null;
const yieldWaiters: (() => void)[] = [];
function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  if (typeof g.setImmediate === 'function') return new Promise((resolve) => g.setImmediate!(resolve));
  if (yieldPort === null) {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => yieldWaiters.shift()?.();
    yieldPort = ch;
  }
  return new Promise((resolve) => {
    yieldWaiters.push(resolve);
    yieldPort!.port2.postMessage(0);
  });
}

class Context implements CallContext {
  private controller: AbortController | null = null;
  private cancelled = false;
  private reason: unknown;
  /** A stream task's ends, which a cancel ends at once. */
  ends: { input: StreamReader; output: StreamWriter } | null = null;

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

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

// Task names as a request carries them (UTF-8), matched against the exported
// names' bytes, so that a request's name is found without decoding it.
class TaskNames {
  private readonly byLength = new Map<number, { bytes: Uint8Array; name: string }[]>();

  constructor(tasks: Tasks) {
    for (const name of Object.keys(tasks)) {
      const bytes = utf8Encoder.encode(name);
      const list = this.byLength.get(bytes.length) ?? [];
      list.push({ bytes, name });
      this.byLength.set(bytes.length, list);
    }
  }

  /** The name in b[at, at + n): an exported name, or the decoded text of another. */
  at(b: Uint8Array, at: number, n: number): string {
    const list = this.byLength.get(n);
    if (list !== undefined) {
      for (const k of list) {
        let same = true;
        for (let i = 0; i < n; i++) {
          if (k.bytes[i] !== b[at + i]) {
            same = false;
            break;
          }
        }
        if (same) return k.name;
      }
    }
    // Not one of ours (an UnknownTask answer follows): a copy, since
    // TextDecoder refuses views of shared memory.
    return utf8.decode(b.slice(at, at + n));
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

class Runtime {
  private readonly running = new Map<number, Context>();
  private readonly names: TaskNames;
  private readonly spin: SpinBudget;
  private idle: (() => void) | null = null; // run() waits for running to empty
  private readonly outbox: { tag: number; bytes: Uint8Array }[] = [];
  private draining = false;
  private publishQueued = false;
  private readonly records = new RecordWriter(true);
  private readonly parts = new PartReader(); // a request that comes in parts
  private readonly head = new Uint8Array(8);
  private gone = false; // the pool ended our response ring

  constructor(
    private readonly tasks: Tasks,
    private readonly env: Env,
    private readonly index: number,
    spinCapUs: number,
  ) {
    this.names = new TaskNames(tasks);
    this.spin = new SpinBudget(spinCapUs);
  }

  // Serves the request ring: every request that is there, one publish of
  // the answers, then wait. How it waits (web/README.md, "Waiting"): while
  // no task of ours is pending on the event loop, it spins for a learned
  // budget and then blocks in Atomics.wait, which wakes several times
  // faster than Atomics.waitAsync, for at most kBlockMs, yielding to the
  // event loop at least every kYieldMs; idle longer, or with async tasks
  // running, it parks with waitAsync, and comes back to blocking as soon as
  // the last async task has answered.
  async run(): Promise<void> {
    const req = this.env.request;
    const ring = this.env.blocking !== null && canBlock() ? this.env.blocking : null;
    let lastYield = nowUs();
    for (;;) {
      try {
        for (let tag = req.nextRecord(); tag >= 0; tag = req.nextRecord()) this.onRequest(tag, req.recordBytes, req.recordOffset, req.recordLength);
        req.release();
      } catch (e) {
        if (e instanceof FerryError && e.kind === ErrorKind.Closed) return; // the pool is done with us
        throw e;
      }
      this.publish();
      if (ring !== null && this.running.size === 0) {
        if (nowUs() - lastYield > kYieldMs * 1000) {
          await yieldToEventLoop();
          lastYield = nowUs();
          continue;
        }
        if (this.block(ring)) continue;
      }
      const parked = req.park();
      if (parked === null) continue;
      await (ring !== null && this.running.size > 0 ? Promise.race([parked, this.whenIdle()]) : parked);
      req.unpark();
      lastYield = nowUs();
    }
  }

  // Spins, then blocks: true once a request is there, false after kBlockMs.
  private block(ring: RingConsumer): boolean {
    const budget = this.spin.next();
    if (budget > 0) {
      const start = nowUs();
      const end = start + budget;
      let now = start;
      while (!ring.hasData()) {
        if ((now = nowUs()) >= end) break;
      }
      if (now < end) {
        this.spin.spun(now - start);
        return true;
      }
      this.spin.parked(budget);
    }
    return ring.parkSync(kBlockMs);
  }

  // Resolves once no task of ours waits on the event loop any more.
  private whenIdle(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.idle = resolve;
    });
  }

  private taskDone(id: number): void {
    this.running.delete(id);
    if (this.running.size === 0 && this.idle !== null) {
      const idle = this.idle;
      this.idle = null;
      idle();
    }
  }

  // One request record, read where it lies: its payload is b[at, at + len).
  // A record too short for what it says is answered with Deserialization
  // when it has an id to answer, and dropped otherwise. A malformed part
  // throws CorruptRecord: the worker ends, and the pool fails its calls.
  private onRequest(tag: number, b: Uint8Array, at: number, len: number): void {
    const end = at + len;
    if (tag === RequestTag.Part) {
      const whole = this.parts.add(b, at, len);
      if (whole === null) return;
      if (this.parts.tag === RequestTag.Part) throw new CorruptRecordError('a request part made of parts', `worker ${this.index}`);
      this.onRequest(this.parts.tag, whole, 0, whole.length);
    } else if (tag === RequestTag.Call && len >= kCallHeaderBytes) {
      const n = nameLengthAt(b, at + kCallHeaderBytes - 2);
      const args = at + kCallHeaderBytes + n;
      if (args > end) this.reply(getU64(b, at), this.shortRecord('call', len, n));
      else this.startCall(getU64(b, at), this.names.at(b, at + kCallHeaderBytes, n), b, args, end);
    } else if (tag === RequestTag.Cancel && len >= kCancelBytes) {
      this.running.get(getU64(b, at))?.cancel(new CancelledError('the pool cancelled this call (its timeout passed or its AbortSignal fired)', 'pool'));
    } else if (tag === RequestTag.Stream && len >= kStreamHeaderBytes) {
      const n = nameLengthAt(b, at + kStreamHeaderBytes - 2);
      const args = at + kStreamHeaderBytes + n;
      if (args > end) this.reply(getU64(b, at), this.shortRecord('stream', len, n));
      else this.startStream(getU64(b, at), getU64(b, at + 8), getU64(b, at + 16), this.names.at(b, at + kStreamHeaderBytes, n), b, args, end);
    }
  }

  private shortRecord(what: string, len: number, n: number): FerryError {
    return new DeserializationError(`a ${what} record of ${len} bytes names a task of ${n} bytes`, `worker ${this.index}`);
  }

  private unknownTask(name: string): FerryError {
    const def = this.tasks[name];
    if (def !== undefined && Object.prototype.hasOwnProperty.call(this.tasks, name)) {
      const isStream = typeof def === 'object' && def !== null && kStreamTask in def;
      return new UnknownTaskError(
        `'${name}' is a ${isStream ? 'stream' : 'call'} task in worker ${this.index}: use pool.${isStream ? 'stream' : 'call'}()`,
        `worker ${this.index}`,
      );
    }
    const names = Object.keys(this.tasks).sort();
    return new UnknownTaskError(`no task named '${name}' in worker ${this.index} (exported: ${names.length ? names.join(', ') : 'none'})`, `worker ${this.index}`);
  }

  private taskError(e: unknown, name: string): FerryError {
    const origin = `worker ${this.index}: ${name}`;
    if (e instanceof FerryError) return e.origin ? e : ferryError(e.kind, e.message, origin);
    const message = e instanceof Error ? e.message : typeof e === 'string' ? e : String(e);
    return new TaskFailedError(message, origin);
  }

  private args(bytes: Uint8Array, start: number, end: number): unknown[] {
    const v = decodeRange(bytes, start, end);
    if (!Array.isArray(v)) throw new DeserializationError('the call arguments are not an array value', `worker ${this.index}`);
    return v;
  }

  private startCall(id: number, name: string, bytes: Uint8Array, start: number, end: number): void {
    const fn = Object.prototype.hasOwnProperty.call(this.tasks, name) ? this.tasks[name] : undefined;
    if (typeof fn !== 'function') {
      this.reply(id, this.unknownTask(name));
      return;
    }
    let args: unknown[];
    try {
      args = this.args(bytes, start, end);
    } catch (e) {
      this.reply(id, this.taskError(e, name));
      return;
    }
    const ctx = new Context(id, name, this.index);
    let r: unknown;
    current = ctx;
    try {
      r = fn.apply(ctx, args);
    } catch (e) {
      this.reply(id, this.taskError(e, name));
      return;
    } finally {
      current = null;
    }
    if (!isThenable(r)) {
      this.reply(id, r);
      return;
    }
    this.running.set(id, ctx);
    Promise.resolve(r).then(
      (v) => {
        this.reply(id, v);
        this.schedulePublish();
        this.taskDone(id);
      },
      (e) => {
        this.reply(id, this.taskError(e, name));
        this.schedulePublish();
        this.taskDone(id);
      },
    );
  }

  private startStream(id: number, inWire: number, outWire: number, name: string, bytes: Uint8Array, start: number, end: number): void {
    const ends = this.env.attachStream(inWire, outWire);
    const def = Object.prototype.hasOwnProperty.call(this.tasks, name) ? this.tasks[name] : undefined;
    const fn = typeof def === 'object' && def !== null ? (def as StreamTask)[kStreamTask] : undefined;
    const input = new StreamReader(ends.input, plainCodec);
    const output = new StreamWriter(ends.output, plainCodec);
    const finish = async (result: unknown): Promise<void> => {
      await this.endStream(input, output, ends, !(result instanceof FerryError));
      this.reply(id, result);
      this.schedulePublish();
      this.taskDone(id);
    };
    if (typeof fn !== 'function') {
      void finish(this.unknownTask(name));
      return;
    }
    let args: unknown[];
    try {
      args = this.args(bytes, start, end);
    } catch (e) {
      void finish(this.taskError(e, name));
      return;
    }
    const ctx = new Context(id, name, this.index);
    ctx.ends = { input, output };
    this.running.set(id, ctx);
    let r: unknown;
    current = ctx;
    try {
      r = fn.call(ctx, input, output, ...args);
    } catch (e) {
      r = Promise.reject(e);
    } finally {
      current = null;
    }
    Promise.resolve(r).then(
      (v) => finish(v),
      (e) => finish(this.taskError(e, name)),
    );
  }

  // The task is over: close both ends, make sure nothing still waits on the
  // channels (the pool reuses their memory once it has the result), detach.
  private async endStream(input: StreamReader, output: StreamWriter, ends: StreamEnds, ok: boolean): Promise<void> {
    if (ok) {
      try {
        await output.close();
      } catch {
        // the pool stopped reading: nothing more to deliver
      }
    } else {
      output.fail(new ClosedError('the stream task failed', `worker ${this.index}`));
    }
    input.close();
    if (output.waiting || input.waiting) {
      ends.kick();
      await Promise.all([output.idle(), input.idle()]);
    }
    ends.detach();
  }

  // Writes a result record (or queues it while the response ring is full).
  private reply(id: number, value: unknown): void {
    if (this.gone) return;
    const resp = this.env.response;
    putU64(this.head, 0, id);
    let rest: Uint8Array | null;
    try {
      rest = this.outbox.length === 0 ? this.records.put(resp, ResponseTag.Result, this.head, 8, value, plainCodec) : this.records.bytes(this.head, 8, value, plainCodec);
    } catch (e) {
      if (this.channelEnded(e)) return;
      // The value has no encoding (or is too large): report that instead.
      const err = e instanceof FerryError ? e : new TaskFailedError(String(e), `worker ${this.index}`);
      try {
        rest = this.outbox.length === 0 ? this.records.put(resp, ResponseTag.Result, this.head, 8, err, plainCodec) : this.records.bytes(this.head, 8, err, plainCodec);
      } catch (e2) {
        if (this.channelEnded(e2)) return;
        throw e2;
      }
    }
    if (rest === null) return;
    if (rest.length <= resp.maxPayload) {
      this.outbox.push({ tag: ResponseTag.Result, bytes: rest });
    } else {
      // Too large for one record: in parts (web/PROTOCOL.md); an error if over 1 GiB.
      let parts: Uint8Array[];
      try {
        parts = splitParts(ResponseTag.Result, rest, resp.maxPayload);
      } catch (e) {
        this.reply(id, e);
        return;
      }
      for (const bytes of parts) this.outbox.push({ tag: ResponseTag.Part, bytes });
    }
    void this.drain();
  }

  private channelEnded(e: unknown): boolean {
    if (e instanceof FerryError && (e.kind === ErrorKind.Closed || e.kind === ErrorKind.WorkerCrashed)) {
      this.gone = true;
      this.outbox.length = 0;
      return true;
    }
    return false;
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const resp = this.env.response;
    try {
      while (this.outbox.length > 0 && !this.gone) {
        const r = this.outbox[0]!;
        if (resp.tryWrite(r.tag, r.bytes)) {
          this.outbox.shift();
          continue;
        }
        await resp.waitForSpace(r.bytes.length);
      }
    } catch (e) {
      if (!this.channelEnded(e)) throw e;
    } finally {
      this.draining = false;
    }
    this.publish();
  }

  private schedulePublish(): void {
    if (this.publishQueued) return;
    this.publishQueued = true;
    queueMicrotask(() => {
      this.publishQueued = false;
      this.publish();
    });
  }

  private publish(): void {
    if (this.gone) return;
    try {
      this.env.response.publish();
    } catch (e) {
      if (!this.channelEnded(e)) throw e;
    }
  }
}
