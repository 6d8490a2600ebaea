// The pool harness page (web/test-pages/pool.html), where window.ferry is the
// built package, and what the pool specs load into it.
import type { Page } from '@playwright/test';
import { waitForFerryReady } from './fixtures';

export const WASM = '/wasm/ferry_web.js';
export const JS_TASKS = '/test-pages/js-tasks.js';

declare global {
  interface Window {
    ferry: any;
    collectGarbage(): Promise<void>;  // web/test-pages/pool.html: gc() in Chromium, TestUtils.gc() in Firefox
  }
}

/** Opens the harness on the isolated origin, or on `base` (the plain one). */
export async function harness(page: Page, base = ''): Promise<void> {
  await page.goto(`${base}/test-pages/pool.html`);
  await waitForFerryReady(page);
}
