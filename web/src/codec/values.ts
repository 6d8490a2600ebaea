// The JavaScript side of wire types that JavaScript has no value for: Typed
// numbers, Some/NONE optionals, Variant, struct names; and describeJs, which
// names any JavaScript value in error messages.

import { FerryError, kindName } from '../errors.js';
import { Tag, wireName, type NumberTag } from './tags.js';

/** A number with its wire type chosen: build with i8() .. u64(), f32(), f64(). */
export class Typed {
  constructor(
    readonly tag: NumberTag,
    readonly value: number | bigint,
  ) {}
}
export const i8 = (v: number): Typed => new Typed(Tag.I8, v);
export const u8 = (v: number): Typed => new Typed(Tag.U8, v);
export const i16 = (v: number): Typed => new Typed(Tag.I16, v);
export const u16 = (v: number): Typed => new Typed(Tag.U16, v);
export const i32 = (v: number): Typed => new Typed(Tag.I32, v);
export const u32 = (v: number): Typed => new Typed(Tag.U32, v);
/** bigint, or a safe-integer number. */
export const i64 = (v: bigint | number): Typed => new Typed(Tag.I64, v);
/** bigint, or a safe-integer number. */
export const u64 = (v: bigint | number): Typed => new Typed(Tag.U64, v);
export const f32 = (v: number): Typed => new Typed(Tag.F32, v);
export const f64 = (v: number): Typed => new Typed(Tag.F64, v);
/** typed(Tag.I32, 5) is i32(5). */
export function typed(tag: NumberTag, v: number | bigint): Typed {
  return new Typed(tag, v);
}

/** A present optional: some(v). Decoded with preserveOptional (or preserveTypes). */
export class Some {
  constructor(readonly some: unknown) {}
}
export function some(v: unknown): Some {
  return new Some(v);
}
/** The absent optional. `null` encodes the same. */
export const NONE: Readonly<{ none: true }> = Object.freeze({ none: true as const });

/** A variant value: alternative `index` (0-based, as in the C++ std::variant) holding `value`. */
export class Variant {
  constructor(
    readonly index: number,
    readonly value: unknown,
  ) {}
}
export function variant(index: number, value: unknown): Variant {
  return new Variant(index, value);
}

/**
 * A schema-form value (tag 0x15, core/CODEC.md) as decode() gives it: its
 * bytes (the type's fingerprint, then the value bare), which only the type's
 * schema can read (decodeAs). It re-encodes to the same bytes.
 */
export class SchemaForm {
  constructor(readonly bytes: Uint8Array) {}
}

/** Where a struct object keeps its wire name. */
export const STRUCT_NAME: unique symbol = Symbol.for('ferry.struct');

/** A struct value whose fields are `fields` in their key order: struct('Point', {x: i32(1), y: i32(-2)}). */
export function struct<T extends object>(name: string, fields: T): T & { [STRUCT_NAME]: string } {
  const o = { [STRUCT_NAME]: name } as T & { [STRUCT_NAME]: string };
  for (const k of Object.keys(fields)) setField(o as Record<string, unknown>, k, (fields as Record<string, unknown>)[k]);
  return o;
}

/** @internal sets o[k], also for k "__proto__" (as an own field). */
export function setField(o: Record<string | symbol, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  else o[k] = v;
}

/** A short description of a JavaScript value for error messages: `number 1.5`, `array of 3`, `Int32Array of 2`. */
export function describeJs(v: unknown): string {
  switch (typeof v) {
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof v} ${String(v)}`;
    case 'string':
      return 'string';
    case 'undefined':
      return 'undefined';
    case 'symbol':
      return 'symbol';
    case 'function':
      return 'function';
  }
  if (v === null) return 'null';
  if (v === NONE) return 'NONE';
  if (v instanceof Typed) return `${wireName(v.tag)} ${String(v.value)}`;
  if (Array.isArray(v)) return `array of ${v.length}`;
  if (ArrayBuffer.isView(v)) {
    const name = (v as unknown as { [Symbol.toStringTag]?: string })[Symbol.toStringTag] ?? 'DataView';
    const len = (v as unknown as { length?: number }).length;
    return len === undefined ? `${name} of ${v.byteLength} bytes` : `${name} of ${len}`;
  }
  if (v instanceof Map) return `Map of ${v.size}`;
  if (v instanceof Some) return 'some';
  if (v instanceof Variant) return `variant ${v.index}`;
  if (v instanceof SchemaForm) return `schema form of ${v.bytes.length} bytes`;
  if (v instanceof FerryError) return `error ${kindName(v.kind)}`;
  if (v instanceof Error) return 'Error';
  const name = (v as Record<symbol, unknown>)[STRUCT_NAME];
  if (typeof name === 'string') return `struct ${name}`;
  const ctor = (v as { constructor?: { name?: unknown } }).constructor;
  const cname = ctor && typeof ctor.name === 'string' ? ctor.name : '';
  return cname && cname !== 'Object' ? cname : 'object';
}
