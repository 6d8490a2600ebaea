#!/usr/bin/env node
// ferry's dev/test server: static files only, no dependencies.
//
//   node web/server.mjs [--port N] [--root DIR] [--wasm DIR] [--quiet]
//   npx ferry-serve --root DIR [--wasm DIR]       (the same, from @ferry/web)
//
// serves two origins on 127.0.0.1:
//   N     cross-origin isolated (COOP same-origin, COEP require-corp, CORP
//         same-origin on every response): crossOriginIsolated is true there,
//         so SharedArrayBuffer, Atomics.waitAsync and wasm pthreads work;
//   N+1   the same files without those headers (crossOriginIsolated false),
//         for the postMessage fallback.
// Mounts: /wasm/ -> build/release/wasm/web/wasm/ (the Emscripten web module
// of web/wasm, built by the release preset), / -> web/
// (/demo/, /dist/*.js the built package, /test-pages/ for the browser specs);
// --root and --wasm serve other folders there (your own page and module).
//
// Also importable: startServer({ port = 8080, host = '127.0.0.1', isolated = true,
// log, webRoot, wasmRoot }) -> { url, port, isolated, close() } (port 0: a free
// port), and startServers({ port, ... }) -> { isolated, plain, close() }.
//
// Requests: GET and HEAD only (405 otherwise). A path is split on '/', each
// segment percent-decoded; a '..' segment, a backslash, NUL, an encoded '/',
// a drive letter or any target that does not start with '/' is refused
// (403) before the file system is touched, and so is a file whose real path
// (symlinks resolved) lies outside its mount. A directory serves its
// index.html (never a listing; / without web/index.html redirects to
// /demo/). Every response says Cache-Control: no-store.
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve, sep, isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const web = dirname(fileURLToPath(import.meta.url));
const root = dirname(web);

// Longest prefix first. `missing` explains a 404 when the mount's folder does
// not exist at all (the wasm module is built separately).
function makeMounts(webRoot, wasmRoot) {
  return [
    {
      prefix: '/wasm/',
      dir: resolve(wasmRoot),
      missing:
        `${relative(root, resolve(wasmRoot)) || wasmRoot}/ does not exist yet: the Emscripten web module ` +
        '(ferry_web.js, ferry_web.wasm) has not been built, so nothing under /wasm/ can be served',
    },
    { prefix: '/', dir: resolve(webRoot), missing: `${webRoot} does not exist` },
  ];
}
export const defaultRoots = { webRoot: web, wasmRoot: join(root, 'build', 'release', 'wasm', 'web', 'wasm') };

export const mimeTypes = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
};

const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

class Refusal extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Request target -> { mount, segments } or throws Refusal(403/400). Pure: no
// file system access, so a refused path is never read or even stat'ed.
export function parseTarget(target, mounts = makeMounts(defaultRoots.webRoot, defaultRoots.wasmRoot)) {
  if (typeof target !== 'string' || !target.startsWith('/')) {
    throw new Refusal(403, 'only origin-form paths (starting with "/") are served');
  }
  const q = target.search(/[?#]/);
  const path = q < 0 ? target : target.slice(0, q);
  if (path.includes('\\') || path.includes('\0')) throw new Refusal(403, 'backslash or NUL in path');
  if (path.startsWith('//')) throw new Refusal(403, "absolute path ('//') in request");
  const mount = mounts.find((m) => path === m.prefix.slice(0, -1) || path.startsWith(m.prefix));
  const rest = path === mount.prefix.slice(0, -1) ? '' : path.slice(mount.prefix.length);
  const segments = [];
  for (const raw of rest.split('/')) {
    let seg;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      throw new Refusal(400, 'malformed percent-encoding in path');
    }
    if (seg === '' || seg === '.') continue;
    if (seg === '..') throw new Refusal(403, "'..' in path");
    if (/[/\\\0]/.test(seg)) throw new Refusal(403, 'encoded separator or NUL in path');
    if (seg.includes(':')) throw new Refusal(403, "':' (drive letter or stream name) in path");
    segments.push(seg);
  }
  return { mount, segments, slash: path.endsWith('/') };
}

const inside = (dir, p) => {
  const r = relative(dir, p);
  return r === '' || (r !== '..' && !r.startsWith(`..${sep}`) && !isAbsolute(r));
};

// -> { file, size } of what to send, or throws a Refusal (a redirect is one
// with a `location`).
async function resolveFile(target, mounts) {
  const { mount, segments, slash } = parseTarget(target, mounts);
  const base = resolve(mount.dir);
  const lexical = resolve(base, ...segments);
  if (!inside(base, lexical)) throw new Refusal(403, 'path escapes its mount');
  let realBase;
  try {
    realBase = await realpath(base);
  } catch {
    throw new Refusal(404, mount.missing);
  }
  const check = async (p) => {
    let real;
    try {
      real = await realpath(p);
    } catch {
      // Missing: still refuse if an existing ancestor links outside the mount.
      let up = dirname(p);
      for (;;) {
        const r = await realpath(up).catch(() => null);
        if (r !== null) {
          if (!inside(realBase, r)) throw new Refusal(403, 'path resolves (through a symlink) outside its mount');
          break;
        }
        if (up === base || dirname(up) === up) break;
        up = dirname(up);
      }
      throw new Refusal(404, `not found: ${target}`);
    }
    if (!inside(realBase, real)) throw new Refusal(403, 'path resolves (through a symlink) outside its mount');
    return real;
  };
  if (mount.prefix === '/' && segments.length === 0 && base === resolve(defaultRoots.webRoot)) {
    // web/ has no page of its own: send visitors to the demo.
    const hasIndex = await stat(join(base, 'index.html')).then((st) => st.isFile(), () => false);
    if (!hasIndex) throw Object.assign(new Refusal(302, 'the demo'), { location: '/demo/' });
  }
  let real = await check(lexical);
  let st = await stat(real);
  if (st.isDirectory()) {
    if (!slash) {
      const q = target.search(/[?#]/);
      const path = q < 0 ? target : target.slice(0, q);
      throw Object.assign(new Refusal(301, 'directory'), { location: path + '/' + (q < 0 ? '' : target.slice(q)) });
    }
    real = await check(join(real, 'index.html'));
    st = await stat(real);
  }
  if (!st.isFile()) throw new Refusal(404, `not a file: ${target}`);
  return { file: real, size: st.size };
}

function handler({ isolated, log, mounts }) {
  const common = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...(isolated ? isolationHeaders : {}) };
  const fail = (req, res, status, message, extra = {}) => {
    const body = `${status} ${message}\n`;
    res.writeHead(status, {
      ...common,
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      ...extra,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  return async (req, res) => {
    res.on('finish', () => log?.(`${res.statusCode} ${req.method} ${req.url}`));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return fail(req, res, 405, `method ${req.method} not allowed (static files: GET, HEAD)`, { Allow: 'GET, HEAD' });
    }
    let found;
    try {
      found = await resolveFile(req.url, mounts);
    } catch (e) {
      if (e instanceof Refusal) return fail(req, res, e.status, e.message, e.location ? { Location: e.location } : {});
      return fail(req, res, 500, `could not read ${req.url}: ${e.message}`);
    }
    const type = mimeTypes[extname(found.file).toLowerCase()] ?? 'application/octet-stream';
    res.writeHead(200, { ...common, 'Content-Type': type, 'Content-Length': found.size });
    if (req.method === 'HEAD') return res.end();
    const stream = createReadStream(found.file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  };
}

const loopback = new Set(['127.0.0.1', 'localhost', '::1']);

// Starts one origin. port 0 picks a free port. Resolves once listening.
// webRoot / wasmRoot replace the folders behind / and /wasm/ (tests use this).
export async function startServer({
  port = 8080,
  host = '127.0.0.1',
  isolated = true,
  log = null,
  webRoot = defaultRoots.webRoot,
  wasmRoot = defaultRoots.wasmRoot,
} = {}) {
  if (!loopback.has(host)) throw new Error(`startServer: host ${host} is not loopback; ferry's dev server listens on 127.0.0.1 only`);
  const server = createServer(handler({ isolated, log, mounts: makeMounts(webRoot, wasmRoot) }));
  await new Promise((ok, ko) => {
    server.once('error', ko);
    server.listen(port, host, () => {
      server.off('error', ko);
      ok();
    });
  });
  const actual = server.address().port;
  const name = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${name}:${actual}`,
    port: actual,
    isolated,
    close: () =>
      new Promise((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

// Both origins: isolated on `port`, plain on port+1 (both free ports for 0).
export async function startServers({ port = 8080, ...options } = {}) {
  const isolated = await startServer({ ...options, port, isolated: true });
  let plain;
  try {
    plain = await startServer({ ...options, port: port === 0 ? 0 : isolated.port + 1, isolated: false });
  } catch (e) {
    await isolated.close();
    throw e;
  }
  return { isolated, plain, close: () => Promise.all([isolated.close(), plain.close()]).then(() => {}) };
}

const usage = 'usage: node web/server.mjs [--port N] [--root DIR] [--wasm DIR] [--quiet]';

async function main(argv) {
  let port = 8080;
  let quiet = false;
  const roots = { ...defaultRoots };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (name) => (a === `--${name}` ? argv[++i] : a.slice(name.length + 3));
    if (a === '--port' || a.startsWith('--port=')) port = Number(value('port'));
    else if (a === '--root' || a.startsWith('--root=')) roots.webRoot = resolve(value('root') ?? '');
    else if (a === '--wasm' || a.startsWith('--wasm=')) roots.wasmRoot = resolve(value('wasm') ?? '');
    else if (a === '--quiet') quiet = true;
    else if (a === '--help' || a === '-h') {
      console.log(
        `${usage}\n  serves DIR (default web/) at / and the wasm module folder (default build/release/wasm/web/wasm/) at /wasm/\n` +
          '  on 127.0.0.1:N (cross-origin isolated) and N+1 (plain)',
      );
      return;
    } else {
      console.error(`server.mjs: unknown argument ${a} (${usage})`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65534) {
    console.error(`server.mjs: --port wants an integer 0..65534, got ${argv.join(' ')}`);
    process.exit(2);
  }
  const log = quiet ? null : (line) => console.error(line);
  const s = await startServers({ port, log, ...roots });
  const demo = roots.webRoot === defaultRoots.webRoot ? `; demo at ${s.isolated.url}/demo/` : '';
  console.log(`${s.isolated.url}/  (cross-origin isolated${demo}): ${roots.webRoot}, /wasm/ ${roots.wasmRoot}`);
  console.log(`${s.plain.url}/  (same files, not isolated)`);
  const stop = () => s.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`server.mjs: ${e.message}`);
    process.exit(1);
  });
}
