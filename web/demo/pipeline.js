// The pipeline: the WorkerPool and the loops that feed it tiles.
//
// Stream mode: one `mandelbrot` stream per worker. Each stream has a producer
// loop (`await s.send(TileRequest)`) and a consumer loop
// (`for await (const tile of s)` -> putImageData). All producers take tiles
// from one shared cursor over the current view (view.js), so faster workers
// take more. Normally each producer keeps at most CREDIT tiles in flight,
// which keeps latency near the compute time. With the slow consumer on, the
// consumer sleeps SLOW_MS per tile and the producers stop pacing themselves:
// the stream's rings fill, `send()` waits, and memory stays flat.
// Call mode does the same with `pool.call('render_tile', req)`.
import { $, demo, now, reportError, setStatus, sleep, source } from './state.js';
import { nextRequest, onTile } from './view.js';

const CAPACITY = 256 * 1024; // bytes per stream ring
const SLOW_MS = 30; // the slow consumer's sleep per tile
const CREDIT = 8; // tiles in flight per stream when pacing
const CALLS_PER_WORKER = 3; // concurrent calls per worker in call mode

// When each send() still waiting began: a tick counts the time they have
// waited so far, not only the sends that finished within it (a send that
// waits longer than a tick would otherwise leave its ticks at 0%).
export const sendsWaiting = new Set();

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

// ------------------------------------------------------------------ runs
// A run is the set of loops feeding the pool for one view/mode; stopping it
// closes its streams and waits for its loops to end.

export let pool = null;
export let run = null;

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
export function restartRun() {
  const old = run;
  run = null;
  restarting = restarting.then(async () => {
    await stopRun(old);
    if (!run) beginRun();
  });
  return restarting;
}

// ------------------------------------------------------------------- pool

function createOptions(n) {
  const { moduleURL, scriptURL } = source;
  return scriptURL ? { script: scriptURL, workers: n } : { module: moduleURL, workers: n };
}
const describeCreate = (n) =>
  `WorkerPool.create({ ${source.scriptURL ? `script: '${source.scriptURL}'` : `module: '${source.moduleURL}'`}, workers: ${n} })`;

async function explainModule() {
  const url = source.scriptURL ?? source.moduleURL;
  try {
    const r = await fetch(url, { method: 'HEAD', cache: 'no-store' });
    if (r.ok) return '';
    const body = await (await fetch(url, { cache: 'no-store' })).text();
    return `\nGET ${url} -> ${r.status}: ${body.trim()}`;
  } catch (e) {
    return `\nGET ${url} failed: ${e.message}`;
  }
}

export async function createPool(n) {
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
    setStatus(`Starting a WorkerPool of ${n} worker${n === 1 ? '' : 's'} (${source.scriptURL ?? source.moduleURL})…`);
    const slowStart = setTimeout(() => setStatus(`Still waiting for WorkerPool.create({ workers: ${n} }) after 15 s…`), 15000);
    try {
      pool = await source.WorkerPool.create(createOptions(n));
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
      `Running: ${n} ${source.scriptURL ? 'JavaScript' : 'wasm'} worker${n === 1 ? '' : 's'}, ${demo.mode} mode, transport ${demo.transport ?? 'unknown'}, ` +
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

export function readPoolStats() {
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
