// C++ workers in a wasm module (web/PROTOCOL.md, "Wasm bridge descriptor").
// The module (built from web/wasm, or any module that links
// workers/js_bridge.cpp) runs a C++ WorkerPool whose request and response
// rings live in its memory; this backend attaches the pool's ends of them.
// Nothing here blocks: starting, replacing and stopping are awaited through
// futex words in the descriptor with Atomics.waitAsync.
import type { Backend, SlotRings } from './backend.js';
import { HeapBlocks } from './blocks.js';
import { ErrorKind, FerryError, ferryError } from './errors.js';
import { isNode, nodeModule } from './platform.js';
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
 * binary and its threads' worker script. `threads` is how many pthread
 * Workers it prewarms (the first pool's workers, its monitor and its host
 * thread; any later thread is made on demand). Loads in a page, in a Web
 * Worker and in Node. Rejects by `deadline` (Date.now() ms) at the latest:
 * with WorkerCrashedError naming the file that could not be loaded when one
 * of them cannot (HTTP status, or a network error), with TimeoutError when
 * all of them load but the module does not start in time.
 */
export async function loadModule(spec: string | URL | ModuleFactory, factory = 'createFerryWeb', deadline = Infinity, threads = 0): Promise<FerryModule> {
  if (typeof spec === 'function') return spec({ ferryThreads: threads });
  const url = spec instanceof URL ? spec.href : spec;
  let loading = modules.get(url);
  // Every file the glue asks for (the binary, the worker script), for the diagnosis.
  const asked = new Set<string>([url]);
  if (!loading) {
    loading = (isNode ? loadInNode(url, threads) : loadInBrowser(url, factory, threads, asked)).catch((e) => {
      modules.delete(url);
      throw e;
    });
    modules.set(url, loading);
  }
  try {
    const module = await beforeDeadline(loading, deadline);
    if (!moduleFiles.has(module)) moduleFiles.set(module, { url, asked });
    return module;
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

// Each loaded module's URL and the files its glue asked for: the threads'
// worker script is fetched only when the pool starts its threads, so a
// pool that does not start in time looks for a file that cannot load.
const moduleFiles = new WeakMap<FerryModule, { url: string; asked: Set<string> }>();

// `e`, or, when `e` is a timeout and one of the module's files cannot be
// loaded, a WorkerCrashedError naming that file.
async function diagnosed(module: FerryModule, e: unknown): Promise<unknown> {
  const files = moduleFiles.get(module);
  if (!(e instanceof FerryError) || e.kind !== ErrorKind.Timeout || files === undefined) return e;
  const missing = await firstUnloadable(files.asked);
  return missing === null ? e : ferryError(ErrorKind.WorkerCrashed, `the wasm module ${files.url} could not start: ${missing}`, ORIGIN);
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

// The first of `urls` that a GET cannot fetch, described; null when all can.
async function firstUnloadable(urls: Set<string>): Promise<string | null> {
  if (isNode || typeof fetch !== 'function') return null;
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

// Emscripten's MODULARIZE glue is a classic script, not an ES module. In a
// page it is a script tag; in a Web Worker (no document; a module worker
// has no importScripts either) its text is evaluated in the worker's global
// scope. Either way the factory it defines is taken at once, so two modules
// with the same factory name do not mix. The glue finds its .wasm and
// .worker.js beside itself (locateFile) and gives its pthread Workers its own
// URL (mainScriptUrlOrBlob): neither can come from document.currentScript in
// a worker.
async function loadInBrowser(url: string, factory: string, threads: number, asked: Set<string>): Promise<FerryModule> {
  const g = globalThis as Record<string, unknown> & { document?: Document; location?: Location };
  const glue = new URL(url, g.document?.baseURI ?? g.location?.href).href;
  let make: unknown;
  if (g.document !== undefined) {
    make = await loadOneScript(() => {
      const script = g.document!.createElement('script');
      return new Promise<unknown>((resolve, reject) => {
        script.src = glue;
        script.onload = () => resolve(g[factory]);
        script.onerror = () => reject(ferryError(ErrorKind.InvalidArgument, `could not load the wasm module script ${url}`, ORIGIN));
        g.document!.head.append(script);
      });
    });
  } else {
    const response = await fetch(glue);
    if (!response.ok) throw ferryError(ErrorKind.WorkerCrashed, `could not load the wasm module script ${glue} (HTTP ${response.status})`, ORIGIN);
    const text = await response.text();
    make = await loadOneScript(async () => {
      (0, eval)(`${text}\n//# sourceURL=${glue}`);
      return g[factory];
    });
  }
  if (typeof make !== 'function') {
    throw ferryError(ErrorKind.InvalidArgument, `${url} did not define ${factory}() (set the factory option to its -sEXPORT_NAME)`, ORIGIN);
  }
  const locateFile = (path: string): string => {
    const u = new URL(path, glue).href;
    asked.add(u);
    return u;
  };
  return (make as ModuleFactory)({ ferryThreads: threads, locateFile, mainScriptUrlOrBlob: glue });
}

// One glue script evaluates at a time, and its factory is read before the
// next runs: two modules may define the same global name.
let scriptQueue: Promise<unknown> = Promise.resolve();
function loadOneScript(load: () => Promise<unknown>): Promise<unknown> {
  const next = scriptQueue.then(load, load);
  scriptQueue = next.catch(() => undefined);
  return next;
}

// Under Node the glue is CommonJS, loaded with require(); its .wasm is read
// from the file beside it and handed over as bytes (Node's fetch would refuse
// a file path; its pthreads get the compiled module from the main thread).
async function loadInNode(url: string, threads: number): Promise<FerryModule> {
  const { readFile } = await nodeModule<typeof import('node:fs/promises')>('node:fs/promises');
  const { fileURLToPath, pathToFileURL } = await nodeModule<typeof import('node:url')>('node:url');
  const { createRequire } = await nodeModule<typeof import('node:module')>('node:module');
  if (/^(https?|blob|data):/i.test(url)) throw ferryError(ErrorKind.InvalidArgument, `under Node a wasm module is a file, not ${url}`, ORIGIN);
  const href = /^[a-z]+:/i.test(url) ? url : pathToFileURL(url).href;
  const make = createRequire(href)(fileURLToPath(href)) as ModuleFactory;
  if (typeof make !== 'function') throw ferryError(ErrorKind.InvalidArgument, `${url} does not export a module factory`, ORIGIN);
  return make({ ferryThreads: threads, wasmBinary: await readFile(fileURLToPath(href).replace(/\.js$/, '.wasm')) });
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
  // Records too large for a ring, both ways, in blocks of the heap (blocks.ts).
  private readonly heapBlocks = new HeapBlocks(
    () => new Uint8Array(this.buffer),
    (bytes) => this.alloc(bytes),
    (address) => this.free(address),
  );
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
    const workers = options.workers ?? defaultWorkers();
    // Besides its workers, a pool runs a monitor thread, and the bridge a host
    // thread (a count the bridge refuses prewarms nothing).
    const threads = Number.isInteger(workers) && workers >= 1 && workers <= 64 ? workers + 2 : 0;
    const module = await loadModule(options.module, options.factory, deadline, threads);
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
      throw await diagnosed(module, e);
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
      blocks: this.heapBlocks,
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
