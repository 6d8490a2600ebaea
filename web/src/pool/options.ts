// The options and statistics of the public WorkerPool API (pool.ts), apart
// from the pool's implementation; index.ts exports them as types.

import type { ArenaStats } from '../js-backend.js';
import type { WasmBackendOptions } from '../wasm-backend.js';

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
