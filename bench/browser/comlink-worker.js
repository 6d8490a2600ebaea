// Comlink worker (module): the same tasks, exposed with Comlink.expose.
import * as Comlink from '/vendor/comlink/comlink.mjs';
import '/bench/tasks.js';
const t = self.benchTasks;
let sunk = 0;
Comlink.expose({
  add: t.add,
  echo: t.echo,
  upper: t.upper,
  checksum: t.checksum,
  sink(work) {
    t.spin(work);
    return ++sunk;
  },
});
