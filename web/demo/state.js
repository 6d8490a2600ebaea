// The demo's live state and its voice: window.__ferryDemo (the numbers the
// page shows, and what the headless runner and the specs read), where the pool
// comes from (the query parameters), the status line and the error box.

export const $ = (id) => document.getElementById(id);
export const now = () => performance.now();
export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

export const START_VIEW = { cx: -0.6, cy: 0, scale: 3.0 / 768 };

export const demo = {
  ready: false,
  workers: 0,
  poolWorkers: 0, // workers the pool reports in stats()
  poolGeneration: 0, // bumped every time the pool is (re)created
  transport: null,
  mode: 'stream',
  slow: false,
  paused: false,
  tilesDone: 0,
  tilesDrawn: 0,
  bytesDone: 0,
  iterationsDone: 0,
  frames: 0,
  tilesPerFrame: 0,
  tilesPerSec: 0,
  mbPerSec: 0,
  p50Ms: 0,
  p99Ms: 0,
  queueDepth: { ringBytes: null, tilesInFlight: 0, poolQueued: 0, peakRingBytes: 0, peakTilesInFlight: 0 },
  heap: { jsBytes: null, wasm: null },
  producer: { waiting: 0, sendWaitMs: 0, waitRatio: 0 },
  view: { ...START_VIEW, gen: 0 },
  errors: [],
};
window.__ferryDemo = demo;
window.__ferryReady = false;

// Where the pool comes from, set once by main() from the query parameters:
// the wasm glue (moduleURL), or a JavaScript worker script (scriptURL)
// instead of the wasm module, and the WorkerPool class the package exports.
export const source = { moduleURL: '/wasm/ferry_web.js', scriptURL: null, WorkerPool: null };

export function setStatus(text) {
  $('status').textContent = text;
}

// Shows an error in the page (never a blank page) and records it.
export function reportError(context, e) {
  const text = `${context}: ${e && e.name ? `${e.name}: ` : ''}${e && e.message !== undefined ? e.message : String(e)}`;
  demo.errors.push(text);
  const box = $('error');
  box.hidden = false;
  box.textContent = demo.errors.slice(-5).join('\n');
  console.error(`[ferry demo] ${text}`, e);
  return text;
}
