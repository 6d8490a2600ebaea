// Raw postMessage worker (structured clone, or transferred ArrayBuffers): each
// request is {id, op, ...}; each answer {id, r} (plus the buffer back, moved,
// for ops 'checksum-transfer' and 'bounce').
importScripts('/bench/tasks.js');
const t = self.benchTasks;
let sunk = 0;
self.onmessage = ({ data: m }) => {
  switch (m.op) {
    case 'add': postMessage({ id: m.id, r: t.add(m.a, m.b) }); break;
    case 'echo': postMessage({ id: m.id, r: m.v }); break;
    case 'upper': postMessage({ id: m.id, r: t.upper(m.v) }); break;
    case 'checksum': postMessage({ id: m.id, r: t.checksum(m.v) }); break;
    case 'size': postMessage({ id: m.id, r: m.v.byteLength }); break;
    case 'bounce': postMessage({ id: m.id, r: m.buf.byteLength, buf: m.buf }, [m.buf]); break;
    case 'checksum-transfer': {
      const r = t.checksum(new Uint8Array(m.buf));
      postMessage({ id: m.id, r, buf: m.buf }, [m.buf]);
      break;
    }
    case 'noop': break;
    // Small values one way: 'small' messages are counted, the one with
    // `last` answers the count; 'source' posts `n` values, then answers.
    case 'small':
      sunk++;
      if (m.last) {
        postMessage({ id: m.id, r: sunk });
        sunk = 0;
      }
      break;
    case 'source':
      for (let i = 0; i < m.n; i++) postMessage({ op: 'v', v: m.strings ? t.smallString(i) : i + 0.5 });
      postMessage({ id: m.id, r: m.n });
      break;
    // Backpressure: spin `work` µs per message, ack every `ack` messages and at the end.
    case 'sink-start': sunk = 0; postMessage({ id: m.id, r: 0 }); break;
    case 'sink':
      t.spin(m.work);
      sunk++;
      if (sunk % m.ack === 0 || m.last) postMessage({ op: 'ack', n: sunk });
      break;
    default: postMessage({ id: m.id, error: `unknown op ${m.op}` });
  }
};
