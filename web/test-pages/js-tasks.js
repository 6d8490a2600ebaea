// JavaScript tasks for the browser pool suite (tests/browser/pool.spec.ts):
// the same shapes as the C++ tasks of web/wasm/ferry_web.cpp, run by ferry's
// pool in plain Web Workers.
import { expose, streamTask } from '/dist/worker.js';

let cancelled = 0;
const taken = new Map(); // stream id -> values its task took from its input
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
  // Ends this worker from the inside after ms, with the call still running.
  close_self(ms) {
    setTimeout(() => self.close(), ms);
    return new Promise(() => {});
  },
  // Never returns: the worker's thread is stuck (only a heartbeat can tell).
  spin_forever: () => {
    for (;;);
  },
  // Takes its input slowly and counts what it took: stream cancel tests.
  slow_count: streamTask(async function (input) {
    const id = this.id;
    taken.set(id, 0);
    for await (const v of input) {
      taken.set(id, taken.get(id) + 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return taken.get(id);
  }),
  taken: (id) => taken.get(id) ?? -1,
  upper: streamTask(async (input, output) => {
    for await (const s of input) await output.send(s.toUpperCase());
  }),
  count_up: streamTask(async (input, output, count) => {
    for (let i = 0; i < count; i++) await output.send(i);
    await output.close();
  }),
});
