// What the report concludes from the runs: the seed metrics (rows tagged
// with `seed`), the comparisons where ferry is behind a baseline, the
// explanation recorded for each (bench/explanations.mjs), and how to say one
// in words.
import { explanations } from '../explanations.mjs';
import { caseName, fmt, fmtRatio } from './format.mjs';
import { isPlatform, isQuick, median } from './runs.mjs';

export const SEED_METRICS = [
  {
    id: 'marshalling throughput',
    title: 'Marshalling throughput (MB/s)',
    what: 'structured values encoded and decoded by ferry’s codec, against JSON.stringify/parse and structured clone',
  },
  {
    id: 'async call latency p99',
    title: 'Async call latency, p99',
    what: 'one call to a worker and its answer, 99th percentile (ferry’s pool against postMessage, Comlink, workerpool; natively against ping-pong over the fastest queues)',
  },
  {
    id: 'memory fragmentation after 10k ops',
    title: 'Memory fragmentation after 10,000 operations',
    what: 'wasm heap size, high-water mark and free-list fragmentation, and the JS heap, after 10,000 calls',
  },
  {
    id: 'stream throughput under backpressure',
    title: 'Stream throughput under backpressure',
    what: 'a consumer 10x slower than its producer: delivered rate (should equal the consumer’s own) and peak bytes in flight (should stay at the queue’s capacity)',
  },
  {
    id: 'small-value streams',
    title: 'Small-value streams (k values/s)',
    what: '8-byte numbers and 32-byte strings streamed one way between the page and a worker (C++ and JS workers, and the postMessage transport with one await send() per value), against one postMessage per value',
  },
  {
    id: 'large values',
    title: 'Large values, default settings (MB/s)',
    what: 'a 1 MiB Uint8Array echoed by a worker of a pool created with no options, against postMessage with structured clone and with the buffer transferred both ways',
  },
];

export function seedRows(runs) {
  const by = new Map(SEED_METRICS.map((m) => [m.id, []]));
  for (const run of runs) {
    for (const t of run.tables) {
      for (const r of t.rows) {
        if (!r.seed) continue;
        if (!by.has(r.seed)) by.set(r.seed, []);
        by.get(r.seed).push({ run, table: t, row: r });
      }
    }
  }
  return by;
}

// Rows where ferry is more than 5% behind at least one baseline: one item per
// row, listing every baseline it is behind.
export function behindList(runs) {
  const out = [];
  for (const run of runs) {
    for (const t of run.tables) {
      if (isPlatform(t)) continue;
      for (const r of t.rows) {
        const against = [];
        for (const b of t.baselines) {
          const ratio = r.ratios?.[b];
          if (typeof ratio !== 'number' || !(ratio < 0.95)) continue;  // within 5%: even
          const f = r.results?.[t.reference], o = r.results?.[b];
          // The two ranges of repetitions overlap: the gap is within this run's noise.
          const overlap = f && o && Number.isFinite(f.min) && Number.isFinite(o.min) &&
            (f.samples?.length ?? 0) > 1 && (o.samples?.length ?? 0) > 1 && f.max >= o.min && o.max >= f.min;
          against.push({ baseline: b, ratio, other: median(r, b), overlap });
        }
        if (against.length) out.push({ run, table: t, row: r, ferry: median(r, t.reference), against });
      }
    }
  }
  return out;
}

export function explain(item) {
  return explanations.find((e) =>
    (!e.target || e.target.test(item.run.target)) &&
    (!e.benchmark || e.benchmark.test(item.run.benchmark)) &&
    (!e.case || e.case.test(item.row.case)) &&
    (!e.baseline || item.against.some((a) => e.baseline.test(a.baseline))));
}

export function inWords(item) {
  const { row, ferry, run, against } = item;
  const unit = row.unit;
  const lat = !row.higher_is_better;
  const parts = against.map(({ baseline, ratio, other, overlap }) =>
    `${baseline} ${fmt(other)} ${unit} (${!lat ? `ferry reaches ${fmtRatio(ratio)} of it`
      : /^(ns|µs|ms|s)$/.test(unit) ? `ferry takes ${fmtRatio(1 / ratio)} as long` : `ferry uses ${fmtRatio(1 / ratio)} as much`}` +
    `${overlap ? '; the repetitions overlap, so this gap is within the run’s noise' : ''})`);
  return `${run.target}, ${run.benchmark}${isQuick(run) ? ' (quick sizes)' : ''} — “${caseName(row)}”: ferry ${fmt(ferry)} ${unit}. ` +
    `Ferry is behind ${parts.join('; ')}.`;
}
