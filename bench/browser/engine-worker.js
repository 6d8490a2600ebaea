// The other side of the engine case (engine.js, engineCosts): answers every
// request the page writes into a SharedArrayBuffer, parked in Atomics.wait
// between requests, and wakes the page the way it was told to: Atomics.notify
// (the page parks in Atomics.waitAsync, or spins) or a postMessage doorbell.
// Words: [0] request (the page writes i > 0; -1 stops), [1] answer (i).
// Messages to the page: 'ready' once, then one doorbell per answer (doorbell
// mode), then 'stopped'.
self.onmessage = ({ data: { sab, doorbell } }) => {
  const w = new Int32Array(sab);
  let seen = 0;
  postMessage('ready');
  for (;;) {
    Atomics.wait(w, 0, seen);
    seen = Atomics.load(w, 0);
    if (seen < 0) break;
    Atomics.store(w, 1, seen);
    if (doorbell) postMessage(seen);
    else Atomics.notify(w, 1);
  }
  postMessage('stopped');
};
