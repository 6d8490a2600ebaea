// Worker of the mock pool (mock-pool.js): renders one Mandelbrot tile in
// plain JavaScript with the demo's TileRequest convention (cx, cy = centre
// of the tile) and transfers the RGBA bytes back.
function render({ x, y, w, h, max_iter, cx, cy, scale }) {
  const rgba = new Uint8Array(w * h * 4);
  let total = 0;
  for (let j = 0; j < h; j++) {
    const im = cy + (j + 0.5 - h / 2) * scale;
    for (let i = 0; i < w; i++) {
      const re = cx + (i + 0.5 - w / 2) * scale;
      let zr = 0;
      let zi = 0;
      let n = 0;
      while (n < max_iter && zr * zr + zi * zi <= 4) {
        const t = zr * zr - zi * zi + re;
        zi = 2 * zr * zi + im;
        zr = t;
        n++;
      }
      total += n;
      const o = (j * w + i) * 4;
      if (n >= max_iter) {
        rgba[o] = rgba[o + 1] = rgba[o + 2] = 0;
      } else {
        const s = n / max_iter;
        rgba[o] = Math.round(9 * (1 - s) * s * s * s * 255);
        rgba[o + 1] = Math.round(15 * (1 - s) * (1 - s) * s * s * 255);
        rgba[o + 2] = Math.round(8.5 * (1 - s) * (1 - s) * (1 - s) * s * 255);
      }
      rgba[o + 3] = 255;
    }
  }
  return { x, y, w, h, iterations: total, rgba };
}

self.onmessage = (e) => {
  const { id, req } = e.data;
  const tile = render(req);
  self.postMessage({ id, tile }, [tile.rgba.buffer]);
};
self.postMessage({ ready: true });
