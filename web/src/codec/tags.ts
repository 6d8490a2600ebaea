// Wire tags and their names (core/CODEC.md "Tags"): the twin of WireTag in
// core/codec.hpp. Every module of the codec names tags through Tag.

/** The first byte of every value (core/CODEC.md "Tags"). */
export enum Tag {
  Unit = 0x00,
  Bool = 0x01,
  I8 = 0x02,
  U8 = 0x03,
  I16 = 0x04,
  U16 = 0x05,
  I32 = 0x06,
  U32 = 0x07,
  I64 = 0x08,
  U64 = 0x09,
  F32 = 0x0a,
  F64 = 0x0b,
  String = 0x0c,
  Bytes = 0x0d,
  Array = 0x0e,
  Packed = 0x0f,
  Optional = 0x10,
  Variant = 0x11,
  Map = 0x12,
  Struct = 0x13,
  Error = 0x14,
  /** core/CODEC.md "Schema form": u32 length, then a value's bare bytes, only at the top. */
  Schema = 0x15,
}

/** The number tags 0x02..0x0b. */
export type NumberTag = 0x02 | 0x03 | 0x04 | 0x05 | 0x06 | 0x07 | 0x08 | 0x09 | 0x0a | 0x0b;

/** Containers nest at most this deep, both ways (CODEC.md "Depth"). */
export const kMaxDepth = 64;

const kWireNames = [
  'unit', 'bool', 'i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u64', 'f32', 'f64',
  'string', 'bytes', 'array', 'packed', 'optional', 'variant', 'map', 'struct', 'error', 'schema',
];

/** The wire type name of a tag ("i32", "struct"), "unknown" past 0x15. */
export function wireName(tag: number): string {
  return tag >= 0 && tag < kWireNames.length ? kWireNames[tag]! : 'unknown';
}

/** True for 0x02..0x0b. */
export function isNumberTag(tag: number): tag is NumberTag {
  return tag >= Tag.I8 && tag <= Tag.F64;
}

/** Byte size of a number tag's payload. */
export function numberSize(tag: NumberTag): 1 | 2 | 4 | 8 {
  return tag <= Tag.U8 ? 1 : tag <= Tag.U16 ? 2 : tag <= Tag.U32 || tag === Tag.F32 ? 4 : 8;
}
