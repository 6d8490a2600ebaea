// The page's logic under Node: node node-run.mjs <path of app_web.js>.
// Exits 1 unless every answer is right (npm test runs it against each build
// of the module).
import { check, run } from './main.js';

const module = process.argv[2];
if (!module) {
  console.error('usage: node node-run.mjs <path of app_web.js>');
  process.exit(2);
}
const result = await run({ module, jsWorker: new URL('./worker-bare.js', import.meta.url), log: (line) => console.log(line) });
const wrong = check(result);
console.log(wrong.length === 0 ? 'node-run: all answers correct' : `node-run: WRONG ANSWER\n  ${wrong.join('\n  ')}`);
process.exit(wrong.length === 0 ? 0 : 1);
