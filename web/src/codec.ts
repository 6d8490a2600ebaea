// ferry wire codec for JavaScript: the twin of core/codec.hpp.
//
// The bytes are the contract of core/CODEC.md (golden vectors in
// tests/golden/codec.txt); this file only chooses how JavaScript values map to
// them. Decoding needs no schema (every value is tagged); encoding picks the
// wire type from the JavaScript value:
//
//   JavaScript                                  wire
//   undefined                                   unit
//   boolean                                     bool
//   number                                      f64 (use i32(v), u8(v), ... for other number types)
//   bigint                                      i64
//   Typed (i8() .. u64(), f32(), f64())         that number type
//   string                                      string (lone surrogates refused)
//   Uint8Array, DataView, ArrayBuffer,
//   SharedArrayBuffer                           bytes
//   Int8Array, Uint8ClampedArray (u8), Int16Array, Uint16Array, Int32Array,
//   Uint32Array, BigInt64Array, BigUint64Array,
//   Float32Array, Float64Array                  packed
//   Array                                       array
//   null, NONE / Some (some(v))                 optional none / some
//   Variant (variant(i, v))                     variant
//   Map                                         map (any keys)
//   plain object, struct(name, fields)          struct (name under STRUCT_NAME; '' when absent)
//   FerryError (other Error: JsException)       error
//   SchemaForm (decoded from tag 0x15)          schema form (its bytes; decodeAs reads them)
//
// Decoding gives the same JavaScript types back, with plain numbers for the
// 32-bit-and-smaller types and f32/f64, bigint for i64/u64, null for none and
// the value itself for some(v) (so some(none) and none both give null). Pass
// { preserveTypes: true } to get Typed numbers and Some/NONE optionals, which
// re-encode to the same bytes.
//
// Guarantees:
// - Every failure throws a FerryError: Serialization (a value that has no
//   encoding), MessageTooLarge (a fixed slot that is too small), or
//   Deserialization (bytes that break a rule of CODEC.md, with the offset).
// - Decoding never reads outside its input, checks every count against the
//   bytes that remain before allocating, and nests at most 64 containers.
// - A Writer keeps one DataView over its whole buffer and works with absolute
//   offsets, so rebinding it to another slot of the same buffer (another ring
//   record) allocates nothing. A Reader reads the input's bytes directly and
//   allocates nothing either.
// - Everything is synchronous. encode/decode stay correct when a getter they
//   run calls them again (the shared scratch writer/reader is lent out once).
//
// The implementation lives in codec/, one concern per module (imports only
// go down this list):
//   tags.ts     wire tags and their names
//   common.ts   error constructors, platform facts, byte accessors
//   values.ts   Typed, Some/NONE, Variant, struct names; describeJs
//   numbers.ts  number ranges and raw number payloads
//   utf8.ts     UTF-8 encoding, decoding and validation
//   writer.ts   Writer and the put* primitives
//   reader.ts   Reader and the read* primitives
//   encode.ts   the generic encoder (value -> bytes)
//   text.ts     validation without decoding, and the text form
//   decode.ts   the generic decoder (bytes -> value)

export { Tag, kMaxDepth, wireName, isNumberTag, numberSize, type NumberTag } from './codec/tags.js';
export { SchemaForm, Typed, i8, u8, i16, u16, i32, u32, i64, u64, f32, f64, typed, Some, some, NONE, Variant, variant, STRUCT_NAME, struct, describeJs } from './codec/values.js';
export { utf8Length } from './codec/utf8.js';
export {
  Writer,
  putNumber,
  putString,
  putName,
  putBlob,
  putTagU32,
  enterEnc,
  putError,
  packedTagOf,
  putPacked,
  bytesOf,
} from './codec/writer.js';
export {
  Reader,
  enterDec,
  readTag,
  unknownTag,
  readFlag,
  readU32,
  readCount,
  readBlob,
  readText,
  readName,
  readErrorKind,
  readPacked,
  readNumber,
  readErrorValue,
  readFieldCount,
  trailingCheck,
  borrowReader,
  releaseReader,
} from './codec/reader.js';
export { encodeTop, encodeInto, encode, encodeToSlot, encodeToRange, encodedSize } from './codec/encode.js';
export { skipValue, describe, formatNumber, quoteText } from './codec/text.js';
export { decodeFrom, decodeRange, decodeFirst, valueEnd, decode, type DecodeOptions } from './codec/decode.js';

// For schema/, which is built from the same primitives (@internal: not
// part of the package's API; dist/codec.js is one module, see web/build.mjs).
export { deserErr, hex2, kOrigin as kCodecOrigin, kScratchKeep, u32At } from './codec/common.js';
export { F_OPTIONAL, F_TYPES, F_VIEW, flagsOf, readFields } from './codec/decode.js';
export { putFields } from './codec/encode.js';
export { kI64Hi, kI64Lo, kIntHi, kIntLo, kU64Hi, writeRaw } from './codec/numbers.js';
export { nameBytes, needFail, peekPackedElem, readPackedOf, readSchemaForm } from './codec/reader.js';
export { decodeLongUtf8, kEncoder } from './codec/utf8.js';
export { setField } from './codec/values.js';
export { putBlobBody, putErrorBody, putPackedHead, putTag, putTagFlag, putText } from './codec/writer.js';
