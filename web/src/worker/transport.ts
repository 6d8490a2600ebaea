// Where the worker runs and what it talks over: the port to the thread that
// started it (a Web Worker's global scope or Node's parentPort), and the
// worker's ends of its slot's request and response rings and of each
// stream's two rings, either in shared memory (ring.ts) or as channels over
// that port (message-channel.ts). The rest of the runtime sees only
// RecordConsumer/RecordProducer, whichever transport the setup message chose.
import type { Blocks } from '../blocks.js';
import { ErrorKind, InvalidArgumentError } from '../errors.js';
import { kRequestChannel, kResponseChannel, type MessageHub } from '../message-channel.js';
import { nodeModule } from '../platform.js';
import type { RecordConsumer, RecordProducer } from '../records.js';
import { RingConsumer, RingProducer, ringAbort, ringSetCloseReason } from '../ring.js';

/** The port to the thread that started this worker (the pool's side of the handshake). */
export interface HostPort {
  post(message: unknown, transfer?: Transferable[]): void;
  listen(callback: (message: unknown) => void): void;
}

export async function hostPort(): Promise<HostPort> {
  const g = globalThis as unknown as {
    WorkerGlobalScope?: new () => unknown;
    postMessage: (m: unknown, t: Transferable[]) => void;
    addEventListener: (type: string, cb: (e: MessageEvent) => void) => void;
  };
  if (typeof g.WorkerGlobalScope === 'function' && g instanceof g.WorkerGlobalScope) {
    return {
      post: (m, t) => g.postMessage(m, t ?? []),
      listen: (cb) => g.addEventListener('message', (e) => cb(e.data)),
    };
  }
  const wt = await nodeModule<typeof import('node:worker_threads')>('node:worker_threads');
  const port = wt.parentPort;
  if (port === null) throw new InvalidArgumentError('expose() must run in a worker (a Web Worker or a Node worker_threads Worker)', 'worker');
  return {
    post: (m, t) => port.postMessage(m, t as never),
    listen: (cb) => port.on('message', cb),
  };
}

/** A stream task's two ends. */
export interface StreamEnds {
  input: RecordConsumer;
  output: RecordProducer;
  /** Why both channels will close (the task failed): their closes carry this ErrorKind. */
  setCloseReason(kind: number): void;
  /** Wakes a wait still in progress on either channel (the task is over). */
  kick(): void;
  detach(): void;
}

/** The worker's ends of its slot's rings, and how it attaches a stream's. */
export interface Env {
  request: RecordConsumer;
  /** The request ring, when this thread may block on it (shared memory). */
  blocking: RingConsumer | null;
  response: RecordProducer;
  /** Records too large for a ring, out of band (blocks.ts): shared memory only. */
  blocks: Blocks | null;
  attachStream(inWire: number, outWire: number): StreamEnds;
}

export function ringEnv(buffer: SharedArrayBuffer, request: number, response: number, answerBell: MessagePort | undefined, blocks: Blocks): Env {
  const req = RingConsumer.attach(buffer, request);
  const resp = RingProducer.attach(buffer, response);
  if (answerBell !== undefined) resp.onRing = () => answerBell.postMessage(0); // the page cannot wait on the ring's bell
  return {
    request: req,
    blocking: req,
    response: resp,
    blocks,
    attachStream(inWire, outWire) {
      const input = RingConsumer.attach(buffer, inWire);
      const output = RingProducer.attach(buffer, outWire);
      return {
        input,
        output,
        setCloseReason(kind) {
          ringSetCloseReason(buffer, inWire, kind);
          ringSetCloseReason(buffer, outWire, kind);
        },
        kick() {
          ringAbort(buffer, inWire, ErrorKind.Closed);
          ringAbort(buffer, outWire, ErrorKind.Closed);
        },
        detach() {
          input.detach();
          output.detach();
        },
      };
    },
  };
}

export function messageEnv(hub: MessageHub, capacity: number): Env {
  return {
    request: hub.consumer(kRequestChannel, capacity),
    blocking: null,
    response: hub.producer(kResponseChannel, capacity, capacity),
    blocks: null,
    attachStream(inWire, outWire) {
      // in: the pool said its capacity; out: the pool's first credit is the capacity.
      const input = hub.consumer(inWire, 0);
      const output = hub.producer(outWire, 0, 0);
      return {
        input,
        output,
        setCloseReason(kind) {
          input.setCloseReason(kind);
          output.setCloseReason(kind);
        },
        kick() {
          input.abort(ErrorKind.Closed);
          output.abort(ErrorKind.Closed);
        },
        detach() {
          hub.drop(inWire);
          hub.drop(outWire);
        },
      };
    },
  };
}
