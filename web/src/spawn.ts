// Starting JavaScript workers (browser Web Workers and Node worker_threads),
// the start-up handshake with expose() (worker.ts), and knowing when a
// worker has died. Used by both JavaScript transports (js-backend.ts over
// shared memory, message-backend.ts over postMessage).
//
// Handshake, the only postMessage traffic on shared memory: expose() posts
// {ferry: 'hello'} once it listens; the pool answers with the transport's
// SetupMessage; the worker attaches (and takes its liveness lock, below) and
// posts {ferry: 'ready', locked}.
//
// Death, reported once through onDeath(reason) unless we stopped the worker:
// - an uncaught error ('error' event; a browser worker is then terminated,
//   so that a crash means the same everywhere), a message that cannot be
//   read, an 'exit' we did not ask for (Node: process.exit, uncaught errors);
// - a browser worker that ended itself (self.close()) or was ended by the
//   browser, which fires no event at all: the worker holds a Web Lock
//   (navigator.locks) for as long as it lives and the pool asks for the same
//   lock, which it gets only once the worker is gone;
// - with heartbeatMs: a worker whose event loop has not beaten for that
//   long (a task that never gives its thread back). The worker beats from a
//   timer, into a shared word (shared memory) or as a message; the pool
//   checks every heartbeatMs / 4 and does not judge a round in which it was
//   stalled itself. A hung worker is terminated.
import { InvalidArgumentError, WorkerCrashedError } from './errors.js';
import { isNode, nodeModule } from './platform.js';

/** A started worker, whichever platform it runs on. */
export interface WorkerHandle {
  post(message: unknown, transfer?: Transferable[]): void;
  /** Stops the worker; resolves once it is gone (Node) or stopped (browser). */
  terminate(): Promise<void>;
  /** Ends a worker that is as good as dead: terminates it and reports onDeath(reason). */
  kill(reason: string): void;
  /**
   * Settles once the worker's thread no longer runs (after terminate(), a
   * crash, close()), so that memory it could write may be reused. Node: its
   * 'exit'. Browsers: terminate() returns before the thread stops, so the
   * liveness lock's release is awaited; without Web Locks, 250 ms after it
   * was terminated.
   */
  readonly stopped: Promise<void>;
}

export interface WorkerEvents {
  onMessage(message: unknown): void;
  /** The worker died by itself: an uncaught error, or it exited. Called once. */
  onDeath(reason: string): void;
}

/** The handshake message from the pool to expose(). */
export interface SetupMessage {
  ferry: 'setup';
  transport: 'shared-memory' | 'postMessage';
  index: number;
  buffer?: SharedArrayBuffer;
  request?: number;
  response?: number;
  capacity?: number;
  /** The Web Lock the worker holds while it lives. */
  lock?: string;
  /** Beat every `ms / 4` ms: into word 0 of `word`, or as {ferry: 'beat'} messages. */
  heartbeat?: { ms: number; word?: SharedArrayBuffer };
  /** The longest a worker may spin for its next request before it blocks (µs). */
  spinUs?: number;
  /** Where the page has no Atomics.waitAsync: post on this each time the response ring's bell rings. */
  answerBell?: MessagePort;
}


/** Number of workers to start when the caller does not say: the cores this program may use. */
export async function defaultWorkers(): Promise<number> {
  if (isNode) {
    const os = await nodeModule<{ availableParallelism?: () => number; cpus: () => unknown[] }>('node:os');
    return Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length);
  }
  const n = typeof navigator !== 'undefined' ? navigator.hardwareConcurrency : 0;
  return Math.max(1, n || 4);
}

// A script given as a path or URL, as a URL object (Node: paths are files).
async function scriptUrl(script: string | URL): Promise<URL> {
  if (script instanceof URL) return script;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(script) && !/^[a-zA-Z]:[\\/]/.test(script)) return new URL(script);
  const { pathToFileURL } = await nodeModule<typeof import('node:url')>('node:url');
  const { resolve } = await nodeModule<typeof import('node:path')>('node:path');
  return pathToFileURL(resolve(script));
}

/** Starts one worker running `script` (an ES module). */
export async function spawnWorker(script: string | URL, events: WorkerEvents): Promise<WorkerHandle> {
  let dead = false;
  let stopping = false;
  const end: Ending = {
    stopping: () => {
      stopping = true;
    },
    death: (reason) => {
      if (dead || stopping) return;
      dead = true;
      events.onDeath(reason);
    },
  };
  return isNode ? spawnInNode(script, events, end) : spawnInBrowser(script, events, end);
}

// How a spawned worker ends: death() reports it once, unless stopping() came first.
interface Ending {
  stopping(): void;
  death(reason: string): void;
}

async function spawnInNode(script: string | URL, events: WorkerEvents, end: Ending): Promise<WorkerHandle> {
  const { Worker } = await nodeModule<typeof import('node:worker_threads')>('node:worker_threads');
  const w = new Worker(await scriptUrl(script));
  w.on('message', (m: unknown) => events.onMessage(m));
  w.on('error', (e: unknown) => end.death(`uncaught ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`));
  w.on('messageerror', (e: unknown) => end.death(`a message could not be read: ${String(e)}`));
  const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
  w.on('exit', (code: number) => end.death(`the worker exited with code ${code}`));
  return {
    post: (m, transfer) => w.postMessage(m, transfer as never),
    terminate: async () => {
      end.stopping();
      await w.terminate();
    },
    kill: (reason) => {
      void w.terminate();
      end.death(reason);
    },
    stopped: exited,
  };
}

function spawnInBrowser(script: string | URL, events: WorkerEvents, end: Ending): WorkerHandle {
  // Without a lock to tell (startWorker replaces this when it has one): a
  // grace period after the thread was told to stop.
  let graceStarted = false;
  let endGrace!: () => void;
  const grace = new Promise<void>((resolve) => (endGrace = resolve));
  const stop = () => {
    w.terminate();
    if (!graceStarted) {
      graceStarted = true;
      setTimeout(endGrace, kStopGraceMs);
    }
  };
  const w = new Worker(script, { type: 'module' });
  w.onmessage = (e: MessageEvent) => events.onMessage(e.data);
  w.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    // A browser worker lives on after an uncaught error: end it, so that a
    // crash means the same on every platform.
    stop();
    // A module worker that cannot load says nothing more; the usual cause is
    // a bare import ('@ferry/web/worker'): the page's import map does not
    // reach workers.
    end.death(
      `uncaught ${
        e.message ||
        'error (the script failed to load or threw; a worker resolves its imports without the page\'s import map: import @ferry/web/worker by URL, or bundle the worker)'
      }`,
    );
  };
  w.onmessageerror = () => {
    stop();
    end.death('a message could not be read');
  };
  return {
    post: (m, transfer) => w.postMessage(m, transfer ?? []),
    terminate: async () => {
      end.stopping();
      stop();
    },
    kill: (reason) => {
      stop();
      end.death(reason);
    },
    stopped: grace,
  };
}

const kStopGraceMs = 250;

interface Locks {
  request(name: string, callback: () => unknown): Promise<unknown>;
}
function webLocks(): Locks | null {
  const locks = (globalThis as { navigator?: { locks?: Locks } }).navigator?.locks;
  return locks !== undefined && typeof locks.request === 'function' ? locks : null;
}

let lockCounter = 0;
// Lock names are shared by every page of the origin: make ours unique.
function lockName(index: number): string {
  const rand = Math.random().toString(36).slice(2, 10);
  return `ferry-worker-${Date.now().toString(36)}-${rand}-${lockCounter++}-${index}`;
}

/** The worker side of the liveness lock: resolves true once it is held (false: no Web Locks here). */
export function holdLivenessLock(name: string | undefined): Promise<boolean> {
  const locks = webLocks();
  if (name === undefined || locks === null) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    locks
      .request(name, () => {
        resolve(true);
        return new Promise(() => {}); // held until this worker is gone
      })
      .catch(() => resolve(false));
  });
}

/** The worker side of the heartbeat: beats from a timer until the worker ends. */
export function startBeating(heartbeat: SetupMessage['heartbeat'], post: (m: unknown) => void): void {
  if (heartbeat === undefined) return;
  const word = heartbeat.word !== undefined ? new Int32Array(heartbeat.word) : null;
  const timer = setInterval(() => {
    if (word !== null) Atomics.add(word, 0, 1);
    else post({ ferry: 'beat' });
  }, Math.max(1, heartbeat.ms / 4));
  (timer as { unref?: () => void }).unref?.();
}

export interface StartOptions {
  /** How long the worker may take to start (default 30 s). */
  startTimeoutMs?: number;
  /** Declare the worker hung (and kill it) when its event loop does not beat for this long; 0/undefined: never. */
  heartbeatMs?: number;
}

/** Checks a heartbeatMs option: undefined or 0 (off), or at least 20 ms. */
export function checkHeartbeat(ms: number | undefined, origin: string): void {
  if (ms === undefined || ms === 0) return;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 20) {
    throw new InvalidArgumentError(`heartbeatMs ${String(ms)} must be 0 (off) or at least 20 ms`, origin);
  }
}

/**
 * Spawns a worker and runs the handshake: resolves once the worker says it
 * is ready; rejects with WorkerCrashedError if it dies first or does not
 * start within startTimeoutMs. Messages after the handshake go to
 * `onMessage`; its death, however it comes (see the top), to `onDeath`.
 */
export async function startWorker(
  script: string | URL,
  index: number,
  setup: () => SetupMessage,
  events: { onMessage?: (m: unknown) => void; onDeath: (reason: string) => void },
  options: StartOptions = {},
): Promise<WorkerHandle> {
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const heartbeatMs = options.heartbeatMs ?? 0;
  const hs = new Handshake(index, setup, heartbeatMs, webLocks() !== null ? lockName(index) : undefined);
  let gone = false;
  const spawned = await spawnWorker(script, {
    onMessage: (m) => {
      if (!hs.take(m)) events.onMessage?.(m);
    },
    onDeath: (reason) => {
      gone = true;
      if (!hs.ready) hs.died(reason);
      else events.onDeath(reason);
    },
  });
  hs.worker = spawned;
  try {
    await inTime(hs, startTimeoutMs);
  } catch (e) {
    await spawned.terminate().catch(() => {});
    throw e;
  }
  const h: WorkerHandle = {
    post: spawned.post,
    kill: spawned.kill,
    terminate: () => {
      gone = true; // stops the watches below
      return spawned.terminate();
    },
    // Granted only once the worker no longer holds it: it is gone (and if we
    // stopped it ourselves, kill() reports nothing).
    stopped:
      hs.locked && hs.lock !== undefined
        ? webLocks()!
            .request(hs.lock, () => {
              if (!gone) h.kill('it ended without an error (self.close(), or the browser closed it)');
            })
            .then(
              () => {},
              () => spawned.stopped,
            )
        : spawned.stopped,
  };
  if (heartbeatMs > 0) watchHeartbeat(h, heartbeatMs, () => hs.beatsNow(), () => gone);
  return h;
}

// The pool's side of the handshake (see the top): answers hello with the
// setup message, settles `started` once the worker is ready (or says it
// cannot start, or dies first), and counts the heartbeats that come as
// messages.
class Handshake {
  ready = false;
  hello = false;
  /** The worker holds its liveness lock. */
  locked = false;
  /** Set once spawned: where the setup message goes. */
  worker: WorkerHandle | null = null;
  readonly started: Promise<void>;
  private settle!: { resolve: () => void; reject: (e: unknown) => void };
  private beats = 0;
  private word: Int32Array | null = null; // the heartbeat word (shared memory)

  constructor(
    readonly index: number,
    private readonly setup: () => SetupMessage,
    private readonly heartbeatMs: number,
    readonly lock: string | undefined,
  ) {
    this.started = new Promise<void>((resolve, reject) => (this.settle = { resolve, reject }));
  }

  /** Takes a message of the handshake, or a beat: false for any other message. */
  take(m: unknown): boolean {
    const f = (m as { ferry?: string } | null)?.ferry;
    const index = this.index;
    if (f === 'beat') {
      this.beats++;
    } else if (!this.ready && f === 'hello') {
      this.hello = true;
      this.sendSetup();
    } else if (!this.ready && f === 'ready') {
      this.ready = true;
      this.locked = (m as { locked?: boolean }).locked === true;
      this.settle.resolve();
    } else if (!this.ready && f === 'error') {
      this.settle.reject(new WorkerCrashedError(`worker ${index} could not start: ${String((m as { message?: unknown }).message)}`, `worker ${index}`));
    } else {
      return false;
    }
    return true;
  }

  /** The worker died before it was ready. */
  died(reason: string): void {
    const index = this.index;
    this.settle.reject(
      new WorkerCrashedError(`worker ${index} died while starting (${this.hello ? 'after' : 'before'} expose() answered): ${reason}`, `worker ${index}`),
    );
  }

  beatsNow(): number {
    return this.word !== null ? Atomics.load(this.word, 0) : this.beats;
  }

  private sendSetup(): void {
    const s = this.setup();
    s.lock = this.lock;
    if (this.heartbeatMs > 0) {
      const shared = s.transport === 'shared-memory' ? new SharedArrayBuffer(4) : undefined;
      this.word = shared !== undefined ? new Int32Array(shared) : null;
      s.heartbeat = { ms: this.heartbeatMs, word: shared };
    }
    this.worker!.post(s, s.answerBell !== undefined ? [s.answerBell] : undefined);
  }
}

// The handshake's end, or WorkerCrashedError once `ms` have passed.
async function inTime(hs: Handshake, ms: number): Promise<void> {
  const index = hs.index;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new WorkerCrashedError(
            `worker ${index} did not start within ${ms} ms (${hs.hello ? 'it answered, then never attached' : 'does its script call expose()?'})`,
            `worker ${index}`,
          ),
        ),
      ms,
    );
  });
  try {
    await Promise.race([hs.started, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Kills the worker once its beat count has not moved for `ms`.
function watchHeartbeat(h: WorkerHandle, ms: number, beatsNow: () => number, gone: () => boolean): void {
  const tick = Math.max(5, ms / 4);
  let last = beatsNow();
  let changed = Date.now();
  let checked = changed;
  const timer = setInterval(() => {
    const now = Date.now();
    if (gone()) {
      clearInterval(timer);
      return;
    }
    const b = beatsNow();
    // A round in which this thread was stalled itself says nothing about the worker.
    if (b !== last || now - checked > ms) {
      last = b;
      changed = now;
    } else if (now - changed > ms) {
      clearInterval(timer);
      h.kill(`it missed its heartbeat for ${now - changed} ms (heartbeatMs ${ms}): a task kept its thread busy`);
    }
    checked = now;
  }, tick);
  (timer as { unref?: () => void }).unref?.();
}
