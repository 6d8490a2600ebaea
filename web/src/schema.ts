// Schemas: a C++ type's wire shape as text (core/CODEC.md "Schemas",
// core/schema.hpp), so that JavaScript can turn plain values into exactly the
// wire types a C++ task decodes (C++ decoders never convert: a JS number must
// travel as i32 for an `int` parameter), and check what comes back.
//
//   const sig = parseSignature('call add (i32,i32) -> i32');
//   const bytes = encodeArgs(sig, [1, 2]);          // array [i32 1, i32 2]
//   const sum = decodeAs(resultBytes, sig.result!); // 3, or TypeMismatch
//
// Grammar (no spaces inside a type, except the one after 'struct'):
//   type   := scalar | 'string' | 'bytes' | num '[]' | '[' type ']'
//           | '(' [type {',' type}] ')' | '?' type | '<' type {'|' type} '>'
//           | '{' type ':' type '}' | 'struct ' NAME ['{' [NAME ':' type {',' NAME ':' type}] '}']
//           | 'error' | '!' type
//   scalar := 'unit' | 'bool' | num
//   num    := 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64' | 'f32' | 'f64'
// A struct's body is written where it first appears; later a bare
// `struct Name` refers to it, which is also how recursive structs end.
//
// encodeAs is strict: it converts only where no information is lost (or
// where the table says so), and refuses anything else with TypeMismatch
// (expected = the wire type name of core/CODEC.md, actual = a description of
// the JavaScript value, the message names the argument and the path to the
// part, e.g. "argument 1 of f: type mismatch: expected i32, got string at
// points[2].x"):
//   unit        undefined or null
//   bool        a boolean
//   i8..u32     an integer number in range, or a Typed of that tag (a bigint is
//               refused: bigints are for i64/u64)
//   i64, u64    a bigint in range, a safe-integer number, or a Typed of that tag
//   f32         a number, rounded to the nearest f32 (the one deliberate lossy
//               conversion); a finite number beyond the f32 range is refused
//               (it would become Infinity); NaN and ±Infinity pass
//   f64         a number, or a Typed of that tag
//   string      a string
//   bytes       Uint8Array, ArrayBuffer, SharedArrayBuffer, any ArrayBufferView (its bytes)
//   T[]         a typed array of that element type, or an Array of values as for T
//   [T]         an Array
//   (A,B)       an Array of exactly that length
//   ?T          null or NONE for none; some(v); any other value of T is some(value);
//               undefined is refused (use null)
//   <A|B>       variant(i, v) or {index, value}; a bare value is refused
//   {K:V}       a Map, or a plain object (its string keys, converted to
//               numbers for an integer or float K)
//   struct P    a plain object with exactly the fields of P by name: a missing
//               field (unless it is unit) or an extra one is refused, naming it;
//               an instance of a class: its fields (own or getters), other
//               properties are not looked at
//   error       a FerryError (another Error becomes JsException)
//   !T          a FerryError or Error becomes the error value, anything else T

import {
  F_OPTIONAL,
  F_TYPES,
  F_VIEW,
  NONE,
  Reader,
  STRUCT_NAME,
  Some,
  Tag,
  Typed,
  Variant,
  Writer,
  borrowReader,
  bytesOf,
  decValue,
  describeJs,
  deserErr,
  encodeTop,
  encodeValueAt,
  enterDec,
  enterEnc,
  flagsOf,
  hex2,
  isNumberTag,
  kCodecOrigin,
  kI64Hi,
  kI64Lo,
  kIntHi,
  kIntLo,
  kU64Hi,
  needFail,
  numberSize,
  packedTagOf,
  peekPackedElem,
  putBlob,
  putError,
  putName,
  putNumber,
  putPacked,
  putString,
  putTagU32,
  readBlob,
  readCount,
  readErrorValue,
  readFlag,
  readNumber,
  readPacked,
  readText,
  readU32,
  releaseReader,
  setField,
  trailingCheck,
  u16At,
  unknownTag,
  wireName,
  writeRaw,
  type DecodeOptions,
  type NumberTag,
} from './codec.js';
import { FerryError, InvalidArgumentError, TypeMismatchError, toFerryError } from './errors.js';

// ---------------------------------------------------------------------------
// Schema objects

export type ScalarName = 'unit' | 'bool' | 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64' | 'f32' | 'f64';

export interface ScalarSchema {
  readonly kind: 'scalar';
  readonly name: ScalarName;
  /** The wire tag: 0x00 unit, 0x01 bool, 0x02..0x0b numbers. */
  readonly tag: number;
}
export interface StringSchema { readonly kind: 'string' }
export interface BytesSchema { readonly kind: 'bytes' }
export interface PackedSchema { readonly kind: 'packed'; readonly elem: NumberTag }
export interface ArraySchema { readonly kind: 'array'; readonly item: Schema }
export interface TupleSchema { readonly kind: 'tuple'; readonly items: readonly Schema[] }
export interface OptionalSchema { readonly kind: 'optional'; readonly value: Schema }
export interface VariantSchema { readonly kind: 'variant'; readonly alts: readonly Schema[] }
export interface MapSchema { readonly kind: 'map'; readonly key: Schema; readonly value: Schema }
export interface StructField { readonly name: string; readonly type: Schema }
export interface StructSchema {
  readonly kind: 'struct';
  readonly name: string;
  /** null for a bare `struct Name` that no earlier body defines: any fields are accepted, encoded untyped. */
  readonly fields: readonly StructField[] | null;
}
export interface ErrorSchema { readonly kind: 'error' }
export interface ResultSchema { readonly kind: 'result'; readonly value: Schema }

/** A parsed type. Recursive structs make the graph cyclic (a field refers back to its struct object). */
export type Schema =
  | ScalarSchema
  | StringSchema
  | BytesSchema
  | PackedSchema
  | ArraySchema
  | TupleSchema
  | OptionalSchema
  | VariantSchema
  | MapSchema
  | StructSchema
  | ErrorSchema
  | ResultSchema;

/** A task signature: `call NAME (ARGS) -> RESULT` or `stream NAME (ARGS) IN -> OUT`. */
export interface Signature {
  readonly kind: 'call' | 'stream';
  readonly name: string;
  readonly args: readonly Schema[];
  /** Calls: what the call answers. */
  readonly result?: Schema;
  /** Streams: the type of each value sent to the task. */
  readonly input?: Schema;
  /** Streams: the type of each value the task sends back. */
  readonly output?: Schema;
}

const kScalarTags: Record<ScalarName, number> = {
  unit: Tag.Unit, bool: Tag.Bool, i8: Tag.I8, u8: Tag.U8, i16: Tag.I16, u16: Tag.U16,
  i32: Tag.I32, u32: Tag.U32, i64: Tag.I64, u64: Tag.U64, f32: Tag.F32, f64: Tag.F64,
};

// ---------------------------------------------------------------------------
// Parsing

const kOrigin = 'web/schema';
const kMaxParseDepth = 256;

class Parser {
  pos = 0;
  depth = 0;
  constructor(
    readonly text: string,
    readonly structs: Map<string, StructSchema>,
  ) {}

  fail(what: string): never {
    throw new InvalidArgumentError(`cannot parse schema "${this.text}": expected ${what} at index ${this.pos}`, kOrigin);
  }
  eat(s: string): boolean {
    if (this.text.startsWith(s, this.pos)) {
      this.pos += s.length;
      return true;
    }
    return false;
  }
  expect(s: string): void {
    if (!this.eat(s)) this.fail(`'${s}'`);
  }
  spaces(): void {
    while (this.pos < this.text.length && (this.text[this.pos] === ' ' || this.text[this.pos] === '\t')) this.pos++;
  }
  name(): string {
    const m = /[A-Za-z_][A-Za-z0-9_]*/y;
    m.lastIndex = this.pos;
    const r = m.exec(this.text);
    if (r === null) this.fail('a name');
    this.pos += r[0].length;
    return r[0];
  }
  list(close: string, sep: string): Schema[] {
    const items: Schema[] = [];
    if (this.eat(close)) return items;
    for (;;) {
      items.push(this.type());
      if (this.eat(close)) return items;
      this.expect(sep);
    }
  }
  type(): Schema {
    if (++this.depth > kMaxParseDepth) this.fail(`at most ${kMaxParseDepth} nested types`);
    const s = this.typeBody();
    this.depth--;
    return s;
  }
  typeBody(): Schema {
    const c = this.text[this.pos];
    switch (c) {
      case '[': {
        this.pos++;
        const item = this.type();
        this.expect(']');
        return { kind: 'array', item };
      }
      case '(':
        this.pos++;
        return { kind: 'tuple', items: this.list(')', ',') };
      case '?':
        this.pos++;
        return { kind: 'optional', value: this.type() };
      case '<': {
        this.pos++;
        const alts = [this.type()];
        while (this.eat('|')) alts.push(this.type());
        this.expect('>');
        return { kind: 'variant', alts };
      }
      case '{': {
        this.pos++;
        const key = this.type();
        this.expect(':');
        const value = this.type();
        this.expect('}');
        return { kind: 'map', key, value };
      }
      case '!':
        this.pos++;
        return { kind: 'result', value: this.type() };
    }
    const at = this.pos;
    const word = /[a-z0-9]+/y;
    word.lastIndex = at;
    const m = word.exec(this.text);
    if (m === null) this.fail('a type');
    const w = m[0];
    this.pos += w.length;
    if (Object.prototype.hasOwnProperty.call(kScalarTags, w)) {
      const tag = kScalarTags[w as ScalarName];
      if (tag >= Tag.I8 && this.eat('[]')) return { kind: 'packed', elem: tag as NumberTag };
      return { kind: 'scalar', name: w as ScalarName, tag };
    }
    switch (w) {
      case 'string':
        return { kind: 'string' };
      case 'bytes':
        return { kind: 'bytes' };
      case 'error':
        return { kind: 'error' };
      case 'struct':
        return this.struct();
    }
    this.pos = at;
    return this.fail('a type');
  }
  struct(): StructSchema {
    this.expect(' ');
    const name = this.name();
    if (!this.eat('{')) {
      const known = this.structs.get(name);
      if (known) return known;
      const opaque: StructSchema = { kind: 'struct', name, fields: null };
      this.structs.set(name, opaque);
      return opaque;
    }
    const fields: StructField[] = [];
    const s: StructSchema = { kind: 'struct', name, fields };
    this.structs.set(name, s); // before the fields: they may refer back (recursive types)
    if (!this.eat('}')) {
      for (;;) {
        const field = this.name();
        this.expect(':');
        fields.push({ name: field, type: this.type() });
        if (this.eat('}')) break;
        this.expect(',');
      }
    }
    return s;
  }
}

/** Parses one type: parseType('[struct Point{x:i32,y:i32}]'). Throws InvalidArgument naming the index. */
export function parseType(text: string): Schema {
  const p = new Parser(text.trim(), new Map());
  const s = p.type();
  if (p.pos !== p.text.length) p.fail('the end');
  return s;
}

/**
 * Parses `call NAME (ARG,...) -> RESULT` or `stream NAME (ARG,...) IN -> OUT`
 * (core/schema.hpp signatures; spaces around the parts are free). A bare
 * `struct Name` may refer to a body given anywhere earlier in the line.
 */
export function parseSignature(line: string): Signature {
  const text = line.trim();
  const head = /^(call|stream)[ \t]+([^\s(]+)[ \t]*/.exec(text);
  if (head === null) throw new InvalidArgumentError(`cannot parse signature "${text}": expected 'call NAME (...) -> T' or 'stream NAME (...) IN -> OUT'`, kOrigin);
  const kind = head[1] as 'call' | 'stream';
  const name = head[2]!;
  const p = new Parser(text, new Map());
  p.pos = head[0].length;
  p.expect('(');
  // The argument list tolerates spaces around its commas ("(ARG, ...)" in web/PROTOCOL.md).
  const args: Schema[] = [];
  p.spaces();
  if (!p.eat(')')) {
    for (;;) {
      args.push(p.type());
      p.spaces();
      if (p.eat(')')) break;
      p.expect(',');
      p.spaces();
    }
  }
  p.spaces();
  let result: Schema | undefined;
  let input: Schema | undefined;
  let output: Schema | undefined;
  if (kind === 'call') {
    p.expect('->');
    p.spaces();
    result = p.type();
  } else {
    input = p.type();
    p.spaces();
    p.expect('->');
    p.spaces();
    output = p.type();
  }
  if (p.pos !== text.length) p.fail('the end');
  return kind === 'call' ? { kind, name, args, result } : { kind, name, args, input, output };
}

/** Every signature of a task list (one per line; blank lines and '#' comments skipped). */
export function parseSignatures(text: string): Map<string, Signature> {
  const out = new Map<string, Signature>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sig = parseSignature(line);
    out.set(sig.name, sig);
  }
  return out;
}

/** The wire type name a C++ decoder of this type expects (CODEC.md "Type names"): `i32`, `f32[]`, `struct Point`, `i32 or error`. */
export function describeSchema(s: Schema): string {
  switch (s.kind) {
    case 'scalar':
      return s.name;
    case 'string':
    case 'bytes':
    case 'array':
    case 'optional':
    case 'variant':
    case 'map':
    case 'error':
      return s.kind;
    case 'packed':
      return `${wireName(s.elem)}[]`;
    case 'tuple':
      return 'array';
    case 'struct':
      return `struct ${s.name}`;
    case 'result':
      return `${describeSchema(s.value)} or error`;
  }
}

/** The schema as grammar text again (parseType(formatSchema(s)) is s). */
export function formatSchema(s: Schema): string {
  return fmt(s, new Set());
}

function fmt(s: Schema, seen: Set<StructSchema>): string {
  switch (s.kind) {
    case 'scalar':
      return s.name;
    case 'string':
    case 'bytes':
    case 'error':
      return s.kind;
    case 'packed':
      return `${wireName(s.elem)}[]`;
    case 'array':
      return `[${fmt(s.item, seen)}]`;
    case 'tuple':
      return `(${s.items.map((x) => fmt(x, seen)).join(',')})`;
    case 'optional':
      return `?${fmt(s.value, seen)}`;
    case 'variant':
      return `<${s.alts.map((x) => fmt(x, seen)).join('|')}>`;
    case 'map':
      return `{${fmt(s.key, seen)}:${fmt(s.value, seen)}}`;
    case 'result':
      return `!${fmt(s.value, seen)}`;
    case 'struct':
      if (seen.has(s) || s.fields === null) return `struct ${s.name}`;
      seen.add(s);
      return `struct ${s.name}{${s.fields.map((f) => `${f.name}:${fmt(f.type, seen)}`).join(',')}}`;
  }
}

/** The signature as the task-list line it was parsed from. */
export function formatSignature(sig: Signature): string {
  const seen = new Set<StructSchema>();
  const args = `(${sig.args.map((a) => fmt(a, seen)).join(',')})`;
  if (sig.kind === 'call') return `call ${sig.name} ${args} -> ${fmt(sig.result!, seen)}`;
  return `stream ${sig.name} ${args} ${fmt(sig.input!, seen)} -> ${fmt(sig.output!, seen)}`;
}

// ---------------------------------------------------------------------------
// Encoding plain JavaScript values as a schema says

// Thrown inside encodeAs; the top level turns it into a TypeMismatchError with
// the context and the path to the offending part.
class Mismatch {
  readonly path: string[] = [];
  constructor(
    readonly expected: string,
    readonly actual: string,
    /** Why a strict rule refused it, for the message. */
    readonly note = '',
  ) {}
}

function mismatch(s: Schema, v: unknown, note = ''): Mismatch {
  return new Mismatch(describeSchema(s), describeJs(v), note);
}

function withPath(e: unknown, seg: string): unknown {
  if (e instanceof Mismatch) e.path.push(seg);
  return e;
}

// The value converted for number tag `tag`, or undefined when it does not fit
// without loss (f32: rounding is allowed, overflow is not).
function numberFor(tag: number, v: unknown): number | bigint | undefined {
  if (tag <= Tag.U32) {
    return typeof v === 'number' && Number.isInteger(v) && v >= kIntLo[tag]! && v <= kIntHi[tag]! ? v : undefined;
  }
  if (tag <= Tag.U64) {
    const lo = tag === Tag.I64 ? kI64Lo : 0n;
    const hi = tag === Tag.I64 ? kI64Hi : kU64Hi;
    if (typeof v === 'bigint') return v >= lo && v <= hi ? v : undefined;
    if (typeof v === 'number') return Number.isSafeInteger(v) && (tag === Tag.I64 || v >= 0) ? BigInt(v) : undefined;
    return undefined;
  }
  if (typeof v !== 'number') return undefined;
  if (tag === Tag.F32 && Number.isFinite(v) && !Number.isFinite(Math.fround(v))) return undefined;
  return v;
}

function encScalar(w: Writer, s: ScalarSchema, v: unknown): void {
  const tag = s.tag;
  if (tag === Tag.Unit) {
    if (v !== undefined && v !== null) throw mismatch(s, v);
    w.ensure(1);
    w.u8[w.pos++] = Tag.Unit;
    return;
  }
  if (tag === Tag.Bool) {
    if (typeof v !== 'boolean') throw mismatch(s, v);
    w.ensure(2);
    w.u8[w.pos] = Tag.Bool;
    w.u8[w.pos + 1] = v ? 1 : 0;
    w.pos += 2;
    return;
  }
  if (v instanceof Typed) {
    if (v.tag !== tag) throw mismatch(s, v);
    putNumber(w, tag, v.value); // range: Serialization, as for any Typed
    return;
  }
  const x = numberFor(tag, v);
  if (x === undefined) {
    throw mismatch(s, v, tag === Tag.F32 && typeof v === 'number' ? 'beyond the f32 range' : tag <= Tag.U32 && typeof v === 'bigint' ? 'bigints are for i64 and u64' : '');
  }
  putNumber(w, tag, x);
}

function encPacked(w: Writer, s: PackedSchema, v: unknown): void {
  const elem = s.elem;
  if (ArrayBuffer.isView(v)) {
    const t = packedTagOf(v);
    if (t === elem || (elem === Tag.U8 && v instanceof Uint8Array)) {
      putPacked(w, elem, v as ArrayBufferView & { length: number });
      return;
    }
    throw mismatch(s, v);
  }
  if (!Array.isArray(v)) throw mismatch(s, v);
  const n = v.length;
  const size = numberSize(elem);
  w.ensure(6 + n * size);
  const p = w.pos;
  w.u8[p] = Tag.Packed;
  w.u8[p + 1] = elem;
  w.dv.setUint32(p + 2, n, true);
  const dv = w.dv;
  let at = p + 6;
  for (let i = 0; i < n; i++, at += size) {
    let x = v[i];
    if (x instanceof Typed) x = x.tag === elem ? x.value : undefined;
    const y = numberFor(elem, x);
    if (y === undefined) throw withPath(new Mismatch(wireName(elem), describeJs(v[i])), `[${i}]`);
    writeRaw(dv, elem, at, y);
  }
  w.pos = at;
}

function encOptionalAs(w: Writer, s: OptionalSchema, v: unknown, depth: number): void {
  if (v === undefined) throw mismatch(s, v, 'use null for none');
  enterEnc(depth);
  w.ensure(2);
  w.u8[w.pos] = Tag.Optional;
  if (v === null || v === NONE) {
    w.u8[w.pos + 1] = 0;
    w.pos += 2;
    return;
  }
  w.u8[w.pos + 1] = 1;
  w.pos += 2;
  encAs(w, s.value, v instanceof Some ? v.some : v, depth + 1);
}

function encAs(w: Writer, s: Schema, v: unknown, depth: number): void {
  switch (s.kind) {
    case 'scalar':
      encScalar(w, s, v);
      return;
    case 'string':
      if (typeof v !== 'string') throw mismatch(s, v);
      putString(w, v);
      return;
    case 'bytes': {
      const b = typeof v === 'object' && v !== null ? bytesOf(v) ?? (ArrayBuffer.isView(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : null) : null;
      if (b === null) throw mismatch(s, v);
      putBlob(w, b);
      return;
    }
    case 'packed':
      encPacked(w, s, v);
      return;
    case 'array': {
      if (!Array.isArray(v)) throw mismatch(s, v);
      enterEnc(depth);
      const n = v.length;
      putTagU32(w, Tag.Array, n);
      let i = 0;
      try {
        for (; i < n; i++) encAs(w, s.item, v[i], depth + 1);
      } catch (e) {
        throw withPath(e, `[${i}]`);
      }
      return;
    }
    case 'tuple': {
      const items = s.items;
      if (!Array.isArray(v)) throw mismatch(s, v);
      if (v.length !== items.length) throw new Mismatch(`array of ${items.length}`, `array of ${v.length}`);
      enterEnc(depth);
      putTagU32(w, Tag.Array, items.length);
      let i = 0;
      try {
        for (; i < items.length; i++) encAs(w, items[i]!, v[i], depth + 1);
      } catch (e) {
        throw withPath(e, `[${i}]`);
      }
      return;
    }
    case 'optional':
      encOptionalAs(w, s, v, depth);
      return;
    case 'variant':
      encVariant(w, s, v, depth);
      return;
    case 'map':
      encMap(w, s, v, depth);
      return;
    case 'struct':
      encStructAs(w, s, v, depth);
      return;
    case 'error':
      if (!(v instanceof Error)) throw mismatch(s, v);
      putError(w, v instanceof FerryError ? v : toFerryError(v, ''));
      return;
    case 'result':
      if (v instanceof Error) {
        putError(w, v instanceof FerryError ? v : toFerryError(v, ''));
        return;
      }
      encAs(w, s.value, v, depth);
      return;
  }
}

function encVariant(w: Writer, s: VariantSchema, v: unknown, depth: number): void {
  let index: unknown;
  let value: unknown;
  if (v instanceof Variant) {
    index = v.index;
    value = v.value;
  } else if (typeof v === 'object' && v !== null && !(STRUCT_NAME in v) && 'index' in v && 'value' in v && Object.keys(v).length === 2) {
    index = (v as { index: unknown }).index;
    value = (v as { value: unknown }).value;
  } else {
    throw mismatch(s, v, 'a variant takes variant(index, value) or {index, value}');
  }
  enterEnc(depth);
  if (!(typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < s.alts.length)) {
    throw new Mismatch(`variant of ${s.alts.length} alternatives`, `variant index ${String(index)}`);
  }
  putTagU32(w, Tag.Variant, index);
  try {
    encAs(w, s.alts[index]!, value, depth + 1);
  } catch (e) {
    throw withPath(e, `<${index}>`);
  }
}

function keyFor(k: Schema, key: string): unknown {
  if (k.kind === 'scalar' && k.tag >= Tag.I8 && k.tag <= Tag.U64 && /^-?\d+$/.test(key)) return k.tag >= Tag.I64 ? BigInt(key) : Number(key);
  if (k.kind === 'scalar' && k.tag >= Tag.F32 && key.trim() !== '' && !Number.isNaN(Number(key))) return Number(key);
  return key;
}

function encMap(w: Writer, s: MapSchema, v: unknown, depth: number): void {
  if (v instanceof Map) {
    enterEnc(depth);
    putTagU32(w, Tag.Map, v.size);
    let i = 0;
    for (const [k, x] of v) {
      try {
        encAs(w, s.key, k, depth + 1);
      } catch (e) {
        throw withPath(e, `{key ${i}}`);
      }
      try {
        encAs(w, s.value, x, depth + 1);
      } catch (e) {
        throw withPath(e, `{${typeof k === 'string' ? JSON.stringify(k) : `key ${i}`}}`);
      }
      i++;
    }
    return;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v) || v instanceof Typed || v instanceof Error) throw mismatch(s, v);
  enterEnc(depth);
  const keys = Object.keys(v);
  putTagU32(w, Tag.Map, keys.length);
  for (const key of keys) {
    try {
      encAs(w, s.key, keyFor(s.key, key), depth + 1);
      encAs(w, s.value, (v as Record<string, unknown>)[key], depth + 1);
    } catch (e) {
      throw withPath(e, `.${key}`);
    }
  }
}

function encStructAs(w: Writer, s: StructSchema, v: unknown, depth: number): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v) || v instanceof Map || v instanceof Typed || v instanceof Error) {
    throw mismatch(s, v);
  }
  const o = v as Record<string | symbol, unknown>;
  const own = o[STRUCT_NAME];
  if (own !== undefined && own !== '' && own !== s.name) throw new Mismatch(`struct ${s.name}`, `struct ${String(own)}`);
  enterEnc(depth);
  const fields = s.fields;
  w.ensure(1);
  w.u8[w.pos++] = Tag.Struct;
  putName(w, s.name, 'struct name');
  if (fields === null) {
    // No body known: the object's own fields, untyped.
    const keys = Object.keys(o);
    w.ensure(2);
    w.dv.setUint16(w.pos, keys.length, true);
    w.pos += 2;
    for (const k of keys) {
      putName(w, k, 'field name');
      encodeValueAt(w, o[k], depth + 1);
    }
    return;
  }
  // A plain object is data: a property the struct does not have is a typo or
  // a wrong type, not something to drop. A class instance (a WasmBuffer for
  // SharedBytes) may carry other state: only its fields are read.
  const proto = Object.getPrototypeOf(o);
  const extra = proto === Object.prototype || proto === null ? extraField(o, fields) : null;
  if (extra !== null) throw withPath(new Mismatch(`struct ${s.name}`, `an object with the extra field '${extra}'`), `.${extra}`);
  w.ensure(2);
  w.dv.setUint16(w.pos, fields.length, true);
  w.pos += 2;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    const x = o[f.name];
    if (x === undefined && !(f.name in o) && !(f.type.kind === 'scalar' && f.type.tag === 0)) {
      throw withPath(new Mismatch(`struct ${s.name}`, `an object without the field '${f.name}'`), `.${f.name}`);
    }
    putName(w, f.name, 'field name');
    try {
      encAs(w, f.type, x, depth + 1);
    } catch (e) {
      throw withPath(e, `.${f.name}`);
    }
  }
}

// The first own enumerable string key of o that is not a field of the struct, or null.
function extraField(o: Record<string | symbol, unknown>, fields: readonly StructField[]): string | null {
  for (const k in o) {
    if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
    let known = false;
    for (let i = 0; i < fields.length; i++) {
      if (fields[i]!.name === k) {
        known = true;
        break;
      }
    }
    if (!known) return k;
  }
  return null;
}

function toTypeMismatch(e: Mismatch, context: string): TypeMismatchError {
  const path = e.path.reverse().join('');
  const where = path === '' ? '' : ` at ${path.startsWith('.') ? path.slice(1) : path}`;
  const prefix = context === '' ? '' : `${context}: `;
  const note = e.note === '' ? '' : ` (${e.note})`;
  return new TypeMismatchError(`${prefix}type mismatch: expected ${e.expected}, got ${e.actual}${where}${note}`, kOrigin, e.expected, e.actual);
}

/**
 * Appends `value` to `w` as the wire type `schema` says, converting plain
 * JavaScript values (see the table at the top). A value that does not fit:
 * TypeMismatchError (expected: the wire type name, actual: what the value
 * is), message "<context>: type mismatch: expected i32, got string at
 * points[2].x". Nothing of the value stays in the writer after a failure; a
 * fixed slot that is too small gives MessageTooLarge.
 */
export function encodeAs(w: Writer, schema: Schema, value: unknown, context = ''): void {
  try {
    encodeTop(w, (into) => encAs(into, schema, value, 0));
  } catch (e) {
    if (e instanceof Mismatch) throw toTypeMismatch(e, context);
    throw e;
  }
}

/** One value of `schema` as new bytes. */
export function encodeSchema(schema: Schema, value: unknown, context = ''): Uint8Array {
  const w = new Writer(64);
  encodeAs(w, schema, value, context);
  return w.toUint8Array();
}

/**
 * Appends the arguments of a call or stream as C++ decodes them: one array
 * value (0x0E, count, the values), each converted by its parameter's schema.
 * Wrong arity: TypeMismatch "add takes 2 arguments, got 3"; a wrong argument:
 * "argument 1 of add: type mismatch: expected i32, got string".
 */
export function encodeArgsInto(w: Writer, sig: Signature, args: readonly unknown[]): void {
  const n = sig.args.length;
  if (!Array.isArray(args) || args.length !== n) {
    const got = Array.isArray(args) ? args.length : 0;
    throw new TypeMismatchError(`${sig.name} takes ${n} argument${n === 1 ? '' : 's'}, got ${got}`, kOrigin, `array of ${n}`, Array.isArray(args) ? `array of ${got}` : describeJs(args));
  }
  let i = 0;
  try {
    encodeTop(w, (into) => {
      putTagU32(into, Tag.Array, n);
      for (i = 0; i < n; i++) encAs(into, sig.args[i]!, args[i], 1);
    });
  } catch (e) {
    if (e instanceof Mismatch) throw toTypeMismatch(e, `argument ${i + 1} of ${sig.name}`);
    throw e;
  }
}

let argsWriter: Writer | null = new Writer(1024);

/** The arguments as new bytes (see encodeArgsInto). */
export function encodeArgs(sig: Signature, args: readonly unknown[]): Uint8Array {
  const w = argsWriter ?? new Writer(256);
  argsWriter = null;
  try {
    w.reset();
    encodeArgsInto(w, sig, args);
    return w.toUint8Array();
  } finally {
    argsWriter = w.capacity <= 1 << 20 ? w : new Writer(1024);
  }
}

// ---------------------------------------------------------------------------
// Typed decoding: what a C++ decoder of the schema's type accepts

// Wire text for messages, escaping bytes that are not valid UTF-8 as \xNN.
function printable(u8: Uint8Array, start: number, n: number): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(u8.slice(start, start + n));
  } catch {
    let s = '';
    for (let i = 0; i < n; i++) {
      const b = u8[start + i]!;
      s += b < 0x80 ? String.fromCharCode(b) : `\\x${hex2(b)}`;
    }
    return s;
  }
}

// Best-effort wire type name of the value at absolute `at` ("i32[]", "struct Pt").
function actualName(r: Reader, at: number): string {
  const tag = r.u8[at]!;
  if (tag === Tag.Packed && at + 1 < r.end && isNumberTag(r.u8[at + 1]!)) return `${wireName(r.u8[at + 1]!)}[]`;
  if (tag === Tag.Struct && at + 1 < r.end) {
    const n = r.u8[at + 1]!;
    if (r.end - (at + 2) >= n) return `struct ${printable(r.u8, at + 2, n)}`;
  }
  return wireName(tag);
}

function typeMismatchAt(r: Reader, expected: string, actual: string, at: number, detail = ''): TypeMismatchError {
  return new TypeMismatchError(
    `type mismatch: expected ${expected}, got ${actual} at offset ${at - r.base}${detail ? ` (${detail})` : ''}`,
    kCodecOrigin,
    expected,
    actual,
  );
}

// Consumes the tag if it is `tag`; otherwise TypeMismatch (or Deserialization for no tag at all).
function expectTag(r: Reader, s: Schema, tag: number): void {
  const at = r.pos;
  if (at >= r.end) throw deserErr(`input ends at offset ${at - r.base} where ${describeSchema(s)} was expected`);
  const got = r.u8[at]!;
  if (got === tag) {
    r.pos = at + 1;
    return;
  }
  if (got > Tag.Error) unknownTag(r, got, at);
  throw typeMismatchAt(r, describeSchema(s), actualName(r, at), at);
}

// A u8-length name compared byte for byte with `want` (a typed decoder does not validate, it compares).
function nameMatches(r: Reader, want: Uint8Array, what: string): { ok: boolean; at: number; n: number } {
  const at = r.pos;
  if (at >= r.end) needFail(r, 1, what, ' length');
  const n = r.u8[at]!;
  if (at + 1 + n > r.end) {
    r.pos = at + 1;
    needFail(r, n, what, '');
  }
  r.pos = at + 1 + n;
  let ok = n === want.length;
  for (let i = 0; ok && i < n; i++) ok = r.u8[at + 1 + i] === want[i];
  return { ok, at, n };
}

const kNameBytes = new WeakMap<StructSchema, { name: Uint8Array; fields: Uint8Array[] }>();
const kTextEncoder = new TextEncoder();
function namesOf(s: StructSchema): { name: Uint8Array; fields: Uint8Array[] } {
  let n = kNameBytes.get(s);
  if (n === undefined) {
    n = { name: kTextEncoder.encode(s.name), fields: (s.fields ?? []).map((f) => kTextEncoder.encode(f.name)) };
    kNameBytes.set(s, n);
  }
  return n;
}

// A map of `s`, whose keys must be unique.
function decMapAs(r: Reader, s: MapSchema, flags: number, depth: number): Map<unknown, unknown> {
  const at = r.pos;
  expectTag(r, s, Tag.Map);
  enterDec(r, at, depth);
  const count = readCount(r, 'map count', 2);
  const m = new Map<unknown, unknown>();
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const keyAt = r.pos;
    const k = decAs(r, s.key, flags, depth + 1);
    const keyEnd = r.pos;
    const v = decAs(r, s.value, flags, depth + 1);
    // Keys compare as values for primitives, by their bytes otherwise.
    const id = keyId(r.u8, keyAt, keyEnd, k);
    if (seen.has(id)) throw deserErr(`duplicate map key at offset ${keyAt - r.base}`);
    seen.add(id);
    m.set(k, v);
  }
  return m;
}

function decAs(r: Reader, s: Schema, flags: number, depth: number): unknown {
  const at = r.pos;
  switch (s.kind) {
    case 'scalar': {
      expectTag(r, s, s.tag);
      if (s.tag === Tag.Unit) return undefined;
      if (s.tag === Tag.Bool) return readFlag(r, 'bool byte');
      return readNumber(r, s.tag as NumberTag);
    }
    case 'string':
      expectTag(r, s, Tag.String);
      return readText(r, 'string');
    case 'bytes': {
      expectTag(r, s, Tag.Bytes);
      const n = readBlob(r, 'bytes');
      const p = r.pos - n;
      return flags & F_VIEW ? r.u8.subarray(p, p + n) : r.u8.slice(p, p + n);
    }
    case 'packed': {
      expectTag(r, s, Tag.Packed);
      if (peekPackedElem(r) !== s.elem) throw typeMismatchAt(r, describeSchema(s), actualName(r, at), at);
      return readPacked(r);
    }
    case 'array': {
      expectTag(r, s, Tag.Array);
      enterDec(r, at, depth);
      const count = readCount(r, 'array count', 1);
      const out = new Array<unknown>(count);
      for (let i = 0; i < count; i++) out[i] = decAs(r, s.item, flags, depth + 1);
      return out;
    }
    case 'tuple': {
      expectTag(r, s, Tag.Array);
      enterDec(r, at, depth);
      const n = s.items.length;
      const count = readU32(r, 'array count', '');
      if (count !== n) throw typeMismatchAt(r, `array of ${n}`, `array of ${count}`, at, `a fixed sequence of ${n} decodes only from an array of ${n}`);
      const out = new Array<unknown>(n);
      for (let i = 0; i < n; i++) out[i] = decAs(r, s.items[i]!, flags, depth + 1);
      return out;
    }
    case 'optional': {
      expectTag(r, s, Tag.Optional);
      enterDec(r, at, depth);
      if (!readFlag(r, 'optional flag')) return flags & F_OPTIONAL ? NONE : null;
      const v = decAs(r, s.value, flags, depth + 1);
      return flags & F_OPTIONAL ? new Some(v) : v;
    }
    case 'variant': {
      expectTag(r, s, Tag.Variant);
      enterDec(r, at, depth);
      const indexAt = r.pos;
      const index = readU32(r, 'variant index', '');
      if (index >= s.alts.length) {
        throw deserErr(`variant index ${index} at offset ${indexAt - r.base} is out of range for ${s.alts.length} alternatives`);
      }
      return new Variant(index, decAs(r, s.alts[index]!, flags, depth + 1));
    }
    case 'map':
      return decMapAs(r, s, flags, depth);
    case 'struct':
      return decStructAs(r, s, flags, depth);
    case 'error':
      expectTag(r, s, Tag.Error);
      return readErrorValue(r);
    case 'result':
      if (r.pos < r.end && r.u8[r.pos] === Tag.Error) {
        r.pos++;
        return readErrorValue(r);
      }
      return decAs(r, s.value, flags, depth);
  }
}

function keyId(u8: Uint8Array, start: number, end: number, k: unknown): string {
  // Primitive keys are their own identity; others use the key's encoding.
  switch (typeof k) {
    case 'string':
      return 's' + k;
    case 'number':
      return 'n' + (Object.is(k, -0) ? '-0' : String(k));
    case 'bigint':
      return 'b' + String(k);
    case 'boolean':
      return k ? 't' : 'f';
    case 'undefined':
      return 'u';
  }
  let s = 'x';
  for (let i = start; i < end; i++) s += String.fromCharCode(u8[i]!);
  return s;
}

function decStructAs(r: Reader, s: StructSchema, flags: number, depth: number): unknown {
  const at = r.pos;
  expectTag(r, s, Tag.Struct);
  enterDec(r, at, depth);
  const names = namesOf(s);
  const nm = nameMatches(r, names.name, 'struct name');
  if (!nm.ok) throw typeMismatchAt(r, `struct ${s.name}`, `struct ${printable(r.u8, nm.at + 1, nm.n)}`, at);
  const countAt = r.pos;
  if (countAt + 2 > r.end) needFail(r, 2, 'struct field count', '');
  const count = u16At(r.u8, countAt);
  r.pos = countAt + 2;
  const o: Record<string | symbol, unknown> = { [STRUCT_NAME]: s.name };
  if (s.fields === null) {
    // No body known: any fields, decoded generically.
    if (2 * count > r.end - r.pos) throw deserErr(`struct field count ${count} at offset ${countAt - r.base} needs at least ${2 * count} bytes but ${r.end - r.pos} bytes remain`);
    for (let i = 0; i < count; i++) {
      const fieldAt = r.pos;
      if (fieldAt >= r.end) needFail(r, 1, 'field name', ' length');
      const n = r.u8[fieldAt]!;
      r.pos++;
      if (r.pos + n > r.end) needFail(r, n, 'field name', '');
      const name = printable(r.u8, r.pos, n);
      r.pos += n;
      setField(o, name, decValue(r, flags, depth + 1));
    }
    return o;
  }
  const fields = s.fields;
  if (count !== fields.length) {
    throw typeMismatchAt(r, `struct ${s.name} with ${fields.length} fields`, `struct ${s.name} with ${count} fields`, countAt);
  }
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    const fm = nameMatches(r, names.fields[i]!, 'field name');
    if (!fm.ok) throw typeMismatchAt(r, `${s.name}.${f.name}`, `${s.name}.${printable(r.u8, fm.at + 1, fm.n)}`, fm.at);
    setField(o, f.name, decAs(r, f.type, flags, depth + 1));
  }
  return o;
}

/**
 * Decodes one value as a C++ decoder of `schema`'s type would, refusing
 * anything else: TypeMismatch for a value of another type ("type mismatch:
 * expected i32, got string at offset 10"), Deserialization for broken bytes,
 * an out-of-range variant index or a repeated map key. Values come back as
 * decode() gives them (numbers, bigint for 64-bit, null for none, ...); an
 * error value where `error` or `!T` allows one is returned as a FerryError.
 * With a Reader: decodes at its position and moves past the value; with
 * bytes: exactly one value, trailing bytes are Deserialization.
 */
export function decodeAs(input: Uint8Array | Reader, schema: Schema, opts?: DecodeOptions): unknown {
  const flags = flagsOf(opts) & ~F_TYPES; // typed decoding gives plain numbers
  if (input instanceof Reader) return decAs(input, schema, flags, 0);
  const r = borrowReader(input);
  try {
    const v = decAs(r, schema, flags, 0);
    trailingCheck(r);
    return v;
  } finally {
    releaseReader(r);
  }
}
