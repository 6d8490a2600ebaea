// Tests of web/src/codec.ts with random values: nested values of every type
// round-trip byte exact through every encoder and decoder, and mutated bytes
// only ever throw Deserialization (decode and describe agree). Sizes scale
// with FERRY_STRESS_SCALE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../dist/codec.js';
import * as E from '../dist/errors.js';
import { rng, stressScale, toHex } from './helpers.js';

// --- Random values -------------------------------------------------------------

const scale = stressScale;

function randomValue(rand: () => number, depth: number): unknown {
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T,>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const big = () => BigInt.asIntN(64, (BigInt(int(2 ** 32)) << 32n) | BigInt(int(2 ** 32)));
  const str = () => {
    const n = pick([0, 1, 3, 8, 24, 25, 40, 100]);
    let s = '';
    for (let i = 0; i < n; i++) {
      const k = rand();
      if (k < 0.6) s += String.fromCharCode(0x20 + int(95));
      else if (k < 0.7) s += String.fromCharCode(int(0x20));
      else if (k < 0.85) s += String.fromCharCode(0x80 + int(0xd800 - 0x80));
      else if (k < 0.93) s += String.fromCharCode(0xe000 + int(0x2000));
      else s += String.fromCodePoint(0x10000 + int(0x100000));
    }
    return s;
  };
  const f64 = () => pick([0, -0, NaN, Infinity, -Infinity, 5e-324, 1.7976931348623157e308, 1e21, 1e-7, (rand() - 0.5) * 10 ** int(40)]);
  const leaf = depth >= 6 || rand() < 0.45;
  if (leaf) {
    switch (int(17)) {
      case 0: return undefined;
      case 1: return rand() < 0.5;
      case 2: return C.i8(int(256) - 128);
      case 3: return C.u8(int(256));
      case 4: return C.i16(int(65536) - 32768);
      case 5: return C.u16(int(65536));
      case 6: return C.i32(int(2 ** 32) - 2 ** 31);
      case 7: return C.u32(int(2 ** 32));
      case 8: return C.i64(big());
      case 9: return C.u64(BigInt.asUintN(64, big()));
      case 10: return C.f32(Math.fround(f64()));
      case 11: return C.f64(f64());
      case 12: return str();
      case 13: return Uint8Array.from({ length: int(40) }, () => int(256));
      case 14: {
        const n = int(6);
        return pick([
          () => Int8Array.from({ length: n }, () => int(256) - 128),
          () => Uint8ClampedArray.from({ length: n }, () => int(256)),
          () => Int16Array.from({ length: n }, () => int(65536)),
          () => Uint32Array.from({ length: n }, () => int(2 ** 32)),
          () => BigInt64Array.from({ length: n }, big),
          () => BigUint64Array.from({ length: n }, big),
          () => Float32Array.from({ length: n }, f64),
          () => Float64Array.from({ length: n }, f64),
        ])();
      }
      case 15: return E.ferryError(1 + int(14), str(), pick(['', 'js', 'worker 2', 'core/ring']));
      default: return E.ferryError(E.ErrorKind.TypeMismatch, `type mismatch: expected i32, got ${pick(['string', 'map'])} at offset ${int(99)}`, 'core/codec');
    }
  }
  switch (int(6)) {
    case 0: return Array.from({ length: int(5) }, () => randomValue(rand, depth + 1));
    case 1: return rand() < 0.3 ? C.NONE : C.some(randomValue(rand, depth + 1));
    case 2: return C.variant(int(4), randomValue(rand, depth + 1));
    case 3: {
      const m = new Map<unknown, unknown>();
      for (let i = int(4); i > 0; i--) m.set(rand() < 0.5 ? `k${int(1000)}` : randomValue(rand, depth + 1), randomValue(rand, depth + 1));
      return m;
    }
    default: {
      const fields: Record<string, unknown> = {};
      for (let i = int(5); i > 0; i--) fields[pick(['x', 'y', 'z', 'label', 'kids', '_n', 'h\u00e9', 'a b'])] = randomValue(rand, depth + 1);
      return C.struct(pick(['Point', 'Rect', 'Tree', '', 'S\u00fc']), fields);
    }
  }
}

test('Random.TenThousandNestedValuesRoundTripByteExact', () => {
  const rand = rng(0xfe77);
  const count = Math.round(10000 * scale);
  const w = new C.Writer(64);
  for (let i = 0; i < count; i++) {
    const v = randomValue(rand, 0);
    const bytes = C.encode(v);
    assert.equal(C.encodedSize(v), bytes.length);
    const back = C.decode(bytes, { preserveTypes: true });
    assert.deepStrictEqual(back, v);
    assert.equal(toHex(C.encode(back)), toHex(bytes));
    C.describe(bytes);
    const r = new C.Reader(bytes);
    C.skipValue(r);
    assert.ok(r.atEnd);
    C.decode(bytes); // plain JS types too
    C.encodeInto(w, v);
  }
  // Everything written in a row reads back in a row.
  const r = new C.Reader(w.bytes());
  let n = 0;
  while (!r.atEnd) {
    C.skipValue(r);
    n++;
  }
  assert.equal(n, count);
});

test('Random.MutatedBytesOnlyEverThrowDeserialization', () => {
  const rand = rng(0xbad);
  const count = Math.round(3000 * scale);
  for (let i = 0; i < count; i++) {
    const bytes = C.encode(randomValue(rand, 0));
    for (let k = 0; k < 4; k++) {
      const m = bytes.slice();
      const flips = 1 + Math.floor(rand() * 3);
      for (let f = 0; f < flips; f++) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
      let a: unknown = null;
      let b: unknown = null;
      try {
        C.decode(m);
      } catch (e) {
        a = e;
      }
      try {
        C.describe(m);
      } catch (e) {
        b = e;
      }
      // decode and describe apply the same rules, so they agree.
      assert.equal(a === null, b === null);
      if (a !== null) {
        assert.ok(a instanceof E.DeserializationError, String(a));
        assert.equal((a as Error).message, (b as Error).message);
      }
    }
  }
});
