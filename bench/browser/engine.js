// The engine case: what the engine itself charges, with no ferry in it. How
// long a worker takes to wake the page (SharedArrayBuffer + Atomics.waitAsync,
// a postMessage doorbell, spinning, plain postMessage both ways) and what
// moving 64 KiB / 1 MiB to a worker costs (a copy into a SharedArrayBuffer,
// structuredClone, postMessage clone and transfer). The report sets these
// beside ferry's rows, engine by engine, as platform costs (never as ferry
// being behind).
import { PM, PM_CLONE, PM_TRANSFER, addRow, check, interleaved, log, pctOf, repsOf, sizeLabel, table, timedReps } from '/bench/harness.js';

// A SharedArrayBuffer ping-pong with engine-worker.js: the page writes request i
// and wakes the worker (parked in Atomics.wait); `wait(i)` resolves once the
// answer word holds i, however this mode waits for it.
class WakeLane {
  constructor(doorbell) {
    this.sab = new SharedArrayBuffer(64);
    this.w = new Int32Array(this.sab);
    this.worker = new Worker('/bench/engine-worker.js');
    this.bell = null;
    // The first message says the worker is in its loop: a page that spins
    // before then could starve the worker's start-up (seen in Chromium).
    this.ready = new Promise((res) => {
      this.worker.onmessage = () => {
        this.worker.onmessage = () => this.bell?.();
        res();
      };
    });
    this.worker.postMessage({ sab: this.sab, doorbell });
  }
  request(i) {
    Atomics.store(this.w, 0, i);
    Atomics.notify(this.w, 0);
  }
  async waitAsync(i) {
    // Waits on the value it saw: if the answer lands in between, waitAsync
    // returns 'not-equal' at once instead of waiting for a second change.
    for (let seen; (seen = Atomics.load(this.w, 1)) !== i; ) {
      const r = Atomics.waitAsync(this.w, 1, seen, 5000);
      if (r.async && (await r.value) === 'timed-out') throw new Error(`no answer to request ${i} within 5 s`);
    }
  }
  async doorbell(i) {
    while (Atomics.load(this.w, 1) !== i) {
      await new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error(`no doorbell for request ${i} within 5 s`)), 5000);
        this.bell = () => { clearTimeout(t); res(); };
      });
    }
  }
  // The floor: the page burns its thread re-reading the answer word.
  spin(i) {
    const end = performance.now() + 5000;
    for (let k = 0; Atomics.load(this.w, 1) !== i; k++) {
      if ((k & 1023) === 0 && performance.now() > end) throw new Error(`no answer to request ${i} within 5 s`);
    }
  }
  stop() {
    this.request(-1);
    setTimeout(() => this.worker.terminate(), 100);
  }
}

export async function engineCosts(run) {
  log('engine: wake-up and copy costs');
  await wakeCosts(run);
  await copyCosts(run);
}

// Round trips page -> worker -> page, however the page waits for the answer.
async function wakeCosts(run) {
  const { c } = run;
  const WAIT_ASYNC = 'SAB + Atomics.waitAsync', DOORBELL = 'SAB + postMessage doorbell', SPIN = 'SAB + spin';
  const lanes = { [WAIT_ASYNC]: new WakeLane(false), [DOORBELL]: new WakeLane(true), [SPIN]: new WakeLane(false) };
  await Promise.all(Object.values(lanes).map((l) => l.ready));
  let next = 0;
  const trip = {
    [WAIT_ASYNC]: (i) => { lanes[WAIT_ASYNC].request(i); return lanes[WAIT_ASYNC].waitAsync(i); },
    [DOORBELL]: (i) => { lanes[DOORBELL].request(i); return lanes[DOORBELL].doorbell(i); },
    [SPIN]: (i) => { lanes[SPIN].request(i); lanes[SPIN].spin(i); },
    [PM]: (i) => c.plain.call({ op: 'add', a: i, b: 0 }).then((m) => check('postMessage round trip', m.r, i)),
  };
  const batch = run.quick ? 10 : 50;
  const batches = run.quick ? 8 : 120;
  const rounds = run.quick ? 1 : 4;
  try {
    const per = await interleaved(run, trip, rounds + 1, async (name, f, r) => {
      const out = [];
      for (let b = 0; b < (r === 0 ? 2 : batches / rounds); b++) {
        const t0 = performance.now();
        for (let k = 0; k < batch; k++) await f(++next);
        out.push(((performance.now() - t0) * 1000) / batch);
      }
      return r === 0 ? [] : out;  // round 0 warms up
    });
    const t = table('waking the page: a worker answers a request, the page waits for it (µs per round trip)',
      [PM, DOORBELL, SPIN],
      `timed in batches of ${batch} sequential round trips, p50/p99 over ${batches} batches, modes interleaved in ` +
      `${rounds} rounds; SAB modes: the page writes a request word and notifies the worker parked in Atomics.wait; ` +
      'the worker writes the answer word and wakes the page by Atomics.notify (the page parks in Atomics.waitAsync, or ' +
      'spins on the word: the floor, which holds the page’s thread) or by a postMessage doorbell; postMessage: both ways; ' +
      'ratio = other / waitAsync: > 1 means waitAsync is faster', WAIT_ASYNC);
    for (const q of [50, 99]) {
      addRow(t, `round trip p${q}`, 'µs', false, pctOf(per, WAIT_ASYNC, q),
        { [PM]: pctOf(per, PM, q), [DOORBELL]: pctOf(per, DOORBELL, q), [SPIN]: pctOf(per, SPIN, q) });
    }
    run.tables.push(t);
  } finally {
    for (const lane of Object.values(lanes)) lane.stop();
  }
}

// 64 KiB and 1 MiB to a worker (or only copied, in the page), MB/s.
async function copyCosts(run) {
  const { c } = run;
  const SAB_COPY = 'copy into a SharedArrayBuffer';
  const SAB_MISALIGNED = 'the same copy 5 bytes in';
  const NEW_ARRAY = 'copy into a new Uint8Array';
  const t = table('bytes to a worker: what each way of moving them costs (MB/s)', [PM_CLONE, PM_TRANSFER, 'structuredClone', SAB_MISALIGNED, NEW_ARRAY],
    'postMessage (clone): the worker gets a clone and answers its length; postMessage (transfer): the buffer moves to ' +
    'the worker and back; structuredClone: a clone in the page, nothing sent; copy into a SharedArrayBuffer: ' +
    'Uint8Array.set() into shared memory, the copy ferry’s ring makes on a call (the worker then reads it in place, ' +
    'nothing sent); the same copy 5 bytes in: to an offset that is not a multiple of 8, where the codec puts a byte ' +
    'array’s bytes (after its tag and length); copy into a new Uint8Array: new Uint8Array(n).set(), the first write ' +
    'to fresh memory that every decoded copy makes; MB/s of the buffer’s size per operation', SAB_COPY);
  for (const size of [64 * 1024, 1 << 20]) {
    const label = sizeLabel(size);
    const data = new Uint8Array(size).map((_, i) => i * 31);
    const shared = new Uint8Array(new SharedArrayBuffer(size));
    const shared5 = new Uint8Array(new SharedArrayBuffer(size + 8));
    let moving = data.slice().buffer;
    const ops = run.quick ? 4 : size >= 1 << 20 ? 40 : 400;
    const move = {
      [SAB_COPY]: () => {
        shared.set(data);
        check('shared copy', shared[size - 1], data[size - 1]);
      },
      [PM_CLONE]: async () => check('clone size', (await c.plain.call({ op: 'size', v: data })).r, size),
      [PM_TRANSFER]: async () => {
        const m = await c.plain.call({ op: 'bounce', buf: moving }, [moving]);
        moving = m.buf;
        check('transferred size', m.r, size);
      },
      structuredClone: () => check('structuredClone size', structuredClone(data).length, size),
      [SAB_MISALIGNED]: () => {
        shared5.set(data, 5);
        check('misaligned shared copy', shared5[size + 4], data[size - 1]);
      },
      [NEW_ARRAY]: () => {
        const fresh = new Uint8Array(size);
        fresh.set(data);
        check('new array copy', fresh[size - 1], data[size - 1]);
      },
    };
    const res = await timedReps(run, move, ops * size, 1e6, async (name, f) => {
      for (let k = 0; k < ops; k++) await f();
    });
    const st = (name) => repsOf(res, name, ops);
    addRow(t, label, 'MB/s', true, st(SAB_COPY), {
      [PM_CLONE]: st(PM_CLONE), [PM_TRANSFER]: st(PM_TRANSFER), structuredClone: st('structuredClone'),
      [SAB_MISALIGNED]: st(SAB_MISALIGNED), [NEW_ARRAY]: st(NEW_ARRAY),
    });
  }
  run.tables.push(t);
}
