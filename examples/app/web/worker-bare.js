// The same worker for a bundled page: the bundler resolves the bare name.
import { expose } from '@ferry/web/worker';
import * as tasks from './js-tasks.js';

expose(tasks);
