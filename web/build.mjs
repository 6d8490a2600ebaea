// Builds the web package: web/src/*.ts -> web/dist/*.js (esbuild, ESM, one
// file per module; src/codec/, src/ring/ and src/stream/ go into dist/codec.js,
// dist/ring.js and dist/stream.js) plus .d.ts types (tsc), and web/test/*.ts ->
// web/dist-test/*.js for Node's test runner. Usage: node web/build.mjs
// (npm pack in web/ runs it first: package.json's prepack).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const web = dirname(fileURLToPath(import.meta.url));
const root = dirname(web);
// Every .ts file below `dir` (test worker scripts live in web/test/workers/).
const ts = (dir) =>
  readdirSync(join(web, dir), { recursive: true }).filter((f) => f.endsWith('.ts')).map((f) => join(web, dir, f));

// From scratch: a module removed from src/ must not linger in what npm pack ships.
for (const out of ['dist', 'dist-test']) rmSync(join(web, out), { recursive: true, force: true });

const common = { bundle: false, format: 'esm', platform: 'neutral', target: 'es2022', sourcemap: true, logLevel: 'warning' };
const src = join(web, 'src');
// src/X.ts and src/X/ become one module, dist/X.js, for these X: each was one
// module before it was split by concern. esbuild inlines `const enum` members
// across files only when bundling (the codec's Tag, the ring's State), and
// the hot paths (decode, valueEnd, encodeToRange; reserve/commit/publish,
// nextRecord/release; a stream's send and recv) call within one module, with
// their constants module-local as before. Other modules stay imports.
const bundled = ['codec', 'ring', 'stream'];
const bundleOf = (f) => bundled.find((x) => f === join(src, `${x}.ts`) || f.startsWith(join(src, x) + sep));
await build({ ...common, entryPoints: ts('src').filter((f) => bundleOf(f) === undefined), outbase: src, outdir: join(web, 'dist') });
for (const x of bundled) {
  const outside = {
    name: `outside-${x}`,
    setup(b) {
      b.onResolve({ filter: /^\./ }, (a) => {
        const abs = resolve(a.resolveDir, a.path).replace(/\.js$/, '.ts');
        if (bundleOf(abs) === x) return undefined;
        return { path: './' + relative(src, abs).replace(/\.ts$/, '.js'), external: true };
      });
    },
  };
  await build({ ...common, bundle: true, entryPoints: [join(src, `${x}.ts`)], outdir: join(web, 'dist'), plugins: [outside] });
}
// Tests import the built package (../dist/*.js), so they test what ships.
await build({ ...common, entryPoints: ts('test'), outbase: join(web, 'test'), outdir: join(web, 'dist-test'), platform: 'node' });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(web, 'tsconfig.json')], { stdio: 'inherit' });
