// Builds the web package: web/src/*.ts -> web/dist/*.js (esbuild, ESM, one
// file per module) plus .d.ts types (tsc), and web/test/*.ts ->
// web/dist-test/*.js for Node's test runner. Usage: node web/build.mjs
// (npm pack in web/ runs it first: package.json's prepack).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = dirname(fileURLToPath(import.meta.url));
const root = dirname(web);
// Every .ts file below `dir` (test worker scripts live in web/test/workers/).
const ts = (dir) =>
  readdirSync(join(web, dir), { recursive: true }).filter((f) => f.endsWith('.ts')).map((f) => join(web, dir, f));

// From scratch: a module removed from src/ must not linger in what npm pack ships.
for (const out of ['dist', 'dist-test']) rmSync(join(web, out), { recursive: true, force: true });

const common = { bundle: false, format: 'esm', platform: 'neutral', target: 'es2022', sourcemap: true, logLevel: 'warning' };
await build({ ...common, entryPoints: ts('src'), outdir: join(web, 'dist') });
// Tests import the built package (../dist/*.js), so they test what ships.
await build({ ...common, entryPoints: ts('test'), outbase: join(web, 'test'), outdir: join(web, 'dist-test'), platform: 'node' });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(web, 'tsconfig.json')], { stdio: 'inherit' });
