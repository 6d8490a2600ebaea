// Tests of the schema form (tag 0x15, core/CODEC.md "Schema form") in
// web/src/schema/compile.ts: the shared golden vectors of
// tests/golden/schema_form.txt, the decoding rules, encoding errors, and
// random schemas with random values (round trips byte exact; mutated bytes
// only ever throw Deserialization, or TypeMismatch where the tag or the
// fingerprint was hit). Each runs twice: with the generated code
// browsers without a Content-Security-Policy get, and with the closures the
// others get. Sizes scale with FERRY_STRESS_SCALE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as C from '../dist/codec.js';
import * as E from '../dist/errors.js';
import * as S from '../dist/schema.js';
import { catchFerry, fromHex, rng, stressScale, toHex } from './helpers.js';

interface Vector {
  name: string;
  schema: string;
  hex: string;
  text: string;
}

function loadGolden(): Vector[] {
  const out: Vector[] = [];
  const path = fileURLToPath(new URL('../../tests/golden/schema_form.txt', import.meta.url));
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    // The first three " | " split the columns; the text form may hold more.
    const cols: string[] = [];
    let rest = line;
    for (let i = 0; i < 3; i++) {
      const at = rest.indexOf(' | ');
      assert.ok(at >= 0, `malformed line: ${line}`);
      cols.push(rest.slice(0, at).trim());
      rest = rest.slice(at + 3);
    }
    out.push({ name: cols[0]!, schema: cols[1]!, hex: cols[2]!, text: rest.trim() });
  }
  return out;
}

const golden = loadGolden();

// A test once per way the parts are built.
function both(name: string, fn: () => void): void {
  for (const generated of [true, false]) {
    test(`${name} (${generated ? 'generated code' : 'closures'})`, () => {
      assert.equal(S.useGeneratedCode(generated), generated, 'Node allows new Function');
      try {
        fn();
      } finally {
        S.useGeneratedCode(true);
      }
    });
  }
}
const keep = { preserveOptional: true }; // some(none) stays itself, so values re-encode byte exact

function schemaForm(schema: S.Schema, v: unknown): Uint8Array {
  const w = new C.Writer(64);
  S.encodeSchemaForm(w, schema, v);
  return w.toUint8Array();
}

// --- Golden vectors ----------------------------------------------------------

test('Golden.TheFileCoversEveryKindOfSchema', () => {
  assert.ok(golden.length >= 30, `only ${golden.length} vectors`);
  const point = golden.find((v) => v.name === 'point');
  assert.ok(point, 'the Point example of CODEC.md');
  assert.equal(point.hex, '150c000000852223ff01000000feffffff');
  const kinds = new Set(golden.map((v) => S.parseType(v.schema).kind));
  for (const k of ['scalar', 'string', 'bytes', 'packed', 'array', 'tuple', 'optional', 'variant', 'map', 'struct', 'error', 'result']) {
    assert.ok(kinds.has(k as S.Schema['kind']), `no vector of a ${k}`);
  }
});

both('Golden.EveryVectorDecodesToItsTaggedTextAndReencodesByteExact', () => {
  for (const v of golden) {
    const schema = S.parseType(v.schema);
    const value = S.decodeAs(fromHex(v.hex), schema, keep);
    assert.equal(C.describe(S.encodeSchema(schema, value)), v.text, v.name);
    assert.equal(toHex(schemaForm(schema, value)), v.hex, v.name);
    // Without a schema the walker skips it whole, and decode keeps its bytes.
    // The schema text is schema_of<T>()'s, and the fingerprint is its FNV-1a.
    assert.equal(S.formatSchema(schema), v.schema, v.name);
    assert.equal(new DataView(fromHex(v.hex).buffer).getUint32(5, true), S.schemaFingerprint(v.schema), v.name);
    const bare = fromHex(v.hex).subarray(5);
    assert.equal(C.describe(fromHex(v.hex)), `schema [${[...bare].map((b) => b.toString(16).padStart(2, '0')).join(' ')}]`, v.name);
    const opaque = C.decode(fromHex(v.hex));
    assert.ok(opaque instanceof C.SchemaForm, v.name);
    assert.equal(toHex(C.encode(opaque)), v.hex, v.name);
  }
});

both('Golden.TheTaggedFormOfEachValueDecodesToTheSameValue', () => {
  for (const v of golden) {
    const schema = S.parseType(v.schema);
    const value = S.decodeAs(fromHex(v.hex), schema, keep);
    const tagged = S.encodeSchema(schema, value);
    assert.equal(toHex(schemaForm(schema, S.decodeAs(tagged, schema, keep))), v.hex, v.name);
  }
});

both('Golden.EveryProperPrefixIsRefusedWithDeserialization', () => {
  for (const v of golden) {
    const schema = S.parseType(v.schema);
    const bytes = fromHex(v.hex);
    for (let n = 0; n < bytes.length; n++) {
      const e = catchFerry(() => S.decodeAs(bytes.subarray(0, n), schema));
      assert.equal(e.kind, E.ErrorKind.Deserialization, `${v.name}[0, ${n}): ${e.message}`);
    }
  }
});

// --- Decoding rules --------------------------------------------------------------

const point = S.parseType('struct Point{x:i32,y:i32}');

function deser(schema: string | S.Schema, hex: string, message: string): void {
  const s = typeof schema === 'string' ? S.parseType(schema) : schema;
  const e = catchFerry(() => S.decodeAs(fromHex(hex), s));
  assert.ok(e instanceof E.DeserializationError, `${hex}: ${e.name}: ${e.message}`);
  assert.equal(e.message, message, hex);
}

// The schema form of `schema` around bare bytes: 15, N (the bare length + 4 unless given), fingerprint, bare.
function form(schema: string, bare: string, n = bare.length / 2 + 4): string {
  const u32 = (x: number) => toHex(new Uint8Array(new Uint32Array([x]).buffer));
  return '15' + u32(n) + u32(S.schemaFingerprint(schema)) + bare;
}
const P = 'struct Point{x:i32,y:i32}';

both('DecodingRules.TheFingerprintIsFNV1aOfTheSchemaText', () => {
  assert.equal(S.schemaFingerprint(''), 2166136261);
  assert.equal(S.schemaFingerprint(P), 0xff232285);
  assert.equal(form(P, '01000000feffffff'), '150c000000852223ff01000000feffffff');
  assert.equal(toHex(schemaForm(point, { x: 1, y: -2 })), form(P, '01000000feffffff'));
  // The text of every kind of type, as schema_of<T>() writes it, is what the fingerprint covers.
  assert.equal(S.schemaFingerprint('h\u00e9'), S.schemaFingerprint('h\u00e9'.normalize('NFC')));
  assert.notEqual(S.schemaFingerprint('struct Point{x:i32,y:i32}'), S.schemaFingerprint('struct Point{x:i32,z:i32}'));
});

both('DecodingRules.AnotherTypesFingerprintIsTypeMismatch', () => {
  const pair = S.parseType('struct Pair{a:i32,b:i32}'); // the same bytes as a Point, another type
  const e = catchFerry(() => S.decodeAs(schemaForm(point, { x: 1, y: -2 }), pair));
  assert.ok(e instanceof E.TypeMismatchError, e.message);
  assert.equal(e.message, 'type mismatch: expected struct Pair, got schema form 0xff232285 at offset 0');
  assert.equal(e.expected, 'struct Pair');
  assert.equal(e.actual, 'schema form 0xff232285');
  // A field renamed or retyped changes the text, so the fingerprint.
  assert.ok(catchFerry(() => S.decodeAs(schemaForm(point, { x: 1, y: 2 }), S.parseType('struct Point{x:i32,z:i32}'))) instanceof E.TypeMismatchError);
  assert.ok(catchFerry(() => S.decodeAs(schemaForm(point, { x: 1, y: 2 }), S.parseType('struct Point{x:u32,y:i32}'))) instanceof E.TypeMismatchError);
});

both('DecodingRules.TheLengthMustFitAndTheBareValueFillItExactly', () => {
  deser(point, form(P, '01000000feffffff', 13), 'schema form length 13 at offset 1 exceeds the 12 remaining bytes');
  deser(point, form(P, '01000000feffffff00'), 'schema form of 13 bytes at offset 0 holds a value of 8 bytes');
  deser(point, form(P, '01000000020000', 11), 'i32 payload at offset 13 needs 4 bytes but 3 bytes remain');
  deser('i32', form('i32', '') + '07', 'i32 payload at offset 9 needs 4 bytes but 0 bytes remain');
  for (let n = 0; n < 4; n++) {
    const hex = '15' + toHex(new Uint8Array(new Uint32Array([n]).buffer)) + '00'.repeat(n);
    const message = `schema form length ${n} at offset 1 is less than the 4 bytes of its fingerprint`;
    deser(point, hex, message);
    assert.equal(catchFerry(() => C.describe(fromHex(hex))).message, message);
    assert.equal(catchFerry(() => C.decode(fromHex(hex))).message, message);
  }
});

both('DecodingRules.ByteRulesOfTheBareForm', () => {
  deser('unit', form('unit', '01'), 'unit byte 0x01 at offset 9 is not 0');
  deser('struct Empty{}', form('struct Empty{}', '02'), 'empty struct byte 0x02 at offset 9 is not 0');
  deser('()', form('()', '03'), 'empty tuple byte 0x03 at offset 9 is not 0');
  deser('bool', form('bool', '02'), 'bool byte 0x02 at offset 9 is not 0 or 1');
  deser('?i32', form('?i32', '02'), 'optional flag 0x02 at offset 9 is not 0 or 1');
  deser('!i32', form('!i32', '02'), 'result flag 0x02 at offset 9 is not 0 or 1');
  deser('<i32|string>', form('<i32|string>', '0200000007000000'), 'variant index 2 at offset 9 is out of range for 2 alternatives');
  deser('string', form('string', '01000000ff'), 'string at offset 9 is not valid UTF-8 (byte 0xff at offset 13)');
});

both('DecodingRules.CountsNeedAByteAnItemBeforeAnythingIsReserved', () => {
  deser('[unit]', form('[unit]', 'ffffffff0000'), 'array count 4294967295 at offset 9 needs at least 4294967295 bytes but 2 bytes remain');
  deser('{unit:unit}', form('{unit:unit}', '020000000000'), 'map count 2 at offset 9 needs at least 4 bytes but 2 bytes remain');
  deser('i32[]', form('i32[]', '0200000001000000'), 'packed count 2 at offset 9 needs at least 8 bytes but 4 bytes remain');
  deser('{string:i32}', form('{string:i32}', '02000000' + '0100000061' + '01000000' + '0100000061' + '02000000'), 'duplicate map key at offset 22');
});

both('DecodingRules.NestingDeeperThan64IsDeserialization', () => {
  const tree = S.parseType('struct Tree{kids:[struct Tree]}');
  // Each tree opens two levels (the struct and its array of kids).
  const ok = (levels: number) => {
    let v: unknown = { kids: [] };
    for (let i = 1; i < levels; i++) v = { kids: [v] };
    return v;
  };
  const v32 = ok(32); // 64 levels
  assert.deepEqual(S.decodeAs(schemaForm(tree, v32), tree), S.decodeAs(S.encodeSchema(tree, v32), tree));
  const e = catchFerry(() => schemaForm(tree, ok(33)));
  assert.ok(e instanceof E.SerializationError, e.message);
  // 33 trees by hand: each a u32 count of 1, the last 0; the 33rd opens level 65.
  deser(tree, form('struct Tree{kids:[struct Tree]}', '01000000'.repeat(32) + '00000000'), 'nesting depth 65 at offset 137 exceeds the limit of 64');
});

both('DecodingRules.ATypedDecoderTakesTheSchemaFormOnlyAtTheTop', () => {
  const e = catchFerry(() => S.decodeAs(fromHex('0e01000000' + form(P, '01000000feffffff')), S.parseType('[struct Point{x:i32,y:i32}]')));
  assert.ok(e instanceof E.TypeMismatchError, e.message);
  assert.equal(e.actual, 'schema');
  // A struct the reader knows no body of cannot read one.
  deser('struct Opaque', form('struct Opaque', '00'), 'a schema-form value at offset 0 cannot be read as a struct without a known body');
});

// --- Encoding ----------------------------------------------------------------

both('Encode.ConvertsAndRefusesAsEncodeAsDoes', () => {
  const shape = S.parseType('struct Shape{name:string,points:[struct Point{x:i32,y:i32}],tags:{string:f64},id:u64,big:i64[]}');
  const v = { name: 'tri', points: [{ x: 1, y: -2 }], tags: { a: 0.5 }, id: 7, big: [1, 2n] };
  const back = S.decodeAs(schemaForm(shape, v), shape) as Record<string, unknown>;
  assert.equal(back.id, 7n);
  assert.deepEqual(back.big, new BigInt64Array([1n, 2n]));
  assert.deepEqual(back.tags, new Map([['a', 0.5]]));
  const cases: [unknown, string][] = [
    [{ ...v, points: [{ x: 1.5, y: 0 }] }, 'ctx: type mismatch: expected i32, got number 1.5 at points[0].x'],
    [{ ...v, points: [{ x: 1, y: 0, z: 2 }] }, "ctx: type mismatch: expected struct Point, got an object with the extra field 'z' at points[0].z"],
    [{ ...v, points: [{ x: 1 }] }, "ctx: type mismatch: expected struct Point, got an object without the field 'y' at points[0].y"],
    [{ ...v, tags: { a: 'x' } }, 'ctx: type mismatch: expected f64, got string at tags.a'],
    [{ ...v, big: [1.5] }, 'ctx: type mismatch: expected i64, got number 1.5 at big[0]'],
  ];
  for (const [bad, message] of cases) {
    const w = new C.Writer(16);
    w.putU8(0xab);
    const e = catchFerry(() => S.encodeSchemaForm(w, shape, bad, 'ctx'));
    assert.ok(e instanceof E.TypeMismatchError, e.message);
    assert.equal(e.message, message);
    assert.equal(toHex(w.bytes()), 'ab', 'nothing of the failed value stays');
  }
});

both('Encode.ASlotTooSmallIsMessageTooLargeWithTheWholeNeedAndNothingWritten', () => {
  const slot = new Uint8Array(10).fill(0xee);
  const w = C.Writer.over(slot);
  const e = catchFerry(() => S.encodeSchemaForm(w, point, { x: 1, y: 2 }));
  assert.ok(e instanceof E.MessageTooLargeError, e.message);
  assert.match(e.message, /needs 17 bytes but the buffer holds 10 \(7 more\)/);
  assert.equal(w.size, 0);
});

both('Encode.AStructWithoutABodyHasNoSchemaForm', () => {
  const opaque = S.parseType('[struct Opaque]');
  assert.equal(S.hasSchemaForm(opaque), false);
  assert.equal(S.prefersSchemaForm(opaque), false);
  const e = catchFerry(() => schemaForm(opaque, []));
  assert.ok(e instanceof E.InvalidArgumentError, e.message);
  // ...and stays refused, not half built, the second time.
  assert.ok(catchFerry(() => schemaForm(opaque, [])) instanceof E.InvalidArgumentError);
});

both('Encode.TheFormPaysWhereAStructIs', () => {
  for (const [text, pays] of [
    ['i32', false], ['string', false], ['[string]', false], ['{string:f64}', false], ['?i32', false],
    ['struct Point{x:i32,y:i32}', true], ['[struct Point{x:i32,y:i32}]', true], ['?struct P{a:u8}', true],
    ['!<i32|struct P{a:u8}>', true], ['struct Tree{kids:[struct Tree]}', true],
  ] as const) {
    assert.equal(S.prefersSchemaForm(S.parseType(text)), pays, text);
  }
  assert.equal(schemaForm(point, { x: 1, y: -2 }).length, 17);
  assert.equal(S.encodeSchema(point, { x: 1, y: -2 }).length, 23);
});

both('Encode.ArgumentsTravelAsOneTuple', () => {
  const sig = S.parseSignature('call move (struct Point{x:i32,y:i32},i32) -> struct Point');
  const w = new C.Writer(16);
  S.encodeArgsSchemaForm(w, sig, [{ x: 1, y: 2 }, 3]);
  assert.equal(toHex(w.bytes()), form('(struct Point{x:i32,y:i32},i32)', '010000000200000003000000'));
  assert.deepEqual(S.decodeAs(w.bytes(), S.parseType('(struct Point{x:i32,y:i32},i32)')), [C.struct('Point', { x: 1, y: 2 }), 3]);
  const arity = catchFerry(() => S.encodeArgsSchemaForm(new C.Writer(16), sig, [{ x: 1, y: 2 }]));
  assert.equal(arity.message, 'move takes 2 arguments, got 1');
  const bad = catchFerry(() => S.encodeArgsSchemaForm(new C.Writer(16), sig, [{ x: 1, y: 2 }, 'x']));
  assert.equal(bad.message, 'argument 2 of move: type mismatch: expected i32, got string');
  const none = new C.Writer(16);
  S.encodeArgsSchemaForm(none, S.parseSignature('call tick () -> unit'), []);
  assert.equal(toHex(none.bytes()), form('()', '00'));
});

// --- Random schemas and values -----------------------------------------------------

const kScalars = ['unit', 'bool', 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'f32', 'f64'];
const kNumbers = kScalars.slice(2);

function randomSchemaText(rand: () => number, depth: number, structs: { n: number }): string {
  const int = (n: number) => Math.floor(rand() * n);
  const sub = () => randomSchemaText(rand, depth + 1, structs);
  if (depth >= 4 || rand() < 0.35) {
    const k = int(5);
    if (k === 0) return 'string';
    if (k === 1) return 'bytes';
    if (k === 2) return `${kNumbers[int(kNumbers.length)]}[]`;
    return kScalars[int(kScalars.length)]!;
  }
  switch (int(8)) {
    case 0: return `[${sub()}]`;
    case 1: return `(${Array.from({ length: int(4) }, sub).join(',')})`;
    case 2: return `?${sub()}`;
    case 3: return `<${Array.from({ length: 1 + int(3) }, sub).join('|')}>`;
    case 4: return `{${['string', 'i32', 'u64', 'bool'][int(4)]}:${sub()}}`;
    case 5: return rand() < 0.5 ? 'error' : `!${sub()}`;
    default: {
      const fields = Array.from({ length: int(4) }, (_, i) => `f${i}:${sub()}`);
      return `struct S${structs.n++}{${fields.join(',')}}`;
    }
  }
}

function randomValueOf(s: S.Schema, rand: () => number, depth: number): unknown {
  const int = (n: number) => Math.floor(rand() * n);
  const many = () => (depth > 5 ? 0 : int(4));
  switch (s.kind) {
    case 'scalar':
      switch (s.name) {
        case 'unit': return undefined;
        case 'bool': return rand() < 0.5;
        case 'i8': return int(256) - 128;
        case 'u8': return int(256);
        case 'i16': return int(65536) - 32768;
        case 'u16': return int(65536);
        case 'i32': return int(2 ** 32) - 2 ** 31;
        case 'u32': return int(2 ** 32);
        case 'i64': return BigInt.asIntN(64, BigInt(int(2 ** 32)) << 32n | BigInt(int(2 ** 32)));
        case 'u64': return BigInt.asUintN(64, BigInt(int(2 ** 32)) << 32n | BigInt(int(2 ** 32)));
        case 'f32': return Math.fround((rand() - 0.5) * 1e6);
        default: return [0, -0, NaN, Infinity, 1e300, (rand() - 0.5) * 1e9][int(6)];
      }
    case 'string': return ['', 'a', 'h\u00e9llo', '\u{1f600}x', 'x'.repeat(int(40))][int(5)];
    case 'bytes': return new Uint8Array(Array.from({ length: int(9) }, () => int(256)));
    case 'packed': return Array.from({ length: many() }, () => randomValueOf({ kind: 'scalar', name: C.wireName(s.elem) as S.ScalarName, tag: s.elem }, rand, depth));
    case 'array': return Array.from({ length: many() }, () => randomValueOf(s.item, rand, depth + 1));
    case 'tuple': return s.items.map((x) => randomValueOf(x, rand, depth + 1));
    case 'optional': return rand() < 0.3 ? C.NONE : C.some(randomValueOf(s.value, rand, depth + 1));
    case 'variant': {
      const i = int(s.alts.length);
      return C.variant(i, randomValueOf(s.alts[i]!, rand, depth + 1));
    }
    case 'map': {
      const m = new Map<unknown, unknown>();
      for (let i = 0; i < many(); i++) m.set(randomValueOf(s.key, rand, depth + 1), randomValueOf(s.value, rand, depth + 1));
      return m;
    }
    case 'struct': {
      const o: Record<string, unknown> = {};
      for (const f of s.fields!) o[f.name] = randomValueOf(f.type, rand, depth + 1);
      return o;
    }
    case 'error': return new E.TimeoutError(`late ${int(9)}`, 'worker 1');
    case 'result': return rand() < 0.25 ? new E.ClosedError('closed', 'core/ring') : randomValueOf(s.value, rand, depth);
  }
}

both('Random.ValuesOfRandomSchemasRoundTripByteExactInBothForms', () => {
  const rand = rng(0x5c4e);
  const structs = { n: 0 };
  const count = Math.round(2000 * stressScale);
  for (let i = 0; i < count; i++) {
    const text = randomSchemaText(rand, 0, structs);
    const schema = S.parseType(text);
    const v = randomValueOf(schema, rand, 0);
    const tagged = S.encodeSchema(schema, v);
    const bytes = schemaForm(schema, v);
    const back = S.decodeAs(bytes, schema, keep);
    assert.equal(toHex(schemaForm(schema, back)), toHex(bytes), text);
    assert.equal(toHex(S.encodeSchema(schema, back)), toHex(tagged), text);
    assert.equal(toHex(schemaForm(schema, S.decodeAs(tagged, schema, keep))), toHex(bytes), text);
  }
});

both('Random.MutatedSchemaFormsOnlyEverThrowDeserializationOrTypeMismatchByTheirType', () => {
  const rand = rng(0xfa11);
  const structs = { n: 0 };
  const count = Math.round(1500 * stressScale);
  for (let i = 0; i < count; i++) {
    const schema = S.parseType(randomSchemaText(rand, 0, structs));
    const bytes = schemaForm(schema, randomValueOf(schema, rand, 0));
    for (let k = 0; k < 4; k++) {
      const m = bytes.slice();
      const flips = 1 + Math.floor(rand() * 3);
      for (let f = 0; f < flips; f++) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
      try {
        S.decodeAs(m, schema, keep);
      } catch (e) {
        // The tag hit (a tagged value of another type) or the fingerprint (another type's schema form): TypeMismatch.
        const typeHit = m[0] !== 0x15 || toHex(m.subarray(5, 9)) !== toHex(bytes.subarray(5, 9));
        const allowed = e instanceof E.DeserializationError || (typeHit && e instanceof E.TypeMismatchError);
        assert.ok(allowed, `${toHex(m)}: ${String(e)}`);
      }
    }
  }
});
