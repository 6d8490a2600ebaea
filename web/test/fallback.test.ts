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

test('over postMessage, a loop of await send(v) goes out as one message per task, its values packed into one record', async () => {
  const { MsgConsumer, MsgProducer } = await import('../dist/message-channel.js');
  const { Receiver, Sender } = await import('../dist/stream.js');
  const messages: { records: number; bytes: number }[] = [];
  let consumer: InstanceType<typeof MsgConsumer> | null = null;
  let producer: InstanceType<typeof MsgProducer> | null = null;
  // Two ends of one channel, wired by hand; each postMessage is counted.
  producer = new MsgProducer((m) => {
    if (m.d !== undefined) {
      let records = 0;
      const b = new Uint8Array(m.d);
      for (let at = 0; at < b.length; at += 8 + ((b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + 7 & ~7)) records++;
      messages.push({ records, bytes: b.length });
      consumer!.data(m.d);
    }
    if (m.e === 1) consumer!.end();
  }, 2, 64 * 1024, 64 * 1024);
  consumer = new MsgConsumer((m) => {
    if (m.g !== undefined) producer!.grant(m.g);
  }, 2, 64 * 1024);
  const writer = new Sender<number>(producer);
  const reader = new Receiver<number>(consumer);
  for (let i = 0; i < 1000; i++) await writer.send(i);
  assert.equal(messages.length, 0, 'nothing is posted within the task');
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(messages.length, 1, 'one message for the 1000 sends');
  assert.equal(messages[0]!.records, 1, 'their values share one record');
  assert.ok(messages[0]!.bytes < 1000 * 9 + 16, `${messages[0]!.bytes} bytes: about 9 bytes a value`);
  await writer.close();
  const got: number[] = [];
  for (let r = await reader.recv(); !r.done; r = await reader.recv()) got.push(r.value);
  assert.deepEqual(got, Array.from({ length: 1000 }, (_, i) => i));
});
