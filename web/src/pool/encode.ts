// Where a call is encoded: the head of a call or stream record (its header
// and task name, web/PROTOCOL.md) and the codecs its arguments, stream
// values and result go through — plain codec values for JavaScript workers;
// for wasm workers, a task's published signature, in the schema form
// (core/CODEC.md) where its types allow. send.ts writes the record.

import { Tag, Writer } from '../codec.js';
import { InvalidArgumentError } from '../errors.js';
import { kCallHeaderBytes, kMaxNameBytes, kStreamHeaderBytes, putCallHeader, putStreamHeader } from '../protocol.js';
import type { Signature } from '../schema.js';
import { RecordWriter, decodeRecordValue, plainCodec, type ValueCodec } from '../records.js';
import type { StreamChannels } from '../transport.js';
import { kOrigin } from './common.js';

export type SchemaModule = typeof import('../schema.js');

/** How one task's values are encoded: its arguments, a stream's input and output, and how its result decodes. */
export interface TaskCodecs {
  args: ValueCodec;
  input: ValueCodec;
  output: ValueCodec;
  /**
   * The value of a result record, bytes[start, end): what the task answered,
   * or the error it failed with. `owned`: bytes are the caller's for good
   * (a block or a record put together from parts), so the value's byte
   * arrays may be views of them.
   */
  result(bytes: Uint8Array, start: number, end: number, owned: boolean): unknown;
}

const utf8 = new TextEncoder();

export class CallEncoder {
  /** The record being written: head[0, headLen) from putHead(), arguments after it. */
  head = new Uint8Array(256);
  readonly records = new RecordWriter();
  /** Set once create() has loaded it, when the workers published signatures (wasm). */
  schema: SchemaModule | null = null;
  private readonly names = new Map<string, Uint8Array>();
  private readonly codecs = new Map<string, TaskCodecs>();

  constructor(private readonly signatures: Map<string, Signature> | null) {}

  /** The task name's UTF-8 bytes (cached); throws past kMaxNameBytes (65535). */
  nameBytes(name: string): Uint8Array {
    let b = this.names.get(name);
    if (b === undefined) {
      b = utf8.encode(name);
      if (b.length > kMaxNameBytes) throw new InvalidArgumentError(`task name of ${b.length} bytes exceeds the limit of ${kMaxNameBytes}`, kOrigin);
      if (this.names.size < 4096) this.names.set(name, b);
    }
    return b;
  }

  codecsOf(name: string): TaskCodecs {
    if (this.schema === null) return kPlainCodecs;
    let c = this.codecs.get(name);
    if (c === undefined) {
      c = schemaCodecs(this.schema, this.signatures!.get(name)!);
      this.codecs.set(name, c);
    }
    return c;
  }

  /** Writes call `id`'s record head into head (a stream's when ch is given); returns its length. */
  putHead(id: number, nameBytes: Uint8Array, ch: StreamChannels | null): number {
    const headerBytes = ch !== null ? kStreamHeaderBytes : kCallHeaderBytes;
    const headLen = headerBytes + nameBytes.length;
    if (this.head.length < headLen) this.head = new Uint8Array(2 * headLen);
    const h = this.head;
    if (ch !== null) putStreamHeader(h, id, ch.inWire, ch.outWire, nameBytes.length);
    else putCallHeader(h, id, nameBytes.length);
    h.set(nameBytes, headerBytes);
    return headLen;
  }
}

const kPlainCodecs: TaskCodecs = { args: plainCodec, input: plainCodec, output: plainCodec, result: decodeRecordValue };

// The schema encoder has no size pass: a value's size is found by encoding
// it, into one writer kept between calls (up to kSizeKeep bytes), so that
// sizing a large argument costs neither a fresh buffer each time nor the
// copies of a writer growing from nothing.
let sizeWriter: Writer | null = new Writer(4096);
const kSizeKeep = 4 << 20;

function sizeOf(body: (w: Writer, value: unknown) => void, value: unknown): number {
  const w = sizeWriter ?? new Writer(256);
  sizeWriter = null; // a getter that sizes another value gets its own writer
  try {
    w.reset();
    body(w, value);
    return w.size;
  } finally {
    sizeWriter = w.capacity <= kSizeKeep ? w : new Writer(4096);
  }
}

// Codecs that encode with a task's published signature (wasm workers), so
// that a JavaScript number becomes the i32 the C++ task takes; they encode
// straight into the ring's reservation. Values that hold structs travel in
// the schema form both ways (prefersSchemaForm; all of a C++ task's structs
// have bodies); C++ decodes either form. A task's failure comes back as a
// tagged error.
function schemaCodecs(mod: SchemaModule, sig: Signature): TaskCodecs {
  const slotWriter = new Writer(16);
  const via = (body: (w: Writer, value: unknown) => void, decodeAt: ValueCodec['decodeAt']): ValueCodec => {
    const c: ValueCodec = {
      encodeAt(value, bytes, start, end) {
        slotWriter.rebindRange(bytes, start, end);
        body(slotWriter, value);
        return slotWriter.size;
      },
      encode(value) {
        const w = new Writer(256);
        body(w, value);
        return w.toUint8Array();
      },
      size: (value) => sizeOf(body, value),
      decodeAt,
    };
    return c;
  };
  const element = (schema: Signature['input']): ValueCodec => {
    if (schema === undefined) return plainCodec;
    const context = `stream '${sig.name}'`;
    return via(
      mod.prefersSchemaForm(schema) ? (w, v) => mod.encodeSchemaForm(w, schema, v, context) : (w, v) => mod.encodeAs(w, schema, v, context),
      (bytes, start, end, next) => mod.decodeAsFirst(bytes, start, end, next, schema),
    );
  };
  const argsForm = sig.args.every((a) => mod.hasSchemaForm(a)) && sig.args.some((a) => mod.prefersSchemaForm(a));
  const answer = sig.result;
  return {
    args: via((w, args) => (argsForm ? mod.encodeArgsSchemaForm : mod.encodeArgsInto)(w, sig, args as unknown[]), plainCodec.decodeAt),
    input: element(sig.input),
    output: element(sig.output),
    result: (bytes, start, end, owned) => {
      if (answer === undefined || bytes[start] === Tag.Error) return decodeRecordValue(bytes, start, end, owned);
      return mod.decodeAsRange(bytes, start, end, answer);
    },
  };
}
