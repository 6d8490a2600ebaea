// ferry JavaScript worker (module): the same tasks with expose(), plus the
// stream tasks — upper (echoes each string upper-cased), slow_sink (the
// backpressure consumer: spins `work` µs per value, sends its count every
// `ack` values and at the end), sink (counts small values, answers the count
// when its input ends) and source (sends `count` small values: numbers, or
// 32-byte strings).
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
  sink: streamTask(async function (input, output) {
    let n = 0;
    for (let b = await input.recvBatch(4096); b.length !== 0; b = await input.recvBatch(4096)) n += b.length;
    await output.send(n);
  }),
  source: streamTask(async function (input, output, strings, count) {
    for (let i = 0; i < count; i++) {
      const v = strings ? t.smallString(i) : i + 0.5;
      if (!output.trySend(v)) await output.send(v);
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
