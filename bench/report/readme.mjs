// The short results table README.md carries between <!-- bench:begin --> and
// <!-- bench:end -->: the seed metrics per native/wasm target, then the
// browser engines side by side, in Markdown.
import { engineRows } from './engines.mjs';
import { SEED_METRICS } from './findings.mjs';
import { caseName, fmt, fmtRatio } from './format.mjs';
import { isBrowser, isQuick, median } from './runs.mjs';

// One line per seed metric and native/wasm target: the metric's rows of that
// run joined with <br>, each with the baseline ferry does worst and best
// against; then the browser engines side by side (enginesMarkdown).
export function readmeTable(runs, seeds, date, htmlName) {
  const quick = runs.some(isQuick);
  const lines = [
    `Results of \`npm run bench\` on ${date}, ${runs[0]?.env?.cores ?? '?'} cores` +
      (quick ? ' — **quick/smoke sizes: these numbers only show that the harness runs**' : '') +
      ` (every case with its baselines and the machine: \`bench/results/${htmlName}\`). ` +
      'Ratio > 1: ferry is better; each case names the baseline ferry does worst and best against.',
    '',
    '| metric | where | case | ferry | toughest baseline | easiest baseline |',
    '| --- | --- | --- | ---: | --- | --- |',
  ];
  for (const m of SEED_METRICS) {
    const items = seeds.get(m.id) ?? [];
    if (!items.length) {
      lines.push(`| ${m.title} | – | not measured in this run | – | – | – |`);
      continue;
    }
    const byTarget = new Map();
    for (const it of items.filter((i) => !isBrowser(i.run))) {
      if (!byTarget.has(it.run.target)) byTarget.set(it.run.target, []);
      byTarget.get(it.run.target).push(it);
    }
    for (const [target, all] of byTarget) {
      const cols = [[], [], [], []];
      // Rows with no baseline (e.g. the wasm heap's own statistics) share one entry.
      const alone = all.filter(({ table, row }) => !table.baselines.some((b) => Number.isFinite(row.ratios?.[b])));
      const its = all.filter((it) => !alone.includes(it));
      if (alone.length) {
        const names = alone.map(({ row }) => caseName(row));
        const suffix = names.every((n) => n.includes(' · ') && n.split(' · ').pop() === names[0].split(' · ').pop())
          ? ` · ${names[0].split(' · ').pop()}` : '';
        cols[0].push(names.map((n) => (suffix ? n.slice(0, n.lastIndexOf(' · ')) : n)).join(' / ') + suffix);
        cols[1].push(alone.map(({ table, row }) => `${fmt(median(row, table.reference))} ${row.unit}`).join(' / '));
        cols[2].push('–');
        cols[3].push('–');
      }
      for (const { table, row } of its) {
        const bs = table.baselines.filter((b) => Number.isFinite(row.ratios?.[b]));
        const byRatio = [...bs].sort((a, b) => row.ratios[a] - row.ratios[b]);
        const show = (b) => (b ? `${b}: ${fmt(median(row, b))} ${row.unit} (${fmtRatio(row.ratios[b])})` : '–');
        cols[0].push(caseName(row));
        cols[1].push(`${fmt(median(row, table.reference))} ${row.unit}`);
        cols[2].push(show(byRatio[0]));
        cols[3].push(byRatio.length > 1 ? show(byRatio[byRatio.length - 1]) : '–');
      }
      lines.push(`| ${m.title} | ${target} | ${cols.map((c) => c.join('<br>')).join(' | ')} |`);
    }
  }
  return [...lines, ...enginesMarkdown(runs)].join('\n');
}

export function replaceBetweenMarkers(text, table) {
  const begin = '<!-- bench:begin -->', end = '<!-- bench:end -->';
  const i = text.indexOf(begin), j = text.indexOf(end);
  if (i < 0 || j < 0 || j < i) return null;
  return text.slice(0, i + begin.length) + '\n' + table + '\n' + text.slice(j);
}

function enginesMarkdown(runs) {
  const { engines, lines } = engineRows(runs);
  if (!lines.length) return [];
  return [
    '',
    'The browser cases side by side, each engine with its own baselines (ratios against the first value of the ' +
      'cell; for ferry > 1 means ferry is better, for the engine costs > 1 means the first mechanism is):',
    '',
    `| metric | case | ${engines.join(' | ')} |`,
    `| --- | --- | ${engines.map(() => '---').join(' | ')} |`,
    ...lines.map((l) => `| ${l.metric} | ${caseName(l)} | ${engines.map((e) => l.cells[e] ?? 'not measured').join(' | ')} |`),
  ];
}
