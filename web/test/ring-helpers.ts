// Helpers of the ring tests (ring.test.ts, ring-wait.test.ts) and of their
// worker script (workers/ring-roles.ts): raw header words, a ring in a fresh
// buffer, the seeded record stream of the wrap and stress tests, and the two
// sides of the stress run (the main thread plays one, a worker the other).
import assert from 'node:assert/strict';
import { RING, RingConsumer, RingProducer, ringBytes, ringInit, type RingBuffer } from '../dist/ring.js';
import { ErrorKind, FerryError } from '../dist/errors.js';
import { rng32 as rng } from './helpers.js';

export const O = RING.offsets;

export function word(buf: RingBuffer, byteOffset: number): number {
  return Atomics.load(new Int32Array(buf), byteOffset >> 2) >>> 0;
}
export function setWord(buf: RingBuffer, byteOffset: number, v: number): void {
  Atomics.store(new Int32Array(buf), byteOffset >> 2, v | 0);
}
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array) => new TextDecoder().decode(b);

export function isKind(kind: ErrorKind, includes?: string) {
  return (e: unknown) => {
    assert.ok(e instanceof FerryError, `not a FerryError: ${String(e)}`);
    assert.equal(e.kind, kind, `kind ${e.kind} (${e.message})`);
    assert.equal(e.origin, 'web/ring');
    if (includes !== undefined) assert.ok(e.message.includes(includes), e.message);
    return true;
  };
}

export interface Ring {
  buf: SharedArrayBuffer | ArrayBuffer;
  tx: RingProducer;
  rx: RingConsumer;
}
export function makeRing(capacity: number, opts: { shared?: boolean; at?: number } = {}): Ring {
  const at = opts.at ?? 0;
  const n = at + ringBytes(capacity);
  const buf = opts.shared === false ? new ArrayBuffer(n) : new SharedArrayBuffer(n);
  ringInit(buf, at, capacity);
  return { buf, tx: RingProducer.attach(buf, at), rx: RingConsumer.attach(buf, at) };
}
export function write(tx: RingProducer, tag: number, s: string | Uint8Array): boolean {
  return tx.tryWrite(tag, typeof s === 'string' ? enc(s) : s);
}
export function readText(rx: RingConsumer): string | null {
  const r = rx.tryRead();
  return r === null ? null : dec(r.payload);
}

// Record stream of the stress and wrap tests: record `seq` has tag `seq`, a
// length from the seeded `lengths` generator, the sequence number in its
// first 4 bytes (when it has them), then bytes from the seeded `bytes`
// generator. Producer and consumer fold every payload into an FNV-1a checksum.
export class Stream {
  private readonly lengths: () => number;
  private readonly bytes: () => number;
  checksum = 0x811c9dc5;
  constructor(seed: number, private readonly maxLen: number) {
    this.lengths = rng(seed);
    this.bytes = rng(seed ^ 0x5bd1e995);
  }
  nextLength(): number {
    const r = this.lengths();
    // Mostly small, sometimes up to maxLen: many records per wrap, and some
    // that need a skip record far from the end.
    return (r & 15) === 0 ? (r >>> 4) % (this.maxLen + 1) : (r >>> 4) % Math.min(65, this.maxLen + 1);
  }
  fill(seq: number, p: Uint8Array): void {
    let i = 0;
    if (p.length >= 4) {
      p[0] = seq;
      p[1] = seq >>> 8;
      p[2] = seq >>> 16;
      p[3] = seq >>> 24;
      i = 4;
    }
    for (; i < p.length; i += 4) {
      const v = this.bytes();
      p[i] = v;
      if (i + 1 < p.length) p[i + 1] = v >>> 8;
      if (i + 2 < p.length) p[i + 2] = v >>> 16;
      if (i + 3 < p.length) p[i + 3] = v >>> 24;
    }
    this.fold(p);
  }
  // Checks what it can per record (tag, length, sequence number) and folds the
  // bytes into the checksum. Returns an error message, or null.
  check(seq: number, tag: number, p: Uint8Array): string | null {
    const len = this.nextLength();
    if (tag !== seq >>> 0) return `record ${seq}: tag ${tag}`;
    if (p.length !== len) return `record ${seq}: length ${p.length}, expected ${len}`;
    if (len >= 4 && (p[0]! | (p[1]! << 8) | (p[2]! << 16) | (p[3]! << 24)) >>> 0 !== seq >>> 0) {
      return `record ${seq}: carries another sequence number`;
    }
    this.fold(p);
    return null;
  }
  private fold(p: Uint8Array): void {
    let h = this.checksum;
    for (let i = 0; i < p.length; ++i) h = Math.imul(h ^ p[i]!, 16777619);
    this.checksum = Math.imul(h ^ p.length, 16777619) >>> 0;
  }
}

export const BATCH = 32; // records per publish / release in the thread tests
export const WAIT_MS = 20_000; // a wait this long means the test is stuck

export interface StressJob {
  role: 'produce' | 'consume';
  buf: SharedArrayBuffer;
  at: number;
  count: number;
  seed: number;
  maxLen: number;
}

// Producer side of the stress test; `wait` publishes and waits for space.
export async function produce(job: StressJob, wait: (tx: RingProducer, len: number) => boolean | Promise<boolean>): Promise<number> {
  const tx = RingProducer.attach(job.buf, job.at);
  const s = new Stream(job.seed, job.maxLen);
  let batch = 0;
  for (let seq = 0; seq < job.count; ++seq) {
    const len = s.nextLength();
    let slot = tx.tryReserve(len, seq);
    while (slot === null) {
      if (!(await wait(tx, len))) throw new Error(`producer stuck at record ${seq}`);
      slot = tx.tryReserve(len, seq);
    }
    s.fill(seq, slot);
    tx.commit(len);
    if (++batch === BATCH) {
      tx.publish();
      batch = 0;
    }
  }
  tx.close();
  tx.detach();
  return s.checksum;
}

// Consumer side; `wait` releases and waits for data. Returns the checksum.
export async function consume(job: StressJob, wait: (rx: RingConsumer) => boolean | Promise<boolean>): Promise<number> {
  const rx = RingConsumer.attach(job.buf, job.at);
  const s = new Stream(job.seed, job.maxLen);
  let seq = 0;
  let batch = 0;
  for (;;) {
    let r;
    try {
      r = rx.tryRead();
    } catch (e) {
      if (e instanceof FerryError && e.kind === ErrorKind.Closed) break;
      throw e;
    }
    if (r === null) {
      if (!(await wait(rx))) throw new Error(`consumer stuck at record ${seq}`);
      continue;
    }
    const bad = s.check(seq, r.tag, r.payload);
    if (bad !== null) throw new Error(bad);
    ++seq;
    if (++batch === BATCH) {
      rx.release();
      batch = 0;
    }
  }
  rx.detach();
  if (seq !== job.count) throw new Error(`consumer got ${seq} records, expected ${job.count}`);
  return s.checksum;
}
