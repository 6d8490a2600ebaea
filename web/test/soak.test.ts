// The chaos soak of web/test-pages/soak.js in Node, with JavaScript workers:
// briefly here (FERRY_SOAK_SECONDS, default 5); tests/soak/js-soak.mjs runs
// it for longer, in Node and in browsers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ferry from '../dist/index.js';
// @ts-expect-error: a plain JavaScript module (it runs in browsers too)
import { formatSoak, runSoak } from '../test-pages/soak.js';
import { collectGarbage } from './helpers.js';

const seconds = Number(process.env.FERRY_SOAK_SECONDS ?? '5');

test(`chaos soak in Node for ${seconds} s: every call and stream settles once with the right kind, nothing lost, duplicated or leaked`, async () => {
  const heapBytes = async () => {
    for (let i = 0; i < 3; i++) {
      await collectGarbage();
      await new Promise((r) => setTimeout(r, 10));
    }
    return process.memoryUsage().heapUsed;
  };
  const s = await runSoak({
    ferry,
    script: new URL('../test-pages/soak-tasks.js', import.meta.url),
    seconds,
    seed: Number(process.env.FERRY_SOAK_SEED ?? '1'),
    heapBytes,
  });
  console.log(formatSoak('Node', s));
  assert.deepEqual(s.problems, []);
  assert.equal(s.lost + s.duplicated + s.wrongKind + s.leaks, 0);
  assert.ok(s.operations > 100 && s.pools > 1, `${s.operations} operations in ${s.pools} pools`);
  for (const f of ['crash', 'close', 'hang']) assert.ok(s.faults[f] > 0 || seconds < 5, `no ${f} fault injected`);
});
