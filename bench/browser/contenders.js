// The contenders every case measures against each other, started once per
// page run: ferry's WorkerPool (JavaScript workers over rings, C++ workers in
// the wasm module, JavaScript workers over the postMessage transport), raw
// postMessage (PlainWorker below), Comlink, workerpool and the raw
// SharedArrayBuffer ping-pong floor (wake.js). setUp() puts them in run.c,
// each checked by one warm-up call; one that does not start is a problem and
// stays undefined (its cases' rows then have no value for it).
import * as Comlink from '/vendor/comlink/comlink.mjs';
import { check } from '/bench/harness.js';
import { PingPong } from '/bench/wake.js';

// Raw postMessage with the least plumbing an application needs: an id per
// request and a map of pending promises.
class PlainWorker {
  constructor(url) {
    this.w = new Worker(url);
    this.pending = new Map();
    this.next = 0;
    this.onAck = null;
    this.onValue = null;
    this.w.onmessage = ({ data: m }) => {
      if (m.op === 'ack') return this.onAck?.(m.n);
      if (m.op === 'v') return this.onValue?.(m.v);
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(m.error));
      else p.resolve(m);
    };
    this.w.onerror = (e) => {
      for (const p of this.pending.values()) p.reject(new Error(`postMessage worker: ${e.message}`));
      this.pending.clear();
    };
  }
  call(msg, transfer) {
    const id = ++this.next;
    msg.id = id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.w.postMessage(msg, transfer ?? []);
    });
  }
  post(msg) {
    this.w.postMessage(msg);
  }
  terminate() {
    this.w.terminate();
  }
}

export async function setUp(run, opts) {
  const c = run.c;
  c.plain = new PlainWorker('/bench/plain-worker.js');
  check('postMessage warm-up', (await c.plain.call({ op: 'add', a: 1, b: 2 })).r, 3);
  c.comlinkWorker = new Worker('/bench/comlink-worker.js', { type: 'module' });
  c.comlink = Comlink.wrap(c.comlinkWorker);
  check('Comlink warm-up', await c.comlink.add(1, 2), 3);
  c.floor = new PingPong();
  c.wp = globalThis.workerpool.pool('/bench/workerpool-worker.js', { maxWorkers: 2, workerType: 'web' });
  check('workerpool warm-up', await c.wp.exec('add', [1, 2]), 3);

  const ringCapacity = opts.ringCapacity;
  const { WorkerPool } = await run.guard('import /dist/index.js', () => import('/dist/index.js')) ?? {};
  c.WorkerPool = WorkerPool;
  if (WorkerPool) {
    c.ferryJs = await run.guard('WorkerPool.create({ script: /bench/ferry-worker.js, workers: 2 })', async () => {
      const p = await WorkerPool.create({ script: '/bench/ferry-worker.js', workers: 2, ringCapacity });
      check('ferry JS warm-up', await p.call('add', 1, 2), 3);
      return p;
    });
    c.ferryWasm = await run.guard("WorkerPool.create({ module: '/wasm/ferry_web.js', workers: 2 })", async () => {
      const p = await WorkerPool.create({ module: '/wasm/ferry_web.js', workers: 2, ringCapacity });
      check('ferry wasm warm-up', await p.call('add', 1, 2), 3);
      return p;
    });
    c.ferryMsg = await run.guard("WorkerPool.create({ script: /bench/ferry-worker.js, transport: 'postMessage' })", async () => {
      const p = await WorkerPool.create({ script: '/bench/ferry-worker.js', workers: 2, transport: 'postMessage' });
      check('ferry postMessage warm-up', await p.call('add', 1, 2), 3);
      return p;
    });
    if (c.ferryWasm && typeof c.ferryWasm.alloc !== 'function') run.skipped.push('WasmBuffer cases: the pool has no alloc() yet');
    if (c.ferryWasm && typeof c.ferryWasm.heap !== 'function') run.skipped.push('wasm heap statistics: the pool has no heap() yet');
  }
}

export async function tearDown(run) {
  const c = run.c;
  c.plain?.terminate();
  c.floor?.terminate();
  c.comlink?.[Comlink.releaseProxy]?.();
  c.comlinkWorker?.terminate();
  await c.wp?.terminate(true);
  await c.ferryJs?.terminate();
  await c.ferryWasm?.terminate();
  await c.ferryMsg?.terminate();
}
