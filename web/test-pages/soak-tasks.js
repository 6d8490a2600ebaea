// The JavaScript workers of the chaos soak (soak.js), in browsers and in Node
// (the import is relative so that both resolve it to web/dist/).
import { expose, streamTask } from '../dist/worker.js';

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });

expose({
  echo: (v) => v,
  async nap(ms, v) {
    await sleep(ms, this.signal);
    return v;
  },
  // Faults: an uncaught error, the worker ending itself, a thread that never comes back.
  crash(ms) {
    setTimeout(() => {
      throw new Error(`soak crash after ${ms} ms`);
    }, ms);
    return new Promise(() => {});
  },
  close_self(ms) {
    setTimeout(() => {
      if (typeof WorkerGlobalScope === 'function' && typeof close === 'function') close();
      else process.exit(3); // Node: the worker thread ends
    }, ms);
    return new Promise(() => {});
  },
  hang() {
    for (;;);
  },
  echo_stream: streamTask(async (input, output) => {
    let n = 0;
    for await (const v of input) {
      await output.send(v);
      n++;
    }
    return n;
  }),
});
