#!/usr/bin/env node
// Debian's Firefox ESR as Playwright's WebDriver BiDi Firefox: the executable
// that scripts/firefox.mjs gives Playwright (channel 'moz-firefox').
//
// Playwright 1.65 drives Firefox over WebDriver BiDi, but it opens every
// context and page with emulation.setMediaFeaturesOverride (the
// prefers-color-scheme emulation), a command Firefox ESR 153 does not have:
// newPage() fails with "unknown command". This launcher runs Firefox with
// Playwright's arguments and stands between the two on the BiDi WebSocket.
// It answers that one command itself when it asks for what Firefox already
// renders (nothing, no override, or 'light') and refuses any other colour
// scheme with an error that says why; every other message passes through
// unchanged, in order. Everything else Firefox prints goes to Playwright as
// it is.
//
// FERRY_FIREFOX names another Firefox binary (default: firefoxPath).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import WebSocket, { WebSocketServer } from 'ws';
import { firefoxPath } from './firefox.mjs';

const firefox = process.env.FERRY_FIREFOX || firefoxPath;
const MISSING = 'emulation.setMediaFeaturesOverride';
// Headless Firefox renders prefers-color-scheme: light (checked with
// matchMedia); Playwright sends null (no override) or leaves the feature out
// when nothing was asked for.
const NATIVE_SCHEMES = new Set([undefined, null, 'light']);
// Playwright's own BiDi socket takes messages up to this size (screenshots).
const MAX_MESSAGE = 256 * 1024 * 1024;

const child = spawn(firefox, process.argv.slice(2), { stdio: ['ignore', 'inherit', 'pipe'] });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('error', (e) => {
  process.stderr.write(`firefox-bidi: cannot start ${firefox}: ${e.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

// Firefox prints "WebDriver BiDi listening on ws://127.0.0.1:PORT" once its
// agent is up; Playwright waits for that line, so it gets the proxy's instead.
createInterface({ input: child.stderr }).on('line', (line) => {
  const m = /^WebDriver BiDi listening on (ws:\/\/\S+)$/.exec(line);
  if (!m) {
    process.stderr.write(`${line}\n`);
    return;
  }
  const upstream = m[1];
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: MAX_MESSAGE });
  server.on('listening', () => {
    process.stderr.write(`WebDriver BiDi listening on ws://127.0.0.1:${server.address().port}\n`);
  });
  server.on('connection', (client, req) => relay(client, new WebSocket(upstream + req.url, { maxPayload: MAX_MESSAGE })));
});

// The local answer to a message of Playwright's, or null to forward it.
function localAnswer(text) {
  if (!text.includes(MISSING)) return null;
  const msg = JSON.parse(text);
  if (msg.method !== MISSING) return null;
  const scheme = msg.params?.features?.['prefers-color-scheme'];
  if (NATIVE_SCHEMES.has(scheme)) return { type: 'success', id: msg.id, result: {} };
  return {
    type: 'error',
    id: msg.id,
    error: 'unsupported operation',
    message: `${MISSING} is missing in this Firefox: prefers-color-scheme ${JSON.stringify(scheme)} cannot be emulated (scripts/firefox-bidi.mjs)`,
  };
}

function relay(client, browser) {
  const queued = [];
  browser.on('open', () => queued.splice(0).forEach((t) => browser.send(t)));
  client.on('message', (data) => {
    const text = data.toString();
    const answer = localAnswer(text);
    if (answer) client.send(JSON.stringify(answer));
    else if (browser.readyState === WebSocket.OPEN) browser.send(text);
    else queued.push(text);
  });
  browser.on('message', (data) => client.send(data.toString()));
  client.on('close', () => browser.close());
  browser.on('close', () => client.close());
  for (const [name, ws] of [['Playwright', client], ['Firefox', browser]]) {
    ws.on('error', (e) => process.stderr.write(`firefox-bidi: ${name} socket: ${e.message}\n`));
  }
}
