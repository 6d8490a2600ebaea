// examples/app as a user ships it: its page and @ferry/web installed from the
// packed tarball (build/app/www, made by scripts/test-app.sh), its wasm
// module built by ferry_add_wasm_module from the installed CMake package
// (build/app/installed-wasm), served by the package's own server
// (ferry-serve, server.mjs from the tarball) with the isolation headers.
//
//   index.html    no bundler: an import map for the page, a worker that
//                 imports @ferry/web/worker by URL
//   bundled.html  esbuild's bundle (bare names resolved by the bundler), and
//                 the same wasm pool created inside a Web Worker (in Firefox
//                 that part is checked by app-in-worker-firefox.mjs)
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test as base, expect, repoRoot, keepScreenshot } from './fixtures';

const www = join(repoRoot, 'build', 'app', 'www');
const wasm = join(repoRoot, 'build', 'app', 'installed-wasm');
const built = existsSync(join(www, 'node_modules', '@ferry', 'web', 'server.mjs')) && existsSync(join(wasm, 'app_web.js'));
const missing = 'examples/app is not built: run `bash scripts/test-app.sh` (npm test does) before this spec';

interface AppResult {
  primes: string;
  greeting: string;
  version: string;
  lines: { line: number; words: number; chars: number }[];
  sum: number;
  shout: string;
  transport: string;
}

declare global {
  interface Window {
    __app?: AppResult;
    __appError?: string;
    __appInWorker?: { primes?: string; greeting?: string; error?: string };
  }
}

interface AppServer {
  url: string;
  served: string[]; // "200 GET /path" per response, as the server logs them
  close(): Promise<void>;
}

// One server of the packed package per Playwright worker.
const test = base.extend<{ appURL: string; served: string[] }, { appServer: AppServer }>({
  appServer: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      if (!built) throw new Error(missing);
      const { startServer } = await import(pathToFileURL(join(www, 'node_modules', '@ferry', 'web', 'server.mjs')).href);
      const served: string[] = [];
      const server = await startServer({ port: 0, isolated: true, webRoot: www, wasmRoot: wasm, log: (line: string) => served.push(line) });
      try {
        await use({ url: server.url, served, close: server.close });
      } finally {
        await server.close();
      }
    },
    { scope: 'worker' },
  ],
  appURL: async ({ appServer }, use) => use(appServer.url),
  served: async ({ appServer }, use) => {
    appServer.served.length = 0;
    await use(appServer.served);
  },
});

async function appResult(page: import('@playwright/test').Page): Promise<AppResult> {
  const handle = await page.waitForFunction(() => window.__app ?? (window.__appError ? { error: window.__appError } : false), undefined, {
    timeout: 60_000,
    polling: 100,
  });
  const r = (await handle.jsonValue()) as AppResult | { error: string };
  if ('error' in r) throw new Error(`the app page failed: ${r.error}`);
  return r;
}

// The same answers as examples/app/web/main.js's check() and the CLI's.
function expectCorrect(r: AppResult) {
  expect(r.primes).toBe('17984');
  expect(r.greeting).toBe('hello, page');
  expect(r.version).toBe('1.0');
  expect(r.lines).toEqual([
    { line: 1, words: 4, chars: 19 },
    { line: 2, words: 0, chars: 0 },
    { line: 3, words: 5, chars: 27 },
  ]);
  expect(r.sum).toBe(10);
  expect(r.shout).toBe('FERRY!');
  expect(r.transport).toBe('shared-memory');
}

test('the app page without a bundler runs its C++ tasks and a JavaScript pool from the installed package', async ({ page, appURL }, testInfo) => {
  await page.goto(`${appURL}/index.html`);
  expectCorrect(await appResult(page));
  await expect(page.locator('#out')).toContainText('primes below 200000: 17984');
  await keepScreenshot(page, testInfo, `app-unbundled-${testInfo.project.name}`);
});

test('the bundled app page runs the same', async ({ page, appURL }) => {
  await page.goto(`${appURL}/bundled.html`);
  expectCorrect(await appResult(page));
});

test('the bundled app page runs its wasm pool inside a Web Worker', async ({ page, appURL, browserName }, testInfo) => {
  test.skip(
    browserName === 'firefox',
    'over WebDriver BiDi, Firefox ESR can hang in new Worker() inside a Worker (5-8 of 40 loads; 0 of 65 without the remote agent): scripts/test-app.sh checks this page in Firefox started directly (tests/browser/app-in-worker-firefox.mjs)',
  );
  await page.goto(`${appURL}/bundled.html`);
  expectCorrect(await appResult(page));
  const handle = await page.waitForFunction(() => window.__appInWorker, undefined, { timeout: 60_000, polling: 100 });
  expect(await handle.jsonValue()).toEqual({ primes: '9592', greeting: 'hello, worker' });
  await keepScreenshot(page, testInfo, `app-bundled-${testInfo.project.name}`);
});

test('a wasm pool loads the three files of its module, from a page with the isolation headers', async ({ page, appURL, served }) => {
  const headers = page.waitForResponse((r) => new URL(r.url()).pathname === '/index.html').then((r) => r.headers());
  await page.goto(`${appURL}/index.html`);
  await appResult(page);
  // README, "What to serve": the glue script, the binary, the threads' script.
  for (const f of ['/wasm/app_web.js', '/wasm/app_web.wasm', '/wasm/app_web.worker.js']) {
    expect(served, `${f} was served`).toContain(`200 GET ${f}`);
  }
  const doc = await headers;
  expect(doc['cross-origin-opener-policy']).toBe('same-origin');
  expect(doc['cross-origin-embedder-policy']).toBe('require-corp');
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
});
