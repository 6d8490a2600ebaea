// A worker script that never calls expose(): WorkerPool.create must give up.
setInterval(() => {}, 1000);
