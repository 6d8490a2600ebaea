// The demo's two tasks for ferry's real WorkerPool with JavaScript workers
// (demo ?script=/test-pages/mandelbrot-worker.js): the same render_tile call
// and mandelbrot stream as web/wasm/ferry_web.cpp, so the page can run on
// the real pool, its rings and its streams before the wasm module is built.
import { expose, streamTask } from '/dist/worker.js';
import { renderTile } from './mandelbrot.js';

expose({
  render_tile: (req) => renderTile(req),
  // Tile requests in, tiles out; when the page reads slowly, send() waits
  // here, this loop stops reading, and the page's own send() waits in turn.
  mandelbrot: streamTask(async (input, output) => {
    for await (const req of input) await output.send(renderTile(req));
  }),
});
