// Shared fixtures and helpers for every browser spec.
//
//   import { test, expect, waitForFerryReady } from './fixtures';
//
// - One pair of servers per Playwright worker (web/server.mjs on free ports):
//   `baseURL` is the cross-origin isolated origin (page.goto('/demo/') goes
//   there), `plainURL` the same files without COOP/COEP.
// - Every console error of the test's browser context is collected
//   (`pageProblems.consoleErrors`, attached to the report), and any uncaught
//   page error fails the test once it has run, unless the spec says
//   test.use({ allowPageErrors: true }).
// - waitForFerryReady(page) waits for window.__ferryReady and fails fast with
//   the page's own error text when it reports one instead.
import { test as base, expect, type Page, type TestInfo } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// @ts-ignore: plain JavaScript module without types
import { startServer } from '../../web/server.mjs';

export { expect };

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// Screenshots and other files a spec keeps (outside outputDir, which
// Playwright empties at the start of each run).
export const artifactDir = join(repoRoot, 'build', 'playwright');

interface Origin {
  url: string;
  close(): Promise<void>;
}

export interface PageProblems {
  consoleErrors: string[];
  pageErrors: string[];
}

interface TestFixtures {
  plainURL: string;
  allowPageErrors: boolean;
  pageProblems: PageProblems;
}
interface WorkerFixtures {
  ferryServers: { isolated: string; plain: string };
}

export const test = base.extend<TestFixtures, WorkerFixtures>({
  ferryServers: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const isolated: Origin = await startServer({ port: 0, isolated: true });
      const plain: Origin = await startServer({ port: 0, isolated: false });
      try {
        await use({ isolated: isolated.url, plain: plain.url });
      } finally {
        await Promise.all([isolated.close(), plain.close()]);
      }
    },
    { scope: 'worker' },
  ],
  baseURL: async ({ ferryServers }, use) => use(ferryServers.isolated),
  plainURL: async ({ ferryServers }, use) => use(ferryServers.plain),
  allowPageErrors: [false, { option: true }],
  pageProblems: [
    async ({ context, allowPageErrors }, use, testInfo) => {
      const problems: PageProblems = { consoleErrors: [], pageErrors: [] };
      context.on('console', (msg) => {
        if (msg.type() !== 'error') return;
        const loc = msg.location();
        problems.consoleErrors.push(`${msg.text()}${loc.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`);
      });
      context.on('weberror', (e) => {
        const err = e.error();
        problems.pageErrors.push(err.stack || `${err.name}: ${err.message}`);
      });
      await use(problems);
      const lines = [
        ...problems.pageErrors.map((e) => `uncaught: ${e}`),
        ...problems.consoleErrors.map((e) => `console.error: ${e}`),
      ];
      if (lines.length) await testInfo.attach('page-problems.txt', { body: lines.join('\n'), contentType: 'text/plain' });
      if (!allowPageErrors) {
        expect(problems.pageErrors, 'uncaught errors in the page (see page-problems.txt)').toEqual([]);
      }
    },
    { auto: true },
  ],
});

// window.__ferryDemo as web/demo/ fills it (state.js declares it).
export interface FerryDemo {
  ready: boolean;
  workers: number;
  poolWorkers: number;
  poolGeneration: number;
  mode: string;
  transport: string | null;
  slow: boolean;
  tilesDone: number;
  bytesDone: number;
  frames: number;
  tilesDrawn: number;
  tilesPerFrame: number;
  tilesPerSec: number;
  mbPerSec: number;
  p50Ms: number;
  p99Ms: number;
  queueDepth: { ringBytes: number | null; tilesInFlight: number; poolQueued: number; peakRingBytes: number; peakTilesInFlight: number };
  heap: { jsBytes: number | null; wasm: { heapBytes: number | null; inUse: number | null; highWater: number | null } | null };
  producer: { waiting: number; sendWaitMs: number; waitRatio: number };
  view: { cx: number; cy: number; scale: number; gen: number };
  errors: string[];
}

declare global {
  interface Window {
    __ferryReady?: boolean;
    __ferryError?: string;
    __ferryDemo?: FerryDemo;
  }
}

// Waits until the page sets window.__ferryReady = true. If the page reports
// a failure first (window.__ferryError, or errors in window.__ferryDemo), it
// throws that text rather than waiting for the timeout.
export async function waitForFerryReady(page: Page, timeout = 30_000): Promise<void> {
  const handle = await page.waitForFunction(
    () => {
      if (window.__ferryReady === true) return { ok: true as const };
      const errs = window.__ferryDemo?.errors;
      const err = window.__ferryError ?? (Array.isArray(errs) && errs.length ? String(errs[0]) : undefined);
      return err === undefined ? false : { ok: false as const, err };
    },
    undefined,
    { timeout, polling: 100 },
  );
  const r = (await handle.jsonValue()) as { ok: true } | { ok: false; err: string };
  if (!r.ok) throw new Error(`the page failed to start: ${r.err}`);
}

// Screenshot kept twice: attached to the report and as a file under
// build/playwright/ (which later runs do not wipe). Returns the PNG bytes.
export async function keepScreenshot(page: Page, testInfo: TestInfo, name: string): Promise<Buffer> {
  mkdirSync(artifactDir, { recursive: true });
  const path = join(artifactDir, `${name}.png`);
  const png = await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { body: png, contentType: 'image/png' });
  return png;
}
