// The app's page: its C++ tasks (tasks/, built into the wasm module app_web
// by ferry_add_wasm_module) on a pool of two workers, then a JavaScript-only
// pool (js-tasks.js). run() resolves to what it computed; the pages show it.
import { WorkerPool } from '@ferry/web';

const lines = ['the quick brown fox', '', '  jumps  over the lazy dog '];

export async function run({ module, jsWorker, log = () => {} }) {
  const result = {};

  const cpp = await WorkerPool.create({ module, workers: 2 });
  try {
    // Primes below n, in slices spread over the workers (u64 results are bigints).
    const n = 200000;
    const slices = 8;
    const counts = await Promise.all(
      Array.from({ length: slices }, (_, i) => cpp.call('app.count_primes', Math.floor((n * i) / slices), Math.floor((n * (i + 1)) / slices))),
    );
    result.primes = String(counts.reduce((a, b) => a + b, 0n));
    log(`primes below ${n}: ${result.primes}`);
    result.greeting = await cpp.call('app.greet', 'page');
    result.version = await cpp.call('app.version');
    log(`${result.greeting} (tasks ${result.version})`);

    // A stream: lines in, one LineStats struct per line out.
    const stream = await cpp.stream('app.line_stats');
    const reading = (async () => {
      const stats = [];
      for await (const { line, words, chars } of stream) stats.push({ line, words, chars });
      return stats;
    })();
    for (const line of lines) await stream.send(line);
    stream.close();
    result.lines = await reading;
    await stream.done;
    for (const s of result.lines) log(`line ${s.line}: ${s.words} words, ${s.chars} chars`);
  } finally {
    await cpp.terminate();
  }

  const js = await WorkerPool.create({ script: jsWorker, workers: 2 });
  try {
    result.sum = await js.call('sum', [1, 2, 3, 4]);
    result.shout = await js.call('shout', 'ferry');
    result.transport = js.transport;
    log(`JavaScript pool (${result.transport}): sum ${result.sum}, ${result.shout}`);
  } finally {
    await js.terminate();
  }
  return result;
}

// What a correct run computed; the list of what differs (empty: all correct).
export function check(result) {
  const expected = {
    primes: '17984',
    greeting: 'hello, page',
    version: '1.0',
    lines: [
      { line: 1, words: 4, chars: 19 },
      { line: 2, words: 0, chars: 0 },
      { line: 3, words: 5, chars: 27 },
    ],
    sum: 10,
    shout: 'FERRY!',
  };
  return Object.keys(expected)
    .filter((k) => JSON.stringify(result[k]) !== JSON.stringify(expected[k]))
    .map((k) => `${k}: got ${JSON.stringify(result[k])}, expected ${JSON.stringify(expected[k])}`);
}

// Runs `run` on a page: shows each line in #out, leaves the result (or the
// error) on window.__app / window.__appError for the browser test.
export function runOnPage(options) {
  const out = document.querySelector('#out');
  const log = (line) => {
    out.textContent += `${line}\n`;
  };
  return run({ ...options, log }).then(
    (result) => {
      window.__app = result;
      return result;
    },
    (e) => {
      window.__appError = String(e?.stack ?? e);
      log(`failed: ${window.__appError}`);
    },
  );
}
