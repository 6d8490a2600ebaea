// expose(): the worker side of a JavaScript WorkerPool.
//
//   // my-worker.js (a module script; a Web Worker or a Node worker_threads Worker)
//   import { expose, streamTask } from '@ferry/web/worker';
//   expose({
//     add: (a, b) => a + b,
//     async slow(ms) {                       // `this` is the call's context
//       await sleep(ms, this.signal);        // this.signal fires on timeout / cancel
//       return 'done';
//     },
//     upper: streamTask(async function (input, output, suffix) {
//       for await (const s of input) await output.send(s.toUpperCase() + suffix);
//       return 'ok';                         // the stream's `done` value
//     }),
//   });
//
// The pool posts one setup message; the worker then reads request records
// from its request ring and writes result records to its response ring
// (web/PROTOCOL.md), or does the same over postMessage channels
// (message-channel.ts). On shared memory, the only other messages are
// records too large for a ring, both ways (blocks.ts). This file is the
// public surface and the handshake; the runtime is in worker/:
// receive.ts reads the requests and dispatches them (the request loop),
// calls.ts runs calls, streams.ts serves streams, answer.ts writes the
// result records; transport.ts is the rings or channels underneath, and
// tasks.ts the task types and CallContext.
//
// Tasks:
// - A task is a function (sync or async). Its arguments are the decoded call
//   arguments; `this` is a CallContext: { signal, id, name, worker }. For
//   arrow functions, currentCall() returns the same context — during the
//   synchronous part of the call only (capture it before the first await).
// - The return value (or resolved value) is the result; undefined is unit.
// - A thrown FerryError keeps its kind (and origin, when it has one); any
//   other throw becomes TaskFailedError with its message, origin
//   "worker N: name".
// - A stream task, streamTask(fn), gets (input, output, ...args): input is a
//   Receiver (recv(), for await, readable), output a Sender
//   (send() waits while the pool's side is full, trySend(), writable). When
//   fn returns, output is closed (after its pending sends) and input too;
//   then the result goes out.
// - An error thrown outside any task (a timer, an event handler) crashes the
//   worker: the pool fails its pending calls with WorkerCrashedError and
//   starts a new worker.

import { PortBlocks, isBlockMessage } from './blocks.js';
import { InvalidArgumentError } from './errors.js';
import { MessageHub } from './message-channel.js';
import { holdLivenessLock, startBeating, type SetupMessage } from './spawn.js';
import { RequestLoop } from './worker/receive.js';
import type { Tasks } from './worker/tasks.js';
import { hostPort, messageEnv, ringEnv, type Env } from './worker/transport.js';

export { Receiver, Sender } from './stream.js';
export { currentCall, streamTask } from './worker/tasks.js';
export type { CallContext, StreamTask, StreamTaskFunction, TaskFunction, Tasks } from './worker/tasks.js';

let exposed = false;

/**
 * Serves `tasks` to the WorkerPool that started this worker. Call it once,
 * at the top level of the worker script.
 */
export function expose(tasks: Tasks): void {
  if (exposed) throw new InvalidArgumentError('expose() was already called in this worker', 'worker');
  if (tasks === null || typeof tasks !== 'object') throw new InvalidArgumentError('expose() takes an object of task functions', 'worker');
  exposed = true;
  void start(tasks).catch(die);
}

// An error that means this worker cannot go on: crash it, the pool replaces it.
function die(e: unknown): void {
  setTimeout(() => {
    throw e;
  });
}

// The handshake (spawn.ts): hello, then the pool's setup message, then
// ready once the worker has attached its rings (or channels); from there on
// the request loop serves them.
async function start(tasks: Tasks): Promise<void> {
  const port = await hostPort();
  let hub: MessageHub | null = null;
  let started = false;
  const blocks = new PortBlocks((m, transfer) => port.post(m, transfer));
  port.listen((m) => {
    if (hub !== null && hub.deliver(m)) return;
    if (isBlockMessage(m)) {
      blocks.deliver(m);
      return;
    }
    const setup = m as SetupMessage | null;
    if (started || setup === null || typeof setup !== 'object' || setup.ferry !== 'setup') return;
    started = true;
    let env: Env;
    try {
      if (setup.transport === 'postMessage') {
        hub = new MessageHub((msg, transfer) => port.post(msg, transfer), true);
        env = messageEnv(hub, setup.capacity!);
      } else {
        env = ringEnv(setup.buffer!, setup.request!, setup.response!, setup.answerBell, blocks);
      }
    } catch (e) {
      port.post({ ferry: 'error', message: e instanceof Error ? e.message : String(e) });
      return;
    }
    startBeating(setup.heartbeat, (beat) => port.post(beat));
    void holdLivenessLock(setup.lock).then((locked) => {
      port.post({ ferry: 'ready', index: setup.index, locked });
      return new RequestLoop(tasks, env, setup.index, setup.spinUs ?? 0).run();
    }).catch(die);
  });
  port.post({ ferry: 'hello' });
}
