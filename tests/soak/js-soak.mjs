// The chaos soak of JavaScript pools (web/test-pages/soak.js) in every world
// it runs in: Node with JS workers, headless Chromium, and Debian's Firefox
// ESR (over WebDriver BiDi, scripts/firefox.mjs). npm test runs the same soak
// briefly (web/test/soak.test.ts and tests/browser/soak.spec.ts, in both
// browsers); this is the long run, which npm run soak starts.
//
//   node tests/soak/js-soak.mjs [--seconds N] [--seed N] [--only node,chromium,firefox]
//
// FERRY_SOAK_SECONDS (default 30) is each world's duration; FERRY_SOAK_SEED
// (default 1) its seed. Needs the built package (node web/build.mjs). Prints
// each world's summary (operations, faults injected, settles by kind, lost,
// duplicated, wrong kind, leaks); the exit status is 1 if any world found a
// problem or could not run.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromiumLaunchOptions } from '../../scripts/chromium.mjs';
import { firefoxLaunchOptions, firefoxPath } from '../../scripts/firefox.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pages = join(root, 'web', 'test-pages');

function options(argv) {
  const o = { seconds: Number(process.env.FERRY_SOAK_SECONDS ?? '30'), seed: Number(process.env.FERRY_SOAK_SEED ?? '1'), only: ['node', 'chromium', 'firefox'] };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--seconds') o.seconds = Number(argv[++i]);
    else if (argv[i] === '--seed') o.seed = Number(argv[++i]);
    else if (argv[i] === '--only') o.only = argv[++i].split(',');
    else throw new Error(`unknown argument ${argv[i]} (see the top of tests/soak/js-soak.mjs)`);
  }
  return o;
}

async function inNode(o) {
  const ferry = await import(pathToFileURL(join(root, 'web', 'dist', 'index.js')).href);
  const { runSoak, formatSoak } = await import(pathToFileURL(join(pages, 'soak.js')).href);
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const heapBytes = async () => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    return process.memoryUsage().heapUsed;
  };
  const s = await runSoak({ ferry, script: pathToFileURL(join(pages, 'soak-tasks.js')), seconds: o.seconds, seed: o.seed, heapBytes });
  return { s, text: formatSoak(`Node ${process.version}`, s) };
}

// Runs the soak page in a browser page.
async function inPage(page, url, o, where) {
  await page.goto(`${url}/test-pages/soak.html`);
  await page.waitForFunction(() => window.__ferryReady === true, { timeout: 30_000 });
  const s = await page.evaluate((opts) => window.runSoakHere(opts), { seconds: o.seconds, seed: o.seed });
  const text = await page.evaluate((args) => window.formatSoak(args[0], args[1]), [where, s]);
  return { s, text };
}

// One browser world: its page, run to the end with a timeout past the soak.
async function inBrowser(browser, where, o, url) {
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(o.seconds * 1000 + 120_000);
    return await inPage(page, url, o, `${where} ${browser.version()}`);
  } finally {
    await browser.close();
  }
}

async function inChromium(o, url) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ ...chromiumLaunchOptions(['--js-flags=--expose-gc', '--enable-precise-memory-info']), headless: true });
  return inBrowser(browser, 'Chromium', o, url);
}

// Debian's Firefox ESR, driven by Playwright over WebDriver BiDi as the
// browser suite drives it (scripts/firefox.mjs).
async function inFirefox(o, url) {
  if (!existsSync(firefoxPath)) return { skipped: `${firefoxPath} is not installed` };
  const { firefox } = await import('playwright-core');
  const browser = await firefox.launch({ ...firefoxLaunchOptions(), headless: true });
  return inBrowser(browser, 'Firefox', o, url);
}

async function main() {
  const o = options(process.argv.slice(2));
  if (!existsSync(join(root, 'web', 'dist', 'index.js'))) throw new Error('web/dist is missing: run node web/build.mjs first');
  const { startServer } = await import('../../web/server.mjs');
  const server = await startServer({ port: 0 });
  let failed = false;
  try {
    const worlds = { node: () => inNode(o), chromium: () => inChromium(o, server.url), firefox: () => inFirefox(o, server.url) };
    for (const name of o.only) {
      const run = worlds[name];
      if (!run) throw new Error(`unknown world ${name} (node, chromium, firefox)`);
      console.log(`js soak: ${name}, ${o.seconds} s ...`);
      try {
        const r = await run();
        if (r.skipped) {
          console.log(`js soak (${name}): skipped: ${r.skipped}`);
          continue;
        }
        console.log(r.text);
        if (r.s.problems.length || r.s.lost + r.s.duplicated + r.s.wrongKind + r.s.leaks) failed = true;
      } catch (e) {
        failed = true;
        console.log(`js soak (${name}): FAILED to run: ${e?.stack ?? e}`);
      }
    }
  } finally {
    await server.close();
  }
  console.log(failed ? 'js soak: FAILED' : 'js soak: passed');
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(`js soak: FAILED: ${e?.stack ?? e}`);
  process.exit(1);
});
