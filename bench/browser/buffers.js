// The buffer cases: 1 and 16 MiB into a worker that checksums every byte
// (ferry calls copying through the ring, a WasmBuffer the worker reads in
// place, postMessage clone and transfer, Comlink, workerpool), and a 1 MiB
// echo through pools created with no options (what a user gets without
// tuning anything; one of the seed metrics, large values).
import { COMLINK, PM_CLONE, PM_TRANSFER, WP, addRow, check, log, repsOf, sizeLabel, table, timedReps } from '/bench/harness.js';

// --- Buffers into a worker -------------------------------------------------------------

export async function buffers(run) {
  log('buffers');
  const { c } = run;
  const sizes = run.quick ? [64 * 1024, 256 * 1024] : [1 << 20, 16 << 20];
  const t = table('buffers into a worker that checksums every byte (FNV-1a) and answers (MB/s)',
    [PM_CLONE, PM_TRANSFER, COMLINK, WP],
    'the bytes start in a JavaScript Uint8Array; every worker computes the same FNV-1a over every byte (the C++ ' +
    'tasks checksum_bytes / checksum_shared, the same function in JavaScript), so the differences are the cost ' +
    'of moving the bytes; transfer: the ArrayBuffer goes to the worker and comes back, moved both ways; ' +
    'WasmBuffer: pool.alloc() once, then per call bytes.set() into it (timed) and checksum_shared (nothing copied)');
  for (const size of sizes) {
    const label = sizeLabel(size);
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (i * 2654435761) >>> 24;
    const want = self.benchTasks.fnv1a(data);
    const ops = run.quick ? 3 : size >= 16 << 20 ? 4 : 24;
    let moving = data.slice().buffer;  // the transferred one
    let wasmBuf = null;
    if (c.ferryWasm && typeof c.ferryWasm.alloc === 'function') {
      wasmBuf = await run.guard(`pool.alloc(${size})`, () => c.ferryWasm.alloc(size));
    }
    const one = {
      'ferry JS call': c.ferryJs && (() => c.ferryJs.call('checksum', data)),
      'ferry wasm call': c.ferryWasm && (() => c.ferryWasm.call('checksum_bytes', data)),
      'ferry wasm WasmBuffer': wasmBuf && (() => {
        wasmBuf.bytes.set(data);
        return c.ferryWasm.call('checksum_shared', wasmBuf);
      }),
      [PM_CLONE]: () => c.plain.call({ op: 'checksum', v: data }).then((m) => m.r),
      [PM_TRANSFER]: async () => {
        const m = await c.plain.call({ op: 'checksum-transfer', buf: moving }, [moving]);
        moving = m.buf;
        return m.r;
      },
      [COMLINK]: () => c.comlink.checksum(data),
      [WP]: () => c.wp.exec('checksum', [data]),
    };
    const res = await timedReps(run, one, ops * size, 1e6, async (name, f) => {
      for (let k = 0; k < ops; k++) check(`${name} checksum of ${label}`, (await f()) >>> 0, want);
    });
    wasmBuf?.release();
    const st = (name) => repsOf(res, name, ops);
    const others = { [PM_CLONE]: st(PM_CLONE), [PM_TRANSFER]: st(PM_TRANSFER), [COMLINK]: st(COMLINK), [WP]: st(WP) };
    addRow(t, `${label} · ferry JS workers, call (copied through the ring)`, 'MB/s', true, st('ferry JS call'), others);
    addRow(t, `${label} · ferry wasm, call checksum_bytes (copied)`, 'MB/s', true, st('ferry wasm call'), others);
    if (wasmBuf) addRow(t, `${label} · ferry wasm, WasmBuffer + checksum_shared`, 'MB/s', true, st('ferry wasm WasmBuffer'), others);
  }
  run.tables.push(t);
}

// --- A large value into a worker and back, default settings ------------------------

// What a user gets without tuning anything: pools created with the default
// options (64 KiB rings) echo a 1 MiB Uint8Array, against postMessage with
// structured clone and with the buffer transferred both ways. Where ferry
// cannot carry the value at all (a MessageTooLargeError: the value does not
// fit one ring record), the row says so under "skipped" and has no ferry value.
export async function largeDefault(run) {
  log('large value, default settings');
  const { c } = run;
  if (!c.WorkerPool) return;
  const size = run.quick ? 256 * 1024 : 1 << 20;
  const label = sizeLabel(size);
  const ops = run.quick ? 3 : 24;
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 2654435761) >>> 24;
  // Every echo is checked where it can differ cheaply: its length and a
  // stride of bytes (a full checksum would be most of what is timed).
  const same = (what, u8) => {
    check(`${what}: length`, u8.byteLength, size);
    for (let i = 0; i < size; i += 4093) if (u8[i] !== data[i]) check(`${what}: byte ${i}`, u8[i], data[i]);
  };
  const pools = {
    'ferry JS, default settings': [await run.guard('WorkerPool.create({ script: /bench/ferry-worker.js }) with defaults',
      () => c.WorkerPool.create({ script: '/bench/ferry-worker.js', workers: 2 })), 'echo'],
    'ferry wasm, default settings': [await run.guard("WorkerPool.create({ module: '/wasm/ferry_web.js' }) with defaults",
      () => c.WorkerPool.create({ module: '/wasm/ferry_web.js', workers: 2 })), 'echo_bytes'],
  };
  try {
    const one = {};
    for (const [name, [pool, task]] of Object.entries(pools)) {
      if (!pool) continue;
      try {
        same(name, new Uint8Array(await pool.call(task, data)));
      } catch (e) {
        if (e?.name !== 'MessageTooLargeError') throw e;
        run.skipped.push(`${label} echo · ${name}: ${e.message}`);
        continue;
      }
      one[name] = async () => same(name, new Uint8Array(await pool.call(task, data)));
    }
    let moving = data.slice().buffer;
    one[PM_CLONE] = async () => same(PM_CLONE, (await c.plain.call({ op: 'echo', v: data })).r);
    one[PM_TRANSFER] = async () => {
      const m = await c.plain.call({ op: 'bounce', buf: moving }, [moving]);
      moving = m.buf;
      same(PM_TRANSFER, new Uint8Array(moving));
    };
    const res = await timedReps(run, one, ops * size, 1e6, async (name, f) => {
      for (let k = 0; k < ops; k++) await f();
    });
    const st = (name) => repsOf(res, name, ops);
    const t = table(`a ${label} Uint8Array into a worker and back, default pool settings (MB/s of the value, one way)`,
      [PM_CLONE, PM_TRANSFER],
      `${ops} echoes per rep, median of ${run.reps} after a warm-up rep; ferry: WorkerPool.create() with no ` +
      'options (64 KiB rings), call(echo) / call(echo_bytes); clone: postMessage there and back; transfer: the ' +
      'ArrayBuffer moved to the worker and back; each echo checks its length and every 4093rd byte');
    const others = { [PM_CLONE]: st(PM_CLONE), [PM_TRANSFER]: st(PM_TRANSFER) };
    for (const name of Object.keys(pools)) addRow(t, `${label} echo · ${name}`, 'MB/s', true, st(name), others, '', 'large values');
    run.tables.push(t);
  } finally {
    for (const [pool] of Object.values(pools)) await pool?.terminate();
  }
}
