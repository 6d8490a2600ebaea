// Tests of web/src/codec.ts's JavaScript side (core/CODEC.md's mapping): which
// wire type each JavaScript value takes and what it decodes back to, values
// that have no encoding, and the Writer, Reader and slot encoders the record
// headers and rings use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as C from '../dist/codec.js';
import * as E from '../dist/errors.js';
import { fromHex, throwsKind, toHex } from './helpers.js';

// --- JavaScript mapping ------------------------------------------------------

test('Mapping.PlainNumbersAreF64AndBigintsAreI64', () => {
  assert.equal(toHex(C.encode(1.5)), '0b000000000000f83f');
  assert.equal(toHex(C.encode(-1n)), '08ffffffffffffffff');
  throwsKind(() => C.encode(1n << 63n), E.ErrorKind.Serialization, /i64 value 9223372036854775808 is not an integer in/);
});

test('Mapping.TypedWrappersChooseTheWireTypeAndCheckRange', () => {
  const cases: [C.Typed, string][] = [
    [C.i8(-128), '0280'], [C.u8(255), '03ff'], [C.i16(-32768), '040080'], [C.u16(65535), '05ffff'],
    [C.i32(-2), '06feffffff'], [C.u32(4294967295), '07ffffffff'], [C.i64(-1n), '08ffffffffffffffff'],
    [C.i64(-1), '08ffffffffffffffff'], [C.u64((1n << 64n) - 1n), '09ffffffffffffffff'], [C.f32(1.5), '0a0000c03f'],
    [C.f32(-0), '0a00000080'], [C.f64(0.1), '0b9a9999999999b93f'], [C.i32(7n as unknown as number), '0607000000'],
  ];
  for (const [t, hex] of cases) assert.equal(toHex(C.encode(t)), hex);
  for (const bad of [C.i8(128), C.u8(-1), C.i16(1.5), C.u16(65536), C.i32(2 ** 31), C.u32(NaN), C.i64(2 ** 60), C.u64(-1n), C.u64(1n << 64n), C.f32('1' as unknown as number)]) {
    throwsKind(() => C.encode(bad), E.ErrorKind.Serialization);
  }
  throwsKind(() => C.encode(C.i8(300)), E.ErrorKind.Serialization, 'i8 value 300 is not an integer in -128..127');
  throwsKind(() => C.encode(new C.Typed(0x0c as C.NumberTag, 1)), E.ErrorKind.Serialization, /not a number type/);
});

test('Mapping.StringsAreStrictUtf8BothWays', () => {
  for (const s of ['', 'hello', 'h\u00e9llo', '\u{1f600}', 'x'.repeat(100), '\u{10ffff}\u0000\u07ff\u0800\uffff'.repeat(9)]) {
    assert.equal(C.decode(C.encode(s)), s);
    assert.equal(C.encodedSize(s), C.encode(s).length);
  }
  throwsKind(() => C.encode('a\ud800b'), E.ErrorKind.Serialization, 'string is not valid UTF-8 (lone surrogate U+D800 at index 1)');
  throwsKind(() => C.encode('\udc00'), E.ErrorKind.Serialization);
  throwsKind(() => C.encode('x'.repeat(50) + '\ud83d'), E.ErrorKind.Serialization, /lone surrogate U\+D83D at index 50/);
  throwsKind(() => C.encode(C.struct('P\udfff', {})), E.ErrorKind.Serialization, /struct name/);
  throwsKind(() => C.encode(new E.ClosedError('\ud800')), E.ErrorKind.Serialization, /error message/);
});

test('Mapping.StringsIntoSharedMemoryEncodeAsIntoOrdinaryMemory', () => {
  // Into a SharedArrayBuffer, strings up to 48 units are encoded by hand
  // (TextEncoder cannot write there in place), ASCII first where the range
  // has room for it but not for 3 bytes a unit: same bytes, same errors, and
  // a range too small is still MessageTooLarge. Decoding makes ASCII up to 48
  // bytes 8 units at a time. Each string is also one unit short of ASCII
  // (its last unit another), in exactly its room.
  const whole = new Uint8Array(new SharedArrayBuffer(1024));
  const units = ['x', '\u00e9', '\u0800', '\u{1f600}', 'last'];
  for (const n of [1, 8, 20, 24, 25, 32, 47, 48, 49, 64, 127, 128, 129, 200]) {
    for (const u of units) {
      const s =
        u === 'last'
          ? 'x'.repeat(n - 1) + '\u00e9'
          : u.repeat(Math.ceil(n / u.length)).slice(0, n - (u.length === 2 && n % 2 ? 1 : 0)) + (u.length === 2 && n % 2 ? 'y' : '');
      const want = C.encode(s);
      whole.fill(0xaa);
      assert.equal(C.encodeToRange(s, whole, 7, 7 + want.length), want.length, `${n} × ${u}`);
      assert.equal(toHex(whole.subarray(7, 7 + want.length)), toHex(want), `${n} × ${u}`);
      assert.equal(whole[7 + want.length], 0xaa, `${n} × ${u}: nothing written after the range`);
      assert.equal(C.decodeRange(whole, 7, 7 + want.length), s);
      throwsKind(() => C.encodeToRange(s, whole, 0, want.length - 1), E.ErrorKind.MessageTooLarge);
    }
    const lone = 'x'.repeat(n - 1) + '\ud800';
    throwsKind(() => C.encodeToRange(lone, whole, 0, 1024), E.ErrorKind.Serialization, `string is not valid UTF-8 (lone surrogate U+D800 at index ${n - 1})`);
  }
});

test('Mapping.BytesDecodeToACopyOrAZeroCopyView', () => {
  const input = fromHex('0d03000000010203');
  const copy = C.decode(input) as Uint8Array;
  const view = C.decode(input, { copy: false }) as Uint8Array;
  assert.deepEqual(copy, new Uint8Array([1, 2, 3]));
  assert.deepEqual(view, new Uint8Array([1, 2, 3]));
  assert.equal(view.buffer, input.buffer);
  assert.equal(view.byteOffset, 5);
  input[5] = 9;
  assert.equal(view[0], 9);
  assert.equal(copy[0], 1);
  const ab = new Uint8Array([7, 8]).buffer;
  for (const b of [new Uint8Array([7, 8]), new DataView(ab), ab, Buffer.from([7, 8]), new Uint8Array([0, 7, 8, 0]).subarray(1, 3)]) {
    assert.equal(toHex(C.encode(b)), '0d020000000708');
  }
  const sab = new SharedArrayBuffer(2);
  new Uint8Array(sab).set([7, 8]);
  assert.equal(toHex(C.encode(sab)), '0d020000000708');
});

test('Mapping.TypedArraysArePackedAndDecodeToCopies', () => {
  const arrays = [
    new Int8Array([-1, 2]), new Uint8ClampedArray([255, 0]), new Int16Array([-2, 3]), new Uint16Array([1, 65535]),
    new Int32Array([1, -2, 3]), new Uint32Array([4294967295]), new BigInt64Array([-5n]), new BigUint64Array([(1n << 64n) - 1n]),
    new Float32Array([1.5, -0.25]), new Float64Array([Math.PI, -0]),
  ];
  for (const a of arrays) {
    const back = C.decode(C.encode(a));
    assert.deepEqual(back, a);
    assert.equal(Object.getPrototypeOf(back), Object.getPrototypeOf(a));
  }
  assert.equal(toHex(C.encode(new Int32Array([1, -2, 3]))), '0f060300000001000000feffffff03000000');
  // Unaligned elements (offset 1 of the input) still decode; the result owns its memory.
  const input = new Uint8Array(1 + 14);
  input.set(fromHex('0f06020000000100000002000000'), 1);
  const out = C.decode(input.subarray(1)) as Int32Array;
  assert.deepEqual(out, new Int32Array([1, 2]));
  assert.notEqual(out.buffer, input.buffer);
  // A subarray view encodes only its elements; NaN payloads survive inside packed arrays.
  const f = new Float64Array([1, 2, 3, 4]).subarray(1, 3);
  assert.deepEqual(C.decode(C.encode(f)), new Float64Array([2, 3]));
  const nan = new Uint32Array([0x7fc00001]);
  const nanBack = C.decode(C.encode(new Float32Array(nan.buffer))) as Float32Array;
  assert.equal(new Uint32Array(nanBack.buffer)[0], 0x7fc00001);
});

test('Mapping.OptionalsUseNullNoneAndSome', () => {
  assert.equal(toHex(C.encode(null)), '1000');
  assert.equal(toHex(C.encode(C.NONE)), '1000');
  assert.equal(toHex(C.encode(C.some(C.i32(5)))), '10010605000000');
  assert.equal(toHex(C.encode(C.some(null))), '10011000');
  assert.equal(C.decode(fromHex('10011000')), null); // some(none) flattens without preserveOptional
  assert.deepEqual(C.decode(fromHex('10011000'), { preserveOptional: true }), C.some(C.NONE));
  assert.equal(C.decode(fromHex('1000'), { preserveOptional: true }), C.NONE);
  assert.deepEqual(C.decode(fromHex('10010605000000'), { preserveOptional: true }), C.some(5));
  assert.equal(C.decode(fromHex('10010605000000'), { preserveTypes: true, preserveOptional: false }) instanceof C.Typed, true);
  assert.ok(Object.isFrozen(C.NONE));
});

test('Mapping.VariantsMapsStructsAndErrors', () => {
  assert.equal(toHex(C.encode(C.variant(1, 'x'))), '11010000000c0100000078');
  throwsKind(() => C.encode(C.variant(-1, 0)), E.ErrorKind.Serialization, /variant index -1/);
  const m = new Map<unknown, unknown>([['a', C.i32(1)], ['b', C.i32(2)]]);
  assert.equal(toHex(C.encode(m)), '12020000000c010000006106010000000c01000000620602000000');
  const p = C.struct('Point', { x: C.i32(1), y: C.i32(-2) });
  assert.equal(toHex(C.encode(p)), '1305506f696e74020001780601000000017906feffffff');
  // A plain object is a struct with an empty name, and decodes back to one.
  const plain = { a: 1, b: 'x' };
  const back = C.decode(C.encode(plain)) as Record<string | symbol, unknown>;
  assert.equal(back[C.STRUCT_NAME], '');
  assert.deepEqual({ ...back }, { ...plain, [C.STRUCT_NAME]: '' });
  assert.equal(C.describe(C.encode(plain)), 'struct "" {a: f64 1, b: string "x"}');
  // A field named __proto__ is a field, not a prototype.
  const proto = C.decode(fromHex('1301410100' + '095f5f70726f746f5f5f' + '0101')) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.deepEqual(Object.keys(proto), ['__proto__']);
  assert.equal(toHex(C.encode(proto)), '1301410100095f5f70726f746f5f5f0101');
  throwsKind(() => C.encode(C.struct('x'.repeat(256), {})), E.ErrorKind.Serialization, 'struct name of 256 bytes exceeds the limit of 255');
  // Errors are values: FerryError subclasses both ways; other Errors become JsException.
  assert.equal(toHex(C.encode(new E.ClosedError('stream closed', 'core/ring'))), '14050d00000073747265616d20636c6f73656409000000636f72652f72696e67');
  const js = C.decode(C.encode(new TypeError('nope'))) as E.FerryError;
  assert.ok(js instanceof E.JsExceptionError);
  assert.equal(js.message, 'nope');
  throwsKind(() => C.encode(new E.FerryError(99 as E.ErrorKind, 'x')), E.ErrorKind.Serialization, /error kind 99/);
});

test('Mapping.ValuesWithoutAnEncodingAreSerialization', () => {
  throwsKind(() => C.encode(() => 1), E.ErrorKind.Serialization, 'cannot encode a function');
  throwsKind(() => C.encode(Symbol('s')), E.ErrorKind.Serialization, 'cannot encode a symbol');
  throwsKind(() => C.encode(new Set([1])), E.ErrorKind.Serialization, /cannot encode a Set/);
  throwsKind(() => C.encode([1, new Date(0)]), E.ErrorKind.Serialization, /cannot encode a Date/);
  const cyclic: unknown[] = [];
  cyclic.push(cyclic);
  throwsKind(() => C.encode(cyclic), E.ErrorKind.Serialization, 'nesting depth 65 exceeds the limit of 64');
  let deep: unknown = 0;
  for (let i = 0; i < 64; i++) deep = [deep];
  assert.equal(C.encode(deep).length, 64 * 5 + 9);
  throwsKind(() => C.encode([deep]), E.ErrorKind.Serialization, 'nesting depth 65 exceeds the limit of 64');
  throwsKind(() => C.encode(C.some(deep)), E.ErrorKind.Serialization);
});

// --- Writer, Reader, slots -----------------------------------------------------

test('Writer.GrowsByDoublingAndKeepsEarlierValues', () => {
  const w = new C.Writer(16);
  const values: unknown[] = [];
  for (let i = 0; i < 200; i++) {
    const v = i % 3 === 0 ? 'x'.repeat(i) : i % 3 === 1 ? C.u16(i) : [i, 'y'];
    values.push(v);
    C.encodeInto(w, v);
  }
  assert.ok(w.capacity >= w.size);
  const r = new C.Reader(w.bytes());
  for (const v of values) assert.deepEqual(C.encode(C.decodeFrom(r, { preserveTypes: true })), C.encode(v));
  assert.ok(r.atEnd);
});

test('Writer.AFailedEncodeLeavesWhatWasWrittenBefore', () => {
  const w = new C.Writer();
  C.encodeInto(w, 'ok');
  const before = toHex(w.bytes());
  throwsKind(() => C.encodeInto(w, ['a', 'b', () => 0]), E.ErrorKind.Serialization);
  assert.equal(toHex(w.bytes()), before);
});

test('Writer.LowLevelPutsAndReaderReadsForRecordHeaders', () => {
  const w = new C.Writer(4);
  w.putU8(1);
  w.putU64(123456789012345n);
  w.putU16(3);
  w.putUtf8('add');
  C.encodeInto(w, [C.i32(1), C.i32(2)]);
  const r = new C.Reader(w.toUint8Array());
  assert.equal(r.readU8(), 1);
  assert.equal(r.readU64(), 123456789012345n);
  const n = r.readU16();
  assert.equal(r.readUtf8(n), 'add');
  assert.deepEqual(C.decodeFrom(r), [1, 2]);
  throwsKind(() => r.readU32('record id'), E.ErrorKind.Deserialization, 'record id at offset 29 needs 4 bytes but 0 bytes remain');
});

test('Slot.EncodeToSlotWritesOnlyInsideTheSlot', () => {
  const sab = new SharedArrayBuffer(64);
  const all = new Uint8Array(sab);
  all.fill(0xcc); // canaries
  const slot = new Uint8Array(sab, 8, 16);
  const n = C.encodeToSlot(C.struct('P', { x: C.i32(1) }), slot);
  assert.equal(n, 12);
  assert.equal(C.describe(slot.subarray(0, n)), 'struct P {x: i32 1}');
  for (let i = 0; i < 64; i++) if (i < 8 || i >= 8 + n) assert.equal(all[i], 0xcc, `byte ${i}`);
  const e = throwsKind(() => C.encodeToSlot('hello world', new Uint8Array(sab, 32, 8)), E.ErrorKind.MessageTooLarge, 'encoding needs 16 bytes but the buffer holds 8 (8 more)');
  assert.ok(e instanceof E.MessageTooLargeError);
  for (let i = 40; i < 64; i++) assert.equal(all[i], 0xcc, `byte ${i}`);
  throwsKind(() => C.encodeToSlot('y'.repeat(100), new Uint8Array(sab, 32, 30)), E.ErrorKind.MessageTooLarge, 'encoding needs 105 bytes but the buffer holds 30 (75 more)');
  for (let i = 62; i < 64; i++) assert.equal(all[i], 0xcc, `byte ${i}`);
  // A fixed Writer keeps earlier values and reports the total.
  const w = C.Writer.over(new Uint8Array(12));
  C.encodeInto(w, C.i32(1));
  throwsKind(() => C.encodeInto(w, C.i64(1)), E.ErrorKind.MessageTooLarge, 'encoding needs 14 bytes but the buffer holds 12 (2 more)');
  assert.equal(w.size, 5);
});

test('Reader.ErrorOffsetsCountFromTheStartOfItsInput', () => {
  const buf = new Uint8Array(20);
  buf.set(fromHex('0e010000000102'), 10);
  throwsKind(() => C.decode(buf.subarray(10, 17)), E.ErrorKind.Deserialization, 'bool byte 0x02 at offset 6 is not 0 or 1');
  const r = new C.Reader(buf.subarray(10, 17), 5);
  throwsKind(() => C.decodeFrom(r), E.ErrorKind.Deserialization, 'bool byte 0x02 at offset 6 is not 0 or 1');
});
