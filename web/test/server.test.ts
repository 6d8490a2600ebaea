// web/server.mjs: isolation headers, MIME types, every traversal form refused,
// 405, 404, directories. Requests go over a raw socket so that the exact
// bytes of each path reach the server (fetch would normalise '..' away).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-ignore: plain JavaScript module without types
import { startServer, startServers } from '../server.mjs';

interface Server {
  url: string;
  port: number;
  close(): Promise<void>;
}
interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const SECRET = 'TOP-SECRET-OUTSIDE-THE-MOUNT';
let dir = '';
let iso: Server;
let plain: Server;
let noWasm: Server;

// Sends one request with the target exactly as given.
function raw(port: number, method: string, target: string): Promise<Reply> {
  return new Promise((ok, ko) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', ko);
    sock.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = text.slice(0, split).split('\r\n');
      const status = Number(head[0]!.split(' ')[1]);
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      ok({ status, headers, body: text.slice(split + 4) });
    });
    sock.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

const get = (s: Server, target: string) => raw(s.port, 'GET', target);

before(async () => {
  // tmp/web (mounted at /), tmp/wasm (at /wasm/), tmp/outside (must stay unreachable)
  dir = mkdtempSync(join(tmpdir(), 'ferry-server-test-'));
  const web = join(dir, 'web');
  const wasm = join(dir, 'wasm');
  const outside = join(dir, 'outside');
  for (const d of [web, wasm, outside, join(web, 'sub'), join(web, 'nolist'), join(dir, 'web-sibling')]) mkdirSync(d);
  writeFileSync(join(outside, 'secret.txt'), SECRET);
  writeFileSync(join(dir, 'secret.txt'), SECRET);
  writeFileSync(join(dir, 'web-sibling', 'secret.txt'), SECRET);
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>root</title>');
  writeFileSync(join(web, 'sub', 'index.html'), '<!doctype html><title>sub</title>');
  writeFileSync(join(web, 'nolist', 'listed-file.txt'), 'should never be listed');
  writeFileSync(join(web, 'a.js'), 'export const a = 1;\n');
  writeFileSync(join(web, 'a.mjs'), 'export const a = 1;\n');
  writeFileSync(join(web, 'a.css'), 'body { margin: 0 }\n');
  writeFileSync(join(web, 'a.json'), '{"a":1}\n');
  writeFileSync(join(web, 'a.js.map'), '{"version":3}\n');
  writeFileSync(join(web, 'a.png'), Buffer.from('89504e470d0a1a0a', 'hex'));
  writeFileSync(join(web, 'a.unknownext'), 'x');
  writeFileSync(join(web, '..dots.js'), 'export const dots = 1;\n');
  writeFileSync(join(wasm, 'ferry_web.js'), 'export default 1;\n');
  writeFileSync(join(wasm, 'ferry_web.wasm'), Buffer.from('0061736d01000000', 'hex'));
  symlinkSync(join(web, 'a.js'), join(web, 'inside-link.js'));
  symlinkSync(join(outside, 'secret.txt'), join(web, 'out-link.txt'));
  symlinkSync(outside, join(web, 'out-dir'));
  symlinkSync(outside, join(wasm, 'out-dir'));
  iso = await startServer({ port: 0, webRoot: web, wasmRoot: wasm });
  plain = await startServer({ port: 0, isolated: false, webRoot: web, wasmRoot: wasm });
  noWasm = await startServer({ port: 0, webRoot: web, wasmRoot: join(dir, 'not-built') });
});

after(async () => {
  await Promise.all([iso?.close(), plain?.close(), noWasm?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const isolation = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

test('every response of the isolated origin carries COOP, COEP, CORP and no-store', async () => {
  const replies = [
    await get(iso, '/a.js'), // 200
    await get(iso, '/sub'), // 301
    await get(iso, '/../secret.txt'), // 403
    await get(iso, '/missing.js'), // 404
    await raw(iso.port, 'POST', '/a.js'), // 405
    await raw(iso.port, 'HEAD', '/a.js'),
  ];
  assert.deepEqual(replies.map((r) => r.status), [200, 301, 403, 404, 405, 200]);
  for (const r of replies) {
    for (const [k, v] of Object.entries(isolation)) assert.equal(r.headers[k], v, `${k} on a ${r.status}`);
    assert.equal(r.headers['cache-control'], 'no-store', `no-store on a ${r.status}`);
  }
});

test('the plain origin serves the same files without the isolation headers', async () => {
  for (const r of [await get(plain, '/a.js'), await get(plain, '/missing'), await get(plain, '/%2e%2e/secret.txt')]) {
    for (const k of Object.keys(isolation)) assert.equal(r.headers[k], undefined, `${k} on a plain ${r.status}`);
    assert.equal(r.headers['cache-control'], 'no-store');
  }
  assert.equal((await get(plain, '/a.js')).body, 'export const a = 1;\n');
});

test('MIME types follow the file extension', async () => {
  const want: [string, string][] = [
    ['/a.js', 'text/javascript'],
    ['/a.mjs', 'text/javascript'],
    ['/index.html', 'text/html'],
    ['/a.css', 'text/css'],
    ['/a.json', 'application/json'],
    ['/a.js.map', 'application/json'],
    ['/a.png', 'image/png'],
    ['/wasm/ferry_web.wasm', 'application/wasm'],
    ['/wasm/ferry_web.js', 'text/javascript'],
    ['/a.unknownext', 'application/octet-stream'],
  ];
  for (const [path, type] of want) {
    const r = await get(iso, path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers['content-type']!.split(';')[0], type, path);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
  }
});

test('HEAD answers with the headers of GET and no body', async () => {
  const g = await get(iso, '/a.css');
  const h = await raw(iso.port, 'HEAD', '/a.css');
  assert.equal(h.status, 200);
  assert.equal(h.headers['content-length'], String(Buffer.byteLength('body { margin: 0 }\n')));
  assert.equal(h.headers['content-type'], g.headers['content-type']);
  assert.equal(h.body, '');
});

test('every traversal form is refused with 403 and leaks nothing', async () => {
  const forms = [
    '/../secret.txt',
    '/..',
    '/../',
    '/sub/../../secret.txt',
    '/sub/../index.html', // stays inside, but any '..' is refused
    '/./../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/.%2e/secret.txt',
    '/%2e./secret.txt',
    '/..%2fsecret.txt',
    '/..%2Foutside%2Fsecret.txt',
    '/%2e%2e%2f%2e%2e%2fsecret.txt',
    '/..\\secret.txt',
    '/sub\\..\\..\\secret.txt',
    '/..%5csecret.txt',
    '/..%5Csecret.txt',
    '/a.js%00',
    '/a.js%00.html',
    '/%00/../secret.txt',
    '//etc/passwd',
    '/%2fetc%2fpasswd',
    '/%2Fetc/passwd',
    '/C:/Windows/win.ini',
    '/c%3a/Windows/win.ini',
    '/C:%5cWindows%5cwin.ini',
    'http://127.0.0.1/../secret.txt',
    '/../web-sibling/secret.txt',
    '/out-link.txt', // symlink to a file outside
    '/out-dir/secret.txt', // symlink to a folder outside
    '/out-dir/not-there.txt',
    '/wasm/../secret.txt',
    '/wasm/%2e%2e/%2e%2e/secret.txt',
    '/wasm/out-dir/secret.txt',
  ];
  for (const target of forms) {
    const r = await get(iso, target);
    assert.equal(r.status, 403, `${target} -> ${r.status} ${r.body}`);
    assert.ok(!r.body.includes(SECRET), `${target} leaked the file`);
  }
});

test('a target without a leading slash never reaches the file system', async () => {
  // Node's HTTP parser answers 400 itself for some of these; the server 403s the rest.
  for (const target of ['etc/passwd', '*', '..', 'C:/Windows/win.ini']) {
    const r = await get(iso, target);
    assert.ok(r.status === 400 || r.status === 403, `${target} -> ${r.status}`);
    assert.ok(!r.body.includes(SECRET));
  }
});

test('percent-encoding is decoded once: a double-encoded dot-dot is just a missing name', async () => {
  for (const target of ['/%252e%252e/secret.txt', '/%252e%252e%252fsecret.txt']) {
    const r = await get(iso, target);
    assert.equal(r.status, 404, target);
    assert.ok(!r.body.includes(SECRET));
  }
  assert.equal((await get(iso, '/%61.js')).body, 'export const a = 1;\n', '%61 is "a"');
  assert.equal((await get(iso, '/%zz')).status, 400);
});

test('a name that merely starts with two dots is an ordinary file', async () => {
  const r = await get(iso, '/..dots.js');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'export const dots = 1;\n');
});

test('a symlink that stays inside its mount is served', async () => {
  const r = await get(iso, '/inside-link.js');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'export const a = 1;\n');
});

test('methods other than GET and HEAD get 405 with Allow', async () => {
  for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const r = await raw(iso.port, m, '/a.js');
    assert.equal(r.status, 405, m);
    assert.equal(r.headers['allow'], 'GET, HEAD', m);
  }
});

test('missing files are 404; a missing wasm build says so', async () => {
  assert.equal((await get(iso, '/nope.js')).status, 404);
  assert.equal((await get(iso, '/sub/nope/deeper.js')).status, 404);
  const r = await get(noWasm, '/wasm/ferry_web.js');
  assert.equal(r.status, 404);
  assert.match(r.body, /does not exist yet.*not been built/);
  assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp');
});

test('a directory serves its index.html, never a listing', async () => {
  const moved = await get(iso, '/sub');
  assert.equal(moved.status, 301);
  assert.equal(moved.headers['location'], '/sub/');
  const sub = await get(iso, '/sub/');
  assert.equal(sub.status, 200);
  assert.match(sub.body, /<title>sub<\/title>/);
  assert.equal(sub.headers['content-type']!.split(';')[0], 'text/html');
  assert.match((await get(iso, '/')).body, /<title>root<\/title>/);
  const nolist = await get(iso, '/nolist/');
  assert.equal(nolist.status, 404);
  assert.ok(!nolist.body.includes('listed-file'));
  assert.equal((await get(iso, '/sub/?v=1')).status, 200, 'query strings are ignored');
  assert.equal((await get(iso, '/sub//index.html')).status, 200, 'inner empty segments collapse');
});

test('the default roots: web/ at /, and / leads to the demo when web/ has no index.html', async () => {
  const s: Server = await startServer({ port: 0 });
  try {
    const self = await get(s, '/server.mjs');
    assert.equal(self.status, 200);
    assert.equal(self.headers['content-type']!.split(';')[0], 'text/javascript');
    const rootReply = await get(s, '/');
    if (rootReply.status === 302) assert.equal(rootReply.headers['location'], '/demo/');
    else assert.equal(rootReply.status, 200);
    const w = await get(s, '/wasm/ferry_web.js');
    assert.ok(w.status === 200 || w.status === 404, `wasm mount answered ${w.status}`);
  } finally {
    await s.close();
  }
});

test('listens on loopback only', async () => {
  await assert.rejects(startServer({ port: 0, host: '0.0.0.0' }), /loopback/);
  assert.match(iso.url, /^http:\/\/127\.0\.0\.1:\d+$/);
});

test('startServers puts the plain origin on port + 1', async () => {
  // Find a free port whose successor is free too; give up quietly if the
  // machine is too busy to find one.
  for (let attempt = 0; attempt < 5; attempt++) {
    const probe: Server = await startServer({ port: 0 });
    const p = probe.port;
    await probe.close();
    if (p >= 65534) continue;
    let both: { isolated: Server; plain: Server; close(): Promise<void> };
    try {
      both = await startServers({ port: p });
    } catch {
      continue;
    }
    try {
      assert.equal(both.plain.port, p + 1);
      assert.equal((await get(both.isolated, '/server.mjs')).headers['cross-origin-opener-policy'], 'same-origin');
      assert.equal((await get(both.plain, '/server.mjs')).headers['cross-origin-opener-policy'], undefined);
    } finally {
      await both.close();
    }
    return;
  }
});
