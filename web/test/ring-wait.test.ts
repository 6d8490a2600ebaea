// Tests of web/src/ring.ts that close, abort and wait: close and abort wake
// whoever is parked, the eventcount parks and wakes (timeouts, doorbells
// outside the ring, the polling fallback without Atomics.waitAsync), and a
// two-thread stress run where a worker (workers/ring-roles.ts) plays the
// other side.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { RING, RingConsumer, RingProducer, ringAbort, ringBytes, ringCloseReason, ringInit, ringSetBells } from '../dist/ring.js';
import { ErrorKind } from '../dist/errors.js';
import { stressScale } from './helpers.js';
import { O, WAIT_MS, consume, dec, isKind, makeRing, produce, readText, word, write, type StressJob } from './ring-helpers.js';

const roles = new URL('./workers/ring-roles.js', import.meta.url);

// Starts workers/ring-roles.js playing `data.role`; resolves with its message.
function runWorker<T>(data: object): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const w = new Worker(roles, { workerData: data });
    let result: { ok: true; value: T } | undefined;
    w.on('message', (m: { ok: boolean; value?: T; error?: string }) => {
      if (m.ok) result = { ok: true, value: m.value as T };
      else reject(new Error(`worker: ${m.error}`));
    });
    w.on('error', reject);
    w.on('exit', (code) => (result ? resolve(result.value) : reject(new Error(`worker exited with ${code}`))));
  });
}

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

const STRESS_RECORDS = Math.max(1000, Math.round(1_000_000 * stressScale));

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
