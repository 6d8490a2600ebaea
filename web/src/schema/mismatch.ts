// How a value that does not fit its schema is reported, both ways: the
// Mismatch an encoder throws and the path it collects on the way out (made
// a TypeMismatchError at the top), and the TypeMismatchError a decoder
// gives at an offset, naming what the bytes hold.

import { decodeLongUtf8, describeJs, hex2, isNumberTag, kCodecOrigin, wireName, type Reader } from '../codec.js';
// Tag comes from codec/tags.ts itself, not codec.js: build.mjs bundles that
// file into dist/schema.js, so its members are constants here.
import { Tag } from '../codec/tags.js';
import { TypeMismatchError } from '../errors.js';
import { describeSchema } from './format.js';
import { kOrigin, type Schema } from './types.js';

// Thrown inside encodeAs; the top level turns it into a TypeMismatchError with
// the context and the path to the offending part.
export class Mismatch {
  readonly path: string[] = [];
  constructor(
    readonly expected: string,
    readonly actual: string,
    /** Why a strict rule refused it, for the message. */
    readonly note = '',
  ) {}
}

/** A Mismatch between schema `s` and the value v. */
export function mismatch(s: Schema, v: unknown, note = ''): Mismatch {
  return new Mismatch(describeSchema(s), describeJs(v), note);
}

/** Adds a path segment ("[2]", ".x") to a Mismatch passing through; returns e. */
export function withPath(e: unknown, seg: string): unknown {
  if (e instanceof Mismatch) e.path.push(seg);
  return e;
}

/** The error a Mismatch becomes: "<context>: type mismatch: expected i32, got string at points[2].x". */
export function toTypeMismatch(e: Mismatch, context: string): TypeMismatchError {
  const path = e.path.reverse().join('');
  const where = path === '' ? '' : ` at ${path.startsWith('.') ? path.slice(1) : path}`;
  const prefix = context === '' ? '' : `${context}: `;
  const note = e.note === '' ? '' : ` (${e.note})`;
  return new TypeMismatchError(`${prefix}type mismatch: expected ${e.expected}, got ${e.actual}${where}${note}`, kOrigin, e.expected, e.actual);
}

/** Wire text for messages, escaping bytes that are not valid UTF-8 as \xNN. */
export function printable(u8: Uint8Array, start: number, n: number): string {
  const text = decodeLongUtf8(u8, start, n);
  if (text !== null) return text;
  let s = '';
  for (let i = 0; i < n; i++) {
    const b = u8[start + i]!;
    s += b < 0x80 ? String.fromCharCode(b) : `\\x${hex2(b)}`;
  }
  return s;
}

/** Best-effort wire type name of the value at absolute `at` ("i32[]", "struct Pt"). */
export function actualName(r: Reader, at: number): string {
  const tag = r.u8[at]!;
  if (tag === Tag.Packed && at + 1 < r.end && isNumberTag(r.u8[at + 1]!)) return `${wireName(r.u8[at + 1]!)}[]`;
  if (tag === Tag.Struct && at + 1 < r.end) {
    const n = r.u8[at + 1]!;
    if (r.end - (at + 2) >= n) return `struct ${printable(r.u8, at + 2, n)}`;
  }
  return wireName(tag);
}

/** TypeMismatch "type mismatch: expected i32, got string at offset 10" for the value at absolute `at`. */
export function typeMismatchAt(r: Reader, expected: string, actual: string, at: number, detail = ''): TypeMismatchError {
  return new TypeMismatchError(
    `type mismatch: expected ${expected}, got ${actual} at offset ${at - r.base}${detail ? ` (${detail})` : ''}`,
    kCodecOrigin,
    expected,
    actual,
  );
}
