// A Web Worker that runs the wasm pool itself, so that the page's main
// thread only posts messages. Bundled (bundled.html): the bundler resolves
// '@ferry/web'.
import { WorkerPool } from '@ferry/web';

self.onmessage = async ({ data }) => {
  try {
    const pool = await WorkerPool.create({ module: data.module, workers: 2 });
    const primes = await pool.call('app.count_primes', 0, 100000);
    const greeting = await pool.call('app.greet', 'worker');
    await pool.terminate();
    self.postMessage({ primes: String(primes), greeting });
  } catch (e) {
    self.postMessage({ error: String(e?.stack ?? e) });
  }
};
