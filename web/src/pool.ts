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
//
// This file is the public API. The pool behind it is in pool/ (one module
// again in dist/pool.js, build.mjs): core.ts the slots, the queue and the
// life of each call (dispatch, settle, crash and restart); encode.ts where a
// call's record is encoded, send.ts where it is written to the request
// ring, service.ts where answers are read (publish, spin, park, onRecord);
// streams.ts the pool's side of streams; common.ts what they share.

import type { Backend } from './backend.js';
import { WasmBuffer, flushQuarantine, quarantineStats } from './buffer.js';
import { InvalidArgumentError } from './errors.js';
import { createJsBackend } from './js-backend.js';
import type { Stream } from './stream.js';
import { RingTransport, type Transport } from './transport.js';
import type { HeapStats } from './wasm-backend.js';
import { kOrigin, terminatedError } from './pool/common.js';
import { PoolCore } from './pool/core.js';
import type { CallOptions, PoolStats, StreamOptions, WorkerPoolOptions } from './pool/options.js';

/** True where rings in a SharedArrayBuffer work (and a page is cross-origin isolated). */
export function sharedMemoryAvailable(): boolean {
  if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return false;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  return isolated === undefined || isolated === true;
}

export class WorkerPool {
  /** 'shared-memory' or 'postMessage'. */
  readonly transport: 'shared-memory' | 'postMessage';

  private readonly core: PoolCore;
  private leakedBuffers = 0;
  private leakedBufferBytes = 0;
  private terminated: Promise<void> | null = null;

  private constructor(
    private readonly t: Transport,
    maxInFlight: number,
    maxQueued: number,
  ) {
    this.transport = t.name;
    this.core = new PoolCore(t, maxInFlight, maxQueued);
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
    const t = options.module !== undefined ? await wasmTransport(options, want) : await scriptTransport(options, want);
    const pool = new WorkerPool(t, maxInFlight, maxQueued);
    if (t.signatures !== null) pool.core.encoder.schema = await import('./schema.js');
    return pool;
  }

  /** Number of workers. */
  get size(): number {
    return this.core.slots.length;
  }

  /** Runs task `name` with `args` on a worker. */
  call<T = unknown>(name: string, ...args: unknown[]): Promise<T> {
    return this.core.submit(false, name, args, undefined, 0) as Promise<T>;
  }

  /** call() with a timeout, an AbortSignal and/or a worker affinity. */
  callWith<T = unknown>(options: CallOptions, name: string, ...args: unknown[]): Promise<T> {
    return this.core.submit(false, name, args, options, 0) as Promise<T>;
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
    return this.core.submit(true, name, options.args ?? [], options, capacity) as Promise<Stream<In, Out, R>>;
  }

  stats(): PoolStats {
    const c = this.core;
    const s: PoolStats = {
      transport: this.transport,
      workers: c.slots.map((w) => ({ inFlight: w.inFlight, completed: w.completed, failed: w.failed, restarts: w.restarts, alive: w.alive })),
      queued: c.queuedLive,
      queuedHighWater: c.queuedHighWater,
      submitted: c.submitted,
      completed: c.completedCount,
      failed: c.failedCount,
      leakedBuffers: this.leakedBuffers,
      leakedBufferBytes: this.leakedBufferBytes,
      leakedStreams: c.streams.leaked,
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
    if (this.core.closed) throw terminatedError();
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
    if (this.core.closed) throw terminatedError();
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
    this.core.close();
    const wasm = this.wasmBackend();
    if (wasm !== null) flushQuarantine(wasm);
    this.terminated = this.t.terminate();
    return this.terminated;
  }
}

// Wasm workers: C++ tasks in a module's pthreads, over rings in its memory.
async function wasmTransport(options: WorkerPoolOptions, want: string): Promise<Transport> {
  if (options.script !== undefined) throw new InvalidArgumentError('pass either script or module, not both', kOrigin);
  if (want === 'postMessage') throw new InvalidArgumentError('wasm workers need shared memory; transport postMessage is for script workers', kOrigin);
  if (!sharedMemoryAvailable()) {
    throw new InvalidArgumentError(
      'wasm workers (pthreads) need SharedArrayBuffer: serve the page cross-origin isolated (COOP/COEP headers); only script workers fall back to postMessage',
      kOrigin,
    );
  }
  const { createWasmBackend } = await import('./wasm-backend.js');
  return new RingTransport(
    await createWasmBackend({
      module: options.module!,
      factory: options.factory,
      workers: options.workers,
      ringCapacity: options.ringCapacity,
      startTimeoutMs: options.startTimeoutMs,
    }),
  );
}

// JavaScript workers: rings in a SharedArrayBuffer, or postMessage where
// there is none (or when asked for).
async function scriptTransport(options: WorkerPoolOptions, want: string): Promise<Transport> {
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
    return createMessageBackend(common);
  }
  if (!sharedMemoryAvailable()) {
    throw new InvalidArgumentError(
      "transport 'shared-memory' needs SharedArrayBuffer and a cross-origin isolated page (COOP/COEP headers); use transport 'auto' to fall back to postMessage",
      kOrigin,
    );
  }
  return new RingTransport(await createJsBackend({ ...common, arenaBytes: options.arenaBytes }));
}
