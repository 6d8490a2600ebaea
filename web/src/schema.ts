// Schemas: a C++ type's wire shape as text (core/CODEC.md "Schemas",
// core/schema.hpp), so that JavaScript can turn plain values into exactly the
// wire types a C++ task decodes (C++ decoders never convert: a JS number must
// travel as i32 for an `int` parameter), and check what comes back.
//
//   const sig = parseSignature('call add (i32,i32) -> i32');
//   const bytes = encodeArgs(sig, [1, 2]);          // array [i32 1, i32 2]
//   const sum = decodeAs(resultBytes, sig.result!); // 3, or TypeMismatch
//   encodeSchemaForm(w, parseType('struct Point{x:i32,y:i32}'), {x: 1, y: -2}); // 0x15 + 8 bytes
//
// Loaded only where signatures are known: pool.ts imports it dynamically
// for tasks with signatures, and wasm-backend.ts (itself imported
// dynamically) parses the ones a wasm module publishes. The implementation
// lives in schema/, one concern per module (imports only go down this list):
//   types.ts     the Schema objects and Signature
//   parse.ts     the grammar, and parsing types and signature lines
//   format.ts    schemas as text: wire type names and the grammar again
//   mismatch.ts  TypeMismatch errors of the encoder (with a path) and decoder (with an offset)
//   encode.ts    plain JavaScript values to the wire, strictly (the conversion table)
//   compile.ts   the schema form (tag 0x15): per-schema bare encoders and decoders
//   decode.ts    the wire to values, as a C++ decoder of the type would (either form)
// web/build.mjs bundles them into one dist/schema.js, with codec/tags.ts so
// that wire tags are constants; the rest of the codec stays an import of
// dist/codec.js (one instance of its scratch readers and writers).

export type {
  ScalarName,
  ScalarSchema,
  StringSchema,
  BytesSchema,
  PackedSchema,
  ArraySchema,
  TupleSchema,
  OptionalSchema,
  VariantSchema,
  MapSchema,
  StructField,
  StructSchema,
  ErrorSchema,
  ResultSchema,
  Schema,
  Signature,
} from './schema/types.js';
export { parseType, parseSignature, parseSignatures } from './schema/parse.js';
export { describeSchema, formatSchema, formatSignature } from './schema/format.js';
export { encodeAs, encodeSchema, encodeArgsInto, encodeArgs } from './schema/encode.js';
export { encodeSchemaForm, encodeArgsSchemaForm, hasSchemaForm, prefersSchemaForm, fingerprint as schemaFingerprint, useGeneratedCode } from './schema/compile.js';
export { decodeAs, decodeAsFirst, decodeAsRange } from './schema/decode.js';
