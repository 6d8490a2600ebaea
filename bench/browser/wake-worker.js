// The raw shared-memory ping-pong: the floor a ferry call aims at (no ferry
// code at all). The page bumps word REQ; this worker answers by copying it
// to word RESP and wakes the page only if the page said it parked (the
// eventcount of core/RING.md, one flag per side). How the worker waits and
// how it wakes the page are what wake.js compares:
//   wait  'block'  Atomics.wait (after spinning `spinUs` µs)
//         'async'  Atomics.waitAsync (after spinning), the event loop stays free
//   bell  'notify' Atomics.notify on RESP (the page awaits Atomics.waitAsync)
//         'port'   a message on a MessagePort (the page awaits its onmessage)
// Messages: {sab, port, wait, bell, spinUs, seen} starts a run; setting word STOP ends it.
const REQ = 0, RESP = 1, PAGE_PARKED = 2, WORKER_PARKED = 3, STOP = 4;

let words = null, port = null, bell = 'notify', spinUs = 0, start = 0;

function answer(v) {
  Atomics.store(words, RESP, v);
  // seq_cst store above, then this load: Dekker with the page's flag store
  // and re-check, so one of the two sees the other.
  if (Atomics.load(words, PAGE_PARKED) === 1 && Atomics.exchange(words, PAGE_PARKED, 0) === 1) {
    if (bell === 'port') port.postMessage(0);
    else Atomics.notify(words, RESP);
  }
}

function spinFor(seen) {
  let v = Atomics.load(words, REQ);
  if (v !== seen || spinUs <= 0) return v;
  const end = performance.now() + spinUs / 1000;
  while ((v = Atomics.load(words, REQ)) === seen && performance.now() < end);
  return v;
}

// Serves until STOP, waiting the way `wait` says; an async function that
// never awaits when it blocks (Atomics.wait keeps the thread).
async function serve(wait) {
  let seen = start;
  for (;;) {
    let v = spinFor(seen);
    while (v === seen && Atomics.load(words, STOP) === 0) {
      Atomics.store(words, WORKER_PARKED, 1);
      v = Atomics.load(words, REQ);
      if (v === seen) {
        if (wait === 'block') {
          Atomics.wait(words, REQ, seen, 100);
        } else {
          const r = Atomics.waitAsync(words, REQ, seen, 100);
          if (r.async) await r.value;
        }
      }
      Atomics.store(words, WORKER_PARKED, 0);
      v = Atomics.load(words, REQ);
    }
    if (Atomics.load(words, STOP) !== 0) break;
    seen = v;
    answer(v);
  }
  postMessage({ stopped: true });
}

self.onmessage = ({ data: m }) => {
  words = new Int32Array(m.sab);
  port = m.port ?? null;
  bell = m.bell;
  spinUs = m.spinUs;
  start = m.seen; // the page may already have asked: answer from there
  void serve(m.wait);
};
