// Tests of web/src/schema.ts: the schema grammar of core/CODEC.md, encoding
// plain JavaScript values to the wire types C++ expects, and typed decoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as C from '../dist/codec.js';
import * as E from '../dist/errors.js';
import * as S from '../dist/schema.js';
import { catchFerry, fromHex, toHex } from './helpers.js';

const golden = new Map<string, string>();
for (const raw of readFileSync(fileURLToPath(new URL('../../tests/golden/codec.txt', import.meta.url)), 'utf8').split('\n')) {
  const line = raw.trim();
  if (line === '' || line.startsWith('#')) continue;
  const a = line.indexOf('|');
  const b = line.indexOf('|', a + 1);
  golden.set(line.slice(0, a).trim(), line.slice(a + 1, b).trim());
}

const enc = (schema: string, v: unknown) => toHex(S.encodeSchema(S.parseType(schema), v));

// --- Grammar ---------------------------------------------------------------------

// Every form, as core/schema.hpp writes them (tests/core_schema_test.cpp).
const kForms = [
  'unit', 'bool', 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'f32', 'f64', 'string', 'bytes', 'error',
  'i8[]', 'u8[]', 'i16[]', 'u16[]', 'i32[]', 'u32[]', 'i64[]', 'u64[]', 'f32[]', 'f64[]',
  '[string]', '[f64[]]', '[[bool]]', '(i32,i32,i32)', '(i32,string,bool)', '()', '(i64,f64)', '??i32', '?f32',
  '<i32|string>', '<unit>', '{string:u32}', '{u16:[string]}', '!i32', '!unit', '[!i32]',
  'struct Point{x:i32,y:i32}',
  'struct Rect{a:struct Point{x:i32,y:i32},b:struct Point,label:string}',
  'struct Shape{name:string,points:[struct Point{x:i32,y:i32}],anchor:?struct Point,boxes:{string:struct Rect{a:struct Point,b:struct Point,label:string}}}',
  'struct Tree{kids:[struct Tree]}',
  'struct Empty{}',
  '(struct Point{x:i32,y:i32},struct Point,i32)',
  'struct Opaque',
];

test('Grammar.EveryFormParsesAndFormatsBackToItsText', () => {
  for (const text of kForms) assert.equal(S.formatSchema(S.parseType(text)), text, text);
});

test('Grammar.ParsesToTheDocumentedShapes', () => {
  assert.deepEqual(S.parseType('i32'), { kind: 'scalar', name: 'i32', tag: 0x06 });
  assert.deepEqual(S.parseType('f32[]'), { kind: 'packed', elem: 0x0a });
  assert.deepEqual(S.parseType('[string]'), { kind: 'array', item: { kind: 'string' } });
  assert.deepEqual(S.parseType('(bool,bytes)'), { kind: 'tuple', items: [{ kind: 'scalar', name: 'bool', tag: 1 }, { kind: 'bytes' }] });
  assert.deepEqual(S.parseType('?unit'), { kind: 'optional', value: { kind: 'scalar', name: 'unit', tag: 0 } });
  assert.deepEqual(S.parseType('<error|string>'), { kind: 'variant', alts: [{ kind: 'error' }, { kind: 'string' }] });
  assert.deepEqual(S.parseType('{u8:f64}'), { kind: 'map', key: { kind: 'scalar', name: 'u8', tag: 3 }, value: { kind: 'scalar', name: 'f64', tag: 0x0b } });
  assert.deepEqual(S.parseType('!string'), { kind: 'result', value: { kind: 'string' } });
  const rect = S.parseType('struct Rect{a:struct Point{x:i32,y:i32},b:struct Point,label:string}') as S.StructSchema;
  assert.equal(rect.fields![0]!.type, rect.fields![1]!.type); // the bare reference is the same struct
  const tree = S.parseType('struct Tree{kids:[struct Tree]}') as S.StructSchema;
  assert.equal((tree.fields![0]!.type as S.ArraySchema).item, tree); // recursive
  assert.deepEqual(S.parseType('struct Opaque'), { kind: 'struct', name: 'Opaque', fields: null });
});

test('Grammar.MalformedTypesAreInvalidArgumentNamingTheIndex', () => {
  const bad = ['', 'i33', 'int', '[i32', '(i32,)', '(i32', 'struct  P', 'structP', 'string[]', 'bool[]', 'i32 x', '<>', '<i32', '{i32}', '{i32:}', '?', '!',
    'struct P{x}', 'struct P{x:i32,}', 'struct 1P', 'i32]', '[i32]]', 'struct P{x:i32'];
  for (const text of bad) {
    const e = catchFerry(() => S.parseType(text));
    assert.ok(e instanceof E.InvalidArgumentError, text);
    assert.match(e.message, /^cannot parse schema ".*": expected .* at index \d+$/, text);
  }
  assert.equal(catchFerry(() => S.parseType('[i32')).message, 'cannot parse schema "[i32": expected \']\' at index 4');
  assert.ok(catchFerry(() => S.parseType('['.repeat(300) + 'i32' + ']'.repeat(300))) instanceof E.InvalidArgumentError);
});

test('Grammar.SignaturesOfCallsAndStreams', () => {
  const add = S.parseSignature('call add (i32,i32) -> i32');
  assert.deepEqual(add, { kind: 'call', name: 'add', args: [S.parseType('i32'), S.parseType('i32')], result: S.parseType('i32') });
  const blur = S.parseSignature('stream blur (u32,f32) f32[] -> ?f32[]');
  assert.equal(blur.kind, 'stream');
  assert.equal(blur.name, 'blur');
  assert.equal(blur.args.length, 2);
  assert.deepEqual(blur.input, S.parseType('f32[]'));
  assert.deepEqual(blur.output, S.parseType('?f32[]'));
  assert.equal(blur.result, undefined);
  assert.deepEqual(S.parseSignature('call ping () -> unit').args, []);
  assert.equal(S.parseSignature('  call  img.blur-2(bytes)->bytes  ').name, 'img.blur-2');
  assert.deepEqual(S.parseSignature('call add ( i32, i32 ) -> i32'), add); // web/PROTOCOL.md writes (ARG, ...)
  // A struct defined in the arguments can be referred to bare in the result.
  const move = S.parseSignature('call move (struct Point{x:i32,y:i32},i32) -> struct Point');
  assert.equal(move.args[0], move.result);
  assert.equal(S.formatSignature(move), 'call move (struct Point{x:i32,y:i32},i32) -> struct Point');
  assert.equal(S.formatSignature(blur), 'stream blur (u32,f32) f32[] -> ?f32[]');
  for (const bad of ['add (i32) -> i32', 'call add i32 -> i32', 'call add (i32) i32', 'call add (i32) ->', 'stream s (i32) -> i32', 'call add (i32) -> i32 x']) {
    assert.ok(catchFerry(() => S.parseSignature(bad)) instanceof E.InvalidArgumentError, bad);
  }
  const list = S.parseSignatures('call add (i32,i32) -> i32\n\n# comment\nstream echo () string -> string\n');
  assert.deepEqual([...list.keys()], ['add', 'echo']);
});

test('Grammar.DescribeSchemaGivesTheWireTypeNames', () => {
  const names: [string, string][] = [
    ['i32', 'i32'], ['unit', 'unit'], ['string', 'string'], ['bytes', 'bytes'], ['f32[]', 'f32[]'], ['[i32]', 'array'],
    ['(i32,i32)', 'array'], ['?i32', 'optional'], ['<i32|bool>', 'variant'], ['{string:i32}', 'map'],
    ['struct Point{x:i32,y:i32}', 'struct Point'], ['error', 'error'], ['!i32', 'i32 or error'], ['!unit', 'unit or error'],
  ];
  for (const [text, name] of names) assert.equal(S.describeSchema(S.parseType(text)), name, text);
});

// --- encodeAs: plain JavaScript values become the exact wire types ---------------

test('EncodeAs.NumbersBecomeTheScalarTheSchemaNames', () => {
  const cases: [string, unknown, C.Typed][] = [
    ['i8', -128, C.i8(-128)], ['u8', 255, C.u8(255)], ['i16', -32768, C.i16(-32768)], ['u16', 65535, C.u16(65535)],
    ['i32', -2, C.i32(-2)], ['u32', 4294967295, C.u32(4294967295)], ['i64', -1, C.i64(-1n)], ['i64', -(1n << 63n), C.i64(-(1n << 63n))],
    ['u64', (1n << 64n) - 1n, C.u64((1n << 64n) - 1n)], ['u64', 2 ** 53 - 1, C.u64(2n ** 53n - 1n)], ['f32', 1.5, C.f32(1.5)],
    ['f32', 0.1, C.f32(0.1)], ['f32', -Infinity, C.f32(-Infinity)], ['f32', NaN, C.f32(NaN)], ['f64', -0, C.f64(-0)], ['u16', C.u16(9), C.u16(9)],
    ['f64', NaN, C.f64(NaN)], ['f64', 1e300, C.f64(1e300)],
  ];
  for (const [schema, js, typed] of cases) assert.equal(enc(schema, js), toHex(C.encode(typed)), `${schema} ${String(js)}`);
  assert.equal(enc('unit', undefined), '00');
  assert.equal(enc('unit', null), '00');
  assert.equal(enc('bool', true), '0101');
});

test('EncodeAs.ContainersFromPlainValuesMatchTheTypedEncoding', () => {
  const cases: [string, unknown, unknown][] = [
    ['string', 'h\u00e9llo', 'h\u00e9llo'],
    ['bytes', new Uint8Array([1, 2]), new Uint8Array([1, 2])],
    ['bytes', new Uint8Array([1, 2]).buffer, new Uint8Array([1, 2])],
    ['bytes', new DataView(new Uint8Array([1, 2]).buffer), new Uint8Array([1, 2])],
    ['bytes', new Uint16Array([0x0201]), new Uint8Array([1, 2])],
    ['i32[]', [1, -2, 3], new Int32Array([1, -2, 3])],
    ['i32[]', new Int32Array([1, -2, 3]), new Int32Array([1, -2, 3])],
    ['f32[]', [1.5, 0.1], new Float32Array([1.5, 0.1])],
    ['u8[]', new Uint8Array([1, 2]), new Uint8ClampedArray([1, 2])],
    ['u8[]', [1, 2], new Uint8ClampedArray([1, 2])],
    ['i64[]', [1n, -2], new BigInt64Array([1n, -2n])],
    ['u16[]', [C.u16(1), 65535], new Uint16Array([1, 65535])],
    ['[i32]', [1, 2], [C.i32(1), C.i32(2)]],
    ['[f64[]]', [[1], new Float64Array([2])], [new Float64Array([1]), new Float64Array([2])]],
    ['(i32,string,bool)', [1, 'x', true], [C.i32(1), 'x', true]],
    ['()', [], []],
    ['?i32', null, null],
    ['?i32', C.NONE, null],
    ['?i32', 5, C.some(C.i32(5))],
    ['?i32', C.some(5), C.some(C.i32(5))],
    ['??i32', C.some(null), C.some(null)],
    ['??i32', 5, C.some(C.some(C.i32(5)))],
    ['<i32|string>', C.variant(1, 'x'), C.variant(1, 'x')],
    ['<i32|string>', { index: 0, value: 7 }, C.variant(0, C.i32(7))],
    ['<i32|f64>', { index: 1, value: 2 }, C.variant(1, 2)],
    ['{string:i32}', new Map([['a', 1], ['b', 2]]), new Map([['a', C.i32(1)], ['b', C.i32(2)]])],
    ['{string:i32}', { a: 1, b: 2 }, new Map([['a', C.i32(1)], ['b', C.i32(2)]])],
    ['{u16:string}', { 1: 'one', 2: 'two' }, new Map([[C.u16(1), 'one'], [C.u16(2), 'two']])],
    ['{i64:bool}', { '-5': true }, new Map([[C.i64(-5n), true]])],
    ['struct Point{x:i32,y:i32}', { y: -2, x: 1 }, C.struct('Point', { x: C.i32(1), y: C.i32(-2) })],
    ['struct Point{x:i32,y:i32}', C.struct('Point', { x: 1, y: -2 }), C.struct('Point', { x: C.i32(1), y: C.i32(-2) })],
    ['struct P{a:?i32,u:unit}', { a: null }, C.struct('P', { a: null, u: undefined })], // unit fields may be missing
    ['struct Point{x:i32,y:i32}', new (class { x = 1; get y() { return 2; } })(), C.struct('Point', { x: C.i32(1), y: C.i32(2) })], // a class instance: its fields, nothing else checked
    ['struct Opaque', { a: 1 }, C.struct('Opaque', { a: 1 })],
    ['error', new E.TimeoutError('late', 'js'), new E.TimeoutError('late', 'js')],
    ['error', new RangeError('bad'), new E.JsExceptionError('bad')],
    ['!i32', 5, C.i32(5)],
    ['!i32', new E.TaskFailedError('no'), new E.TaskFailedError('no')],
    ['[!i32]', [5, new E.TimeoutError('late', 'worker 1')], [C.i32(5), new E.TimeoutError('late', 'worker 1')]],
    ['struct Tree{kids:[struct Tree]}', { kids: [{ kids: [] }, { kids: [{ kids: [] }] }] },
      C.struct('Tree', { kids: [C.struct('Tree', { kids: [] }), C.struct('Tree', { kids: [C.struct('Tree', { kids: [] })] })] })],
  ];
  for (const [schema, js, typed] of cases) assert.equal(enc(schema, js), toHex(C.encode(typed)), schema);
});

test('EncodeAs.PlainValuesReproduceTheGoldenVectors', () => {
  const cases: [string, string, unknown][] = [
    ['struct_point', 'struct Point{x:i32,y:i32}', { x: 1, y: -2 }],
    ['struct_rect', 'struct Rect{a:struct Point{x:i32,y:i32},b:struct Point,label:string}', { a: { x: 0, y: 0 }, b: { x: 640, y: 480 }, label: 'screen' }],
    ['struct_shape', 'struct Shape{name:string,points:[struct Point{x:i32,y:i32}],anchor:?struct Point,boxes:{string:struct Rect{a:struct Point,b:struct Point,label:string}}}',
      { name: 'tri', points: [{ x: 0, y: 0 }, { x: 4, y: 0 }, { x: 0, y: 3 }], anchor: { x: 1, y: 1 }, boxes: { box: { a: { x: 0, y: 0 }, b: { x: 4, y: 3 }, label: '' } } }],
    ['struct_empty', 'struct Empty{}', {}],
    ['tuple_mixed', '(i32,string,bool)', [1, 'x', true]],
    ['pair_string_i64', '(string,i64)', ['k', -5]],
    ['array_fixed_i16', '(i16,i16,i16)', [1, 2, 3]],
    ['map_u16_keys', '{u16:string}', new Map([[1, 'one'], [2, 'two']])],
    ['packed_u16', 'u16[]', [1, 65535]],
    ['packed_f64', 'f64[]', [1.5, -0.25]],
    ['optional_some_none', '??i32', C.some(null)],
    ['variant_unit', '<unit|i32>', C.variant(0, undefined)],
    ['array_of_results', '[!i32]', [5, new E.TimeoutError('late', 'worker 1')]],
    ['error_closed', 'error', new E.ClosedError('stream closed', 'core/ring')],
    ['i64_min', 'i64', -(1n << 63n)],
    ['f32_max', 'f32', 3.4028234663852886e38],
  ];
  for (const [name, schema, js] of cases) assert.equal(enc(schema, js), golden.get(name), name);
});

test('EncodeAs.ValuesThatDoNotFitAreTypeMismatchWithExpectedAndActual', () => {
  const cases: [string, unknown, string, string][] = [
    ['i32', 'x', 'i32', 'string'],
    ['i32', 1.5, 'i32', 'number 1.5'],
    ['u8', 300, 'u8', 'number 300'],
    ['u8', -1, 'u8', 'number -1'],
    ['i8', 128n, 'i8', 'bigint 128'],
    ['i32', 7n, 'i32', 'bigint 7'], // bigints are for i64/u64 only
    ['f32', 1e300, 'f32', 'number 1e+300'], // would become Infinity
    ['f32', -3.5e38, 'f32', 'number -3.5e+38'],
    ['?i32', undefined, 'optional', 'undefined'], // null is none
    ['<i32|string>', 5, 'variant', 'number 5'], // a bare value is not a variant
    ['i64', 2 ** 60, 'i64', 'number 1152921504606847000'],
    ['u64', -1n, 'u64', 'bigint -1'],
    ['u64', -1, 'u64', 'number -1'],
    ['f64', 1n, 'f64', 'bigint 1'],
    ['i32', C.u8(1), 'i32', 'u8 1'],
    ['bool', 1, 'bool', 'number 1'],
    ['unit', 0, 'unit', 'number 0'],
    ['string', 5, 'string', 'number 5'],
    ['bytes', 'x', 'bytes', 'string'],
    ['bytes', [1], 'bytes', 'array of 1'],
    ['f32[]', new Int32Array(2), 'f32[]', 'Int32Array of 2'],
    ['f32[]', { length: 0 }, 'f32[]', 'object'],
    ['[i32]', {}, 'array', 'object'],
    ['[i32]', new Int32Array(1), 'array', 'Int32Array of 1'],
    ['(i32,i32)', [1], 'array of 2', 'array of 1'],
    ['(i32,i32)', 'xy', 'array', 'string'],
    ['<i32|string>', true, 'variant', 'boolean true'],
    ['<i32|string>', C.variant(2, 'x'), 'variant of 2 alternatives', 'variant index 2'],
    ['{string:i32}', [], 'map', 'array of 0'],
    ['struct Point{x:i32,y:i32}', { x: 1 }, 'struct Point', "an object without the field 'y'"],
    ['struct Point{x:i32,y:i32}', { x: 1, y: 2, z: 3 }, 'struct Point', "an object with the extra field 'z'"],
    ['struct P{a:?i32}', {}, 'struct P', "an object without the field 'a'"],
    ['struct Point{x:i32,y:i32}', C.struct('Rect', { x: 1, y: 2 }), 'struct Point', 'struct Rect'],
    ['struct Point{x:i32,y:i32}', [1, 2], 'struct Point', 'array of 2'],
    ['struct Point{x:i32,y:i32}', null, 'struct Point', 'null'],
    ['error', 'x', 'error', 'string'],
    ['!i32', 'x', 'i32', 'string'],
  ];
  for (const [schema, js, expected, actual] of cases) {
    const e = catchFerry(() => S.encodeSchema(S.parseType(schema), js));
    assert.ok(e instanceof E.TypeMismatchError, `${schema}: ${e.message}`);
    assert.equal(e.expected, expected, schema);
    assert.equal(e.actual, actual, schema);
    assert.ok(e.message.startsWith(`type mismatch: expected ${expected}, got ${actual}`), `${schema}: ${e.message}`);
  }
  // Out-of-range Typed values are Serialization, as for the codec.
  assert.ok(catchFerry(() => S.encodeSchema(S.parseType('i8'), C.i8(300))) instanceof E.SerializationError);
  // Lone surrogates are Serialization.
  assert.ok(catchFerry(() => S.encodeSchema(S.parseType('string'), '\ud800')) instanceof E.SerializationError);
});

test('EncodeAs.MismatchMessagesNameTheContextAndThePath', () => {
  const shape = S.parseType('struct Shape{name:string,points:[struct Point{x:i32,y:i32}],boxes:{string:(f32,f32)}}');
  const e = catchFerry(() => S.encodeSchema(shape, { name: 'n', points: [{ x: 0, y: 0 }, { x: 'a', y: 0 }], boxes: {} }, 'argument 1 of draw'));
  assert.equal(e.message, 'argument 1 of draw: type mismatch: expected i32, got string at points[1].x');
  const f = catchFerry(() => S.encodeSchema(shape, { name: 'n', points: [], boxes: { box: [1, 'x'] } }));
  assert.equal(f.message, 'type mismatch: expected f32, got string at boxes.box[1]');
  const g = catchFerry(() => S.encodeSchema(S.parseType('f64[]'), [1, 2, 'x']));
  assert.equal(g.message, 'type mismatch: expected f64, got string at [2]');
  const h = catchFerry(() => S.encodeSchema(S.parseType('<i32|[string]>'), C.variant(1, ['a', 2])));
  assert.equal(h.message, 'type mismatch: expected string, got number 2 at <1>[1]');
  // Each strict refusal says why, and names the field.
  const at = (schema: string, v: unknown) => catchFerry(() => S.encodeSchema(S.parseType(schema), v, 'argument 1 of f')).message;
  assert.equal(at('struct Point{x:i32,y:i32}', { x: 1, y: 2, z: 3 }), "argument 1 of f: type mismatch: expected struct Point, got an object with the extra field 'z' at z");
  assert.equal(at('[struct Point{x:i32,y:i32}]', [{ x: 1 }]), "argument 1 of f: type mismatch: expected struct Point, got an object without the field 'y' at [0].y");
  assert.equal(at('struct P{a:?i32}', { a: undefined }), 'argument 1 of f: type mismatch: expected optional, got undefined at a (use null for none)');
  assert.equal(at('<i32|string>', 5), 'argument 1 of f: type mismatch: expected variant, got number 5 (a variant takes variant(index, value) or {index, value})');
  assert.equal(at('f32', 1e300), 'argument 1 of f: type mismatch: expected f32, got number 1e+300 (beyond the f32 range)');
  assert.equal(at('i32', 1n), 'argument 1 of f: type mismatch: expected i32, got bigint 1 (bigints are for i64 and u64)');
});

test('EncodeAs.AFailedValueLeavesTheWriterAsItWas', () => {
  const w = new C.Writer(8);
  S.encodeAs(w, S.parseType('i32'), 1);
  const before = toHex(w.bytes());
  catchFerry(() => S.encodeAs(w, S.parseType('[string]'), ['a'.repeat(100), 5]));
  assert.equal(toHex(w.bytes()), before);
  // A fixed slot that is too small reports what the value needs.
  const slot = C.Writer.over(new Uint8Array(10));
  const e = catchFerry(() => S.encodeAs(slot, S.parseType('(i32,i32)'), [1, 2]));
  assert.ok(e instanceof E.MessageTooLargeError);
  assert.equal(e.message, 'encoding needs 15 bytes but the buffer holds 10 (5 more)');
  assert.equal(slot.size, 0);
});

test('EncodeArgs.IsOneArrayValueAndChecksArity', () => {
  const add = S.parseSignature('call add (i32,i32) -> i32');
  assert.equal(toHex(S.encodeArgs(add, [1, 2])), toHex(C.encode([C.i32(1), C.i32(2)])));
  assert.equal(toHex(S.encodeArgs(S.parseSignature('call ping () -> unit'), [])), '0e00000000');
  const three = catchFerry(() => S.encodeArgs(add, [1, 2, 3]));
  assert.ok(three instanceof E.TypeMismatchError);
  assert.equal(three.message, 'add takes 2 arguments, got 3');
  assert.equal(three.expected, 'array of 2');
  assert.equal(three.actual, 'array of 3');
  assert.equal(catchFerry(() => S.encodeArgs(S.parseSignature('call neg (i32) -> i32'), [])).message, 'neg takes 1 argument, got 0');
  const wrong = catchFerry(() => S.encodeArgs(add, [1, 'x']));
  assert.ok(wrong instanceof E.TypeMismatchError);
  assert.equal(wrong.message, 'argument 2 of add: type mismatch: expected i32, got string');
  assert.equal(wrong.expected, 'i32');
  assert.equal(wrong.actual, 'string');
  // Into a writer after a record header.
  const w = new C.Writer(4);
  w.putU16(3);
  S.encodeArgsInto(w, add, [3, 4]);
  assert.equal(toHex(w.bytes()), '0300' + toHex(C.encode([C.i32(3), C.i32(4)])));
  const stream = S.parseSignature('stream scale (f32) f32[] -> f32[]');
  assert.equal(toHex(S.encodeArgs(stream, [2])), toHex(C.encode([C.f32(2)])));
});

// --- Typed decoding (the typed-only rows of CODEC.md's decoding rules) ------------

test('DecodeAs.AValueOfAnotherTypeIsTypeMismatchWithTheOffset', () => {
  const pair = S.parseType('(i32,i32)');
  const e = catchFerry(() => S.decodeAs(fromHex('0e02000000' + '0601000000' + '0c01000000' + '78'), pair));
  assert.ok(e instanceof E.TypeMismatchError);
  assert.equal(e.message, 'type mismatch: expected i32, got string at offset 10');
  assert.equal(e.expected, 'i32');
  assert.equal(e.actual, 'string');
  const mm = (schema: string, hex: string, expected: string, actual: string, message?: string) => {
    const x = catchFerry(() => S.decodeAs(fromHex(hex), S.parseType(schema)));
    assert.ok(x instanceof E.TypeMismatchError, `${schema}: ${x.message}`);
    assert.equal(x.expected, expected, schema);
    assert.equal(x.actual, actual, schema);
    if (message) assert.equal(x.message, message);
  };
  mm('f32[]', golden.get('packed_i32')!, 'f32[]', 'i32[]', 'type mismatch: expected f32[], got i32[] at offset 0');
  mm('i32', golden.get('f64_one_and_a_half')!, 'i32', 'f64');
  mm('i64', '0601000000', 'i64', 'i32'); // no widening
  mm('string', golden.get('bytes_four')!, 'string', 'bytes');
  mm('[i32]', golden.get('packed_i32')!, 'array', 'i32[]');
  mm('(i32,i32)', '0e0300000006010000000601000000060100000000', 'array of 2', 'array of 3',
    'type mismatch: expected array of 2, got array of 3 at offset 0 (a fixed sequence of 2 decodes only from an array of 2)');
  mm('struct Point{x:i32,y:i32}', golden.get('struct_rect')!, 'struct Point', 'struct Rect');
  mm('struct Point{x:i32,y:i32,z:i32}', golden.get('struct_point')!, 'struct Point with 3 fields', 'struct Point with 2 fields', 'type mismatch: expected struct Point with 3 fields, got struct Point with 2 fields at offset 7');
  mm('struct Point{x:i32,z:i32}', golden.get('struct_point')!, 'Point.z', 'Point.y', 'type mismatch: expected Point.z, got Point.y at offset 16');
  mm('struct Point{x:i32,y:i32}', '1302ff41' + '0000', 'struct Point', 'struct \\xffA');
  mm('i32', golden.get('error_closed')!, 'i32', 'error');
  mm('[struct Point{x:i32,y:i32}]', '0e0100000000', 'struct Point', 'unit', 'type mismatch: expected struct Point, got unit at offset 5');
  mm('?i32', '00', 'optional', 'unit');
  mm('{string:i32}', golden.get('map_u16_keys')!, 'string', 'u16');
});

test('DecodeAs.VariantIndexOutOfRangeIsDeserialization', () => {
  const e = catchFerry(() => S.decodeAs(fromHex('11020000000000'), S.parseType('<i32|string>')));
  assert.ok(e instanceof E.DeserializationError);
  assert.equal(e.message, 'variant index 2 at offset 1 is out of range for 2 alternatives');
  assert.deepEqual(S.decodeAs(fromHex(golden.get('variant_second')!), S.parseType('<i32|string>')), C.variant(1, 'x'));
});

test('DecodeAs.ARepeatedMapKeyIsDeserialization', () => {
  const hex = '1202000000' + '0c0100000061' + '00' + '0c0100000061' + '00';
  const e = catchFerry(() => S.decodeAs(fromHex(hex), S.parseType('{string:unit}')));
  assert.ok(e instanceof E.DeserializationError);
  assert.equal(e.message, 'duplicate map key at offset 12');
  // Struct keys compare by value (their bytes).
  const p = '1301500100017806' + '01000000';
  const e2 = catchFerry(() => S.decodeAs(fromHex('1202000000' + p + '00' + p + '00'), S.parseType('{struct P{x:i32}:unit}')));
  assert.equal(e2.message, 'duplicate map key at offset 18');
  // The generic decoder does not look at keys.
  assert.ok(C.decode(fromHex(hex)) instanceof Map);
});

test('DecodeAs.TruncationAndBrokenBytesAreDeserialization', () => {
  const d = (schema: string, hex: string, message: string) => {
    const e = catchFerry(() => S.decodeAs(fromHex(hex), S.parseType(schema)));
    assert.ok(e instanceof E.DeserializationError, `${schema}: ${e.message}`);
    assert.equal(e.message, message);
  };
  d('i32', '', 'input ends at offset 0 where i32 was expected');
  d('i32', '0601', 'i32 payload at offset 1 needs 4 bytes but 1 byte remains');
  d('i32', 'ff', 'unknown type tag 0xff at offset 0');
  d('bool', '0102', 'bool byte 0x02 at offset 1 is not 0 or 1');
  d('[i32]', '0effffffff00', 'array count 4294967295 at offset 1 needs at least 4294967295 bytes but 1 byte remain');
  d('f32[]', '0f0c00000000', 'packed element tag 0x0c at offset 1 is not a number type (0x02..0x0b)');
  d('string', '0c01000000ff', 'string at offset 1 is not valid UTF-8 (byte 0xff at offset 5)');
  d('i32', '060100000000', '1 trailing byte after value (the value ends at offset 5)');
  d('error', '14000000000000000000', 'error kind 0 at offset 1 is not a known ErrorKind (1..14)');
  let deep = 'i32';
  for (let i = 0; i < 65; i++) deep = `[${deep}]`;
  d(deep, '0e01000000'.repeat(65) + '0601000000', 'nesting depth 65 at offset 320 exceeds the limit of 64');
  for (const [name, hex] of golden) {
    if (name !== 'struct_shape') continue;
    const shape = S.parseType('struct Shape{name:string,points:[struct Point{x:i32,y:i32}],anchor:?struct Point,boxes:{string:struct Rect{a:struct Point,b:struct Point,label:string}}}');
    const bytes = fromHex(hex);
    for (let n = 0; n < bytes.length; n++) assert.ok(catchFerry(() => S.decodeAs(bytes.subarray(0, n), shape)) instanceof E.DeserializationError);
  }
});

test('Opaque.AStructWithNoKnownBodyIsCodedAsTheGenericCodecCodesIt', () => {
  const opaque = S.parseType('struct A');
  const ok = '130141' + '0100' + '0161' + '0601000000'; // struct A {a: i32 1}
  assert.deepEqual(S.decodeAs(fromHex(ok), opaque), C.decode(fromHex(ok)));
  // A field name that is not UTF-8 is refused by both decoders alike.
  const bad = '130141' + '0100' + '01ff' + '00';
  const e = catchFerry(() => S.decodeAs(fromHex(bad), opaque));
  assert.ok(e instanceof E.DeserializationError);
  assert.equal(e.message, catchFerry(() => C.decode(fromHex(bad))).message);
  // More own fields than a u16 count holds: Serialization, as encode() gives.
  const wide: Record<string, number> = {};
  for (let i = 0; i < 0x10000; i++) wide[`k${i}`] = 0;
  const se = catchFerry(() => S.encodeSchema(opaque, wide));
  assert.ok(se instanceof E.SerializationError);
  assert.equal(se.message, 'struct A has 65536 fields, more than the limit of 65535');
});

test('DecodeAs.GoldenVectorsDecodeWithTheirSchemas', () => {
  const cases: [string, string, unknown][] = [
    ['struct_point', 'struct Point{x:i32,y:i32}', C.struct('Point', { x: 1, y: -2 })],
    ['tuple_mixed', '(i32,string,bool)', [1, 'x', true]],
    ['pair_string_i64', '(string,i64)', ['k', -5n]],
    ['optional_some_none', '??i32', null],
    ['map_u16_keys', '{u16:string}', new Map([[1, 'one'], [2, 'two']])],
    ['packed_f64', 'f64[]', new Float64Array([1.5, -0.25])],
    ['bytes_four', 'bytes', new Uint8Array([0xde, 0xad, 0xbe, 0xef])],
    ['variant_unit', '<unit|i32>', C.variant(0, undefined)],
    ['u64_max', 'u64', (1n << 64n) - 1n],
  ];
  for (const [name, schema, want] of cases) assert.deepEqual(S.decodeAs(fromHex(golden.get(name)!), S.parseType(schema)), want, name);
  const results = S.decodeAs(fromHex(golden.get('array_of_results')!), S.parseType('[!i32]')) as unknown[];
  assert.equal(results[0], 5);
  assert.ok(results[1] instanceof E.TimeoutError);
  assert.deepEqual(S.decodeAs(fromHex(golden.get('optional_some_none')!), S.parseType('??i32'), { preserveOptional: true }), C.some(C.NONE));
  const shape = S.decodeAs(fromHex(golden.get('struct_shape')!), S.parseType('struct Shape{name:string,points:[struct Point{x:i32,y:i32}],anchor:?struct Point,boxes:{string:struct Rect{a:struct Point,b:struct Point,label:string}}}')) as Record<string, unknown>;
  assert.deepEqual(shape.anchor, C.struct('Point', { x: 1, y: 1 }));
  // A Reader decodes typed values in a row.
  const r = new C.Reader(fromHex('0601000000' + '0c0100000078'));
  assert.equal(S.decodeAs(r, S.parseType('i32')), 1);
  assert.equal(S.decodeAs(r, S.parseType('string')), 'x');
  assert.ok(r.atEnd);
  // A bare struct without a body decodes any fields.
  assert.deepEqual(S.decodeAs(fromHex(golden.get('struct_point')!), S.parseType('struct Point')), C.struct('Point', { x: 1, y: -2 }));
});

test('RoundTrip.EncodeAsThenDecodeAsGivesTheValueBack', () => {
  const cases: [string, unknown][] = [
    ['struct Shape{name:string,points:[struct Point{x:i32,y:i32}],anchor:?struct Point,tags:{string:u8},pixels:f32[]}',
      { name: 'tri', points: [{ x: 1, y: 2 }], anchor: null, tags: new Map([['a', 1]]), pixels: new Float32Array([0.5]) }],
    ['[<i32|string|?f64>]', [C.variant(0, 1), C.variant(1, 's'), C.variant(2, null), C.variant(2, 2.5)]],
    ['{u64:(bool,bytes)}', new Map([[5n, [true, new Uint8Array([1])]]])],
    ['!struct P{v:i64}', new E.UnknownTaskError('no task', 'worker 0')],
  ];
  for (const [text, v] of cases) {
    const s = S.parseType(text);
    const back = S.decodeAs(S.encodeSchema(s, v), s);
    assert.equal(toHex(S.encodeSchema(s, back)), toHex(S.encodeSchema(s, v)), text);
  }
});
