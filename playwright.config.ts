// Browser specs (tests/browser/*.spec.ts) in Debian's Chromium and Debian's
// Firefox ESR, headless: every spec runs once per engine (project).
//   npx playwright test                      all specs, both engines
//   npx playwright test --project=firefox    one engine
//   npx playwright test demo                 one file
// No webServer entry: tests/browser/fixtures.ts starts web/server.mjs on free
// ports once per worker (isolated origin = baseURL, plain origin = plainURL).
// Never downloads a browser: Chromium is /usr/bin/chromium over CDP
// (scripts/chromium.mjs); Firefox is /usr/bin/firefox-esr over WebDriver
// BiDi, Playwright's 'moz-firefox' channel, started through
// scripts/firefox-bidi.mjs (scripts/firefox.mjs says why).
import { defineConfig } from '@playwright/test';
// @ts-ignore: plain JavaScript module without types
import { chromiumLaunchOptions } from './scripts/chromium.mjs';
// @ts-ignore: plain JavaScript module without types
import { firefoxLaunchOptions } from './scripts/firefox.mjs';

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
  // The leak backstop tests (pool.spec.ts) force a garbage collection with
  // what each engine offers a page: gc() in Chromium, TestUtils.gc() in Firefox.
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        launchOptions: chromiumLaunchOptions(['--js-flags=--expose-gc']),
      },
    },
    {
      name: 'firefox',
      use: {
        browserName: 'firefox',
        launchOptions: firefoxLaunchOptions({ 'dom.testing.testutils.enabled': true }),
      },
    },
  ],
});
