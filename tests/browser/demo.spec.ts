// The demo page (web/demo/): tiles reach the canvas, the charts move, the
// worker count can change, the slow consumer shows backpressure with flat
// memory, and a click zooms.
//
// Each case runs three times:
//   wasm  the real thing: WorkerPool from /dist/index.js with the C++ module
//         /wasm/ferry_web.js (fails, with the page's own error text, until
//         both are built);
//   js    the same WorkerPool, rings and streams with JavaScript workers
//         running the same two tasks (web/test-pages/mandelbrot-worker.js);
//         "wasm heap" is then the pool's stream arena;
//   mock  the page against web/test-pages/mock-pool.js (plain JS workers with
//         the same API, no ferry), which checks the page's own logic.
import type { Page } from '@playwright/test';
import { test, expect, waitForFerryReady, keepScreenshot, type FerryDemo as Demo } from './fixtures';

// Matches web/demo/pipeline.js.
const CAPACITY = 256 * 1024;
const SLOW_MS = 30;
// "Flat": the wasm heap in use may move by this much while the producer waits.
const HEAP_TOLERANCE = 128 * 1024;

const demo = (page: Page): Promise<Demo> => page.evaluate(() => JSON.parse(JSON.stringify(window.__ferryDemo)));

async function expectNoDemoErrors(page: Page) {
  expect((await demo(page)).errors, 'errors the demo page reported').toEqual([]);
}

// Waits for `n` more tiles drawn for the current view.
async function waitForTilesDrawn(page: Page, n: number, timeout = 30_000) {
  const start = (await demo(page)).tilesDrawn;
  await page.waitForFunction((target) => window.__ferryDemo!.tilesDrawn >= target, start + n, { timeout, polling: 100 });
}

// Distinct colours in the main canvas (counted up to 256).
function canvasColours(page: Page): Promise<{ distinct: number; hash: number }> {
  return page.evaluate(() => {
    const c = document.getElementById('view') as HTMLCanvasElement;
    const px = new Uint32Array(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data.buffer);
    const seen = new Set<number>();
    let hash = 0;
    for (let i = 0; i < px.length; i++) {
      if (seen.size < 256) seen.add(px[i]!);
      hash = (Math.imul(hash, 31) + px[i]!) | 0;
    }
    return { distinct: seen.size, hash };
  });
}

const backends = [
  { name: 'wasm', query: '' },
  { name: 'js', query: 'script=/test-pages/mandelbrot-worker.js' },
  { name: 'mock', query: 'pool=/test-pages/mock-pool.js' },
];

for (const backend of backends) {
  const open = async (page: Page, extra = '') => {
    const q = [backend.query, extra].filter(Boolean).join('&');
    await page.goto(`/demo/${q ? `?${q}` : ''}`);
    await waitForFerryReady(page, 60_000);
  };

  test.describe(`demo with the ${backend.name} pool`, () => {
    test('renders Mandelbrot tiles into the canvas', async ({ page }, testInfo) => {
      await open(page);
      const d = await demo(page);
      expect(d.tilesPerFrame).toBeGreaterThan(0);
      await waitForTilesDrawn(page, d.tilesPerFrame);
      const colours = await canvasColours(page);
      expect(colours.distinct, 'canvas pixels are not all one colour').toBeGreaterThan(16);
      await keepScreenshot(page, testInfo, `demo-${backend.name}`);
      await expectNoDemoErrors(page);
    });

    test('its numbers and charts move', async ({ page }) => {
      await open(page);
      await waitForTilesDrawn(page, 1);
      await page.waitForTimeout(600); // a couple of chart ticks
      const a = await demo(page);
      const chartA = await page.locator('#chart-throughput').screenshot();
      const latencyA = await page.locator('#chart-latency').screenshot();
      await page.waitForTimeout(1500);
      const b = await demo(page);
      const chartB = await page.locator('#chart-throughput').screenshot();
      const latencyB = await page.locator('#chart-latency').screenshot();
      expect(b.tilesDone).toBeGreaterThan(a.tilesDone);
      expect(b.tilesPerSec).toBeGreaterThan(0);
      expect(b.p50Ms).toBeGreaterThan(0);
      expect(b.p99Ms).toBeGreaterThanOrEqual(b.p50Ms);
      expect(chartA.equals(chartB), 'the throughput chart changed').toBe(false);
      expect(latencyA.equals(latencyB), 'the latency chart changed').toBe(false);
      await expect(page.locator('#numbers')).toContainText('tiles/s');
      await expectNoDemoErrors(page);
    });

    test('changing the worker count re-creates the pool', async ({ page }) => {
      await open(page);
      for (const n of [1, 3]) {
        const before = await demo(page);
        await page.locator('#workers').selectOption(String(n));
        await page.waitForFunction(
          ([gen, want]) => {
            const d = window.__ferryDemo!;
            return window.__ferryReady === true && (d.poolGeneration as number) > gen && d.workers === want;
          },
          [before.poolGeneration, n] as const,
          { timeout: 60_000, polling: 100 },
        );
        const d = await demo(page);
        expect(d.poolWorkers, 'workers in pool.stats()').toBe(n);
        await waitForTilesDrawn(page, 4);
      }
      await expectNoDemoErrors(page);
    });

    test('the slow consumer fills the rings: send() waits and the wasm heap stays flat', async ({ page }, testInfo) => {
      await open(page);
      await waitForTilesDrawn(page, 1);
      await page.locator('#slow').check();
      // The producers end up parked in `await stream.send()`, nearly all the time.
      await page.waitForFunction(
        () => {
          const d = window.__ferryDemo!;
          return d.producer.waiting > 0 && d.producer.waitRatio > 0.9;
        },
        undefined,
        { timeout: 30_000, polling: 100 },
      );
      const first = await demo(page);
      expect(first.heap.wasm, 'pool.heap() (or the pool memory) is reported').not.toBeNull();
      await page.waitForTimeout(3000);
      const second = await demo(page);
      expect(second.producer.waiting, 'producers still waiting in send()').toBeGreaterThan(0);
      expect(second.producer.waitRatio).toBeGreaterThan(0.9);
      // Throughput is what the consumers allow: one tile per SLOW_MS each.
      expect(second.tilesPerSec).toBeLessThan(((second.workers * 1000) / SLOW_MS) * 1.5);
      expect(second.tilesDone).toBeGreaterThan(first.tilesDone);
      if (second.queueDepth.ringBytes !== null) {
        expect(second.queueDepth.ringBytes, 'the rings hold a backlog').toBeGreaterThan(CAPACITY / 2);
      }
      const h1 = first.heap.wasm!;
      const h2 = second.heap.wasm!;
      if (h1.inUse !== null && h2.inUse !== null) {
        expect(Math.abs(h2.inUse - h1.inUse), `wasm heap in use ${h1.inUse} -> ${h2.inUse}`).toBeLessThanOrEqual(HEAP_TOLERANCE);
      }
      expect(h2.heapBytes, 'wasm memory did not grow').toBe(h1.heapBytes);
      testInfo.annotations.push({
        type: 'memory while the producer waited',
        description: `wasm in use ${h1.inUse} -> ${h2.inUse} B, JS heap ${first.heap.jsBytes} -> ${second.heap.jsBytes} B, ring bytes ${second.queueDepth.ringBytes}`,
      });
      await keepScreenshot(page, testInfo, `demo-${backend.name}-slow-consumer`);
      await expectNoDemoErrors(page);
    });

    test('a click zooms in and re-renders', async ({ page }) => {
      await open(page);
      const d0 = await demo(page);
      await waitForTilesDrawn(page, d0.tilesPerFrame);
      const before = await canvasColours(page);
      await page.locator('#view').click({ position: { x: 200, y: 150 } });
      const d1 = await demo(page);
      expect(d1.view.gen).toBeGreaterThan(d0.view.gen);
      expect(d1.view.scale).toBeCloseTo(d0.view.scale / 2, 12);
      // The clicked point (left of centre, above it) is the new centre.
      expect(d1.view.cx).toBeLessThan(d0.view.cx);
      expect(d1.view.cy).toBeLessThan(d0.view.cy);
      await waitForTilesDrawn(page, d1.tilesPerFrame);
      const after = await canvasColours(page);
      expect(after.hash).not.toBe(before.hash);
      expect(after.distinct).toBeGreaterThan(16);
      await expectNoDemoErrors(page);
    });
  });
}

test.describe('demo start-up failures are shown, never a blank page', () => {
  test.use({ allowPageErrors: true });

  test('a missing wasm module', async ({ page }) => {
    await page.goto('/demo/?module=/wasm/not-there.js');
    const box = page.locator('#error');
    await expect(box).toBeVisible({ timeout: 30_000 });
    await expect(box).toContainText(/WorkerPool\.create|could not load the ferry package/);
    expect(await page.evaluate(() => window.__ferryReady)).toBe(false);
    await expect(page.locator('#status')).toContainText('Not running');
  });

  test('a page that is not cross-origin isolated says so', async ({ page, plainURL }) => {
    await page.goto(`${plainURL}/demo/?pool=/test-pages/mock-pool.js`);
    await expect(page.locator('#error')).toContainText('not cross-origin isolated');
  });
});
