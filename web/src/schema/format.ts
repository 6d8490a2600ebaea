// Schemas as text again: the wire type name a C++ decoder expects (for
// TypeMismatch messages) and the grammar text a schema was parsed from.

import { wireName } from '../codec.js';
import type { Schema, Signature, StructSchema } from './types.js';

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
