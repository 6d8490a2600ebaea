// Comlink worker (module): the same tasks, exposed with Comlink.expose.
import * as Comlink from '/vendor/comlink/comlink.mjs';
import '/bench/tasks.js';
Comlink.expose(self.benchTasks.exposed);
