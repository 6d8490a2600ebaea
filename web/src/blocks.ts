// Records out of band (web/PROTOCOL.md, "Records out of band"): between the
// page and a JavaScript worker on shared memory, a record larger than the
// ring's largest payload moves as a transferred ArrayBuffer, a 'block'
// message on the worker's port (no copy, where parts would copy it twice and
// take a round of wake-ups per quarter ring). The ring carries a 16-byte
// block record in its place, so the records keep their order.
//
// The ring and the port are two channels: a block record can be read before
// its block has arrived. Each side posts the block before it writes the
// record, and both channels keep their order, so the n-th block record is
// the n-th block; a reader that finds no block yet stops reading that ring
// until BlockInbox.arrived() settles, then goes on from the block.
import { CorruptRecordError } from './errors.js';
import { checkPartedSize, kMaxPartedBytes, putWholeHeader, readWholeHeader } from './protocol.js';

/** The message that carries a block: bytes [o, o + n) of b, which was transferred. */
export interface BlockMessage {
  ferry: 'block';
  b: ArrayBuffer;
  o: number;
  n: number;
}

export function isBlockMessage(m: unknown): m is BlockMessage {
  return typeof m === 'object' && m !== null && (m as { ferry?: unknown }).ferry === 'block';
}

/** Bytes of a block record: u32 the record's tag, u32 0, u64 its length. */
export const kBlockRecordBytes = 16;

/** What a block record says: the tag and length of the record its block holds. */
export interface BlockRecord {
  tag: number;
  length: number;
}

/**
 * One direction's out-of-band lane: send() posts a record's bytes as a block
 * (transferring their buffer: the caller gives them up) and returns the
 * block record to write on the ring in their place; `inbox` has the other
 * direction's blocks.
 */
export class BlockLane {
  readonly inbox = new BlockInbox();

  constructor(private readonly post: (m: BlockMessage, transfer: Transferable[]) => void) {}

  /** Posts record (tag, bytes) as a block; returns its block record. MessageTooLarge over 1 GiB (nothing is sent). */
  send(tag: number, bytes: Uint8Array): Uint8Array {
    checkPartedSize(bytes.length);
    const rec = new Uint8Array(kBlockRecordBytes);
    putWholeHeader(rec, tag, bytes.length);
    const b = bytes.buffer as ArrayBuffer;
    this.post({ ferry: 'block', b, o: bytes.byteOffset, n: bytes.length }, [b]);
    return rec;
  }
}

/** Reads a block record, b[at, at + len); CorruptRecord when it is not one, or names a record that cannot be a block. */
export function readBlockRecord(b: Uint8Array, at: number, len: number, own: readonly number[]): BlockRecord {
  if (len !== kBlockRecordBytes) throw new CorruptRecordError(`a block record of ${len} bytes (it has ${kBlockRecordBytes})`, 'web/blocks');
  const r = readWholeHeader(b, at);
  if (r.length > kMaxPartedBytes) throw new CorruptRecordError(`a block record announces ${r.length} bytes, more than 1 GiB`, 'web/blocks');
  if (own.includes(r.tag)) throw new CorruptRecordError(`a block record announces a record of tag ${r.tag}, which is never a block's`, 'web/blocks');
  return r;
}

/** The blocks that arrived on one port, in order. */
export class BlockInbox {
  private readonly queue: Uint8Array[] = [];
  private waiter: (() => void) | null = null;

  /** A block message arrived. */
  deliver(m: BlockMessage): void {
    this.queue.push(new Uint8Array(m.b, m.o, m.n));
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /**
   * The next block, which record r names: null when it has not arrived yet.
   * CorruptRecord when its length is not the record's.
   */
  take(r: BlockRecord): Uint8Array | null {
    const b = this.queue.shift();
    if (b === undefined) return null;
    if (b.length !== r.length) throw new CorruptRecordError(`a block of ${b.length} bytes where its record announced ${r.length}`, 'web/blocks');
    return b;
  }

  /** Settles once a block is there (at once if one is). */
  arrived(): Promise<void> {
    if (this.queue.length > 0) return Promise.resolve();
    return new Promise((resolve) => (this.waiter = resolve));
  }
}
