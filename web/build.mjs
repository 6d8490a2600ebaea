// Builds the web package: web/src/*.ts -> web/dist/*.js (esbuild, ESM, one
// file per module; src/codec/ goes into dist/codec.js, src/pool/ into dist/pool.js) plus .d.ts types (tsc), and web/test/*.ts ->
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
// A module and the folder of its implementation become one dist module,
// dist/<name>.js: src/codec.ts + src/codec/ and src/pool.ts + src/pool/.
// esbuild inlines `const enum` members across files only when bundling: the
// codec's Tag on its hot paths (decode, valueEnd, encodeToRange), the pool's
// call State on the call path. Imports of other modules stay imports.
const bundled = ['codec', 'pool'];
const groupOf = (f) => bundled.find((name) => f === join(src, `${name}.ts`) || f.startsWith(join(src, name) + sep));
await build({ ...common, entryPoints: ts('src').filter((f) => groupOf(f) === undefined), outbase: src, outdir: join(web, 'dist') });
for (const name of bundled) {
  const outside = {
    name: `outside-${name}`,
    setup(b) {
      b.onResolve({ filter: /^\./ }, (a) => {
        const abs = resolve(a.resolveDir, a.path).replace(/\.js$/, '.ts');
        if (groupOf(abs) === name) return undefined;
        return { path: './' + relative(src, abs).replace(/\.ts$/, '.js'), external: true };
      });
    },
  };
  await build({ ...common, bundle: true, entryPoints: [join(src, `${name}.ts`)], outdir: join(web, 'dist'), plugins: [outside] });
}
// Tests import the built package (../dist/*.js), so they test what ships.
await build({ ...common, entryPoints: ts('test'), outbase: join(web, 'test'), outdir: join(web, 'dist-test'), platform: 'node' });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(web, 'tsconfig.json')], { stdio: 'inherit' });
