// What starting a wasm pool costs: WorkerPool.create({ module, workers }) and
// its first call, in Node and in Chromium and Firefox, each run in a fresh
// process or page, for a module directory and (optionally) a baseline module
// measured in the same run.
//
//   node bench/wasm-startup.mjs [--module DIR] [--baseline DIR] [--workers N] [--runs N] [--engines node,chromium,firefox]
//
// DIR holds ferry_web.js / .wasm / .worker.js (default: the release preset's
// build/release/wasm/web/wasm). Prints, per module and engine, the medians of:
// create (ms from create() to a running pool), first call (ms), pthread
// Workers the module started, its linear memory (MiB), and under Node the
// process's resident memory growth (MiB); then module / baseline ratios.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};

// One measurement, in whatever world runs this function's body.
async function measure(distUrl, moduleUrl, workers) {
  const { WorkerPool } = await import(`${distUrl}/index.js`);
  const { loadModule } = await import(`${distUrl}/wasm-backend.js`);
  const rss0 = typeof process !== 'undefined' ? process.memoryUsage().rss : 0;
  const t0 = performance.now();
  const pool = await WorkerPool.create({ module: moduleUrl, workers });
  const t1 = performance.now();
  const sum = await pool.call('add', 2, 40);
  const t2 = performance.now();
  if (sum !== 42) throw new Error(`add(2, 40) gave ${sum}`);
  const m = await loadModule(moduleUrl);
  const threads = m.PThread ? m.PThread.unusedWorkers.length + m.PThread.runningWorkers.length : NaN;
  const out = {
    createMs: t1 - t0,
    firstCallMs: t2 - t1,
    threads,
    memoryMiB: m.wasmMemory.buffer.byteLength / 2 ** 20,
    rssMiB: typeof process !== 'undefined' ? (process.memoryUsage().rss - rss0) / 2 ** 20 : NaN,
  };
  await pool.terminate();
  return out;
}

async function nodeRun(dir, workers) {
  // A fresh process per run: the module (and its threads) load once per process.
  const code = `const measure = ${measure.toString()};
    measure(${JSON.stringify(pathToFileURL(join(root, 'web', 'dist')).href)}, ${JSON.stringify(join(dir, 'ferry_web.js'))}, ${workers})
      .then((r) => { console.log(JSON.stringify(r)); process.exit(0); }, (e) => { console.error(e); process.exit(1); });`;
  const out = execFileSync(process.execPath, ['--no-experimental-fetch', '--input-type=module', '-e', code], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

async function browserRuns(engine, dir, workers, runs) {
  const { chromium, firefox } = await import('playwright');
  const { startServer } = await import(pathToFileURL(join(root, 'web', 'server.mjs')).href);
  const server = await startServer({ port: 0, isolated: true, wasmRoot: dir });
  let browser;
  if (engine === 'chromium') {
    const { chromiumLaunchOptions } = await import(pathToFileURL(join(root, 'scripts', 'chromium.mjs')).href);
    browser = await chromium.launch({ headless: true, ...chromiumLaunchOptions() });
  } else {
    const { firefoxLaunchOptions } = await import(pathToFileURL(join(root, 'scripts', 'firefox.mjs')).href);
    browser = await firefox.launch({ headless: true, ...firefoxLaunchOptions() });
  }
  const results = [];
  try {
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${server.url}/test-pages/index.html`);
      const fn = `(${measure.toString()})('/dist', '/wasm/ferry_web.js', ${workers})`;
      results.push(await page.evaluate(fn));
      await context.close();
    }
  } finally {
    await browser.close();
    await server.close();
  }
  return results;
}

const median = (xs) => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : NaN;
};

async function main() {
  const workers = Number(opt('workers', '2'));
  const runs = Number(opt('runs', '5'));
  const engines = opt('engines', 'node,chromium,firefox').split(',');
  const modules = [['module', resolve(opt('module', join(root, 'build', 'release', 'wasm', 'web', 'wasm')))]];
  if (opt('baseline')) modules.push(['baseline', resolve(opt('baseline'))]);
  for (const [, dir] of modules) {
    if (!existsSync(join(dir, 'ferry_web.js'))) throw new Error(`${dir}/ferry_web.js does not exist (build the release preset, or pass --module DIR)`);
  }
  const rows = {};
  for (const engine of engines) {
    // Alternate module and baseline run by run, so load on the machine hits both alike.
    const got = Object.fromEntries(modules.map(([name]) => [name, []]));
    for (let i = 0; i < runs; i++) {
      for (const [name, dir] of modules) {
        if (engine === 'node') got[name].push(await nodeRun(dir, workers));
        else got[name].push(...(await browserRuns(engine, dir, workers, 1)));
      }
    }
    for (const [name] of modules) {
      const r = got[name];
      rows[`${engine}/${name}`] = {
        createMs: median(r.map((x) => x.createMs)),
        firstCallMs: median(r.map((x) => x.firstCallMs)),
        threads: median(r.map((x) => x.threads)),
        memoryMiB: median(r.map((x) => x.memoryMiB)),
        rssMiB: median(r.map((x) => x.rssMiB)),
      };
    }
  }
  const f = (x, d = 1) => (Number.isNaN(x) ? '-' : x.toFixed(d));
  console.log(`wasm pool start-up, workers: ${workers}, median of ${runs} fresh runs; ${availableParallelism()} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log('| engine | module | create ms | first call ms | pthread Workers | wasm memory MiB | Node RSS growth MiB |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [key, r] of Object.entries(rows)) {
    const [engine, name] = key.split('/');
    console.log(`| ${engine} | ${name} | ${f(r.createMs)} | ${f(r.firstCallMs, 2)} | ${f(r.threads, 0)} | ${f(r.memoryMiB)} | ${f(r.rssMiB)} |`);
  }
  if (modules.length === 2) {
    console.log('\nmodule / baseline (< 1: the module costs less):');
    for (const engine of engines) {
      const a = rows[`${engine}/module`];
      const b = rows[`${engine}/baseline`];
      console.log(`  ${engine}: create ${f(a.createMs / b.createMs, 2)}x, Workers ${f(a.threads / b.threads, 2)}x, wasm memory ${f(a.memoryMiB / b.memoryMiB, 2)}x${engine === 'node' ? `, RSS growth ${f(a.rssMiB / b.rssMiB, 2)}x` : ''}`);
    }
  }
}

main().catch((e) => {
  console.error(`wasm-startup: ${e.stack || e.message}`);
  process.exit(1);
});
