// JavaScript tasks for the browser pool suite (tests/browser/pool.spec.ts):
// the same shapes as the C++ tasks of web/wasm/ferry_web.cpp, run by ferry's
// pool in plain Web Workers.
import { expose, streamTask } from '/dist/worker.js';

let cancelled = 0;
expose({
  add: (a, b) => a + b,
  echo: (v) => v,
  fail: (message) => {
    throw new Error(message);
  },
  // Resolves after ms, or rejects as soon as the caller cancels or times out.
  nap(ms) {
    const { signal } = this;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => resolve(ms), ms);
      signal.addEventListener('abort', () => {
        clearTimeout(t);
        cancelled++;
        reject(signal.reason);
      });
    });
  },
  cancelled_naps: () => cancelled,
  // Dies the way a broken worker does: an uncaught error outside any call.
  crash: () => {
    setTimeout(() => {
      throw new Error('crashed on purpose');
    });
    return new Promise(() => {});
  },
  upper: streamTask(async (input, output) => {
    for await (const s of input) await output.send(s.toUpperCase());
  }),
  count_up: streamTask(async (input, output, count) => {
    for (let i = 0; i < count; i++) await output.send(i);
    await output.close();
  }),
});
