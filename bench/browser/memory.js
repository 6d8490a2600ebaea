// The memory case: what 10,000 echo calls (64 B–16 KiB byte arrays) leave
// behind, in the JS heap (after gc()) and, for the wasm pool, in its heap
// (dlmalloc's statistics via pool.heap(): in use, high-water mark, free
// chunks). One of the seed metrics (memory fragmentation after 10k ops).
import { COMLINK, PM, WP, addRow, log, single, table } from '/bench/harness.js';

// The JS heap in use after a few gc() calls (NaN where performance.memory is missing).
async function gcAndHeap() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.memory?.usedJSHeapSize ?? NaN;
}

const heapOf = (pool) => (typeof pool?.heap === 'function' ? pool.heap() : null);

export async function memory(run) {
  log('memory after 10k operations');
  const { c } = run;
  const ops = run.quick ? 300 : 10000;
  const sizes = [64, 1000, 4096, 300, 16384, 2048, 128];
  const payloads = sizes.map((s) => new Uint8Array(s).fill(s & 0xff));
  const t = table(`memory after ${ops.toLocaleString('en-US')} calls (echo of 64 B–16 KiB byte arrays, sizes cycled)`,
    [PM, COMLINK, WP],
    'JS heap: performance.memory.usedJSHeapSize after gc() (Chromium runs with --expose-gc and ' +
    '--enable-precise-memory-info), after the calls minus before; wasm heap (dlmalloc via pool.heap()): the ' +
    `calls go to echo_bytes and, when pool.alloc() exists, each also leases and releases a WasmBuffer of 3x its size`);
  const calls = {
    'ferry JS': c.ferryJs && ((p) => c.ferryJs.call('echo', p)),
    'ferry wasm': c.ferryWasm && ((p) => c.ferryWasm.call('echo_bytes', p)),
    [PM]: (p) => c.plain.call({ op: 'echo', v: p }).then((m) => m.r),
    [COMLINK]: (p) => c.comlink.echo(p),
    [WP]: (p) => c.wp.exec('echo', [p]),
  };
  const growth = {};
  let heapBefore = null, heapAfter = null;
  for (const [name, f] of Object.entries(calls)) {
    if (!f) continue;
    await run.guard(`${name} memory`, async () => {
      const wasm = name === 'ferry wasm';
      for (let i = 0; i < 50; i++) await f(payloads[i % payloads.length]);  // warm-up
      const h0 = await gcAndHeap();
      if (wasm) heapBefore = heapOf(c.ferryWasm);
      for (let i = 0; i < ops; i++) {
        const p = payloads[i % payloads.length];
        if (wasm && typeof c.ferryWasm.alloc === 'function') {
          const b = c.ferryWasm.alloc(p.length * 3);
          b.bytes[0] = 1;
          b.release();
        }
        const got = await f(p);
        if (!(got instanceof Uint8Array) || got.length !== p.length || got[p.length - 1] !== p[p.length - 1]) {
          throw new Error(`${name}: echo of ${p.length} bytes came back wrong`);
        }
      }
      const h1 = await gcAndHeap();
      if (wasm) heapAfter = heapOf(c.ferryWasm);
      growth[name] = single((h1 - h0) / 1024, ops);
    });
  }
  const others = { [PM]: growth[PM], [COMLINK]: growth[COMLINK], [WP]: growth[WP] };
  addRow(t, 'JS heap growth · ferry JS workers', 'KiB', false, growth['ferry JS'], others, '', 'memory fragmentation after 10k ops');
  addRow(t, 'JS heap growth · ferry wasm workers', 'KiB', false, growth['ferry wasm'], others, '', 'memory fragmentation after 10k ops');
  if (heapBefore && heapAfter) {
    const kib = (v) => single(v / 1024, ops);
    // Released WasmBuffers wait in a quarantine before the allocator gets them back (web/src/buffer.ts).
    const live = (h) => h.inUse - (h.quarantined ?? 0);
    addRow(t, 'wasm heap in use, after − before · ferry wasm', 'KiB', false, kib(live(heapAfter) - live(heapBefore)), {},
      `before ${Math.round(live(heapBefore) / 1024)} KiB; not counted: ${Math.round((heapAfter.quarantined ?? 0) / 1024)} KiB of released WasmBuffers in quarantine`,
      'memory fragmentation after 10k ops');
    addRow(t, 'wasm heap high-water mark · ferry wasm', 'KiB', false, kib(heapAfter.highWater), {},
      `before ${Math.round(heapBefore.highWater / 1024)} KiB; linear memory ${Math.round(heapAfter.memoryBytes / 2 ** 20)} MiB`,
      'memory fragmentation after 10k ops');
    addRow(t, 'wasm heap free chunks · ferry wasm', 'chunks', false, single(heapAfter.freeChunks, ops), {},
      `before ${heapBefore.freeChunks}; dlmalloc's free-list length`, 'memory fragmentation after 10k ops');
    addRow(t, 'wasm heap free bytes inside the heap · ferry wasm', 'KiB', false, kib(heapAfter.free), {},
      `before ${Math.round(heapBefore.free / 1024)} KiB; ${((100 * heapAfter.free) / (heapAfter.free + heapAfter.inUse)).toFixed(1)}% of the heap's bytes`,
      'memory fragmentation after 10k ops');
  }
  run.tables.push(t);
}
