// Worker of the mock pool (mock-pool.js): renders one tile per message and
// transfers the RGBA bytes back.
import { renderTile } from './mandelbrot.js';

self.onmessage = (e) => {
  const { id, req } = e.data;
  const tile = renderTile(req);
  self.postMessage({ id, tile }, [tile.rgba.buffer]);
};
self.postMessage({ ready: true });
