// ferry demo: C++ tasks in a wasm WorkerPool render Mandelbrot tiles, which
// stream back into a canvas; live charts show what the pool and its rings do.
//
// The parts: pipeline.js (the pool, and the stream or call loops feeding it
// tiles: where backpressure shows), view.js (tiles, TileRequests, zoom, tiles
// drawn), stats.js (the ticker: rates, latencies, queue depth, heap, charts
// and numbers), chart.js (the line charts), controls.js (the page's controls)
// and state.js (window.__ferryDemo, the status line and the error box). This
// file reads the query parameters, loads the package and starts it all.
//
// Query parameters (same origin only): ?pool=URL of the module exporting
// WorkerPool (default /dist/index.js), ?module=URL of the wasm glue (default
// /wasm/ferry_web.js), or ?script=URL of a JavaScript worker script with the
// same two tasks instead of the wasm module; ?workers=N, ?mode=stream|call,
// ?slow=1.
//
// For the headless runner and the specs, window.__ferryDemo holds the live
// numbers and window.__ferryReady turns true once the pool is up.
import { wireControls } from './controls.js';
import { createPool, pool } from './pipeline.js';
import { $, START_VIEW, reportError, setStatus, source } from './state.js';
import { makeCharts, tick } from './stats.js';
import { canvas, setMaxIter, setTileSize, setView } from './view.js';

const TICK_MS = 250; // chart and number refresh

// Same-origin URL from a query parameter, or the default.
function sameOriginParam(params, name, fallback) {
  const v = params.get(name);
  if (!v) return fallback;
  const u = new URL(v, location.href);
  if (u.origin !== location.origin) throw new Error(`?${name}=${v} is not on this origin`);
  return u.pathname + u.search;
}

function paintPlaceholder(text) {
  const c = canvas();
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.fillStyle = '#8a94a3';
  ctx.font = '16px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.fillText(text, c.width / 2, c.height / 2);
}

async function main() {
  const params = new URLSearchParams(location.search);
  let poolURL;
  try {
    poolURL = sameOriginParam(params, 'pool', '/dist/index.js');
    source.moduleURL = sameOriginParam(params, 'module', '/wasm/ferry_web.js');
    source.scriptURL = sameOriginParam(params, 'script', null);
  } catch (e) {
    reportError('bad query parameter', e);
    return;
  }
  makeCharts();
  paintPlaceholder('waiting for the worker pool…');
  setInterval(tick, TICK_MS);
  setTileSize(Number($('tile').value));
  setMaxIter(Number($('iter').value));
  setView(START_VIEW.cx, START_VIEW.cy, START_VIEW.scale);
  wireControls(params);
  if (!window.crossOriginIsolated) {
    reportError(
      'this page is not cross-origin isolated',
      new Error('SharedArrayBuffer and wasm threads need COOP/COEP headers; serve it with node web/server.mjs'),
    );
  }
  try {
    source.WorkerPool = (await import(poolURL)).WorkerPool;
  } catch (e) {
    reportError(`could not load the ferry package from ${poolURL} (build it with: node web/build.mjs)`, e);
    setStatus('Not running: the ferry package did not load.');
    paintPlaceholder('the ferry package did not load (see the error above)');
    return;
  }
  if (!source.WorkerPool || typeof source.WorkerPool.create !== 'function') {
    reportError(`${poolURL} has no WorkerPool.create`, new Error(`its exports are: ${Object.keys(await import(poolURL)).join(', ') || 'none'}`));
    setStatus('Not running.');
    return;
  }
  await createPool(Number($('workers').value));
  if (!pool) paintPlaceholder('the worker pool did not start (see the error above)');
}

main().catch((e) => reportError('the demo failed', e));
