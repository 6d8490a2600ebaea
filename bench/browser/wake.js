// Wake-up strategies of the page's main thread, measured without ferry: a
// raw SharedArrayBuffer ping-pong with wake-worker.js. Each configuration
// says how the page waits for the answer and how the worker waits for the
// next request:
//   page 'spin+waitAsync'  spin up to pageSpinUs, then park with Atomics.waitAsync
//   page 'spin+port'       spin up to pageSpinUs, then park on a MessagePort doorbell
//   page 'spin'            spin until the answer (no park at all)
//   worker 'block' / 'async' with its own spin (wake-worker.js)
// The floor column of the call-latency table is kFloor; the wake table of
// bench.js lists them all (web/README.md quotes them).
const REQ = 0, RESP = 1, PAGE_PARKED = 2, WORKER_PARKED = 3, STOP = 4;

function spinUntil(words, want, us) {
  if (Atomics.load(words, RESP) === want) return true;
  const end = performance.now() + us / 1000;
  for (;;) {
    if (Atomics.load(words, RESP) === want) return true;
    if (performance.now() >= end) return false;
  }
}

// One ping-pong partner: start(config), then once() per round trip, then stop().
export class PingPong {
  constructor(url = '/bench/wake-worker.js') {
    this.worker = new Worker(url);
    this.sab = new SharedArrayBuffer(64);
    this.words = new Int32Array(this.sab);
    this.seq = 0;
    this.config = null;
  }

  start(config) {
    const words = this.words;
    Atomics.store(words, STOP, 0);
    this.config = config;
    this.channel = new MessageChannel();
    this.rung = null;
    this.channel.port1.onmessage = () => this.rung?.();
    const bell = config.page === 'spin+port' ? 'port' : 'notify';
    this.worker.postMessage({ sab: this.sab, port: this.channel.port2, wait: config.wait, bell, spinUs: config.workerSpinUs, seen: this.seq }, [this.channel.port2]);
  }

  // One round trip: ask, then wait as the configuration says.
  async once() {
    const { words, config } = this;
    const want = (this.seq = (this.seq + 1) | 0);
    Atomics.store(words, REQ, want);
    if (Atomics.load(words, WORKER_PARKED) === 1 && Atomics.exchange(words, WORKER_PARKED, 0) === 1) Atomics.notify(words, REQ);
    if (config.page === 'spin') {
      if (!spinUntil(words, want, 1e6)) throw new Error('the ping-pong worker did not answer within 1 s');
      await null; // a call's answer reaches its caller through a promise
      return;
    }
    while (!spinUntil(words, want, config.pageSpinUs)) {
      const w = this.park(want);
      if (w !== null) await w;
      this.rung = null;
      Atomics.store(words, PAGE_PARKED, 0);
    }
  }

  // Eventcount: raise the flag, re-check, then sleep; the worker lowers the flag when it rings.
  park(want) {
    const words = this.words;
    Atomics.store(words, PAGE_PARKED, 1);
    if (Atomics.load(words, RESP) === want) {
      Atomics.store(words, PAGE_PARKED, 0);
      return null;
    }
    if (this.config.page === 'spin+port') return new Promise((resolve) => (this.rung = resolve));
    const r = Atomics.waitAsync(words, RESP, (want - 1) | 0, 1000);
    return r.async ? r.value : null;
  }

  async stop() {
    const stopped = new Promise((resolve) => (this.worker.onmessage = resolve));
    Atomics.store(this.words, STOP, 1);
    Atomics.notify(this.words, REQ);
    await stopped;
    this.channel.port1.close();
    this.config = null;
  }

  // µs per round trip of each of `batches` batches of `batch` round trips.
  async run(config, batches, batch) {
    this.start(config);
    for (let i = 0; i < 50; i++) await this.once(); // warm-up
    const out = [];
    for (let b = 0; b < batches; b++) {
      const t0 = performance.now();
      for (let k = 0; k < batch; k++) await this.once();
      out.push(((performance.now() - t0) * 1000) / batch);
    }
    await this.stop();
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
  { name: 'page waitAsync at once · worker waitAsync', page: 'spin+waitAsync', pageSpinUs: 0, wait: 'async', workerSpinUs: 0 },
];

// The floor a call aims at (shared/DESIGN.md "Waiting"): a short spin, then a park, against a blocked worker.
export const kFloor = wakeConfigs[2];
