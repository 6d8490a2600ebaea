// The worker script of the pool, stream and fallback tests.
import { currentCall, expose, streamTask, type CallContext } from '../../dist/worker.js';
import { QueueFullError } from '../../dist/errors.js';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });

// What the timeout/cancel tests look at afterwards.
const aborted = new Map<string, string>();
const taken = new Map<string, number>();
let floodSent = 0;
let floodDone = false;

expose({
  echo: (v: unknown) => v,
  echoAll: (...args: unknown[]) => args,
  add: (a: number, b: number) => a + b,
  nothing: () => undefined,
  async later(v: unknown, ms: number) {
    await sleep(ms);
    return v;
  },
  fail: (message: string) => {
    throw new Error(message);
  },
  async failAsync(message: string) {
    await sleep(1);
    throw new Error(message);
  },
  failFerry: () => {
    throw new QueueFullError('my own queue is full', 'my-origin');
  },
  failPlain: () => {
    throw 'a string';
  },
  unencodable: () => () => 1,
  // Waits for ms or its signal; remembers whether it was aborted, under key.
  async waitSignal(this: CallContext, key: string, ms: number) {
    const { signal } = this;
    try {
      await sleep(ms, signal);
      aborted.set(key, 'finished');
      return 'finished';
    } catch (e) {
      aborted.set(key, `aborted: ${(e as Error).message}`);
      throw e;
    }
  },
  // The same with currentCall() from an arrow function.
  waitArrow: (key: string, ms: number) => {
    const { signal } = currentCall();
    return sleep(ms, signal).then(
      () => 'finished',
      (e) => {
        aborted.set(key, `aborted: ${(e as Error).message}`);
        throw e;
      },
    );
  },
  abortedState: (key: string) => aborted.get(key) ?? 'unknown',
  context(this: CallContext) {
    return { id: this.id, name: this.name, worker: this.worker, arrowWorker: currentCall().worker };
  },
  workerIndex: () => currentCall().worker,
  hang: () => new Promise(() => {}),
  spin: (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end);
    return ms;
  },
  // Crashes this worker from outside any task, after `ms`.
  crashLater: (ms: number) => {
    setTimeout(() => {
      throw new Error('boom from a timer');
    }, ms);
    return new Promise(() => {});
  },
  exitLater: (code: number, ms: number) => {
    setTimeout(() => (globalThis as unknown as { process: { exit(c: number): void } }).process.exit(code), ms);
    return new Promise(() => {});
  },
  big: (n: number) => new Uint8Array(n).fill(7),
  size: (b: Uint8Array) => b.length,

  // Streams
  echoStream: streamTask(async (input, output) => {
    let n = 0;
    for await (const v of input) {
      await output.send(v);
      n++;
    }
    return n;
  }),
  upper: streamTask(async function (input, output, suffix: string) {
    for await (const s of input) await output.send(String(s).toUpperCase() + suffix);
    return 'upper done';
  }),
  // A sink: no output, the sum is its result.
  sum: streamTask(async (input) => {
    let total = 0;
    for await (const v of input) total += v as number;
    return total;
  }),
  count: streamTask(async (_input, output, n: number) => {
    for (let i = 0; i < n; i++) await output.send(i);
    return n;
  }),
  // Sends n items of `size` bytes as fast as the pool lets it; floodProgress() tells how many went out.
  flood: streamTask(async (_input, output, n: number, size: number) => {
    floodSent = 0;
    floodDone = false;
    for (let i = 0; i < n; i++) {
      const b = new Uint8Array(size);
      b[0] = i & 255;
      await output.send(b);
      floodSent++;
    }
    floodDone = true;
    return floodSent;
  }),
  floodProgress: () => ({ sent: floodSent, done: floodDone }),
  // Consumes slowly and acknowledges each item with the count consumed.
  slowSink: streamTask(async (input, output, delayMs: number) => {
    let n = 0;
    for await (const _ of input) {
      await sleep(delayMs);
      n++;
      await output.send(n);
    }
    return n;
  }),
  // Takes its input slowly, never looking at its signal; counts under key.
  takeSlowly: streamTask(async (input, _output, key: string) => {
    taken.set(key, 0);
    for await (const _ of input) {
      taken.set(key, taken.get(key)! + 1);
      await sleep(10);
    }
    return taken.get(key);
  }),
  takenBy: (key: string) => taken.get(key) ?? -1,
  failStream: streamTask(async (input, output, after: number) => {
    let n = 0;
    for await (const v of input) {
      await output.send(v);
      if (++n === after) throw new Error(`stream failed after ${after}`);
    }
    return n;
  }),
  // Ends its output early and returns without reading its input.
  quick: streamTask(async (_input, output) => {
    await output.send('only');
    return 'quick';
  }),
  streamSignal: streamTask(async function (this: CallContext, input, _output, key: string) {
    const signal = this.signal;
    return new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => {
        aborted.set(key, 'stream aborted');
        reject(signal.reason);
      });
      void input.recv().catch(() => {});
    });
  }),
  // Sends 'before', waits for one input, sends two last values, then dies
  // from a timer (after those two were published).
  crashStream: streamTask(async (input, output) => {
    await output.send('before');
    await input.recv();
    await output.send('last 1');
    await output.send('last 2');
    setTimeout(() => {
      throw new Error('stream boom');
    }, 30);
    return new Promise(() => {});
  }),
});
