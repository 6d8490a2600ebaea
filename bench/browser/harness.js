// What every case of the browser benchmarks shares: the log, the contenders'
// names, the statistics and rows in bench_harness.hpp's JSON shape (so
// bench/report.mjs reads them like the native runs), the run's state (its
// tables, problems and skips, and guard(), which turns an exception into a
// problem), and the interleaved, timed repetitions every case is measured in.
//
// Timing: performance.now() has 5 µs granularity in a cross-origin isolated
// page, so latencies are timed over batches of calls and divided.
const logEl = document.getElementById('log');
export function log(s) {
  if (logEl) logEl.textContent += s + '\n';
  console.log(`[bench] ${s}`);
}

const FERRY = 'ferry';
export const PM = 'postMessage';
export const PM_CLONE = 'postMessage (clone)';
export const PM_TRANSFER = 'postMessage (transfer)';
export const COMLINK = 'Comlink';
export const WP = 'workerpool';
export const FLOOR = 'SAB ping-pong floor';

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
export function stat(samples, n = 0) {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), ops_per_rep: n, samples };
}
export function single(v, n = 0) {
  return { median: v, min: v, max: v, ops_per_rep: n, samples: [] };
}

export function table(title, baselines, notes) {
  return { title, reference: FERRY, notes, baselines, rows: [] };
}
// One row: `ferry` is the ferry variant's result, `others` the baselines'.
export function addRow(t, name, unit, higher, ferry, others, note = '', seed = '') {
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

export function check(what, got, want) {
  if (got !== want) throw new Error(`${what}: got ${String(got)}, expected ${String(want)}`);
}

// --- Runner state ------------------------------------------------------------------

export class Run {
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

// Interleaves the contenders' repetitions, so background noise hits them alike.
export async function interleaved(run, contenders, reps, fn) {
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

// run.reps + 1 interleaved repetitions of `body(name, f)` per contender, the
// first a warm-up (undefined); each timed one gives amount / seconds / unit
// (ops × bytes / s / 1e6: MB/s; messages / s / 1000: k msg/s).
export function timedReps(run, contenders, amount, unit, body) {
  return interleaved(run, contenders, run.reps + 1, async (name, f, r) => {
    const t0 = performance.now();
    await body(name, f);
    return r === 0 ? undefined : amount / ((performance.now() - t0) / 1000) / unit;
  });
}

// A contender's timed repetitions as a result (the warm-up left out), or null
// when it did not run.
export const repsOf = (res, name, n) => (res[name] ? stat(res[name].filter((v) => v !== undefined), n) : null);

// Percentile q of a contender's samples (batches of them, flattened) as a result.
export const pctOf = (per, name, q) => (per[name] ? single(percentile(per[name].flat(), q), per[name].flat().length) : null);

// "64 KiB", "1 MiB": a buffer size as the rows name it.
export const sizeLabel = (size) => (size >= 1 << 20 ? `${size >> 20} MiB` : `${size >> 10} KiB`);
