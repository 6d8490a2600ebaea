// The chaos soak of web/test-pages/soak.js in the browser, briefly
// (FERRY_SOAK_SECONDS, default 8); tests/soak/js-soak.mjs runs it longer.
import { test, expect, waitForFerryReady } from './fixtures';

const seconds = Number(process.env.FERRY_SOAK_SECONDS ?? '8');

test(`chaos soak for ${seconds} s: every call and stream settles once with the right kind, nothing lost, duplicated or leaked`, async ({ page }) => {
  test.setTimeout(60_000 + seconds * 2000);
  await page.goto('/test-pages/soak.html');
  await waitForFerryReady(page);
  const s = await page.evaluate((secs) => (window as any).runSoakHere({ seconds: secs }), seconds);
  console.log(await page.evaluate((summary) => (window as any).formatSoak('browser', summary), s));
  expect(s.problems).toEqual([]);
  expect(s.lost + s.duplicated + s.wrongKind + s.leaks).toBe(0);
  expect(s.operations).toBeGreaterThan(100);
  expect(s.pools).toBeGreaterThan(1);
});
