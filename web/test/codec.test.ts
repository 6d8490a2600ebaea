// Tests of web/src/codec.ts against core/CODEC.md and tests/golden/codec.txt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as C from '../dist/codec.js';
import * as E from '../dist/errors.js';
import { fromHex, rng, stressScale, toHex } from './helpers.js';

const goldenPath = fileURLToPath(new URL('../../tests/golden/codec.txt', import.meta.url));

interface Vector {
  name: string;
  hex: string;
  text: string;
  bytes: Uint8Array;
}


function loadGolden(): Vector[] {
  const out: Vector[] = [];
  for (const raw of readFileSync(goldenPath, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const a = line.indexOf('|');
    const b = line.indexOf('|', a + 1);
    const name = line.slice(0, a).trim();
    const hex = line.slice(a + 1, b).trim();
    const text = line.slice(b + 1).trim();
    out.push({ name, hex, text, bytes: fromHex(hex) });
  }
  return out;
}
const golden = loadGolden();

function throwsKind(fn: () => unknown, kind: E.ErrorKind, message?: string | RegExp): E.FerryError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, 'expected a throw');
  assert.ok(caught instanceof E.FerryError, `expected a FerryError, got ${String(caught)}`);
  assert.equal(E.kindName(caught.kind), E.kindName(kind), caught.message);
  if (typeof message === 'string') assert.equal(caught.message, message);
  else if (message) assert.match(caught.message, message);
  return caught;
}
const deser = (hex: string, message?: string | RegExp) => throwsKind(() => C.decode(fromHex(hex)), E.ErrorKind.Deserialization, message);
// Every decoder entry point applies the rule: decode, describe and skipValue.
function deserAll(hex: string, message?: string | RegExp): void {
  deser(hex, message);
  throwsKind(() => C.describe(fromHex(hex)), E.ErrorKind.Deserialization, message);
  if (!/trailing/.test(String(message))) throwsKind(() => C.skipValue(new C.Reader(fromHex(hex))), E.ErrorKind.Deserialization, message);
}

// --- Golden vectors ----------------------------------------------------------

test('Golden.FileHasEveryVectorOfCodecMd', () => {
  assert.ok(golden.length >= 60, `only ${golden.length} vectors`);
  const names = new Set(golden.map((v) => v.name));
  for (const n of ['unit', 'struct_point', 'struct_shape', 'error_closed', 'array_of_results', 'optional_some_none']) assert.ok(names.has(n), n);
});

test('Golden.EveryVectorDescribesToItsTextForm', () => {
  for (const v of golden) assert.equal(C.describe(v.bytes), v.text, v.name);
});

test('Golden.EveryVectorDecodesAndReencodesByteExact', () => {
  for (const v of golden) {
    const value = C.decode(v.bytes, { preserveTypes: true });
    assert.equal(toHex(C.encode(value)), v.hex, v.name);
    assert.equal(C.encodedSize(value), v.bytes.length, v.name);
    const slot = new Uint8Array(v.bytes.length);
    assert.equal(C.encodeToSlot(value, slot), v.bytes.length, v.name);
    assert.equal(toHex(slot), v.hex, v.name);
  }
});

test('Golden.EveryVectorDecodesWithPlainJsTypes', () => {
  for (const v of golden) C.decode(v.bytes);
  const get = (name: string) => C.decode(golden.find((v) => v.name === name)!.bytes);
  assert.equal(get('unit'), undefined);
  assert.equal(get('bool_true'), true);
  assert.equal(get('i8_min'), -128);
  assert.equal(get('u32_max'), 4294967295);
  assert.equal(get('i64_min'), -(1n << 63n));
  assert.equal(get('u64_max'), (1n << 64n) - 1n);
  assert.equal(get('f32_one_tenth'), Math.fround(0.1));
  assert.ok(Object.is(get('f64_minus_zero'), -0));
  assert.equal(get('string_accented'), 'h\u00e9llo');
  assert.equal(get('string_emoji'), '\u{1f600}');
  assert.deepEqual(get('bytes_four'), new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
  assert.deepEqual(get('packed_i32'), new Int32Array([1, -2, 3]));
  assert.deepEqual(get('packed_f64'), new Float64Array([1.5, -0.25]));
  assert.deepEqual(get('packed_u16'), new Uint16Array([1, 65535]));
  assert.deepEqual(get('packed_f32_empty'), new Float32Array(0));
  assert.deepEqual(get('tuple_mixed'), [1, 'x', true]);
  assert.deepEqual(get('pair_string_i64'), ['k', -5n]);
  assert.equal(get('optional_none'), null);
  assert.equal(get('optional_some_i32'), 5);
  assert.equal(get('optional_some_none'), null);
  assert.deepEqual(get('variant_second'), C.variant(1, 'x'));
  assert.deepEqual(get('map_u16_keys'), new Map([[1, 'one'], [2, 'two']]));
  assert.deepEqual(get('struct_point'), C.struct('Point', { x: 1, y: -2 }));
  assert.deepEqual(get('struct_empty'), C.struct('Empty', {}));
  const rect = get('struct_rect') as Record<string, unknown>;
  assert.deepEqual(Object.keys(rect), ['a', 'b', 'label']);
  assert.equal((rect as Record<symbol, unknown>)[C.STRUCT_NAME], 'Rect');
  assert.deepEqual(rect.b, C.struct('Point', { x: 640, y: 480 }));
});

test('Golden.ErrorValuesDecodeToFerryErrorSubclassesWithoutThrowing', () => {
  const closed = C.decode(golden.find((v) => v.name === 'error_closed')!.bytes);
  assert.ok(closed instanceof E.ClosedError);
  assert.equal((closed as E.FerryError).message, 'stream closed');
  assert.equal((closed as E.FerryError).origin, 'core/ring');
  const tm = C.decode(golden.find((v) => v.name === 'error_type_mismatch_no_origin')!.bytes);
  assert.ok(tm instanceof E.TypeMismatchError);
  assert.equal(tm.expected, 'i32');
  assert.equal(tm.actual, 'string');
  assert.equal(tm.origin, '');
  const results = C.decode(golden.find((v) => v.name === 'array_of_results')!.bytes) as unknown[];
  assert.equal(results[0], 5);
  assert.ok(results[1] instanceof E.TimeoutError);
  assert.equal((results[1] as E.FerryError).origin, 'worker 1');
});

test('Golden.EveryProperPrefixIsRefusedWithDeserialization', () => {
  for (const v of golden) {
    for (let n = 0; n < v.bytes.length; n++) {
      const prefix = v.bytes.subarray(0, n);
      throwsKind(() => C.decode(prefix), E.ErrorKind.Deserialization);
      throwsKind(() => C.describe(prefix), E.ErrorKind.Deserialization);
      throwsKind(() => C.skipValue(new C.Reader(prefix)), E.ErrorKind.Deserialization);
    }
  }
});

test('Golden.VectorsDecodeFromAnyOffsetOfSharedMemory', () => {
  const sab = new SharedArrayBuffer(4096);
  for (const v of golden) {
    const at = 1 + (v.bytes.length % 7); // odd offsets: numbers are unaligned
    const view = new Uint8Array(sab, at, v.bytes.length);
    view.set(v.bytes);
    assert.equal(C.describe(view), v.text, v.name);
    assert.equal(toHex(C.encode(C.decode(view, { preserveTypes: true }))), v.hex, v.name);
  }
});

test('Golden.VectorsEncodeAndDecodeInPlaceInsideARangeOfAWholeBuffer', () => {
  const sab = new SharedArrayBuffer(4096);
  const whole = new Uint8Array(sab);
  for (const v of golden) {
    const start = 3 + (v.bytes.length % 5);
    const end = start + v.bytes.length;
    whole.fill(0xaa);
    const value = C.decode(v.bytes, { preserveTypes: true });
    assert.equal(C.encodeToRange(value, whole, start, end), v.bytes.length, v.name);
    assert.equal(toHex(whole.subarray(start, end)), v.hex, v.name);
    assert.equal(whole[start - 1], 0xaa, `${v.name}: nothing written before the range`);
    assert.equal(whole[end], 0xaa, `${v.name}: nothing written after the range`);
    assert.equal(toHex(C.encode(C.decodeRange(whole, start, end, { preserveTypes: true }))), v.hex, v.name);
  }
  // Offsets in messages count from the range's start; a range too small is MessageTooLarge.
  whole.set(fromHex('0e0200000006'), 100);
  throwsKind(() => C.decodeRange(whole, 100, 106), E.ErrorKind.Deserialization, 'array count 2 at offset 1 needs at least 2 bytes but 1 byte remain');
  throwsKind(() => C.encodeToRange('longer than four', whole, 0, 4), E.ErrorKind.MessageTooLarge, /encoding needs 21 bytes but the buffer holds 4/);
});

// --- Decoding rules (one test per row of CODEC.md's table) ----------------------

test('DecodingRules.InputEndingBeforeATagIsDeserialization', () => {
  deserAll('', 'input ends at offset 0 where a value was expected');
  deserAll('0e020000000100', 'input ends at offset 7 where a value was expected');
  deserAll('1001', 'input ends at offset 2 where a value was expected');
  deserAll('1100000000', 'input ends at offset 5 where a value was expected');
  deserAll('12010000000c00000000', 'input ends at offset 10 where a value was expected');
});

test('DecodingRules.AFixedSizeFieldCutShortIsDeserialization', () => {
  deserAll('0601', 'i32 payload at offset 1 needs 4 bytes but 1 byte remains');
  deserAll('0e0100000006', 'i32 payload at offset 6 needs 4 bytes but 0 bytes remain');
  deserAll('0b000000', 'f64 payload at offset 1 needs 8 bytes but 3 bytes remain');
  deserAll('01', 'bool byte at offset 1 needs 1 byte but 0 bytes remain');
  deserAll('0c0100', 'string length at offset 1 needs 4 bytes but 2 bytes remain');
  deserAll('0e01', 'array count at offset 1 needs 4 bytes but 1 byte remains');
  deserAll('0f', 'packed element tag at offset 1 needs 1 byte but 0 bytes remain');
  deserAll('11000000', 'variant index at offset 1 needs 4 bytes but 3 bytes remain');
  deserAll('13', 'struct name length at offset 1 needs 1 byte but 0 bytes remain');
  deserAll('130350', 'struct name at offset 2 needs 3 bytes but 1 byte remains');
  deserAll('130150', 'struct field count at offset 3 needs 2 bytes but 0 bytes remain');
  deserAll('14', 'error kind at offset 1 needs 1 byte but 0 bytes remain');
});

test('DecodingRules.UnknownTagBytesAreDeserialization', () => {
  for (let t = 0x15; t <= 0xff; t++) deserAll(t.toString(16), `unknown type tag 0x${t.toString(16)} at offset 0`);
  deserAll('0e0200000000ff', 'unknown type tag 0xff at offset 6');
});

test('DecodingRules.BoolAndOptionalFlagsOtherThan0Or1AreDeserialization', () => {
  deserAll('0102', 'bool byte 0x02 at offset 1 is not 0 or 1');
  deserAll('01ff', 'bool byte 0xff at offset 1 is not 0 or 1');
  deserAll('1002', 'optional flag 0x02 at offset 1 is not 0 or 1');
});

test('DecodingRules.StringOrBytesLengthPastTheEndIsDeserialization', () => {
  deserAll('0c701101006869', 'string length 70000 at offset 1 exceeds the 2 remaining bytes');
  deserAll('0d0200000001', 'bytes length 2 at offset 1 exceeds the 1 remaining byte');
  deserAll('1401ffffffff', 'error message length 4294967295 at offset 2 exceeds the 0 remaining bytes');
  deserAll('140100000000ffffffff', 'error origin length 4294967295 at offset 6 exceeds the 0 remaining bytes');
});

test('DecodingRules.CountsAreCheckedBeforeAllocation', () => {
  deserAll('0effffffff0000', 'array count 4294967295 at offset 1 needs at least 4294967295 bytes but 2 bytes remain');
  deserAll('12ffffffff0000', 'map count 4294967295 at offset 1 needs at least 8589934590 bytes but 2 bytes remain');
  deserAll('0f0bffffff0f00', 'packed count 268435455 at offset 2 needs at least 2147483640 bytes but 1 byte remain');
  deserAll('0f0602000000010000000200', 'packed count 2 at offset 2 needs at least 8 bytes but 6 bytes remain');
  deserAll('1301500300000000', 'struct field count 3 at offset 3 needs at least 6 bytes but 3 bytes remain');
  // Exactly enough is fine.
  assert.deepEqual(C.decode(fromHex('0e020000000000')), [undefined, undefined]);
  assert.deepEqual(C.decode(fromHex('0f0502000000010002ff')), new Uint16Array([1, 0xff02]));
});

test('DecodingRules.InvalidUtf8InAnyTextIsDeserialization', () => {
  deserAll('0c0200000061ff', 'string at offset 1 is not valid UTF-8 (byte 0xff at offset 6)');
  deserAll('0c02000000c0af', 'string at offset 1 is not valid UTF-8 (byte 0xc0 at offset 5)'); // overlong '/'
  deserAll('0c03000000e08080', 'string at offset 1 is not valid UTF-8 (byte 0xe0 at offset 5)'); // overlong
  deserAll('0c03000000eda080', 'string at offset 1 is not valid UTF-8 (byte 0xed at offset 5)'); // U+D800
  deserAll('0c04000000f4908080', 'string at offset 1 is not valid UTF-8 (byte 0xf4 at offset 5)'); // > U+10FFFF
  deserAll('0c02000000e282', 'string at offset 1 is not valid UTF-8 (byte 0xe2 at offset 5)'); // truncated
  deserAll('0c0200000080', /string length 2/); // length past the end comes first
  // Long strings take the TextDecoder path; the offending byte is still found.
  const long = '0c28000000' + '61'.repeat(39) + 'ff';
  deserAll(long, 'string at offset 1 is not valid UTF-8 (byte 0xff at offset 44)');
  deserAll('1401020000006180' + '00000000', 'error message at offset 2 is not valid UTF-8 (byte 0x80 at offset 7)');
  deserAll('140100000000' + '01000000ff', 'error origin at offset 6 is not valid UTF-8 (byte 0xff at offset 10)');
  deserAll('1302ff410000', 'struct name at offset 1 is not valid UTF-8 (byte 0xff at offset 2)');
  deserAll('1301410100' + '01fe00', 'field name at offset 5 is not valid UTF-8 (byte 0xfe at offset 6)');
  // U+0000 and a leading BOM are text like any other.
  assert.equal(C.decode(fromHex('0c0100000000')), '\0');
  assert.equal(C.decode(fromHex('0c03000000efbbbf')), '\ufeff');
  const bomLong = '\ufeff' + 'x'.repeat(40);
  assert.equal(C.decode(C.encode(bomLong)), bomLong);
});

test('DecodingRules.PackedElementTagMustBeANumberTag', () => {
  for (const t of [0x00, 0x01, 0x0c, 0x0f, 0x14, 0xff]) {
    const h = t.toString(16).padStart(2, '0');
    deserAll(`0f${h}00000000`, `packed element tag 0x${h} at offset 1 is not a number type (0x02..0x0b)`);
  }
});

test('DecodingRules.UnknownErrorKindIsDeserialization', () => {
  deserAll('14000000000000000000', 'error kind 0 at offset 1 is not a known ErrorKind (1..14)');
  deserAll('140f0000000000000000', 'error kind 15 at offset 1 is not a known ErrorKind (1..14)');
  for (let k = 1; k <= 14; k++) {
    const tail = k === E.ErrorKind.TypeMismatch ? '0000000000000000' : ''; // its expected and actual type names
    assert.equal((C.decode(fromHex(`14${k.toString(16).padStart(2, '0')}0000000000000000${tail}`)) as E.FerryError).kind, k);
  }
});

test('DecodingRules.ATypeMismatchErrorCarriesItsTypeNamesAndNeedsThem', () => {
  const e = new E.TypeMismatchError('argument 1 of add: type mismatch: expected i32, got bigint 1', 'worker 0', 'i32', 'bigint 1');
  const back = C.decode(C.encode(e)) as E.TypeMismatchError;
  assert.ok(back instanceof E.TypeMismatchError);
  assert.deepEqual([back.message, back.origin, back.expected, back.actual], [e.message, 'worker 0', 'i32', 'bigint 1']);
  assert.equal(C.encodedSize(e), C.encode(e).length);
  assert.equal(C.describe(C.encode(e)), 'error TypeMismatch("argument 1 of add: type mismatch: expected i32, got bigint 1", "worker 0", "i32", "bigint 1")');
  // Fields the message does not name still travel.
  const odd = C.decode(C.encode(new E.TypeMismatchError('no names here', '', 'struct Point', 'array of 2'))) as E.TypeMismatchError;
  assert.deepEqual([odd.expected, odd.actual], ['struct Point', 'array of 2']);
  // A TypeMismatch without them (the layout of other kinds) is cut short.
  deserAll('1404' + '00000000' + '00000000', 'error expected type length at offset 10 needs 4 bytes but 0 bytes remain');
  deserAll('1404' + '00000000' + '00000000' + '00000000', 'error actual type length at offset 14 needs 4 bytes but 0 bytes remain');
  deserAll('1404' + '00000000' + '00000000' + '01000000ff' + '00000000', 'error expected type at offset 10 is not valid UTF-8 (byte 0xff at offset 14)');
});

test('DecodingRules.NestingDeeperThan64IsDeserialization', () => {
  const nested = (levels: number, open: string, inner = '00') => open.repeat(levels) + inner;
  const arr = '0e01000000';
  assert.equal(C.describe(fromHex(nested(64, arr))), 'array ['.repeat(64) + 'unit' + ']'.repeat(64));
  deserAll(nested(65, arr), 'nesting depth 65 at offset 320 exceeds the limit of 64');
  deserAll(nested(65, '1001'), 'nesting depth 65 at offset 128 exceeds the limit of 64');
  deserAll(nested(65, '1100000000'), 'nesting depth 65 at offset 320 exceeds the limit of 64');
  deserAll(nested(65, '120100000000'), 'nesting depth 65 at offset 384 exceeds the limit of 64'); // map {unit: ...}
  deserAll(nested(65, '13014101000161'), 'nesting depth 65 at offset 448 exceeds the limit of 64'); // struct A {a: ...}
  assert.equal(C.describe(fromHex(nested(64, '13014101000161'))), 'struct A {a: '.repeat(64) + 'unit' + '}'.repeat(64));
  // Containers of every kind count alike; packed runs, strings and errors open no level.
  const mixed = (variants: number, inner: string) => arr.repeat(20) + '1001'.repeat(20) + '1100000000'.repeat(variants) + inner;
  for (const inner of ['0f0600000000', '0c00000000', '140100000000' + '00000000']) {
    C.decode(fromHex(mixed(24, inner)));
    deserAll(mixed(25, inner), 'nesting depth 65 at offset 260 exceeds the limit of 64');
  }
  assert.ok(C.decode(fromHex(nested(64, '1001', '0f0600000000'))) instanceof Int32Array);
});

test('DecodingRules.TrailingBytesAfterAWholeBufferDecodeAreDeserialization', () => {
  deserAll('0c00000000000000', '3 trailing bytes after value (the value ends at offset 5)');
  deserAll('0000', '1 trailing byte after value (the value ends at offset 1)');
  // A Reader decodes values in a row and leaves the rest.
  const r = new C.Reader(fromHex('0600000000' + '0101' + '00'));
  assert.equal(C.decodeFrom(r), 0);
  assert.equal(C.decodeFrom(r), true);
  assert.equal(r.position, 7);
  C.skipValue(r);
  assert.ok(r.atEnd);
});

// Typed-only rows (variant index range, duplicate map keys, TypeMismatch) are
// tested against schema.ts's typed decoder in schema.test.ts.

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
  // Into a SharedArrayBuffer, strings up to 128 units are encoded by hand
  // (TextEncoder cannot write there in place): same bytes, same errors, and a
  // range too small is still MessageTooLarge.
  const whole = new Uint8Array(new SharedArrayBuffer(1024));
  const units = ['x', '\u00e9', '\u0800', '\u{1f600}'];
  for (const n of [25, 32, 64, 127, 128, 129, 200]) {
    for (const u of units) {
      const s = u.repeat(Math.ceil(n / u.length)).slice(0, n - (u.length === 2 && n % 2 ? 1 : 0)) + (u.length === 2 && n % 2 ? 'y' : '');
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

test('Describe.FloatsAndTextFollowTheTextForm', () => {
  const d = (v: unknown) => C.describe(C.encode(v));
  assert.equal(d(C.f64(100)), 'f64 100');
  assert.equal(d(C.f64(123456789012345680000)), 'f64 123456789012345680000');
  assert.equal(d(C.f64(0.000001)), 'f64 0.000001');
  assert.equal(d(C.f64(NaN)), 'f64 NaN');
  assert.equal(d(C.f64(-Infinity)), 'f64 -Infinity');
  assert.equal(d(C.f32(Infinity)), 'f32 Infinity');
  assert.equal(d(C.f32(16777216)), 'f32 16777216');
  assert.equal(d(C.f32(1e-7)), 'f32 1e-7');
  assert.equal(d(C.f32(1.401298464324817e-45)), 'f32 1e-45');
  assert.equal(d(new Float32Array([0.1, -0])), 'f32[] [0.1, -0]');
  // Exact ties round to even as C's printf does (toPrecision would give 42.226563 and 189.07813).
  const f32bits = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0]!;
  assert.equal(d(C.f32(f32bits(0x4228e800))), 'f32 42.226562');
  assert.equal(d(C.f32(f32bits(0xc265c800))), 'f32 -57.445312');
  assert.equal(d(C.f32(f32bits(0x433d1400))), 'f32 189.07812');
  assert.equal(d(C.f32(2.5)), 'f32 2.5');
  assert.equal(d(C.f32(f32bits(0x7f7fffff))), 'f32 3.4028235e+38');
  assert.equal(d(new BigInt64Array([-1n])), 'i64[] [-1]');
  assert.equal(d('\u007f\u0080"\\'), 'string "\\u{7f}\\u{80}\\"\\\\"');
  assert.equal(d(C.struct('a b', { 'c-d': true, _ok9: false })), 'struct "a b" {"c-d": bool true, _ok9: bool false}');
  assert.equal(d(new E.TimeoutError('late\n', 'worker 1')), 'error Timeout("late\\u{a}", "worker 1")');
  assert.equal(d(new Map([[1, null]])), 'map {f64 1: none}');
  assert.equal(d(new Uint8Array(0)), 'bytes []');
});

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
