// C++ workers in a wasm module (web/PROTOCOL.md, "Wasm bridge descriptor").
// The module (built from web/wasm, or any module that links
// workers/js_bridge.cpp) runs a C++ WorkerPool whose request and response
// rings live in its memory; this backend attaches the pool's ends of them.
// Nothing here blocks: starting, replacing and stopping are awaited through
// futex words in the descriptor with Atomics.waitAsync.
import type { Backend, SlotRings } from './backend.js';
import { ErrorKind, FerryError, ferryError } from './errors.js';
import { RingConsumer, RingProducer } from './ring.js';
import { parseSignature, type Signature } from './schema.js';

// What the bridge exports (workers/js_bridge.cpp).
export interface FerryModule {
  _ferry_js_pool_start(workers: number, ringCapacity: number): number;
  _ferry_js_pool_stop(descriptor: number): void;
  _ferry_js_alloc(bytes: number): number;
  _ferry_js_free(address: number): void;
  _ferry_js_heap_stats(out: number): void;
  UTF8ToString(address: number): string;
  wasmMemory: WebAssembly.Memory;
  // Emscripten's thread bookkeeping; its Workers are Node worker_threads under Node.
  PThread?: { unusedWorkers: NodeRefable[]; runningWorkers: NodeRefable[] };
}
interface NodeRefable {
  ref?: () => void;
  unref?: () => void;
}
export type ModuleFactory = (overrides?: object) => Promise<FerryModule>;

export interface WasmBackendOptions {
  // The module's glue script (URL or path), or its factory function.
  module: string | URL | ModuleFactory;
  // Name of the factory the glue script defines (-sEXPORT_NAME); default createFerryWeb.
  factory?: string;
  workers?: number;
  ringCapacity?: number;
  // How long the C++ pool may take to start its threads; default 30 s.
  startTimeoutMs?: number;
}

export interface HeapStats {
  inUse: number; // bytes malloc'd and not freed
  free: number; // free bytes inside the heap
  freeChunks: number; // free-list length: fragmentation
  highWater: number; // bytes the heap ever took from linear memory
  memoryBytes: number; // size of linear memory
}

const ORIGIN = 'web/wasm-backend';
const STATE_RUNNING = 1;
const STATE_STOPPED = 3;

// One module instance per glue URL: a module is heavy (its memory, its pthread
// Workers) and one instance serves any number of pools.
const modules = new Map<string, Promise<FerryModule>>();

/**
 * The module behind `spec`, loaded once per URL: its glue script, its wasm
 * binary and its threads' worker script. Rejects by `deadline` (Date.now()
 * ms) at the latest: with WorkerCrashedError naming the file that could not
 * be loaded when one of them cannot (HTTP status, or a network error), with
 * TimeoutError when all of them load but the module does not start in time.
 */
export async function loadModule(spec: string | URL | ModuleFactory, factory = 'createFerryWeb', deadline = Infinity): Promise<FerryModule> {
  if (typeof spec === 'function') return spec();
  const url = spec instanceof URL ? spec.href : spec;
  let loading = modules.get(url);
  // Every file the glue asks for (the binary, the worker script), for the diagnosis.
  const asked = new Set<string>([url]);
  if (!loading) {
    loading = importFactory(url, factory).then(async (make) => make({ ...(await nodeOverrides(url)), ...locateRecorder(asked) }));
    modules.set(url, loading);
    loading.catch(() => modules.delete(url));
  }
  try {
    return await beforeDeadline(loading, deadline);
  } catch (e) {
    modules.delete(url); // a later create() starts over
    const missing = await firstUnloadable(asked);
    if (missing !== null) throw ferryError(ErrorKind.WorkerCrashed, `the wasm module ${url} could not start: ${missing}`, ORIGIN);
    if (e === kLate) {
      throw ferryError(ErrorKind.Timeout, `the wasm module ${url} did not start in time (startTimeoutMs); it loaded ${[...asked].join(', ')}`, ORIGIN);
    }
    if (e instanceof FerryError) throw e;
    throw ferryError(ErrorKind.WorkerCrashed, `the wasm module ${url} could not start: ${(e as Error)?.message ?? String(e)}`, ORIGIN);
  }
}

const kLate = Symbol('late');
// p, or a rejection with kLate at `deadline`.
function beforeDeadline<T>(p: Promise<T>, deadline: number): Promise<T> {
  if (deadline === Infinity) return p;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(kLate), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

// Emscripten asks Module.locateFile for each file it loads: note them.
function locateRecorder(asked: Set<string>): object {
  if (typeof document === 'undefined') return {};
  return {
    locateFile(path: string, prefix: string): string {
      const u = new URL(path, new URL(prefix || '.', document.baseURI)).href;
      asked.add(u);
      return u;
    },
  };
}

// The first of `urls` that a GET cannot fetch, described; null when all can.
async function firstUnloadable(urls: Set<string>): Promise<string | null> {
  if (typeof document === 'undefined' || typeof fetch !== 'function') return null;
  for (const u of urls) {
    try {
      const r = await fetch(u, { method: 'HEAD', cache: 'no-store' });
      if (!r.ok) return `${u} could not be loaded (HTTP ${r.status})`;
    } catch (e) {
      return `${u} could not be loaded (${(e as Error)?.message ?? 'network error'})`;
    }
  }
  return null;
}

// Under Node the glue would fetch() its .wasm by file path, which Node's
// fetch refuses: hand it the bytes instead (its pthreads get the compiled
// module from the main thread).
async function nodeOverrides(url: string): Promise<object> {
  if (typeof document !== 'undefined' || /^(https?|blob|data):/i.test(url)) return {};
  const { readFile } = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  const path = url.startsWith('file:') ? fileURLToPath(url) : url;
  return { wasmBinary: await readFile(path.replace(/\.js$/, '.wasm')) };
}

// Emscripten's MODULARIZE glue is a classic script, not an ES module: a
// script tag in a page, require() in Node.
async function importFactory(url: string, factory: string): Promise<ModuleFactory> {
  const g = globalThis as Record<string, unknown>;
  if (typeof document === 'undefined') {
    const { createRequire } = await import('node:module');
    const { pathToFileURL } = await import('node:url');
    const href = /^[a-z]+:/i.test(url) ? url : pathToFileURL(url).href;
    const make = createRequire(href)(new URL(href).pathname) as ModuleFactory;
    if (typeof make !== 'function') throw ferryError(ErrorKind.InvalidArgument, `${url} does not export a module factory`, ORIGIN);
    return make;
  }
  if (typeof g[factory] !== 'function') {
    await new Promise<void>((resolve, reject) => {
      const script = document.createElement('script');
      script.src = url;
      script.onload = () => resolve();
      script.onerror = () => reject(ferryError(ErrorKind.InvalidArgument, `could not load the wasm module script ${url}`, ORIGIN));
      document.head.append(script);
    });
  }
  const make = g[factory];
  if (typeof make !== 'function') {
    throw ferryError(ErrorKind.InvalidArgument, `${url} did not define ${factory}() (set the factory option to its -sEXPORT_NAME)`, ORIGIN);
  }
  return make as ModuleFactory;
}

// Under Node a module's pthread Workers would keep the process alive after
// its last pool has stopped: they hold it only while some pool runs.
const livePools = new Map<FerryModule, number>();
function holdThreads(module: FerryModule, delta: 1 | -1): void {
  const live = (livePools.get(module) ?? 0) + delta;
  livePools.set(module, live);
  if (live > 1 || (live === 1 && delta === -1) || !module.PThread) return;
  for (const w of [...module.PThread.unusedWorkers, ...module.PThread.runningWorkers]) {
    if (live === 1) w.ref?.();
    else w.unref?.();
  }
}

// Awaits `index` of `words` changing away from `seen`, never blocking.
async function awaitChange(words: Int32Array, index: number, seen: number, deadline: number, what: string): Promise<number> {
  for (;;) {
    const now = Atomics.load(words, index);
    if (now !== seen) return now;
    const left = deadline - Date.now();
    if (left <= 0) throw ferryError(ErrorKind.Timeout, `${what} did not happen in time`, ORIGIN);
    const waited = Atomics.waitAsync(words, index, seen, left);
    if (waited.async) await waited.value;
  }
}

export class WasmBackend implements Backend {
  readonly kind = 'wasm' as const;
  readonly signatures: Map<string, Signature>;
  private readonly slots: SlotRings[] = [];
  private readonly generations: number[] = [];
  private stopped = false;

  private constructor(
    readonly module: FerryModule,
    private readonly descriptor: number,
    readonly size: number,
    private readonly startTimeoutMs: number,
  ) {
    const tasks = module.UTF8ToString(this.word(12) >>> 0);
    this.signatures = new Map();
    for (const line of tasks.split('\n')) {
      if (!line) continue;
      const sig = parseSignature(line);
      this.signatures.set(sig.name, sig);
    }
    for (let i = 0; i < size; i++) {
      this.generations.push(this.word(32 + 16 * i));
      this.slots.push(this.attachSlot(i));
    }
  }

  static async create(options: WasmBackendOptions): Promise<WasmBackend> {
    const timeout = options.startTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeout;
    const module = await loadModule(options.module, options.factory, deadline);
    const workers = options.workers ?? defaultWorkers();
    const capacity = options.ringCapacity ?? 64 * 1024;
    const descriptor = module._ferry_js_pool_start(workers, capacity) >>> 0;
    if (descriptor === 0) {
      throw ferryError(
        ErrorKind.InvalidArgument,
        `cannot start a wasm pool of ${workers} workers with ${capacity}-byte rings (workers 1..64; ring capacity a power of two in 4096..67108864)`,
        ORIGIN,
      );
    }
    holdThreads(module, 1);
    try {
      const words = new Int32Array(module.wasmMemory.buffer);
      await awaitChange(words, descriptor >> 2, 0, deadline, `starting ${workers} C++ workers (startTimeoutMs ${timeout})`);
      if (Atomics.load(words, descriptor >> 2) !== STATE_RUNNING) {
        throw ferryError(ErrorKind.Closed, 'the wasm pool stopped while starting', ORIGIN);
      }
      return new WasmBackend(module, descriptor, workers, timeout);
    } catch (e) {
      holdThreads(module, -1);
      throw e;
    }
  }

  // The module's memory; a fresh object after the memory grows (rings made
  // earlier keep the buffer they were attached with: the same memory).
  get buffer(): SharedArrayBuffer {
    return this.module.wasmMemory.buffer as unknown as SharedArrayBuffer;
  }

  slot(index: number): SlotRings {
    return this.slots[index];
  }

  // The C++ pool replaces a dead worker by itself and bumps the slot's
  // generation once the dead worker's frames have let go of every ring.
  // The old endpoints are dropped, not detached: their memory stays the
  // C++ pool's until it stops.
  async replace(index: number): Promise<void> {
    const at = (this.descriptor + 32 + 16 * index) >> 2;
    const words = new Int32Array(this.buffer);
    this.generations[index] = await awaitChange(words, at, this.generations[index], Date.now() + this.startTimeoutMs, `replacing worker ${index}`);
    this.slots[index] = this.attachSlot(index);
  }

  // Crashes reach the pool through the aborted response ring, not from here.
  onCrash(): void {}

  alloc(bytes: number): number {
    const address = this.module._ferry_js_alloc(bytes) >>> 0;
    if (address === 0) throw ferryError(ErrorKind.MessageTooLarge, `the wasm heap cannot fit ${bytes} more bytes`, ORIGIN);
    return address;
  }

  free(offset: number): void {
    this.module._ferry_js_free(offset);
  }

  heap(): HeapStats {
    const out = this.alloc(20);
    try {
      this.module._ferry_js_heap_stats(out);
      const w = new Uint32Array(this.buffer, out, 5);
      return { inUse: w[0], free: w[1], freeChunks: w[2], highWater: w[3], memoryBytes: w[4] };
    } finally {
      this.free(out);
    }
  }

  async terminate(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.module._ferry_js_pool_stop(this.descriptor);
    const words = new Int32Array(this.buffer);
    const state = this.descriptor >> 2;
    while (Atomics.load(words, state) !== STATE_STOPPED) {
      await awaitChange(words, state, Atomics.load(words, state), Date.now() + this.startTimeoutMs, 'stopping the C++ workers');
    }
    this.free(this.descriptor);
    holdThreads(this.module, -1);
  }

  private word(offset: number): number {
    return Atomics.load(new Int32Array(this.buffer), (this.descriptor + offset) >> 2);
  }

  // Slot i's words: generation, request ring, response ring, doorbell.
  private attachSlot(index: number): SlotRings {
    const slot = 32 + 16 * index;
    const buffer = this.buffer;
    return {
      request: RingProducer.attach(buffer, this.word(slot + 4) >>> 0),
      response: RingConsumer.attach(buffer, this.word(slot + 8) >>> 0),
      doorbell: this.word(slot + 12) >>> 0,
    };
  }
}

function defaultWorkers(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return Math.max(1, Math.min(n ?? 2, 8));
}

export async function createWasmBackend(options: WasmBackendOptions): Promise<WasmBackend> {
  return WasmBackend.create(options);
}
