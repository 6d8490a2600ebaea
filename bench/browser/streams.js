// The stream cases: small messages to a worker and back (pool.stream('upper')
// against postMessage, and Comlink and workerpool calls), small values one way
// (8-byte numbers and 32-byte strings, page -> worker and worker -> page) and
// a stream under backpressure (a consumer 10x slower than its producer:
// delivered rate and peak bytes in flight).
import { COMLINK, PM, WP, addRow, check, interleaved, log, repsOf, stat, table, timedReps } from '/bench/harness.js';

// --- Small-message stream throughput -----------------------------------------------------

export async function streamThroughput(run) {
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
  const res = await timedReps(run, runs, n, 1000, (name, f) => f());
  const st = (name) => repsOf(res, name, n);
  const t = table('small-message stream: 20-byte strings to a worker and back upper-cased (k msg/s)', [PM, COMLINK, WP],
    `${n} messages per rep, median of ${run.reps} after a warm-up rep; ferry: pool.stream('upper') (trySend, await ` +
    `send when full; for await on the output); postMessage: one message per string, all posted at once, a pending ` +
    `map of promises; Comlink and workerpool have no streams: calls with ${window} in flight`);
  const others = { [PM]: st(PM), [COMLINK]: st(COMLINK), [WP]: st(WP) };
  addRow(t, 'stream · ferry JS workers', 'k msg/s', true, st('ferry JS'), others);
  addRow(t, 'stream · ferry wasm workers (C++ upper)', 'k msg/s', true, st('ferry wasm'), others);
  run.tables.push(t);
}

// --- Small values one way -------------------------------------------------------------

// 8-byte numbers and 32-byte strings, page -> worker (a sink that counts
// them) and worker -> page (a source that sends them), against one
// postMessage per value. Also the postMessage transport (no shared memory)
// with one `await send()` per value, against the same postMessage baseline.
export async function smallStreams(run) {
  log('small-value streams');
  const { c } = run;
  const n = run.quick ? 2000 : 200000;
  const t = table('small values one way: 8-byte numbers and 32-byte strings between the page and a worker (k values/s)', [PM],
    `${n} values per rep, median of ${run.reps} after a warm-up rep; ferry: page → worker trySend (await send when full) ` +
    `into a task that counts them; worker → page a task that sends them, read with recvBatch(4096); postMessage: one ` +
    `message per value (the worker counts them / posts them); "postMessage transport": ferry without shared memory ` +
    `(transport: 'postMessage', as in a page that is not cross-origin isolated), one await send() per value`);
  for (const strings of [false, true]) {
    const what = strings ? '32-byte strings' : '8-byte numbers';
    for (const dir of ['page → worker', 'worker → page']) {
      const to = dir === 'page → worker';
      const res = await timedReps(run, smallValueRuns(c, n, strings, to), n, 1000, (name, f) => f());
      const st = (name) => repsOf(res, name, n);
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

// The i-th value of a small-value stream: a 32-byte string (tasks.js) or a number.
const smallValue = (strings, i) => (strings ? self.benchTasks.smallString(i) : i + 0.5);

// The contenders of one direction (page -> worker when `to`), each a function
// that moves n values and checks what arrived; a pool that did not start is
// left out.
function smallValueRuns(c, n, strings, to) {
  const runs = to
    ? {
        'ferry JS': sendValues(c.ferryJs, 'sink', n, strings, false),
        'ferry wasm': sendValues(c.ferryWasm, strings ? 'sink_str' : 'sink_f64', n, strings, false),
        'ferry JS, postMessage transport': sendValues(c.ferryMsg, 'sink', n, strings, true),
        [PM]: postValues(c.plain, n, strings),
      }
    : {
        'ferry JS': receiveValues(c.ferryJs, 'source', [strings, n], n, strings),
        'ferry wasm': receiveValues(c.ferryWasm, strings ? 'source_str' : 'source_f64', [n], n, strings),
        [PM]: postedValues(c.plain, n, strings),
      };
  for (const k of Object.keys(runs)) if (!runs[k]) delete runs[k];
  return runs;
}

// page -> worker: send n values, close, read the count.
const sendValues = (pool, task, n, strings, awaitEach) => pool && (async () => {
  const s = await pool.stream(task);
  if (awaitEach) {
    for (let i = 0; i < n; i++) await s.send(smallValue(strings, i));
  } else {
    for (let i = 0; i < n; i++) {
      const v = smallValue(strings, i);
      if (!s.trySend(v)) await s.send(v);
    }
  }
  await s.close();
  const r = await s.recv();
  check(`${task}: count`, r.value, n);
  await s.done;
});

// worker -> page: read n values in batches.
const receiveValues = (pool, task, args, n, strings) => pool && (async () => {
  const s = await pool.stream(task, { args });
  await s.close();
  let k = 0, last;
  for (let b = await s.recvBatch(4096); b.length !== 0; b = await s.recvBatch(4096)) {
    k += b.length;
    last = b[b.length - 1];
  }
  check(`${task}: values`, k, n);
  check(`${task}: last`, last, smallValue(strings, n - 1));
  await s.done;
});

// postMessage, page -> worker: one message per value, the last one answered with the count.
const postValues = (plain, n, strings) => async () => {
  for (let i = 0; i < n - 1; i++) plain.post({ op: 'small', v: smallValue(strings, i) });
  check('postMessage sink count', (await plain.call({ op: 'small', v: smallValue(strings, n - 1), last: true })).r, n);
};

// postMessage, worker -> page: the worker posts n values, then answers the call.
const postedValues = (plain, n, strings) => async () => {
  let k = 0, last;
  plain.onValue = (v) => {
    k++;
    last = v;
  };
  await plain.call({ op: 'source', n, strings });
  plain.onValue = null;
  check('postMessage source values', k, n);
  check('postMessage source last', last, smallValue(strings, n - 1));
};

// --- Stream under backpressure -------------------------------------------------------------

export async function backpressure(run) {
  log('backpressure');
  const { c } = run;
  const size = 4096;
  const msg = new Uint8Array(size).fill(7);
  const prodUs = await producerCost(c, msg);
  const work = Math.max(20, Math.ceil(10 * prodUs));
  const n = run.quick ? 100 : Math.round(300_000 / work);
  const ack = 8;
  const t = table('stream under backpressure: 4 KiB messages to a worker 10x slower than the producer',
    ['consumer alone', PM, COMLINK, WP],
    `producer posts a 4 KiB message in ${prodUs.toFixed(1)} µs; the consumer spins ${work} µs per message; ${n} ` +
    `messages per rep; in flight = sent − acknowledged (the consumer acknowledges every ${ack}); ferry: ` +
    `pool.stream('slow_sink') (JavaScript, and C++ in wasm) with its default 64 KiB rings, send() waits while the ring is full; postMessage, ` +
    'Comlink and workerpool have no backpressure: every message is posted (or called) at once');
  const sink = { n, work, ack, msg };
  const runs = {
    'ferry JS': c.ferryJs && (() => ferrySink(c, c.ferryJs, 'slow_sink', sink)),
    'ferry wasm': c.ferryWasm && (() => ferrySink(c, c.ferryWasm, 'C++ slow_sink', sink)),
    [PM]: () => postSink(c.plain, sink),
    [COMLINK]: () => callEach(n, () => c.comlink.sink(work, msg)),
    [WP]: () => callEach(n, () => c.wp.exec('sink', [work, msg])),
    'consumer alone': async () => {
      const start = performance.now();
      for (let i = 0; i < n; i++) self.benchTasks.spin(work);
      return { seconds: (performance.now() - start) / 1000, peak: 0 };
    },
  };
  const res = await interleaved(run, runs, run.reps, (name, f) => f());
  const rate = (name) => (res[name] ? stat(res[name].map((r) => n / r.seconds / 1000), n) : null);
  const peak = (name) => (res[name] ? stat(res[name].map((r) => (r.peak * size) / 1024), n) : null);
  for (const [name, shown] of [['ferry JS', 'ferry JS stream'], ['ferry wasm', 'ferry wasm stream (C++ slow_sink)']]) {
    addRow(t, `delivered · ${shown}`, 'k msg/s', true, rate(name),
      { 'consumer alone': rate('consumer alone'), [PM]: rate(PM), [COMLINK]: rate(COMLINK), [WP]: rate(WP) },
      'should equal the consumer alone', 'stream throughput under backpressure');
    addRow(t, `peak in flight · ${shown}`, 'KiB', false, peak(name),
      { [PM]: peak(PM), [COMLINK]: peak(COMLINK), [WP]: peak(WP) },
      'bounded by the stream’s ring for ferry; everything sent, for the others', 'stream throughput under backpressure');
  }
  run.tables.push(t);
}

// The producer's own cost per message, µs: posting a 4 KiB message that the worker ignores.
async function producerCost(c, msg) {
  const k = 400;
  const t0 = performance.now();
  for (let i = 0; i < k; i++) c.plain.post({ op: 'noop', v: msg });
  const prodUs = ((performance.now() - t0) * 1000) / k;
  await c.plain.call({ op: 'add', a: 0, b: 0 });
  return prodUs;
}

// One ferry contender: stream n messages to slow_sink (JavaScript or C++),
// reading its acknowledgements while sending; send() waits on the ring.
async function ferrySink(c, pool, label, { n, work, ack, msg }) {
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
}

// postMessage: every message posted at once; the worker acknowledges every `ack`.
async function postSink(plain, { n, work, ack, msg }) {
  await plain.call({ op: 'sink-start' });
  let acked = 0;
  const done = new Promise((resolve) => {
    plain.onAck = (v) => {
      acked = v;
      if (v === n) resolve();
    };
  });
  const start = performance.now();
  let peak = 0;
  for (let i = 0; i < n; i++) {
    plain.post({ op: 'sink', work, ack, last: i === n - 1, v: msg });
    peak = Math.max(peak, i + 1 - acked);
  }
  await done;
  plain.onAck = null;
  return { seconds: (performance.now() - start) / 1000, peak };
}

// Comlink and workerpool: n calls made at once, each acknowledged by its answer.
async function callEach(n, call) {
  const start = performance.now();
  let acked = 0, peak = 0;
  const ps = [];
  for (let i = 0; i < n; i++) {
    ps.push(call().then(() => acked++));
    peak = Math.max(peak, i + 1 - acked);
  }
  await Promise.all(ps);
  return { seconds: (performance.now() - start) / 1000, peak };
}
