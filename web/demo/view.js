// The view: the Mandelbrot image cut into tiles (centre first), the
// TileRequest of the next tile frame after frame, zooming, and each tile that
// comes back drawn into the canvas (with its latency recorded).
//
// TileRequest (web/wasm/ferry_web.cpp): cx, cy = the centre of the whole
// image (width x height pixels) in the complex plane; pixel (x+i, y+j) is
//   re = cx + (x + i - width/2) * scale,  im = cy + (y + j - height/2) * scale.
import { $, START_VIEW, demo, now } from './state.js';

export const LATENCY_WINDOW = 512; // tiles the percentiles are taken over
const AUTO_TARGET = { cx: -0.743643887037151, cy: 0.13182590420533 };

export const canvas = () => $('view');
let tileSize = 64;
let maxIter = 256;
let tiles = []; // this view's tiles, centre first
let cursor = 0; // next tile to hand out
const images = new Map(); // reused ImageData per tile size, keeps the JS heap flat

export function setTileSize(size) {
  tileSize = size;
  layoutTiles();
}

export function setMaxIter(n) {
  maxIter = n;
}

function layoutTiles() {
  const W = canvas().width;
  const H = canvas().height;
  const list = [];
  for (let y = 0; y < H; y += tileSize) {
    for (let x = 0; x < W; x += tileSize) {
      list.push({ x, y, w: Math.min(tileSize, W - x), h: Math.min(tileSize, H - y) });
    }
  }
  const d = (t) => (t.x + t.w / 2 - W / 2) ** 2 + (t.y + t.h / 2 - H / 2) ** 2;
  list.sort((a, b) => d(a) - d(b));
  tiles = list;
  cursor = 0;
  demo.tilesPerFrame = list.length;
}

// The next TileRequest of the current view (frame after frame), with the
// view generation it belongs to.
export function nextRequest() {
  if (cursor >= tiles.length) {
    cursor = 0;
    demo.frames++;
    if ($('auto').checked) autoZoomStep();
  }
  const t = tiles[cursor++];
  const v = demo.view;
  return {
    gen: v.gen,
    req: {
      x: t.x,
      y: t.y,
      w: t.w,
      h: t.h,
      max_iter: maxIter,
      cx: v.cx,
      cy: v.cy,
      scale: v.scale,
      width: canvas().width,
      height: canvas().height,
    },
  };
}

// A new view: tiles of the old one still in flight are dropped on arrival
// (their generation is old); the caller restarts the streams if their
// rings' backlog should not delay the new view (controls.js, viewMoved).
export function setView(cx, cy, scale) {
  demo.view = { cx, cy, scale, gen: demo.view.gen + 1 };
  cursor = 0;
  $('where').textContent = `centre ${cx.toPrecision(12)} ${cy >= 0 ? '+' : '−'} ${Math.abs(cy).toPrecision(12)}i, ${(START_VIEW.scale / scale).toPrecision(3)}× zoom`;
}

function autoZoomStep() {
  const v = demo.view;
  if (v.scale < 1e-13) return setView(START_VIEW.cx, START_VIEW.cy, START_VIEW.scale);
  const k = 0.85;
  setView(v.cx + (AUTO_TARGET.cx - v.cx) * 0.25, v.cy + (AUTO_TARGET.cy - v.cy) * 0.25, v.scale * k);
}

export function zoomAt(px, py, factor) {
  const c = canvas();
  const v = demo.view;
  const cx = v.cx + (px - c.width / 2) * v.scale;
  const cy = v.cy + (py - c.height / 2) * v.scale;
  setView(cx, cy, v.scale / factor);
}

// ---------------------------------------------------------------- tiles in

// The latest LATENCY_WINDOW latencies (ms from the ring taking the request to
// the tile arriving), a ring of them; latencyCount counts every tile.
export const latencies = new Float64Array(LATENCY_WINDOW);
export let latencyCount = 0;

export function onTile(tile, entry) {
  const t = now();
  latencies[latencyCount++ % LATENCY_WINDOW] = t - entry.t;
  const w = Number(tile.w);
  const h = Number(tile.h);
  const rgba = tile.rgba;
  demo.tilesDone++;
  demo.bytesDone += rgba ? rgba.byteLength : 0;
  demo.iterationsDone += Number(tile.iterations ?? 0);
  if (entry.gen !== demo.view.gen || !rgba) return;
  if (rgba.byteLength !== w * h * 4) {
    throw new Error(`tile ${tile.x},${tile.y} has ${rgba.byteLength} bytes of RGBA, expected ${w}×${h}×4 = ${w * h * 4}`);
  }
  const key = `${w}x${h}`;
  let img = images.get(key);
  if (!img) images.set(key, (img = new ImageData(w, h)));
  img.data.set(rgba); // copy: the bytes may be a view into a ring or wasm memory
  canvas().getContext('2d').putImageData(img, Number(tile.x), Number(tile.y));
  demo.tilesDrawn++;
}
