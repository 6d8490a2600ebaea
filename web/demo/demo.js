// ferry demo: C++ tasks in a wasm WorkerPool render Mandelbrot tiles, which
// stream back into a canvas; live charts show what the pool and its rings do.
//
// Pipeline (stream mode): one `mandelbrot` stream per worker. Each stream has
// a producer loop (`await s.send(TileRequest)`) and a consumer loop
// (`for await (const tile of s)` -> putImageData). All producers take tiles
// from one shared cursor over the current view, so faster workers take more.
// Normally each producer keeps at most CREDIT tiles in flight, which keeps
// latency near the compute time. With the slow consumer on, the consumer
// sleeps SLOW_MS per tile and the producers stop pacing themselves: the
// stream's rings fill, `send()` waits, and memory stays flat.
// Call mode does the same with `pool.call('render_tile', req)`.
//
// Query parameters (same origin only): ?pool=URL of the module exporting
// WorkerPool (default /dist/index.js), ?module=URL of the wasm glue (default
// /wasm/ferry_web.js), or ?script=URL of a JavaScript worker script with the
// same two tasks instead of the wasm module; ?workers=N, ?mode=stream|call,
// ?slow=1.
//
// TileRequest (web/wasm/ferry_web.cpp): cx, cy = the centre of the whole
// image (width x height pixels) in the complex plane; pixel (x+i, y+j) is
//   re = cx + (x + i - width/2) * scale,  im = cy + (y + j - height/2) * scale.
//
// For the headless runner and the specs, window.__ferryDemo holds the live
// numbers and window.__ferryReady turns true once the pool is up.

const CAPACITY = 256 * 1024; // bytes per stream ring
const SLOW_MS = 30; // the slow consumer's sleep per tile
const CREDIT = 8; // tiles in flight per stream when pacing
const CALLS_PER_WORKER = 3; // concurrent calls per worker in call mode
const TICK_MS = 250; // chart and number refresh
const CHART_POINTS = 240; // 60 s of history
const LATENCY_WINDOW = 512; // tiles the percentiles are taken over
const START_VIEW = { cx: -0.6, cy: 0, scale: 3.0 / 768 };
const AUTO_TARGET = { cx: -0.743643887037151, cy: 0.13182590420533 };

const $ = (id) => document.getElementById(id);
const now = () => performance.now();
const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

// ---------------------------------------------------------------- live state

const demo = {
  ready: false,
  workers: 0,
  poolWorkers: 0, // workers the pool reports in stats()
  poolGeneration: 0, // bumped every time the pool is (re)created
  transport: null,
  mode: 'stream',
  slow: false,
  paused: false,
  tilesDone: 0,
  tilesDrawn: 0,
  bytesDone: 0,
  iterationsDone: 0,
  frames: 0,
  tilesPerFrame: 0,
  tilesPerSec: 0,
  mbPerSec: 0,
  p50Ms: 0,
  p99Ms: 0,
  queueDepth: { ringBytes: null, tilesInFlight: 0, poolQueued: 0, peakRingBytes: 0, peakTilesInFlight: 0 },
  heap: { jsBytes: null, wasm: null },
  producer: { waiting: 0, sendWaitMs: 0, waitRatio: 0 },
  view: { ...START_VIEW, gen: 0 },
  errors: [],
};
window.__ferryDemo = demo;
window.__ferryReady = false;
// When each send() still waiting began: a tick counts the time they have
// waited so far, not only the sends that finished within it (a send that
// waits longer than a tick would otherwise leave its ticks at 0%).
const sendsWaiting = new Set();

function setStatus(text) {
  $('status').textContent = text;
}

// Shows an error in the page (never a blank page) and records it.
function reportError(context, e) {
  const text = `${context}: ${e && e.name ? `${e.name}: ` : ''}${e && e.message !== undefined ? e.message : String(e)}`;
  demo.errors.push(text);
  const box = $('error');
  box.hidden = false;
  box.textContent = demo.errors.slice(-5).join('\n');
  console.error(`[ferry demo] ${text}`, e);
  return text;
}

// --------------------------------------------------------------- small tools

class Signal {
  #waiters = [];
  wait() {
    return new Promise((ok) => this.#waiters.push(ok));
  }
  notify() {
    const w = this.#waiters;
    this.#waiters = [];
    for (const ok of w) ok();
  }
}

function percentile(sorted, p) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function fmtBytes(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return 'n/a';
  if (n < 1024) return `${n.toFixed(0)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

function fmt(n, digits = 1) {
  if (n === null || n === undefined || !Number.isFinite(n)) return 'n/a';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

// Same-origin URL from a query parameter, or the default.
function sameOriginParam(params, name, fallback) {
  const v = params.get(name);
  if (!v) return fallback;
  const u = new URL(v, location.href);
  if (u.origin !== location.origin) throw new Error(`?${name}=${v} is not on this origin`);
  return u.pathname + u.search;
}

// ---------------------------------------------------------------- charts
// Hand-drawn line charts: a ring of samples per series, one or two y axes
// scaled to the visible maximum, legend with the latest values.

class Chart {
  constructor(canvas, series) {
    this.canvas = canvas;
    this.series = series.map((s) => ({ axis: 'left', ...s, data: new Array(CHART_POINTS).fill(null) }));
    this.ctx = canvas.getContext('2d');
  }

  push(values) {
    this.series.forEach((s, i) => {
      s.data.push(values[i] ?? null);
      s.data.shift();
    });
  }

  draw() {
    const { canvas, ctx } = this;
    const dpr = window.devicePixelRatio || 1;
    const W = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const H = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== W || canvas.height !== H) {
      canvas.width = W;
      canvas.height = H;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const w = W / dpr;
    const h = H / dpr;
    ctx.font = '10px ui-monospace, monospace';
    const legend = this.series.map((s) => {
      const last = s.data[s.data.length - 1];
      return { s, text: `${s.name} ${last === null ? 'n/a' : s.tick(last)}` };
    });
    let lx = 46;
    let row = 0;
    for (const item of legend) {
      const width = ctx.measureText(item.text).width + 24;
      if (lx + width > w - 8 && lx > 46) {
        lx = 46;
        row++;
      }
      item.x = lx;
      item.y = 11 + row * 13;
      lx += width;
    }
    const pad = { l: 46, r: 46, t: 22 + row * 13, b: 14 };
    const pw = w - pad.l - pad.r;
    const ph = h - pad.t - pad.b;
    ctx.clearRect(0, 0, w, h);
    ctx.textBaseline = 'middle';

    const max = {};
    for (const axis of ['left', 'right']) {
      let m = 0;
      for (const s of this.series) if (s.axis === axis) for (const v of s.data) if (v !== null && v > m) m = v;
      max[axis] = niceCeil(m || 1);
    }
    // grid and axis labels
    ctx.strokeStyle = '#2a3039';
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = pad.t + (ph * i) / 4;
      ctx.beginPath();
      ctx.moveTo(pad.l, Math.round(y) + 0.5);
      ctx.lineTo(pad.l + pw, Math.round(y) + 0.5);
      ctx.stroke();
      const frac = 1 - i / 4;
      const left = this.series.find((s) => s.axis === 'left');
      const right = this.series.find((s) => s.axis === 'right');
      ctx.fillStyle = left ? left.color : '#8a94a3';
      ctx.textAlign = 'right';
      if (left) ctx.fillText(left.tick(max.left * frac), pad.l - 4, y);
      if (right) {
        ctx.fillStyle = right.color;
        ctx.textAlign = 'left';
        ctx.fillText(right.tick(max.right * frac), pad.l + pw + 4, y);
      }
    }
    // lines
    for (const s of this.series) {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 1.5;
      ctx.setLineDash(s.dash ?? []);
      ctx.beginPath();
      let pen = false;
      s.data.forEach((v, i) => {
        if (v === null) {
          pen = false;
          return;
        }
        const x = pad.l + (pw * i) / (CHART_POINTS - 1);
        const y = pad.t + ph * (1 - Math.min(1, v / max[s.axis]));
        if (pen) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
        pen = true;
      });
      ctx.stroke();
    }
    ctx.setLineDash([]);
    // legend
    ctx.textAlign = 'left';
    for (const { s, text, x, y } of legend) {
      ctx.fillStyle = s.color;
      ctx.fillRect(x, y - 4, 8, 8);
      ctx.fillStyle = '#d8dde4';
      ctx.fillText(text, x + 11, y);
    }
  }
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

const kib = (v) => (v >= 1024 * 1024 ? `${(v / 1048576).toFixed(1)}M` : `${(v / 1024).toFixed(v < 10240 ? 1 : 0)}K`);
const num = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const ms = (v) => `${num(v)}ms`;
const mib = (v) => `${(v / 1048576).toFixed(v < 10 * 1048576 ? 1 : 0)}M`;

let charts = null;
function makeCharts() {
  charts = {
    throughput: new Chart($('chart-throughput'), [
      { name: 'tiles/s', color: '#5fb3ff', tick: num },
      { name: 'MB/s', color: '#ffb35f', axis: 'right', tick: num, dash: [5, 4] },
    ]),
    queue: new Chart($('chart-queue'), [
      { name: 'ring bytes', color: '#b78cff', tick: kib },
      { name: 'in flight', color: '#5fdc8c', axis: 'right', tick: num },
      { name: 'queued', color: '#ff6b9a', axis: 'right', tick: num },
    ]),
    latency: new Chart($('chart-latency'), [
      { name: 'p50', color: '#5fdc8c', tick: ms },
      { name: 'p99', color: '#ff6b6b', tick: ms },
    ]),
    heap: new Chart($('chart-heap'), [
      { name: 'JS heap', color: '#ffd75f', tick: mib },
      { name: scriptURL ? 'arena in use' : 'wasm in use', color: '#5fb3ff', tick: mib },
    ]),
  };
}

// ---------------------------------------------------------------- the view

const canvas = () => $('view');
let tileSize = 64;
let maxIter = 256;
let tiles = []; // this view's tiles, centre first
let cursor = 0; // next tile to hand out
const images = new Map(); // reused ImageData per tile size, keeps the JS heap flat

function layoutTiles() {
  const W = canvas().width;
  const H = canvas().height;
  const list = [];
  for (let y = 0; y < H; y += tileSize) {
    for (let x = 0; x < W; x += tileSize) {
      list.push({ x, y, w: Math.min(tileSize, W - x), h: Math.min(tileSize, H - y) });
    }
  }
  const d = (t) => (t.x + t.w / 2 - W / 2) ** 2 + (t.y + t.h / 2 - H / 2) ** 2;
  list.sort((a, b) => d(a) - d(b));
  tiles = list;
  cursor = 0;
  demo.tilesPerFrame = list.length;
}

// The next TileRequest of the current view (frame after frame), with the
// view generation it belongs to.
function nextRequest() {
  if (cursor >= tiles.length) {
    cursor = 0;
    demo.frames++;
    if ($('auto').checked) autoZoomStep();
  }
  const t = tiles[cursor++];
  const v = demo.view;
  return {
    gen: v.gen,
    req: {
      x: t.x,
      y: t.y,
      w: t.w,
      h: t.h,
      max_iter: maxIter,
      cx: v.cx,
      cy: v.cy,
      scale: v.scale,
      width: canvas().width,
      height: canvas().height,
    },
  };
}

function setView(cx, cy, scale, { restart = true } = {}) {
  demo.view = { cx, cy, scale, gen: demo.view.gen + 1 };
  cursor = 0;
  $('where').textContent = `centre ${cx.toPrecision(12)} ${cy >= 0 ? '+' : '−'} ${Math.abs(cy).toPrecision(12)}i, ${(START_VIEW.scale / scale).toPrecision(3)}× zoom`;
  // Work already sent for the old view is dropped on arrival; streams are
  // restarted so that their rings' backlog does not delay the new view.
  if (restart && demo.mode === 'stream' && run) restartRun();
}

function autoZoomStep() {
  const v = demo.view;
  if (v.scale < 1e-13) return setView(START_VIEW.cx, START_VIEW.cy, START_VIEW.scale, { restart: false });
  const k = 0.85;
  setView(v.cx + (AUTO_TARGET.cx - v.cx) * 0.25, v.cy + (AUTO_TARGET.cy - v.cy) * 0.25, v.scale * k, { restart: false });
}

function zoomAt(px, py, factor) {
  const c = canvas();
  const v = demo.view;
  const cx = v.cx + (px - c.width / 2) * v.scale;
  const cy = v.cy + (py - c.height / 2) * v.scale;
  setView(cx, cy, v.scale / factor);
}

// ---------------------------------------------------------------- tiles in

const latencies = new Float64Array(LATENCY_WINDOW);
let latencyCount = 0;

function onTile(tile, entry) {
  const t = now();
  latencies[latencyCount++ % LATENCY_WINDOW] = t - entry.t;
  const w = Number(tile.w);
  const h = Number(tile.h);
  const rgba = tile.rgba;
  demo.tilesDone++;
  demo.bytesDone += rgba ? rgba.byteLength : 0;
  demo.iterationsDone += Number(tile.iterations ?? 0);
  if (entry.gen !== demo.view.gen || !rgba) return;
  if (rgba.byteLength !== w * h * 4) {
    throw new Error(`tile ${tile.x},${tile.y} has ${rgba.byteLength} bytes of RGBA, expected ${w}×${h}×4 = ${w * h * 4}`);
  }
  const key = `${w}x${h}`;
  let img = images.get(key);
  if (!img) images.set(key, (img = new ImageData(w, h)));
  img.data.set(rgba); // copy: the bytes may be a view into a ring or wasm memory
  canvas().getContext('2d').putImageData(img, Number(tile.x), Number(tile.y));
  demo.tilesDrawn++;
}

// ------------------------------------------------------------------ runs
// A run is the set of loops feeding the pool for one view/mode; stopping it
// closes its streams and waits for its loops to end.

let pool = null;
let run = null;

function isShutdown(e, r) {
  return r.stopped;
}

function startStreamRun(p, nStreams) {
  const r = { stopped: false, streams: [], loops: [], kind: 'stream' };
  const open = async () => {
    for (let i = 0; i < nStreams; i++) {
      const s = await p.stream('mandelbrot', { capacity: CAPACITY, affinity: i }); // stream i on worker i
      if (r.stopped) {
        s.close();
        return;
      }
      const st = { s, sent: 0, received: 0, credit: new Signal(), pending: new Map() };
      r.streams.push(st);
      r.loops.push(producer(r, st), consumer(r, st));
    }
  };
  r.ready = open().catch((e) => {
    if (!r.stopped) reportError("pool.stream('mandelbrot')", e);
  });
  return r;
}

async function producer(r, st) {
  try {
    while (!r.stopped) {
      if (demo.paused) {
        await sleep(100);
        continue;
      }
      while (!demo.slow && !r.stopped && st.sent - st.received >= CREDIT) await st.credit.wait();
      if (r.stopped) break;
      const { gen, req } = nextRequest();
      const key = `${req.x},${req.y}`;
      const entry = { gen, t: now() };
      let q = st.pending.get(key);
      if (!q) st.pending.set(key, (q = []));
      q.push(entry);
      st.sent++;
      demo.producer.waiting++;
      const wait = { t0: now() };
      sendsWaiting.add(wait);
      try {
        await st.s.send(req);
      } finally {
        demo.producer.waiting--;
        sendsWaiting.delete(wait);
        demo.producer.sendWaitMs += now() - wait.t0;
      }
      entry.t = now(); // latency counts from the moment the ring took the request
    }
  } catch (e) {
    if (!isShutdown(e, r)) reportError('stream.send', e);
  }
}

async function consumer(r, st) {
  try {
    for await (const tile of st.s) {
      const q = st.pending.get(`${tile.x},${tile.y}`);
      const entry = q && q.length ? q.shift() : { gen: -1, t: now() };
      st.received++;
      st.credit.notify();
      onTile(tile, entry);
      if (demo.slow) await sleep(SLOW_MS);
      if (r.stopped) break;
    }
  } catch (e) {
    if (!isShutdown(e, r)) reportError('receiving tiles', e);
  }
}

function startCallRun(p, nWorkers) {
  const r = { stopped: false, streams: [], loops: [], kind: 'call', inFlight: 0 };
  const loop = async () => {
    try {
      while (!r.stopped) {
        if (demo.paused) {
          await sleep(100);
          continue;
        }
        const { gen, req } = nextRequest();
        const entry = { gen, t: now() };
        r.inFlight++;
        let tile;
        try {
          tile = await p.call('render_tile', req);
        } finally {
          r.inFlight--;
        }
        if (r.stopped) break;
        onTile(tile, entry);
        if (demo.slow) await sleep(SLOW_MS);
      }
    } catch (e) {
      if (!isShutdown(e, r)) reportError("pool.call('render_tile')", e);
    }
  };
  for (let i = 0; i < nWorkers * CALLS_PER_WORKER; i++) r.loops.push(loop());
  r.ready = Promise.resolve();
  return r;
}

async function stopRun(r) {
  if (!r) return;
  r.stopped = true;
  for (const st of r.streams) {
    st.credit.notify();
    // cancel() ends both directions now (close() would let the task work
    // through the rings' backlog first); pending send/recv end with Cancelled.
    try {
      const p = typeof st.s.cancel === 'function' ? st.s.cancel() : st.s.close();
      if (p && typeof p.catch === 'function') p.catch(() => {});
    } catch (e) {
      reportError('stopping a stream', e);
    }
  }
  // Every pending operation must end once its stream closes; do not hang the
  // page if one does not, but say so.
  const ended = await Promise.race([Promise.all(r.loops).then(() => true), sleep(3000).then(() => false)]);
  if (!ended) console.warn('[ferry demo] some stream loops did not end within 3 s of close()');
}

function beginRun() {
  if (!pool) return;
  run = demo.mode === 'call' ? startCallRun(pool, demo.workers) : startStreamRun(pool, demo.workers);
}

let restarting = Promise.resolve();
function restartRun() {
  const old = run;
  run = null;
  restarting = restarting.then(async () => {
    await stopRun(old);
    if (!run) beginRun();
  });
  return restarting;
}

// ------------------------------------------------------------------- pool

let WorkerPool = null;
let moduleURL = '/wasm/ferry_web.js';
let scriptURL = null; // JavaScript workers instead of the wasm module

function createOptions(n) {
  return scriptURL ? { script: scriptURL, workers: n } : { module: moduleURL, workers: n };
}
const describeCreate = (n) => `WorkerPool.create({ ${scriptURL ? `script: '${scriptURL}'` : `module: '${moduleURL}'`}, workers: ${n} })`;

async function explainModule() {
  const url = scriptURL ?? moduleURL;
  try {
    const r = await fetch(url, { method: 'HEAD', cache: 'no-store' });
    if (r.ok) return '';
    const body = await (await fetch(url, { cache: 'no-store' })).text();
    return `\nGET ${url} -> ${r.status}: ${body.trim()}`;
  } catch (e) {
    return `\nGET ${url} failed: ${e.message}`;
  }
}

async function createPool(n) {
  const ctl = [$('workers'), $('mode')];
  ctl.forEach((c) => (c.disabled = true));
  window.__ferryReady = false;
  demo.ready = false;
  try {
    await restartRunWith(null);
    if (pool) {
      const old = pool;
      pool = null;
      setStatus(`Terminating the pool of ${demo.workers}…`);
      await old.terminate();
    }
    setStatus(`Starting a WorkerPool of ${n} worker${n === 1 ? '' : 's'} (${scriptURL ?? moduleURL})…`);
    const slowStart = setTimeout(() => setStatus(`Still waiting for WorkerPool.create({ workers: ${n} }) after 15 s…`), 15000);
    try {
      pool = await WorkerPool.create(createOptions(n));
    } finally {
      clearTimeout(slowStart);
    }
    demo.workers = n;
    demo.poolGeneration++;
    demo.transport = pool.transport ?? null;
    if (demo.mode === 'stream' && typeof pool.stream !== 'function') {
      demo.mode = 'call';
      $('mode').value = 'call';
      setStatus('This WorkerPool has no stream(): falling back to one call per tile.');
    }
    readPoolStats();
    beginRun();
    await run.ready;
    demo.ready = true;
    window.__ferryReady = true;
    setStatus(
      `Running: ${n} ${scriptURL ? 'JavaScript' : 'wasm'} worker${n === 1 ? '' : 's'}, ${demo.mode} mode, transport ${demo.transport ?? 'unknown'}, ` +
        `crossOriginIsolated ${window.crossOriginIsolated}, ${navigator.hardwareConcurrency} cores.`,
    );
  } catch (e) {
    pool = null;
    const text = reportError(`${describeCreate(n)} failed`, e);
    const more = await explainModule();
    if (more) {
      demo.errors[demo.errors.length - 1] = text + more;
      $('error').textContent = demo.errors.slice(-5).join('\n');
    }
    setStatus('Not running: the pool could not start (see the error above).');
  } finally {
    ctl.forEach((c) => (c.disabled = false));
  }
}

async function restartRunWith(next) {
  const old = run;
  run = next;
  await restarting;
  await stopRun(old);
}

// ------------------------------------------------------------------ ticker

let last = null;
let heapPending = false;

function readPoolStats() {
  try {
    const s = pool?.stats?.();
    if (s && typeof s.then !== 'function') {
      demo.poolWorkers = Array.isArray(s.workers) ? s.workers.length : 0;
      demo.queueDepth.poolQueued = Number(s.queued ?? 0);
      demo.poolStats = s;
    }
  } catch (e) {
    reportError('pool.stats()', e);
  }
}

// Bytes held in a stream's rings: from stream.stats() when it has one, else
// read from the rings' own counters (core/RING.md: u32 tail at +64, head at
// +128 of a ring's header; tail - head = bytes of records in the ring).
function streamRingBytes(s) {
  const fromStats = ringBytes(s.stats?.());
  if (fromStats !== null) return fromStats;
  let total = null;
  for (const end of [s.writer?.p, s.reader?.c]) {
    if (!end || !(end.buffer instanceof SharedArrayBuffer) || !Number.isInteger(end.byteOffset)) continue;
    const words = ringWords.get(end.buffer) ?? new Int32Array(end.buffer);
    ringWords.set(end.buffer, words);
    const tail = Atomics.load(words, (end.byteOffset + 64) >> 2);
    const head = Atomics.load(words, (end.byteOffset + 128) >> 2);
    total = (total ?? 0) + Math.min(end.capacity ?? Infinity, (tail - head) >>> 0);
  }
  return total;
}
const ringWords = new WeakMap();

function ringBytes(stats) {
  if (!stats || typeof stats !== 'object') return null;
  const used = (d) => (d && typeof d === 'object' ? Number(d.used ?? d.bytes ?? d.bytesInFlight ?? NaN) : NaN);
  const inOut = used(stats.in) + used(stats.out);
  if (Number.isFinite(inOut)) return inOut;
  for (const k of ['bytesInFlight', 'ringBytes', 'bufferedBytes', 'used']) {
    if (Number.isFinite(Number(stats[k]))) return Number(stats[k]);
  }
  return null;
}

// The memory the pool's workers live in, as { heapBytes, inUse, highWater }:
// the wasm heap (pool.heap()) for C++ workers, the stream arena
// (stats().memory) for JavaScript workers; a stand-in pool may have neither.
async function readHeap() {
  if (!scriptURL && typeof pool.heap === 'function') {
    const h = await pool.heap();
    return { heapBytes: h.memoryBytes, inUse: h.inUse, highWater: h.highWater };
  }
  const m = demo.poolStats && demo.poolStats.memory;
  return m ? { heapBytes: m.bytes, inUse: m.used, highWater: m.peak } : null;
}

function tick() {
  const t = now();
  let wait = demo.producer.sendWaitMs;
  for (const w of sendsWaiting) wait += t - w.t0;
  if (!last) last = { t, tiles: demo.tilesDone, bytes: demo.bytesDone, wait };
  const dt = (t - last.t) / 1000;
  if (dt > 0) {
    demo.tilesPerSec = (demo.tilesDone - last.tiles) / dt;
    demo.mbPerSec = (demo.bytesDone - last.bytes) / dt / 1e6;
    const producers = run && run.kind === 'stream' ? Math.max(1, run.streams.length) : 1;
    demo.producer.waitRatio = Math.min(1, (wait - last.wait) / (dt * 1000 * producers));
  }
  last = { t, tiles: demo.tilesDone, bytes: demo.bytesDone, wait };

  const n = Math.min(latencyCount, LATENCY_WINDOW);
  const sorted = Array.from(latencies.subarray(0, n)).sort((a, b) => a - b);
  demo.p50Ms = percentile(sorted, 0.5);
  demo.p99Ms = percentile(sorted, 0.99);

  readPoolStats();
  const q = demo.queueDepth;
  if (run) {
    let bytes = null;
    let inFlight = run.kind === 'call' ? run.inFlight : 0;
    for (const st of run.streams) {
      inFlight += st.sent - st.received;
      let b = null;
      try {
        b = streamRingBytes(st.s);
      } catch {
        b = null;
      }
      if (b !== null) bytes = (bytes ?? 0) + b;
    }
    q.tilesInFlight = inFlight;
    q.ringBytes = bytes;
    q.peakTilesInFlight = Math.max(q.peakTilesInFlight, inFlight);
    if (bytes !== null) q.peakRingBytes = Math.max(q.peakRingBytes, bytes);
  }

  demo.heap.jsBytes = performance.memory ? performance.memory.usedJSHeapSize : null;
  if (pool && !heapPending) {
    heapPending = true;
    Promise.resolve()
      .then(readHeap)
      .then((h) => (demo.heap.wasm = h))
      .catch((e) => reportError('reading the pool heap', e))
      .finally(() => (heapPending = false));
  }

  charts.throughput.push([demo.tilesPerSec, demo.mbPerSec]);
  charts.queue.push([q.ringBytes, q.tilesInFlight, q.poolQueued]);
  charts.latency.push([demo.p50Ms, demo.p99Ms]);
  charts.heap.push([demo.heap.jsBytes, demo.heap.wasm ? demo.heap.wasm.inUse : null]);
  for (const c of Object.values(charts)) c.draw();
  renderNumbers();
}

function renderNumbers() {
  const q = demo.queueDepth;
  const w = demo.heap.wasm;
  const workers = demo.poolStats && Array.isArray(demo.poolStats.workers) ? demo.poolStats.workers : [];
  const rows = [
    ['workers', `${demo.workers} (${demo.poolWorkers} in stats)`],
    ['mode', `${demo.mode}${demo.slow ? ', slow consumer' : ''}`],
    ['tiles done', demo.tilesDone.toLocaleString('en-US')],
    ['frames', demo.frames.toLocaleString('en-US')],
    ['tiles/s', fmt(demo.tilesPerSec)],
    ['MB/s', fmt(demo.mbPerSec, 2)],
    ['latency p50 / p99', `${fmt(demo.p50Ms)} / ${fmt(demo.p99Ms)} ms`],
    ['ring bytes', q.ringBytes === null ? 'n/a' : `${fmtBytes(q.ringBytes)} (peak ${fmtBytes(q.peakRingBytes)})`],
    ['tiles in flight', `${q.tilesInFlight} (peak ${q.peakTilesInFlight})`],
    ['pool queued', String(q.poolQueued)],
    ['producer in send()', `${demo.producer.waiting} now, ${fmt(demo.producer.waitRatio * 100, 0)}% of the time`],
    ['JS heap', fmtBytes(demo.heap.jsBytes)],
    [scriptURL ? 'stream arena' : 'wasm heap', w ? `${fmtBytes(w.inUse)} in use of ${fmtBytes(w.heapBytes)} (high ${fmtBytes(w.highWater)})` : 'n/a'],
    ['per worker (busy/done)', workers.map((x) => `${x.inFlight ?? '?'}/${x.completed ?? '?'}${x.alive === false ? ' dead' : ''}`).join(' · ') || 'n/a'],
    ['errors', String(demo.errors.length)],
  ];
  const dl = $('numbers');
  if (dl.childElementCount !== rows.length * 2) {
    dl.replaceChildren(
      ...rows.flatMap(([k]) => {
        const dt = document.createElement('dt');
        dt.textContent = k;
        return [dt, document.createElement('dd')];
      }),
    );
  }
  rows.forEach(([, v], i) => {
    const dd = dl.children[i * 2 + 1];
    if (dd.textContent !== v) dd.textContent = v;
  });
}

// -------------------------------------------------------------------- UI

function wireControls(params) {
  const workersSel = $('workers');
  const want = Number(params.get('workers')) || Math.min(2, navigator.hardwareConcurrency || 2);
  if (![...workersSel.options].some((o) => Number(o.value) === want)) workersSel.add(new Option(String(want)));
  workersSel.value = String(want);
  workersSel.addEventListener('change', () => createPool(Number(workersSel.value)));

  const modeSel = $('mode');
  if (params.get('mode') === 'call') modeSel.value = 'call';
  demo.mode = modeSel.value;
  modeSel.addEventListener('change', () => {
    demo.mode = modeSel.value;
    restartRun();
  });

  $('tile').addEventListener('change', () => {
    tileSize = Number($('tile').value);
    layoutTiles();
    setView(demo.view.cx, demo.view.cy, demo.view.scale);
  });
  $('iter').addEventListener('change', () => {
    maxIter = Number($('iter').value);
    setView(demo.view.cx, demo.view.cy, demo.view.scale);
  });

  const slow = $('slow');
  slow.checked = params.get('slow') === '1';
  demo.slow = slow.checked;
  slow.addEventListener('change', () => {
    demo.slow = slow.checked;
    // Turning it off: drop the rings' backlog instead of draining it slowly.
    if (!demo.slow && demo.mode === 'stream') restartRun();
  });

  $('pause').addEventListener('click', () => {
    demo.paused = !demo.paused;
    $('pause').textContent = demo.paused ? 'Run' : 'Pause';
  });
  $('reset').addEventListener('click', () => setView(START_VIEW.cx, START_VIEW.cy, START_VIEW.scale));

  const c = canvas();
  const at = (ev) => {
    const r = c.getBoundingClientRect();
    return [((ev.clientX - r.left) * c.width) / r.width, ((ev.clientY - r.top) * c.height) / r.height];
  };
  c.addEventListener('click', (ev) => {
    const [x, y] = at(ev);
    zoomAt(x, y, ev.shiftKey ? 0.5 : 2);
  });
  c.addEventListener('contextmenu', (ev) => {
    ev.preventDefault();
    const [x, y] = at(ev);
    zoomAt(x, y, 0.5);
  });
}

function paintPlaceholder(text) {
  const c = canvas();
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.fillStyle = '#8a94a3';
  ctx.font = '16px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.fillText(text, c.width / 2, c.height / 2);
}

async function main() {
  const params = new URLSearchParams(location.search);
  let poolURL;
  try {
    poolURL = sameOriginParam(params, 'pool', '/dist/index.js');
    moduleURL = sameOriginParam(params, 'module', '/wasm/ferry_web.js');
    scriptURL = sameOriginParam(params, 'script', null);
  } catch (e) {
    reportError('bad query parameter', e);
    return;
  }
  makeCharts();
  paintPlaceholder('waiting for the worker pool…');
  setInterval(tick, TICK_MS);
  tileSize = Number($('tile').value);
  maxIter = Number($('iter').value);
  layoutTiles();
  setView(START_VIEW.cx, START_VIEW.cy, START_VIEW.scale, { restart: false });
  wireControls(params);
  if (!window.crossOriginIsolated) {
    reportError(
      'this page is not cross-origin isolated',
      new Error('SharedArrayBuffer and wasm threads need COOP/COEP headers; serve it with node web/server.mjs'),
    );
  }
  try {
    ({ WorkerPool } = await import(poolURL));
  } catch (e) {
    reportError(`could not load the ferry package from ${poolURL} (build it with: node web/build.mjs)`, e);
    setStatus('Not running: the ferry package did not load.');
    paintPlaceholder('the ferry package did not load (see the error above)');
    return;
  }
  if (!WorkerPool || typeof WorkerPool.create !== 'function') {
    reportError(`${poolURL} has no WorkerPool.create`, new Error(`its exports are: ${Object.keys(await import(poolURL)).join(', ') || 'none'}`));
    setStatus('Not running.');
    return;
  }
  await createPool(Number($('workers').value));
  if (!pool) paintPlaceholder('the worker pool did not start (see the error above)');
}

main().catch((e) => reportError('the demo failed', e));
