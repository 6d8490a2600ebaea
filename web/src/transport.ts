// The seam between the WorkerPool (pool.ts) and where its workers live: what
// the pool needs from them, as one Transport. A Backend's rings become one
// here (RingTransport: JavaScript workers, js-backend.ts, or C++ workers in a
// wasm module, wasm-backend.ts); message-backend.ts implements it over
// postMessage. Kept apart from pool.ts so that no transport imports the pool.

import type { Backend } from './backend.js';
import type { Blocks } from './blocks.js';
import { ringCapacityOf, type ArenaStats } from './js-backend.js';
import { RingConsumer, RingProducer, ringAbort, ringBytes, ringInit, ringSetBells } from './ring.js';
import type { Signature } from './schema.js';
import type { RecordConsumer, RecordProducer } from './records.js';

/** A stream's two channels, allocated for one worker slot. */
export interface StreamChannels {
  /** What the stream record carries for `in` and `out` (ring byte offsets, or channel ids). */
  readonly inWire: number;
  readonly outWire: number;
  /** pool -> task */
  readonly input: RecordProducer;
  /** task -> pool */
  readonly output: RecordConsumer;
  /** Ends both channels from outside: waits wake, operations fail with `kind`. */
  abort(kind: number): void;
  /** Gives the memory back; only once nothing waits on the channels any more. */
  free(): void;
}

/** @internal the pool's view of a Backend (rings) or of the postMessage fallback. */
export interface Transport {
  readonly name: 'shared-memory' | 'postMessage';
  readonly size: number;
  readonly signatures: Map<string, Signature> | null;
  /** blocks: where records too large for a ring go out of band (blocks.ts), when the workers take them. */
  slot(index: number): { request: RecordProducer; response: RecordConsumer; blocks?: Blocks | null };
  /** Wakes and ends slot `index`'s request and response channels. */
  abortSlot(index: number, kind: number): void;
  openStream(index: number, capacity: number): StreamChannels;
  replace(index: number): Promise<void>;
  onCrash(callback: (index: number, reason: string) => void): void;
  terminate(): Promise<void>;
  memory?(): ArenaStats | undefined;
}

/** A Backend's rings as a Transport. */
export class RingTransport implements Transport {
  readonly name = 'shared-memory' as const;
  constructor(readonly b: Backend) {}
  get size(): number {
    return this.b.size;
  }
  get signatures(): Map<string, Signature> | null {
    return this.b.signatures;
  }
  slot(index: number): { request: RecordProducer; response: RecordConsumer; blocks: Blocks | null } {
    return this.b.slot(index);
  }
  abortSlot(index: number, kind: number): void {
    const r = this.b.slot(index);
    ringAbort(r.request.buffer, r.request.byteOffset, kind);
    ringAbort(r.response.buffer, r.response.byteOffset, kind);
    r.response.whenRung?.wake(); // a wait on a MessagePort doorbell hears no bell
  }
  openStream(index: number, capacity: number): StreamChannels {
    const cap = ringCapacityOf(capacity, 64 * 1024);
    const b = this.b;
    const inOff = b.alloc(ringBytes(cap));
    let outOff: number;
    try {
      outOff = b.alloc(ringBytes(cap));
    } catch (e) {
      b.free(inOff);
      throw e;
    }
    const buf = b.buffer;
    ringInit(buf, inOff, cap);
    ringInit(buf, outOff, cap);
    const door = b.slot(index).doorbell;
    if (door !== null) {
      // A wasm worker's executor sleeps on its doorbell: the task side of
      // both rings (in's data, out's space) must ring it.
      ringSetBells(buf, inOff, door, null);
      ringSetBells(buf, outOff, null, door);
    }
    const input = RingProducer.attach(buf, inOff);
    const output = RingConsumer.attach(buf, outOff);
    return {
      inWire: inOff,
      outWire: outOff,
      input,
      output,
      abort: (kind) => {
        ringAbort(buf, inOff, kind);
        ringAbort(buf, outOff, kind);
      },
      free: () => {
        input.detach();
        output.detach();
        b.free(inOff);
        b.free(outOff);
      },
    };
  }
  replace(index: number): Promise<void> {
    return this.b.replace(index);
  }
  onCrash(callback: (index: number, reason: string) => void): void {
    this.b.onCrash(callback);
  }
  terminate(): Promise<void> {
    return this.b.terminate();
  }
  memory(): ArenaStats | undefined {
    const m = (this.b as { memory?: () => ArenaStats }).memory;
    return typeof m === 'function' ? m.call(this.b) : undefined;
  }
}
