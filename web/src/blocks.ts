// Records out of band (web/PROTOCOL.md, "Records out of band"): a record
// larger than the ring's largest payload does not go through the ring (in
// parts, copied twice, a round of wake-ups per quarter ring). Its producer
// puts it somewhere else and writes a 24-byte block record in its place, so
// the ring keeps the records' order:
// - PortBlocks, between the page and a JavaScript worker on shared memory:
//   the bytes move as a transferred ArrayBuffer, a 'block' message on the
//   worker's port (no copy); the block record's address is 0.
// - HeapBlocks, between the page and a C++ worker in a wasm module: the
//   bytes lie in a block of the module's heap (ferry_js_alloc) at the
//   record's address, and whoever reads the record frees the block once it
//   has handled it (workers/protocol.hpp, shared_blocks). A block is written
//   before its record is published, so the ring's release/acquire pair that
//   hands over the record hands over the block too.
//
// The ring and the port are two channels: a block record can be read
// before its block has arrived. Each side posts the block before it writes
// the record, and both channels keep their order, so the n-th block record
// is the n-th block; a reader that finds no block yet stops reading that
// ring until arrived() settles, then goes on from the block.
import { CorruptRecordError } from './errors.js';
import { checkPartedSize, getU64, kMaxPartedBytes, putU64, putWholeHeader, readWholeHeader } from './protocol.js';

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

/** Bytes of a block record: u32 the record's tag, u32 0, u64 its length, u64 its address (0: on the port). */
export const kBlockRecordBytes = 24;

/** What a block record says: the record it stands for, and where it is. */
export interface BlockRecord {
  tag: number;
  length: number;
  address: number;
}

/** One direction's way out of band, and where the other direction's blocks are found. */
export interface Blocks {
  /**
   * Puts record (tag, bytes) out of band; returns the block record to write
   * on the ring in its place, or null when there is no room for it out of
   * band (send it in parts). `bytes` is the caller's to give away.
   * MessageTooLarge over 1 GiB (nothing is sent).
   */
  send(tag: number, bytes: Uint8Array): Uint8Array | null;
  /** The bytes record r names; null until they have arrived. CorruptRecord when they cannot be r's. */
  take(r: BlockRecord): Uint8Array | null;
  /** Settles once take() has something (at once if it has). */
  arrived(): Promise<void>;
  /** Done with what take(r) returned. */
  release(r: BlockRecord): void;
  /**
   * Whether what take() returns stays the reader's after release(): then
   * the values decoded from it may be views of it instead of copies.
   */
  readonly owned: boolean;
}

// The block record of (tag, length) at address; the caller checked the length (checkPartedSize).
function blockRecord(tag: number, length: number, address: number): Uint8Array {
  const rec = new Uint8Array(kBlockRecordBytes);
  putWholeHeader(rec, tag, length);
  putU64(rec, 16, address);
  return rec;
}

/** Reads a block record, b[at, at + len); CorruptRecord when it is not one, or names a record that cannot be a block. */
export function readBlockRecord(b: Uint8Array, at: number, len: number, own: readonly number[]): BlockRecord {
  if (len !== kBlockRecordBytes) throw new CorruptRecordError(`a block record of ${len} bytes (it has ${kBlockRecordBytes})`, 'web/blocks');
  const { tag, length } = readWholeHeader(b, at);
  if (length > kMaxPartedBytes) throw new CorruptRecordError(`a block record announces ${length} bytes, more than 1 GiB`, 'web/blocks');
  if (own.includes(tag)) throw new CorruptRecordError(`a block record announces a record of tag ${tag}, which is never a block's`, 'web/blocks');
  return { tag, length, address: getU64(b, at + 16) };
}

/** Blocks as transferred ArrayBuffers on a port (JavaScript workers). */
export class PortBlocks implements Blocks {
  private readonly queue: (Uint8Array | string)[] = []; // a block, or why its message was none
  private waiter: (() => void) | null = null;
  /** A block is a transferred ArrayBuffer: nobody else has it. */
  readonly owned = true;

  constructor(private readonly post: (m: BlockMessage, transfer: Transferable[]) => void) {}

  send(tag: number, bytes: Uint8Array): Uint8Array {
    checkPartedSize(bytes.length);
    const rec = blockRecord(tag, bytes.length, 0);
    const b = bytes.buffer as ArrayBuffer;
    this.post({ ferry: 'block', b, o: bytes.byteOffset, n: bytes.length }, [b]);
    return rec;
  }

  /** A block message arrived (one that is no block fails the record that takes it). */
  deliver(m: BlockMessage): void {
    const { b, o, n } = m;
    const fits = b instanceof ArrayBuffer && Number.isInteger(o) && Number.isInteger(n) && o >= 0 && n >= 0 && o <= b.byteLength && n <= b.byteLength - o;
    this.queue.push(fits ? new Uint8Array(b, o, n) : `a block message without an ArrayBuffer holding bytes [o, o + n) (o ${String(o)}, n ${String(n)})`);
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  take(r: BlockRecord): Uint8Array | null {
    if (r.address !== 0) throw new CorruptRecordError(`a block record names address ${r.address}: blocks come on the port here`, 'web/blocks');
    const b = this.queue.shift();
    if (b === undefined) return null;
    if (typeof b === 'string') throw new CorruptRecordError(b, 'web/blocks');
    if (b.length !== r.length) throw new CorruptRecordError(`a block of ${b.length} bytes where its record announced ${r.length}`, 'web/blocks');
    return b;
  }

  arrived(): Promise<void> {
    if (this.queue.length > 0) return Promise.resolve();
    return new Promise((resolve) => (this.waiter = resolve));
  }

  release(): void {}
}

/** Blocks in a wasm module's heap (C++ workers): `memory()` is its memory now. */
export class HeapBlocks implements Blocks {
  /** A block is freed once read: values are copied out of it. */
  readonly owned = false;

  constructor(
    private readonly memory: () => Uint8Array,
    private readonly alloc: (bytes: number) => number,
    private readonly free: (address: number) => void,
  ) {}

  send(tag: number, bytes: Uint8Array): Uint8Array | null {
    checkPartedSize(bytes.length);
    let address: number;
    try {
      address = this.alloc(bytes.length);
    } catch {
      return null; // the heap is full: parts need no more than the ring
    }
    this.memory().set(bytes, address);
    return blockRecord(tag, bytes.length, address);
  }

  take(r: BlockRecord): Uint8Array {
    const heap = this.memory();
    if (r.address === 0 || r.address > heap.length || r.length > heap.length - r.address) {
      throw new CorruptRecordError(`a block record names ${r.length} bytes at ${r.address}, outside the module's ${heap.length} bytes of memory`, 'web/blocks');
    }
    return heap.subarray(r.address, r.address + r.length);
  }

  arrived(): Promise<void> {
    return Promise.resolve();
  }

  release(r: BlockRecord): void {
    this.free(r.address);
  }
}
