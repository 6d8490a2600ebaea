// The generic encoder: a JavaScript value to the wire, choosing the wire
// type from the value (the table at the top of codec.ts).

import { ErrorKind, FerryError, MessageTooLargeError, toFerryError } from '../errors.js';
import { countBytes, isRawBuffer, kEmptyDv, kEmptyU8, kOrigin, kOverflow, kScratchKeep, serErr } from './common.js';
import { kU32Max } from './numbers.js';
import { Tag, isNumberTag, numberSize } from './tags.js';
import { utf8Length } from './utf8.js';
import { NONE, STRUCT_NAME, SchemaForm, Some, Typed, Variant, describeJs } from './values.js';
import { Writer, bytesOf, enterEnc, packedTagOf, putBlob, putError, putName, putNumber, putPacked, putString, putTag, putTagFlag, putTagU32 } from './writer.js';

function encValue(w: Writer, v: unknown, depth: number): void {
  switch (typeof v) {
    case 'number': {
      if (w.pos + 9 > w.end) w.ensure(9);
      const p = w.pos;
      w.u8[p] = Tag.F64;
      w.dv.setFloat64(p + 1, v, true);
      w.pos = p + 9;
      return;
    }
    case 'string':
      putString(w, v);
      return;
    case 'boolean':
      putTagFlag(w, Tag.Bool, v);
      return;
    case 'undefined':
      putTag(w, Tag.Unit);
      return;
    case 'bigint':
      putNumber(w, Tag.I64, v);
      return;
    case 'object':
      encObject(w, v, depth);
      return;
    default:
      throw serErr(`cannot encode a ${typeof v}`);
  }
}

function encObject(w: Writer, v: object | null, depth: number): void {
  if (v === null || v === NONE) {
    enterEnc(depth);
    putTagFlag(w, Tag.Optional, false);
    return;
  }
  if (v instanceof Typed) {
    putNumber(w, v.tag, v.value);
    return;
  }
  if (Array.isArray(v)) {
    enterEnc(depth);
    const n = v.length;
    putTagU32(w, Tag.Array, n);
    for (let i = 0; i < n; i++) encValue(w, v[i], depth + 1);
    return;
  }
  if (ArrayBuffer.isView(v)) {
    if (v instanceof Uint8Array || v instanceof DataView) {
      putBlob(w, bytesOf(v)!);
      return;
    }
    const elem = packedTagOf(v);
    if (elem === 0) throw serErr(`cannot encode a ${describeJs(v)}`);
    putPacked(w, elem, v as ArrayBufferView & { length: number });
    return;
  }
  if (v instanceof Map) {
    enterEnc(depth);
    putTagU32(w, Tag.Map, v.size);
    for (const [k, x] of v) {
      encValue(w, k, depth + 1);
      encValue(w, x, depth + 1);
    }
    return;
  }
  if (v instanceof Some) {
    enterEnc(depth);
    putTagFlag(w, Tag.Optional, true);
    encValue(w, v.some, depth + 1);
    return;
  }
  if (v instanceof Variant) {
    enterEnc(depth);
    const index = v.index;
    if (!(Number.isInteger(index) && index >= 0 && index <= kU32Max)) {
      throw serErr(`variant index ${String(index)} is not an integer in 0..${kU32Max}`);
    }
    putTagU32(w, Tag.Variant, index);
    encValue(w, v.value, depth + 1);
    return;
  }
  if (v instanceof FerryError) {
    putError(w, v);
    return;
  }
  if (v instanceof SchemaForm) {
    putBlob(w, v.bytes, Tag.Schema);
    return;
  }
  if (isRawBuffer(v)) {
    putBlob(w, new Uint8Array(v));
    return;
  }
  if (v instanceof Error) {
    putError(w, toFerryError(v, ''));
    return;
  }
  if (v instanceof Set || v instanceof WeakMap || v instanceof WeakSet || v instanceof Date || v instanceof RegExp || v instanceof Promise) {
    throw serErr(`cannot encode a ${describeJs(v)} (use an Array, a Map or a plain object)`);
  }
  encStruct(w, v as Record<string | symbol, unknown>, depth);
}

function encStruct(w: Writer, o: Record<string | symbol, unknown>, depth: number): void {
  enterEnc(depth);
  const name = o[STRUCT_NAME] ?? '';
  if (typeof name !== 'string') throw serErr(`struct name is a ${describeJs(name)}, not a string`);
  putTag(w, Tag.Struct);
  putName(w, name, 'struct name');
  putFields(w, name, o, depth);
}

/**
 * @internal the u16 field count, then the name and value of each own field
 * of o, for struct `name` at `depth` whose tag and name are written
 * (src/schema/encode.ts uses it for a struct with no known body).
 */
export function putFields(w: Writer, name: string, o: Record<string | symbol, unknown>, depth: number): void {
  const keys = Object.keys(o);
  if (keys.length > 0xffff) throw serErr(`struct ${name} has ${keys.length} fields, more than the limit of 65535`);
  w.putU16(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    putName(w, k, 'field name');
    encValue(w, o[k], depth + 1);
  }
}

/**
 * Runs `body(w)` as the encoding of one top-level value: on failure the
 * partial value is removed again, and a slot that runs out of room becomes
 * MessageTooLarge naming the bytes needed (measured by running body again
 * into a growable writer).
 * @internal
 */
export function encodeTop(w: Writer, body: (w: Writer) => void): void {
  const start = w.pos;
  try {
    body(w);
  } catch (e) {
    w.pos = start;
    if (e === kOverflow) {
      const m = new Writer(Math.max(256, 2 * (w.end - w.base)));
      body(m);
      throw tooLarge(w, start - w.base + m.size);
    }
    throw e;
  }
}

function tooLarge(w: Writer, need: number): MessageTooLargeError {
  const holds = w.end - w.base;
  return new MessageTooLargeError(`encoding needs ${countBytes(need)} but the buffer holds ${holds} (${need - holds} more)`, kOrigin);
}

/** Appends one value to `w`. Throws Serialization or (a slot) MessageTooLarge; the writer then holds what it held before. */
export function encodeInto(w: Writer, value: unknown): void {
  const start = w.pos;
  try {
    encValue(w, value, 0);
  } catch (e) {
    w.pos = start;
    if (e === kOverflow) throw tooLarge(w, start - w.base + encodedSize(value));
    throw e;
  }
}

let scratchWriter: Writer | null = new Writer(4096);

/** One value as new bytes. */
export function encode(value: unknown): Uint8Array {
  const w = scratchWriter ?? new Writer(256);
  scratchWriter = null; // reentrant calls (from getters) get their own writer
  try {
    w.reset();
    encodeInto(w, value);
    return w.toUint8Array();
  } finally {
    scratchWriter = w.capacity <= kScratchKeep ? w : new Writer(4096);
  }
}

let slotWriter: Writer | null = null;

/**
 * Encodes one value directly into `slot` (for example a ring reservation)
 * and returns the bytes written. A slot that is too small: MessageTooLarge
 * "encoding needs N bytes but the buffer holds M (K more)"; bytes of the slot
 * past what fits may have been written.
 */
export function encodeToSlot(value: unknown, slot: Uint8Array): number {
  return encodeToRange(value, slot, 0, slot.length);
}

/**
 * encodeToSlot() into bytes[start, end) of `u8`; nothing is allocated when
 * `u8` views a whole buffer (Writer.rebindRange). Returns the bytes written.
 */
export function encodeToRange(value: unknown, u8: Uint8Array, start: number, end: number): number {
  const w = slotWriter ?? new Writer(16);
  slotWriter = null;
  try {
    w.rebindRange(u8, start, end);
    encodeInto(w, value);
    return w.pos - w.base;
  } finally {
    if (!w.shared) {
      w.u8 = kEmptyU8; // keep no ordinary buffer alive (shared ones are rings and wasm memory)
      w.dv = kEmptyDv;
    }
    w.base = w.pos = w.end = 0;
    slotWriter = w;
  }
}

/** Exact byte count encode(value) produces. Throws Serialization for values that have no encoding. */
export function encodedSize(value: unknown): number {
  return sizeOf(value, 0);
}

function sizeOf(v: unknown, depth: number): number {
  switch (typeof v) {
    case 'number':
      return 9;
    case 'string':
      return 5 + utf8Length(v);
    case 'boolean':
      return 2;
    case 'undefined':
      return 1;
    case 'bigint':
      return 9;
    case 'object':
      break;
    default:
      throw serErr(`cannot encode a ${typeof v}`);
  }
  if (v === null || v === NONE) return 2;
  if (v instanceof Typed) return isNumberTag(v.tag) ? 1 + numberSize(v.tag) : 1;
  if (ArrayBuffer.isView(v)) return (v instanceof Uint8Array || v instanceof DataView ? 5 : 6) + v.byteLength;
  if (isRawBuffer(v)) return 5 + v.byteLength;
  if (v instanceof SchemaForm) return 5 + v.bytes.length;
  if (v instanceof Error) {
    const e = toFerryError(v, '');
    const n = 10 + utf8Length(String(e.message)) + utf8Length(String(e.origin ?? ''));
    if (e.kind !== ErrorKind.TypeMismatch) return n;
    const m = e as { expected?: unknown; actual?: unknown };
    return n + 8 + utf8Length(String(m.expected ?? '')) + utf8Length(String(m.actual ?? ''));
  }
  enterEnc(depth);
  if (Array.isArray(v)) {
    let n = 5;
    for (let i = 0; i < v.length; i++) n += sizeOf(v[i], depth + 1);
    return n;
  }
  if (v instanceof Map) {
    let n = 5;
    for (const [k, x] of v) n += sizeOf(k, depth + 1) + sizeOf(x, depth + 1);
    return n;
  }
  if (v instanceof Some) return 2 + sizeOf(v.some, depth + 1);
  if (v instanceof Variant) return 5 + sizeOf(v.value, depth + 1);
  const o = v as Record<string | symbol, unknown>;
  const name = o[STRUCT_NAME];
  let n = 4 + (typeof name === 'string' ? utf8Length(name) : 0);
  for (const k of Object.keys(o)) n += 1 + utf8Length(k) + sizeOf(o[k], depth + 1);
  return n;
}
