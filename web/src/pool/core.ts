// The pool behind the WorkerPool facade (pool.ts): its worker slots and its
// queue, and the life of every call and stream — submitted, dispatched to a
// slot (or queued until one has room), settled exactly once (result, error,
// timeout, cancel), or ended when its worker crashes (then the slot gets a
// new worker) or the pool stops. The wire is in its parts: encode.ts,
// send.ts, service.ts; streams in streams.ts.

import { ErrorKind, FerryError, InvalidArgumentError, QueueFullError, TimeoutError, UnknownTaskError, WorkerCrashedError } from '../errors.js';
import { RequestTag, ResponseTag, crashReason } from '../protocol.js';
import type { StreamChannels, Transport } from '../transport.js';
import { Deque } from './deque.js';
import { CallEncoder } from './encode.js';
import { State, cancelledError, kOrigin, newSlot, terminatedError, type Pending, type PoolContext, type Slot } from './common.js';
import type { CallOptions, StreamOptions } from './options.js';
import { RecordSender } from './send.js';
import { Service, kSpinCapUs } from './service.js';
import { PoolStreams } from './streams.js';

export class PoolCore implements PoolContext {
  readonly slots: Slot[] = [];
  readonly queue = new Deque<Pending>();
  queuedLive = 0;
  queuedHighWater = 0;
  submitted = 0;
  completedCount = 0;
  failedCount = 0;
  warm = 0; // the slot that answered last
  closed = false;
  readonly encoder: CallEncoder;
  readonly streams: PoolStreams;
  private readonly service: Service;
  private readonly sender: RecordSender;
  private nextId = 1;

  constructor(
    private readonly t: Transport,
    private readonly maxInFlight: number,
    private readonly maxQueued: number,
  ) {
    this.encoder = new CallEncoder(t.signatures);
    this.streams = new PoolStreams(this);
    // Over postMessage an answer arrives as an event: spinning cannot see it.
    this.service = new Service(this, this.streams, this.encoder, t.name === 'shared-memory' ? kSpinCapUs : 0);
    this.sender = new RecordSender(this, this.encoder, this.service);
    for (let i = 0; i < t.size; i++) {
      const s = newSlot(i);
      this.slots.push(s);
      this.attach(s);
    }
    t.onCrash((index, reason) => this.crash(this.slots[index]!, reason));
  }

  // -------------------------------------------------------------------------
  // Submission and dispatch

  /** A call (or stream) from the facade: its promise settles exactly once. */
  submit(isStream: boolean, name: string, args: unknown[], options: CallOptions | StreamOptions | undefined, capacity: number): Promise<unknown> {
    if (this.closed) return Promise.reject(terminatedError());
    let affinity: number;
    try {
      affinity = this.checkSubmit(isStream, name, options);
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
    try {
      this.place(p);
    } catch (e) {
      this.failedCount++;
      return Promise.reject(e);
    }
    if (options !== undefined && p.state !== State.Settled) this.arm(p, options);
    return promise;
  }

  // Throws what is wrong with a call before it is accepted; returns its
  // worker (affinity % size), or -1 for any.
  private checkSubmit(isStream: boolean, name: string, options: CallOptions | StreamOptions | undefined): number {
    if (typeof name !== 'string') throw new InvalidArgumentError(`task name ${String(name)} must be a string`, kOrigin);
    this.checkTask(isStream, name);
    if (options === undefined) return -1;
    let affinity = -1;
    if (options.affinity !== undefined) {
      if (!Number.isSafeInteger(options.affinity) || options.affinity < 0) {
        throw new InvalidArgumentError(`affinity ${String(options.affinity)} must be a non-negative integer`, kOrigin);
      }
      affinity = options.affinity % this.slots.length;
    }
    const timeout = (options as CallOptions).timeout;
    if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0)) {
      throw new InvalidArgumentError(`timeout ${String(timeout)} must be a non-negative number of milliseconds`, kOrigin);
    }
    if (options.signal?.aborted) throw cancelledError(options.signal.reason, `${isStream ? 'stream' : 'call'} '${name}'`);
    return affinity;
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

  // Sends p to a worker with room, or queues it (its arguments encoded now,
  // so that they fail now, not when dequeued). Throws QueueFull past maxQueued.
  private place(p: Pending): void {
    let slot: Slot | null;
    if (p.affinity >= 0) {
      const s = this.slots[p.affinity]!;
      slot = s.alive && s.inFlight < this.maxInFlight && s.pinned.length === 0 ? s : null;
    } else {
      slot = this.queue.length === 0 ? this.pick() : null;
    }
    if (slot !== null) {
      this.dispatch(slot, p);
      return;
    }
    if (this.queuedLive >= this.maxQueued) {
      throw new QueueFullError(`${this.queuedLive} calls are already waiting for a worker (maxQueued ${this.maxQueued})`, kOrigin);
    }
    p.encoded = this.encoder.codecsOf(p.name).args.encode(p.args); // fail now, not when dequeued
    p.args = [];
    (p.affinity >= 0 ? this.slots[p.affinity]!.pinned : this.queue).push(p);
    this.queuedLive++;
    if (this.queuedLive > this.queuedHighWater) this.queuedHighWater = this.queuedLive;
  }

  // Arms p's timeout (calls) and its AbortSignal.
  private arm(p: Pending, options: CallOptions | StreamOptions): void {
    const timeout = (options as CallOptions).timeout;
    if (timeout !== undefined && !p.stream) {
      p.timer = setTimeout(() => {
        p.timer = undefined;
        this.abandon(p, new TimeoutError(`call '${p.name}' timed out after ${timeout} ms`, kOrigin));
      }, timeout);
    }
    const signal = p.signal;
    if (signal !== undefined) {
      p.onAbort = () => {
        if (p.st !== null) this.streams.cancel(p.st, signal.reason);
        else this.abandon(p, cancelledError(signal.reason, `${p.stream ? 'stream' : 'call'} '${p.name}'`));
      };
      signal.addEventListener('abort', p.onAbort, { once: true });
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
    const enc = this.encoder;
    const nameBytes = enc.nameBytes(p.name);
    const codecs = enc.codecsOf(p.name);
    const ch: StreamChannels | null = p.stream ? this.t.openStream(s.index, p.capacity) : null;
    const headLen = enc.putHead(p.id, nameBytes, ch);
    try {
      this.sender.send(s, p.stream ? RequestTag.Stream : RequestTag.Call, headLen, p.encoded, p.args, codecs.args);
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
    if (ch !== null) this.streams.open(s, p, ch, codecs);
  }

  pump(s: Slot): void {
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

  // Gives slot s its (new) worker's rings and has a service pass look at them.
  private attach(s: Slot): void {
    const rings = this.t.slot(s.index);
    s.request = rings.request;
    s.response = rings.response;
    s.blocks = rings.blocks ?? null;
    s.blockWait = null;
    s.parts.reset();
    s.parked = null;
    this.service.schedule();
  }

  // -------------------------------------------------------------------------
  // Settling

  settle(p: Pending, error: unknown, value: unknown): void {
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

  cleanup(p: Pending): void {
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

  sendCancel(s: Slot, id: number): void {
    this.sender.sendCancel(s, id);
  }

  // -------------------------------------------------------------------------
  // Ending

  /** terminate(): rejects every pending call and stream with ClosedError, wakes every slot's waits. */
  close(): void {
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
  }

  // Rejects p (queued or sent) with make(); streams end both directions.
  private endPending(p: Pending, make: () => FerryError, abortKind: number): void {
    if (p.st !== null) this.streams.end(p, make(), abortKind);
    else this.settle(p, make(), undefined);
  }

  crash(s: Slot, reason: string): void {
    if (!s.alive || this.closed) return;
    s.alive = false; // from here on, a broken record read below cannot crash it again
    // Results it published before dying still count, up to a block record
    // whose block will not come (blocks.ts); its last record may say why.
    try {
      const resp = s.response!;
      while (s.blockWait === null) {
        const tag = resp.nextRecord();
        if (tag < 0) break;
        if (tag === ResponseTag.Crash) reason = crashReason(resp.recordBytes, resp.recordOffset, resp.recordLength);
        else this.service.onRecord(s, tag, resp.recordBytes, resp.recordOffset, resp.recordLength);
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
