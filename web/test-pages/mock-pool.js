// A stand-in for ferry's WorkerPool with the API the demo uses, built from
// plain JavaScript workers, so that the demo page itself can be tested
// before the wasm module exists (tests/browser/demo.spec.ts, "mock" runs;
// scripts/demo-headless.mjs --mock). It is not ferry: no shared memory, the
// "rings" are byte-counted queues with the same backpressure rule (send()
// waits while the request queue is full; the task waits while the tile queue
// is full).
//   const pool = await WorkerPool.create({ module, workers });
//   pool.call('render_tile', req), pool.stream('mandelbrot', { capacity }),
//   pool.stats(), pool.heap(), pool.terminate(), pool.transport
const REQUEST_BYTES = 80; // about what a TileRequest record takes in a ring
const RECORD_HEADER = 8;

class Closed extends Error {
  constructor(message) {
    super(message);
    this.name = 'ClosedError';
  }
}

class Gate {
  #w = [];
  wait() {
    return new Promise((ok) => this.#w.push(ok));
  }
  open() {
    const w = this.#w;
    this.#w = [];
    w.forEach((ok) => ok());
  }
}

class Slot {
  constructor(worker) {
    this.worker = worker;
    this.inFlight = 0;
    this.completed = 0;
    this.alive = true;
    this.calls = new Map();
  }
}

class MockStream {
  constructor(slot, capacity, pool) {
    this.slot = slot;
    this.pool = pool;
    this.capacity = capacity;
    this.inQ = [];
    this.inBytes = 0;
    this.outQ = [];
    this.outBytes = 0;
    this.closed = false;
    this.inSpace = new Gate();
    this.inData = new Gate();
    this.outSpace = new Gate();
    this.outData = new Gate();
    // A task ends with its stream or its pool, like a C++ task whose send fails.
    this.task = this.#run().catch((e) => {
      if (!(e instanceof Closed)) throw e;
    });
  }

  async send(req) {
    for (;;) {
      if (this.closed) throw new Closed('the stream was closed');
      if (this.inBytes + REQUEST_BYTES <= this.capacity) break;
      await this.inSpace.wait();
    }
    this.inQ.push(req);
    this.inBytes += REQUEST_BYTES;
    this.inData.open();
  }

  async recv() {
    for (;;) {
      if (this.outQ.length) break;
      if (this.closed) return undefined;
      await this.outData.wait();
    }
    const { tile, bytes } = this.outQ.shift();
    this.outBytes -= bytes;
    this.outSpace.open();
    return tile;
  }

  [Symbol.asyncIterator]() {
    return {
      next: async () => {
        const v = await this.recv();
        return v === undefined ? { done: true, value: undefined } : { done: false, value: v };
      },
      return: async () => {
        this.close();
        return { done: true, value: undefined };
      },
    };
  }

  cancel() {
    this.close();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.outQ = [];
    this.outBytes = 0;
    for (const g of [this.inSpace, this.inData, this.outSpace, this.outData]) g.open();
    this.pool.streams.delete(this);
  }

  stats() {
    return { in: { used: this.inBytes, capacity: this.capacity }, out: { used: this.outBytes, capacity: this.capacity } };
  }

  // The "C++ task": read a request, render it on this stream's worker, wait
  // for room in the tile queue, publish.
  async #run() {
    while (!this.closed) {
      if (!this.inQ.length) {
        await this.inData.wait();
        continue;
      }
      const req = this.inQ.shift();
      this.inBytes -= REQUEST_BYTES;
      this.inSpace.open();
      const tile = await this.pool.dispatch(this.slot, req);
      const bytes = RECORD_HEADER + 48 + tile.rgba.byteLength;
      if (bytes > this.capacity) throw new Error(`record of ${bytes} bytes exceeds ring capacity ${this.capacity}`);
      while (!this.closed && this.outBytes + bytes > this.capacity) await this.outSpace.wait();
      if (this.closed) break;
      this.outQ.push({ tile, bytes });
      this.outBytes += bytes;
      this.outData.open();
    }
  }
}

export class WorkerPool {
  static async create({ module, workers = 2 } = {}) {
    const pool = new WorkerPool();
    pool.module = module;
    const url = new URL('./mock-worker.js', import.meta.url);
    pool.slots = await Promise.all(
      Array.from({ length: workers }, async () => {
        const w = new Worker(url, { type: 'module' });
        await new Promise((ok, ko) => {
          w.onmessage = (e) => (e.data && e.data.ready ? ok() : undefined);
          w.onerror = (e) => ko(new Error(`mock worker failed to start: ${e.message}`));
        });
        const slot = new Slot(w);
        w.onmessage = (e) => {
          const { id, tile } = e.data;
          const done = slot.calls.get(id);
          slot.calls.delete(id);
          slot.inFlight--;
          slot.completed++;
          done(tile);
        };
        return slot;
      }),
    );
    return pool;
  }

  constructor() {
    this.transport = 'mock (postMessage)';
    this.streams = new Set();
    this.nextId = 1;
    this.nextStreamSlot = 0;
    this.terminated = false;
  }

  dispatch(slot, req) {
    if (this.terminated) return Promise.reject(new Closed('the pool was terminated'));
    const id = this.nextId++;
    slot.inFlight++;
    return new Promise((ok) => {
      slot.calls.set(id, ok);
      slot.worker.postMessage({ id, req });
    });
  }

  call(name, req) {
    if (name !== 'render_tile') return Promise.reject(new Error(`unknown task ${name}`));
    const slot = this.slots.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
    return this.dispatch(slot, req);
  }

  async stream(name, { capacity = 64 * 1024 } = {}) {
    if (name !== 'mandelbrot') throw new Error(`unknown stream task ${name}`);
    if (this.terminated) throw new Closed('the pool was terminated');
    const slot = this.slots[this.nextStreamSlot++ % this.slots.length];
    const s = new MockStream(slot, capacity, this);
    this.streams.add(s);
    return s;
  }

  stats() {
    const busy = this.slots.filter((s) => s.inFlight > 0).length;
    const inFlight = this.slots.reduce((a, s) => a + s.inFlight, 0);
    return {
      workers: this.slots.map((s) => ({ inFlight: s.inFlight, completed: s.completed, restarts: 0, alive: s.alive })),
      queued: inFlight - busy,
    };
  }

  // Fixed-size "rings" per stream, like the real pool's.
  heap() {
    let inUse = 1 << 20;
    for (const s of this.streams) inUse += 2 * s.capacity;
    this.highWater = Math.max(this.highWater ?? 0, inUse);
    return { inUse, free: (64 << 20) - inUse, freeChunks: 1, highWater: this.highWater, memoryBytes: 64 << 20 };
  }

  async terminate() {
    this.terminated = true;
    for (const s of [...this.streams]) s.close();
    for (const slot of this.slots) {
      slot.worker.terminate();
      slot.alive = false;
      for (const done of slot.calls.values()) done(Promise.reject(new Closed('the pool was terminated')));
      slot.calls.clear();
    }
  }
}
