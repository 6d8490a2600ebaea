// The ticker: every TICK_MS (main() starts it) it turns the live counters
// into rates, percentiles, queue depths and heap sizes in window.__ferryDemo,
// pushes them into the charts and writes the numbers beside them.
import { Chart } from './chart.js';
import { pool, readPoolStats, run, sendsWaiting } from './pipeline.js';
import { $, demo, now, reportError, source } from './state.js';
import { LATENCY_WINDOW, latencies, latencyCount } from './view.js';

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


const kib = (v) => (v >= 1024 * 1024 ? `${(v / 1048576).toFixed(1)}M` : `${(v / 1024).toFixed(v < 10240 ? 1 : 0)}K`);
const num = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const ms = (v) => `${num(v)}ms`;
const mib = (v) => `${(v / 1048576).toFixed(v < 10 * 1048576 ? 1 : 0)}M`;

let charts = null;
export function makeCharts() {
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
      { name: source.scriptURL ? 'arena in use' : 'wasm in use', color: '#5fb3ff', tick: mib },
    ]),
  };
}

let last = null;
let heapPending = false;

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
  if (!source.scriptURL && typeof pool.heap === 'function') {
    const h = await pool.heap();
    return { heapBytes: h.memoryBytes, inUse: h.inUse, highWater: h.highWater };
  }
  const m = demo.poolStats && demo.poolStats.memory;
  return m ? { heapBytes: m.bytes, inUse: m.used, highWater: m.peak } : null;
}

export function tick() {
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
    [source.scriptURL ? 'stream arena' : 'wasm heap', w ? `${fmtBytes(w.inUse)} in use of ${fmtBytes(w.heapBytes)} (high ${fmtBytes(w.highWater)})` : 'n/a'],
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
