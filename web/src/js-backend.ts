// Plain JavaScript workers over one standalone SharedArrayBuffer: the Backend
// (backend.ts) that WorkerPool.create({ script }) uses when shared memory is
// available. Each worker runs a script that calls expose() (worker.ts).
//
// Memory: one SharedArrayBuffer holds every ring of the pool — each slot's
// request and response ring and every stream's two rings — carved out by a
// first-fit allocator (Arena) with 64-byte alignment whose free list
// coalesces neighbours, so open/close cycles neither leak nor fragment.
// A SharedArrayBuffer cannot grow here (ring views are made once per
// buffer), so the arena has a fixed size (arenaBytes).
//
// Start-up and death (spawn.ts): the handshake's setup message is
// {ferry: 'setup', transport: 'shared-memory', buffer, request, response,
// index}. A worker's death however it comes (an uncaught error, an exit,
// self.close(), a missed heartbeat) aborts both of its rings with
// WorkerCrashed and calls the onCrash callback; replace() gives the slot
// fresh rings and a new worker.

import type { Backend, SlotRings } from './backend.js';
import { PortBlocks, isBlockMessage } from './blocks.js';
import { ErrorKind, FerryError, InvalidArgumentError, QueueFullError } from './errors.js';
import { RingConsumer, RingProducer, ringAbort, ringBytes, ringInit } from './ring.js';
import { checkHeartbeat, defaultWorkers, startWorker, type WorkerHandle } from './spawn.js';

// ---------------------------------------------------------------------------
// Arena

/** Bytes in use and their high-water mark, for leak and fragmentation checks. */
export interface ArenaStats {
  /** Size of the arena. */
  bytes: number;
  /** Bytes handed out now. */
  used: number;
  /** Largest `used` ever. */
  peak: number;
  /** Number of free blocks (1 when nothing is allocated: no fragmentation). */
  freeBlocks: number;
  /** Number of live allocations. */
  allocations: number;
}

/**
 * First-fit allocator over [base, base + size) of a buffer. Blocks are
 * multiples of 64 bytes at 64-byte aligned offsets. The free list is kept
 * sorted by offset and merges neighbours on free, so memory returns to one
 * block once everything is freed.
 */
export class Arena {
  private readonly offs: number[] = []; // free blocks, sorted by offset
  private readonly sizes: number[] = [];
  private readonly live = new Map<number, number>(); // offset -> size
  private usedBytes = 0;
  private peakBytes = 0;

  constructor(
    base: number,
    private readonly size: number,
  ) {
    if (base % 64 !== 0 || size % 64 !== 0) throw new InvalidArgumentError('arena base and size must be multiples of 64', 'web/js-backend');
    if (size > 0) {
      this.offs.push(base);
      this.sizes.push(size);
    }
  }

  /** A 64-byte aligned offset of `bytes` bytes, or -1 when no free block is large enough. */
  alloc(bytes: number): number {
    const need = Math.max(64, Math.ceil(bytes / 64) * 64);
    for (let i = 0; i < this.offs.length; i++) {
      const s = this.sizes[i]!;
      if (s < need) continue;
      const off = this.offs[i]!;
      if (s === need) {
        this.offs.splice(i, 1);
        this.sizes.splice(i, 1);
      } else {
        this.offs[i] = off + need;
        this.sizes[i] = s - need;
      }
      this.live.set(off, need);
      this.usedBytes += need;
      if (this.usedBytes > this.peakBytes) this.peakBytes = this.usedBytes;
      return off;
    }
    return -1;
  }

  /** Returns a block from alloc(); InvalidArgument for anything else. */
  free(offset: number): void {
    const size = this.live.get(offset);
    if (size === undefined) throw new InvalidArgumentError(`offset ${offset} is not an allocation of this arena`, 'web/js-backend');
    this.live.delete(offset);
    this.usedBytes -= size;
    // Binary search: the first free block after `offset`.
    let lo = 0;
    let hi = this.offs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.offs[mid]! < offset) lo = mid + 1;
      else hi = mid;
    }
    const prev = lo - 1;
    const joinsPrev = prev >= 0 && this.offs[prev]! + this.sizes[prev]! === offset;
    const joinsNext = lo < this.offs.length && offset + size === this.offs[lo]!;
    if (joinsPrev && joinsNext) {
      this.sizes[prev] = this.sizes[prev]! + size + this.sizes[lo]!;
      this.offs.splice(lo, 1);
      this.sizes.splice(lo, 1);
    } else if (joinsPrev) {
      this.sizes[prev] = this.sizes[prev]! + size;
    } else if (joinsNext) {
      this.offs[lo] = offset;
      this.sizes[lo] = size + this.sizes[lo]!;
    } else {
      this.offs.splice(lo, 0, offset);
      this.sizes.splice(lo, 0, size);
    }
  }

  stats(): ArenaStats {
    return { bytes: this.size, used: this.usedBytes, peak: this.peakBytes, freeBlocks: this.offs.length, allocations: this.live.size };
  }
}

// ---------------------------------------------------------------------------
// The backend

export interface JsBackendOptions {
  /** URL or path of a module script that calls expose(). */
  script: string | URL;
  /** Default: navigator.hardwareConcurrency / os.availableParallelism(). */
  workers?: number;
  /** Bytes of each request and response ring (a power of two, default 64 KiB). */
  ringCapacity?: number;
  /** Bytes for stream rings beyond the slots' own rings (default 16 MiB). */
  arenaBytes?: number;
  /** How long a worker may take to start (default 30 s). */
  startTimeoutMs?: number;
  /** Kill and replace a worker whose event loop has not beaten for this long (default 0: off). */
  heartbeatMs?: number;
}

/** The Backend for JavaScript workers, plus the arena's numbers. */
export interface JsBackend extends Backend {
  memory(): ArenaStats;
}

interface JsSlot {
  gen: number;
  requestOff: number;
  responseOff: number;
  rings: SlotRings;
  // Without Atomics.waitAsync: the page's end of the answers' MessagePort
  // doorbell, and the worker's end until the setup message carries it.
  bell: PortBell | null;
  bellPort: MessagePort | undefined;
  worker: WorkerHandle | null;
  dead: boolean;
}

// A MessagePort as a response ring's doorbell (RingConsumer.whenRung), where
// the page has no Atomics.waitAsync to wait on the ring's bell: the worker
// posts a message each time it rings it (RingProducer.onRing). Measured
// slower than waitAsync where both exist (web/README.md "Waiting"), so
// only used where waitAsync is missing.
class PortBell {
  private waiter: (() => void) | null = null;
  private rung = false; // rang while nobody waited

  constructor(private readonly port: MessagePort) {
    port.onmessage = () => this.wake();
  }

  next(): Promise<void> {
    if (this.rung) {
      this.rung = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => (this.waiter = resolve));
  }

  /** Settles a pending next() now (the ring was aborted: no message will come). */
  wake(): void {
    const w = this.waiter;
    this.waiter = null;
    if (w !== null) w();
    else this.rung = true;
  }

  close(): void {
    this.port.onmessage = null;
    this.port.close();
    this.wake();
  }
}

const kOrigin = 'web/js-backend';
const kWorkerSpinCapUs = 50;

/** Rounds to a ring capacity: a power of two in [64, 2^30]. */
export function ringCapacityOf(bytes: number | undefined, fallback: number): number {
  const n = bytes ?? fallback;
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`ring capacity ${String(bytes)} must be a positive number of bytes`, kOrigin);
  if (n > 2 ** 30) throw new InvalidArgumentError(`ring capacity ${n} exceeds the limit of 2^30 bytes`, kOrigin);
  return Math.max(64, 2 ** Math.ceil(Math.log2(n)));
}

export async function createJsBackend(options: JsBackendOptions): Promise<JsBackend> {
  const cores = await defaultWorkers();
  const workers = options.workers ?? cores;
  // A worker that spins after answering takes the core the page needs to
  // read the answer and ask again, unless a core is left over for it
  // (web/README.md "Waiting": on 2 cores spinning workers tripled the
  // round trip).
  const spinUs = cores > workers + 1 ? kWorkerSpinCapUs : 0;
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
    throw new InvalidArgumentError(`workers ${String(workers)} must be an integer from 1 to 256`, kOrigin);
  }
  checkHeartbeat(options.heartbeatMs, kOrigin);
  const backend = new JsWorkers(options, workers, ringCapacityOf(options.ringCapacity, 64 * 1024), spinUs);
  await backend.startAll();
  return backend;
}

function terminated(): FerryError {
  return new FerryError(ErrorKind.Closed, 'the pool was terminated', kOrigin);
}

class JsWorkers implements JsBackend {
  readonly kind = 'js' as const;
  readonly signatures = null;
  readonly buffer: SharedArrayBuffer;
  private readonly arena: Arena;
  private readonly slots: JsSlot[] = [];
  private readonly useBell = typeof (Atomics as { waitAsync?: unknown }).waitAsync !== 'function';
  private crashCallback: (index: number, reason: string) => void = () => {};
  private terminating = false;

  constructor(
    private readonly options: JsBackendOptions,
    readonly size: number,
    private readonly capacity: number,
    private readonly spinUs: number,
  ) {
    const arenaBytes = Math.ceil((options.arenaBytes ?? 16 * 1024 * 1024) / 64) * 64;
    const slotBytes = Math.ceil(ringBytes(capacity) / 64) * 64;
    // Each slot's two rings, room for one replacement pair (a crashed worker's
    // rings are freed once it is gone), then the stream arena.
    const total = 2 * slotBytes * (size + 1) + arenaBytes;
    this.buffer = new SharedArrayBuffer(total);
    this.arena = new Arena(0, total);
  }

  /** Starts every slot's worker; when one cannot start, stops the others and throws. */
  async startAll(): Promise<void> {
    try {
      for (let i = 0; i < this.size; i++) this.slots.push({ gen: 0, ...this.newRings(), worker: null, dead: false });
      await Promise.all(this.slots.map((s, i) => this.start(i, s)));
    } catch (e) {
      this.terminating = true;
      await Promise.all(this.slots.map((s) => s.worker?.terminate().catch(() => {})));
      throw e;
    }
  }

  slot(index: number): SlotRings {
    const s = this.slots[index];
    if (s === undefined) throw new InvalidArgumentError(`no worker slot ${index} (the pool has ${this.size})`, kOrigin);
    return s.rings;
  }

  async replace(index: number): Promise<void> {
    const s = this.slots[index]!;
    if (this.terminating) throw terminated();
    await this.retire(s);
    this.renew(s);
    await this.start(index, s);
    if (this.terminating) {
      await s.worker?.terminate();
      throw terminated();
    }
  }

  onCrash(callback: (index: number, reason: string) => void): void {
    this.crashCallback = callback;
  }

  alloc(bytes: number): number {
    const off = this.arena.alloc(bytes);
    if (off < 0) {
      const st = this.arena.stats();
      throw new QueueFullError(
        `no room for ${bytes} more bytes of stream memory (${st.used} of ${st.bytes} bytes in use): close streams, or create the pool with a larger arenaBytes`,
        kOrigin,
      );
    }
    return off;
  }

  free(offset: number): void {
    this.arena.free(offset);
  }

  async terminate(): Promise<void> {
    if (this.terminating) return;
    this.terminating = true;
    await Promise.all(this.slots.map((s) => s.worker?.terminate().catch(() => {})));
    for (const s of this.slots) {
      s.bell?.close();
      s.bellPort?.close();
    }
  }

  memory(): ArenaStats {
    return this.arena.stats();
  }

  // A slot's two rings, fresh from the arena, and (without waitAsync) the
  // MessagePort doorbell of its response ring.
  private newRings(): Omit<JsSlot, 'gen' | 'worker' | 'dead'> {
    const { arena, buffer, capacity } = this;
    const requestOff = arena.alloc(ringBytes(capacity));
    const responseOff = arena.alloc(ringBytes(capacity));
    if (requestOff < 0 || responseOff < 0) throw new QueueFullError('no memory left for a worker slot\'s rings', kOrigin);
    ringInit(buffer, requestOff, capacity);
    ringInit(buffer, responseOff, capacity);
    const response = RingConsumer.attach(buffer, responseOff);
    let bell: PortBell | null = null;
    let bellPort: MessagePort | undefined;
    if (this.useBell) {
      const ch = new MessageChannel();
      bell = new PortBell(ch.port1);
      bellPort = ch.port2;
      response.whenRung = bell;
    }
    return { requestOff, responseOff, rings: { request: RingProducer.attach(buffer, requestOff), response, doorbell: null, blocks: null }, bell, bellPort };
  }

  // Starts the worker of slot `index` on the slot's rings; its death, unless
  // the pool is ending or the slot has moved on, aborts them and reports a crash.
  private async start(index: number, slot: JsSlot): Promise<void> {
    const gen = slot.gen;
    // Records too large for a ring, both ways, as transferred buffers (blocks.ts).
    const blocks = new PortBlocks((m, transfer) => slot.worker!.post(m, transfer));
    slot.rings.blocks = blocks;
    slot.worker = await startWorker(
      this.options.script,
      index,
      () => {
        const answerBell = slot.bellPort;
        slot.bellPort = undefined; // transferred with this message
        return { ferry: 'setup', transport: 'shared-memory', buffer: this.buffer, request: slot.requestOff, response: slot.responseOff, index, spinUs: this.spinUs, answerBell };
      },
      {
        onMessage: (m) => {
          if (isBlockMessage(m)) blocks.deliver(m);
        },
        onDeath: (reason) => {
          if (this.terminating || slot.gen !== gen || slot.dead) return;
          slot.dead = true;
          this.abortRings(slot);
          this.crashCallback(index, reason);
        },
      },
      this.options,
    );
  }

  // Ends the slot's worker (a live one like a crash) and gives its rings
  // and doorbell back once its thread can no longer touch them.
  private async retire(s: JsSlot): Promise<void> {
    const old = { worker: s.worker, requestOff: s.requestOff, responseOff: s.responseOff };
    if (!s.dead) {
      // Replacing a live worker (the pool gave up on it): end it like a crash.
      s.dead = true;
      this.abortRings(s);
    }
    await old.worker?.terminate().catch(() => {});
    // A browser's terminate() returns before the thread stops: wait until
    // it has (spawn.ts, stopped), then the dead worker cannot touch its
    // rings any more; the pool stopped using them before asking for a
    // replacement.
    await old.worker?.stopped;
    s.rings.request.detach();
    s.rings.response.detach();
    this.arena.free(old.requestOff);
    this.arena.free(old.responseOff);
    s.bell?.close();
    s.bellPort?.close();
  }

  // The slot's next generation: fresh rings, no worker yet.
  private renew(s: JsSlot): void {
    const fresh = this.newRings();
    s.gen++;
    s.requestOff = fresh.requestOff;
    s.responseOff = fresh.responseOff;
    s.rings = fresh.rings;
    s.bell = fresh.bell;
    s.bellPort = fresh.bellPort;
    s.worker = null;
    s.dead = false;
  }

  private abortRings(s: JsSlot): void {
    ringAbort(this.buffer, s.requestOff, ErrorKind.WorkerCrashed);
    ringAbort(this.buffer, s.responseOff, ErrorKind.WorkerCrashed);
  }
}
