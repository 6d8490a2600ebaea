// Parsing schema text: one type (parseType) or a task signature line
// (parseSignature, parseSignatures), as core/schema.hpp writes them.
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

// Tag comes from codec/tags.ts itself, not codec.js: build.mjs bundles that
// file into dist/schema.js, so its members are constants here.
import { Tag, type NumberTag } from '../codec/tags.js';
import { InvalidArgumentError } from '../errors.js';
import { kOrigin, type ScalarName, type Schema, type Signature, type StructField, type StructSchema } from './types.js';

const kScalarTags: Record<ScalarName, number> = {
  unit: Tag.Unit, bool: Tag.Bool, i8: Tag.I8, u8: Tag.U8, i16: Tag.I16, u16: Tag.U16,
  i32: Tag.I32, u32: Tag.U32, i64: Tag.I64, u64: Tag.U64, f32: Tag.F32, f64: Tag.F64,
};

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
