// The text form (core/CODEC.md "Text form") and validation without decoding:
// one walker checks every rule decode checks, and prints the value when asked.

import { ErrorKind, kindName } from '../errors.js';
import { hex2 } from './common.js';
import { kScratchF64, kScratchU64, readRaw } from './numbers.js';
import {
  borrowReader,
  enterDec,
  readBlob,
  readCount,
  readErrorKind,
  readFieldCount,
  readFlag,
  readName,
  readNumber,
  readSchemaForm,
  readTag,
  readText,
  readU32,
  releaseReader,
  skipName,
  skipPacked,
  skipText,
  trailingCheck,
  unknownTag,
  type Reader,
} from './reader.js';
import { Tag, numberSize, wireName, type NumberTag } from './tags.js';

/** Validates the value at the reader's position (every rule decode applies) and moves past it. */
export function skipValue(r: Reader): void {
  walk(r, 0, null);
}

/** The text form of exactly one value (core/CODEC.md "Text form"): `struct Point {x: i32 1, y: i32 -2}`. */
export function describe(bytes: Uint8Array | ArrayBuffer): string {
  const r = borrowReader(bytes);
  try {
    const out = { s: '' };
    walk(r, 0, out);
    trailingCheck(r);
    return out.s;
  } finally {
    releaseReader(r);
  }
}

/** The text of one decoded-number payload, as describe prints it (without the tag name). */
export function formatNumber(tag: NumberTag, v: number | bigint): string {
  if (tag === Tag.F32) return formatF32(v as number);
  if (tag === Tag.F64) return formatF64(v as number);
  return String(v);
}

function formatF64(x: number): string {
  return x === 0 && 1 / x < 0 ? '-0' : String(x);
}

function formatF32(x: number): string {
  if (x === 0) return 1 / x < 0 ? '-0' : '0';
  if (!Number.isFinite(x)) return String(x);
  // The C++ side takes the shortest printf("%.*e") that strtof reads back as x.
  // toExponential rounds exact ties up where printf rounds them to even, so
  // an odd last digit of an exact tie steps down.
  const ax = Math.abs(x);
  for (let p = 1; p <= 9; p++) {
    let s = ax.toExponential(p - 1);
    const e = s.indexOf('e');
    const last = s.charCodeAt(e - 1) - 48;
    if (last & 1 && isExactTie(ax, s, e)) s = s.slice(0, e - 1) + String.fromCharCode(47 + last) + s.slice(e);
    const y = Number(s);
    if (Math.fround(y) === ax) return (x < 0 ? '-' : '') + String(y);
  }
  return String(x);
}

// True when ax lies exactly halfway between the decimal `s` (d.ddd e±x, its
// exponent at index e) and the decimal one unit of its last digit below.
function isExactTie(ax: number, s: string, e: number): boolean {
  const digits = BigInt(s.slice(0, e).replace('.', ''));
  const k = Number(s.slice(e + 1)) - (e > 1 ? e - 2 : 0); // value = digits * 10^k
  kScratchF64[0] = ax;
  const bits = kScratchU64[0]!;
  const biased = Number(bits >> 52n);
  const frac = bits & ((1n << 52n) - 1n);
  const m = biased === 0 ? frac : frac | (1n << 52n);
  const exp = (biased === 0 ? -1074 : biased - 1075) + 1; // 2 * ax = m * 2^exp
  let lhs = m;
  let rhs = 2n * digits - 1n; // 2 * midpoint = (2 * digits - 1) * 10^k
  if (exp >= 0) lhs <<= BigInt(exp);
  else rhs <<= BigInt(-exp);
  if (k >= 0) rhs *= 10n ** BigInt(k);
  else lhs *= 10n ** BigInt(-k);
  return lhs === rhs;
}

/** Quoted text of the text form: "h\u{e9}llo". */
export function quoteText(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) {
      out += c === 0x22 ? '\\"' : c === 0x5c ? '\\\\' : s[i];
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    out += `\\u{${c.toString(16)}}`;
  }
  return out + '"';
}

const kIdent = /^[A-Za-z_][A-Za-z0-9_]*$/;
function nameText(s: string): string {
  return kIdent.test(s) ? s : quoteText(s);
}

type Out = { s: string } | null;

/**
 * @internal The generic walker: validates one value (every rule decode
 * applies) and moves past it; appends its text to out unless null.
 */
export function walk(r: Reader, depth: number, out: Out): void {
  const at = r.pos;
  const tag = readTag(r);
  switch (tag) {
    case Tag.Unit:
      if (out) out.s += 'unit';
      return;
    case Tag.Bool: {
      const b = readFlag(r, 'bool byte');
      if (out) out.s += b ? 'bool true' : 'bool false';
      return;
    }
    case Tag.I8: case Tag.U8: case Tag.I16: case Tag.U16: case Tag.I32: case Tag.U32:
    case Tag.I64: case Tag.U64: case Tag.F32: case Tag.F64: {
      const v = readNumber(r, tag as NumberTag);
      if (out) out.s += `${wireName(tag)} ${formatNumber(tag as NumberTag, v)}`;
      return;
    }
    case Tag.String:
      if (out) out.s += 'string ' + quoteText(readText(r, 'string'));
      else skipText(r, 'string');
      return;
    case Tag.Bytes:
      return printBytes(r, out, 'bytes', readBlob(r, 'bytes'));
    case Tag.Array: {
      enterDec(r, at, depth);
      const count = readCount(r, 'array count', 1);
      if (out) out.s += 'array [';
      for (let i = 0; i < count; i++) {
        if (out && i) out.s += ', ';
        walk(r, depth + 1, out);
      }
      if (out) out.s += ']';
      return;
    }
    case Tag.Packed:
      return walkPacked(r, out);
    case Tag.Optional: {
      enterDec(r, at, depth);
      if (!readFlag(r, 'optional flag')) {
        if (out) out.s += 'none';
        return;
      }
      if (out) out.s += 'some(';
      walk(r, depth + 1, out);
      if (out) out.s += ')';
      return;
    }
    case Tag.Variant: {
      enterDec(r, at, depth);
      const index = readU32(r, 'variant index', '');
      if (out) out.s += `variant ${index}(`;
      walk(r, depth + 1, out);
      if (out) out.s += ')';
      return;
    }
    case Tag.Map:
      enterDec(r, at, depth);
      return walkMap(r, depth + 1, out);
    case Tag.Struct: {
      enterDec(r, at, depth);
      const name = out ? readName(r, 'struct name') : skipName(r, 'struct name');
      const count = readFieldCount(r);
      if (out) out.s += `struct ${nameText(name)} {`;
      for (let i = 0; i < count; i++) {
        const field = out ? readName(r, 'field name') : skipName(r, 'field name');
        if (out) out.s += `${i ? ', ' : ''}${nameText(field)}: `;
        walk(r, depth + 1, out);
      }
      if (out) out.s += '}';
      return;
    }
    case Tag.Error:
      return walkError(r, out);
    case Tag.Schema: // a fingerprint and bare bytes: only a schema can read them (CODEC.md "Schema form")
      return printBytes(r, out, 'schema', readSchemaForm(r));
    default:
      unknownTag(r, tag, at);
  }
}

// A map's payload; its keys and values are `depth` levels deep.
function walkMap(r: Reader, depth: number, out: Out): void {
  const count = readCount(r, 'map count', 2);
  if (out) out.s += 'map {';
  for (let i = 0; i < count; i++) {
    if (out && i) out.s += ', ';
    walk(r, depth, out);
    if (out) out.s += ': ';
    walk(r, depth, out);
  }
  if (out) out.s += '}';
}

// `label [de ad]`: the n bytes just read (a bytes value, or a schema form's).
function printBytes(r: Reader, out: Out, label: string, n: number): void {
  if (out) {
    const p = r.pos - n;
    let s = `${label} [`;
    for (let i = 0; i < n; i++) s += (i ? ' ' : '') + hex2(r.u8[p + i]!);
    out.s += s + ']';
  }
}

function walkPacked(r: Reader, out: Out): void {
  const data = skipPacked(r);
  if (!out) return;
  const elem = r.u8[data - 5]! as NumberTag; // the element tag, then the u32 count
  const size = numberSize(elem);
  let s = `${wireName(elem)}[] [`;
  for (let p = data; p < r.pos; p += size) s += (p > data ? ', ' : '') + formatNumber(elem, readRaw(r.u8, elem, p));
  out.s += s + ']';
}

function walkError(r: Reader, out: Out): void {
  const kind = readErrorKind(r);
  if (!out) {
    skipText(r, 'error message');
    skipText(r, 'error origin');
    if (kind === ErrorKind.TypeMismatch) {
      skipText(r, 'error expected type');
      skipText(r, 'error actual type');
    }
    return;
  }
  const message = readText(r, 'error message');
  const origin = readText(r, 'error origin');
  out.s += `error ${kindName(kind)}(${quoteText(message)}, ${quoteText(origin)}`;
  if (kind === ErrorKind.TypeMismatch) {
    const expected = readText(r, 'error expected type');
    const actual = readText(r, 'error actual type');
    out.s += `, ${quoteText(expected)}, ${quoteText(actual)}`;
  }
  out.s += ')';
}
