// ferry streams (internal): what both ends of a stream share — the value
// record tag and the channel wait the pool awaits before it frees a
// channel's memory (EndCore in stream/detail/core.hpp is the C++ twin).
// Part of stream.ts: import stream.ts, not this file.

/** Stream value records carry tag 0 (stream/STREAMS.md). */
export const kValueTag = 0;

export const kOrigin = 'web/stream';
export const RESOLVED: Promise<void> = Promise.resolve();

/** What the owner of an end wants to hear about. */
export interface EndHooks {
  /** recv() found the channel closed and drained: resolve to end the stream, throw to fail it. */
  atEnd?: () => Promise<void> | void;
  /** The end is finished (closed, failed or drained). */
  onFinish?: () => void;
  /** writable.abort(reason) / readable.cancel(reason). */
  onAbort?: (reason: unknown) => void;
  /** How a Receiver closes its channel once it is closed: `close` at once when not given. */
  closeChannel?: (close: () => void) => void;
}

// What both ends share: the channel wait in progress, if any, which the pool
// awaits before it frees the channel's memory.
export abstract class ChannelEnd {
  protected waitP: Promise<unknown> | null = null;

  /** Resolves when no channel wait is in progress (the memory may be reused then). */
  idle(): Promise<void> {
    return this.waitP === null ? RESOLVED : this.waitP.then(() => this.idle());
  }

  /** True while a channel wait is in progress. */
  get waiting(): boolean {
    return this.waitP !== null;
  }
}
