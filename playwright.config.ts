// Browser specs (tests/browser/*.spec.ts) in Debian's Chromium, headless.
//   npx playwright test            all specs
//   npx playwright test demo       one file
// No webServer entry: tests/browser/fixtures.ts starts web/server.mjs on free
// ports once per worker (isolated origin = baseURL, plain origin = plainURL).
// Never downloads a browser: the executable is /usr/bin/chromium.
import { defineConfig } from '@playwright/test';
// @ts-ignore: plain JavaScript module without types
import { chromiumLaunchOptions } from './scripts/chromium.mjs';

export default defineConfig({
  testDir: 'tests/browser',
  testMatch: '**/*.spec.ts',
  outputDir: 'build/playwright/results',
  // 2 cores: one worker, and the pool under test gets the rest.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['./tests/browser/summary-reporter.ts']],
  use: {
    headless: true,
    viewport: { width: 1280, height: 900 },
    screenshot: { mode: 'on', fullPage: true },
    trace: 'retain-on-failure',
    actionTimeout: 15_000,
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        // gc() for the WasmBuffer leak backstop test (pool.spec.ts).
        launchOptions: chromiumLaunchOptions(['--js-flags=--expose-gc']),
      },
    },
  ],
});
