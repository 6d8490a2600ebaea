// workerpool worker (classic script): the same tasks, registered with workerpool.worker.
importScripts('/vendor/workerpool/workerpool.js', '/bench/tasks.js');
workerpool.worker(self.benchTasks.exposed);
