// The chaos soak of JavaScript pools, for Node and browsers alike: many
// callers and streams at once while workers crash (an uncaught error),
// end themselves (self.close() / process.exit), hang past their heartbeat;
// calls time out and are cancelled; streams are cancelled midway; and each
// pool is terminated with work in flight or drained, then created again.
//
// It checks that every call and stream settles, once, with a kind the
// faults explain (a value; WorkerCrashed only in a pool that had a worker
// die; Closed only after terminate; Timeout / Cancelled only where asked
// for); that no value is lost, duplicated or reordered (an echo gives its
// own value back; a stream that ends well gives back exactly what was sent,
// one that fails a prefix of it); that each drained pool's stream memory
// and counters are back where they started; and that the JS heap is back
// near its baseline at the end.
//
//   const summary = await runSoak({ ferry, script, seconds: 10 });
//   // { operations, faults, settles, lost, duplicated, wrongKind, leaks, problems, ... }
//
// ferry is the package's index module; script the URL of soak-tasks.js;
// heapBytes() (optional) measures the JS heap after a garbage collection.
import { mulberry32 } from './prng.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// True when p has not settled within ms (and no timer is left behind either way).
function late(p, ms) {
  let timer;
  return Promise.race([p.then(() => false), new Promise((resolve) => (timer = setTimeout(resolve, ms, true)))]).finally(() => clearTimeout(timer));
}

export async function runSoak({ ferry, script, seconds = 5, seed = 1, workers = 2, lanes = 8, heartbeatMs = 400, heapBytes = null, log = () => {} }) {
  const soak = new Soak(ferry, { seconds, seed, workers, log });
  const t0 = Date.now();
  const heap0 = heapBytes ? await heapBytes() : null;
  while (Date.now() - t0 < seconds * 1000) {
    await poolLife(soak, { script, heartbeatMs, lanes, end: t0 + seconds * 1000 });
  }
  if (heapBytes) await checkHeap(soak, heapBytes, heap0);
  soak.summary.seconds = Math.round((Date.now() - t0) / 100) / 10;
  return soak.summary;
}

// --- the tally ---------------------------------------------------------------

// A run's seeded randomness, the next value to send, and the summary every
// step adds to (what formatSoak prints).
class Soak {
  constructor({ WorkerPool, FerryError, ErrorKind }, { seconds, seed, workers, log }) {
    const next = mulberry32(seed);
    this.random = () => next() / 4294967296;
    this.WorkerPool = WorkerPool;
    this.FerryError = FerryError;
    this.ErrorKind = ErrorKind;
    this.workers = workers;
    this.log = log;
    this.nextValue = 1;
    this.summary = {
      seconds,
      seed,
      pools: 0,
      operations: 0,
      calls: 0,
      streams: 0,
      streamValues: 0,
      faults: { crash: 0, close: 0, hang: 0, timeout: 0, cancel: 0, streamCancel: 0, terminateInFlight: 0 },
      settles: {},
      lost: 0,
      duplicated: 0,
      wrongKind: 0,
      leaks: 0,
      heapGrowthKiB: null,
      problems: [],
    };
  }

  pick(n) {
    return Math.floor(this.random() * n);
  }

  problem(what) {
    if (this.summary.problems.length < 50) this.summary.problems.push(what);
    this.log(`PROBLEM ${what}`);
  }

  settled(kind) {
    this.summary.settles[kind] = (this.summary.settles[kind] ?? 0) + 1;
  }

  kindOf(e) {
    return e instanceof this.FerryError ? this.ErrorKind[e.kind] : `non-ferry ${e?.name ?? typeof e}: ${e?.message ?? e}`;
  }

  // Counts a rejection by kind; one that neither `asked` nor this pool's life explains is a wrong kind.
  reject(life, what, e, asked = []) {
    const kind = this.kindOf(e);
    this.settled(kind);
    if (!explained(life, kind, asked)) {
      this.summary.wrongKind++;
      this.problem(`${what}: ${kind} ${e?.message ?? ''} (pool ${life.id}, deaths ${life.deaths}, terminating ${life.terminating})`);
    }
  }
}

// A rejection is explained when one of the faults of this pool's life can cause it.
const explained = (life, kind, asked) =>
  asked.includes(kind) || (kind === 'WorkerCrashed' && life.deaths > 0) || (kind === 'Closed' && life.terminating);

// --- one pool's life ---------------------------------------------------------

// Lanes of calls and streams with faults injected meanwhile; then the pool is
// terminated with work in flight, or drained and its books checked.
async function poolLife(soak, { script, heartbeatMs, lanes, end }) {
  const life = { id: ++soak.summary.pools, deaths: 0, terminating: false };
  const pool = await soak.WorkerPool.create({ script, workers: soak.workers, heartbeatMs });
  const memory0 = pool.stats().memory?.used;
  const until = Math.min(end, Date.now() + 400 + soak.pick(1200));
  const all = Promise.all([...operations(soak, pool, life, lanes, until), chaos(soak, pool, life, until)]);
  if (soak.random() < 0.5) await terminateInFlight(soak, pool, life, all, until);
  else await drain(soak, pool, life, all, memory0);
}

// Terminate with work in flight: everything still open ends Closed.
async function terminateInFlight(soak, pool, life, all, until) {
  await sleep(Math.max(0, until - Date.now()));
  soak.summary.faults.terminateInFlight++;
  life.terminating = true;
  await pool.terminate();
  if (await late(all, 10_000)) soak.problem(`pool ${life.id}: operations still pending 10 s after terminate()`);
}

// Drain: every operation settles, then the pool's books and memory balance.
async function drain(soak, pool, life, all, memory0) {
  if (await late(all, 30_000)) soak.problem(`pool ${life.id}: operations still pending 30 s after the last was made`);
  for (let i = 0; i < 1000; i++) {
    const st = pool.stats();
    if ((memory0 === undefined || st.memory.used === memory0) && st.workers.every((w) => w.inFlight === 0)) break;
    await sleep(10);
  }
  checkBooks(soak, pool.stats(), life, memory0);
  life.terminating = true;
  await pool.terminate();
}

function checkBooks(soak, st, life, memory0) {
  const { summary } = soak;
  if (st.submitted !== st.completed + st.failed) soak.problem(`pool ${life.id}: ${st.submitted} submitted, ${st.completed} completed + ${st.failed} failed`);
  if (memory0 !== undefined && st.memory.used !== memory0) {
    summary.leaks++;
    soak.problem(`pool ${life.id}: ${st.memory.used - memory0} bytes of stream memory still in use`);
  }
  if (st.leakedStreams !== 0) {
    summary.leaks++;
    soak.problem(`pool ${life.id}: ${st.leakedStreams} streams were garbage-collected open`);
  }
}

async function checkHeap(soak, heapBytes, heap0) {
  const { summary } = soak;
  await sleep(50);
  summary.heapGrowthKiB = Math.round(((await heapBytes()) - heap0) / 1024);
  if (summary.heapGrowthKiB > 4096) {
    summary.leaks++;
    soak.problem(`the JS heap grew by ${summary.heapGrowthKiB} KiB`);
  }
}

// --- operations --------------------------------------------------------------

// `lanes` callers, each making calls and streams one after another until `until`.
function operations(soak, pool, life, lanes, until) {
  return Array.from({ length: lanes }, async () => {
    while (Date.now() < until) {
      soak.summary.operations++;
      if (soak.random() < 0.25) await echoStream(soak, pool, life);
      else await echoCall(soak, pool, life);
    }
  });
}

async function echoCall(soak, pool, life) {
  const { summary } = soak;
  const v = soak.nextValue++;
  const mode = soak.pick(4); // plain, with a timeout, with an AbortSignal, on the queue behind a nap
  summary.calls++;
  try {
    let got;
    if (mode === 1) {
      summary.faults.timeout++;
      got = await pool.callWith({ timeout: 1 + soak.pick(15) }, 'nap', soak.pick(15), v);
    } else if (mode === 2) {
      summary.faults.cancel++;
      const ac = new AbortController();
      setTimeout(() => ac.abort('soak'), soak.pick(15));
      got = await pool.callWith({ signal: ac.signal }, 'nap', soak.pick(15), v);
    } else {
      got = await pool.call(mode === 3 ? 'nap' : 'echo', ...(mode === 3 ? [soak.pick(5), v] : [v]));
    }
    soak.settled('value');
    if (got !== v) {
      if (got === undefined) summary.lost++;
      else summary.duplicated++;
      soak.problem(`call ${v} answered ${String(got)}`);
    }
  } catch (e) {
    soak.reject(life, `call ${v}`, e, mode === 1 ? ['Timeout'] : mode === 2 ? ['Cancelled'] : []);
  }
}

// Sends numbered values through an echoing stream, sometimes cancelling it midway.
async function echoStream(soak, pool, life) {
  soak.summary.streams++;
  const sent = Array.from({ length: 1 + soak.pick(40) }, () => soak.nextValue++);
  const cancelAt = soak.random() < 0.2 ? soak.pick(sent.length) : -1;
  let s;
  try {
    s = await pool.stream('echo_stream', { capacity: 256 << soak.pick(4) });
  } catch (e) {
    soak.reject(life, 'stream open', e);
    return;
  }
  const got = [];
  const end = await exchange(soak, s, sent, cancelAt, got);
  checkStream(soak, life, sent, cancelAt, got, end);
}

// Sends `sent` (cancelling at index cancelAt) while a reader collects what
// comes back into `got`; returns the first failure (null if none) and the
// count the task returned.
async function exchange(soak, s, sent, cancelAt, got) {
  const reader = (async () => {
    for (;;) {
      const r = await s.recv();
      if (r.done) return;
      got.push(r.value);
    }
  })();
  let failure = null;
  try {
    for (let i = 0; i < sent.length; i++) {
      if (i === cancelAt) {
        soak.summary.faults.streamCancel++;
        s.cancel('soak');
        break;
      }
      await s.send(sent[i]);
    }
    await s.close();
  } catch (e) {
    failure = e;
  }
  try {
    await reader;
  } catch (e) {
    failure ??= e;
  }
  let count;
  try {
    count = await s.done;
  } catch (e) {
    failure ??= e;
  }
  return { failure, count };
}

// A stream that ends well gives back exactly what was sent, one that fails a prefix of it.
function checkStream(soak, life, sent, cancelAt, got, { failure, count }) {
  const { summary } = soak;
  summary.streamValues += got.length;
  // No value twice, none out of order, none that was not sent.
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== sent[i]) {
      summary.duplicated++;
      soak.problem(`stream value ${i}: ${got[i]} where ${sent[i]} was sent`);
      break;
    }
  }
  if (failure === null) {
    soak.settled('value');
    if (got.length !== sent.length || count !== sent.length) {
      summary.lost += sent.length - got.length;
      soak.problem(`stream ended well with ${got.length} of ${sent.length} values back (task counted ${count})`);
    }
  } else {
    soak.reject(life, `stream (${got.length} of ${sent.length} back)`, failure, cancelAt >= 0 ? ['Cancelled'] : []);
  }
}

// --- fault injection ---------------------------------------------------------

// Every 60 to 300 ms until `until`, one fault into a random worker.
async function chaos(soak, pool, life, until) {
  while (Date.now() < until) {
    await sleep(60 + soak.pick(240));
    if (Date.now() < until) {
      soak.summary.operations++;
      await fault(soak, pool, life);
    }
  }
}

// One fault into a random worker; the call that carries it fails by design.
async function fault(soak, pool, life) {
  const f = ['crash', 'close', 'hang'][soak.pick(3)];
  soak.summary.faults[f]++;
  life.deaths++;
  try {
    await pool.callWith({ affinity: soak.pick(soak.workers) }, f === 'close' ? 'close_self' : f, soak.pick(20));
    soak.problem(`a ${f} fault was answered`);
  } catch (e) {
    soak.reject(life, `${f} fault`, e);
  }
}

// --- the report --------------------------------------------------------------

/** One line per figure, for logs. */
export function formatSoak(where, s) {
  const kinds = Object.entries(s.settles)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const faults = Object.entries(s.faults)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  return [
    `js soak (${where}): ${s.seconds} s, seed ${s.seed}, ${s.pools} pools, ${s.operations} operations (${s.calls} calls, ${s.streams} streams of ${s.streamValues} values)`,
    `  faults injected: ${faults}`,
    `  settled: ${kinds}`,
    `  lost ${s.lost}, duplicated ${s.duplicated}, wrong kind ${s.wrongKind}, leaks ${s.leaks}, JS heap growth ${s.heapGrowthKiB ?? '?'} KiB`,
    ...s.problems.map((p) => `  PROBLEM ${p}`),
  ].join('\n');
}
