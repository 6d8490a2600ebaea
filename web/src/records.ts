// ferry record channels for JavaScript: the seam between a channel and what
// writes or reads records on it, and how a value becomes a record payload.
//
// A channel is a ring of core/RING.md in shared memory (ring.ts), or its
// postMessage stand-in (message-channel.ts); both offer the RecordProducer /
// RecordConsumer surface below. Streams (stream.ts) write value records on
// them; the pool and the worker runtime write the call protocol's records
// (protocol.ts) with the same RecordWriter.

import { decodeFirst, decodeRange, encode, encodedSize, encodeToRange, type DecodeOptions } from './codec.js';
import { ErrorKind, FerryError } from './errors.js';

// ---------------------------------------------------------------------------
// Channels

/** The writing end of a record channel (RingProducer has this shape). */
export interface RecordProducer {
  readonly maxPayload: number;
  /** A view to fill for a record of up to `length` bytes, or null when there is no room now. */
  tryReserve(length: number, tag: number): Uint8Array | null;
  /** tryReserve() without allocating: where the payload goes in `bytes`, or -1. */
  reserveAt(length: number, tag: number): number;
  /** What reserveAt()'s offsets index (read it after reserveAt: a channel's chunk may grow). */
  readonly bytes: Uint8Array;
  commit(length: number): void;
  /**
   * Grows the last record written since the last publish by up to `length`
   * bytes in place: where they go in `bytes`, or -1 (write a new record).
   * Finish with commitExtend(). Channels that cannot grow a record lack it.
   */
  extendAt?(length: number): number;
  commitExtend?(length: number): void;
  /**
   * True where each publish costs a message (the postMessage channel): a
   * stream writer then publishes once per task instead of once per
   * microtask, so that a loop of `await send(v)` sends one message per
   * batch, not one per value.
   */
  readonly coalesce?: boolean;
  tryWrite(tag: number, payload: Uint8Array): boolean;
  publish(): void;
  close(): void;
  consumerClosed(): boolean;
  /** Publishes, then resolves once `length` fits or retrying would throw. */
  waitForSpace(length: number, timeoutMs?: number): Promise<boolean>;
}

/** The reading end of a record channel (RingConsumer has this shape). */
export interface RecordConsumer {
  /** The next record (a view valid until release()), null when none; throws once the channel ended. */
  tryRead(): { tag: number; payload: Uint8Array } | null;
  /**
   * tryRead() without allocating: the next record's tag, or -1 when none;
   * its payload is recordBytes[recordOffset, recordOffset + recordLength),
   * valid until release().
   */
  nextRecord(): number;
  readonly recordBytes: Uint8Array;
  readonly recordOffset: number;
  readonly recordLength: number;
  release(): void;
  close(): void;
  producerClosed(): boolean;
  /** True when tryRead() would return a record or throw. */
  hasData(): boolean;
  /** Releases, then resolves once tryRead() would return a record or throw. */
  waitForData(timeoutMs?: number): Promise<boolean>;
  /**
   * Releases and arms a wake-up without waiting: null when tryRead() has
   * something now, else a promise that settles once the producer wrote (or
   * ended the channel). unpark() afterwards (RingConsumer.park).
   */
  park(): Promise<unknown> | null;
  unpark(): void;
}

// ---------------------------------------------------------------------------
// Values

/** How one value becomes a record payload and back, in place. */
export interface ValueCodec {
  /** Encodes into bytes[start, end), returns the bytes written; throws MessageTooLarge when it does not fit. */
  encodeAt(value: unknown, bytes: Uint8Array, start: number, end: number): number;
  encode(value: unknown): Uint8Array;
  /** Exact encoded size (only asked for after encodeAt found the room too small). */
  size(value: unknown): number;
  /**
   * Decodes the first value of bytes[start, end) (more may follow) and sets
   * `next.at` to where it ends; the result must not refer to `bytes` (it
   * dies at release) unless `owned` says the bytes are the caller's for good
   * (decodeRecordValue): then its byte arrays may be views of them.
   */
  decodeAt(bytes: Uint8Array, start: number, end: number, next: { at: number }, owned?: boolean): unknown;
}

// Decoding with byte arrays as views of bytes that are the reader's for good.
const kViews: DecodeOptions = { copy: false };

/** Values as core/CODEC.md's generic mapping encodes them (codec.ts). */
export const plainCodec: ValueCodec = {
  encodeAt: encodeToRange,
  encode,
  size: encodedSize,
  decodeAt: (bytes, start, end, next, owned) => decodeFirst(bytes, start, end, next, owned === true ? kViews : undefined),
};

/**
 * The one value in bytes[start, end) of a record. `owned`: the bytes are the
 * reader's for good (a block transferred to it, or a record put together
 * from parts), so byte arrays in the value are views of them, not copies.
 */
export function decodeRecordValue(bytes: Uint8Array, start: number, end: number, owned: boolean): unknown {
  return decodeRange(bytes, start, end, owned ? kViews : undefined);
}

function isTooLarge(e: unknown): boolean {
  return e instanceof FerryError && e.kind === ErrorKind.MessageTooLarge;
}

/**
 * Writes records whose payload is a fixed header followed by one encoded
 * value, straight into the channel's reservation when it fits. It learns the
 * usual value size so that the first reservation is nearly always enough.
 */
export class RecordWriter {
  private hint = 248;

  /**
   * @param checkWhole sees the length of a payload too large for one record
   *   before its bytes are made, and throws to refuse it (a size limit).
   */
  constructor(private readonly checkWhole?: (length: number) => void) {}

  /**
   * Writes `head[0, headLen)` + `value` as one record. Returns null once it is
   * written (not yet published), or the complete payload when the channel has
   * no room now (the caller waits and writes it later) or never will (larger
   * than one record: the caller sends it in parts, web/src/protocol.ts and
   * stream/sender.ts). Throws encoding errors, what checkWhole throws and the
   * channel's errors.
   */
  put(p: RecordProducer, tag: number, head: Uint8Array | null, headLen: number, value: unknown, codec: ValueCodec): Uint8Array | null {
    const max = p.maxPayload;
    const want = Math.min(max, headLen + this.hint);
    let at = p.reserveAt(want, tag);
    if (at >= 0) {
      let n = -1;
      try {
        n = codec.encodeAt(value, p.bytes, at + headLen, at + want);
      } catch (e) {
        if (!isTooLarge(e)) throw e;
      }
      if (n >= 0) {
        if (headLen !== 0) p.bytes.set(head!.subarray(0, headLen), at);
        p.commit(headLen + n);
        this.learn(n);
        return null;
      }
    }
    const size = codec.size(value);
    this.learn(size);
    const total = headLen + size;
    if (total > max) this.checkWhole?.(total);
    at = total > max ? -1 : p.reserveAt(total, tag);
    if (at >= 0) {
      const n = codec.encodeAt(value, p.bytes, at + headLen, at + total);
      if (headLen !== 0) p.bytes.set(head!.subarray(0, headLen), at);
      p.commit(headLen + n);
      return null;
    }
    return this.bytes(head, headLen, value, codec, size);
  }

  /**
   * Appends `value` to the channel's last unpublished record when the
   * channel can grow it in place (values of one batch share a record): the
   * bytes written; -1 when it cannot (write a new record with put()).
   * Throws encoding errors.
   */
  append(p: RecordProducer, value: unknown, codec: ValueCodec): number {
    if (p.extendAt === undefined) return -1;
    let want = this.hint;
    let at = p.extendAt(want);
    if (at < 0) return -1;
    let n = -1;
    try {
      n = codec.encodeAt(value, p.bytes, at, at + want);
    } catch (e) {
      if (!isTooLarge(e)) throw e;
    }
    if (n < 0) {
      want = codec.size(value);
      this.learn(want);
      at = p.extendAt(want);
      if (at < 0) return -1;
      n = codec.encodeAt(value, p.bytes, at, at + want);
    }
    p.commitExtend!(n);
    this.learn(n);
    return n;
  }

  /** The complete payload as new bytes (for records that wait in a queue). */
  bytes(head: Uint8Array | null, headLen: number, value: unknown, codec: ValueCodec, size = codec.size(value)): Uint8Array {
    const full = new Uint8Array(headLen + size);
    if (headLen !== 0) full.set(head!.subarray(0, headLen));
    codec.encodeAt(value, full, headLen, full.length);
    return full;
  }

  private learn(n: number): void {
    // Twice the last size, so that a value a little larger still fits.
    this.hint = Math.min(1 << 20, Math.max(56, 2 * n));
  }
}
