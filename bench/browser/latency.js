// The call cases: call latency (sequential await of add(i, 1), p50/p99, beside
// the raw SharedArrayBuffer ping-pong floor of wake.js), 64 calls in flight,
// the page's wake-up strategies (wake.js's raw round trips beside ferry's JS
// call), and the latency and in-flight rows again with one core kept busy by
// another process (and how much each contender's p99 grew).
import { COMLINK, FLOOR, PM, WP, addRow, check, interleaved, log, pctOf, repsOf, single, table, timedReps } from '/bench/harness.js';
import { kFloor, wakeConfigs } from '/bench/wake.js';

// --- Call latency ------------------------------------------------------------------

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

export async function callLatency(run) {
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

// --- Calls in flight -----------------------------------------------------------------

// 64 callers, each awaiting its add() and making the next: calls per second.
function measureInFlight(run, calls, n) {
  const lanes = 64;
  return timedReps(run, calls, n, 1, async (name, f) => {
    let next = 0;
    await Promise.all(Array.from({ length: lanes }, async () => {
      while (next < n) {
        const i = next++;
        const got = await f(i);
        if (got !== i + 1) throw new Error(`${name}: add(${i}, 1) returned ${got}`);
      }
    }));
  });
}

export async function callsInFlight(run) {
  log('calls in flight');
  const n = run.quick ? 2000 : 40000;
  const calls = latencyCalls(run, ['ferry JS workers', 'ferry wasm workers', PM, COMLINK, WP]);
  const res = await measureInFlight(run, calls, n);
  run.idleInFlight = res;
  const t = table('calls in flight: 64 callers awaiting add(i, 1) in a loop (calls/s)', [PM, COMLINK, WP],
    `${n} calls per rep, median of ${run.reps} after a warm-up rep; ferry pools have 2 workers (maxInFlight 64 each), ` +
    'postMessage one worker with a pending map, Comlink one worker, workerpool maxWorkers 2');
  const others = { [PM]: repsOf(res, PM, n), [COMLINK]: repsOf(res, COMLINK, n), [WP]: repsOf(res, WP, n) };
  addRow(t, '64 in flight · ferry JS workers', 'calls/s', true, repsOf(res, 'ferry JS workers', n), others, 'goal: ≥ 5× postMessage', 'calls in flight');
  addRow(t, '64 in flight · ferry wasm workers (C++ add)', 'calls/s', true, repsOf(res, 'ferry wasm workers', n), others, 'goal: ≥ 5× postMessage', 'calls in flight');
  run.tables.push(t);
}

// --- Wake-up strategies ----------------------------------------------------------------

// The raw round trip of each wake-up configuration of wake.js, side by side
// with ferry's JS call: the measurements behind web/README.md "Waiting".
export async function wakeStrategies(run) {
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
    const others = Object.fromEntries(names.map((n) => [n, pctOf(per, n, q)]));
    addRow(t, `p${q} round trip`, 'µs', false, pctOf(per, 'ferry', q), others);
  }
  run.tables.push(t);
}

// --- With one core busy -----------------------------------------------------------------

// The latency and in-flight rows again while another process keeps one core
// busy (the runner starts `yes > /dev/null`: benchBusyCore(true)), and how
// much each contender's p99 grew against its idle run above.
export async function busyCore(run) {
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
    res = await measureInFlight(run, latencyCalls(run, names.filter((x) => x !== FLOOR)), n);
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
    addRow(t, `busy core · 64 in flight · ${shown}`, 'calls/s', true, repsOf(res, variant, n), { [PM]: repsOf(res, PM, n) });
  }
  run.tables.push(t);
}
