// WasmBuffer: a leased block of a pool's shared memory, seen as a Uint8Array.
//
//   const buf = pool.alloc(1 << 20);        // a WasmBuffer
//   buf.bytes.set(pixels);                   // fill it in place
//   await pool.call('checksum_shared', buf); // the C++ task reads it in place
//   buf.release();                           // give the memory back
//
// Passing a WasmBuffer copies nothing: it travels as the C++ struct
// `ferry::SharedBytes{address, size}` (workers/js_bridge.hpp), a pointer and
// a length. The lease is explicit: release() ends it, after which any use
// of the WasmBuffer throws InvalidArgument. A buffer garbage-collected
// unreleased is released by a FinalizationRegistry backstop, which also
// reports the leak (console.warn and the pool's stats().leakedBuffers).
//
// Views outlive leases: a Uint8Array taken from `bytes` cannot be detached
// (the memory is a SharedArrayBuffer), so a released block is not handed
// out again at once. It goes into a quarantine, filled with kPoison: reads
// through an old view see 0xDB bytes, writes land in memory nobody else
// uses. A block leaves the quarantine (oldest first) once the quarantine
// holds more than kQuarantineBytes or kQuarantineBlocks; it is checked then,
// and a block written after its release is reported (console.warn and
// stats().writesAfterRelease) before it is freed. Beyond that window an old
// view aliases whatever the allocator puts there next: never keep views past
// release().
import type { Backend } from './backend.js';
import { ErrorKind, ferryError } from './errors.js';

const kPoison = 0xdb;
const kQuarantineBytes = 8 << 20;
const kQuarantineBlocks = 256;

interface Block {
  address: number;
  size: number;
}

/** Released blocks of one backend, oldest first, not yet freed. */
class Quarantine {
  private readonly blocks: Block[] = [];
  private head = 0;
  bytes = 0;
  /** Blocks found written after their release. */
  written = 0;
  private closed = false; // flushed for good: its pool is gone

  constructor(private readonly backend: Backend) {}

  get count(): number {
    return this.blocks.length - this.head;
  }

  add(address: number, size: number): void {
    if (this.closed) {
      this.backend.free(address);
      return;
    }
    new Uint8Array(this.backend.buffer, address, size).fill(kPoison);
    this.blocks.push({ address, size });
    this.bytes += size;
    while (this.count > 1 && (this.bytes > kQuarantineBytes || this.count > kQuarantineBlocks)) this.evict();
  }

  /** Frees every quarantined block; later releases free at once (the pool is done). */
  flush(): void {
    this.closed = true;
    while (this.count > 0) this.evict();
  }

  private evict(): void {
    const b = this.blocks[this.head]!;
    this.blocks[this.head++] = undefined as unknown as Block;
    if (this.head > 64 && this.head * 2 > this.blocks.length) {
      this.blocks.splice(0, this.head);
      this.head = 0;
    }
    this.bytes -= b.size;
    if (!stillPoisoned(this.backend.buffer, b.address, b.size)) {
      this.written++;
      console.warn(`ferry: a released WasmBuffer of ${b.size} bytes (address ${b.address}) was written after release(); a view of its bytes was kept and used`);
    }
    this.backend.free(b.address);
  }
}

// Whether [address, address + size) still holds nothing but kPoison (32-bit words where aligned).
function stillPoisoned(buffer: SharedArrayBuffer, address: number, size: number): boolean {
  const u8 = new Uint8Array(buffer, address, size);
  let i = 0;
  const head = (4 - (address & 3)) & 3;
  for (; i < head && i < size; i++) if (u8[i] !== kPoison) return false;
  const words = (size - i) >>> 2;
  if (words > 0) {
    const w = new Uint32Array(buffer, address + i, words);
    const p = kPoison * 0x01010101;
    for (let k = 0; k < words; k++) if (w[k] !== p) return false;
    i += words * 4;
  }
  for (; i < size; i++) if (u8[i] !== kPoison) return false;
  return true;
}

const quarantines = new WeakMap<Backend, Quarantine>();
function quarantineOf(backend: Backend): Quarantine {
  let q = quarantines.get(backend);
  if (q === undefined) {
    q = new Quarantine(backend);
    quarantines.set(backend, q);
  }
  return q;
}

/** What a backend's quarantine holds now, and how many blocks it caught written after release. */
export function quarantineStats(backend: Backend): { blocks: number; bytes: number; writesAfterRelease: number } {
  const q = quarantines.get(backend);
  return q === undefined ? { blocks: 0, bytes: 0, writesAfterRelease: 0 } : { blocks: q.count, bytes: q.bytes, writesAfterRelease: q.written };
}

/** Frees a backend's quarantined blocks (checking them first): its pool is terminating. */
export function flushQuarantine(backend: Backend): void {
  quarantines.get(backend)?.flush();
}

interface Lease {
  backend: Backend;
  address: number;
  size: number;
  onLeak: (size: number) => void;
}

const backstop =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<Lease>((lease) => {
        console.warn(`ferry: a WasmBuffer of ${lease.size} bytes was garbage-collected without release(); freeing it`);
        lease.onLeak(lease.size);
        quarantineOf(lease.backend).add(lease.address, lease.size);
      })
    : null;

export class WasmBuffer {
  private lease: Lease | null;

  constructor(backend: Backend, size: number, onLeak: (size: number) => void = () => {}) {
    if (!Number.isInteger(size) || size <= 0 || size > 0x7fff_ffff) {
      throw ferryError(ErrorKind.InvalidArgument, `a WasmBuffer takes 1..2147483647 bytes, not ${size}`, 'web/buffer');
    }
    this.lease = { backend, address: backend.alloc(size), size, onLeak };
    backstop?.register(this, this.lease, this);
  }

  // Byte offset of the block in the pool's memory (the wasm address).
  get address(): number {
    return this.live().address;
  }
  get size(): number {
    return this.live().size;
  }
  get released(): boolean {
    return this.lease === null;
  }
  // A view of the block, valid until release(). Take a fresh one after the
  // module's memory grows (an older view still works, it is only tied to the
  // older buffer object).
  get bytes(): Uint8Array {
    const lease = this.live();
    return new Uint8Array(lease.backend.buffer, lease.address, lease.size);
  }

  /** Ends the lease: the block goes to the quarantine (see the top), then back to the allocator. */
  release(): void {
    const lease = this.live();
    backstop?.unregister(this);
    this.lease = null;
    quarantineOf(lease.backend).add(lease.address, lease.size);
  }

  private live(): Lease {
    if (this.lease === null) throw ferryError(ErrorKind.InvalidArgument, 'WasmBuffer used after release()', 'web/buffer');
    return this.lease;
  }
}
