// ferry browser benchmark runner: serves bench/browser/index.html with the
// project's dev server (web/server.mjs: COOP/COEP, so the page is
// cross-origin isolated) and runs it in one headless engine through
// playwright-core: Debian's /usr/bin/chromium (scripts/chromium.mjs) or
// Debian's /usr/bin/firefox-esr over WebDriver BiDi (scripts/firefox.mjs),
// then prints the tables and writes the JSON. scripts/bench.sh runs it once
// per engine; each run measures its own baselines in that engine.
//
//   node bench/browser/run.mjs [--browser chromium|firefox] [--quick | --smoke] [--json FILE]
//                              [--only CASES] [--serve]
//
//   --browser NAME     the engine (default chromium)
//   --quick / --smoke  tiny sizes: checks every case runs and verifies, not speed
//   --json FILE        write the results (bench_harness.hpp's JSON shape) to FILE
//   --only a,b         run only these cases: engine, latency, inflight, wake, busy, small,
//                      streams, buffers, large, marshalling, backpressure, memory
//   --serve            only serve the page and print its URL (open it, call runBench())
//
// What is served: the dev server's startServer({ webRoot }) over a staging
// folder, build/bench/www/, filled at start with copies of web/dist/ (at
// /dist/), bench/browser/ (at /bench/), Comlink's ESM build and workerpool's
// browser build from node_modules (at /vendor/); /wasm/ is the dev server's
// own mount of the Emscripten web module. Copies, not links: the server
// refuses files whose real path leaves their mount.
//
// Exit status: 0; 1 when the harness itself failed (no page, no results);
// 3 when a case reported problems (a contender threw or returned a wrong
// answer): the JSON is still written, with the problems in it.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumLaunchOptions } from '../../scripts/chromium.mjs';
import { firefoxLaunchOptions } from '../../scripts/firefox.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

// Each engine as every headless run launches it, plus a way for the memory
// case to force a garbage collection: gc() and unrounded performance.memory
// in Chromium, TestUtils.gc() in Firefox (which has no performance.memory).
const ENGINES = {
  chromium: { launch: chromiumLaunchOptions(['--js-flags=--expose-gc', '--enable-precise-memory-info']), name: 'Chromium' },
  firefox: { launch: firefoxLaunchOptions({ 'dom.testing.testutils.enabled': true }), name: 'Firefox' },
};

function parseArgs(argv) {
  const o = { browser: 'chromium', quick: false, json: null, only: null, serve: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick' || a === '--smoke') o.quick = true;
    else if (a === '--json') o.json = argv[++i];
    else if (a === '--browser') {
      o.browser = argv[++i];
      if (!ENGINES[o.browser]) throw new Error(`--browser ${o.browser}: expected one of ${Object.keys(ENGINES).join(', ')}`);
    }
    else if (a === '--only') o.only = argv[++i].split(',');
    else if (a === '--serve') o.serve = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: node bench/browser/run.mjs [--browser chromium|firefox] [--quick | --smoke] [--json FILE] [--only CASES] [--serve]');
      process.exit(0);
    } else if (['--reps', '--target-ms', '--filter'].includes(a)) {
      i++;  // the native benchmarks' options: accepted, not used here
    } else {
      throw new Error(`unknown argument ${a}`);
    }
  }
  return o;
}

export function stage(www = join(root, 'build', 'bench', 'www')) {
  const need = [
    [join(root, 'web', 'dist', 'index.js'), 'the web package is not built: run node web/build.mjs (npm run build:web)'],
    [join(root, 'node_modules', 'comlink', 'dist', 'esm', 'comlink.mjs'), 'Comlink is not installed: run npm ci'],
    [join(root, 'node_modules', 'workerpool', 'dist', 'workerpool.js'), 'workerpool is not installed: run npm ci'],
  ];
  for (const [f, why] of need) if (!existsSync(f)) throw new Error(`${relative(root, f)} is missing: ${why}`);
  rmSync(www, { recursive: true, force: true });
  mkdirSync(join(www, 'vendor', 'comlink'), { recursive: true });
  mkdirSync(join(www, 'vendor', 'workerpool'), { recursive: true });
  cpSync(join(root, 'web', 'dist'), join(www, 'dist'), { recursive: true });
  cpSync(here, join(www, 'bench'), { recursive: true, filter: (src) => !src.endsWith('.mjs') });
  for (const f of ['comlink.mjs', 'comlink.mjs.map']) {
    cpSync(join(root, 'node_modules', 'comlink', 'dist', 'esm', f), join(www, 'vendor', 'comlink', f));
  }
  for (const f of ['workerpool.js', 'workerpool.js.map']) {
    cpSync(join(root, 'node_modules', 'workerpool', 'dist', f), join(www, 'vendor', 'workerpool', f));
  }
  return www;
}

// --- Tables, printed like bench_harness.hpp's print_table -----------------------------

function fmtValue(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  if (a >= 1000) return v.toFixed(0);
  if (a >= 100) return v.toFixed(1);
  if (a >= 10) return v.toFixed(2);
  return v.toFixed(3);
}

export function formatTable(t, env) {
  const header = ['case', t.reference, ...t.baselines.flatMap((b) => [b, 'ratio']), 'note'];
  const lines = [header];
  for (const r of t.rows) {
    const cell = (impl) => {
      const s = r.results[impl];
      if (!s) return '-';
      const spread = s.samples?.length > 1 && s.median > 0 ? ` ±${Math.round((50 * (s.max - s.min)) / s.median)}%` : '';
      return fmtValue(s.median) + spread;
    };
    const line = [r.case, cell(t.reference)];
    for (const b of t.baselines) line.push(cell(b), r.ratios[b] == null ? '-' : r.ratios[b].toFixed(2));
    line.push(r.note ?? '');
    lines.push(line);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => [...(l[i] ?? '')].length)));
  const out = [t.title, `cores: ${env.cores} · browser: ${env.platform}`];
  for (const l of lines) out.push(l.map((c, i) => (i + 1 < l.length ? c.padEnd(widths[i] + 2) : c)).join('').trimEnd());
  if (t.notes) out.push(`note: ${t.notes}`);
  return out.join('\n') + '\n';
}

// `yes > /dev/null` while on: the busy-core case's other process.
let busy = null;
function busyCore(on) {
  if (on && busy === null) busy = spawn('yes', [], { stdio: 'ignore' });
  if (!on && busy !== null) {
    busy.kill();
    busy = null;
  }
}

// --- Main --------------------------------------------------------------------------

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const www = stage();
  const { startServer } = await import('../../web/server.mjs');
  const server = await startServer({ port: 0, webRoot: www });
  const url = `${server.url}/bench/index.html`;
  if (o.serve) {
    console.log(`browser benchmarks served at ${url} (Ctrl-C stops)`);
    return;
  }
  const engine = ENGINES[o.browser];
  const playwright = await import('playwright-core');
  const browser = await playwright[o.browser].launch({ ...engine.launch, headless: true });
  const pageErrors = [];
  let result;
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400) pageErrors.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    page.on('console', (m) => {
      // A failed request is reported once, by the response handler, with its URL.
      if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) pageErrors.push(`console error: ${m.text()}`);
      else if (process.env.FERRY_BENCH_VERBOSE) console.error(`  [page] ${m.text()}`);
      if (m.text().startsWith('[bench] ')) console.error(`browser_bench: ${m.text().slice(8)}`);
    });
    // The busy-core case asks for one core kept busy by another process.
    await page.exposeFunction('benchBusyCore', (on) => busyCore(on));
    await page.goto(url);
    await page.waitForFunction(() => globalThis.benchReady === true, null, { timeout: 30_000 });
    const limitMs = o.quick ? 120_000 : 900_000;
    let timer;
    try {
      result = await Promise.race([
        page.evaluate((opts) => globalThis.runBench(opts), { quick: o.quick, only: o.only, headless: true }),
        new Promise((_, ko) => {
          timer = setTimeout(() => ko(new Error(`the page did not finish within ${limitMs / 1000} s`)), limitMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    // navigator.userAgent hides the minor versions; the browser process knows them.
    result.env.platform = result.env.platform.replace(/^(Chromium|Firefox) [\d.?]+/, `$1 ${browser.version()}`);
  } finally {
    busyCore(false);
    await browser.close();
    await server.close();
  }
  result.problems.push(...pageErrors);
  if (o.quick) {
    console.log('--quick: tiny sizes; these numbers only show that the harness runs');
  }
  console.log(`ferry browser benchmark — ${result.env.platform}, ${result.env.cores} cores ` +
              '(navigator.hardwareConcurrency), total ' + result.settings.total_seconds + ' s');
  console.log('ratio = ferry / baseline for throughput and baseline / ferry for latency and bytes: > 1 means ferry is better\n');
  for (const t of result.tables) console.log(formatTable(t, result.env));
  for (const s of result.skipped) console.log(`skipped: ${s}`);
  for (const p of result.problems) console.log(`PROBLEM: ${p}`);
  if (o.json) {
    mkdirSync(dirname(o.json), { recursive: true });
    writeFileSync(o.json, JSON.stringify(result, null, 1) + '\n');
  }
  if (result.problems.length) {
    console.error(`browser_bench: FAILED: ${result.problems.length} problem(s), listed above`);
    process.exitCode = 3;
  }
}

main().catch((e) => {
  console.error(`browser_bench: FAILED: ${e.stack ?? e}`);
  process.exit(1);
});
