// One Mandelbrot tile in plain JavaScript, computed and coloured exactly as
// web/wasm/ferry_web.cpp's render_tile does (cx, cy = centre of the
// width x height image). Used by the test workers in this folder.
export function renderTile({ x, y, w, h, max_iter, cx, cy, scale, width, height }) {
  const rgba = new Uint8Array(w * h * 4);
  let total = 0;
  for (let j = 0; j < h; j++) {
    const y0 = cy + (y + j - height / 2) * scale;
    for (let i = 0; i < w; i++) {
      const x0 = cx + (x + i - width / 2) * scale;
      let zr = 0;
      let zi = 0;
      let n = 0;
      while (n < max_iter && zr * zr + zi * zi <= 4) {
        const t = zr * zr - zi * zi + x0;
        zi = 2 * zr * zi + y0;
        zr = t;
        n++;
      }
      total += n;
      const o = (j * w + i) * 4;
      if (n >= max_iter) {
        rgba[o] = rgba[o + 1] = rgba[o + 2] = 0;
      } else {
        const v = Math.sqrt(n / max_iter);
        rgba[o] = 255 * v;
        rgba[o + 1] = 255 * v * v;
        rgba[o + 2] = 128 + 127 * Math.sin(6.28 * v);
      }
      rgba[o + 3] = 255;
    }
  }
  return { x, y, w, h, iterations: total, rgba };
}
