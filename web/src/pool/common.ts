// What the parts of the pool share (the seam inside pool/, as Piscina's
// task_queue/common.ts): the records of a call (Pending), of an open stream
// (StreamState) and of a worker slot (Slot), and PoolContext, the view of
// the pool (core.ts) that its parts (send.ts, service.ts, streams.ts) call
// back into. They import this file, never core.ts.

import type { BlockRecord, Blocks } from '../blocks.js';
import { CancelledError, ClosedError } from '../errors.js';
import { PartReader, ResponseTag } from '../protocol.js';
import type { RecordConsumer, RecordProducer } from '../records.js';
import type { Receiver, Sender } from '../stream.js';
import type { StreamChannels } from '../transport.js';
import { Deque } from './deque.js';

export const kOrigin = 'pool';

export const enum State {
  Queued,
  Sent,
  Settled, // settled here (timeout, cancel, terminate); a result may still come
}

export interface StreamState {
  id: number;
  name: string;
  slot: Slot;
  gen: number;
  ch: StreamChannels;
  writer: Sender;
  reader: Receiver;
  resolveDone: (v: unknown) => void;
  rejectDone: (e: unknown) => void;
  doneSettled: boolean;
  resultIn: boolean; // the task answered, or can no longer touch the channels
  freed: boolean;
  // Set when its worker died: settles once that worker can no longer write
  // into the stream's memory (its slot was replaced, or could not be).
  retired: Promise<void> | null;
}

export interface Pending {
  id: number;
  name: string;
  stream: boolean;
  state: State;
  slot: Slot | null;
  affinity: number; // -1: any worker
  resolve: (v: unknown) => void; // the call's result, or the opened Stream
  reject: (e: unknown) => void;
  args: unknown[];
  encoded: Uint8Array | null; // the arguments, encoded while queued
  capacity: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  st: StreamState | null;
}

export interface Slot {
  index: number;
  gen: number;
  alive: boolean;
  request: RecordProducer | null;
  response: RecordConsumer | null;
  pending: Map<number, Pending>;
  inFlight: number;
  completed: number;
  failed: number;
  restarts: number;
  outbox: Deque<{ tag: number; bytes: Uint8Array }>;
  draining: Promise<void> | null;
  parts: PartReader; // a result that comes in parts
  blocks: Blocks | null; // records too large for a ring, out of band (blocks.ts); null: in parts
  blockWait: BlockRecord | null; // a block record whose block has not arrived
  dirty: boolean;
  calls: number; // of inFlight, the calls (not streams): the answers worth spinning for
  parked: Promise<void> | null; // a wake-up armed on the response ring
  pinned: Deque<Pending>;
}

export function newSlot(index: number): Slot {
  return {
    index,
    gen: 0,
    alive: true,
    request: null,
    response: null,
    pending: new Map(),
    inFlight: 0,
    completed: 0,
    failed: 0,
    restarts: 0,
    outbox: new Deque(),
    draining: null,
    parts: new PartReader(ResponseTag.Part),
    blocks: null,
    blockWait: null,
    dirty: false,
    calls: 0,
    parked: null,
    pinned: new Deque(),
  };
}

/** What the pool's parts see of the pool (core.ts's PoolCore). */
export interface PoolContext {
  readonly slots: readonly Slot[];
  /** terminate() was called. */
  readonly closed: boolean;
  /** The slot that answered last (pick() prefers it). */
  warm: number;
  completedCount: number;
  failedCount: number;
  /** Settles a call (or a stream not yet opened) with its error or value. */
  settle(p: Pending, error: unknown, value: unknown): void;
  /** Drops p's timer and abort listener. */
  cleanup(p: Pending): void;
  /** Moves queued work to slot s while it has room. */
  pump(s: Slot): void;
  /** The worker of slot s died: fail what it held, then replace it. */
  crash(s: Slot, reason: string): void;
  /** Tells the task of call `id` on slot s that it is cancelled. */
  sendCancel(s: Slot, id: number): void;
}

export function cancelledError(reason: unknown, what: string): CancelledError {
  const text = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
  const e = new CancelledError(`${what} was cancelled: ${text}`, kOrigin);
  Object.defineProperty(e, 'cause', { value: reason, writable: true, configurable: true, enumerable: false });
  return e;
}

export function terminatedError(): ClosedError {
  return new ClosedError('the pool was terminated', kOrigin);
}

export const ignore = (): void => {};
