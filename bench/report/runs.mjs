// The benchmark runs a report is made of: the machine they ran on, each
// run's JSON file read and tagged with its target (native, wasm under Node,
// one browser engine), and the few questions every part of the report asks
// of a run or a row (browser? platform table? quick sizes? a median).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { basename } from 'node:path';

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

export const TARGETS = ['native', 'wasm (Node)', 'browser (Chromium)', 'browser (Firefox)'];
export const isBrowser = (run) => run.target.startsWith('browser (');
// A table of the engine's own costs (bench/browser/engine.js, engineCosts): no ferry in it.
export const isPlatform = (table) => table.reference !== 'ferry';

function targetOf(env) {
  const p = env?.platform ?? '';
  if (p.startsWith('native')) return 'native';
  if (/under Node/.test(p)) return 'wasm (Node)';
  if (/chrom/i.test(p)) return 'browser (Chromium)';
  if (/firefox/i.test(p)) return 'browser (Firefox)';
  return p || 'unknown';
}

export function loadRuns(files) {
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

export const isQuick = (run) => run.settings.quick === 'true' || run.settings.quick === true || run.settings.smoke === true;

export function median(row, impl) {
  const v = row.results?.[impl]?.median;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
