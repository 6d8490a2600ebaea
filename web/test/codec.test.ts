// Tests of web/src/codec.ts against core/CODEC.md and tests/golden/codec.txt:
// the shared golden vectors (bytes and text form), the text form of floats and
// strings, and the decoding rules of CODEC.md row by row. The JavaScript
// mapping and the Writer/Reader are in codec-values.test.ts, random values and
// mutated bytes in codec-fuzz.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as C from '../dist/codec.js';
import * as E from '../dist/errors.js';
import { fromHex, throwsKind, toHex } from './helpers.js';

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

// --- Text form ------------------------------------------------------------------

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
  for (let t = 0x16; t <= 0xff; t++) deserAll(t.toString(16), `unknown type tag 0x${t.toString(16)} at offset 0`);
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
