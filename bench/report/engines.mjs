// The browser engines side by side: one line per browser case that matters
// for choosing between engines, one cell per engine; the HTML report and the
// README table both show it.
import { SEED_METRICS } from './findings.mjs';
import { fmt, fmtRatio } from './format.mjs';
import { isBrowser, isPlatform, median } from './runs.mjs';

// One line per browser case that matters for choosing between engines (the
// seed-metric rows, then the engine's own wake-up and copy costs), with one
// cell per engine: its value and that engine's own baselines.
export function engineRows(runs) {
  const browsers = runs.filter(isBrowser);
  const engines = [...new Set(browsers.map((r) => r.target))];
  const lines = new Map();
  for (const run of browsers) {
    for (const t of run.tables) {
      for (const r of t.rows) {
        const metric = isPlatform(t) ? 'engine costs' : SEED_METRICS.find((m) => m.id === r.seed)?.title;
        if (!metric) continue;
        const key = `${t.title}\u0000${r.case}`;
        if (!lines.has(key)) lines.set(key, { metric, table: t.title, case: r.case, cells: {} });
        lines.get(key).cells[run.target] = engineCell(t, r);
      }
    }
  }
  const rank = (l) => (l.metric === 'engine costs' ? SEED_METRICS.length : SEED_METRICS.findIndex((m) => m.title === l.metric));
  return { engines, lines: [...lines.values()].sort((a, b) => rank(a) - rank(b)) };
}

// "ferry 327 µs; postMessage 148.8 µs (0.46×); ..." with the reference first,
// then each baseline, the toughest first.
function engineCell(table, row) {
  const bs = table.baselines.filter((b) => median(row, b) !== null);
  const byRatio = [...bs].sort((a, b) => (row.ratios?.[a] ?? Infinity) - (row.ratios?.[b] ?? Infinity));
  const ref = `${table.reference} ${fmt(median(row, table.reference))} ${row.unit}`;
  return [ref, ...byRatio.map((b) => `${b} ${fmt(median(row, b))}${Number.isFinite(row.ratios?.[b]) ? ` (${fmtRatio(row.ratios[b])})` : ''}`)].join('; ');
}
