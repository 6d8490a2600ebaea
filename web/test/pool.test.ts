// WorkerPool with JavaScript workers: calls, errors, timeouts, cancellation,
// crashes, terminate, queueing. fallback.test.ts runs this file again over
// the postMessage transport (FERRY_TRANSPORT).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CancelledError,
  ClosedError,
  ErrorKind,
  FerryError,
  NONE,
  QueueFullError,
  STRUCT_NAME,
  SerializationError,
  TaskFailedError,
  TimeoutError,
  UnknownTaskError,
  Variant,
  WorkerCrashedError,
  WorkerPool,
  i32,
  i8,
  f32,
  some,
  struct,
  u16,
  u64,
  variant,
} from '../dist/index.js';
import { isErrorOf, transport, script, make, until } from './helpers.js';
import { Arena } from '../dist/js-backend.js';

describe(`WorkerPool over ${transport}`, () => {
  let pool: WorkerPool;
  before(async () => {
    pool = await make();
  });
  after(() => pool.terminate());

  test('reports its transport and size', () => {
    assert.equal(pool.transport, transport);
    assert.equal(pool.size, 2);
    assert.equal(pool.stats().transport, transport);
  });

  test('round-trips every marshalled type through a JavaScript worker', async () => {
    const obj = (fields: Record<string, unknown>, name = '') => Object.assign({ [STRUCT_NAME]: name }, fields);
    const cases: [unknown, unknown][] = [
      [undefined, undefined],
      [true, true],
      [false, false],
      [1.5, 1.5],
      [-0, -0],
      [NaN, NaN],
      [2 ** 53 + 2, 2 ** 53 + 2],
      [-(2n ** 63n), -(2n ** 63n)],
      [i32(-7), -7],
      [i8(-128), -128],
      [u16(65535), 65535],
      [f32(0.5), 0.5],
      [u64(2n ** 63n - 1n), 2n ** 63n - 1n], // a JS worker re-encodes bigints as i64
      ['', ''],
      ['héllo 😀 \u0000', 'héllo 😀 \u0000'],
      [new Uint8Array([0, 1, 255]), new Uint8Array([0, 1, 255])],
      [new Int32Array([1, -2, 3]), new Int32Array([1, -2, 3])],
      [new Float64Array([1.5, -0.25]), new Float64Array([1.5, -0.25])],
      [new Float32Array([0.5]), new Float32Array([0.5])],
      [new BigUint64Array([2n ** 64n - 1n]), new BigUint64Array([2n ** 64n - 1n])],
      [new Int16Array(0), new Int16Array(0)],
      [[1, 'two', [3n, [null]]], [1, 'two', [3n, [null]]]],
      [[], []],
      [null, null],
      [NONE, null],
      [some(5), 5],
      [variant(1, 'x'), new Variant(1, 'x')],
      [new Map<unknown, unknown>([[1, 'a'], ['k', [true]], [2n, new Map()]]), new Map<unknown, unknown>([[1, 'a'], ['k', [true]], [2n, new Map()]])],
      [{ x: 1, nested: { s: 's' } }, obj({ x: 1, nested: obj({ s: 's' }) })],
      [struct('Point', { x: i32(1), y: i32(-2) }), obj({ x: 1, y: -2 }, 'Point')],
    ];
    const results = await Promise.all(cases.map(([v]) => pool.call('echo', v)));
    results.forEach((r, i) => assert.deepEqual(r, cases[i]![1], `case ${i}`));
    assert.deepEqual(await pool.call('echoAll', 1, 'a', [2]), [1, 'a', [2]]);
    assert.equal(await pool.call('add', 40, 2), 42);
    assert.equal(await pool.call('nothing'), undefined);
    const big = await pool.call<Uint8Array>('big', 30000);
    assert.equal(big.length, 30000);
    assert.equal(big[29999], 7);
    assert.equal(await pool.call('size', new Uint8Array(50000)), 50000);
  });

  test('an error value as the result rejects the call with that error', async () => {
    await assert.rejects(pool.call('echo', new TimeoutError('as a value', 'test')), isErrorOf(TimeoutError, (e) => assert.equal(e.message, 'as a value')));
  });

  test('an unknown task rejects with UnknownTaskError naming the exported tasks', async () => {
    await assert.rejects(
      pool.call('nope', 1),
      isErrorOf(UnknownTaskError, (e) => {
        assert.match(e.message, /no task named 'nope'/);
        assert.match(e.message, /exported: .*\badd\b.*\becho\b/);
      }),
    );
    await assert.rejects(pool.call('upper'), isErrorOf(UnknownTaskError, (e) => assert.match(e.message, /stream task.*pool\.stream/)));
  });

  test('a throwing task rejects with TaskFailedError, its message and origin', async () => {
    await assert.rejects(
      pool.callWith({ affinity: 1 }, 'fail', 'bad input'),
      isErrorOf(TaskFailedError, (e) => {
        assert.equal(e.kind, ErrorKind.TaskFailed);
        assert.equal(e.message, 'bad input');
        assert.equal(e.origin, 'worker 1: fail');
      }),
    );
    await assert.rejects(pool.call('failAsync', 'later'), isErrorOf(TaskFailedError, (e) => assert.equal(e.message, 'later')));
    await assert.rejects(pool.call('failPlain'), isErrorOf(TaskFailedError, (e) => assert.equal(e.message, 'a string')));
  });

  test('a thrown FerryError keeps its kind and origin', async () => {
    await assert.rejects(
      pool.call('failFerry'),
      isErrorOf(QueueFullError, (e) => {
        assert.equal(e.message, 'my own queue is full');
        assert.equal(e.origin, 'my-origin');
      }),
    );
  });

  test('a result without an encoding rejects with SerializationError', async () => {
    await assert.rejects(pool.call('unencodable'), isErrorOf(SerializationError));
  });

  test('values larger than a ring record travel out of band (shared memory) or in parts (postMessage), both ways, with default settings', async () => {
    const arg = new Uint8Array(3 << 20); // 3 MiB with 64 KiB rings: one block, or 49 parts
    for (let i = 0; i < arg.length; i += 4093) arg[i] = i & 0xff;
    assert.equal(await pool.call('size', arg), arg.length);
    const back = await pool.call<Uint8Array>('echo', arg);
    assert.equal(back.length, arg.length);
    for (let i = 0; i < arg.length; i += 4093) assert.equal(back[i], i & 0xff, `byte ${i}`);
    const made = await pool.call<Uint8Array>('big', 1 << 20);
    assert.equal(made.length, 1 << 20);
    assert.ok(made.every((b) => b === 7));
    // Many at once, with small calls between them: each answer finds its call.
    const sizes = [70000, 10, 200000, 65528, 65529, 1];
    const got = await Promise.all(sizes.map((n, i) => (i % 2 ? pool.call('add', n, 1) : pool.call('size', new Uint8Array(n)))));
    assert.deepEqual(got, sizes.map((n, i) => (i % 2 ? n + 1 : n)));
    assert.equal(await pool.call('add', 1, 1), 2); // the slots are fine
  });

  test('byte arrays that came out of band or in parts are views of their own buffer: later calls leave them alone', async () => {
    const big = (fill: number): Uint8Array => new Uint8Array(200_000).fill(fill);
    const args = [big(1), big(2), big(3)];
    const first = await Promise.all(args.map((a) => pool.call<Uint8Array>('echo', a)));
    const again = await Promise.all(args.map((a, i) => pool.call<Uint8Array>('echo', a.fill(i + 4))));
    for (let i = 0; i < 3; i++) {
      assert.equal(args[i].length, 200_000, 'the argument stays the caller\'s');
      assert.ok(first[i].length === 200_000 && first[i].every((b) => b === i + 1), `first answer ${i} unchanged`);
      assert.ok(again[i].every((b) => b === i + 4), `second answer ${i}`);
      assert.notEqual(first[i].buffer, again[i].buffer);
      assert.ok(first[i].byteOffset > 0, 'a view of the record it came in, not a copy');
    }
    // Small ones come from a ring record: copies, each its own buffer.
    const small = await pool.call<Uint8Array>('echo', new Uint8Array([1, 2, 3]));
    assert.equal(small.byteOffset, 0);
    assert.equal(small.buffer.byteLength, 3);
  });

  test('a timeout rejects with TimeoutError and aborts the task\'s this.signal', async () => {
    const t0 = Date.now();
    await assert.rejects(pool.callWith({ timeout: 30, affinity: 0 }, 'waitSignal', 'timeout-1', 10000), isErrorOf(TimeoutError, (e) => assert.match(e.message, /timed out after 30 ms/)));
    assert.ok(Date.now() - t0 < 2000);
    await until(async () => (await pool.callWith<string>({ affinity: 0 }, 'abortedState', 'timeout-1')).startsWith('aborted'), 'the task to see its signal');
    // currentCall() gives arrow functions the same signal.
    await assert.rejects(pool.callWith({ timeout: 20, affinity: 1 }, 'waitArrow', 'timeout-2', 10000), isErrorOf(TimeoutError));
    await until(async () => (await pool.callWith<string>({ affinity: 1 }, 'abortedState', 'timeout-2')).startsWith('aborted'), 'the arrow task to see its signal');
    assert.equal(await pool.callWith({ timeout: 5000 }, 'add', 2, 3), 5);
  });

  test('an AbortSignal rejects with CancelledError keeping the reason, and cancels the task', async () => {
    const ac = new AbortController();
    const p = pool.callWith({ signal: ac.signal, affinity: 0 }, 'waitSignal', 'cancel-1', 10000);
    setTimeout(() => ac.abort('changed my mind'), 20);
    await assert.rejects(
      p,
      isErrorOf(CancelledError, (e) => {
        assert.match(e.message, /changed my mind/);
        assert.equal((e as Error & { cause?: unknown }).cause, 'changed my mind');
      }),
    );
    await until(async () => (await pool.callWith<string>({ affinity: 0 }, 'abortedState', 'cancel-1')).startsWith('aborted'), 'the task to see its signal');
    const pre = new AbortController();
    pre.abort(new Error('before'));
    await assert.rejects(pool.callWith({ signal: pre.signal }, 'add', 1, 2), isErrorOf(CancelledError, (e) => assert.match(e.message, /before/)));
  });

  test('a task sees its context as this and through currentCall()', async () => {
    const c = await pool.callWith<{ id: number; name: string; worker: number; arrowWorker: number }>({ affinity: 1 }, 'context');
    assert.equal(c.name, 'context');
    assert.equal(c.worker, 1);
    assert.equal(c.arrowWorker, 1);
    assert.ok(c.id > 0);
  });

  test('affinity picks the worker (modulo the pool size)', async () => {
    assert.equal(await pool.callWith({ affinity: 0 }, 'workerIndex'), 0);
    assert.equal(await pool.callWith({ affinity: 1 }, 'workerIndex'), 1);
    assert.equal(await pool.callWith({ affinity: 3 }, 'workerIndex'), 1);
  });

  test('10,000 calls complete with correct answers, spread over the workers, without growing memory', async () => {
    const before = pool.stats();
    const t0 = performance.now();
    const n = 10000;
    const calls: Promise<number>[] = [];
    for (let i = 0; i < n; i++) calls.push(pool.call<number>('add', i, 0.5));
    const results = await Promise.all(calls);
    const ms = performance.now() - t0;
    results.forEach((r, i) => assert.equal(r, i + 0.5));
    const s = pool.stats();
    assert.equal(s.submitted - before.submitted, n);
    assert.equal(s.completed - before.completed, n);
    assert.equal(s.queued, 0);
    for (const w of s.workers) {
      assert.equal(w.inFlight, 0);
      assert.ok(w.completed - before.workers[s.workers.indexOf(w)]!.completed > n / 10, 'both workers served');
    }
    if (s.memory) assert.deepEqual(s.memory.used, before.memory!.used);
    console.log(`# ${transport}: 10,000 calls in ${ms.toFixed(0)} ms`);
  });

  test('sequential round trips', async () => {
    const n = 2000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) assert.equal(await pool.callWith({ affinity: 0 }, 'add', i, 1), i + 1);
    console.log(`# ${transport}: ${((1000 * (performance.now() - t0)) / n).toFixed(1)} us per sequential call`);
  });
});

describe(`WorkerPool limits and endings over ${transport}`, () => {
  test('a full request ring makes calls wait: none is lost or reordered', async () => {
    const pool = await make({ workers: 1, ringCapacity: 4096, maxInFlight: 100000 });
    try {
      const pad = 'x'.repeat(200);
      const calls: Promise<string>[] = [];
      for (let i = 0; i < 3000; i++) calls.push(pool.call<string>('echo', `${i}:${pad}`));
      const out = await Promise.all(calls);
      out.forEach((v, i) => assert.equal(v, `${i}:${pad}`));
      assert.equal(pool.stats().queued, 0);
    } finally {
      await pool.terminate();
    }
  });

  test('beyond maxInFlight calls queue, and beyond maxQueued they reject with QueueFullError', async () => {
    const pool = await make({ workers: 1, maxInFlight: 2, maxQueued: 3 });
    try {
      const held = [pool.call('later', 'a', 50), pool.call('later', 'b', 50)];
      const queued = [pool.call('add', 1, 1), pool.call('add', 2, 2), pool.call('add', 3, 3)];
      assert.equal(pool.stats().queued, 3);
      await assert.rejects(pool.call('add', 4, 4), isErrorOf(QueueFullError, (e) => assert.match(e.message, /maxQueued 3/)));
      assert.deepEqual(await Promise.all(held), ['a', 'b']);
      assert.deepEqual(await Promise.all(queued), [2, 4, 6]);
      const s = pool.stats();
      assert.equal(s.queued, 0);
      assert.equal(s.queuedHighWater, 3);
      assert.equal(s.failed, 1);
      // A queued call can time out, and its place is given up.
      const busy = [pool.call('later', 'c', 100), pool.call('later', 'd', 100)];
      await assert.rejects(pool.callWith({ timeout: 10 }, 'add', 5, 5), isErrorOf(TimeoutError));
      assert.equal(pool.stats().queued, 0);
      await Promise.all(busy);
    } finally {
      await pool.terminate();
    }
  });

  test('a worker that crashes from a timer fails its pending calls with WorkerCrashedError and is replaced', async () => {
    const pool = await make();
    try {
      const pending = [pool.callWith({ affinity: 0 }, 'hang'), pool.callWith({ affinity: 0 }, 'later', 1, 5000), pool.callWith({ affinity: 0 }, 'crashLater', 20)];
      const other = pool.callWith({ affinity: 1 }, 'later', 'fine', 100);
      for (const p of pending) {
        await assert.rejects(
          p,
          isErrorOf(WorkerCrashedError, (e) => {
            assert.match(e.message, /worker 0 crashed/);
            assert.equal(e.origin, 'worker 0');
          }),
        );
      }
      assert.equal(await other, 'fine'); // the other worker is untouched
      await until(() => pool.stats().workers[0]!.alive, 'the replacement');
      const s = pool.stats();
      assert.equal(s.workers[0]!.restarts, 1);
      assert.equal(s.workers[1]!.restarts, 0);
      assert.equal(await pool.callWith({ affinity: 0 }, 'add', 1, 2), 3);
      const spread = await Promise.all(Array.from({ length: 100 }, (_, i) => pool.call('add', i, 1)));
      spread.forEach((v, i) => assert.equal(v, i + 1));
    } finally {
      await pool.terminate();
    }
  });

  test('a worker that calls process.exit fails its calls with WorkerCrashedError; calls made meanwhile go elsewhere', async () => {
    const pool = await make();
    try {
      const doomed = pool.callWith({ affinity: 1 }, 'exitLater', 3, 10);
      await assert.rejects(doomed, isErrorOf(WorkerCrashedError, (e) => assert.match(e.message, /exited with code 3/)));
      // While slot 1 is being replaced, unpinned calls still complete.
      const during = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.call('add', i, i)));
      during.forEach((v, i) => assert.equal(v, 2 * i));
      // A call pinned to the slot waits for the replacement.
      assert.equal(await pool.callWith({ affinity: 1 }, 'workerIndex'), 1);
      assert.equal(pool.stats().workers[1]!.restarts, 1);
    } finally {
      await pool.terminate();
    }
  });

  test('calls made in one turn go out as one batch: one wake-up of the worker, one publish of its answers', { skip: transport !== 'shared-memory' }, async () => {
    const pool = await make({ workers: 1 });
    try {
      assert.equal(await pool.call('add', 1, 1), 2);
      await new Promise((r) => setTimeout(r, 20)); // both sides parked
      // The rings' data bells count wake-ups: a side rings the other's bell
      // only when that side is parked (RING.md eventcount).
      const rings = (pool as unknown as { t: { slot(i: number): { request: { buffer: SharedArrayBuffer; byteOffset: number }; response: { buffer: SharedArrayBuffer; byteOffset: number } } } }).t.slot(0);
      const bell = (r: { buffer: SharedArrayBuffer; byteOffset: number }) => Atomics.load(new Int32Array(r.buffer), (r.byteOffset + 192) / 4);
      const req0 = bell(rings.request);
      const resp0 = bell(rings.response);
      const sums = await Promise.all(Array.from({ length: 60 }, (_, i) => pool.call('add', i, 1))); // within maxInFlight
      sums.forEach((v, i) => assert.equal(v, i + 1));
      assert.equal(bell(rings.request) - req0, 1, 'one wake-up of the worker for 60 calls');
      assert.ok(bell(rings.response) - resp0 <= 1, `${bell(rings.response) - resp0} wake-ups of the page for 60 answers`);
    } finally {
      await pool.terminate();
    }
  });

  test('without Atomics.waitAsync the answers ring a MessagePort doorbell instead of being polled for', { skip: transport !== 'shared-memory' }, async () => {
    const A = Atomics as { waitAsync?: unknown };
    const saved = A.waitAsync;
    A.waitAsync = undefined; // as in an engine that does not have it
    let pool: WorkerPool | null = null;
    try {
      pool = await make({ workers: 1 });
      const rings = (pool as unknown as { t: { slot(i: number): { response: { whenRung: unknown } } } }).t.slot(0);
      const bell = rings.response.whenRung as { next(): Promise<void>; wake(): void } | null;
      assert.ok(bell !== null, 'the response ring waits on a doorbell');
      // The page's waits for answers go to the doorbell and the doorbell
      // ends them (what it costs against a 1 ms poll is the bench's
      // business: bench/browser, web/README.md "Waiting").
      let waits = 0;
      let rung = 0;
      const next = bell.next.bind(bell);
      bell.next = () => {
        waits++;
        return next().then(() => {
          rung++;
        });
      };
      for (let i = 0; i < 100; i++) assert.equal(await pool.call('add', i, 1), i + 1);
      bell.next = next;
      assert.ok(waits > 0, 'the page waited for answers on the doorbell');
      assert.ok(rung > 0 && rung >= waits - 1, `${rung} of ${waits} waits ended by the doorbell`);
      await pool.callWith({ affinity: 0 }, 'crashLater', 1).catch(() => {});
      assert.equal(await pool.call('add', 2, 2), 4); // the replacement's doorbell works too
    } finally {
      A.waitAsync = saved;
      await pool?.terminate();
    }
  });

  test('with heartbeatMs, a worker stuck in a task fails its calls with WorkerCrashedError and is replaced; idle and async workers live on', async () => {
    const pool = await make({ heartbeatMs: 200 });
    try {
      await new Promise((r) => setTimeout(r, 600)); // idle workers keep beating
      assert.equal(await pool.callWith({ affinity: 1 }, 'later', 'slow but alive', 500), 'slow but alive');
      const t0 = Date.now();
      const waiting = pool.callWith({ affinity: 0 }, 'later', 1, 60_000);
      const stuck = pool.callWith({ affinity: 0 }, 'spin', 60_000);
      for (const p of [stuck, waiting]) {
        await assert.rejects(p, isErrorOf(WorkerCrashedError, (e) => assert.match(e.message, /worker 0 crashed: it missed its heartbeat/)));
      }
      assert.ok(Date.now() - t0 < 3000, `detected after ${Date.now() - t0} ms`);
      assert.equal(await pool.callWith({ affinity: 0 }, 'add', 1, 2), 3);
      assert.deepEqual(pool.stats().workers.map((w) => w.restarts), [1, 0]);
    } finally {
      await pool.terminate();
    }
    await assert.rejects(make({ heartbeatMs: 5 }), (e: unknown) => e instanceof FerryError && /heartbeatMs 5 must be 0 \(off\) or at least 20 ms/.test(e.message));
  });

  test('terminate rejects 100 pending calls with ClosedError, and later calls at once', async () => {
    const pool = await make({ maxInFlight: 30 });
    const pending = Array.from({ length: 100 }, (_, i) => (i % 2 ? pool.call('hang') : pool.call('later', i, 10000)));
    assert.ok(pool.stats().queued > 0);
    const all = Promise.allSettled(pending);
    const t0 = Date.now();
    await pool.terminate();
    const settled = await all;
    assert.ok(Date.now() - t0 < 3000);
    for (const r of settled) {
      assert.equal(r.status, 'rejected');
      isErrorOf(ClosedError, (e) => assert.equal(e.message, 'the pool was terminated'))((r as PromiseRejectedResult).reason);
    }
    await assert.rejects(pool.call('add', 1, 2), isErrorOf(ClosedError));
    await pool.terminate(); // idempotent
  });

  test('create refuses options it cannot use', async () => {
    await assert.rejects(WorkerPool.create({} as never), /script/);
    await assert.rejects(WorkerPool.create({ script, maxInFlight: 0 }), /maxInFlight/);
    await assert.rejects(WorkerPool.create({ script, transport: 'carrier-pigeon' as never }), /transport/);
    await assert.rejects(WorkerPool.create({ script: new URL('./workers/does-not-exist.js', import.meta.url), workers: 1, transport }), isErrorOf(WorkerCrashedError));
    await assert.rejects(
      WorkerPool.create({ script: new URL('./workers/silent.js', import.meta.url), workers: 1, transport, startTimeoutMs: 300 }),
      isErrorOf(WorkerCrashedError, (e) => assert.match(e.message, /expose\(\)/)),
    );
    const pool = await make({ workers: 1 });
    await assert.rejects(pool.stream('echoStream', { args: 'x' as never }), /must be an array/);
    await pool.terminate();
  });
});

describe('Arena', { skip: transport !== 'shared-memory' }, () => {
  test('coalesces: 10,000 random alloc/free cycles end with one free block', () => {
    const arena = new Arena(0, 1 << 20);
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const live: number[] = [];
    for (let i = 0; i < 10000; i++) {
      if (live.length === 0 || (rnd() < 0.55 && live.length < 200)) {
        const off = arena.alloc(1 + Math.floor(rnd() * 4000));
        assert.ok(off >= 0 && off % 64 === 0);
        live.push(off);
      } else {
        arena.free(live.splice(Math.floor(rnd() * live.length), 1)[0]!);
      }
    }
    for (const off of live) arena.free(off);
    const s = arena.stats();
    assert.equal(s.used, 0);
    assert.equal(s.freeBlocks, 1);
    assert.equal(s.allocations, 0);
    assert.ok(s.peak <= 200 * 4032);
    assert.equal(arena.alloc(1 << 20), 0); // all of it again, in one piece
    assert.equal(arena.alloc(64), -1);
    assert.throws(() => arena.free(64), /not an allocation/);
  });
});
