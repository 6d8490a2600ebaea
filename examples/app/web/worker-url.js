// A worker for the page without a bundler: a worker's imports do not see the
// page's import map, so @ferry/web/worker is imported by URL (the package
// served at /node_modules/@ferry/web/).
import { expose } from '/node_modules/@ferry/web/dist/worker.js';
import * as tasks from './js-tasks.js';

expose(tasks);
