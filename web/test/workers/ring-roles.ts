// The worker script of the ring thread tests (ring-wait.test.ts): started as
// a worker_threads Worker with `workerData.role`, it plays that role on the
// ring in `workerData.buf` and posts back { ok, value } or { ok: false, error }.
import { parentPort, workerData } from 'node:worker_threads';
import { RingConsumer, RingProducer } from '../../dist/ring.js';
import { O, WAIT_MS, consume, dec, enc, produce, word, type StressJob } from '../ring-helpers.js';

// Returns once the main thread's `side` has raised its parked word and then
// slept 30 ms more (a worker may block in Atomics.wait).
function untilParkedAWhile(buf: SharedArrayBuffer, parkedOffset: number, side: string): void {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const t0 = Date.now();
  while (word(buf, parkedOffset) !== 1) {
    if (Date.now() - t0 > WAIT_MS) throw new Error(`the ${side} never parked`);
    Atomics.wait(nap, 0, 0, 1);
  }
  Atomics.wait(nap, 0, 0, 30);
}

async function playRole(job: { role: string } & Record<string, unknown>): Promise<unknown> {
  switch (job.role) {
    case 'produce': // blocking waits: a worker may Atomics.wait
      return produce(job as unknown as StressJob, (tx, len) => tx.waitForSpaceSync(len, WAIT_MS));
    case 'consume':
      return consume(job as unknown as StressJob, (rx) => rx.waitForDataSync(WAIT_MS));
    case 'publish-when-parked': {
      // Waits until the main thread's consumer has parked, lets it sleep a
      // while, then publishes one record.
      const buf = job.buf as SharedArrayBuffer;
      untilParkedAWhile(buf, O.consumerParked, 'consumer');
      const tx = RingProducer.attach(buf, 0);
      tx.tryWrite(7, enc('wake up'));
      tx.publish();
      tx.detach();
      return 'published';
    }
    case 'release-when-parked': {
      const buf = job.buf as SharedArrayBuffer;
      untilParkedAWhile(buf, O.producerParked, 'producer');
      const rx = RingConsumer.attach(buf, 0);
      const r = rx.tryRead();
      rx.release();
      rx.detach();
      return r === null ? 'nothing' : dec(r.payload);
    }
    default:
      throw new Error(`unknown role ${job.role}`);
  }
}

try {
  parentPort!.postMessage({ ok: true, value: await playRole(workerData) });
} catch (e) {
  parentPort!.postMessage({ ok: false, error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
}
