// Runs the demo page (web/demo/) headless in Debian's Chromium and prints what
// it measured:
//
//   node scripts/demo-headless.mjs [SECONDS] [--workers N] [--mode stream|call] [--js | --mock]
//
// Starts web/server.mjs on a free port, opens /demo/, lets it render for
// SECONDS (default 10), turns the slow consumer on halfway, then prints a
// table (tiles/s, latency, queue depth, heap before/after, cores, browser) and
// saves a screenshot to build/demo.png. Exits non-zero if the page reported
// an error or threw. --js runs ferry's WorkerPool with JavaScript workers
// (web/test-pages/mandelbrot-worker.js) instead of the wasm module; --mock
// swaps the pool itself for the stand-in in web/test-pages/mock-pool.js
// (checks the page, not ferry).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../web/server.mjs';
import { chromiumLaunchOptions } from './chromium.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const o = { seconds: 10, workers: null, mode: null, mock: false, js: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--mock') o.mock = true;
    else if (a === '--js') o.js = true;
    else if (a === '--workers') o.workers = Number(argv[++i]);
    else if (a === '--mode') o.mode = argv[++i];
    else if (/^\d+(\.\d+)?$/.test(a)) o.seconds = Number(a);
    else {
      console.error(`demo-headless: unknown argument ${a}\nusage: node scripts/demo-headless.mjs [SECONDS] [--workers N] [--mode stream|call] [--js | --mock]`);
      process.exit(2);
    }
  }
  if (!(o.seconds > 0)) o.seconds = 10;
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const problems = [];
const server = await startServer({ port: 0 });
let browser;
let code = 0;
try {
  browser = await chromium.launch({ ...chromiumLaunchOptions(), headless: true });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.stack || e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
  });

  const q = new URLSearchParams();
  if (opts.mock) q.set('pool', '/test-pages/mock-pool.js');
  if (opts.js) q.set('script', '/test-pages/mandelbrot-worker.js');
  if (opts.workers) q.set('workers', String(opts.workers));
  if (opts.mode) q.set('mode', opts.mode);
  const url = `${server.url}/demo/${q.size ? `?${q}` : ''}`;
  await page.goto(url);

  // Up, or failed: the page says which.
  const start = await page
    .waitForFunction(() => window.__ferryReady === true || (window.__ferryDemo && window.__ferryDemo.errors.length > 0), undefined, {
      timeout: 60_000,
      polling: 100,
    })
    .then(() => page.evaluate(() => ({ ready: window.__ferryReady, errors: window.__ferryDemo.errors })))
    .catch((e) => ({ ready: false, errors: [`the page did not start within 60 s: ${e.message}`] }));
  if (!start.ready) {
    await screenshot(page);
    fail(start.errors);
  } else {
    const sample = () => page.evaluate(() => JSON.parse(JSON.stringify(window.__ferryDemo)));
    await page.waitForTimeout(500); // first tick after start-up
    const phases = [];
    const half = (opts.seconds * 1000) / 2;
    for (const slow of [false, true]) {
      if (slow) await page.locator('#slow').check();
      const first = await sample();
      const samples = [];
      const t0 = Date.now();
      while (Date.now() - t0 < half) {
        await page.waitForTimeout(250);
        samples.push(await sample());
      }
      phases.push(summarise(first, samples, (Date.now() - t0) / 1000));
    }
    const info = await page.evaluate(() => ({ transport: window.__ferryDemo.transport, mode: window.__ferryDemo.mode, workers: window.__ferryDemo.workers, isolated: window.crossOriginIsolated }));
    await screenshot(page);
    printTable(phases, info, browser.version());
    const errors = await page.evaluate(() => window.__ferryDemo.errors);
    if (errors.length || problems.some((p) => p.startsWith('uncaught'))) fail(errors);
  }
} catch (e) {
  console.error(`demo-headless: ${e.stack || e.message}`);
  code = 1;
} finally {
  await browser?.close();
  await server.close();
}
process.exit(code);

function fail(errors) {
  console.error('demo-headless: the demo page reported errors:');
  for (const e of [...errors, ...problems]) console.error(`  ${e}`);
  code = 1;
}

async function screenshot(page) {
  const path = join(root, 'build', 'demo.png');
  mkdirSync(dirname(path), { recursive: true });
  await page.screenshot({ path, fullPage: true });
  console.log(`screenshot: ${relative(process.cwd(), path) || path}`);
}

// One phase's numbers from its samples of window.__ferryDemo.
function summarise(first, samples, seconds) {
  const lastS = samples[samples.length - 1] ?? first;
  const pick = (f) => samples.map(f).filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  const max = (a) => (a.length ? Math.max(...a) : null);
  const median = (a) => (a.length ? [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] : null);
  const tiles = lastS.tilesDone - first.tilesDone;
  return {
    tilesPerSec: tiles / seconds,
    mbPerSec: (lastS.bytesDone - first.bytesDone) / seconds / 1e6,
    p50: median(pick((s) => s.p50Ms)),
    p99: max(pick((s) => s.p99Ms)),
    peakRing: max(pick((s) => s.queueDepth.ringBytes)),
    peakInFlight: max(pick((s) => s.queueDepth.tilesInFlight)),
    peakQueued: max(pick((s) => s.queueDepth.poolQueued)),
    sendWait: median(pick((s) => s.producer.waitRatio)),
    jsBefore: first.heap.jsBytes,
    jsAfter: lastS.heap.jsBytes,
    wasmBefore: first.heap.wasm?.inUse ?? first.heap.wasm?.heapBytes ?? null,
    wasmAfter: lastS.heap.wasm?.inUse ?? lastS.heap.wasm?.heapBytes ?? null,
    tiles,
  };
}

function printTable(phases, info, version) {
  const mib = (v) => (v === null || v === undefined ? 'n/a' : `${(v / 1048576).toFixed(2)} MiB`);
  const kib = (v) => (v === null || v === undefined ? 'n/a' : `${(v / 1024).toFixed(1)} KiB`);
  const f = (v, d = 1) => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(d));
  const rows = [
    ['tiles rendered', (p) => String(p.tiles)],
    ['tiles/s', (p) => f(p.tilesPerSec)],
    ['MB/s (RGBA)', (p) => f(p.mbPerSec, 2)],
    ['latency p50 (ms)', (p) => f(p.p50)],
    ['latency p99 (ms, worst)', (p) => f(p.p99)],
    ['peak ring bytes', (p) => kib(p.peakRing)],
    ['peak tiles in flight', (p) => f(p.peakInFlight, 0)],
    ['peak pool queued', (p) => f(p.peakQueued, 0)],
    ['producer in send() (%)', (p) => (p.sendWait === null ? 'n/a' : f(p.sendWait * 100, 0))],
    ['JS heap before', (p) => mib(p.jsBefore)],
    ['JS heap after', (p) => mib(p.jsAfter)],
    [`${opts.js ? 'stream arena' : 'wasm heap'} before`, (p) => mib(p.wasmBefore)],
    [`${opts.js ? 'stream arena' : 'wasm heap'} after`, (p) => mib(p.wasmAfter)],
  ];
  const head = ['', 'normal', 'slow consumer'];
  const body = rows.map(([name, get]) => [name, ...phases.map(get)]);
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(`\nferry demo, headless, ${opts.seconds} s (${opts.seconds / 2} s each)${opts.mock ? ' — MOCK POOL (plain JS workers, not ferry)' : opts.js ? ' — ferry WorkerPool, JavaScript workers' : ''}`);
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of body) console.log(line(r));
  console.log(`\nworkers ${info.workers}, mode ${info.mode}, transport ${info.transport ?? 'unknown'}, crossOriginIsolated ${info.isolated}`);
  console.log(`cores ${availableParallelism()}, Chromium ${version}, Node ${process.version}`);
}
