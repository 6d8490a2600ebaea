// workerpool worker (classic script): the same tasks, registered with workerpool.worker.
importScripts('/vendor/workerpool/workerpool.js', '/bench/tasks.js');
const t = self.benchTasks;
let sunk = 0;
workerpool.worker({
  add: t.add,
  echo: t.echo,
  upper: t.upper,
  checksum: t.checksum,
  sink(work) {
    t.spin(work);
    return ++sunk;
  },
});
