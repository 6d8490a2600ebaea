// WasmBuffer: a leased block of a pool's shared memory, seen as a Uint8Array.
//
//   const buf = pool.alloc(1 << 20);        // a WasmBuffer
//   buf.bytes.set(pixels);                   // fill it in place
//   await pool.call('checksum_shared', buf); // the C++ task reads it in place
//   buf.release();                           // give the memory back
//
// Passing a WasmBuffer copies nothing: it travels as the C++ struct
// `ferry::SharedBytes{address, size}` (workers/js_bridge.hpp), a pointer and
// a length. The lease is explicit: release() frees the block, after which any
// use throws InvalidArgument. A buffer garbage-collected without release()
// is freed by a FinalizationRegistry backstop, which also reports the leak
// (console.warn and the pool's stats().leakedBuffers).
import type { Backend } from './backend.js';
import { ErrorKind, ferryError } from './errors.js';

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
        lease.backend.free(lease.address);
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
  // A view of the block. Take a fresh one after the module's memory grows
  // (an older view still works, it is only tied to the older buffer object).
  get bytes(): Uint8Array {
    const lease = this.live();
    return new Uint8Array(lease.backend.buffer, lease.address, lease.size);
  }

  release(): void {
    const lease = this.live();
    backstop?.unregister(this);
    this.lease = null;
    lease.backend.free(lease.address);
  }

  private live(): Lease {
    if (this.lease === null) throw ferryError(ErrorKind.InvalidArgument, 'WasmBuffer used after release()', 'web/buffer');
    return this.lease;
  }
}
