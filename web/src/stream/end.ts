// ferry streams (internal): what both ends of a stream share — the record
// tags and the channel wait the pool awaits before it frees a
// channel's memory (EndCore in stream/detail/core.hpp is the C++ twin).
// Part of stream.ts: import stream.ts, not this file.

// The record tags of a stream channel (web/PROTOCOL.md "Stream rings";
// stream_tag in stream/options.hpp is the C++ twin).
/** One or more codec values back to back. */
export const kValueTag = 0;
/** The first part of a value larger than one record: u64 LE its whole encoded length, then its first bytes. */
export const kFirstPartTag = 1;
/** The next bytes of that value. */
export const kNextPartTag = 2;
/** Bytes of the u64 length a first part starts with. */
export const kFirstPartHeaderBytes = 8;

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
