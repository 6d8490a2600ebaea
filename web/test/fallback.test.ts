// The postMessage fallback: the same call, error and stream tests as
// pool.test.ts and stream.test.ts, with transport: 'postMessage'; plus how
// 'auto' chooses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerPool, sharedMemoryAvailable } from '../dist/index.js';

(globalThis as { FERRY_TRANSPORT?: string }).FERRY_TRANSPORT = 'postMessage';
await import('./pool.test.js');
await import('./stream.test.js');

const script = new URL('./workers/basic.js', import.meta.url);

test("transport 'auto' picks shared memory in Node, and postMessage where the page is not cross-origin isolated", async () => {
  assert.equal(sharedMemoryAvailable(), true);
  const shared = await WorkerPool.create({ script, workers: 1 });
  assert.equal(shared.transport, 'shared-memory');
  await shared.terminate();
  const g = globalThis as { crossOriginIsolated?: boolean };
  g.crossOriginIsolated = false;
  try {
    assert.equal(sharedMemoryAvailable(), false);
    const fallback = await WorkerPool.create({ script, workers: 1 });
    assert.equal(fallback.transport, 'postMessage');
    assert.equal(await fallback.call('add', 2, 3), 5);
    await fallback.terminate();
    await assert.rejects(WorkerPool.create({ script, workers: 1, transport: 'shared-memory' }), /cross-origin isolated/);
  } finally {
    delete g.crossOriginIsolated;
  }
});
