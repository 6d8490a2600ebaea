// Tests of web/src/ring.ts, the TypeScript twin of core/ring.hpp: the shared
// golden vectors byte for byte, the layout numbers against core/ring.hpp,
// wrapping counters and skip records, close/abort/corruption, the eventcount
// (park, wake, timeouts, the polling fallback) and a two-thread stress run.
//
// This file is also the worker script of the thread tests: started as a
// worker_threads Worker with `workerData.role`, it plays that role instead of
// registering tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import {
  RING,
  RingConsumer,
  RingProducer,
  recordBytes,
  ringAbort,
  ringBytes,
  ringCloseReason,
  ringInit,
  ringSetBells,
  type RingBuffer,
} from '../dist/ring.js';
import { ErrorKind, FerryError } from '../dist/errors.js';
import { rng32 as rng, stressScale } from './helpers.js';

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const O = RING.offsets;

// --- helpers ----------------------------------------------------------------

function word(buf: RingBuffer, byteOffset: number): number {
  return Atomics.load(new Int32Array(buf), byteOffset >> 2) >>> 0;
}
function setWord(buf: RingBuffer, byteOffset: number, v: number): void {
  Atomics.store(new Int32Array(buf), byteOffset >> 2, v | 0);
}
function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function isKind(kind: ErrorKind, includes?: string) {
  return (e: unknown) => {
    assert.ok(e instanceof FerryError, `not a FerryError: ${String(e)}`);
    assert.equal(e.kind, kind, `kind ${e.kind} (${e.message})`);
    assert.equal(e.origin, 'web/ring');
    if (includes !== undefined) assert.ok(e.message.includes(includes), e.message);
    return true;
  };
}

interface Ring {
  buf: SharedArrayBuffer | ArrayBuffer;
  tx: RingProducer;
  rx: RingConsumer;
}
function makeRing(capacity: number, opts: { shared?: boolean; at?: number } = {}): Ring {
  const at = opts.at ?? 0;
  const n = at + ringBytes(capacity);
  const buf = opts.shared === false ? new ArrayBuffer(n) : new SharedArrayBuffer(n);
  ringInit(buf, at, capacity);
  return { buf, tx: RingProducer.attach(buf, at), rx: RingConsumer.attach(buf, at) };
}
function write(tx: RingProducer, tag: number, s: string | Uint8Array): boolean {
  return tx.tryWrite(tag, typeof s === 'string' ? enc(s) : s);
}
function readText(rx: RingConsumer): string | null {
  const r = rx.tryRead();
  return r === null ? null : dec(r.payload);
}


// Record stream of the stress and wrap tests: record `seq` has tag `seq`, a
// length from the seeded `lengths` generator, the sequence number in its
// first 4 bytes (when it has them), then bytes from the seeded `bytes`
// generator. Producer and consumer fold every payload into an FNV-1a checksum.
class Stream {
  private readonly lengths: () => number;
  private readonly bytes: () => number;
  checksum = 0x811c9dc5;
  constructor(seed: number, private readonly maxLen: number) {
    this.lengths = rng(seed);
    this.bytes = rng(seed ^ 0x5bd1e995);
  }
  nextLength(): number {
    const r = this.lengths();
    // Mostly small, sometimes up to maxLen: many records per wrap, and some
    // that need a skip record far from the end.
    return (r & 15) === 0 ? (r >>> 4) % (this.maxLen + 1) : (r >>> 4) % Math.min(65, this.maxLen + 1);
  }
  fill(seq: number, p: Uint8Array): void {
    let i = 0;
    if (p.length >= 4) {
      p[0] = seq;
      p[1] = seq >>> 8;
      p[2] = seq >>> 16;
      p[3] = seq >>> 24;
      i = 4;
    }
    for (; i < p.length; i += 4) {
      const v = this.bytes();
      p[i] = v;
      if (i + 1 < p.length) p[i + 1] = v >>> 8;
      if (i + 2 < p.length) p[i + 2] = v >>> 16;
      if (i + 3 < p.length) p[i + 3] = v >>> 24;
    }
    this.fold(p);
  }
  // Checks what it can per record (tag, length, sequence number) and folds the
  // bytes into the checksum. Returns an error message, or null.
  check(seq: number, tag: number, p: Uint8Array): string | null {
    const len = this.nextLength();
    if (tag !== seq >>> 0) return `record ${seq}: tag ${tag}`;
    if (p.length !== len) return `record ${seq}: length ${p.length}, expected ${len}`;
    if (len >= 4 && (p[0]! | (p[1]! << 8) | (p[2]! << 16) | (p[3]! << 24)) >>> 0 !== seq >>> 0) {
      return `record ${seq}: carries another sequence number`;
    }
    this.fold(p);
    return null;
  }
  private fold(p: Uint8Array): void {
    let h = this.checksum;
    for (let i = 0; i < p.length; ++i) h = Math.imul(h ^ p[i]!, 16777619);
    this.checksum = Math.imul(h ^ p.length, 16777619) >>> 0;
  }
}

const BATCH = 32; // records per publish / release in the thread tests
const WAIT_MS = 20_000; // a wait this long means the test is stuck

interface StressJob {
  role: 'produce' | 'consume';
  buf: SharedArrayBuffer;
  at: number;
  count: number;
  seed: number;
  maxLen: number;
}

// Producer side of the stress test; `wait` publishes and waits for space.
async function produce(job: StressJob, wait: (tx: RingProducer, len: number) => boolean | Promise<boolean>): Promise<number> {
  const tx = RingProducer.attach(job.buf, job.at);
  const s = new Stream(job.seed, job.maxLen);
  let batch = 0;
  for (let seq = 0; seq < job.count; ++seq) {
    const len = s.nextLength();
    let slot = tx.tryReserve(len, seq);
    while (slot === null) {
      if (!(await wait(tx, len))) throw new Error(`producer stuck at record ${seq}`);
      slot = tx.tryReserve(len, seq);
    }
    s.fill(seq, slot);
    tx.commit(len);
    if (++batch === BATCH) {
      tx.publish();
      batch = 0;
    }
  }
  tx.close();
  tx.detach();
  return s.checksum;
}

// Consumer side; `wait` releases and waits for data. Returns the checksum.
async function consume(job: StressJob, wait: (rx: RingConsumer) => boolean | Promise<boolean>): Promise<number> {
  const rx = RingConsumer.attach(job.buf, job.at);
  const s = new Stream(job.seed, job.maxLen);
  let seq = 0;
  let batch = 0;
  for (;;) {
    let r;
    try {
      r = rx.tryRead();
    } catch (e) {
      if (e instanceof FerryError && e.kind === ErrorKind.Closed) break;
      throw e;
    }
    if (r === null) {
      if (!(await wait(rx))) throw new Error(`consumer stuck at record ${seq}`);
      continue;
    }
    const bad = s.check(seq, r.tag, r.payload);
    if (bad !== null) throw new Error(bad);
    ++seq;
    if (++batch === BATCH) {
      rx.release();
      batch = 0;
    }
  }
  rx.detach();
  if (seq !== job.count) throw new Error(`consumer got ${seq} records, expected ${job.count}`);
  return s.checksum;
}

// Starts this file as a worker playing `data.role`; resolves with its message.
function runWorker<T>(data: object): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: data });
    let result: { ok: true; value: T } | undefined;
    w.on('message', (m: { ok: boolean; value?: T; error?: string }) => {
      if (m.ok) result = { ok: true, value: m.value as T };
      else reject(new Error(`worker: ${m.error}`));
    });
    w.on('error', reject);
    w.on('exit', (code) => (result ? resolve(result.value) : reject(new Error(`worker exited with ${code}`))));
  });
}

// --- worker roles -------------------------------------------------------------

async function playRole(job: { role: string } & Record<string, unknown>): Promise<unknown> {
  switch (job.role) {
    case 'produce': // blocking waits: a worker may Atomics.wait
      return produce(job as unknown as StressJob, (tx, len) => tx.waitForSpaceSync(len, WAIT_MS));
    case 'consume':
      return consume(job as unknown as StressJob, (rx) => rx.waitForDataSync(WAIT_MS));
    case 'publish-when-parked': {
      // Waits until the main thread's consumer has parked, lets it sleep a
      // while, then publishes one record.
      const buf = job.buf as SharedArrayBuffer;
      const nap = new Int32Array(new SharedArrayBuffer(4));
      const t0 = Date.now();
      while (word(buf, O.consumerParked) !== 1) {
        if (Date.now() - t0 > WAIT_MS) throw new Error('the consumer never parked');
        Atomics.wait(nap, 0, 0, 1);
      }
      Atomics.wait(nap, 0, 0, 30);
      const tx = RingProducer.attach(buf, 0);
      tx.tryWrite(7, enc('wake up'));
      tx.publish();
      tx.detach();
      return 'published';
    }
    case 'release-when-parked': {
      const buf = job.buf as SharedArrayBuffer;
      const nap = new Int32Array(new SharedArrayBuffer(4));
      const t0 = Date.now();
      while (word(buf, O.producerParked) !== 1) {
        if (Date.now() - t0 > WAIT_MS) throw new Error('the producer never parked');
        Atomics.wait(nap, 0, 0, 1);
      }
      Atomics.wait(nap, 0, 0, 30);
      const rx = RingConsumer.attach(buf, 0);
      const r = rx.tryRead();
      rx.release();
      rx.detach();
      return r === null ? 'nothing' : dec(r.payload);
    }
    default:
      throw new Error(`unknown role ${job.role}`);
  }
}

if (!isMainThread && workerData && typeof workerData.role === 'string') {
  try {
    parentPort!.postMessage({ ok: true, value: await playRole(workerData) });
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
  }
} else {
  registerTests();
}

// --- tests --------------------------------------------------------------------

function registerTests(): void {
  test('RING numbers equal core/ring.hpp (offsets, flags, limits)', () => {
    const hpp = readFileSync(root('core/ring.hpp'), 'utf8');
    const constants = new Map<string, number>();
    for (const m of hpp.matchAll(/inline constexpr std::(?:size_t|uint32_t) k(\w+) = ([^;]+);/g)) {
      const expr = m[2]!.trim();
      const shift = /^(\d+)u? << (\d+)$/.exec(expr);
      constants.set(m[1]!, shift ? Number(shift[1]) * 2 ** Number(shift[2]) : Number(expr.replace(/u$/i, '')));
    }
    const offsets = [...constants].filter(([k]) => k.endsWith('Offset'));
    assert.ok(offsets.length >= 13, `parsed only ${offsets.length} offsets`);
    const camel = (k: string) => k[0]!.toLowerCase() + k.slice(1, -'Offset'.length);
    const fromHpp = Object.fromEntries(offsets.map(([k, v]) => [camel(k), v]));
    assert.deepEqual({ ...O }, fromHpp);
    assert.equal(RING.MAGIC, constants.get('Magic'));
    assert.equal(RING.VERSION, constants.get('Version'));
    assert.equal(RING.HEADER_BYTES, constants.get('HeaderBytes'));
    assert.equal(RING.RECORD_HEADER_BYTES, constants.get('RecordHeaderBytes'));
    assert.equal(RING.SKIP_TAG, constants.get('SkipTag'));
    assert.equal(RING.MIN_CAPACITY, constants.get('MinCapacity'));
    assert.equal(RING.MAX_CAPACITY, constants.get('MaxCapacity'));
    assert.deepEqual(
      { ...RING.flags },
      {
        producerClosed: constants.get('ProducerClosed'),
        consumerClosed: constants.get('ConsumerClosed'),
        producerAttached: constants.get('ProducerAttached'),
        consumerAttached: constants.get('ConsumerAttached'),
      },
    );
    assert.equal(ringBytes(1024), 1280);
    assert.deepEqual([0, 1, 8, 9].map(recordBytes), [8, 16, 16, 24]);
  });

  test('golden vectors (tests/golden/ring.txt) replay byte for byte', () => {
    const lines = readFileSync(root('tests/golden/ring.txt'), 'utf8').split('\n');
    let checked = 0;
    for (const line of lines) {
      if (line.trim() === '' || line.startsWith('#')) continue;
      const [name, cap, ops, want] = line.split('|').map((c) => c.trim());
      assert.ok(name && cap && ops !== undefined && want, `bad vector line: ${line}`);
      const capacity = Number(cap);
      // Alone in a SharedArrayBuffer; in a non-shared ArrayBuffer; and at an
      // offset inside a bigger buffer between canaries.
      for (const where of [{ shared: true, at: 0 }, { shared: false, at: 0 }, { shared: true, at: 192 }]) {
        const n = where.at + ringBytes(capacity) + 64;
        const buf = where.shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n);
        const all = new Uint8Array(buf);
        all.fill(0xa5);
        ringInit(buf, where.at, capacity);
        all.fill(0, where.at + RING.HEADER_BYTES, where.at + ringBytes(capacity)); // as the C++ replay does
        const tx = RingProducer.attach(buf, where.at);
        const rx = RingConsumer.attach(buf, where.at);
        let lastTag = 0;
        let lastLen = 0;
        for (const op of ops.split(/\s+/).filter(Boolean)) {
          const w = /^w(\d+):(\d+)$/.exec(op);
          const e = /^e(\d+)$/.exec(op);
          if (w) {
            const tag = Number(w[1]);
            const payload = new Uint8Array(Number(w[2])).map((_, i) => (tag + i) & 0xff);
            assert.ok(tx.tryWrite(tag, payload), `${name}: ${op}`);
            lastTag = tag;
            lastLen = payload.length;
          } else if (e) {
            const n = Number(e[1]);
            const at = tx.extendAt(n);
            assert.ok(at >= 0, `${name}: ${op}`);
            for (let i = 0; i < n; i++) tx.bytes[at + i] = (lastTag + lastLen + i) & 0xff;
            tx.commitExtend(n);
            lastLen += n;
          } else if (op === 'p') tx.publish();
          else if (op === 'r') assert.ok(rx.tryRead(), `${name}: ${op}`);
          else if (op === 'R') rx.release();
          else if (op === 'cp') tx.close();
          else if (op === 'cc') rx.close();
          else assert.fail(`${name}: unknown op ${op}`);
        }
        const got = hex(all.subarray(where.at, where.at + ringBytes(capacity)));
        assert.equal(got, want, `vector ${name} (${where.shared ? 'shared' : 'ArrayBuffer'}, at ${where.at})`);
        assert.ok(all.subarray(0, where.at).every((b) => b === 0xa5), `${name}: canary before`);
        assert.ok(all.subarray(where.at + ringBytes(capacity)).every((b) => b === 0xa5), `${name}: canary after`);
      }
      ++checked;
    }
    assert.ok(checked >= 10, `only ${checked} vectors`);
  });

  test('ringInit writes the documented header and rejects bad capacities and offsets', () => {
    const buf = new SharedArrayBuffer(ringBytes(4096) + 64);
    ringInit(buf, 64, 4096);
    assert.equal(word(buf, 64 + O.magic), 0x474e5246);
    assert.equal(hex(new Uint8Array(buf, 64, 4)), '46524e47'); // "FRNG"
    assert.equal(word(buf, 64 + O.version), 1);
    assert.equal(word(buf, 64 + O.capacity), 4096);
    assert.equal(word(buf, 64 + O.flags), 0);
    assert.equal(word(buf, 64 + O.dataBell), 192);
    assert.equal(word(buf, 64 + O.spaceBell), 200);
    for (const bad of [0, 32, 100, 3000, 2 ** 31, 2 ** 30 * 2, 64.5]) {
      assert.throws(() => ringInit(buf, 0, bad), isKind(ErrorKind.InvalidArgument, String(bad)));
    }
    assert.throws(() => ringInit(buf, 8, 64), isKind(ErrorKind.InvalidArgument, 'multiple of 64'));
    assert.throws(() => ringInit(buf, 0, 8192), isKind(ErrorKind.InvalidArgument, 'needs 8448 bytes'));
  });

  test('attach checks magic and version, and allows one producer and one consumer', () => {
    const buf = new SharedArrayBuffer(ringBytes(256));
    ringInit(buf, 0, 256);
    setWord(buf, O.magic, 0xdeadbeef);
    assert.throws(() => RingProducer.attach(buf, 0), isKind(ErrorKind.InvalidArgument, 'bad magic'));
    setWord(buf, O.magic, RING.MAGIC);
    setWord(buf, O.version, 7);
    assert.throws(() => RingConsumer.attach(buf, 0), isKind(ErrorKind.InvalidArgument, 'version 7'));
    setWord(buf, O.version, 1);
    assert.throws(() => RingProducer.attach(buf, 32), isKind(ErrorKind.InvalidArgument, 'multiple of 64'));
    const tx = RingProducer.attach(buf, 0);
    const rx = RingConsumer.attach(buf, 0);
    assert.equal(word(buf, O.flags), 12);
    assert.throws(() => RingProducer.attach(buf, 0), isKind(ErrorKind.InvalidArgument, 'single producer'));
    assert.throws(() => RingConsumer.attach(buf, 0), isKind(ErrorKind.InvalidArgument, 'single consumer'));
    assert.equal(tx.capacity, 256);
    assert.equal(tx.maxPayload, 248);
    assert.equal(rx.capacity, 256);
    assert.equal(tx.byteOffset, 0);
    assert.equal(tx.buffer, buf);
    write(tx, 1, 'kept');
    tx.detach(); // publishes first
    tx.detach();
    assert.equal(word(buf, O.flags), 8);
    assert.throws(() => tx.tryWrite(2, enc('x')), isKind(ErrorKind.InvalidArgument, 'detached'));
    const tx2 = RingProducer.attach(buf, 0);
    assert.equal(readText(rx), 'kept');
    write(tx2, 2, 'second producer continues');
    tx2.publish();
    assert.equal(readText(rx), 'second producer continues');
    rx.detach();
    const rx2 = RingConsumer.attach(buf, 0);
    assert.equal(rx2.tryRead(), null);
    assert.equal(word(buf, O.head), word(buf, O.tail));
  });

  test('records round-trip with tag and payload as zero-copy views', () => {
    const { buf, tx, rx } = makeRing(256);
    assert.equal(rx.tryRead(), null);
    assert.equal(rx.hasData(), false);
    assert.ok(write(tx, 42, 'hello ring'));
    assert.ok(write(tx, 0xfffffffe, ''));
    assert.equal(rx.hasData(), false, 'invisible until publish');
    tx.publish();
    assert.equal(rx.hasData(), true);
    const r = rx.tryRead()!;
    assert.equal(r.tag, 42);
    assert.equal(dec(r.payload), 'hello ring');
    assert.equal(r.payload.buffer, buf);
    assert.equal(r.payload.byteOffset, RING.HEADER_BYTES + RING.RECORD_HEADER_BYTES);
    const z = rx.tryRead()!;
    assert.equal(z.tag, 0xfffffffe);
    assert.equal(z.payload.length, 0);
    assert.equal(rx.tryRead(), null);
    assert.throws(() => tx.tryWrite(-1, enc('x')), isKind(ErrorKind.InvalidArgument, 'u32'));
    assert.throws(() => tx.tryWrite(1.5, enc('x')), isKind(ErrorKind.InvalidArgument));
    assert.throws(() => tx.tryReserve(1, RING.SKIP_TAG), isKind(ErrorKind.InvalidArgument, 'reserved for skip'));
  });

  test('a batch is one tail store; zero-length records fill a ring of 64', () => {
    const { buf, tx, rx } = makeRing(1024);
    for (let i = 0; i < 10; ++i) assert.ok(write(tx, i, 'batched'));
    assert.equal(rx.tryRead(), null);
    assert.equal(word(buf, O.tail), 0);
    tx.publish();
    assert.equal(word(buf, O.tail), 160);
    for (let i = 0; i < 10; ++i) assert.equal(rx.tryRead()!.tag, i);

    const small = makeRing(64);
    for (let t = 0; t < 8; ++t) assert.ok(small.tx.tryWrite(t, new Uint8Array(0)));
    assert.equal(small.tx.tryWrite(99, new Uint8Array(0)), false);
    assert.equal(small.tx.freeBytes(), 0);
    small.tx.publish();
    for (let t = 0; t < 8; ++t) {
      const r = small.rx.tryRead()!;
      assert.deepEqual([r.tag, r.payload.length], [t, 0]);
    }
  });

  test('a full ring refuses until the consumer releases; commit may be shorter than the reservation', () => {
    const { buf, tx, rx } = makeRing(128); // 8 records of 16 bytes
    let written = 0;
    while (write(tx, written, '12345678')) ++written;
    assert.equal(written, 8);
    assert.equal(tx.canWrite(0), false);
    tx.publish();
    assert.ok(rx.tryRead());
    assert.ok(rx.tryRead());
    assert.equal(write(tx, 100, 'x'), false, 'reading alone must not free room');
    rx.release();
    assert.equal(tx.freeBytes(), 32);
    assert.equal(tx.canWrite(24), true);
    assert.equal(tx.canWrite(25), false);
    assert.ok(write(tx, 100, 'x'));
    assert.ok(write(tx, 101, 'y'));
    assert.equal(write(tx, 102, 'z'), false);
    assert.equal(word(buf, O.head), 32);

    const e = makeRing(256);
    const slot = e.tx.tryReserve(100, 5)!;
    assert.equal(slot.length, 100);
    slot.set(enc('abc'));
    assert.throws(() => e.tx.commit(101), isKind(ErrorKind.InvalidArgument));
    e.tx.commit(3);
    assert.throws(() => e.tx.commit(3), isKind(ErrorKind.InvalidArgument, 'without a reservation'));
    e.tx.publish();
    assert.equal(word(e.buf, O.tail), 16);
    assert.equal(readText(e.rx), 'abc');
  });

  test('extendAt grows the last unpublished record in place, and refuses what it cannot grow', () => {
    const { buf, tx, rx } = makeRing(64);
    assert.equal(tx.extendAt(1), -1, 'no record yet');
    assert.ok(write(tx, 4, 'abc'));
    for (const more of ['de', 'fghijk']) {
      const at = tx.extendAt(more.length);
      assert.ok(at >= 0, more);
      tx.bytes.set(enc(more), at);
      tx.commitExtend(more.length);
    }
    assert.throws(() => tx.commitExtend(1), isKind(ErrorKind.InvalidArgument, 'without extendAt'));
    tx.publish();
    assert.equal(word(buf, O.tail), 24, 'one header for the three pieces');
    assert.equal(tx.extendAt(1), -1, 'published: the consumer may be reading it');
    const r = rx.tryRead()!;
    assert.equal(r.tag, 4);
    assert.equal(new TextDecoder().decode(r.payload), 'abcdefghijk');
    rx.release();
    // At 24 with 40 bytes to the end: 32 payload bytes at most.
    assert.ok(write(tx, 5, ''));
    assert.equal(tx.extendAt(33), -1, 'it would cross the end of the ring');
    assert.ok(tx.extendAt(32) >= 0);
    tx.commitExtend(0);
    rx.close();
    assert.equal(tx.extendAt(1), -1, 'the consumer closed: reserveAt reports it');
    assert.throws(() => tx.reserveAt(1, 1), isKind(ErrorKind.Closed));
  });

  test('an exact fit uses the whole capacity', () => {
    const { tx, rx } = makeRing(256);
    const big = new Uint8Array(tx.maxPayload).fill(0x71);
    assert.ok(tx.tryWrite(7, big));
    assert.equal(tx.tryWrite(8, new Uint8Array(0)), false);
    tx.publish();
    const r = rx.tryRead()!;
    assert.equal(r.payload.length, 248);
    assert.ok(r.payload.every((b) => b === 0x71));
  });

  test('RING.md worked example: a skip marker fills the tail, the record goes to 0', () => {
    const { buf, tx, rx } = makeRing(128);
    assert.ok(write(tx, 1, 'a'.repeat(88)));
    tx.publish();
    assert.ok(rx.tryRead());
    rx.release();
    assert.equal(tx.canWrite(32), true); // 32 (skip) + 40 fit in the 128 free bytes
    assert.ok(write(tx, 2, 'b'.repeat(32)));
    tx.publish();
    assert.equal(hex(new Uint8Array(buf, RING.HEADER_BYTES + 96, 8)), '18000000ffffffff');
    const r = rx.tryRead()!;
    assert.equal(r.tag, 2);
    assert.equal(r.payload.byteOffset, RING.HEADER_BYTES + 8);
    assert.equal(dec(r.payload), 'b'.repeat(32));
    assert.equal(word(buf, O.tail), 96 + 32 + 40);
    rx.release();
    assert.equal(word(buf, O.head), 168);
  });

  test('a record bigger than half the ring fits once its lone skip is consumed', () => {
    const { tx, rx } = makeRing(128);
    assert.ok(write(tx, 1, 'a'.repeat(24))); // [0, 32)
    tx.publish();
    assert.ok(rx.tryRead());
    rx.release();
    // 112 bytes needed; 96 remain before the end: the skip goes in alone.
    assert.equal(tx.canWrite(104), false);
    assert.equal(tx.tryReserve(104, 2), null);
    tx.publish();
    assert.equal(rx.hasData(), false, 'a lone skip record is not a record');
    assert.equal(rx.tryRead(), null);
    rx.release();
    assert.equal(tx.canWrite(104), true);
    assert.ok(write(tx, 2, 'b'.repeat(104)));
    tx.publish();
    assert.equal(readText(rx), 'b'.repeat(104));
  });

  test('waitForSpace writes and publishes the skip that stands in the way', async () => {
    const { buf, tx, rx } = makeRing(128);
    assert.ok(write(tx, 1, 'a'.repeat(24)));
    tx.publish();
    assert.ok(rx.tryRead());
    rx.release();
    // Only the skip fits now; the wait must publish it or nobody can move past it.
    const waiting = tx.waitForSpace(104, 5000);
    assert.equal(word(buf, O.tail), 128, 'the skip is published');
    assert.equal(word(buf, O.producerParked), 1);
    assert.equal(await rx.waitForData(0), false, 'the consumer steps over the skip');
    assert.equal(word(buf, O.head), 128);
    assert.equal(await waiting, true);
    assert.ok(write(tx, 2, 'b'.repeat(104)));
  });

  test('MessageTooLarge names the record and the capacity; nothing is lost', async () => {
    const { tx, rx } = makeRing(65536);
    assert.throws(
      () => tx.tryReserve(70000, 1),
      isKind(ErrorKind.MessageTooLarge, 'record of 70000 bytes exceeds ring capacity 65536'),
    );
    assert.throws(() => tx.tryWrite(1, new Uint8Array(65529)), isKind(ErrorKind.MessageTooLarge, 'at most 65528 payload bytes'));
    await assert.rejects(tx.waitForSpace(70000), isKind(ErrorKind.MessageTooLarge));
    assert.throws(() => tx.waitForSpaceSync(65529), isKind(ErrorKind.MessageTooLarge));
    assert.equal(tx.canWrite(70000), false);
    assert.ok(tx.tryWrite(1, new Uint8Array(65528)));
    tx.publish();
    assert.equal(rx.tryRead()!.payload.length, 65528);
  });

  test('counters wrap past 2^32 with skip records every few records (capacities 64, 128, 256)', () => {
    for (const capacity of [64, 128, 256]) {
      const buf = new SharedArrayBuffer(ringBytes(capacity));
      ringInit(buf, 0, capacity);
      const start = 2 ** 32 - 8 * capacity - 24; // a few laps before the wrap, 24 bytes before the end
      setWord(buf, O.tail, start);
      setWord(buf, O.head, start);
      const tx = RingProducer.attach(buf, 0);
      const rx = RingConsumer.attach(buf, 0);
      const out = new Stream(capacity, capacity - 8);
      const back = new Stream(capacity, capacity - 8);
      const bytes = new Uint8Array(buf, RING.HEADER_BYTES, capacity);
      const dv = new DataView(buf, RING.HEADER_BYTES, capacity);
      let sent = 0;
      let got = 0;
      let skips = 0;
      let pendingLen = -1;
      const total = 3000;
      while (got < total) {
        for (; sent < total; ++sent) {
          if (pendingLen < 0) pendingLen = out.nextLength();
          const slot = tx.tryReserve(pendingLen, sent);
          if (slot === null) break;
          out.fill(sent, slot);
          tx.commit(pendingLen);
          pendingLen = -1;
        }
        tx.publish();
        // Walk the published records independently and count the skips.
        const tail = word(buf, O.tail);
        for (let c = word(buf, O.head); c !== tail; ) {
          const pos = c & (capacity - 1);
          const len = dv.getUint32(pos, true);
          if (dv.getUint32(pos + 4, true) === RING.SKIP_TAG) {
            assert.equal(8 + len, capacity - pos, 'a skip covers the rest of the data area');
            ++skips;
            c = (c + capacity - pos) >>> 0;
          } else {
            c = (c + recordBytes(len)) >>> 0;
          }
          assert.equal(c % 8, 0);
        }
        for (let r; (r = rx.tryRead()) !== null; ++got) {
          assert.equal(back.check(got, r.tag, r.payload), null);
          assert.equal(r.payload.byteOffset % 8, 0);
          assert.ok(r.payload.byteOffset + r.payload.length <= bytes.byteOffset + capacity);
        }
        rx.release();
        assert.ok(((word(buf, O.tail) - word(buf, O.head)) >>> 0) <= capacity);
      }
      assert.equal(back.checksum, out.checksum);
      assert.ok(word(buf, O.tail) < start, `capacity ${capacity}: the counters wrapped`);
      assert.ok(skips > total / 20, `capacity ${capacity}: only ${skips} skip records`);
    }
  });

  test('close lets the consumer drain, then reports Closed to both sides', async () => {
    const { buf, tx, rx } = makeRing(256);
    assert.ok(write(tx, 1, 'one'));
    assert.ok(write(tx, 2, 'two'));
    tx.close(); // publishes the batch too
    assert.equal(word(buf, O.flags) & RING.flags.producerClosed, 1);
    assert.equal(word(buf, O.dataSeq), 1, 'close always rings the data bell');
    assert.equal(rx.producerClosed(), true);
    assert.throws(() => write(tx, 3, 'late'), isKind(ErrorKind.Closed, 'the producer closed'));
    assert.equal(readText(rx), 'one');
    assert.equal(rx.hasData(), true);
    assert.equal(readText(rx), 'two');
    assert.equal(rx.hasData(), true, 'end of stream is readable');
    assert.throws(() => rx.tryRead(), isKind(ErrorKind.Closed, 'the producer closed the ring'));
    assert.throws(() => rx.tryRead(), isKind(ErrorKind.Closed));
    assert.equal(await rx.waitForData(), true);
    assert.equal(rx.waitForDataSync(), true);

    const e = makeRing(64);
    assert.ok(write(e.tx, 1, 'x'.repeat(56)));
    e.rx.close();
    assert.equal(word(e.buf, O.spaceSeq), 1);
    assert.equal(e.tx.consumerClosed(), true);
    assert.throws(() => e.tx.tryWrite(3, new Uint8Array(0)), isKind(ErrorKind.Closed, 'the consumer closed the ring'));
    assert.equal(await e.tx.waitForSpace(8), true, 'a closed consumer ends the wait');
    assert.throws(() => e.rx.tryRead(), isKind(ErrorKind.Closed, 'the consumer closed'));
  });

  test('close wakes a parked reader; consumer close wakes a parked writer', async () => {
    const { buf, tx, rx } = makeRing(256);
    const reading = rx.waitForData(10_000);
    assert.equal(word(buf, O.consumerParked), 1, 'parked after the spin');
    tx.close();
    assert.equal(await reading, true);
    assert.equal(word(buf, O.consumerParked), 0);
    assert.throws(() => rx.tryRead(), isKind(ErrorKind.Closed));

    const e = makeRing(64);
    assert.ok(write(e.tx, 1, 'x'.repeat(56)));
    const writing = e.tx.waitForSpace(8, 10_000);
    assert.equal(word(e.buf, O.tail), 64, 'waitForSpace publishes first');
    assert.equal(word(e.buf, O.producerParked), 1);
    e.rx.close();
    assert.equal(await writing, true);
    assert.throws(() => e.tx.tryReserve(8, 2), isKind(ErrorKind.Closed));
  });

  test('abort: the consumer drains, then both sides get the abort kind; waiters wake', async () => {
    const { buf, tx, rx } = makeRing(256);
    assert.ok(write(tx, 1, 'last words'));
    tx.publish();
    const waiting = tx.waitForSpace(248, 10_000); // full for 248: parks
    assert.equal(word(buf, O.producerParked), 1);
    ringAbort(buf, 0, ErrorKind.WorkerCrashed);
    assert.equal(await waiting, true);
    assert.equal(ringCloseReason(buf, 0), 9);
    assert.equal(word(buf, O.closeReason), 9);
    assert.equal(word(buf, O.flags) & 3, 3);
    assert.equal(word(buf, O.dataSeq), 1);
    assert.equal(word(buf, O.spaceSeq), 1);
    assert.equal(readText(rx), 'last words');
    assert.throws(() => rx.tryRead(), isKind(ErrorKind.WorkerCrashed, 'the ring was aborted: WorkerCrashed'));
    assert.throws(() => tx.tryWrite(2, new Uint8Array(0)), isKind(ErrorKind.WorkerCrashed));
    assert.equal(await rx.waitForData(), true);

    const e = makeRing(64);
    const reading = e.rx.waitForData(10_000);
    assert.equal(word(e.buf, O.consumerParked), 1);
    ringAbort(e.buf, 0, ErrorKind.Cancelled);
    assert.equal(await reading, true);
    assert.throws(() => e.rx.tryRead(), isKind(ErrorKind.Cancelled));
    assert.equal(ringCloseReason(makeRing(64).buf, 0), 0);
    assert.throws(() => ringAbort(e.buf, 0, 0), isKind(ErrorKind.InvalidArgument));
  });

  test('a corrupt length or skip is CorruptRecord, and stays so', () => {
    const { buf, tx, rx } = makeRing(256);
    assert.ok(write(tx, 1, 'abcdefgh'));
    tx.publish();
    setWord(buf, RING.HEADER_BYTES, 4000);
    assert.throws(() => rx.tryRead(), isKind(ErrorKind.CorruptRecord, 'claims 4000 payload bytes'));
    setWord(buf, RING.HEADER_BYTES, 8); // even repaired: the consumer never trusts the ring again
    assert.throws(() => rx.tryRead(), isKind(ErrorKind.CorruptRecord));
    assert.equal(rx.hasData(), true);

    const e = makeRing(128);
    assert.ok(write(e.tx, 1, 'a'.repeat(88)));
    e.tx.publish();
    assert.ok(e.rx.tryRead());
    e.rx.release();
    assert.ok(write(e.tx, 2, 'b'.repeat(32)));
    e.tx.publish();
    setWord(e.buf, RING.HEADER_BYTES + 96, 8); // a skip that does not reach the end
    assert.throws(() => e.rx.tryRead(), isKind(ErrorKind.CorruptRecord, 'skip record at offset 96'));

    // A record that claims more than was published (length near 2^32 too).
    const f = makeRing(256);
    assert.ok(write(f.tx, 1, 'abc'));
    f.tx.publish();
    setWord(f.buf, RING.HEADER_BYTES, 0xfffffff9);
    assert.throws(() => f.rx.tryRead(), isKind(ErrorKind.CorruptRecord, `claims ${0xfffffff9} payload bytes`));
    // A skip record whose span would overflow 32 bits.
    const g = makeRing(256);
    assert.ok(write(g.tx, 1, 'abc'));
    g.tx.publish();
    setWord(g.buf, RING.HEADER_BYTES, 0xfffffff8);
    setWord(g.buf, RING.HEADER_BYTES + 4, RING.SKIP_TAG);
    assert.throws(() => g.rx.tryRead(), isKind(ErrorKind.CorruptRecord, 'skip record at offset 0'));
  });

  test('no notify happens while the other side keeps up', () => {
    const { buf, tx, rx } = makeRing(1024);
    for (let i = 0; i < 1000; ++i) {
      assert.ok(write(tx, i, 'x'));
      tx.publish();
      assert.ok(rx.tryRead());
      rx.release();
    }
    assert.equal(word(buf, O.dataSeq), 0);
    assert.equal(word(buf, O.spaceSeq), 0);
  });

  test('waits time out: false after the timeout, parked flag lowered', async () => {
    const { buf, tx, rx } = makeRing(64);
    let t0 = performance.now();
    assert.equal(await rx.waitForData(20), false);
    assert.ok(performance.now() - t0 >= 19, `waited ${performance.now() - t0} ms`);
    assert.equal(word(buf, O.consumerParked), 0, 'the parked flag is lowered after waking');
    assert.equal(await rx.waitForData(0), false);
    t0 = performance.now();
    assert.equal(rx.waitForDataSync(20), false);
    assert.ok(performance.now() - t0 >= 19);
    assert.equal(word(buf, O.consumerParked), 0);

    assert.ok(write(tx, 1, 'x'.repeat(56)));
    t0 = performance.now();
    assert.equal(tx.waitForSpaceSync(8, 20), false);
    assert.ok(performance.now() - t0 >= 19);
    assert.equal(word(buf, O.tail), 64, 'the wait publishes before it waits');
    assert.equal(word(buf, O.producerParked), 0);
    assert.equal(await tx.waitForSpace(8, 5), false);
    assert.equal(rx.waitForDataSync(0), true, 'ready: no wait at all');
    assert.ok(rx.tryRead());
    assert.equal(await tx.waitForSpace(8, 0), false);
    assert.equal(rx.waitForDataSync(0), false);
    assert.equal(await tx.waitForSpace(8, 0), true, 'waitForDataSync released the record');
    await assert.rejects(rx.waitForData(Number.NaN), isKind(ErrorKind.InvalidArgument));
  });

  test('a waiting consumer parks and its Promise resolves when a worker publishes', async () => {
    const buf = new SharedArrayBuffer(ringBytes(256));
    ringInit(buf, 0, 256);
    const rx = RingConsumer.attach(buf, 0);
    const worker = runWorker<string>({ role: 'publish-when-parked', buf });
    let ticks = 0;
    const timer = setInterval(() => ++ticks, 2);
    const ok = await rx.waitForData(WAIT_MS);
    clearInterval(timer);
    assert.equal(ok, true);
    assert.equal(await worker, 'published'); // the worker saw consumer_parked == 1
    assert.ok(ticks >= 2, `the event loop ran ${ticks} timers while the consumer waited: no busy loop`);
    assert.equal(word(buf, O.consumerParked), 0);
    assert.equal(word(buf, O.dataSeq), 1, 'exactly one notify');
    const r = rx.tryRead()!;
    assert.deepEqual([r.tag, dec(r.payload)], [7, 'wake up']);
  });

  test('a waiting producer parks and its Promise resolves when a worker releases', async () => {
    const buf = new SharedArrayBuffer(ringBytes(64));
    ringInit(buf, 0, 64);
    const tx = RingProducer.attach(buf, 0);
    assert.ok(write(tx, 1, 'fills the ring!'.padEnd(56, '.')));
    const worker = runWorker<string>({ role: 'release-when-parked', buf });
    let ticks = 0;
    const timer = setInterval(() => ++ticks, 2);
    const ok = await tx.waitForSpace(8, WAIT_MS); // publishes, then parks
    clearInterval(timer);
    assert.equal(ok, true);
    assert.equal(await worker, 'fills the ring!'.padEnd(56, '.'));
    assert.ok(ticks >= 2, `only ${ticks} timer ticks: busy loop?`);
    assert.equal(word(buf, O.spaceSeq), 1, 'exactly one notify');
    assert.equal(tx.canWrite(56), true);
  });

  test('bells may live outside the ring: wakes ring the doorbell, not the ring words', async () => {
    // A doorbell word before the ring (negative offset) and one after it.
    const at = 128;
    const after = at + ringBytes(128);
    const buf = new SharedArrayBuffer(after + 64);
    ringInit(buf, at, 128);
    ringSetBells(buf, at, 4, after + 8);
    assert.equal(new Int32Array(buf)[(at + O.dataBell) >> 2], 4 - at);
    assert.equal(word(buf, at + O.spaceBell), ringBytes(128) + 8);
    assert.throws(() => ringSetBells(buf, at, 2, null), isKind(ErrorKind.InvalidArgument, '4-byte aligned'));
    assert.throws(() => ringSetBells(buf, at, buf.byteLength, null), isKind(ErrorKind.InvalidArgument));
    const tx = RingProducer.attach(buf, at);
    const rx = RingConsumer.attach(buf, at);
    assert.throws(() => ringSetBells(buf, at, null, null), isKind(ErrorKind.InvalidArgument, 'before either side attaches'));

    const reading = rx.waitForData(10_000);
    assert.equal(word(buf, at + O.consumerParked), 1);
    assert.ok(write(tx, 1, 'ding'));
    tx.publish();
    assert.equal(await reading, true);
    assert.equal(word(buf, 4), 1, 'the data doorbell rang');
    assert.equal(word(buf, at + O.dataSeq), 0, "the ring's own word did not");
    assert.equal(readText(rx), 'ding');

    rx.release();
    assert.ok(write(tx, 2, 'x'.repeat(104))); // [16, 128)
    const writing = tx.waitForSpace(16, 10_000);
    assert.equal(word(buf, at + O.producerParked), 1);
    assert.ok(rx.tryRead());
    rx.release();
    assert.equal(await writing, true);
    assert.equal(word(buf, after + 8), 1, 'the space doorbell rang');
    assert.equal(word(buf, at + O.spaceSeq), 0);
    ringAbort(buf, at, ErrorKind.WorkerCrashed);
    assert.deepEqual([word(buf, 4), word(buf, after + 8)], [2, 2]);
  });

  test('without Atomics.waitAsync (or in a plain ArrayBuffer) waits poll with setTimeout', async () => {
    const saved = Object.getOwnPropertyDescriptor(Atomics, 'waitAsync');
    delete (Atomics as { waitAsync?: unknown }).waitAsync;
    try {
      const { buf, tx, rx } = makeRing(256);
      setTimeout(() => {
        write(tx, 1, 'polled');
        tx.publish();
      }, 15);
      assert.equal(await rx.waitForData(5000), true);
      assert.equal(word(buf, O.consumerParked), 0, 'nothing can wake a poller: it does not park');
      assert.equal(readText(rx), 'polled');
      assert.equal(await rx.waitForData(10), false);
    } finally {
      if (saved) Object.defineProperty(Atomics, 'waitAsync', saved);
    }
    assert.equal(typeof Atomics.waitAsync, 'function');

    const { tx, rx } = makeRing(64, { shared: false });
    assert.throws(() => rx.waitForDataSync(10), isKind(ErrorKind.InvalidArgument, 'non-shared ArrayBuffer'));
    assert.ok(write(tx, 1, 'x'.repeat(56)));
    setTimeout(() => {
      rx.tryRead();
      rx.release();
    }, 15);
    assert.equal(await tx.waitForSpace(56, 5000), true);
  });

  const scale = stressScale;
  const STRESS_RECORDS = Math.max(1000, Math.round(1_000_000 * scale));

  // Two sizes: a 16 KiB ring with records up to 1 KiB, and a 256-byte ring
  // where nearly every batch fills or drains it, so both sides park and wake
  // all the time (a lost wakeup shows up as a stuck side).
  const runs = [
    { mainSide: 'consumer', capacity: 1 << 14, maxLen: 1024, count: STRESS_RECORDS },
    { mainSide: 'producer', capacity: 1 << 14, maxLen: 1024, count: STRESS_RECORDS },
    { mainSide: 'consumer', capacity: 256, maxLen: 200, count: Math.round(STRESS_RECORDS / 10) },
    { mainSide: 'producer', capacity: 256, maxLen: 200, count: Math.round(STRESS_RECORDS / 10) },
  ] as const;
  for (const [i, { mainSide, capacity, maxLen, count }] of runs.entries()) {
    const name =
      mainSide === 'consumer'
        ? `stress: ${count} records from a worker to the main thread, ring of ${capacity} (waitForData / waitForSpaceSync)`
        : `stress: ${count} records from the main thread to a worker, ring of ${capacity} (waitForSpace / waitForDataSync)`;
    test(name, async () => {
      const at = 64; // not at the buffer's start
      const buf = new SharedArrayBuffer(at + ringBytes(capacity));
      ringInit(buf, at, capacity);
      const job: StressJob = { role: 'produce', buf, at, count, seed: i + 1, maxLen };
      const t0 = performance.now();
      let sent: number;
      let got: number;
      if (mainSide === 'consumer') {
        const worker = runWorker<number>({ ...job, role: 'produce' });
        got = await consume(job, (rx) => rx.waitForData(WAIT_MS));
        sent = await worker;
      } else {
        const worker = runWorker<number>({ ...job, role: 'consume' });
        sent = await produce(job, (tx, len) => tx.waitForSpace(len, WAIT_MS));
        got = await worker;
      }
      assert.equal(got, sent, 'checksums of what was sent and what arrived');
      const ms = performance.now() - t0;
      const parks = word(buf, at + O.dataSeq) + word(buf, at + O.spaceSeq);
      console.log(`# ${name}: ${ms.toFixed(0)} ms, ${(count / ms / 1000).toFixed(2)} M records/s, ${parks} wakes`);
    });
  }
}
