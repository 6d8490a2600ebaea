// Receiving requests: the worker's request loop reads the records on its
// request ring (web/PROTOCOL.md), hands calls to Calls, streams to Streams
// and cancels to the call they name, publishes the answers of a round at
// once, then waits for the next request: spinning, blocking or parked
// (web/README.md, "Waiting").
import { readBlockRecord, type BlockRecord } from '../blocks.js';
import { DeserializationError, ErrorKind, FerryError } from '../errors.js';
import { PartReader, RequestTag, kCallHeaderBytes, kCancelBytes, kStreamHeaderBytes, nameLength, recordId, streamInRing, streamOutRing } from '../protocol.js';
import { canBlock, type RingConsumer } from '../ring.js';
import { SpinBudget, nowUs } from '../spin.js';
import { Answers } from './answer.js';
import { Calls } from './calls.js';
import { Streams } from './streams.js';
import type { Tasks } from './tasks.js';
import type { Env } from './transport.js';

// Waiting for requests (RequestLoop.run): the longest block in Atomics.wait
// before the event loop gets its turn, and how often a worker that keeps
// blocking yields to it anyway (timers, messages of user code). The longest
// spin before blocking is the pool's to say (SetupMessage.spinUs).
const kBlockMs = 2;
const kYieldMs = 10;
// Records a block may not hold (blocks.ts).
const kNotInBlocks = [RequestTag.Part, RequestTag.Block];

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

export class RequestLoop {
  private readonly names: TaskNames;
  private readonly spin: SpinBudget;
  private readonly answers: Answers;
  private readonly calls: Calls;
  private readonly streams: Streams;
  private readonly parts = new PartReader(RequestTag.Part); // a request that comes in parts
  private blockWait: BlockRecord | null = null; // a block record whose block has not arrived

  constructor(
    tasks: Tasks,
    private readonly env: Env,
    private readonly index: number,
    spinCapUs: number,
  ) {
    this.names = new TaskNames(tasks);
    this.spin = new SpinBudget(spinCapUs);
    this.answers = new Answers(env.response, index, env.blocks);
    this.calls = new Calls(tasks, index, this.answers);
    this.streams = new Streams(this.calls, env);
  }

  // Serves the request ring: every request that is there, one publish of
  // the answers, then wait. How it waits (web/README.md, "Waiting"): while
  // no task of ours is pending on the event loop, it spins for a learned
  // budget and then blocks in Atomics.wait, which wakes several times
  // faster than Atomics.waitAsync, for at most kBlockMs, yielding to the
  // event loop at least every kYieldMs; idle longer, with async tasks
  // running, or with answers waiting for room in the response ring (the
  // parts of a large one), it parks with waitAsync, and comes back to
  // blocking as soon as the last async task has answered and the answers
  // are out.
  async run(): Promise<void> {
    const req = this.env.request;
    const ring = this.env.blocking !== null && canBlock() ? this.env.blocking : null;
    let lastYield = nowUs();
    for (;;) {
      try {
        while (this.blockWait === null) {
          const tag = req.nextRecord();
          if (tag < 0) break;
          this.onRequest(tag, req.recordBytes, req.recordOffset, req.recordLength);
        }
        req.release();
      } catch (e) {
        if (e instanceof FerryError && e.kind === ErrorKind.Closed) return; // the pool is done with us
        throw e;
      }
      this.answers.publish();
      if (this.blockWait !== null) {
        // Its block is still on its way: nothing behind its record is read before it.
        await this.env.blocks!.arrived();
        this.takeBlock();
        lastYield = nowUs();
        continue;
      }
      const spaceWait = this.answers.spaceWait;
      if (ring !== null && !this.calls.busy && spaceWait === null) {
        if (nowUs() - lastYield > kYieldMs * 1000) {
          await yieldToEventLoop();
          lastYield = nowUs();
          continue;
        }
        if (this.block(ring)) continue;
      }
      const parked = req.park();
      if (parked === null) continue;
      const wakes: Promise<unknown>[] = [parked];
      if (ring !== null && this.calls.busy) wakes.push(this.calls.whenIdle());
      if (spaceWait !== null) wakes.push(spaceWait);
      await (wakes.length === 1 ? parked : Promise.race(wakes));
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

  // One request record, read where it lies: its payload is b[at, at + len).
  // A record too short for what it says is answered with Deserialization
  // when it has an id to answer, and dropped otherwise. A malformed part or
  // block record throws CorruptRecord: the worker ends, and the pool fails
  // its calls. `owned`: b is ours for good (records.ts, decodeRecordValue).
  private onRequest(tag: number, b: Uint8Array, at: number, len: number, owned = false): void {
    const end = at + len;
    if (tag === RequestTag.Part) {
      const whole = this.parts.add(b, at, len);
      if (whole === null) return;
      this.onRequest(this.parts.tag, whole, 0, whole.length, true);
    } else if (tag === RequestTag.Block && this.env.blocks !== null) {
      this.blockWait = readBlockRecord(b, at, len, kNotInBlocks);
      this.takeBlock();
    } else if (tag === RequestTag.Call && len >= kCallHeaderBytes) {
      const n = nameLength(b, at, kCallHeaderBytes);
      const args = at + kCallHeaderBytes + n;
      if (args > end) this.answers.reply(recordId(b, at), this.shortRecord('call', len, n));
      else this.calls.start(recordId(b, at), this.names.at(b, at + kCallHeaderBytes, n), b, args, end, owned);
    } else if (tag === RequestTag.Cancel && len >= kCancelBytes) {
      this.calls.cancel(recordId(b, at));
    } else if (tag === RequestTag.Stream && len >= kStreamHeaderBytes) {
      const n = nameLength(b, at, kStreamHeaderBytes);
      const args = at + kStreamHeaderBytes + n;
      if (args > end) this.answers.reply(recordId(b, at), this.shortRecord('stream', len, n));
      else this.streams.start(recordId(b, at), streamInRing(b, at), streamOutRing(b, at), this.names.at(b, at + kStreamHeaderBytes, n), b, args, end, owned);
    }
  }

  // Handles the record of blockWait once its block is there (a block of
  // the wrong length throws CorruptRecord: the worker ends).
  private takeBlock(): void {
    const r = this.blockWait!;
    const blocks = this.env.blocks!;
    const block = blocks.take(r);
    if (block === null) return;
    this.blockWait = null;
    try {
      this.onRequest(r.tag, block, 0, block.length, blocks.owned);
    } finally {
      blocks.release(r);
    }
  }

  private shortRecord(what: string, len: number, n: number): FerryError {
    return new DeserializationError(`a ${what} record of ${len} bytes names a task of ${n} bytes`, `worker ${this.index}`);
  }
}
