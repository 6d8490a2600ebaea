// The test server gives pages what ferry needs: cross-origin isolation on the
// main origin (SharedArrayBuffer, Atomics.waitAsync, shared memory with
// workers) and none of it on the plain origin.
import { test, expect } from './fixtures';

test('the isolated origin is crossOriginIsolated, with Atomics.waitAsync and SharedArrayBuffer', async ({ page }) => {
  const response = await page.goto('/test-pages/');
  expect(response?.status()).toBe(200);
  expect(response?.headers()['cross-origin-opener-policy']).toBe('same-origin');
  expect(response?.headers()['cross-origin-embedder-policy']).toBe('require-corp');
  const facts = await page.evaluate(() => {
    const sab = new SharedArrayBuffer(1024);
    const words = new Int32Array(sab);
    Atomics.store(words, 0, 7);
    return {
      crossOriginIsolated: window.crossOriginIsolated,
      waitAsync: typeof Atomics.waitAsync,
      sabBytes: sab.byteLength,
      word: Atomics.load(words, 0),
      wasmShared: (() => {
        const m = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
        return m.buffer instanceof SharedArrayBuffer;
      })(),
    };
  });
  expect(facts).toEqual({ crossOriginIsolated: true, waitAsync: 'function', sabBytes: 1024, word: 7, wasmShared: true });
});

test('a worker on the isolated origin shares memory and wakes the page through Atomics.waitAsync', async ({ page }) => {
  await page.goto('/test-pages/');
  const result = await page.evaluate(async () => {
    const sab = new SharedArrayBuffer(64);
    const words = new Int32Array(sab);
    const worker = new Worker('/test-pages/sab-worker.js', { type: 'module' });
    const reply = new Promise<{ crossOriginIsolated: boolean }>((ok, ko) => {
      worker.onmessage = (e) => ok(e.data);
      worker.onerror = (e) => ko(new Error(`worker failed: ${e.message}`));
    });
    const waited = Atomics.waitAsync(words, 0, 0, 10_000);
    worker.postMessage(sab);
    const value = waited.async ? await waited.value : waited.value;
    const r = await reply;
    worker.terminate();
    return { value, word: Atomics.load(words, 0), workerIsolated: r.crossOriginIsolated };
  });
  expect(result).toEqual({ value: 'ok', word: 1, workerIsolated: true });
});

test('the plain origin is not crossOriginIsolated', async ({ page, plainURL }) => {
  const response = await page.goto(`${plainURL}/test-pages/`);
  expect(response?.status()).toBe(200);
  expect(response?.headers()['cross-origin-opener-policy']).toBeUndefined();
  const facts = await page.evaluate(() => ({
    crossOriginIsolated: window.crossOriginIsolated,
    sharedArrayBuffer: typeof SharedArrayBuffer,
  }));
  expect(facts.crossOriginIsolated).toBe(false);
  // Chromium hides the constructor without isolation; the pool's postMessage
  // fallback must not assume either way, so this only records what it saw.
  test.info().annotations.push({ type: 'plain origin SharedArrayBuffer', description: facts.sharedArrayBuffer });
});

test('the wasm mount serves the web module with the isolation headers', async ({ request }) => {
  const r = await request.get('/wasm/ferry_web.js');
  expect(r.status(), 'build/release/wasm/web/wasm/ferry_web.js: build the release preset first').toBe(200);
  expect(r.headers()['content-type']).toMatch(/^text\/javascript/);
  expect(r.headers()['cross-origin-embedder-policy']).toBe('require-corp');
  const wasm = await request.get('/wasm/ferry_web.wasm');
  expect(wasm.status()).toBe(200);
  expect(wasm.headers()['content-type']).toBe('application/wasm');
});
