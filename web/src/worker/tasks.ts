// What a worker script hands to expose() and what its tasks see: the task
// types, streamTask(), CallContext and currentCall(). The seam between the
// public worker.ts and the runtime in this folder, so that neither imports
// the other's caller; worker.ts re-exports the public names.
import { InvalidArgumentError } from '../errors.js';
import type { Receiver, Sender } from '../stream.js';

/** What a running task sees as `this` (and through currentCall()). */
export interface CallContext {
  /** Aborted when the pool cancels the call (its AbortSignal fired, or its timeout passed). */
  readonly signal: AbortSignal;
  /** The call's id, unique within the pool. */
  readonly id: number;
  /** The task's name. */
  readonly name: string;
  /** This worker's slot index. */
  readonly worker: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TaskFunction = (this: CallContext, ...args: any[]) => unknown;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type StreamTaskFunction<In = any, Out = any> = (this: CallContext, input: Receiver<In>, output: Sender<Out>, ...args: any[]) => unknown;

export const kStreamTask: unique symbol = Symbol.for('ferry.streamTask');

/** A stream task, made by streamTask(). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface StreamTask<In = any, Out = any> {
  readonly [kStreamTask]: StreamTaskFunction<In, Out>;
}

/** Marks `fn` as a stream task: the pool opens it with pool.stream(name, ...). */
export function streamTask<In = unknown, Out = unknown>(fn: StreamTaskFunction<In, Out>): StreamTask<In, Out> {
  if (typeof fn !== 'function') throw new InvalidArgumentError('streamTask() takes a function', 'worker');
  return { [kStreamTask]: fn };
}

export type Tasks = Record<string, TaskFunction | StreamTask>;

/** tasks[name] when it is the object's own property (never an inherited one such as 'toString'). */
export function ownTask(tasks: Tasks, name: string): TaskFunction | StreamTask | undefined {
  return Object.prototype.hasOwnProperty.call(tasks, name) ? tasks[name] : undefined;
}

let current: CallContext | null = null;

/**
 * The context of the call whose synchronous part is running right now (for
 * arrow functions, which have no `this`). Throws InvalidArgument elsewhere:
 * after an await, capture it at the top (`const { signal } = currentCall()`).
 */
export function currentCall(): CallContext {
  if (current === null) {
    throw new InvalidArgumentError('currentCall() works only in the synchronous part of a task: call it before the first await', 'worker');
  }
  return current;
}

/** Set by the runtime around a task's synchronous part (ctx), and cleared after it (null). */
export function setCurrentCall(ctx: CallContext | null): void {
  current = ctx;
}
