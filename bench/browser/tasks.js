// The work every browser-benchmark worker does, the same for each contender.
// A classic script (no import/export) so that module workers (import
// '/bench/tasks.js'), classic workers (importScripts) and the page can all load
// it; it defines self.benchTasks.
(function (g) {
  // FNV-1a over every byte: the checksum the C++ tasks of web/wasm/ferry_web.cpp
  // compute (checksum_bytes, checksum_shared), so results agree across contenders.
  function fnv1a(u8) {
    let h = 0x811c9dc5;
    for (let i = 0; i < u8.length; i++) h = Math.imul(h ^ u8[i], 0x01000193);
    return h >>> 0;
  }
  // The i-th 32-byte string of the small-value stream benchmark (the C++
  // source_str task sends the same ones).
  function smallString(i) {
    return `ferry small value #${String(i).padStart(13, '0')}`;
  }
  // Busy work for `us` microseconds (the slow consumer of the backpressure case).
  function spin(us) {
    const end = performance.now() + us / 1000;
    while (performance.now() < end) {}
  }
  const calls = {
    add: (a, b) => a + b,
    echo: (v) => v,
    upper: (s) => s.toUpperCase(),
    checksum: (u8) => fnv1a(u8 instanceof Uint8Array ? u8 : new Uint8Array(u8)),
  };
  // What the call-based libraries (Comlink, workerpool) expose: the calls,
  // and a sink that spins `work` µs per message and answers its count.
  let sunk = 0;
  const exposed = {
    ...calls,
    sink(work) {
      spin(work);
      return ++sunk;
    },
  };
  g.benchTasks = { ...calls, fnv1a, spin, smallString, exposed };
})(self);
