// How calls and streams end when something goes wrong, in the browser: a
// JavaScript worker that ends itself or hangs, a cancelled stream, a wasm
// module that cannot load, a released WasmBuffer. Driven from
// web/test-pages/pool.html (window.ferry is the built package) with the
// tasks of web/test-pages/js-tasks.js.
import { test, expect } from './fixtures';
import { JS_TASKS, WASM, harness } from './pool-page';

for (const isolated of [true, false]) {
  const transport = isolated ? 'shared memory' : 'postMessage';
  test(`a JavaScript worker that ends itself with self.close() mid-call fails its calls with WorkerCrashedError and is replaced (${transport})`, async ({ page, plainURL }) => {
    await harness(page, isolated ? '' : plainURL);
    const r = await page.evaluate(async (script) => {
      const pool = await window.ferry.WorkerPool.create({ script, workers: 2 });
      const t0 = performance.now();
      const waiting = pool.callWith({ affinity: 0 }, 'nap', 60_000).catch((e: any) => `${e.name}: ${e.message}`);
      const closing = await pool.callWith({ affinity: 0 }, 'close_self', 20).catch((e: any) => `${e.name}: ${e.message}`);
      const ms = performance.now() - t0;
      const other = await waiting;
      const stats = pool.stats();
      const again = await pool.callWith({ affinity: 0 }, 'add', 1, 1);
      await pool.terminate();
      return { transport: pool.transport, closing, other, ms, inFlight: stats.workers[0].inFlight, restarts: pool.stats().workers[0].restarts, again };
    }, JS_TASKS);
    expect(r.transport).toBe(isolated ? 'shared-memory' : 'postMessage');
    expect(r.closing).toMatch(/^WorkerCrashedError: worker 0 crashed: .*ended/);
    expect(r.other).toBe(r.closing);
    expect(r.ms).toBeLessThan(5_000);
    expect(r.inFlight).toBe(0);
    expect(r.restarts).toBe(1);
    expect(r.again).toBe(2);
  });
}

test('a JavaScript worker stuck in a task past its heartbeat fails its calls with WorkerCrashedError and is replaced', async ({ page }) => {
  await harness(page);
  const r = await page.evaluate(async (script) => {
    const pool = await window.ferry.WorkerPool.create({ script, workers: 2, heartbeatMs: 300 });
    // A slow task that keeps its event loop free is not hung.
    const napped = await pool.callWith({ affinity: 0 }, 'nap', 800);
    const t0 = performance.now();
    const stuck = await pool.callWith({ affinity: 1 }, 'spin_forever').catch((e: any) => `${e.name}: ${e.message}`);
    const ms = performance.now() - t0;
    const again = await pool.callWith({ affinity: 1 }, 'add', 2, 3);
    const restarts = pool.stats().workers.map((w: any) => w.restarts);
    await pool.terminate();
    return { napped, stuck, ms, again, restarts };
  }, JS_TASKS);
  expect(r.napped).toBe(800);
  expect(r.stuck).toMatch(/^WorkerCrashedError: worker 1 crashed: .*heartbeat/);
  expect(r.ms).toBeLessThan(3_000);
  expect(r.again).toBe(5);
  expect(r.restarts).toEqual([0, 1]);
});

test('stream.cancel() stops delivering buffered input to a JavaScript task at once and frees its slot', async ({ page }) => {
  await harness(page);
  const r = await page.evaluate(async (script) => {
    const pool = await window.ferry.WorkerPool.create({ script, workers: 1 });
    const s = await pool.stream('slow_count');
    for (let i = 0; i < 30; i++) await s.send(i); // all buffered in the ring at once
    while ((await pool.call('taken', s.id)) < 3) await new Promise((res) => setTimeout(res, 5));
    s.cancel('enough');
    const atCancel = await pool.call('taken', s.id);
    const done = await s.done.catch((e: any) => e.name);
    await new Promise((res) => setTimeout(res, 500));
    const later = await pool.call('taken', s.id);
    const inFlight = pool.stats().workers[0].inFlight;
    await pool.terminate();
    return { atCancel, later, done, inFlight };
  }, JS_TASKS);
  expect(r.done).toBe('CancelledError');
  expect(r.atCancel).toBeLessThanOrEqual(5);
  expect(r.later).toBe(r.atCancel);
  expect(r.inFlight).toBe(0);
});

// The Emscripten module's pieces, one missing at a time: create() settles
// within startTimeoutMs and names what did not load. (Emscripten itself
// reports a pthread worker that fails to load as an uncaught error.)
test.describe('a wasm module that cannot load', () => {
  test.use({ allowPageErrors: true });
  for (const [what, file] of [
    ['worker script', 'ferry_web.worker.js'],
    ['wasm binary', 'ferry_web.wasm'],
    ['glue script', 'ferry_web.js'],
  ] as const) {
    test(`WorkerPool.create({ module }) settles within startTimeoutMs when the ${what} cannot be loaded, naming it`, async ({ page, context }) => {
      await harness(page);
      await context.route(new RegExp(`/${file.replace(/\./g, '\\.')}$`), (route) => route.fulfill({ status: 404, body: 'not here' }));
      const r = await page.evaluate(async (module) => {
        const t0 = performance.now();
        const res = await window.ferry.WorkerPool.create({ module, workers: 2, startTimeoutMs: 3000 }).then(
          async (p: any) => {
            await p.terminate();
            return 'created';
          },
          (e: any) => `${e.name}: ${e.message}`,
        );
        return { res, ms: performance.now() - t0 };
      }, WASM);
      expect(r.res).toMatch(new RegExp(`^WorkerCrashedError: the wasm module /wasm/ferry_web\\.js could not start: \\S*/${file.replace(/\./g, '\\.')} could not be loaded \\(HTTP 404\\)`));
      expect(r.ms).toBeLessThan(5_000);
    });
  }
});

test('a released WasmBuffer cannot be reached through an old view: it reads poison, the next lease gets other memory, and a write through it is reported', async ({ page }) => {
  await harness(page);
  const warnings: string[] = [];
  page.on('console', (m) => m.type() === 'warning' && warnings.push(m.text()));
  const r = await page.evaluate(async (module) => {
    const pool = await window.ferry.WorkerPool.create({ module, workers: 1 });
    const a = pool.alloc(1024);
    a.bytes.fill(7);
    const old = a.bytes;
    const address = a.address;
    a.release();
    const poisoned = old.every((c: number) => c === 0xdb);
    const b = pool.alloc(1024);
    b.bytes.fill(1);
    old[5] = 42;
    const untouched = b.bytes.every((c: number) => c === 1) && (await pool.call('checksum_shared', b)) === (await pool.call('checksum_bytes', new Uint8Array(1024).fill(1)));
    for (let i = 0; i < 300; i++) pool.alloc(32).release();
    const out = { poisoned, sameAddress: b.address === address, untouched, writes: pool.stats().writesAfterRelease };
    b.release();
    await pool.terminate();
    return out;
  }, WASM);
  expect(r).toEqual({ poisoned: true, sameAddress: false, untouched: true, writes: 1 });
  expect(warnings.join('\n')).toMatch(/released WasmBuffer of 1024 bytes .* was written after release\(\)/);
});
