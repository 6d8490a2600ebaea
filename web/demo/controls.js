// The page's controls: worker count, stream or call mode, tile size, maximum
// iterations, the slow consumer, pause, reset, and clicks on the canvas that
// zoom in and out.
import { createPool, restartRun, run } from './pipeline.js';
import { $, START_VIEW, demo } from './state.js';
import { canvas, setMaxIter, setTileSize, setView, zoomAt } from './view.js';

// Work already sent for the old view is dropped on arrival; streams are
// restarted so that their rings' backlog does not delay the new view.
function viewMoved() {
  if (demo.mode === 'stream' && run) restartRun();
}

export function wireControls(params) {
  const workersSel = $('workers');
  const want = Number(params.get('workers')) || Math.min(2, navigator.hardwareConcurrency || 2);
  if (![...workersSel.options].some((o) => Number(o.value) === want)) workersSel.add(new Option(String(want)));
  workersSel.value = String(want);
  workersSel.addEventListener('change', () => createPool(Number(workersSel.value)));

  const modeSel = $('mode');
  if (params.get('mode') === 'call') modeSel.value = 'call';
  demo.mode = modeSel.value;
  modeSel.addEventListener('change', () => {
    demo.mode = modeSel.value;
    restartRun();
  });

  $('tile').addEventListener('change', () => {
    setTileSize(Number($('tile').value));
    setView(demo.view.cx, demo.view.cy, demo.view.scale);
    viewMoved();
  });
  $('iter').addEventListener('change', () => {
    setMaxIter(Number($('iter').value));
    setView(demo.view.cx, demo.view.cy, demo.view.scale);
    viewMoved();
  });

  const slow = $('slow');
  slow.checked = params.get('slow') === '1';
  demo.slow = slow.checked;
  slow.addEventListener('change', () => {
    demo.slow = slow.checked;
    // Turning it off: drop the rings' backlog instead of draining it slowly.
    if (!demo.slow && demo.mode === 'stream') restartRun();
  });

  $('pause').addEventListener('click', () => {
    demo.paused = !demo.paused;
    $('pause').textContent = demo.paused ? 'Run' : 'Pause';
  });
  $('reset').addEventListener('click', () => {
    setView(START_VIEW.cx, START_VIEW.cy, START_VIEW.scale);
    viewMoved();
  });

  const c = canvas();
  const at = (ev) => {
    const r = c.getBoundingClientRect();
    return [((ev.clientX - r.left) * c.width) / r.width, ((ev.clientY - r.top) * c.height) / r.height];
  };
  c.addEventListener('click', (ev) => {
    const [x, y] = at(ev);
    zoomAt(x, y, ev.shiftKey ? 0.5 : 2);
    viewMoved();
  });
  c.addEventListener('contextmenu', (ev) => {
    ev.preventDefault();
    const [x, y] = at(ev);
    zoomAt(x, y, 0.5);
    viewMoved();
  });
}
