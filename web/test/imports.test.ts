// The package's modules form no import circle: every module can be read
// knowing only the modules below it (issue 14). Type-only imports count too,
// since a circle of types is the same tangle for a reader. Dynamic import()
// is left out: it is how the pool loads schema support lazily.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

function modules(): string[] {
  return readdirSync(src, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(src, f));
}

// The modules `file` imports statically (import/export ... from './x.js').
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'(\.{1,2}\/[^']+)'/gms)) {
    out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  }
  return out;
}

test('web/src has no import circle', () => {
  const graph = new Map(modules().map((f) => [f, importsOf(f)]));
  for (const [file, deps] of graph) {
    for (const d of deps) assert.ok(graph.has(d), `${relative(src, file)} imports ${relative(src, d)}, which does not exist`);
  }
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (f: string): void => {
    const at = path.indexOf(f);
    if (at >= 0) assert.fail(`import circle: ${[...path.slice(at), f].map((p) => relative(src, p)).join(' -> ')}`);
    if (done.has(f)) return;
    path.push(f);
    for (const d of graph.get(f) ?? []) visit(d);
    path.pop();
    done.add(f);
  };
  for (const f of graph.keys()) visit(f);
  assert.ok(graph.size > 10, `found only ${graph.size} modules under ${src}`);
});
