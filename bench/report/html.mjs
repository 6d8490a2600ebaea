// The HTML report: the glance charts, the machine, the seed metrics, the
// engines side by side, where ferry is behind (in words, with why), what did
// not run, and every table of every run with its ratio chart.
import { ratioChart } from './chart.mjs';
import { engineRows } from './engines.mjs';
import { SEED_METRICS, explain, inWords } from './findings.mjs';
import { caseName, esc, fmt, fmtRatio } from './format.mjs';
import { isPlatform, isQuick, median } from './runs.mjs';

function tableHtml(table) {
  const head = ['case', table.reference, ...table.baselines.flatMap((b) => [b, 'ratio'])];
  const lines = table.rows.map((r) => {
    const cells = [`<td class="case">${esc(r.case)}${r.seed ? ` <span class="seed">seed: ${esc(r.seed)}</span>` : ''}${r.note ? `<div class="note">${esc(r.note)}</div>` : ''}</td>`];
    const cell = (impl) => {
      const res = r.results?.[impl];
      if (!res || !Number.isFinite(res.median)) return '<td class="num">–</td>';
      const spread = Array.isArray(res.samples) && res.samples.length > 1 && res.median > 0
        ? ` <span class="spread">±${Math.round((50 * (res.max - res.min)) / res.median)}%</span>` : '';
      return `<td class="num">${fmt(res.median)}${spread}</td>`;
    };
    cells.push(cell(table.reference));
    for (const b of table.baselines) {
      cells.push(cell(b));
      const ratio = r.ratios?.[b];
      const cls = !Number.isFinite(ratio) ? '' : ratio < 0.95 ? 'behind' : ratio > 1.05 ? 'ahead' : 'even';
      cells.push(`<td class="num ratio ${cls}">${fmtRatio(ratio)}</td>`);
    }
    return `<tr>${cells.join('')}</tr>`;
  });
  return `<div class="scroll"><table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${lines.join('\n')}</tbody></table></div>`;
}

function seedSection(seeds) {
  const parts = ['<section id="seed"><h2>The seed metrics</h2>'];
  for (const m of SEED_METRICS) {
    const items = seeds.get(m.id) ?? [];
    parts.push(`<h3>${esc(m.title)}</h3><p class="what">${esc(m.what)}.</p>`);
    if (!items.length) {
      parts.push('<p class="missing">Not measured in this run: no benchmark that ran reported this metric (see “What did not run” below).</p>');
      continue;
    }
    parts.push('<table><thead><tr><th>where</th><th>case</th><th>ferry</th><th>baselines (value, ratio)</th><th>verdict</th></tr></thead><tbody>');
    for (const { run, table, row } of items) {
      const f = median(row, table.reference);
      const bs = table.baselines.filter((b) => median(row, b) !== null);
      const worst = bs.reduce((w, b) => (w === null || (row.ratios?.[b] ?? Infinity) < (row.ratios?.[w] ?? Infinity) ? b : w), null);
      const verdict = f === null ? 'ferry not measured'
        : worst === null ? 'no baseline'
        : row.ratios[worst] < 0.95 ? `ferry is behind ${esc(worst)} (${fmtRatio(row.ratios[worst])})`
        : `ferry is ahead of or even with every baseline (lowest ratio ${fmtRatio(row.ratios[worst])}, ${esc(worst)})`;
      parts.push(`<tr><td>${esc(run.target)}<div class="note">${esc(run.benchmark)}</div></td><td>${esc(row.case)}</td><td class="num">${fmt(f)} ${esc(row.unit)}</td><td>${bs.map((b) => `${esc(b)}: ${fmt(median(row, b))} (${fmtRatio(row.ratios?.[b])})`).join('<br>')}</td><td>${verdict}</td></tr>`);
    }
    parts.push('</tbody></table>');
  }
  parts.push('</section>');
  return parts.join('\n');
}

// The report's first screen: one chart per seed metric, a bar pair per row
// (where · case) for the baseline ferry does worst and best against, and how
// many comparisons of the whole run ferry is behind in.
function glanceSection(seeds, behind, runs) {
  const parts = ['<section id="glance"><h2>At a glance</h2>'];
  const comparisons = runs.reduce((n, run) => n + run.tables.filter((t) => !isPlatform(t))
    .reduce((k, t) => k + t.rows.reduce((j, r) => j + t.baselines.filter((b) => Number.isFinite(r.ratios?.[b])).length, 0), 0), 0);
  const behindCount = behind.reduce((k, i) => k + i.against.length, 0);
  parts.push(`<p>ferry is more than 5% behind a baseline in <b>${behindCount}</b> of ${comparisons} comparisons of this run ` +
             '(each one is listed under “Where ferry is behind”, with why). The seed metrics, each row against the baseline ferry does worst and best against:</p>');
  parts.push('<div class="glance">');
  for (const m of SEED_METRICS) {
    const rows = [];
    for (const { run, table, row } of seeds.get(m.id) ?? []) {
      const bs = table.baselines.filter((b) => Number.isFinite(row.ratios?.[b])).sort((a, b) => row.ratios[a] - row.ratios[b]);
      if (!bs.length) continue;
      const worst = bs[0], best = bs[bs.length - 1];
      rows.push({ case: `${run.target} · ${caseName(row)} (vs ${worst}${best !== worst ? ` … ${best}` : ''})`,
                  ratios: { 'toughest baseline': row.ratios[worst], ...(best !== worst ? { 'easiest baseline': row.ratios[best] } : {}) } });
    }
    parts.push(`<div><h3>${esc(m.title)}</h3>${rows.length ? ratioChart({ title: m.title, rows, baselines: ['toughest baseline', 'easiest baseline'] })
      : '<p class="missing">not measured in this run</p>'}</div>`);
  }
  parts.push('</div></section>');
  return parts.join('\n');
}

function behindSection(behind) {
  const parts = ['<section id="behind"><h2>Where ferry is behind</h2>'];
  if (!behind.length) {
    parts.push('<p>In this run ferry is within 5% of, or ahead of, every baseline in every case.</p></section>');
    return parts.join('\n');
  }
  const n = behind.reduce((k, i) => k + i.against.length, 0);
  parts.push(`<p>In ${n} comparisons (${behind.length} cases) of this run ferry is more than 5% behind a baseline. Each one, plainly, grouped by the reason:</p>`);
  const groups = new Map();
  for (const item of behind) {
    const e = explain(item);
    const key = e ? e.title : '(no explanation recorded)';
    if (!groups.has(key)) groups.set(key, { e, items: [] });
    groups.get(key).items.push(item);
  }
  for (const [key, { e, items }] of groups) {
    parts.push(`<h3>${esc(key)}</h3>`);
    if (e) parts.push(`<p><b>Why:</b> ${esc(e.why)}</p><p><b>What would fix it:</b> ${esc(e.fix)}</p>`);
    else parts.push('<p>No explanation is recorded for these yet (bench/explanations.mjs).</p>');
    parts.push(`<ul>${items.map((i) => `<li>${esc(inWords(i))}</li>`).join('')}</ul>`);
  }
  parts.push('</section>');
  return parts.join('\n');
}

function machineHtml(m, runs) {
  const rows = [
    ['cores (os.availableParallelism())', m.cores], ['CPU', m.cpu], ['memory', `${m.memory_gib} GiB`], ['OS', m.os],
    ['g++', m.gxx], ['emcc', m.emcc], ['Node', m.node], ['Chromium', m.chromium], ['Firefox', m.firefox],
  ];
  const envs = runs.map((r) => `<tr><td>${esc(r.target)} · ${esc(r.benchmark)}</td><td>${esc(r.env.platform)}</td><td>${esc(r.env.compiler)}</td><td class="num">${esc(r.env.cores)}</td><td>${esc(r.env.build_type ?? '')}${isQuick(r) ? ' <b class="behind">quick/smoke sizes</b>' : ''}</td></tr>`);
  return `<table class="machine"><tbody>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v ?? 'not found')}</td></tr>`).join('')}</tbody></table>
<h3>Runs merged into this report</h3>
<table><thead><tr><th>run</th><th>platform</th><th>compiler / browser</th><th>cores</th><th>build</th></tr></thead><tbody>${envs.join('')}</tbody></table>`;
}

function problemsHtml(runs, missing) {
  const items = [...missing];
  for (const r of runs) for (const p of r.problems) items.push(`${r.target} · ${r.benchmark}: ${p}`);
  if (!items.length) return '';
  return `<section id="missing"><h2>What did not run</h2><ul>${items.map((p) => `<li>${esc(p)}</li>`).join('')}</ul></section>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1500px;padding:0 16px;color:#222}
h1{margin-bottom:4px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}h3{margin:22px 0 6px}h4{margin:18px 0 4px}
table{border-collapse:collapse;margin:6px 0 14px}th,td{border:1px solid #ddd;padding:3px 7px;vertical-align:top}
th{background:#f4f4f4;text-align:left}td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.case{min-width:260px}.note{color:#666;font-size:12px}.spread{color:#888;font-size:11px}
.ratio.behind,.behind{color:#b00;font-weight:600}.ratio.ahead{color:#176a17}.ratio.even{color:#555}
.seed{background:#fff3c4;border-radius:3px;padding:0 4px;font-size:11px;white-space:nowrap}
.missing{color:#b00}.what{color:#444;margin-top:0}.scroll{overflow-x:auto}.warn{background:#fff3c4;padding:8px 12px;border-left:4px solid #e0a800}
table.machine th{width:260px}.glance{display:grid;grid-template-columns:repeat(auto-fit,minmax(640px,1fr));gap:0 24px}.glance h3{margin-top:8px}svg{display:block;margin:6px 0 4px;max-width:100%;height:auto}`;

export function renderHtml(merged, runs, behind, seeds, missing) {
  const quick = runs.some(isQuick);
  const body = [];
  body.push(`<h1>ferry benchmark report — ${esc(merged.date)}</h1>`);
  body.push(`<p>Every figure was measured side by side with its baselines in the same run. Ratios: &gt; 1 means ferry is better (throughput: ferry / baseline; latency, bytes, CPU: baseline / ferry). Generated ${esc(merged.generated_at)} by bench/report.mjs.</p>`);
  body.push(`<p>On a machine of ${esc(merged.machine.cores)} cores shared with other work, absolute numbers move a lot between runs (2–3x for the spinning cases); ` +
            'the contenders of a case are interleaved within one run, so compare ratios, and read ± (half the spread of the repetitions) before trusting a small gap.</p>');
  if (quick) body.push('<p class="warn">Some runs used --quick / smoke sizes: their numbers show that the harness runs, not how fast anything is.</p>');
  body.push(glanceSection(seeds, behind, runs));
  body.push('<h2>Machine</h2>' + machineHtml(merged.machine, runs));
  body.push(seedSection(seeds));
  body.push(enginesHtml(runs));
  body.push(behindSection(behind));
  body.push(problemsHtml(runs, missing));
  body.push('<h2>All results</h2>');
  for (const run of runs) {
    body.push(`<h3>${esc(run.target)} · ${esc(run.benchmark)}</h3><p class="note">${esc(run.env.platform)} · ${esc(run.env.compiler)} · ${esc(run.env.cores)} cores${isQuick(run) ? ' · quick/smoke sizes' : ''}</p>`);
    for (const t of run.tables) {
      body.push(`<h4>${esc(t.title)}</h4>`);
      body.push(ratioChart(t));
      body.push(tableHtml(t));
      if (t.notes) body.push(`<p class="note">${esc(t.notes)}</p>`);
    }
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ferry benchmarks ${esc(merged.date)}</title><style>${CSS}</style></head><body>${body.join('\n')}</body></html>\n`;
}

function enginesHtml(runs) {
  const { engines, lines } = engineRows(runs);
  if (!lines.length) return '';
  return `<section id="engines"><h2>Browser engines side by side</h2><p>Each engine measured with its own baselines in its own run; ratios are against the first value of each cell (for ferry &gt; 1 means ferry is better; for the engine costs &gt; 1 means the first mechanism is).</p>
<table><thead><tr><th>metric</th><th>table</th><th>case</th>${engines.map((e) => `<th>${esc(e)}</th>`).join('')}</tr></thead><tbody>
${lines.map((l) => `<tr><td>${esc(l.metric)}</td><td class="note">${esc(l.table)}</td><td>${esc(l.case)}</td>${engines.map((e) => `<td>${esc(l.cells[e] ?? 'not measured')}</td>`).join('')}</tr>`).join('\n')}
</tbody></table></section>`;
}
