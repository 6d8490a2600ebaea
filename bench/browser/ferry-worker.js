// ferry JavaScript worker (module): the same tasks with expose(), plus the two
// stream tasks — upper (echoes each string upper-cased) and slow_sink (the
// backpressure consumer: spins `work` µs per value, sends its count every
// `ack` values and at the end).
import { expose, streamTask } from '/dist/worker.js';
import '/bench/tasks.js';
const t = self.benchTasks;
expose({
  add: t.add,
  echo: t.echo,
  checksum: t.checksum,
  upper: streamTask(async function (input, output) {
    for await (const s of input) {
      const u = s.toUpperCase();
      if (!output.trySend(u)) await output.send(u);
    }
  }),
  slow_sink: streamTask(async function (input, output, work, ack) {
    let n = 0;
    for await (const m of input) {
      if (!(m instanceof Uint8Array) || m.length === 0) throw new Error('slow_sink: expected bytes');
      t.spin(work);
      if (++n % ack === 0) await output.send(n);
    }
    await output.send(n);
    return n;
  }),
});
