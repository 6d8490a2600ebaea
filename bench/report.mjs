// ferry bench report: merges the JSON files of one benchmark run into
// bench/results/<date>.json, writes a self-contained HTML report with charts
// (bench/results/<date>.html) and a screenshot of its first screen (<date>.png), and rewrites
// the short results table in README.md between <!-- bench:begin --> and
// <!-- bench:end -->.
//
//   node bench/report.mjs [--in DIR] [--out DIR] [--date YYYY-MM-DD]
//                         [--readme FILE | --no-readme] [--no-screenshot] [FILE.json ...]
//
// Inputs: every *.json in --in (default build/bench, where scripts/bench.sh
// writes them) plus any files named. Each is a benchmark's --json output
// (bench/bench_harness.hpp's to_json; bench/browser/run.mjs writes the same
// shape): { benchmark, env, settings, tables: [{ title, reference, baselines,
// notes, rows: [{ case, unit, higher_is_better, note, seed?, results, ratios }] }] }.
// A ratio > 1 means ferry is better (throughput: ferry / baseline; latency,
// bytes, CPU: baseline / ferry).
//
// Rows tagged with `seed` feed the seed-metrics section. The browser runs (one
// per engine: Chromium, Firefox) are also set side by side, each engine with
// its own baselines, with the engine's own wake-up and copy costs (tables
// whose reference is a platform mechanism, not ferry: those never count as
// ferry being behind). Where ferry is behind a baseline the report says so in words and quotes the explanation recorded
// in bench/explanations.mjs (or says that none is recorded).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { explanations } from './explanations.mjs';
import { chromiumLaunchOptions } from '../scripts/chromium.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);

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

// --- Command line -----------------------------------------------------------------

function parseArgs(argv) {
  const o = { in: join(root, 'build', 'bench'), out: join(root, 'bench', 'results'), date: null,
              readme: join(root, 'README.md'), screenshot: true, files: [] };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--in') o.in = resolve(next());
    else if (a === '--out') o.out = resolve(next());
    else if (a === '--date') o.date = next();
    else if (a === '--readme') o.readme = resolve(next());
    else if (a === '--no-readme') o.readme = null;
    else if (a === '--no-screenshot') o.screenshot = false;
    else if (a === '--help' || a === '-h') {
      console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(0, 24).join('\n'));
      process.exit(0);
    } else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else o.files.push(resolve(a));
  }
  return o;
}

function localDate(d = new Date()) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

// --- Machine -------------------------------------------------------------------

function firstLine(cmd, args, env) {
  try {
    const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 20000,
                                          env: { ...process.env, ...env } });
    return out.split('\n').find((l) => l.trim()) ?.trim() ?? null;
  } catch {
    return null;
  }
}

export function machineInfo() {
  const cpus = os.cpus();
  return {
    cores: os.availableParallelism(),
    cpu: cpus[0]?.model ?? 'unknown',
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    gxx: firstLine('g++', ['--version']),
    emcc: firstLine('emcc', ['--version'], { NODE_PATH: '/usr/share/nodejs' }),
    node: process.version,
    chromium: firstLine('/usr/bin/chromium', ['--version']),
    firefox: firstLine('/usr/bin/firefox-esr', ['--version']),
  };
}

// --- Reading runs ----------------------------------------------------------------

const TARGETS = ['native', 'wasm (Node)', 'browser (Chromium)', 'browser (Firefox)'];
const isBrowser = (run) => run.target.startsWith('browser (');
// A table of the engine's own costs (bench.js engineCosts): no ferry in it.
const isPlatform = (table) => table.reference !== 'ferry';

function targetOf(env) {
  const p = env?.platform ?? '';
  if (p.startsWith('native')) return 'native';
  if (/under Node/.test(p)) return 'wasm (Node)';
  if (/chrom/i.test(p)) return 'browser (Chromium)';
  if (/firefox/i.test(p)) return 'browser (Firefox)';
  return p || 'unknown';
}

function loadRuns(files) {
  const runs = [];
  for (const f of files) {
    let j;
    try {
      j = JSON.parse(readFileSync(f, 'utf8'));
    } catch (e) {
      throw new Error(`${f}: not a benchmark JSON file (${e.message})`);
    }
    if (!Array.isArray(j.tables)) throw new Error(`${f}: no "tables" array: not a benchmark's --json output`);
    runs.push({ source: basename(f), benchmark: j.benchmark ?? basename(f, '.json'), target: targetOf(j.env),
                env: j.env ?? {}, settings: j.settings ?? {}, tables: j.tables,
                problems: [...(j.problems ?? []), ...(j.skipped ?? []).map((s) => `not measured: ${s}`)] });
  }
  runs.sort((a, b) => (TARGETS.indexOf(a.target) - TARGETS.indexOf(b.target)) || a.benchmark.localeCompare(b.benchmark));
  return runs;
}

const isQuick = (run) => run.settings.quick === 'true' || run.settings.quick === true || run.settings.smoke === true;

function median(row, impl) {
  const v = row.results?.[impl]?.median;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

// --- Findings: seed metrics and where ferry is behind --------------------------------

function seedRows(runs) {
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
function behindList(runs) {
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

function explain(item) {
  return explanations.find((e) =>
    (!e.target || e.target.test(item.run.target)) &&
    (!e.benchmark || e.benchmark.test(item.run.benchmark)) &&
    (!e.case || e.case.test(item.row.case)) &&
    (!e.baseline || item.against.some((a) => e.baseline.test(a.baseline))));
}

// --- Formatting --------------------------------------------------------------------

export function fmt(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e6) return v.toExponential(2);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(1);
  if (a >= 10) return v.toFixed(2);
  return v.toFixed(3);
}
const fmtRatio = (r) => (typeof r !== 'number' || !Number.isFinite(r) ? '–'
  : r >= 10 ? `${r.toFixed(1)}×` : r >= 0.1 ? `${r.toFixed(2)}×` : `${r.toPrecision(2)}×`);
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const caseName = (row) => row.case.replace(/ \([^)]*\)$/, '');

function inWords(item) {
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

// --- SVG charts -----------------------------------------------------------------------

const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#e45756', '#72b7b2', '#9d755d', '#eeca3b'];

// Horizontal bars of ferry-vs-baseline ratios on a log scale: right of the
// 1× line ferry is better, left it is behind.
export function ratioChart(table) {
  const rows = table.rows.filter((r) => table.baselines.some((b) => Number.isFinite(r.ratios?.[b])));
  if (!rows.length) return '';
  const base = table.baselines.filter((b) => rows.some((r) => Number.isFinite(r.ratios?.[b])));
  const labelW = 330, plotW = 520, rightPad = 70, barH = 9, gap = 2, groupPad = 8, top = 34;
  const maxLog = 6;  // 2^6 = 64x either way, clamped beyond
  const x = (r) => labelW + plotW / 2 + (Math.max(-maxLog, Math.min(maxLog, Math.log2(r))) / maxLog) * (plotW / 2);
  const groupH = base.length * (barH + gap) + groupPad;
  const height = top + rows.length * groupH + 10;
  const width = labelW + plotW + rightPad;
  const parts = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="ratios of ferry to each baseline: ${esc(table.title)}" font-family="system-ui, sans-serif" font-size="11">`);
  // legend
  let lx = 4;
  base.forEach((b, i) => {
    parts.push(`<rect x="${lx}" y="4" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/><text x="${lx + 14}" y="13">${esc(b)}</text>`);
    lx += 30 + b.length * 7;
  });
  // grid
  for (let k = -maxLog; k <= maxLog; k += 2) {
    const gx = x(2 ** k);
    parts.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${height - 6}" stroke="${k === 0 ? '#333' : '#ddd'}" stroke-width="${k === 0 ? 1.5 : 1}"/>`);
    parts.push(`<text x="${gx}" y="${top - 9}" text-anchor="middle" fill="#555">${k >= 0 ? 2 ** k : '1/' + 2 ** -k}×</text>`);
  }
  parts.push(`<text x="${labelW + 4}" y="${height - 1}" fill="#a33" font-size="10">← ferry behind</text>`);
  parts.push(`<text x="${labelW + plotW - 4}" y="${height - 1}" fill="#262" font-size="10" text-anchor="end">ferry ahead →</text>`);
  rows.forEach((r, ri) => {
    const gy = top + ri * groupH;
    const label = caseName(r);
    parts.push(`<text x="${labelW - 6}" y="${gy + (base.length * (barH + gap)) / 2 + 4}" text-anchor="end">${esc(label.length > 52 ? label.slice(0, 51) + '…' : label)}</text>`);
    base.forEach((b, bi) => {
      const ratio = r.ratios?.[b];
      if (!Number.isFinite(ratio)) return;
      const y = gy + bi * (barH + gap);
      const x0 = x(1), x1 = x(ratio);
      parts.push(`<rect x="${Math.min(x0, x1)}" y="${y}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${barH}" fill="${PALETTE[bi % PALETTE.length]}" opacity="${ratio < 0.95 ? 1 : 0.75}"><title>${esc(label)} — vs ${esc(b)}: ${fmtRatio(ratio)}</title></rect>`);
      parts.push(`<text x="${ratio >= 1 ? Math.max(x0, x1) + 3 : Math.min(x0, x1) - 3}" y="${y + barH - 1}" font-size="9" text-anchor="${ratio >= 1 ? 'start' : 'end'}" fill="${ratio < 0.95 ? '#a33' : '#333'}">${fmtRatio(ratio)}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('');
}

// --- HTML ----------------------------------------------------------------------------

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

// --- Browser engines side by side ------------------------------------------------------

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

function enginesHtml(runs) {
  const { engines, lines } = engineRows(runs);
  if (!lines.length) return '';
  return `<section id="engines"><h2>Browser engines side by side</h2><p>Each engine measured with its own baselines in its own run; ratios are against the first value of each cell (for ferry &gt; 1 means ferry is better; for the engine costs &gt; 1 means the first mechanism is).</p>
<table><thead><tr><th>metric</th><th>table</th><th>case</th>${engines.map((e) => `<th>${esc(e)}</th>`).join('')}</tr></thead><tbody>
${lines.map((l) => `<tr><td>${esc(l.metric)}</td><td class="note">${esc(l.table)}</td><td>${esc(l.case)}</td>${engines.map((e) => `<td>${esc(l.cells[e] ?? 'not measured')}</td>`).join('')}</tr>`).join('\n')}
</tbody></table></section>`;
}

// --- README table ------------------------------------------------------------------

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

// --- Screenshot -----------------------------------------------------------------------

async function screenshot(htmlPath, pngPath) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ ...chromiumLaunchOptions(), headless: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(pathToFileURL(htmlPath).href);
    await page.screenshot({ path: pngPath }); // the first screen: the glance section
  } finally {
    await browser.close();
  }
}

// --- Main ------------------------------------------------------------------------------

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const files = [...o.files];
  if (existsSync(o.in)) {
    for (const f of readdirSync(o.in).sort()) if (f.endsWith('.json')) files.push(join(o.in, f));
  } else if (!files.length) {
    throw new Error(`${relative(root, o.in) || o.in} does not exist and no files were named: run npm run bench first`);
  }
  if (!files.length) throw new Error(`no benchmark JSON files in ${o.in}`);
  const runs = loadRuns([...new Set(files)]);
  const date = o.date ?? localDate();
  const machine = machineInfo();
  const seeds = seedRows(runs);
  const behind = behindList(runs);
  const missing = [];
  for (const t of TARGETS) {
    if (!runs.some((r) => r.target === t)) missing.push(`no ${t} benchmark results were found in this run`);
  }
  const merged = {
    date,
    generated_at: new Date().toISOString(),
    machine,
    runs: runs.map(({ source, benchmark, target, env, settings, tables, problems }) =>
      ({ source, benchmark, target, env, settings, problems, tables })),
    seed_metrics: SEED_METRICS.map((m) => ({
      metric: m.id,
      rows: (seeds.get(m.id) ?? []).map(({ run, table, row }) => ({
        target: run.target, benchmark: run.benchmark, table: table.title, case: row.case, unit: row.unit,
        higher_is_better: row.higher_is_better, results: row.results, ratios: row.ratios })),
    })),
    behind: behind.map((i) => ({ target: i.run.target, benchmark: i.run.benchmark, table: i.table.title,
                                 case: i.row.case, unit: i.row.unit, ferry: i.ferry,
                                 against: i.against.map(({ baseline, ratio, other, overlap }) =>
                                   ({ baseline, ratio, value: other, within_noise: Boolean(overlap) })),
                                 explanation: explain(i)?.title ?? null })),
    missing,
  };
  mkdirSync(o.out, { recursive: true });
  const jsonPath = join(o.out, `${date}.json`), htmlPath = join(o.out, `${date}.html`), pngPath = join(o.out, `${date}.png`);
  writeFileSync(jsonPath, JSON.stringify(merged, null, 1) + '\n');
  writeFileSync(htmlPath, renderHtml(merged, runs, behind, seeds, missing));
  console.log(`report.mjs: ${runs.length} runs merged -> ${relative(process.cwd(), jsonPath)}, ${relative(process.cwd(), htmlPath)}`);
  if (o.screenshot) {
    await screenshot(htmlPath, pngPath);
    console.log(`report.mjs: screenshot -> ${relative(process.cwd(), pngPath)}`);
  }
  const table = readmeTable(runs, seeds, date, basename(htmlPath));
  if (o.readme) {
    const text = readFileSync(o.readme, 'utf8');
    const next = replaceBetweenMarkers(text, table);
    if (next === null) {
      console.log(table);
      console.log(`report.mjs: the markers <!-- bench:begin --> and <!-- bench:end --> are missing from ${relative(process.cwd(), o.readme)}: ` +
                  'the table above was not written there');
    } else if (next !== text) {
      writeFileSync(o.readme, next);
      console.log(`report.mjs: results table rewritten in ${relative(process.cwd(), o.readme)}`);
    }
  } else {
    console.log(table);
  }
  for (const m of missing) console.log(`report.mjs: note: ${m}`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(`report.mjs: FAILED: ${e.stack ?? e}`);
    process.exit(1);
  });
}
