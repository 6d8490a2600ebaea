// Module worker for tests/browser/server.spec.ts: takes an Int32Array over a
// SharedArrayBuffer, stores 1 into word 0 and notifies it, so the page's
// Atomics.waitAsync on that word resolves. Shows that worker scripts load
// under COEP and share memory with the page.
self.onmessage = (e) => {
  const words = new Int32Array(e.data);
  Atomics.store(words, 0, 1);
  Atomics.notify(words, 0);
  self.postMessage({ crossOriginIsolated: self.crossOriginIsolated });
};
