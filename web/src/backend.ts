// The seam between the WorkerPool (pool.ts) and where its workers live:
// plain JavaScript workers over a standalone SharedArrayBuffer (js-backend.ts)
// or C++ workers in a wasm module's memory (wasm-backend.ts). Both speak
// web/PROTOCOL.md over the rings of core/RING.md.
import type { Blocks } from './blocks.js';
import type { RingConsumer, RingProducer } from './ring.js';
import type { Signature } from './schema.js';

// One worker slot's rings, as the pool (main thread) sees them.
export interface SlotRings {
  request: RingProducer;
  response: RingConsumer;
  // Byte offset of the word the worker's executor sleeps on (wasm), which the
  // task-side bells of a stream's rings must point at; null for JS workers
  // (they wait on each ring's own bells).
  doorbell: number | null;
  // Where records too large for a ring go out of band (blocks.ts): a port
  // (JS workers, set once the worker starts) or the module's heap (C++
  // workers); null: in parts.
  blocks: Blocks | null;
}

export interface Backend {
  readonly kind: 'js' | 'wasm';
  // The memory every ring of this pool lives in.
  readonly buffer: SharedArrayBuffer;
  readonly size: number;
  // Task signatures by name (wasm: published by the C++ registry); null when
  // the workers take plain JavaScript values (JS workers).
  readonly signatures: Map<string, Signature> | null;
  slot(index: number): SlotRings;
  // Called by the pool once it has failed everything slot `index` held;
  // resolves when slot(index) returns the replacement's rings.
  replace(index: number): Promise<void>;
  // The backend saw a worker die by itself (a JS worker's 'error' event).
  // The pool answers by failing that slot's calls and calling replace().
  onCrash(callback: (index: number, reason: string) => void): void;
  // Memory for stream rings and shared buffers: byte offset, 64-byte aligned.
  alloc(bytes: number): number;
  free(offset: number): void;
  terminate(): Promise<void>;
}
