// The schema objects every part of the schema works on: a parsed type
// (core/CODEC.md "Schemas") and a task signature, plus the origin that the
// errors of parsing and encoding carry.

import type { NumberTag } from '../codec/tags.js';

/** @internal the origin of parse and encode errors (decode errors carry the codec's). */
export const kOrigin = 'web/schema';

export type ScalarName = 'unit' | 'bool' | 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64' | 'f32' | 'f64';

export interface ScalarSchema {
  readonly kind: 'scalar';
  readonly name: ScalarName;
  /** The wire tag: Tag.Unit, Tag.Bool or a number tag (Tag.I8..Tag.F64). */
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
