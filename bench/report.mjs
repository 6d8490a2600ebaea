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
//
// The parts: bench/report/runs.mjs (reading runs, the machine),
// findings.mjs (seed metrics, where ferry is behind), format.mjs, chart.mjs
// (SVG), html.mjs (the HTML report), engines.mjs (browser engines side by
// side) and readme.mjs (README's table).
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromiumLaunchOptions } from '../scripts/chromium.mjs';
import { SEED_METRICS, behindList, explain, seedRows } from './report/findings.mjs';
import { renderHtml } from './report/html.mjs';
import { readmeTable, replaceBetweenMarkers } from './report/readme.mjs';
import { TARGETS, loadRuns, machineInfo } from './report/runs.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);

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
      const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
      console.log(lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).join('\n'));
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
