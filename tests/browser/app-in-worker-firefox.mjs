// examples/app's wasm pool inside a Web Worker, in Debian's Firefox started
// directly: no WebDriver BiDi, no remote agent (scripts/test-app.sh runs it
// after bundling the page; app.spec.ts checks the same in Chromium).
//
// Why not in Playwright: driven over BiDi, Firefox ESR 153 intermittently
// never returns from `new Worker()` called inside a Worker (the Emscripten
// glue making the pool's threads): 5 to 8 of 40 loads hung there, with the
// worker's thread stuck in the constructor (no timer of it ran again),
// while the same page in the same Firefox without the remote agent answered
// 65 of 65 loads, two browsers at a time. So Firefox is started here as a
// user starts it, and the page reports by requesting /report/<its answer>,
// which the server logs.
//
//   node tests/browser/app-in-worker-firefox.mjs [loads]   (default 3)
// Needs build/app/www (the packed package, bundled) and build/app/installed-wasm.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { firefoxPath } from '../../scripts/firefox.mjs';

const root = new URL('../../', import.meta.url).pathname;
const www = join(root, 'build', 'app', 'www');
const wasm = join(root, 'build', 'app', 'installed-wasm');
const loads = Number(process.argv[2] ?? 3);
const timeoutMs = 60_000;
const expected = JSON.stringify({ primes: '9592', greeting: 'hello, worker' });

// What bundled.html does with its Web Worker, reporting the answer (or the
// worker's failure) by a request instead of to a test driver.
writeFileSync(
  join(www, 'in-worker-report.html'),
  `<!doctype html>
<meta charset="utf-8">
<title>ferry app: the wasm pool in a Web Worker, reporting to the server</title>
<script type="module">
const report = (data) => fetch('/report/' + encodeURIComponent(JSON.stringify(data)));
const worker = new Worker(new URL('./bundled/pool-worker.js', import.meta.url), { type: 'module' });
worker.onmessage = ({ data }) => report(data);
worker.onerror = (e) => report({ error: 'the worker failed: ' + (e.message || 'its script could not be loaded') });
worker.postMessage({ module: '/wasm/app_web.js' });
</script>
`,
);

const { startServer } = await import(pathToFileURL(join(www, 'node_modules', '@ferry', 'web', 'server.mjs')).href);
const served = [];
const server = await startServer({ port: 0, isolated: true, webRoot: www, wasmRoot: wasm, log: (line) => served.push(line) });

// One load in a fresh profile: the page's report, or why there is none.
async function load() {
  served.length = 0;
  const profile = mkdtempSync(join(tmpdir(), 'ferry-firefox-'));
  const firefox = spawn(firefoxPath, ['--headless', '--no-remote', '--profile', profile, `${server.url}/in-worker-report.html`], { stdio: 'ignore' });
  let exited = null;
  firefox.on('exit', (code, signal) => (exited = signal ?? code));
  const t0 = Date.now();
  try {
    for (;;) {
      const line = served.find((l) => l.includes(' /report/'));
      if (line !== undefined) return { report: decodeURIComponent(line.slice(line.indexOf('/report/') + 8)), ms: Date.now() - t0 };
      if (exited !== null) return { error: `Firefox exited (${exited}) before the page reported` };
      if (Date.now() - t0 > timeoutMs) return { error: `no report in ${timeoutMs / 1000} s; the server saw: ${served.join(', ')}` };
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    firefox.kill('SIGKILL');
    await new Promise((r) => (exited !== null ? r() : firefox.once('exit', r)));
    rmSync(profile, { recursive: true, force: true });
  }
}

let failed = 0;
try {
  for (let i = 1; i <= loads; i++) {
    const r = await load();
    const ok = r.report === expected;
    if (!ok) failed++;
    console.log(`load ${i}/${loads}: ${ok ? `ok in ${r.ms} ms` : `FAILED: ${r.error ?? `the page reported ${r.report}, expected ${expected}`}`}`);
  }
} finally {
  await server.close();
}
console.log(`the wasm pool in a Web Worker, Firefox without WebDriver: ${loads - failed} of ${loads} loads answered ${expected}`);
process.exit(failed === 0 ? 0 : 1);
