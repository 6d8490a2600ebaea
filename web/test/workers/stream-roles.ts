// The worker script of stream-parts.test.ts: started as a worker_threads
// Worker with `workerData.role`, it sends (or receives and checks) the
// seeded values of partValues() over a stream ring in `workerData.buf`,
// values in parts among them, and posts back { ok, value } or
// { ok: false, error }.
import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer, RingProducer } from '../../dist/ring.js';
import { Receiver, Sender } from '../../dist/stream.js';
import { assertSameValue, partValues } from '../stream-helpers.js';

interface Job {
  role: 'send' | 'recv';
  buf: SharedArrayBuffer;
  seed: number;
  capacity: number;
  count: number;
}

async function playRole(job: Job): Promise<number> {
  const value = partValues(job.seed, job.capacity);
  if (job.role === 'send') {
    const tx = new Sender(RingProducer.attach(job.buf, 0));
    for (let i = 0; i < job.count; ) {
      // Runs of sends in one turn, and batches, between awaited sends.
      const n = Math.min(job.count - i, 1 + (i % 5));
      if (i % 3 === 0) await tx.sendBatch(Array.from({ length: n }, value));
      else await Promise.all(Array.from({ length: n }, () => tx.send(value())));
      i += n;
    }
    await tx.close();
    return job.count;
  }
  const rx = new Receiver(RingConsumer.attach(job.buf, 0));
  let i = 0;
  for await (const v of rx) assertSameValue(v, value(), `value ${i++}`);
  return i;
}

// A wait on the ring (Atomics.waitAsync) does not keep a worker alive by itself.
const keepAlive = setInterval(() => {}, 1 << 30);
try {
  parentPort!.postMessage({ ok: true, value: await playRole(workerData as Job) });
} catch (e) {
  parentPort!.postMessage({ ok: false, error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
} finally {
  clearInterval(keepAlive);
}
