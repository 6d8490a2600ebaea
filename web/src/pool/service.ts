// Where answers are received: the main thread's side of calls, one service
// pass at a time — publish what send.ts wrote, read every answer every
// worker has published (onRecord: a result settles its call or stream, a
// crash record ends the worker), spin for the learned budget (spin.ts) while
// calls are out, then park every response ring until its worker rings.

import { readBlockRecord } from '../blocks.js';
import { ErrorKind, FerryError } from '../errors.js';
import { ResponseTag, crashReason, kResultHeaderBytes, recordId } from '../protocol.js';
import { SpinBudget, nowUs } from '../spin.js';
import { State, type PoolContext, type Slot } from './common.js';
import type { CallEncoder } from './encode.js';
import type { PoolStreams } from './streams.js';

// The longest the main thread spins for an answer before it parks (µs):
// about what a park and wake-up of the page costs (web/README.md, "Waiting").
export const kSpinCapUs = 100;

// Records a block may not hold (blocks.ts).
const kNotInBlocks = [ResponseTag.Part, ResponseTag.Block];

export class Service {
  private readonly dirty: Slot[] = [];
  private queued = false;
  private readonly runFn = () => this.run();
  // How long to spin for answers before parking (learned).
  private readonly spin: SpinBudget;

  constructor(
    private readonly pool: PoolContext,
    private readonly streams: PoolStreams,
    private readonly encoder: CallEncoder,
    spinCapUs: number,
  ) {
    this.spin = new SpinBudget(spinCapUs);
  }

  /** Slot s has records to publish: the next pass publishes them. */
  markDirty(s: Slot): void {
    if (s.dirty) return;
    s.dirty = true;
    this.dirty.push(s);
    this.schedule();
  }

  /** Queues a pass (once per microtask turn). */
  schedule(): void {
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(this.runFn);
  }

  // Everything the main thread does for calls in one pass, run once per
  // microtask turn that made calls and once per wake-up: publish what was
  // written (one store per worker), read every answer that is there (every
  // worker), and when calls are out but no answer is, spin for the learned
  // budget (spin.ts) re-checking, then park every response ring that has
  // no wake-up armed yet. Answers resolve their promises; the callers'
  // continuations run after this returns, and a new pass is queued behind
  // them so that the calls they make go out together.
  private run(): void {
    this.queued = false;
    if (this.pool.closed) return;
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

  // Reads every answer every live worker has published; returns how many.
  private drainAll(): number {
    let n = 0;
    for (const s of this.pool.slots) if (s.alive && s.response !== null) n += this.readAnswers(s);
    return n;
  }

  private get callsOut(): number {
    let n = 0;
    for (const s of this.pool.slots) if (s.alive) n += s.calls;
    return n;
  }

  private anyAnswer(): boolean {
    for (const s of this.pool.slots) {
      if (s.alive && s.inFlight > 0 && s.blockWait === null && s.response!.hasData()) return true;
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
      // Nothing behind a block record is read before its block (blocks.ts).
      while (s.blockWait === null) {
        const tag = resp.nextRecord();
        if (tag < 0) break;
        this.onRecord(s, tag, resp.recordBytes, resp.recordOffset, resp.recordLength);
        n++;
        if (s.gen !== gen) return n; // it crashed
      }
      resp.release();
    } catch (e) {
      if (s.gen === gen && !this.pool.closed) this.pool.crash(s, e instanceof FerryError && e.kind === ErrorKind.WorkerCrashed ? 'its rings were aborted' : String((e as Error).message ?? e));
      return n;
    }
    if (n > 0) {
      this.pool.warm = s.index;
      this.pool.pump(s);
    }
    return n;
  }

  // Arms a wake-up on every live response ring that has none: the worker
  // rings the bell only while its ring says we are parked (eventcount), and
  // the wake runs a service pass. An idle pool stays parked like this, so
  // that a C++ worker's crash record (or an aborted ring) is seen at once.
  private park(): void {
    for (const s of this.pool.slots) {
      // A slot that waits for a block reads on when it arrives (takeBlock).
      if (!s.alive || s.response === null || s.parked !== null || s.blockWait !== null) continue;
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
        if (!this.pool.closed) this.run();
      });
    }
  }

  // Handles the record of s.blockWait once its block is there, and reads on
  // (a service pass) when it came later than its record.
  private takeBlock(s: Slot): void {
    const r = s.blockWait!;
    const blocks = s.blocks!;
    let block: Uint8Array | null;
    try {
      block = blocks.take(r);
    } catch (e) {
      this.pool.crash(s, `it sent a malformed block: ${(e as Error).message}`);
      return;
    }
    if (block === null) {
      const gen = s.gen;
      void blocks.arrived().then(() => {
        if (s.gen !== gen || !s.alive || this.pool.closed) return;
        this.takeBlock(s);
        this.pool.pump(s);
        this.schedule(); // what its record held up
      });
      return;
    }
    s.blockWait = null;
    try {
      this.onRecord(s, r.tag, block, 0, block.length, blocks.owned);
    } finally {
      blocks.release(r);
    }
  }

  /**
   * One response record of slot s: its payload is bytes[at, at + len).
   * `owned`: the bytes are ours for good (TaskCodecs.result).
   */
  onRecord(s: Slot, tag: number, bytes: Uint8Array, at: number, len: number, owned = false): void {
    if (tag === ResponseTag.Crash) {
      this.pool.crash(s, crashReason(bytes, at, len));
      return;
    }
    // A part of a record too large for one ring record: handled once whole.
    if (tag === ResponseTag.Part) {
      let whole: Uint8Array | null;
      try {
        whole = s.parts.add(bytes, at, len);
      } catch (e) {
        this.pool.crash(s, `it wrote a malformed response part: ${(e as Error).message}`);
        return;
      }
      if (whole === null) return;
      this.onRecord(s, s.parts.tag, whole, 0, whole.length, true);
      return;
    }
    // A record too large for the ring, out of band: handled once its block is in.
    if (tag === ResponseTag.Block && s.blocks !== null) {
      try {
        s.blockWait = readBlockRecord(bytes, at, len, kNotInBlocks);
      } catch (e) {
        this.pool.crash(s, `it wrote a malformed block record: ${(e as Error).message}`);
        return;
      }
      this.takeBlock(s);
      return;
    }
    // A record the protocol does not have: the worker is broken (or not
    // ours), and which call it meant cannot be known. End it cleanly.
    if (tag !== ResponseTag.Result) {
      this.pool.crash(s, `it wrote a response record with the unknown tag ${tag} (web/PROTOCOL.md has 1 result, 2 crashed, 3 part and 4 block)`);
      return;
    }
    if (len < kResultHeaderBytes) {
      this.pool.crash(s, `it wrote a result record of ${len} bytes, too short for a call id`);
      return;
    }
    const id = recordId(bytes, at);
    const p = s.pending.get(id);
    if (p === undefined) return; // a result for nothing we wait for
    s.pending.delete(id);
    s.inFlight--;
    if (p.st === null) s.calls--;
    let value: unknown;
    let error: unknown;
    try {
      value = this.encoder.codecsOf(p.name).result(bytes, at + kResultHeaderBytes, at + len, owned);
      if (value instanceof FerryError) error = value;
    } catch (e) {
      error = e;
    }
    if (error !== undefined) s.failed++;
    else s.completed++;
    if (p.st !== null) {
      this.streams.answered(p, error, value);
      return;
    }
    if (p.state === State.Settled) return; // timed out or cancelled: dropped
    this.pool.settle(p, error, value);
  }
}
