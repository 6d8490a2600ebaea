// Builds the web package: web/src/*.ts -> web/dist/*.js (esbuild, ESM, one
// file per module, except that src/X.ts and src/X/ become one dist/X.js for
// the modules split by concern listed in `bundles` below) plus .d.ts types
// (tsc), and web/test/*.ts -> web/dist-test/*.js for Node's test runner.
// Usage: node web/build.mjs
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
// Modules split by concern that ship as one file each, as they were before
// the split: esbuild inlines a TS enum's members across files only when
// bundling (the codec's Tag, the ring's State, the pool's call State), and
// the hot paths (the call path; decode, valueEnd, encodeToRange;
// reserve/commit/publish, nextRecord/release; a stream's send and recv) call
// within one module, with their constants module-local as before. src/X.ts
// and src/X/ become dist/X.js; `with` lists other files copied into that
// bundle (only constants: schema/ takes codec/tags.ts so that Tag.X are
// numbers on its hot paths, and imports everything else of the codec from
// codec.js). Any other module stays an import, never copied in.
const bundles = [
  { name: 'codec', with: [] },
  { name: 'schema', with: [join(src, 'codec', 'tags.ts')] },
  { name: 'ring', with: [] },
  { name: 'stream', with: [] },
  { name: 'pool', with: [] },
];
const ownFile = (b, f) => f === join(src, `${b.name}.ts`) || f.startsWith(join(src, b.name) + sep);
await build({ ...common, entryPoints: ts('src').filter((f) => !bundles.some((b) => ownFile(b, f))), outbase: src, outdir: join(web, 'dist') });
const outside = (b) => ({
  name: `outside-${b.name}`,
  setup(pb) {
    pb.onResolve({ filter: /^\./ }, (a) => {
      const abs = resolve(a.resolveDir, a.path).replace(/\.js$/, '.ts');
      if (ownFile(b, abs) || b.with.includes(abs)) return undefined;
      return { path: './' + relative(src, abs).replace(/\.ts$/, '.js'), external: true };
    });
  },
});
for (const b of bundles) {
  await build({ ...common, bundle: true, entryPoints: [join(src, `${b.name}.ts`)], outdir: join(web, 'dist'), plugins: [outside(b)] });
}
// Tests import the built package (../dist/*.js), so they test what ships.
await build({ ...common, entryPoints: ts('test'), outbase: join(web, 'test'), outdir: join(web, 'dist-test'), platform: 'node' });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(web, 'tsconfig.json')], { stdio: 'inherit' });
