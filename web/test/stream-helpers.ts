// Helpers of stream-parts.test.ts and of its worker script
// (workers/stream-roles.ts): the seeded value sequence both threads make,
// and how two values are compared (byte arrays byte for byte).
import assert from 'node:assert/strict';
import { rng32 } from './helpers.js';

/**
 * Values of random kinds and sizes from 0 to 4x `capacity` encoded bytes
 * (so about three in four go in parts): byte arrays, strings with
 * multi-byte characters, and small numbers in between. The same seed gives
 * the same sequence in every thread.
 */
export function partValues(seed: number, capacity: number): () => unknown {
  const next = rng32(seed);
  const chars = ['a', 'z', 'ß', '€', '𝄞'];
  return () => {
    const kind = next() % 8;
    const size = next() % (4 * capacity + 1);
    if (kind === 0) return next() % 1000;
    if (kind < 5) {
      const b = new Uint8Array(size);
      const fill = next();
      for (let i = 0; i < size; i++) b[i] = (fill + i * 31) & 255;
      return b;
    }
    let s = '';
    while (s.length < size >>> 1) s += chars[next() % chars.length];
    return s;
  };
}

/** Asserts got equals want; byte arrays are compared byte for byte (no megabyte diffs). */
export function assertSameValue(got: unknown, want: unknown, what: string): void {
  if (want instanceof Uint8Array) {
    assert.ok(got instanceof Uint8Array, `${what}: not a Uint8Array`);
    assert.equal(got.length, want.length, `${what}: length`);
    assert.ok(Buffer.from(got.buffer, got.byteOffset, got.length).equals(want), `${what}: bytes differ`);
  } else if (typeof want === 'string' && want.length > 200) {
    assert.equal(typeof got, 'string', `${what}: not a string`);
    assert.ok(got === want, `${what}: the ${want.length}-character string differs`);
  } else {
    assert.deepEqual(got, want, what);
  }
}
