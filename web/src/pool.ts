// WorkerPool: calls and streams on a pool of workers — plain JavaScript
// workers (expose(), worker.ts) or C++ workers in a wasm module — over the
// records of web/PROTOCOL.md.
//
//   const pool = await WorkerPool.create({ script: new URL('./my-worker.js', import.meta.url) });
//   const sum = await pool.call<number>('add', 1, 2);
//   const s = await pool.stream('upper', { args: ['!'] });
//   await s.send('hello'); await s.close();
//   for await (const v of s) console.log(v);
//   await pool.terminate();
//
// Guarantees:
// - Nothing here blocks the thread (the browser's main thread may never
//   block): every wait is an Atomics.waitAsync (rings) or a message.
// - Dispatch: a call goes to the worker with the fewest calls in flight (as
//   counted here), or to `affinity % size`. Each worker takes at most
//   maxInFlight calls and streams; beyond that calls wait in one FIFO queue
//   of at most maxQueued (QueueFull past it). A full request ring makes calls
//   wait for room: they are never lost and never reordered per worker.
// - Batching: arguments are encoded straight into the request ring, and all
//   calls made in one microtask are published with one store (and at most
//   one wake-up) per worker.
// - Every call and stream ends exactly once: its result, its error (a task's
//   error arrives as a FerryError subclass), TimeoutError, CancelledError
//   (the AbortSignal's reason is kept as `cause`), WorkerCrashedError when
//   its worker died (the pool then replaces the worker), or ClosedError
//   ("the pool was terminated"). A timed-out or cancelled task is told so
//   (a cancel record fires its AbortSignal / CancelToken); its late result
//   is dropped.

import type { Backend } from './backend.js';
import { WasmBuffer, flushQuarantine, quarantineStats } from './buffer.js';
import { decodeFirst, decodeRange, Writer } from './codec.js';
import {
  CancelledError,
  ClosedError,
  ErrorKind,
  FerryError,
  InvalidArgumentError,
  QueueFullError,
  TimeoutError,
  UnknownTaskError,
  WorkerCrashedError,
} from './errors.js';
import { createJsBackend, ringCapacityOf, type ArenaStats } from './js-backend.js';
import { SpinBudget, nowUs } from './spin.js';
import { PartReader, RequestTag, ResponseTag, cancelRecord, crashReason, getU64, kCallHeaderBytes, kStreamHeaderBytes, putCallHeader, putStreamHeader, splitParts } from './protocol.js';
import { RingConsumer, RingProducer, ringAbort, ringBytes, ringInit, ringSetBells } from './ring.js';
import type { Signature } from './schema.js';
import type { HeapStats, WasmBackendOptions } from './wasm-backend.js';
import { RecordWriter, plainCodec, type RecordConsumer, type RecordProducer, type ValueCodec } from './records.js';
import { Stream, StreamReader, StreamWriter } from './stream.js';

// ---------------------------------------------------------------------------
// Options and statistics

export interface WorkerPoolOptions {
  /** URL or path of a worker module script that calls expose() (JavaScript workers). */
  script?: string | URL;
  /** A wasm module with C++ tasks: its glue script (URL or path) or factory (wasm-backend.ts). */
  module?: WasmBackendOptions['module'];
  /** Wasm: the factory name the glue script defines (default createFerryWeb). */
  factory?: string;
  /** Number of workers. Default: navigator.hardwareConcurrency / os.availableParallelism(). */
  workers?: number;
  /** Bytes of each worker's request and response ring (power of two, default 64 KiB). */
  ringCapacity?: number;
  /** Calls and streams one worker takes at once (default 64). */
  maxInFlight?: number;
  /** Calls that may wait for a worker (default 10000); QueueFullError beyond. */
  maxQueued?: number;
  /**
   * 'shared-memory' (rings in a SharedArrayBuffer), 'postMessage' (the
   * fallback), or 'auto' (default): shared memory when SharedArrayBuffer
   * exists and the page is cross-origin isolated.
   */
  transport?: 'auto' | 'shared-memory' | 'postMessage';
  /** JavaScript workers: bytes for stream rings (default 16 MiB). */
  arenaBytes?: number;
  /**
   * How long starting may take (default 30 s): JavaScript workers' scripts
   * and handshake; a wasm module's glue, binary, worker script and threads.
   * Past it create() rejects, naming what did not load or start.
   */
  startTimeoutMs?: number;
  /**
   * JavaScript workers: a worker whose event loop has not beaten for this
   * many ms (a task that never gives its thread back) is declared crashed:
   * its calls fail with WorkerCrashedError and it is replaced. Default 0: off.
   */
  heartbeatMs?: number;
}

export interface CallOptions {
  /** Aborting it rejects the call with CancelledError (cause: the reason) and cancels the task. */
  signal?: AbortSignal;
  /** Milliseconds; then TimeoutError, and the task is cancelled. */
  timeout?: number;
  /** Runs on worker `affinity % size` (a non-negative integer). */
  affinity?: number;
}

export interface StreamOptions {
  /** The task's arguments after its input and output. */
  args?: unknown[];
  /** Bytes of each of the stream's two rings (power of two, default 64 KiB). */
  capacity?: number;
  signal?: AbortSignal;
  affinity?: number;
}

export interface WorkerStats {
  /** Calls and streams sent to this worker that have not answered yet. */
  inFlight: number;
  /** Results this worker returned (values / errors). */
  completed: number;
  failed: number;
  /** Times this slot got a new worker after a crash. */
  restarts: number;
  alive: boolean;
}

export interface PoolStats {
  transport: 'shared-memory' | 'postMessage';
  workers: WorkerStats[];
  /** Calls and streams waiting for a worker now, and the most there ever were. */
  queued: number;
  queuedHighWater: number;
  /** Calls and streams accepted, resolved and rejected (any reason) so far. */
  submitted: number;
  completed: number;
  failed: number;
  /** Stream memory (JavaScript workers over shared memory). */
  memory?: ArenaStats;
  /** WasmBuffers that were garbage-collected without release() (freed by a backstop), and their bytes. */
  leakedBuffers: number;
  leakedBufferBytes: number;
  /** Streams garbage-collected while still open (cancelled by a backstop, which also warns). */
  leakedStreams: number;
  /** Released WasmBuffers whose bytes were written after release() (through a view kept too long). */
  writesAfterRelease: number;
}

// ---------------------------------------------------------------------------
// Transport: what the pool needs from where its workers live

/** A stream's two channels, allocated for one worker slot. */
export interface StreamChannels {
  /** What the stream record carries for `in` and `out` (ring byte offsets, or channel ids). */
  readonly inWire: number;
  readonly outWire: number;
  /** pool -> task */
  readonly input: RecordProducer;
  /** task -> pool */
  readonly output: RecordConsumer;
  /** Ends both channels from outside: waits wake, operations fail with `kind`. */
  abort(kind: number): void;
  /** Gives the memory back; only once nothing waits on the channels any more. */
  free(): void;
}

/** @internal the pool's view of a Backend (rings) or of the postMessage fallback. */
export interface Transport {
  readonly name: 'shared-memory' | 'postMessage';
  readonly size: number;
  readonly signatures: Map<string, Signature> | null;
  slot(index: number): { request: RecordProducer; response: RecordConsumer };
  /** Wakes and ends slot `index`'s request and response channels. */
  abortSlot(index: number, kind: number): void;
  openStream(index: number, capacity: number): StreamChannels;
  replace(index: number): Promise<void>;
  onCrash(callback: (index: number, reason: string) => void): void;
  terminate(): Promise<void>;
  memory?(): ArenaStats | undefined;
}

/** A Backend's rings as a Transport. */
class RingTransport implements Transport {
  readonly name = 'shared-memory' as const;
  constructor(readonly b: Backend) {}
  get size(): number {
    return this.b.size;
  }
  get signatures(): Map<string, Signature> | null {
    return this.b.signatures;
  }
  slot(index: number): { request: RecordProducer; response: RecordConsumer } {
    return this.b.slot(index);
  }
  abortSlot(index: number, kind: number): void {
    const r = this.b.slot(index);
    ringAbort(r.request.buffer, r.request.byteOffset, kind);
    ringAbort(r.response.buffer, r.response.byteOffset, kind);
    r.response.whenRung?.wake(); // a wait on a MessagePort doorbell hears no bell
  }
  openStream(index: number, capacity: number): StreamChannels {
    const cap = ringCapacityOf(capacity, 64 * 1024);
    const b = this.b;
    const inOff = b.alloc(ringBytes(cap));
    let outOff: number;
    try {
      outOff = b.alloc(ringBytes(cap));
    } catch (e) {
      b.free(inOff);
      throw e;
    }
    const buf = b.buffer;
    ringInit(buf, inOff, cap);
    ringInit(buf, outOff, cap);
    const door = b.slot(index).doorbell;
    if (door !== null) {
      // A wasm worker's executor sleeps on its doorbell: the task side of
      // both rings (in's data, out's space) must ring it.
      ringSetBells(buf, inOff, door, null);
      ringSetBells(buf, outOff, null, door);
    }
    const input = RingProducer.attach(buf, inOff);
    const output = RingConsumer.attach(buf, outOff);
    return {
      inWire: inOff,
      outWire: outOff,
      input,
      output,
      abort: (kind) => {
        ringAbort(buf, inOff, kind);
        ringAbort(buf, outOff, kind);
      },
      free: () => {
        input.detach();
        output.detach();
        b.free(inOff);
        b.free(outOff);
      },
    };
  }
  replace(index: number): Promise<void> {
    return this.b.replace(index);
  }
  onCrash(callback: (index: number, reason: string) => void): void {
    this.b.onCrash(callback);
  }
  terminate(): Promise<void> {
    return this.b.terminate();
  }
  memory(): ArenaStats | undefined {
    const m = (this.b as { memory?: () => ArenaStats }).memory;
    return typeof m === 'function' ? m.call(this.b) : undefined;
  }
}

// ---------------------------------------------------------------------------
// Internals

const kOrigin = 'pool';
// The longest the main thread spins for an answer before it parks (µs):
// about what a park and wake-up of the page costs (web/README.md, "Waiting").
const kSpinCapUs = 100;

const enum State {
  Queued,
  Sent,
  Settled, // settled here (timeout, cancel, terminate); a result may still come
}

interface StreamState {
  id: number;
  name: string;
  slot: Slot;
  gen: number;
  ch: StreamChannels;
  writer: StreamWriter;
  reader: StreamReader;
  resolveDone: (v: unknown) => void;
  rejectDone: (e: unknown) => void;
  doneSettled: boolean;
  resultIn: boolean; // the task answered, or can no longer touch the channels
  freed: boolean;
  // Set when its worker died: settles once that worker can no longer write
  // into the stream's memory (its slot was replaced, or could not be).
  retired: Promise<void> | null;
}

interface Pending {
  id: number;
  name: string;
  stream: boolean;
  state: State;
  slot: Slot | null;
  affinity: number; // -1: any worker
  resolve: (v: unknown) => void; // the call's result, or the opened Stream
  reject: (e: unknown) => void;
  args: unknown[];
  encoded: Uint8Array | null; // the arguments, encoded while queued
  capacity: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  st: StreamState | null;
}

interface Slot {
  index: number;
  gen: number;
  alive: boolean;
  request: RecordProducer | null;
  response: RecordConsumer | null;
  pending: Map<number, Pending>;
  inFlight: number;
  completed: number;
  failed: number;
  restarts: number;
  outbox: Deque<{ tag: number; bytes: Uint8Array }>;
  draining: Promise<void> | null;
  parts: PartReader; // a result that comes in parts
  dirty: boolean;
  calls: number; // of inFlight, the calls (not streams): the answers worth spinning for
  parked: Promise<void> | null; // a wake-up armed on the response ring
  pinned: Deque<Pending>;
}

/** A FIFO with O(1) push and shift. */
class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(v: T): void {
    this.items.push(v);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }
  clear(): T[] {
    const rest = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return rest;
  }
}

const utf8 = new TextEncoder();

function cancelledError(reason: unknown, what: string): CancelledError {
  const text = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
  const e = new CancelledError(`${what} was cancelled: ${text}`, kOrigin);
  Object.defineProperty(e, 'cause', { value: reason, writable: true, configurable: true, enumerable: false });
  return e;
}

function terminatedError(): ClosedError {
  return new ClosedError('the pool was terminated', kOrigin);
}

/** True where rings in a SharedArrayBuffer work (and a page is cross-origin isolated). */
export function sharedMemoryAvailable(): boolean {
  if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return false;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  return isolated === undefined || isolated === true;
}

type SchemaModule = typeof import('./schema.js');

// ---------------------------------------------------------------------------
// WorkerPool

export class WorkerPool {
  /** 'shared-memory' or 'postMessage'. */
  readonly transport: 'shared-memory' | 'postMessage';

  private readonly slots: Slot[] = [];
  private readonly queue = new Deque<Pending>();
  private queuedLive = 0;
  private queuedHighWater = 0;
  private submitted = 0;
  private completedCount = 0;
  private failedCount = 0;
  private nextId = 1;
  private leakedBuffers = 0;
  private leakedStreams = 0;
  private readonly streamBackstop =
    typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<StreamState>((st) => this.streamCollected(st)) : null;
  private leakedBufferBytes = 0;
  private warm = 0; // the slot that answered last
  private closed = false;
  private terminated: Promise<void> | null = null;
  private readonly dirty: Slot[] = [];
  private serviceQueued = false;
  private readonly serviceFn = () => this.service();
  // How long to spin for answers before parking (learned).
  private readonly spin: SpinBudget;
  private readonly records = new RecordWriter(true);
  private head = new Uint8Array(256);
  private readonly names = new Map<string, Uint8Array>();
  private schema: SchemaModule | null = null;
  private readonly codecs = new Map<string, { args: ValueCodec; input: ValueCodec; output: ValueCodec }>();

  private constructor(
    private readonly t: Transport,
    private readonly maxInFlight: number,
    private readonly maxQueued: number,
  ) {
    this.transport = t.name;
    // Over postMessage an answer arrives as an event: spinning cannot see it.
    this.spin = new SpinBudget(t.name === 'shared-memory' ? kSpinCapUs : 0);
    for (let i = 0; i < t.size; i++) {
      const s: Slot = {
        index: i,
        gen: 0,
        alive: true,
        request: null,
        response: null,
        pending: new Map(),
        inFlight: 0,
        completed: 0,
        failed: 0,
        restarts: 0,
        outbox: new Deque(),
        draining: null,
        parts: new PartReader(),
        dirty: false,
        calls: 0,
        parked: null,
        pinned: new Deque(),
      };
      this.slots.push(s);
      this.attach(s);
    }
    t.onCrash((index, reason) => this.crash(this.slots[index]!, reason));
  }

  /** Starts the workers; resolves once every one of them is ready. */
  static async create(options: WorkerPoolOptions): Promise<WorkerPool> {
    const maxInFlight = options.maxInFlight ?? 64;
    const maxQueued = options.maxQueued ?? 10000;
    if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new InvalidArgumentError(`maxInFlight ${String(maxInFlight)} must be a positive integer`, kOrigin);
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new InvalidArgumentError(`maxQueued ${String(maxQueued)} must be a non-negative integer`, kOrigin);
    const want = options.transport ?? 'auto';
    if (want !== 'auto' && want !== 'shared-memory' && want !== 'postMessage') {
      throw new InvalidArgumentError(`transport '${String(want)}' must be 'auto', 'shared-memory' or 'postMessage'`, kOrigin);
    }
    let t: Transport;
    if (options.module !== undefined) {
      if (options.script !== undefined) throw new InvalidArgumentError('pass either script or module, not both', kOrigin);
      if (want === 'postMessage') throw new InvalidArgumentError('wasm workers need shared memory; transport postMessage is for script workers', kOrigin);
      if (!sharedMemoryAvailable()) {
        throw new InvalidArgumentError(
          'wasm workers (pthreads) need SharedArrayBuffer: serve the page cross-origin isolated (COOP/COEP headers); only script workers fall back to postMessage',
          kOrigin,
        );
      }
      const { createWasmBackend } = await import('./wasm-backend.js');
      t = new RingTransport(
        await createWasmBackend({
          module: options.module,
          factory: options.factory,
          workers: options.workers,
          ringCapacity: options.ringCapacity,
          startTimeoutMs: options.startTimeoutMs,
        }),
      );
    } else {
      if (options.script === undefined) throw new InvalidArgumentError('WorkerPool.create needs a script (JavaScript workers) or a module (wasm)', kOrigin);
      const common = {
        script: options.script,
        workers: options.workers,
        ringCapacity: options.ringCapacity,
        startTimeoutMs: options.startTimeoutMs,
        heartbeatMs: options.heartbeatMs,
      };
      if (want === 'postMessage' || (want === 'auto' && !sharedMemoryAvailable())) {
        const { createMessageBackend } = await import('./message-backend.js');
        t = await createMessageBackend(common);
      } else {
        if (!sharedMemoryAvailable()) {
          throw new InvalidArgumentError(
            "transport 'shared-memory' needs SharedArrayBuffer and a cross-origin isolated page (COOP/COEP headers); use transport 'auto' to fall back to postMessage",
            kOrigin,
          );
        }
        t = new RingTransport(await createJsBackend({ ...common, arenaBytes: options.arenaBytes }));
      }
    }
    const pool = new WorkerPool(t, maxInFlight, maxQueued);
    if (t.signatures !== null) pool.schema = await import('./schema.js');
    return pool;
  }

  /** Number of workers. */
  get size(): number {
    return this.slots.length;
  }

  /** Runs task `name` with `args` on a worker. */
  call<T = unknown>(name: string, ...args: unknown[]): Promise<T> {
    return this.submit(false, name, args, undefined, 0) as Promise<T>;
  }

  /** call() with a timeout, an AbortSignal and/or a worker affinity. */
  callWith<T = unknown>(options: CallOptions, name: string, ...args: unknown[]): Promise<T> {
    return this.submit(false, name, args, options, 0) as Promise<T>;
  }

  /**
   * Starts stream task `name`. Resolves with the Stream once its record is
   * on its way to a worker (a queued stream waits like a queued call);
   * rejects like a call (UnknownTask, QueueFull, Cancelled, Closed, ...).
   */
  stream<In = unknown, Out = unknown, R = unknown>(name: string, options: StreamOptions = {}): Promise<Stream<In, Out, R>> {
    const capacity = options.capacity ?? 64 * 1024;
    if (options.args !== undefined && !Array.isArray(options.args)) {
      return Promise.reject(new InvalidArgumentError(`stream options.args must be an array (the task's arguments), not ${typeof options.args}`, kOrigin));
    }
    return this.submit(true, name, options.args ?? [], options, capacity) as Promise<Stream<In, Out, R>>;
  }

  stats(): PoolStats {
    const s: PoolStats = {
      transport: this.transport,
      workers: this.slots.map((w) => ({ inFlight: w.inFlight, completed: w.completed, failed: w.failed, restarts: w.restarts, alive: w.alive })),
      queued: this.queuedLive,
      queuedHighWater: this.queuedHighWater,
      submitted: this.submitted,
      completed: this.completedCount,
      failed: this.failedCount,
      leakedBuffers: this.leakedBuffers,
      leakedBufferBytes: this.leakedBufferBytes,
      leakedStreams: this.leakedStreams,
      writesAfterRelease: this.wasmBackend() !== null ? quarantineStats(this.wasmBackend()!).writesAfterRelease : 0,
    };
    const m = this.t.memory?.();
    if (m !== undefined) s.memory = m;
    return s;
  }

  /**
   * Wasm pools: leases `size` bytes of the module's memory as a WasmBuffer.
   * Fill buf.bytes in place and pass buf to a task that takes
   * ferry::SharedBytes: nothing is copied. release() it when done.
   */
  alloc(size: number): WasmBuffer {
    if (this.closed) throw terminatedError();
    const t = this.t;
    if (!(t instanceof RingTransport) || t.b.kind !== 'wasm') {
      throw new InvalidArgumentError('pool.alloc() leases wasm memory: only a pool created with a module has it', kOrigin);
    }
    return new WasmBuffer(t.b, size, (bytes) => {
      this.leakedBuffers++;
      this.leakedBufferBytes += bytes;
    });
  }

  /**
   * Wasm pools: the module heap's numbers (bytes in use, free chunks,
   * high-water mark), for leak checks. `quarantined` of the bytes in use are
   * released WasmBuffers not yet handed back to the allocator (buffer.ts).
   */
  heap(): HeapStats & { quarantined: number } {
    const b = this.wasmBackend();
    if (b === null) throw new InvalidArgumentError('pool.heap() describes wasm memory: only a pool created with a module has it', kOrigin);
    if (this.closed) throw terminatedError();
    return { ...b.heap(), quarantined: quarantineStats(b).bytes };
  }

  private wasmBackend(): (Backend & { heap: () => HeapStats }) | null {
    const b = this.t instanceof RingTransport ? (this.t.b as Backend & { heap?: () => HeapStats }) : null;
    return b !== null && b.kind === 'wasm' && typeof b.heap === 'function' ? (b as Backend & { heap: () => HeapStats }) : null;
  }

  /**
   * Rejects every pending call and stream with ClosedError("the pool was
   * terminated"), then stops the workers. Later calls reject at once.
   */
  terminate(): Promise<void> {
    if (this.terminated !== null) return this.terminated;
    this.closed = true;
    for (const s of this.slots) {
      for (const p of s.pending.values()) this.endPending(p, terminatedError, ErrorKind.Closed);
      s.pending.clear();
      s.inFlight = 0;
      s.calls = 0;
      for (const p of s.pinned.clear()) this.endPending(p, terminatedError, ErrorKind.Closed);
      s.outbox.clear();
      if (s.alive) {
        try {
          this.t.abortSlot(s.index, ErrorKind.Closed); // wakes this slot's waits
        } catch {
          // a slot between workers has no rings to wake
        }
      }
      s.alive = false;
    }
    for (const p of this.queue.clear()) this.endPending(p, terminatedError, ErrorKind.Closed);
    this.queuedLive = 0;
    const wasm = this.wasmBackend();
    if (wasm !== null) flushQuarantine(wasm);
    this.terminated = this.t.terminate();
    return this.terminated;
  }

  // -------------------------------------------------------------------------
  // Submission and dispatch

  private submit(isStream: boolean, name: string, args: unknown[], options: CallOptions | StreamOptions | undefined, capacity: number): Promise<unknown> {
    if (this.closed) return Promise.reject(terminatedError());
    let affinity = -1;
    let timeout: number | undefined;
    try {
      if (typeof name !== 'string') throw new InvalidArgumentError(`task name ${String(name)} must be a string`, kOrigin);
      this.checkTask(isStream, name);
      if (options !== undefined) {
        if (options.affinity !== undefined) {
          if (!Number.isSafeInteger(options.affinity) || options.affinity < 0) {
            throw new InvalidArgumentError(`affinity ${String(options.affinity)} must be a non-negative integer`, kOrigin);
          }
          affinity = options.affinity % this.slots.length;
        }
        timeout = (options as CallOptions).timeout;
        if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0)) {
          throw new InvalidArgumentError(`timeout ${String(timeout)} must be a non-negative number of milliseconds`, kOrigin);
        }
        if (options.signal?.aborted) throw cancelledError(options.signal.reason, `${isStream ? 'stream' : 'call'} '${name}'`);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const p: Pending = {
      id: this.nextId++,
      name,
      stream: isStream,
      state: State.Queued,
      slot: null,
      affinity,
      resolve,
      reject,
      args,
      encoded: null,
      capacity,
      timer: undefined,
      signal: options?.signal,
      onAbort: undefined,
      st: null,
    };
    this.submitted++;
    let slot: Slot | null;
    if (affinity >= 0) {
      const s = this.slots[affinity]!;
      slot = s.alive && s.inFlight < this.maxInFlight && s.pinned.length === 0 ? s : null;
    } else {
      slot = this.queue.length === 0 ? this.pick() : null;
    }
    try {
      if (slot !== null) {
        this.dispatch(slot, p);
      } else {
        if (this.queuedLive >= this.maxQueued) {
          throw new QueueFullError(`${this.queuedLive} calls are already waiting for a worker (maxQueued ${this.maxQueued})`, kOrigin);
        }
        p.encoded = this.codecsOf(name).args.encode(args); // fail now, not when dequeued
        p.args = [];
        (affinity >= 0 ? this.slots[affinity]!.pinned : this.queue).push(p);
        this.queuedLive++;
        if (this.queuedLive > this.queuedHighWater) this.queuedHighWater = this.queuedLive;
      }
    } catch (e) {
      this.failedCount++;
      return Promise.reject(e);
    }
    if (p.state !== State.Settled) {
      if (timeout !== undefined && !isStream) {
        p.timer = setTimeout(() => {
          p.timer = undefined;
          this.abandon(p, new TimeoutError(`call '${name}' timed out after ${timeout} ms`, kOrigin));
        }, timeout);
      }
      const signal = p.signal;
      if (signal !== undefined) {
        p.onAbort = () => {
          if (p.st !== null) this.cancelStream(p.st, signal.reason);
          else this.abandon(p, cancelledError(signal.reason, `${isStream ? 'stream' : 'call'} '${name}'`));
        };
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
    }
    return promise;
  }

  // UnknownTask fails fast when the workers published their tasks (wasm).
  private checkTask(isStream: boolean, name: string): void {
    const sigs = this.t.signatures;
    if (sigs === null) return;
    const sig = sigs.get(name);
    if (sig === undefined) {
      const names = [...sigs.keys()].sort();
      throw new UnknownTaskError(`no task named '${name}' (exported: ${names.length ? names.join(', ') : 'none'})`, kOrigin);
    }
    if (isStream !== (sig.kind === 'stream')) {
      throw new InvalidArgumentError(`'${name}' is a ${sig.kind} task: use pool.${sig.kind}()`, kOrigin);
    }
  }

  // The least-loaded live worker with room, or null.
  private pick(): Slot | null {
    const n = this.slots.length;
    // Ties go to the worker that answered last: it is the likeliest to be
    // awake and warm (a sequential caller keeps one worker busy, not two
    // half asleep).
    const start = this.warm;
    let best: Slot | null = null;
    for (let k = 0; k < n; k++) {
      const s = this.slots[(start + k) % n]!;
      if (!s.alive || s.inFlight >= this.maxInFlight) continue;
      if (best === null || s.inFlight < best.inFlight) {
        best = s;
        if (s.inFlight === 0) break;
      }
    }
    return best;
  }

  // Writes p's record to slot s. Throws encoding errors (nothing is sent).
  private dispatch(s: Slot, p: Pending): void {
    const nameBytes = this.nameBytes(p.name);
    const codecs = this.codecsOf(p.name);
    let ch: StreamChannels | null = null;
    let headLen: number;
    if (p.stream) {
      ch = this.t.openStream(s.index, p.capacity);
      headLen = kStreamHeaderBytes + nameBytes.length;
      const h = this.headRoom(headLen);
      putStreamHeader(h, p.id, ch.inWire, ch.outWire, nameBytes.length);
      h.set(nameBytes, kStreamHeaderBytes);
    } else {
      headLen = kCallHeaderBytes + nameBytes.length;
      const h = this.headRoom(headLen);
      putCallHeader(h, p.id, nameBytes.length);
      h.set(nameBytes, kCallHeaderBytes);
    }
    const tag = p.stream ? RequestTag.Stream : RequestTag.Call;
    try {
      if (p.encoded !== null) {
        this.sendParts(s, tag, headLen, p.encoded);
      } else if (s.outbox.length === 0) {
        const rest = this.records.put(s.request!, tag, this.head, headLen, p.args, codecs.args);
        if (rest !== null) this.sendRaw(s, tag, rest);
        else this.markDirty(s);
      } else {
        this.sendRaw(s, tag, this.records.bytes(this.head, headLen, p.args, codecs.args));
      }
    } catch (e) {
      if (ch !== null) {
        ch.abort(ErrorKind.Closed);
        ch.free();
      }
      if (e instanceof FerryError && (e.kind === ErrorKind.WorkerCrashed || e.kind === ErrorKind.Closed)) {
        // The request ring was ended under us: the worker is gone.
        this.crash(s, e.message);
      }
      throw e;
    }
    p.args = [];
    p.encoded = null;
    p.state = State.Sent;
    p.slot = s;
    s.pending.set(p.id, p);
    s.inFlight++;
    if (!p.stream) s.calls++;
    if (ch !== null) this.openStream(s, p, ch, codecs);
  }

  private openStream(s: Slot, p: Pending, ch: StreamChannels, codecs: { input: ValueCodec; output: ValueCodec }): void {
    let resolveDone!: (v: unknown) => void;
    let rejectDone!: (e: unknown) => void;
    const done = new Promise<unknown>((res, rej) => {
      resolveDone = res;
      rejectDone = rej;
    });
    const st = { id: p.id, name: p.name, slot: s, gen: s.gen, ch, resolveDone, rejectDone, doneSettled: false, resultIn: false, freed: false, retired: null } as StreamState;
    st.writer = new StreamWriter(ch.input, codecs.input, { onAbort: (reason) => this.cancelStream(st, reason) });
    st.reader = new StreamReader(ch.output, codecs.output, {
      // The output's end is the task's: its error result fails the stream.
      atEnd: () => done.then(() => undefined),
      onFinish: () => this.maybeFree(st),
      // readable.cancel() is like breaking out of for await: it closes our end.
    });
    const stream = new Stream(p.id, st.writer, st.reader, done, { cancel: (reason) => this.cancelStream(st, reason) });
    p.st = st;
    p.resolve(stream);
    // Nothing of ours may keep the Stream alive (st does not point to it; the
    // resolved promise's resolvers are dropped), so that the backstop below
    // sees it go when the caller drops it.
    p.resolve = p.reject = ignore;
    this.streamBackstop?.register(stream, st);
  }

  // The caller dropped a Stream with a direction still open (input not
  // closed, or output not read to its end): its task could wait forever and
  // its rings would stay. Close what is open, as a C++ endpoint's destructor
  // does: the task's input ends after what was sent, and its further sends
  // fail with Closed. Then the task ends and the memory is freed. Say so.
  private streamCollected(st: StreamState): void {
    if (this.closed || (st.writer.isClosed && st.reader.isEnded)) return;
    this.leakedStreams++;
    console.warn(`ferry: stream ${st.id} ('${st.name}') was garbage-collected while still open; closing it (read it to the end, or close() or cancel() it, before dropping it)`);
    st.writer.close().catch(ignore);
    st.reader.close();
  }

  // Writes head[0, headLen) + body as one record, copying once when it fits now.
  private sendParts(s: Slot, tag: number, headLen: number, body: Uint8Array): void {
    const total = headLen + body.length;
    if (s.outbox.length === 0 && total <= s.request!.maxPayload) {
      const view = s.request!.tryReserve(total, tag);
      if (view !== null) {
        view.set(this.head.subarray(0, headLen));
        view.set(body, headLen);
        s.request!.commit(total);
        this.markDirty(s);
        return;
      }
    }
    const full = new Uint8Array(total);
    full.set(this.head.subarray(0, headLen));
    full.set(body, headLen);
    this.sendRaw(s, tag, full);
  }

  // Writes one record now, or queues it behind the others while the ring is
  // full; a record too large for the ring goes in parts (web/PROTOCOL.md).
  private sendRaw(s: Slot, tag: number, bytes: Uint8Array): void {
    if (bytes.length > s.request!.maxPayload) {
      for (const part of splitParts(tag, bytes, s.request!.maxPayload)) this.sendRaw(s, RequestTag.Part, part);
      return;
    }
    if (s.outbox.length === 0 && s.request!.tryWrite(tag, bytes)) {
      this.markDirty(s);
      return;
    }
    s.outbox.push({ tag, bytes });
    if (s.draining === null) s.draining = this.drain(s);
  }

  // Writes the records that found the request ring full, in order, as room appears.
  private async drain(s: Slot): Promise<void> {
    const gen = s.gen;
    const req = s.request!;
    try {
      while (s.gen === gen && s.outbox.length > 0) {
        const r = s.outbox.peek()!;
        if (req.tryWrite(r.tag, r.bytes)) {
          s.outbox.shift();
          continue;
        }
        await req.waitForSpace(r.bytes.length); // publishes what is written first
      }
    } catch (e) {
      if (s.gen === gen && !this.closed) this.crash(s, e instanceof Error ? e.message : String(e));
    } finally {
      if (s.gen === gen) {
        s.draining = null;
        this.markDirty(s);
      }
    }
  }

  private markDirty(s: Slot): void {
    if (s.dirty) return;
    s.dirty = true;
    this.dirty.push(s);
    this.schedule();
  }

  // One publish per worker for everything written since the last one.
  private flush(): void {
    for (const s of this.dirty) {
      s.dirty = false;
      if (s.alive && s.request !== null) {
        try {
          s.request.publish();
        } catch {
          // an ended ring: the crash path deals with it
        }
      }
    }
    this.dirty.length = 0;
  }

  // -------------------------------------------------------------------------
  // The main thread's side of a call: publish, spin, park, drain

  private schedule(): void {
    if (this.serviceQueued) return;
    this.serviceQueued = true;
    queueMicrotask(this.serviceFn);
  }

  // Everything the main thread does for calls in one pass, run once per
  // microtask turn that made calls and once per wake-up: publish what was
  // written (one store per worker), read every answer that is there (every
  // worker), and when calls are out but no answer is, spin for the learned
  // budget (spin.ts) re-checking, then park every response ring that has
  // no wake-up armed yet. Answers resolve their promises; the callers'
  // continuations run after this returns, and a new pass is queued behind
  // them so that the calls they make go out together.
  private service(): void {
    this.serviceQueued = false;
    if (this.closed) return;
    this.flush();
    let n = this.drainAll();
    if (n === 0 && this.callsOut > 0) {
        const budget = this.spin.next();
      if (budget > 0) {
        const start = nowUs();
        const end = start + budget;
        let now = start;
        while (!this.anyAnswer() && (now = nowUs()) < end);
        n = this.drainAll();
        if (n > 0) this.spin.spun(now - start);
        else this.spin.parked(budget);
      }
    }
    if (n > 0) {
      this.schedule();
      return;
    }
    this.park();
  }

  // Reads every answer every live worker has published; returns how many.
  private drainAll(): number {
    let n = 0;
    for (const s of this.slots) if (s.alive && s.response !== null) n += this.readAnswers(s);
    return n;
  }

  private get callsOut(): number {
    let n = 0;
    for (const s of this.slots) if (s.alive) n += s.calls;
    return n;
  }

  private anyAnswer(): boolean {
    for (const s of this.slots) {
      if (s.alive && s.inFlight > 0 && s.response!.hasData()) return true;
    }
    return false;
  }

  // One slot's records, then one release; a broken ring means a dead worker.
  // Allocation-free up to the values themselves: each record is read where
  // it lies (nextRecord) and decoded from there.
  private readAnswers(s: Slot): number {
    const resp = s.response!;
    const gen = s.gen;
    let n = 0;
    try {
      for (let tag = resp.nextRecord(); tag >= 0; tag = resp.nextRecord()) {
        this.onRecord(s, tag, resp.recordBytes, resp.recordOffset, resp.recordLength);
        n++;
        if (s.gen !== gen) return n; // it crashed
      }
      resp.release();
    } catch (e) {
      if (s.gen === gen && !this.closed) this.crash(s, e instanceof FerryError && e.kind === ErrorKind.WorkerCrashed ? 'its rings were aborted' : String((e as Error).message ?? e));
      return n;
    }
    if (n > 0) {
      this.warm = s.index;
      this.pump(s);
    }
    return n;
  }

  // Arms a wake-up on every live response ring that has none: the worker
  // rings the bell only while its ring says we are parked (eventcount), and
  // the wake runs a service pass. An idle pool stays parked like this, so
  // that a C++ worker's crash record (or an aborted ring) is seen at once.
  private park(): void {
    for (const s of this.slots) {
      if (!s.alive || s.response === null || s.parked !== null) continue;
      const gen = s.gen;
      const resp = s.response;
      const p = resp.park();
      if (p === null) {
        this.schedule();
        continue;
      }
      s.parked = p.then(() => {
        if (s.gen !== gen) return;
        s.parked = null;
        resp.unpark();
        if (!this.closed) this.service();
      });
    }
  }

  private nameBytes(name: string): Uint8Array {
    let b = this.names.get(name);
    if (b === undefined) {
      b = utf8.encode(name);
      if (b.length > 0xffff) throw new InvalidArgumentError(`task name of ${b.length} bytes exceeds the limit of 65535`, kOrigin);
      if (this.names.size < 4096) this.names.set(name, b);
    }
    return b;
  }

  private headRoom(n: number): Uint8Array {
    if (this.head.length < n) this.head = new Uint8Array(2 * n);
    return this.head;
  }

  private codecsOf(name: string): { args: ValueCodec; input: ValueCodec; output: ValueCodec } {
    if (this.schema === null) return kPlainCodecs;
    let c = this.codecs.get(name);
    if (c === undefined) {
      c = schemaCodecs(this.schema, this.t.signatures!.get(name)!);
      this.codecs.set(name, c);
    }
    return c;
  }

  // Moves queued work to slot s while it has room.
  private pump(s: Slot): void {
    while (s.alive && s.inFlight < this.maxInFlight) {
      const p = this.takeQueued(s.pinned) ?? this.takeQueued(this.queue);
      if (p === undefined) return;
      try {
        this.dispatch(s, p);
      } catch (e) {
        this.settle(p, e, undefined);
      }
    }
  }

  private takeQueued(q: Deque<Pending>): Pending | undefined {
    for (;;) {
      const p = q.shift();
      if (p === undefined) return undefined;
      if (p.state !== State.Queued) continue; // settled while it waited
      this.queuedLive--;
      p.state = State.Sent; // on its way: a dispatch that fails settles it as sent
      return p;
    }
  }

  // -------------------------------------------------------------------------
  // Results

  private attach(s: Slot): void {
    const rings = this.t.slot(s.index);
    s.request = rings.request;
    s.response = rings.response;
    s.parts.reset();
    s.parked = null;
    this.schedule();
  }

  // One response record: its payload is bytes[at, at + len).
  private onRecord(s: Slot, tag: number, bytes: Uint8Array, at: number, len: number): void {
    if (tag === ResponseTag.Crash) {
      this.crash(s, crashReason(bytes, at, len));
      return;
    }
    // A part of a record too large for one ring record: handled once whole.
    if (tag === ResponseTag.Part) {
      let whole: Uint8Array | null;
      try {
        whole = s.parts.add(bytes, at, len);
      } catch (e) {
        this.crash(s, `it wrote a malformed response part: ${(e as Error).message}`);
        return;
      }
      if (whole === null) return;
      if (s.parts.tag === ResponseTag.Part) this.crash(s, 'it wrote a response part made of parts');
      else this.onRecord(s, s.parts.tag, whole, 0, whole.length);
      return;
    }
    // A record the protocol does not have: the worker is broken (or not
    // ours), and which call it meant cannot be known. End it cleanly.
    if (tag !== ResponseTag.Result) {
      this.crash(s, `it wrote a response record with the unknown tag ${tag} (web/PROTOCOL.md has 1 result, 2 crashed and 3 part)`);
      return;
    }
    if (len < 8) {
      this.crash(s, `it wrote a result record of ${len} bytes, too short for a call id`);
      return;
    }
    const id = getU64(bytes, at);
    const p = s.pending.get(id);
    if (p === undefined) return; // a result for nothing we wait for
    s.pending.delete(id);
    s.inFlight--;
    if (p.st === null) s.calls--;
    let value: unknown;
    let error: unknown;
    try {
      value = decodeRange(bytes, at + 8, at + len);
      if (value instanceof FerryError) error = value;
    } catch (e) {
      error = e;
    }
    if (error !== undefined) s.failed++;
    else s.completed++;
    if (p.st !== null) {
      this.streamResult(p.st, error, value);
      this.cleanup(p);
      if (p.state !== State.Settled) {
        p.state = State.Settled;
        if (error !== undefined) this.failedCount++;
        else this.completedCount++;
      }
      return;
    }
    if (p.state === State.Settled) return; // timed out or cancelled: dropped
    this.settle(p, error, value);
  }

  private settle(p: Pending, error: unknown, value: unknown): void {
    if (p.state === State.Settled) return;
    if (p.state === State.Queued) this.queuedLive--;
    p.state = State.Settled;
    this.cleanup(p);
    if (error !== undefined) {
      this.failedCount++;
      p.reject(error);
    } else {
      this.completedCount++;
      p.resolve(value);
    }
  }

  private cleanup(p: Pending): void {
    if (p.timer !== undefined) {
      clearTimeout(p.timer);
      p.timer = undefined;
    }
    if (p.onAbort !== undefined) {
      p.signal!.removeEventListener('abort', p.onAbort);
      p.onAbort = undefined;
    }
  }

  // Timeout or abort: settle now, tell the worker, drop the late result.
  private abandon(p: Pending, error: FerryError): void {
    if (p.state === State.Settled) return;
    const sent = p.state === State.Sent;
    this.settle(p, error, undefined);
    if (sent && p.slot !== null && p.slot.alive) this.sendCancel(p.slot, p.id);
  }

  private sendCancel(s: Slot, id: number): void {
    try {
      this.sendRaw(s, RequestTag.Cancel, cancelRecord(id));
    } catch {
      // the worker is gone: nothing to cancel
    }
  }

  // -------------------------------------------------------------------------
  // Streams

  private streamResult(st: StreamState, error: unknown, value: unknown): void {
    st.resultIn = true;
    // The task has closed its ends: later sends cannot reach it.
    st.writer.fail(new ClosedError('the stream task has finished', kOrigin));
    if (!st.doneSettled) {
      st.doneSettled = true;
      if (error !== undefined) st.rejectDone(error);
      else st.resolveDone(value);
    }
    st.reader.endIfDrained(error);
    this.maybeFree(st);
  }

  private cancelStream(st: StreamState, reason: unknown): void {
    if (st.doneSettled && st.reader.isEnded) return;
    const err = cancelledError(reason, `stream '${st.name}'`);
    const p = st.slot.pending.get(st.id);
    if (!st.resultIn && st.slot.alive && st.slot.gen === st.gen) this.sendCancel(st.slot, st.id);
    st.writer.fail(err);
    st.reader.fail(err);
    if (!st.doneSettled) {
      st.doneSettled = true;
      st.rejectDone(err);
      if (p !== undefined && p.state !== State.Settled) {
        p.state = State.Settled;
        this.cleanup(p);
        this.failedCount++;
      }
    }
    this.maybeFree(st);
  }

  // Frees a stream's channels once the task is done with them and so are we.
  private maybeFree(st: StreamState): void {
    if (st.freed || !st.resultIn || !st.reader.isEnded) return;
    st.freed = true;
    void Promise.all([st.writer.idle(), st.reader.idle(), st.retired]).then(() => {
      if (!this.closed) st.ch.free();
    });
  }

  // -------------------------------------------------------------------------
  // Ending

  // Rejects p (queued or sent) with make(); streams end both directions.
  private endPending(p: Pending, make: () => FerryError, abortKind: number): void {
    const st = p.st;
    if (st !== null) {
      const err = make();
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
        this.cleanup(p);
        this.failedCount++;
      }
      if (abortKind === ErrorKind.WorkerCrashed) this.maybeFree(st);
      return;
    }
    this.settle(p, make(), undefined);
  }

  // The worker of slot s died: fail what it held, then replace it.
  private crash(s: Slot, reason: string): void {
    if (!s.alive || this.closed) return;
    s.alive = false; // from here on, a broken record read below cannot crash it again
    // Results it published before dying still count; its last record may say why.
    try {
      const resp = s.response!;
      for (let tag = resp.nextRecord(); tag >= 0; tag = resp.nextRecord()) {
        if (tag === ResponseTag.Crash) reason = crashReason(resp.recordBytes, resp.recordOffset, resp.recordLength);
        else this.onRecord(s, tag, resp.recordBytes, resp.recordOffset, resp.recordLength);
      }
    } catch {
      // the end of what it wrote
    }
    s.restarts++;
    s.gen++;
    try {
      this.t.abortSlot(s.index, ErrorKind.WorkerCrashed); // wakes our waits on its rings
    } catch {
      // already gone
    }
    const make = () => new WorkerCrashedError(`worker ${s.index} crashed: ${reason}`, `worker ${s.index}`);
    const held = [...s.pending.values()];
    s.pending.clear();
    s.inFlight = 0;
    s.calls = 0;
    s.outbox.clear();
    // Its streams' memory waits until the replacement is done: the dead
    // worker may still be running for a moment and write into it.
    let retire!: () => void;
    const retired = new Promise<void>((resolve) => (retire = resolve));
    for (const p of held) {
      if (p.st !== null) p.st.retired = retired;
      this.endPending(p, make, ErrorKind.WorkerCrashed);
    }
    // The abort above rang the old rings' bells: their wake-ups settle.
    const oldPark = s.parked;
    const oldDrain = s.draining;
    s.parked = null;
    s.draining = null;
    void (async () => {
      try {
        await this.restart(s, oldPark, oldDrain);
      } finally {
        retire();
      }
    })();
  }

  // Waits for what used the dead worker's rings, then gives slot s a new worker.
  private async restart(s: Slot, oldPark: Promise<void> | null, oldDrain: Promise<void> | null): Promise<void> {
    await Promise.all([oldPark, oldDrain]);
    if (this.closed) return;
    try {
      await this.t.replace(s.index);
    } catch (e) {
      if (this.closed) return;
      // No replacement: this slot stays dead; work pinned to it fails.
      const err = () => new WorkerCrashedError(`worker ${s.index} crashed and could not be replaced: ${(e as Error).message ?? String(e)}`, `worker ${s.index}`);
      for (const p of s.pinned.clear()) this.endPending(p, err, ErrorKind.WorkerCrashed);
      if (this.slots.every((w) => !w.alive)) for (const p of this.queue.clear()) this.endPending(p, err, ErrorKind.WorkerCrashed);
      return;
    }
    if (this.closed) return;
    s.alive = true;
    this.attach(s);
    this.pump(s);
  }
}

const ignore = (): void => {};

const kPlainCodecs = { args: plainCodec, input: plainCodec, output: plainCodec };

// The reason in a crash record (bytes[at, at + len)): one codec string, as crash_worker() got it.

// Codecs that encode with a task's published signature (wasm workers), so
// that a JavaScript number becomes the i32 the C++ task takes; they encode
// straight into the ring's reservation. Results decode generically (every
// value carries its type).
function schemaCodecs(mod: SchemaModule, sig: Signature): { args: ValueCodec; input: ValueCodec; output: ValueCodec } {
  const slotWriter = new Writer(16);
  const via = (body: (w: Writer, value: unknown) => void): ValueCodec => {
    const c: ValueCodec = {
      encodeAt(value, bytes, start, end) {
        slotWriter.rebindRange(bytes, start, end);
        body(slotWriter, value);
        return slotWriter.size;
      },
      encode(value) {
        const w = new Writer(256);
        body(w, value);
        return w.toUint8Array();
      },
      size: (value) => c.encode(value).length,
      decodeAt: (bytes, start, end, next) => decodeFirst(bytes, start, end, next),
    };
    return c;
  };
  const element = (schema: Signature['input']): ValueCodec =>
    schema === undefined ? plainCodec : via((w, v) => mod.encodeAs(w, schema, v, `stream '${sig.name}'`));
  return {
    args: via((w, args) => mod.encodeArgsInto(w, sig, args as unknown[])),
    input: element(sig.input),
    output: element(sig.output),
  };
}
