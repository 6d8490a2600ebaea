// Wake-up strategies of the page's main thread, measured without ferry: a
// raw SharedArrayBuffer ping-pong with wake-worker.js. Each configuration
// says how the page waits for the answer and how the worker waits for the
// next request:
//   page 'spin+waitAsync'  spin up to spinUs, then park with Atomics.waitAsync
//   page 'spin+port'       spin up to spinUs, then park on a MessagePort doorbell
//   page 'spin'            spin until the answer (no park at all)
//   worker 'block' / 'async' with its own spin (wake-worker.js)
// The floor row of the call-latency table is the best of these; the wake
// table of bench.js lists them all, and web/README.md quotes them.
const REQ = 0, RESP = 1, PAGE_PARKED = 2, WORKER_PARKED = 3, STOP = 4;

function spinUntil(words, want, us) {
  if (Atomics.load(words, RESP) === want) return true;
  const end = performance.now() + us / 1000;
  for (;;) {
    if (Atomics.load(words, RESP) === want) return true;
    if (performance.now() >= end) return false;
  }
}

// One ping-pong partner; run(config, batches, batch) -> µs per round trip of each batch.
export class PingPong {
  constructor(url = '/bench/wake-worker.js') {
    this.worker = new Worker(url);
    this.sab = new SharedArrayBuffer(64);
    this.words = new Int32Array(this.sab);
    this.seq = 0;
  }

  async run({ page, pageSpinUs, wait, workerSpinUs }, batches, batch) {
    const words = this.words;
    Atomics.store(words, STOP, 0);
    const ch = new MessageChannel();
    let rung = null;
    ch.port1.onmessage = () => rung?.();
    this.worker.postMessage({ sab: this.sab, port: ch.port2, wait, bell: page === 'spin+port' ? 'port' : 'notify', spinUs: workerSpinUs, seen: this.seq }, [ch.port2]);
    const park = (want) => {
      // Eventcount: raise the flag, re-check, then sleep; the worker clears
      // the flag when it rings.
      Atomics.store(words, PAGE_PARKED, 1);
      if (Atomics.load(words, RESP) === want) {
        Atomics.store(words, PAGE_PARKED, 0);
        return null;
      }
      if (page === 'spin+port') return new Promise((resolve) => (rung = resolve));
      const r = Atomics.waitAsync(words, RESP, want - 1 | 0, 1000);
      return r.async ? r.value : null;
    };
    const once = async () => {
      const want = (this.seq = (this.seq + 1) | 0);
      Atomics.store(words, REQ, want);
      if (Atomics.load(words, WORKER_PARKED) === 1 && Atomics.exchange(words, WORKER_PARKED, 0) === 1) Atomics.notify(words, REQ);
      if (page === 'spin') {
        if (!spinUntil(words, want, 1e6)) throw new Error('the ping-pong worker did not answer within 1 s');
        await null; // a call's answer reaches its caller through a promise
        return;
      }
      while (!spinUntil(words, want, pageSpinUs)) {
        const w = park(want);
        if (w !== null) await w;
        rung = null;
        Atomics.store(words, PAGE_PARKED, 0);
      }
    };
    for (let i = 0; i < 50; i++) await once(); // warm-up
    const out = [];
    for (let b = 0; b < batches; b++) {
      const t0 = performance.now();
      for (let k = 0; k < batch; k++) await once();
      out.push(((performance.now() - t0) * 1000) / batch);
    }
    const stopped = new Promise((resolve) => (this.worker.onmessage = resolve));
    Atomics.store(words, STOP, 1);
    Atomics.notify(words, REQ);
    await stopped;
    ch.port1.close();
    return out;
  }

  terminate() {
    this.worker.terminate();
  }
}

// The configurations compared: page strategy × worker wait, with spins.
export const wakeConfigs = [
  { name: 'page waitAsync at once · worker Atomics.wait', page: 'spin+waitAsync', pageSpinUs: 0, wait: 'block', workerSpinUs: 0 },
  { name: 'page spin 20 µs + waitAsync · worker Atomics.wait', page: 'spin+waitAsync', pageSpinUs: 20, wait: 'block', workerSpinUs: 0 },
  { name: 'page spin 50 µs + waitAsync · worker Atomics.wait', page: 'spin+waitAsync', pageSpinUs: 50, wait: 'block', workerSpinUs: 0 },
  { name: 'page spin 50 µs + waitAsync · worker spin 50 µs + Atomics.wait', page: 'spin+waitAsync', pageSpinUs: 50, wait: 'block', workerSpinUs: 50 },
  { name: 'page port doorbell at once · worker Atomics.wait', page: 'spin+port', pageSpinUs: 0, wait: 'block', workerSpinUs: 0 },
  { name: 'page spin 50 µs + port doorbell · worker Atomics.wait', page: 'spin+port', pageSpinUs: 50, wait: 'block', workerSpinUs: 0 },
  { name: 'page pure spin · worker Atomics.wait', page: 'spin', pageSpinUs: 0, wait: 'block', workerSpinUs: 0 },
  { name: 'page spin 50 µs + waitAsync · worker waitAsync', page: 'spin+waitAsync', pageSpinUs: 50, wait: 'async', workerSpinUs: 0 },
  { name: 'page spin 50 µs + waitAsync · worker spin 50 µs + waitAsync', page: 'spin+waitAsync', pageSpinUs: 50, wait: 'async', workerSpinUs: 50 },
  { name: 'page waitAsync at once · worker waitAsync', page: 'spin+waitAsync', pageSpinUs: 0, wait: 'async', workerSpinUs: 0 },
];
