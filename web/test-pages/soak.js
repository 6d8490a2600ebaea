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
  const { WorkerPool, FerryError, ErrorKind } = ferry;
  const next = mulberry32(seed);
  const random = () => next() / 4294967296;
  const pick = (n) => Math.floor(random() * n);
  const summary = {
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
  const problem = (what) => {
    if (summary.problems.length < 50) summary.problems.push(what);
    log(`PROBLEM ${what}`);
  };
  const settled = (kind) => (summary.settles[kind] = (summary.settles[kind] ?? 0) + 1);
  const kindOf = (e) => (e instanceof FerryError ? ErrorKind[e.kind] : `non-ferry ${e?.name ?? typeof e}: ${e?.message ?? e}`);
  let nextValue = 1;

  // A rejection is explained when one of the faults of this pool's life can cause it.
  const explained = (life, kind, asked) =>
    asked.includes(kind) || (kind === 'WorkerCrashed' && life.deaths > 0) || (kind === 'Closed' && life.terminating);
  const reject = (life, what, e, asked = []) => {
    const kind = kindOf(e);
    settled(kind);
    if (!explained(life, kind, asked)) {
      summary.wrongKind++;
      problem(`${what}: ${kind} ${e?.message ?? ''} (pool ${life.id}, deaths ${life.deaths}, terminating ${life.terminating})`);
    }
  };

  async function echoCall(pool, life) {
    const v = nextValue++;
    const mode = pick(4); // plain, with a timeout, with an AbortSignal, on the queue behind a nap
    summary.calls++;
    try {
      let got;
      if (mode === 1) {
        summary.faults.timeout++;
        got = await pool.callWith({ timeout: 1 + pick(15) }, 'nap', pick(15), v);
      } else if (mode === 2) {
        summary.faults.cancel++;
        const ac = new AbortController();
        setTimeout(() => ac.abort('soak'), pick(15));
        got = await pool.callWith({ signal: ac.signal }, 'nap', pick(15), v);
      } else {
        got = await pool.call(mode === 3 ? 'nap' : 'echo', ...(mode === 3 ? [pick(5), v] : [v]));
      }
      settled('value');
      if (got !== v) {
        if (got === undefined) summary.lost++;
        else summary.duplicated++;
        problem(`call ${v} answered ${String(got)}`);
      }
    } catch (e) {
      reject(life, `call ${v}`, e, mode === 1 ? ['Timeout'] : mode === 2 ? ['Cancelled'] : []);
    }
  }

  async function echoStream(pool, life) {
    summary.streams++;
    const sent = Array.from({ length: 1 + pick(40) }, () => nextValue++);
    const cancelAt = random() < 0.2 ? pick(sent.length) : -1;
    let s;
    try {
      s = await pool.stream('echo_stream', { capacity: 256 << pick(4) });
    } catch (e) {
      reject(life, 'stream open', e);
      return;
    }
    const got = [];
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
          summary.faults.streamCancel++;
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
    summary.streamValues += got.length;
    // No value twice, none out of order, none that was not sent.
    for (let i = 0; i < got.length; i++) {
      if (got[i] !== sent[i]) {
        summary.duplicated++;
        problem(`stream value ${i}: ${got[i]} where ${sent[i]} was sent`);
        break;
      }
    }
    if (failure === null) {
      settled('value');
      if (got.length !== sent.length || count !== sent.length) {
        summary.lost += sent.length - got.length;
        problem(`stream ended well with ${got.length} of ${sent.length} values back (task counted ${count})`);
      }
    } else {
      reject(life, `stream (${got.length} of ${sent.length} back)`, failure, cancelAt >= 0 ? ['Cancelled'] : []);
    }
  }

  // One fault into a random worker; the call that carries it fails by design.
  async function fault(pool, life) {
    const f = ['crash', 'close', 'hang'][pick(3)];
    summary.faults[f]++;
    life.deaths++;
    try {
      await pool.callWith({ affinity: pick(workers) }, f === 'close' ? 'close_self' : f, pick(20));
      problem(`a ${f} fault was answered`);
    } catch (e) {
      reject(life, `${f} fault`, e);
    }
  }

  const t0 = Date.now();
  const heap0 = heapBytes ? await heapBytes() : null;
  while (Date.now() - t0 < seconds * 1000) {
    const life = { id: ++summary.pools, deaths: 0, terminating: false };
    const pool = await WorkerPool.create({ script, workers, heartbeatMs });
    const memory0 = pool.stats().memory?.used;
    const until = Math.min(t0 + seconds * 1000, Date.now() + 400 + pick(1200));
    const work = Array.from({ length: lanes }, async () => {
      while (Date.now() < until) {
        summary.operations++;
        if (random() < 0.25) await echoStream(pool, life);
        else await echoCall(pool, life);
      }
    });
    const chaos = (async () => {
      while (Date.now() < until) {
        await sleep(60 + pick(240));
        if (Date.now() < until) {
          summary.operations++;
          await fault(pool, life);
        }
      }
    })();
    const all = Promise.all([...work, chaos]);
    if (random() < 0.5) {
      // Terminate with work in flight: everything still open ends Closed.
      await sleep(Math.max(0, until - Date.now()));
      summary.faults.terminateInFlight++;
      life.terminating = true;
      await pool.terminate();
      if (await late(all, 10_000)) problem(`pool ${life.id}: operations still pending 10 s after terminate()`);
      continue;
    }
    // Drain: every operation settles, then the pool's books and memory balance.
    if (await late(all, 30_000)) problem(`pool ${life.id}: operations still pending 30 s after the last was made`);
    for (let i = 0; i < 1000; i++) {
      const st = pool.stats();
      if ((memory0 === undefined || st.memory.used === memory0) && st.workers.every((w) => w.inFlight === 0)) break;
      await sleep(10);
    }
    const st = pool.stats();
    if (st.submitted !== st.completed + st.failed) problem(`pool ${life.id}: ${st.submitted} submitted, ${st.completed} completed + ${st.failed} failed`);
    if (memory0 !== undefined && st.memory.used !== memory0) {
      summary.leaks++;
      problem(`pool ${life.id}: ${st.memory.used - memory0} bytes of stream memory still in use`);
    }
    if (st.leakedStreams !== 0) {
      summary.leaks++;
      problem(`pool ${life.id}: ${st.leakedStreams} streams were garbage-collected open`);
    }
    life.terminating = true;
    await pool.terminate();
  }
  if (heapBytes) {
    await sleep(50);
    summary.heapGrowthKiB = Math.round(((await heapBytes()) - heap0) / 1024);
    if (summary.heapGrowthKiB > 4096) {
      summary.leaks++;
      problem(`the JS heap grew by ${summary.heapGrowthKiB} KiB`);
    }
  }
  summary.seconds = Math.round((Date.now() - t0) / 100) / 10;
  return summary;
}

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
