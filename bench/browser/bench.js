// ferry browser benchmarks: ferry's WorkerPool (JavaScript workers and C++
// workers in the wasm module) against raw postMessage (structured clone and
// transferred ArrayBuffers), Comlink and workerpool, on the same work, in one
// page run. bench/browser/run.mjs loads this page in headless Chromium and
// calls runBench(); the result has the shape of bench_harness.hpp's JSON
// (tables of rows with results and ratios) so bench/report.mjs merges it with
// the native runs.
//
// Timing: performance.now() has 5 µs granularity in a cross-origin isolated
// page, so latencies are timed over batches of calls and divided.
// Every result is checked (sums, checksums, echoes, counts); a wrong one is a
// problem the runner reports (and fails on with --smoke).
import * as Comlink from '/vendor/comlink/comlink.mjs';
import { PingPong, kFloor, wakeConfigs } from '/bench/wake.js';

const logEl = document.getElementById('log');
function log(s) {
  if (logEl) logEl.textContent += s + '\n';
  console.log(`[bench] ${s}`);
}

const FERRY = 'ferry';
const PM = 'postMessage';
const PM_CLONE = 'postMessage (clone)';
const PM_TRANSFER = 'postMessage (transfer)';
const COMLINK = 'Comlink';
const WP = 'workerpool';
const FLOOR = 'SAB ping-pong floor';

// --- Statistics and rows (bench_harness.hpp's JSON shape) --------------------------

function sorted(v) {
  return [...v].sort((a, b) => a - b);
}
function percentile(v, p) {
  if (!v.length) return NaN;
  const s = sorted(v);
  return s[Math.max(1, Math.ceil((p / 100) * s.length)) - 1];
}
function median(v) {
  const s = sorted(v);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function stat(samples, n = 0) {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), ops_per_rep: n, samples };
}
function single(v, n = 0) {
  return { median: v, min: v, max: v, ops_per_rep: n, samples: [] };
}

function table(title, baselines, notes) {
  return { title, reference: FERRY, notes, baselines, rows: [] };
}
// One row: `ferry` is the ferry variant's result, `others` the baselines'.
function addRow(t, name, unit, higher, ferry, others, note = '', seed = '') {
  const results = {};
  if (ferry) results[FERRY] = ferry;
  for (const [k, v] of Object.entries(others)) if (v) results[k] = v;
  const ratios = {};
  for (const b of t.baselines) {
    const f = results[FERRY]?.median, o = results[b]?.median;
    ratios[b] = f > 0 && o > 0 && Number.isFinite(f) && Number.isFinite(o) ? (higher ? f / o : o / f) : null;
  }
  const row = { case: `${name} (${unit})`, unit, higher_is_better: higher, note, results, ratios };
  if (seed) row.seed = seed;
  t.rows.push(row);
}

// --- Contenders -------------------------------------------------------------------

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

function check(what, got, want) {
  if (got !== want) throw new Error(`${what}: got ${String(got)}, expected ${String(want)}`);
}

async function gcAndHeap() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.memory?.usedJSHeapSize ?? NaN;
}

const heapOf = (pool) => (typeof pool?.heap === 'function' ? pool.heap() : null);

// --- Runner state ------------------------------------------------------------------

class Run {
  constructor(opts) {
    this.quick = Boolean(opts.quick);
    this.reps = opts.reps ?? (this.quick ? 1 : 3);
    this.problems = [];   // something broke: the runner fails on these with --smoke
    this.skipped = [];    // something is not available (yet): reported, not a failure
    this.tables = [];
    this.c = {};          // contenders
  }
  // Runs fn; an exception becomes a problem and the result is null.
  async guard(what, fn) {
    try {
      return await fn();
    } catch (e) {
      const msg = `${what}: ${e?.stack ?? e}`;
      this.problems.push(msg);
      log(`PROBLEM ${msg}`);
      return null;
    }
  }
}

async function setUp(run, opts) {
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

async function tearDown(run) {
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

// Interleaves the contenders' repetitions, so background noise hits them alike.
async function interleaved(run, contenders, reps, fn) {
  const out = {};
  for (let r = 0; r < reps; r++) {
    for (const [name, impl] of Object.entries(contenders)) {
      if (!impl) continue;
      if (out[name] === null) continue;  // failed before
      const v = await run.guard(name, () => fn(name, impl, r));
      if (v === null) out[name] = null;
      else (out[name] ??= []).push(v);
    }
  }
  return out;
}

// --- 0. What this engine charges: waking the page, copying bytes ---------------------------

// A SharedArrayBuffer ping-pong with engine-worker.js: the page writes request i
// and wakes the worker (parked in Atomics.wait); `wait(i)` resolves once the
// answer word holds i, however this mode waits for it.
class WakeLane {
  constructor(doorbell) {
    this.sab = new SharedArrayBuffer(64);
    this.w = new Int32Array(this.sab);
    this.worker = new Worker('/bench/engine-worker.js');
    this.bell = null;
    // The first message says the worker is in its loop: a page that spins
    // before then could starve the worker's start-up (seen in Chromium).
    this.ready = new Promise((res) => {
      this.worker.onmessage = () => {
        this.worker.onmessage = () => this.bell?.();
        res();
      };
    });
    this.worker.postMessage({ sab: this.sab, doorbell });
  }
  request(i) {
    Atomics.store(this.w, 0, i);
    Atomics.notify(this.w, 0);
  }
  async waitAsync(i) {
    // Waits on the value it saw: if the answer lands in between, waitAsync
    // returns 'not-equal' at once instead of waiting for a second change.
    for (let seen; (seen = Atomics.load(this.w, 1)) !== i; ) {
      const r = Atomics.waitAsync(this.w, 1, seen, 5000);
      if (r.async && (await r.value) === 'timed-out') throw new Error(`no answer to request ${i} within 5 s`);
    }
  }
  async doorbell(i) {
    while (Atomics.load(this.w, 1) !== i) {
      await new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`no doorbell for request ${i} within 5 s`)), 5000);
        this.bell = () => { clearTimeout(t); res(); };
      });
    }
  }
  // The floor: the page burns its thread re-reading the answer word.
  spin(i) {
    const end = performance.now() + 5000;
    for (let k = 0; Atomics.load(this.w, 1) !== i; k++) {
      if ((k & 1023) === 0 && performance.now() > end) throw new Error(`no answer to request ${i} within 5 s`);
    }
  }
  stop() {
    this.request(-1);
    setTimeout(() => this.worker.terminate(), 100);
  }
}

async function engineCosts(run) {
  log('engine: wake-up and copy costs');
  const { c } = run;
  const WAIT_ASYNC = 'SAB + Atomics.waitAsync', DOORBELL = 'SAB + postMessage doorbell', SPIN = 'SAB + spin';
  const lanes = { [WAIT_ASYNC]: new WakeLane(false), [DOORBELL]: new WakeLane(true), [SPIN]: new WakeLane(false) };
  await Promise.all(Object.values(lanes).map((l) => l.ready));
  let next = 0;
  const trip = {
    [WAIT_ASYNC]: (i) => { lanes[WAIT_ASYNC].request(i); return lanes[WAIT_ASYNC].waitAsync(i); },
    [DOORBELL]: (i) => { lanes[DOORBELL].request(i); return lanes[DOORBELL].doorbell(i); },
    [SPIN]: (i) => { lanes[SPIN].request(i); lanes[SPIN].spin(i); },
    [PM]: (i) => c.plain.call({ op: 'add', a: i, b: 0 }).then((m) => check('postMessage round trip', m.r, i)),
  };
  const batch = run.quick ? 10 : 50;
  const batches = run.quick ? 8 : 120;
  const rounds = run.quick ? 1 : 4;
  try {
    const per = await interleaved(run, trip, rounds + 1, async (name, f, r) => {
      const out = [];
      for (let b = 0; b < (r === 0 ? 2 : batches / rounds); b++) {
        const t0 = performance.now();
        for (let k = 0; k < batch; k++) await f(++next);
        out.push(((performance.now() - t0) * 1000) / batch);
      }
      return r === 0 ? [] : out;  // round 0 warms up
    });
    const t = table('waking the page: a worker answers a request, the page waits for it (µs per round trip)',
      [PM, DOORBELL, SPIN],
      `timed in batches of ${batch} sequential round trips, p50/p99 over ${batches} batches, modes interleaved in ` +
      `${rounds} rounds; SAB modes: the page writes a request word and notifies the worker parked in Atomics.wait; ` +
      'the worker writes the answer word and wakes the page by Atomics.notify (the page parks in Atomics.waitAsync, or ' +
      'spins on the word: the floor, which holds the page’s thread) or by a postMessage doorbell; postMessage: both ways; ' +
      'ratio = other / waitAsync: > 1 means waitAsync is faster', WAIT_ASYNC);
    const p = (name, q) => (per[name] ? single(percentile(per[name].flat(), q), per[name].flat().length) : null);
    for (const q of [50, 99]) {
      addRow(t, `round trip p${q}`, 'µs', false, p(WAIT_ASYNC, q), { [PM]: p(PM, q), [DOORBELL]: p(DOORBELL, q), [SPIN]: p(SPIN, q) });
    }
    run.tables.push(t);
  } finally {
    for (const lane of Object.values(lanes)) lane.stop();
  }

  const SAB_COPY = 'copy into a SharedArrayBuffer';
  const t = table('bytes to a worker: what each way of moving them costs (MB/s)', [PM_CLONE, PM_TRANSFER, 'structuredClone'],
    'postMessage (clone): the worker gets a clone and answers its length; postMessage (transfer): the buffer moves to ' +
    'the worker and back; structuredClone: a clone in the page, nothing sent; copy into a SharedArrayBuffer: ' +
    'Uint8Array.set() into shared memory, the copy ferry’s ring makes on a call (the worker then reads it in place, ' +
    'nothing sent); MB/s of the buffer’s size per operation', SAB_COPY);
  for (const size of [64 * 1024, 1 << 20]) {
    const label = size >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`;
    const data = new Uint8Array(size).map((_, i) => i * 31);
    const shared = new Uint8Array(new SharedArrayBuffer(size));
    let moving = data.slice().buffer;
    const ops = run.quick ? 4 : size >= 1 << 20 ? 40 : 400;
    const move = {
      [SAB_COPY]: () => {
        shared.set(data);
        check('shared copy', shared[size - 1], data[size - 1]);
      },
      [PM_CLONE]: async () => check('clone size', (await c.plain.call({ op: 'size', v: data })).r, size),
      [PM_TRANSFER]: async () => {
        const m = await c.plain.call({ op: 'bounce', buf: moving }, [moving]);
        moving = m.buf;
        check('transferred size', m.r, size);
      },
      structuredClone: () => check('structuredClone size', structuredClone(data).length, size),
    };
    const res = await interleaved(run, move, run.reps + 1, async (name, f, r) => {
      const t0 = performance.now();
      for (let k = 0; k < ops; k++) await f();
      return r === 0 ? undefined : (ops * size) / ((performance.now() - t0) / 1000) / 1e6;
    });
    const st = (name) => (res[name] ? stat(res[name].filter((v) => v !== undefined), ops) : null);
    addRow(t, label, 'MB/s', true, st(SAB_COPY), { [PM_CLONE]: st(PM_CLONE), [PM_TRANSFER]: st(PM_TRANSFER), structuredClone: st('structuredClone') });
  }
  run.tables.push(t);
}

// --- 1. Call latency ------------------------------------------------------------------

// add(i, 1) per contender, each a function of i that resolves to i + 1; the
// floor is a raw round trip with no ferry code (wake.js, kFloor), started
// and stopped around each of its rounds.
function latencyCalls(run, names = null) {
  const { c } = run;
  const all = {
    'ferry JS workers': c.ferryJs && ((i) => c.ferryJs.call('add', i, 1)),
    'ferry wasm workers': c.ferryWasm && ((i) => c.ferryWasm.call('add', i, 1)),
    [PM]: (i) => c.plain.call({ op: 'add', a: i, b: 1 }).then((m) => m.r),
    [FLOOR]: (i) => c.floor.once().then(() => i + 1),
    [COMLINK]: (i) => c.comlink.add(i, 1),
    [WP]: (i) => c.wp.exec('add', [i, 1]),
  };
  return Object.fromEntries(Object.entries(all).filter(([k, f]) => f && (names === null || names.includes(k))));
}

// Sequential calls timed in batches; µs per call of every batch, per contender.
async function measureLatency(run, calls, batches, batch, rounds) {
  const warm = run.quick ? 20 : 300;
  const { c } = run;
  const withFloor = async (name, fn) => {
    if (name !== FLOOR) return fn();
    c.floor.start(kFloor);
    try {
      return await fn();
    } finally {
      await c.floor.stop();
    }
  };
  for (const [name, f] of Object.entries(calls)) {
    await run.guard(`${name} warm-up`, () => withFloor(name, async () => {
      for (let i = 0; i < warm; i++) check(name, await f(i), i + 1);
    }));
  }
  return interleaved(run, calls, rounds, (name, f, r) => withFloor(name, async () => {
    const out = [];
    for (let b = 0; b < batches / rounds; b++) {
      const t0 = performance.now();
      for (let k = 0; k < batch; k++) {
        const i = (r * batches + b) * batch + k;
        const got = await f(i);
        if (got !== i + 1) throw new Error(`${name}: add(${i}, 1) returned ${got}`);
      }
      out.push(((performance.now() - t0) * 1000) / batch);
    }
    return out;
  }));
}

const pctOf = (per, name, q) => (per[name] ? single(percentile(per[name].flat(), q), per[name].flat().length) : null);

async function callLatency(run) {
  log('call latency');
  const batch = run.quick ? 10 : 25;
  const batches = run.quick ? 10 : 120;
  const rounds = run.quick ? 1 : 4;
  const per = await measureLatency(run, latencyCalls(run), batches, batch, rounds);
  run.idleLatency = per;
  const t = table('call latency: sequential await of add(i, 1) on a worker (µs per call)', [PM, FLOOR, COMLINK, WP],
    `timed in batches of ${batch} sequential calls (performance.now() has 5 µs granularity here, 20 µs in Firefox); p50/p99 over ` +
    `${batches} batches per contender, contenders interleaved in ${rounds} rounds; ferry pools have 2 workers ` +
    '(a sequential caller uses one), workerpool maxWorkers 2, postMessage and Comlink one worker; ' +
    `${FLOOR}: a raw SharedArrayBuffer round trip with no ferry code (${kFloor.name}), the floor a call aims at`);
  for (const [variant, shown] of [['ferry JS workers', 'ferry JS workers'], ['ferry wasm workers', 'ferry wasm workers (C++ add)']]) {
    for (const q of [50, 99]) {
      addRow(t, `p${q} · ${shown}`, 'µs', false, pctOf(per, variant, q),
        { [PM]: pctOf(per, PM, q), [FLOOR]: pctOf(per, FLOOR, q), [COMLINK]: pctOf(per, COMLINK, q), [WP]: pctOf(per, WP, q) },
        q === 50 ? 'goals: ≤ 0.5× postMessage (ratio ≥ 2), within 2× of the floor (ratio ≥ 0.5)' : 'goal: ≤ postMessage (ratio ≥ 1)',
        q === 99 ? 'async call latency p99' : '');
    }
  }
  run.tables.push(t);
}

// --- 1b. Calls in flight -----------------------------------------------------------------

// 64 callers, each awaiting its add() and making the next: calls per second.
async function measureInFlight(run, calls, n, reps) {
  const lanes = 64;
  return interleaved(run, calls, reps + 1, async (name, f, r) => {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: lanes }, async () => {
      while (next < n) {
        const i = next++;
        const got = await f(i);
        if (got !== i + 1) throw new Error(`${name}: add(${i}, 1) returned ${got}`);
      }
    }));
    return r === 0 ? undefined : n / ((performance.now() - t0) / 1000);
  });
}

const rateOf = (res, name, n) => (res[name] ? stat(res[name].filter((v) => v !== undefined), n) : null);

async function callsInFlight(run) {
  log('calls in flight');
  const n = run.quick ? 2000 : 40000;
  const calls = latencyCalls(run, ['ferry JS workers', 'ferry wasm workers', PM, COMLINK, WP]);
  const res = await measureInFlight(run, calls, n, run.reps);
  run.idleInFlight = res;
  const t = table('calls in flight: 64 callers awaiting add(i, 1) in a loop (calls/s)', [PM, COMLINK, WP],
    `${n} calls per rep, median of ${run.reps} after a warm-up rep; ferry pools have 2 workers (maxInFlight 64 each), ` +
    'postMessage one worker with a pending map, Comlink one worker, workerpool maxWorkers 2');
  const others = { [PM]: rateOf(res, PM, n), [COMLINK]: rateOf(res, COMLINK, n), [WP]: rateOf(res, WP, n) };
  addRow(t, '64 in flight · ferry JS workers', 'calls/s', true, rateOf(res, 'ferry JS workers', n), others, 'goal: ≥ 5× postMessage', 'calls in flight');
  addRow(t, '64 in flight · ferry wasm workers (C++ add)', 'calls/s', true, rateOf(res, 'ferry wasm workers', n), others, 'goal: ≥ 5× postMessage', 'calls in flight');
  run.tables.push(t);
}

// --- 1c. Wake-up strategies ----------------------------------------------------------------

// The raw round trip of each wake-up configuration of wake.js, side by side
// with ferry's JS call: the measurements behind web/README.md "Waiting".
async function wakeStrategies(run) {
  log('wake-up strategies');
  const { c } = run;
  const batch = run.quick ? 10 : 20;
  const batches = run.quick ? 6 : 60;
  const rounds = run.quick ? 1 : 3;
  const configs = Object.fromEntries(wakeConfigs.map((w) => [w.name, w]));
  const ferry = c.ferryJs && ((i) => c.ferryJs.call('add', i, 1));
  const per = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, cfg] of Object.entries(configs)) {
      const v = await run.guard(`wake ${name}`, () => c.floor.run(cfg, batches / rounds, batch));
      if (v) (per[name] ??= []).push(...v);
    }
    if (ferry) {
      const v = await run.guard('wake: ferry JS call', () => measureLatency(run, { f: ferry }, batches / rounds, batch, 1));
      if (v?.f) (per.ferry ??= []).push(...v.f.flat());
    }
  }
  const names = Object.keys(configs);
  const t = table('wake-up strategies: a raw SharedArrayBuffer round trip between the page and a worker, no ferry code (µs)', names,
    `${batches} batches of ${batch} round trips per configuration in ${rounds} rounds; "page ...": how the page waits for the answer ` +
    '(spin, then Atomics.waitAsync or a MessagePort message as the doorbell, or spin only); "worker ...": how the worker waits for ' +
    'the next request; the ferry column is a JS worker call measured in the same rounds (ratio = strategy / ferry: < 1 means the raw ' +
    'strategy is faster than ferry)');
  for (const q of [50, 99]) {
    const others = Object.fromEntries(names.map((n) => [n, per[n] ? single(percentile(per[n], q), per[n].length) : null]));
    addRow(t, `p${q} round trip`, 'µs', false, per.ferry ? single(percentile(per.ferry, q), per.ferry.length) : null, others);
  }
  run.tables.push(t);
}

// --- 1d. With one core busy -----------------------------------------------------------------

// The latency and in-flight rows again while another process keeps one core
// busy (the runner starts `yes > /dev/null`: benchBusyCore(true)), and how
// much each contender's p99 grew against its idle run above.
async function busyCore(run) {
  if (typeof globalThis.benchBusyCore !== 'function') {
    run.skipped.push('busy-core rows: the runner has no benchBusyCore hook (bench/browser/run.mjs provides it)');
    return;
  }
  log('with one core busy');
  const names = ['ferry JS workers', 'ferry wasm workers', PM, FLOOR];
  const batch = run.quick ? 10 : 25;
  const batches = run.quick ? 10 : 80;
  const rounds = run.quick ? 1 : 2;
  const n = run.quick ? 2000 : 20000;
  await globalThis.benchBusyCore(true);
  let per, res;
  try {
    await new Promise((r) => setTimeout(r, 200)); // let the busy process get going
    per = await measureLatency(run, latencyCalls(run, names), batches, batch, rounds);
    res = await measureInFlight(run, latencyCalls(run, names.filter((x) => x !== FLOOR)), n, run.reps);
  } finally {
    await globalThis.benchBusyCore(false);
  }
  const t = table('with one core kept busy by another process (yes > /dev/null): call latency, calls in flight, and how much p99 grew', [PM, FLOOR],
    'the same measurements as the idle tables above (fewer batches), while the runner keeps one of the cores busy; ' +
    'p99 growth = busy p99 / idle p99 of the same contender in this run (lower is better)');
  const growth = (name) => {
    const busy = pctOf(per, name, 99)?.median, idle = pctOf(run.idleLatency ?? {}, name, 99)?.median;
    return busy > 0 && idle > 0 ? single(busy / idle, per[name].flat().length) : null;
  };
  for (const [variant, shown] of [['ferry JS workers', 'ferry JS workers'], ['ferry wasm workers', 'ferry wasm workers (C++ add)']]) {
    for (const q of [50, 99]) {
      addRow(t, `busy core · p${q} · ${shown}`, 'µs', false, pctOf(per, variant, q), { [PM]: pctOf(per, PM, q), [FLOOR]: pctOf(per, FLOOR, q) });
    }
    addRow(t, `busy core · p99 growth × · ${shown}`, '×', false, growth(variant), { [PM]: growth(PM), [FLOOR]: growth(FLOOR) },
      'how much worse p99 got with a core busy; ratio > 1: ferry degrades less than the baseline');
    addRow(t, `busy core · 64 in flight · ${shown}`, 'calls/s', true, rateOf(res, variant, n), { [PM]: rateOf(res, PM, n) });
  }
  run.tables.push(t);
}

// --- 2. Small-message stream throughput -----------------------------------------------------

async function streamThroughput(run) {
  log('small-message streams');
  const { c } = run;
  const n = run.quick ? 500 : 20000;
  const words = Array.from({ length: 64 }, (_, i) => `hello ferry ${String(i).padStart(4, '0')}`);
  const window = 64;
  const ferryStream = (pool) => pool && (async () => {
    const s = await pool.stream('upper');
    const reader = (async () => {
      let k = 0, last = '';
      for await (const v of s) {
        last = v;
        k++;
      }
      return { k, last };
    })();
    for (let i = 0; i < n; i++) {
      const w = words[i % words.length];
      if (!s.trySend(w)) await s.send(w);
    }
    await s.close();
    const { k, last } = await reader;
    check('stream upper: values back', k, n);
    check('stream upper: last value', last, words[(n - 1) % words.length].toUpperCase());
  });
  const windowed = (f) => async () => {
    let next = 0, done = 0;
    const lane = async () => {
      while (next < n) {
        const i = next++;
        const got = await f(words[i % words.length]);
        if (got !== words[i % words.length].toUpperCase()) throw new Error(`upper: got ${got}`);
        done++;
      }
    };
    await Promise.all(Array.from({ length: window }, lane));
    check('calls answered', done, n);
  };
  const runs = {
    'ferry JS': ferryStream(c.ferryJs),
    'ferry wasm': ferryStream(c.ferryWasm),
    [PM]: async () => {
      const ps = [];
      for (let i = 0; i < n; i++) ps.push(c.plain.call({ op: 'upper', v: words[i % words.length] }));
      const got = await Promise.all(ps);
      check('postMessage upper: last', got[n - 1].r, words[(n - 1) % words.length].toUpperCase());
    },
    [COMLINK]: windowed((w) => c.comlink.upper(w)),
    [WP]: windowed((w) => c.wp.exec('upper', [w])),
  };
  await runs[PM]();  // warm-up
  const res = await interleaved(run, runs, run.reps + 1, async (name, f, r) => {
    const t0 = performance.now();
    await f();
    return r === 0 ? undefined : n / ((performance.now() - t0) / 1000) / 1000;
  });
  const st = (name) => (res[name] ? stat(res[name].filter((v) => v !== undefined), n) : null);
  const t = table('small-message stream: 20-byte strings to a worker and back upper-cased (k msg/s)', [PM, COMLINK, WP],
    `${n} messages per rep, median of ${run.reps} after a warm-up rep; ferry: pool.stream('upper') (trySend, await ` +
    `send when full; for await on the output); postMessage: one message per string, all posted at once, a pending ` +
    `map of promises; Comlink and workerpool have no streams: calls with ${window} in flight`);
  const others = { [PM]: st(PM), [COMLINK]: st(COMLINK), [WP]: st(WP) };
  addRow(t, 'stream · ferry JS workers', 'k msg/s', true, st('ferry JS'), others);
  addRow(t, 'stream · ferry wasm workers (C++ upper)', 'k msg/s', true, st('ferry wasm'), others);
  run.tables.push(t);
}

// --- 2b. Small values one way -------------------------------------------------------------

// 8-byte numbers and 32-byte strings, page -> worker (a sink that counts
// them) and worker -> page (a source that sends them), against one
// postMessage per value. Also the postMessage transport (no shared memory)
// with one `await send()` per value, against the same postMessage baseline.
async function smallStreams(run) {
  log('small-value streams');
  const { c } = run;
  const n = run.quick ? 2000 : 200000;
  const valueOf = (strings, i) => (strings ? self.benchTasks.smallString(i) : i + 0.5);
  // page -> worker: send n values, close, read the count.
  const toWorker = (pool, task, strings, awaitEach) => pool && (async () => {
    const s = await pool.stream(task);
    if (awaitEach) {
      for (let i = 0; i < n; i++) await s.send(valueOf(strings, i));
    } else {
      for (let i = 0; i < n; i++) {
        const v = valueOf(strings, i);
        if (!s.trySend(v)) await s.send(v);
      }
    }
    await s.close();
    const r = await s.recv();
    check(`${task}: count`, r.value, n);
    await s.done;
  });
  // worker -> page: read n values in batches.
  const fromWorker = (pool, task, args, strings) => pool && (async () => {
    const s = await pool.stream(task, { args });
    await s.close();
    let k = 0, last;
    for (let b = await s.recvBatch(4096); b.length !== 0; b = await s.recvBatch(4096)) {
      k += b.length;
      last = b[b.length - 1];
    }
    check(`${task}: values`, k, n);
    check(`${task}: last`, last, valueOf(strings, n - 1));
    await s.done;
  });
  const pmTo = (strings) => async () => {
    for (let i = 0; i < n - 1; i++) c.plain.post({ op: 'small', v: valueOf(strings, i) });
    check('postMessage sink count', (await c.plain.call({ op: 'small', v: valueOf(strings, n - 1), last: true })).r, n);
  };
  const pmFrom = (strings) => async () => {
    let k = 0, last;
    c.plain.onValue = (v) => {
      k++;
      last = v;
    };
    await c.plain.call({ op: 'source', n, strings });
    c.plain.onValue = null;
    check('postMessage source values', k, n);
    check('postMessage source last', last, valueOf(strings, n - 1));
  };
  const t = table('small values one way: 8-byte numbers and 32-byte strings between the page and a worker (k values/s)', [PM],
    `${n} values per rep, median of ${run.reps} after a warm-up rep; ferry: page → worker trySend (await send when full) ` +
    `into a task that counts them; worker → page a task that sends them, read with recvBatch(4096); postMessage: one ` +
    `message per value (the worker counts them / posts them); "postMessage transport": ferry without shared memory ` +
    `(transport: 'postMessage', as in a page that is not cross-origin isolated), one await send() per value`);
  for (const strings of [false, true]) {
    const what = strings ? '32-byte strings' : '8-byte numbers';
    for (const dir of ['page → worker', 'worker → page']) {
      const to = dir === 'page → worker';
      const runs = to
        ? {
            'ferry JS': toWorker(c.ferryJs, 'sink', strings, false),
            'ferry wasm': toWorker(c.ferryWasm, strings ? 'sink_str' : 'sink_f64', strings, false),
            'ferry JS, postMessage transport': toWorker(c.ferryMsg, 'sink', strings, true),
            [PM]: pmTo(strings),
          }
        : {
            'ferry JS': fromWorker(c.ferryJs, 'source', [strings, n], strings),
            'ferry wasm': fromWorker(c.ferryWasm, strings ? 'source_str' : 'source_f64', [n], strings),
            [PM]: pmFrom(strings),
          };
      for (const k of Object.keys(runs)) if (!runs[k]) delete runs[k];
      const res = await interleaved(run, runs, run.reps + 1, async (name, f, r) => {
        const t0 = performance.now();
        await f();
        return r === 0 ? undefined : n / ((performance.now() - t0) / 1000) / 1000;
      });
      const st = (name) => (res[name] ? stat(res[name].filter((v) => v !== undefined), n) : null);
      addRow(t, `${what}, ${dir} · ferry JS workers`, 'k values/s', true, st('ferry JS'), { [PM]: st(PM) }, '', 'small-value streams');
      addRow(t, `${what}, ${dir} · ferry wasm workers (C++)`, 'k values/s', true, st('ferry wasm'), { [PM]: st(PM) }, '', 'small-value streams');
      if (to) {
        addRow(t, `${what}, ${dir} · ferry JS, postMessage transport, await send() per value`, 'k values/s', true,
          st('ferry JS, postMessage transport'), { [PM]: st(PM) }, '', 'small-value streams');
      }
    }
  }
  run.tables.push(t);
}

// --- 3. Buffers into a worker -------------------------------------------------------------

async function buffers(run) {
  log('buffers');
  const { c } = run;
  const sizes = run.quick ? [64 * 1024, 256 * 1024] : [1 << 20, 16 << 20];
  const t = table('buffers into a worker that checksums every byte (FNV-1a) and answers (MB/s)',
    [PM_CLONE, PM_TRANSFER, COMLINK, WP],
    'the bytes start in a JavaScript Uint8Array; every worker computes the same FNV-1a over every byte (the C++ ' +
    'tasks checksum_bytes / checksum_shared, the same function in JavaScript), so the differences are the cost ' +
    'of moving the bytes; transfer: the ArrayBuffer goes to the worker and comes back, moved both ways; ' +
    'WasmBuffer: pool.alloc() once, then per call bytes.set() into it (timed) and checksum_shared (nothing copied)');
  for (const size of sizes) {
    const label = size >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`;
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (i * 2654435761) >>> 24;
    const want = self.benchTasks.fnv1a(data);
    const ops = run.quick ? 3 : size >= 16 << 20 ? 4 : 24;
    let moving = data.slice().buffer;  // the transferred one
    let wasmBuf = null;
    if (c.ferryWasm && typeof c.ferryWasm.alloc === 'function') {
      wasmBuf = await run.guard(`pool.alloc(${size})`, () => c.ferryWasm.alloc(size));
    }
    const one = {
      'ferry JS call': c.ferryJs && (() => c.ferryJs.call('checksum', data)),
      'ferry wasm call': c.ferryWasm && (() => c.ferryWasm.call('checksum_bytes', data)),
      'ferry wasm WasmBuffer': wasmBuf && (() => {
        wasmBuf.bytes.set(data);
        return c.ferryWasm.call('checksum_shared', wasmBuf);
      }),
      [PM_CLONE]: () => c.plain.call({ op: 'checksum', v: data }).then((m) => m.r),
      [PM_TRANSFER]: async () => {
        const m = await c.plain.call({ op: 'checksum-transfer', buf: moving }, [moving]);
        moving = m.buf;
        return m.r;
      },
      [COMLINK]: () => c.comlink.checksum(data),
      [WP]: () => c.wp.exec('checksum', [data]),
    };
    const res = await interleaved(run, one, run.reps + 1, async (name, f, r) => {
      const t0 = performance.now();
      for (let k = 0; k < ops; k++) check(`${name} checksum of ${label}`, (await f()) >>> 0, want);
      return r === 0 ? undefined : (ops * size) / ((performance.now() - t0) / 1000) / 1e6;
    });
    wasmBuf?.release();
    const st = (name) => (res[name] ? stat(res[name].filter((v) => v !== undefined), ops) : null);
    const others = { [PM_CLONE]: st(PM_CLONE), [PM_TRANSFER]: st(PM_TRANSFER), [COMLINK]: st(COMLINK), [WP]: st(WP) };
    addRow(t, `${label} · ferry JS workers, call (copied through the ring)`, 'MB/s', true, st('ferry JS call'), others);
    addRow(t, `${label} · ferry wasm, call checksum_bytes (copied)`, 'MB/s', true, st('ferry wasm call'), others);
    if (wasmBuf) addRow(t, `${label} · ferry wasm, WasmBuffer + checksum_shared`, 'MB/s', true, st('ferry wasm WasmBuffer'), others);
  }
  run.tables.push(t);
}

// --- 3b. A large value into a worker and back, default settings ------------------------

// What a user gets without tuning anything: pools created with the default
// options (64 KiB rings) echo a 1 MiB Uint8Array, against postMessage with
// structured clone and with the buffer transferred both ways. Where ferry
// cannot carry the value at all (a MessageTooLargeError: the value does not
// fit one ring record), the row says so under "skipped" and has no ferry value.
async function largeDefault(run) {
  log('large value, default settings');
  const { c } = run;
  if (!c.WorkerPool) return;
  const size = run.quick ? 256 * 1024 : 1 << 20;
  const label = size >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`;
  const ops = run.quick ? 3 : 24;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 2654435761) >>> 24;
  // Every echo is checked where it can differ cheaply: its length and a
  // stride of bytes (a full checksum would be most of what is timed).
  const same = (what, u8) => {
    check(`${what}: length`, u8.byteLength, size);
    for (let i = 0; i < size; i += 4093) if (u8[i] !== data[i]) check(`${what}: byte ${i}`, u8[i], data[i]);
  };
  const pools = {
    'ferry JS, default settings': [await run.guard('WorkerPool.create({ script: /bench/ferry-worker.js }) with defaults',
      () => c.WorkerPool.create({ script: '/bench/ferry-worker.js', workers: 2 })), 'echo'],
    'ferry wasm, default settings': [await run.guard("WorkerPool.create({ module: '/wasm/ferry_web.js' }) with defaults",
      () => c.WorkerPool.create({ module: '/wasm/ferry_web.js', workers: 2 })), 'echo_bytes'],
  };
  try {
    const one = {};
    for (const [name, [pool, task]] of Object.entries(pools)) {
      if (!pool) continue;
      try {
        same(name, new Uint8Array(await pool.call(task, data)));
      } catch (e) {
        if (e?.name !== 'MessageTooLargeError') throw e;
        run.skipped.push(`${label} echo · ${name}: ${e.message}`);
        continue;
      }
      one[name] = async () => same(name, new Uint8Array(await pool.call(task, data)));
    }
    let moving = data.slice().buffer;
    one[PM_CLONE] = async () => same(PM_CLONE, (await c.plain.call({ op: 'echo', v: data })).r);
    one[PM_TRANSFER] = async () => {
      const m = await c.plain.call({ op: 'bounce', buf: moving }, [moving]);
      moving = m.buf;
      same(PM_TRANSFER, new Uint8Array(moving));
    };
    const res = await interleaved(run, one, run.reps + 1, async (name, f, r) => {
      const t0 = performance.now();
      for (let k = 0; k < ops; k++) await f();
      return r === 0 ? undefined : (ops * size) / ((performance.now() - t0) / 1000) / 1e6;
    });
    const st = (name) => (res[name] ? stat(res[name].filter((v) => v !== undefined), ops) : null);
    const t = table(`a ${label} Uint8Array into a worker and back, default pool settings (MB/s of the value, one way)`,
      [PM_CLONE, PM_TRANSFER],
      `${ops} echoes per rep, median of ${run.reps} after a warm-up rep; ferry: WorkerPool.create() with no ` +
      'options (64 KiB rings), call(echo) / call(echo_bytes); clone: postMessage there and back; transfer: the ' +
      'ArrayBuffer moved to the worker and back; each echo checks its length and every 4093rd byte');
    const others = { [PM_CLONE]: st(PM_CLONE), [PM_TRANSFER]: st(PM_TRANSFER) };
    for (const name of Object.keys(pools)) addRow(t, `${label} echo · ${name}`, 'MB/s', true, st(name), others, '', 'large values');
    run.tables.push(t);
  } finally {
    for (const [pool] of Object.values(pools)) await pool?.terminate();
  }
}

// --- 4. Marshalling structured values -------------------------------------------------------

function makeShape(points) {
  const pts = Array.from({ length: points }, (_, i) => ({ x: (i * 7919) % 10007, y: (i * 104729) % 65521 - 30000 }));
  return { name: 'polygon', points: pts, anchor: { x: 1, y: -1 }, tags: { area: 12.5, weight: 0.25, z: 3 } };
}

async function marshalling(run) {
  log('marshalling');
  const { c } = run;
  const shape = makeShape(run.quick ? 100 : 2000);
  const jsonBytes = new TextEncoder().encode(JSON.stringify(shape)).length;
  const t = table(`marshalling a structured value (a Shape of ${shape.points.length} points, ${jsonBytes} bytes as JSON) (MB/s of JSON bytes)`,
    ['JSON.stringify/parse', 'structuredClone', PM_CLONE, COMLINK, WP],
    'MB/s counts the value’s JSON size for every contender; in page: encode + decode on the main thread (ferry ' +
    'codec from /dist/index.js, JSON.stringify + JSON.parse, structuredClone); to a worker and back: the worker ' +
    'echoes the value (ferry wasm: the C++ task echo_shape decodes it into a C++ struct and encodes it back)');
  const codec = await run.guard('import codec', () => import('/dist/index.js'));
  const ops = run.quick ? 20 : 400;
  const sameShape = (v) => v && v.name === shape.name && v.points?.length === shape.points.length &&
    v.points[shape.points.length - 1].y === shape.points[shape.points.length - 1].y;
  const inPage = {
    'ferry codec': codec && (() => codec.decode(codec.encode(shape))),
    'JSON.stringify/parse': () => JSON.parse(JSON.stringify(shape)),
    structuredClone: () => structuredClone(shape),
  };
  const res = await interleaved(run, inPage, run.reps + 1, async (name, f, r) => {
    const t0 = performance.now();
    for (let k = 0; k < ops; k++) if (!sameShape(f())) throw new Error(`${name}: the value came back different`);
    return r === 0 ? undefined : (ops * jsonBytes) / ((performance.now() - t0) / 1000) / 1e6;
  });
  const st = (res, name, n) => (res[name] ? stat(res[name].filter((v) => v !== undefined), n) : null);
  addRow(t, 'encode + decode in the page · ferry codec', 'MB/s', true, st(res, 'ferry codec', ops),
    { 'JSON.stringify/parse': st(res, 'JSON.stringify/parse', ops), structuredClone: st(res, 'structuredClone', ops) },
    '', 'marshalling throughput');

  const wops = run.quick ? 10 : 200;
  const echo = {
    'ferry JS': c.ferryJs && (() => c.ferryJs.call('echo', shape)),
    'ferry wasm': c.ferryWasm && (() => c.ferryWasm.call('echo_shape', shape)),
    [PM_CLONE]: () => c.plain.call({ op: 'echo', v: shape }).then((m) => m.r),
    [COMLINK]: () => c.comlink.echo(shape),
    [WP]: () => c.wp.exec('echo', [shape]),
  };
  const wres = await interleaved(run, echo, run.reps + 1, async (name, f, r) => {
    const t0 = performance.now();
    for (let k = 0; k < wops; k++) if (!sameShape(await f())) throw new Error(`${name}: the echoed value came back different`);
    return r === 0 ? undefined : (wops * jsonBytes) / ((performance.now() - t0) / 1000) / 1e6;
  });
  const others = { [PM_CLONE]: st(wres, PM_CLONE, wops), [COMLINK]: st(wres, COMLINK, wops), [WP]: st(wres, WP, wops) };
  addRow(t, 'echo to a worker and back · ferry JS workers', 'MB/s', true, st(wres, 'ferry JS', wops), others);
  addRow(t, 'echo to a worker and back · ferry wasm (C++ echo_shape)', 'MB/s', true, st(wres, 'ferry wasm', wops), others,
    '', 'marshalling throughput');
  run.tables.push(t);
}

// --- 5. Stream under backpressure -------------------------------------------------------------

async function backpressure(run) {
  log('backpressure');
  const { c } = run;
  const size = 4096;
  const msg = new Uint8Array(size).fill(7);
  // The producer's own cost per message: posting a 4 KiB message that the worker ignores.
  const k = 400;
  let t0 = performance.now();
  for (let i = 0; i < k; i++) c.plain.post({ op: 'noop', v: msg });
  const prodUs = ((performance.now() - t0) * 1000) / k;
  await c.plain.call({ op: 'add', a: 0, b: 0 });
  const work = Math.max(20, Math.ceil(10 * prodUs));
  const n = run.quick ? 100 : Math.round(300_000 / work);
  const ack = 8;
  const t = table('stream under backpressure: 4 KiB messages to a worker 10x slower than the producer',
    ['consumer alone', PM, COMLINK, WP],
    `producer posts a 4 KiB message in ${prodUs.toFixed(1)} µs; the consumer spins ${work} µs per message; ${n} ` +
    `messages per rep; in flight = sent − acknowledged (the consumer acknowledges every ${ack}); ferry: ` +
    `pool.stream('slow_sink') (JavaScript, and C++ in wasm) with its default 64 KiB rings, send() waits while the ring is full; postMessage, ` +
    'Comlink and workerpool have no backpressure: every message is posted (or called) at once');
  // One ferry contender: stream n messages to slow_sink (JavaScript or C++),
  // reading its acknowledgements while sending; send() waits on the ring.
  const ferrySink = async (pool, label) => {
    const s = await pool.stream('slow_sink', { args: [work, ack] });
    let acked = 0, peak = 0, sent = 0;
    const start = performance.now();
    const reader = (async () => {
      for await (const v of s) acked = v;
    })();
    for (let i = 0; i < n; i++) {
      if (!s.trySend(msg)) await s.send(msg);
      sent++;
      peak = Math.max(peak, sent - acked);
    }
    await s.close();
    await reader;
    check(`${label} count`, acked, n);
    // The JavaScript task returns its count; a C++ stream task returns unit.
    if (pool === c.ferryJs) check(`${label} result`, await s.done, n);
    return { seconds: (performance.now() - start) / 1000, peak };
  };
  const runs = {
    'ferry JS': c.ferryJs && (() => ferrySink(c.ferryJs, 'slow_sink')),
    'ferry wasm': c.ferryWasm && (() => ferrySink(c.ferryWasm, 'C++ slow_sink')),
    [PM]: async () => {
      await c.plain.call({ op: 'sink-start' });
      let acked = 0;
      const done = new Promise((resolve) => {
        c.plain.onAck = (v) => {
          acked = v;
          if (v === n) resolve();
        };
      });
      const start = performance.now();
      let peak = 0;
      for (let i = 0; i < n; i++) {
        c.plain.post({ op: 'sink', work, ack, last: i === n - 1, v: msg });
        peak = Math.max(peak, i + 1 - acked);
      }
      await done;
      c.plain.onAck = null;
      return { seconds: (performance.now() - start) / 1000, peak };
    },
    [COMLINK]: async () => {
      const start = performance.now();
      let acked = 0, peak = 0;
      const ps = [];
      for (let i = 0; i < n; i++) {
        ps.push(c.comlink.sink(work, msg).then(() => acked++));
        peak = Math.max(peak, i + 1 - acked);
      }
      await Promise.all(ps);
      return { seconds: (performance.now() - start) / 1000, peak };
    },
    [WP]: async () => {
      const start = performance.now();
      let acked = 0, peak = 0;
      const ps = [];
      for (let i = 0; i < n; i++) {
        ps.push(c.wp.exec('sink', [work, msg]).then(() => acked++));
        peak = Math.max(peak, i + 1 - acked);
      }
      await Promise.all(ps);
      return { seconds: (performance.now() - start) / 1000, peak };
    },
    'consumer alone': async () => {
      const start = performance.now();
      for (let i = 0; i < n; i++) self.benchTasks.spin(work);
      return { seconds: (performance.now() - start) / 1000, peak: 0 };
    },
  };
  const res = await interleaved(run, runs, run.reps, (name, f) => f());
  const rate = (name) => (res[name] ? stat(res[name].map((r) => n / r.seconds / 1000), n) : null);
  const peak = (name) => (res[name] ? stat(res[name].map((r) => (r.peak * size) / 1024), n) : null);
  addRow(t, 'delivered · ferry JS stream', 'k msg/s', true, rate('ferry JS'),
    { 'consumer alone': rate('consumer alone'), [PM]: rate(PM), [COMLINK]: rate(COMLINK), [WP]: rate(WP) },
    'should equal the consumer alone', 'stream throughput under backpressure');
  addRow(t, 'peak in flight · ferry JS stream', 'KiB', false, peak('ferry JS'),
    { [PM]: peak(PM), [COMLINK]: peak(COMLINK), [WP]: peak(WP) },
    'bounded by the stream’s ring for ferry; everything sent, for the others', 'stream throughput under backpressure');
  addRow(t, 'delivered · ferry wasm stream (C++ slow_sink)', 'k msg/s', true, rate('ferry wasm'),
    { 'consumer alone': rate('consumer alone'), [PM]: rate(PM), [COMLINK]: rate(COMLINK), [WP]: rate(WP) },
    'should equal the consumer alone', 'stream throughput under backpressure');
  addRow(t, 'peak in flight · ferry wasm stream (C++ slow_sink)', 'KiB', false, peak('ferry wasm'),
    { [PM]: peak(PM), [COMLINK]: peak(COMLINK), [WP]: peak(WP) },
    'bounded by the stream’s ring for ferry; everything sent, for the others', 'stream throughput under backpressure');
  run.tables.push(t);
}

// --- 6. Memory after 10,000 operations -----------------------------------------------------------

async function memory(run) {
  log('memory after 10k operations');
  const { c } = run;
  const ops = run.quick ? 300 : 10000;
  const sizes = [64, 1000, 4096, 300, 16384, 2048, 128];
  const payloads = sizes.map((s) => new Uint8Array(s).fill(s & 0xff));
  const t = table(`memory after ${ops.toLocaleString('en-US')} calls (echo of 64 B–16 KiB byte arrays, sizes cycled)`,
    [PM, COMLINK, WP],
    'JS heap: performance.memory.usedJSHeapSize after gc() (Chromium runs with --expose-gc and ' +
    '--enable-precise-memory-info), after the calls minus before; wasm heap (dlmalloc via pool.heap()): the ' +
    `calls go to echo_bytes and, when pool.alloc() exists, each also leases and releases a WasmBuffer of 3x its size`);
  const calls = {
    'ferry JS': c.ferryJs && ((p) => c.ferryJs.call('echo', p)),
    'ferry wasm': c.ferryWasm && ((p) => c.ferryWasm.call('echo_bytes', p)),
    [PM]: (p) => c.plain.call({ op: 'echo', v: p }).then((m) => m.r),
    [COMLINK]: (p) => c.comlink.echo(p),
    [WP]: (p) => c.wp.exec('echo', [p]),
  };
  const growth = {};
  let heapBefore = null, heapAfter = null;
  for (const [name, f] of Object.entries(calls)) {
    if (!f) continue;
    await run.guard(`${name} memory`, async () => {
      const wasm = name === 'ferry wasm';
      for (let i = 0; i < 50; i++) await f(payloads[i % payloads.length]);  // warm-up
      const h0 = await gcAndHeap();
      if (wasm) heapBefore = heapOf(c.ferryWasm);
      for (let i = 0; i < ops; i++) {
        const p = payloads[i % payloads.length];
        if (wasm && typeof c.ferryWasm.alloc === 'function') {
          const b = c.ferryWasm.alloc(p.length * 3);
          b.bytes[0] = 1;
          b.release();
        }
        const got = await f(p);
        if (!(got instanceof Uint8Array) || got.length !== p.length || got[p.length - 1] !== p[p.length - 1]) {
          throw new Error(`${name}: echo of ${p.length} bytes came back wrong`);
        }
      }
      const h1 = await gcAndHeap();
      if (wasm) heapAfter = heapOf(c.ferryWasm);
      growth[name] = single((h1 - h0) / 1024, ops);
    });
  }
  const others = { [PM]: growth[PM], [COMLINK]: growth[COMLINK], [WP]: growth[WP] };
  addRow(t, 'JS heap growth · ferry JS workers', 'KiB', false, growth['ferry JS'], others, '', 'memory fragmentation after 10k ops');
  addRow(t, 'JS heap growth · ferry wasm workers', 'KiB', false, growth['ferry wasm'], others, '', 'memory fragmentation after 10k ops');
  if (heapBefore && heapAfter) {
    const kib = (v) => single(v / 1024, ops);
    // Released WasmBuffers wait in a quarantine before the allocator gets them back (web/src/buffer.ts).
    const live = (h) => h.inUse - (h.quarantined ?? 0);
    addRow(t, 'wasm heap in use, after − before · ferry wasm', 'KiB', false, kib(live(heapAfter) - live(heapBefore)), {},
      `before ${Math.round(live(heapBefore) / 1024)} KiB; not counted: ${Math.round((heapAfter.quarantined ?? 0) / 1024)} KiB of released WasmBuffers in quarantine`,
      'memory fragmentation after 10k ops');
    addRow(t, 'wasm heap high-water mark · ferry wasm', 'KiB', false, kib(heapAfter.highWater), {},
      `before ${Math.round(heapBefore.highWater / 1024)} KiB; linear memory ${Math.round(heapAfter.memoryBytes / 2 ** 20)} MiB`,
      'memory fragmentation after 10k ops');
    addRow(t, 'wasm heap free chunks · ferry wasm', 'chunks', false, single(heapAfter.freeChunks, ops), {},
      `before ${heapBefore.freeChunks}; dlmalloc's free-list length`, 'memory fragmentation after 10k ops');
    addRow(t, 'wasm heap free bytes inside the heap · ferry wasm', 'KiB', false, kib(heapAfter.free), {},
      `before ${Math.round(heapBefore.free / 1024)} KiB; ${((100 * heapAfter.free) / (heapAfter.free + heapAfter.inUse)).toFixed(1)}% of the heap's bytes`,
      'memory fragmentation after 10k ops');
  }
  run.tables.push(t);
}

// --- Entry point -------------------------------------------------------------------------------

function environment() {
  const ua = navigator.userAgent;
  const ff = /Firefox\/([\d.]+)/.exec(ua);
  const m = ff ?? /(?:Headless)?Chrom(?:e|ium)\/([\d.]+)/.exec(ua);
  return {
    platform: `${ff ? 'Firefox' : 'Chromium'} ${m ? m[1] : '?'} (${/Headless/.test(ua) ? 'headless, ' : ''}crossOriginIsolated ${String(globalThis.crossOriginIsolated)})`,
    compiler: 'ferry web package (/dist) and ferry_web.wasm (em++); Comlink, workerpool from node_modules',
    cores: navigator.hardwareConcurrency,
    build_type: 'Release',
    ndebug: true,
  };
}

export async function runBench(opts = {}) {
  const t0 = performance.now();
  const run = new Run(opts);
  if (!globalThis.crossOriginIsolated) run.problems.push('the page is not cross-origin isolated: SharedArrayBuffer and Atomics.waitAsync are missing');
  const ringCapacity = opts.quick ? 1 << 20 : 32 << 20;  // 16 MiB buffers through the ring need 32 MiB rings
  await setUp(run, { ringCapacity });
  const cases = { engine: engineCosts, latency: callLatency, inflight: callsInFlight, wake: wakeStrategies, busy: busyCore, streams: streamThroughput, small: smallStreams, buffers, large: largeDefault, marshalling, backpressure, memory };
  for (const [name, fn] of Object.entries(cases)) {
    if (opts.only && !opts.only.includes(name)) continue;
    await run.guard(`case ${name}`, () => fn(run));
  }
  await run.guard('tear down', () => tearDown(run));
  return {
    benchmark: 'browser_bench',
    env: environment(),
    settings: { quick: run.quick ? 'true' : 'false', reps: String(run.reps), ring_capacity: String(ringCapacity),
                total_seconds: ((performance.now() - t0) / 1000).toFixed(2) },
    tables: run.tables,
    problems: run.problems,
    skipped: run.skipped,
  };
}

globalThis.runBench = runBench;
globalThis.benchReady = true;
