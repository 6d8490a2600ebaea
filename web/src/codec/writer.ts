// Writer, and the put* primitives that write one wire value (or a value's
// header) into it: what the generic encoder (encode.ts) and the schema
// encoder (src/schema/encode.ts) are built from.

import { ErrorKind, FerryError, isErrorKind } from '../errors.js';
import { hex2, isRawBuffer, isSharedBuffer, kLittleEndian, kOverflow, serErr } from './common.js';
import { badNumber, bigOf, intOf, kU32Max, kU64Hi, writeRaw } from './numbers.js';
import { Tag, isNumberTag, kMaxDepth, numberSize } from './tags.js';
import { encodeForCopy, kEncoder, kShortSharedText, kShortText, loneSurrogate, loneSurrogateErr, utf8Length } from './utf8.js';
import { describeJs } from './values.js';

/**
 * Appends encoded values to a growable buffer (new Writer()), or writes into
 * a fixed slot (Writer.over(slot)) without touching a byte outside it. The
 * put* methods are the low level for record headers; all positions are
 * relative to the start of the writer's bytes.
 */
export class Writer {
  /** @internal the whole underlying buffer */ u8: Uint8Array;
  /** @internal */ dv: DataView;
  /** @internal absolute offset of byte 0 */ base: number;
  /** @internal absolute write position */ pos: number;
  /** @internal absolute end of the room */ end: number;
  /** @internal a slot: never grows */ fixed: boolean;
  /** @internal u8 is a view of shared memory (a ring, wasm memory) */ shared: boolean;

  constructor(initialCapacity = 256) {
    const ab = new ArrayBuffer(Math.max(16, initialCapacity | 0));
    this.u8 = new Uint8Array(ab);
    this.dv = new DataView(ab);
    this.base = 0;
    this.pos = 0;
    this.end = ab.byteLength;
    this.fixed = false;
    this.shared = false;
  }

  /** A writer that fills `slot` (for example a ring reservation) and never grows. */
  static over(slot: Uint8Array): Writer {
    const w = new Writer(16);
    w.rebind(slot);
    return w;
  }

  /** Makes this writer fill `slot` from its start; allocates nothing when slot shares the buffer of the last slot. */
  rebind(slot: Uint8Array): void {
    const ab = slot.buffer;
    if (this.dv.buffer !== ab) {
      this.u8 = new Uint8Array(ab);
      this.dv = new DataView(ab);
      this.shared = isSharedBuffer(ab);
    }
    this.base = slot.byteOffset;
    this.pos = this.base;
    this.end = this.base + slot.byteLength;
    this.fixed = true;
  }

  /**
   * Makes this writer fill bytes[start, end) of `u8`, a view of a whole
   * buffer (a ring's, a channel chunk's): nothing is allocated once it has
   * seen that view. Any other view is taken as a slot (rebind).
   */
  rebindRange(u8: Uint8Array, start: number, end: number): void {
    // The same view as last time (a stream's values, one after another) was
    // checked then; looking at its buffer again costs more than the writes.
    if (this.u8 !== u8) {
      const ab = u8.buffer; // one look: each costs about 25 ns, once per value sent over postMessage
      if (u8.byteOffset !== 0 || u8.byteLength !== ab.byteLength) {
        this.rebind(u8.subarray(start, end));
        return;
      }
      this.u8 = u8;
      this.dv = new DataView(ab);
      this.shared = isSharedBuffer(ab);
    }
    this.base = start;
    this.pos = start;
    this.end = end;
    this.fixed = true;
  }

  /** Bytes written so far. */
  get size(): number {
    return this.pos - this.base;
  }
  /** Bytes that fit without growing (a slot's length). */
  get capacity(): number {
    return this.end - this.base;
  }
  /** The bytes written: a view that stays valid until the next write or reset. */
  bytes(): Uint8Array {
    return this.u8.subarray(this.base, this.pos);
  }
  /** A copy of the bytes written. */
  toUint8Array(): Uint8Array {
    return this.u8.slice(this.base, this.pos);
  }
  /** Forgets everything written (keeps the buffer). */
  reset(): void {
    this.pos = this.base;
  }

  /** Makes room for n more bytes: grows by doubling, or throws MessageTooLarge for a slot. */
  ensure(n: number): void {
    if (this.pos + n > this.end) this.grow(n);
  }
  /** @internal */
  grow(n: number): void {
    if (this.fixed) throw kOverflow;
    const used = this.pos - this.base;
    const cap = Math.max(2 * (this.end - this.base), used + n, 64);
    const ab = new ArrayBuffer(cap);
    const u8 = new Uint8Array(ab);
    u8.set(this.u8.subarray(this.base, this.pos));
    this.u8 = u8;
    this.dv = new DataView(ab);
    this.shared = false;
    this.base = 0;
    this.pos = used;
    this.end = cap;
  }

  putU8(v: number): void {
    this.ensure(1);
    this.u8[this.pos++] = v;
  }
  putU16(v: number): void {
    this.ensure(2);
    this.dv.setUint16(this.pos, v, true);
    this.pos += 2;
  }
  putU32(v: number): void {
    this.ensure(4);
    this.dv.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  putI32(v: number): void {
    this.ensure(4);
    this.dv.setInt32(this.pos, v, true);
    this.pos += 4;
  }
  /** u64 from a bigint or a non-negative safe integer (anything else: Serialization). */
  putU64(v: bigint | number): void {
    const x = typeof v === 'bigint' ? v : Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : -1n;
    if (x < 0n || x > kU64Hi) throw badNumber(Tag.U64, v);
    this.ensure(8);
    this.dv.setBigUint64(this.pos, x, true);
    this.pos += 8;
  }
  putF64(v: number): void {
    this.ensure(8);
    this.dv.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
  putBytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.u8.set(b, this.pos);
    this.pos += b.length;
  }
  /** Raw UTF-8 of `s` (no length prefix); returns the byte count. Lone surrogates: Serialization. */
  putUtf8(s: string): number {
    const start = this.pos;
    writeUtf8(this, s, 'string');
    return this.pos - start;
  }
  /** Writes v at byte `at` (relative to the writer's start) of what was already written. */
  patchU32(at: number, v: number): void {
    this.dv.setUint32(this.base + at, v, true);
  }
}

// Writes the UTF-8 of s at w.pos (no length), growing as needed; refuses lone surrogates.
function writeUtf8(w: Writer, s: string, what: string): void {
  const n = s.length;
  if (n <= kShortText || (n <= kShortSharedText && w.shared)) {
    if (w.pos + 3 * n > w.end) {
      // No room for the worst case (3 bytes a unit), often room for ASCII:
      // try that before counting the exact length (a stream's record has
      // room for about twice its last value).
      if (w.pos + n <= w.end && writeAscii(w, s)) return;
      w.ensure(utf8Length(s));
    }
    const u8 = w.u8;
    let p = w.pos;
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        u8[p++] = c;
      } else if (c < 0x800) {
        u8[p++] = 0xc0 | (c >> 6);
        u8[p++] = 0x80 | (c & 0x3f);
      } else if (c < 0xd800 || c > 0xdfff) {
        u8[p++] = 0xe0 | (c >> 12);
        u8[p++] = 0x80 | ((c >> 6) & 0x3f);
        u8[p++] = 0x80 | (c & 0x3f);
      } else {
        const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c > 0xdbff || (d & 0xfc00) !== 0xdc00) throw loneSurrogateErr(s, i, what);
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        u8[p++] = 0xf0 | (c >> 18);
        u8[p++] = 0x80 | ((c >> 12) & 0x3f);
        u8[p++] = 0x80 | ((c >> 6) & 0x3f);
        u8[p++] = 0x80 | (c & 0x3f);
      }
    }
    w.pos = p;
    return;
  }
  const bad = loneSurrogate(s);
  if (bad >= 0) throw loneSurrogateErr(s, bad, what);
  if (w.shared) {
    // Browsers' encodeInto refuses shared memory (a ring slot, wasm memory):
    // encode into ordinary memory, then copy.
    const bytes = encodeForCopy(s);
    w.ensure(bytes.length);
    w.u8.set(bytes, w.pos);
    w.pos += bytes.length;
    return;
  }
  if (w.pos + 3 * n > w.end) w.ensure(utf8Length(s));
  const res = kEncoder.encodeInto(s, w.u8.subarray(w.pos, w.end));
  if (res.read !== n) throw kOverflow; // only a slot can be short: ensure() grew anything else
  w.pos += res.written;
}

// Writes s at w.pos if it is all ASCII (the caller made room for n bytes):
// true; false, with w.pos unchanged, at its first other unit.
function writeAscii(w: Writer, s: string): boolean {
  const u8 = w.u8;
  const at = w.pos;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return false;
    u8[at + i] = c;
  }
  w.pos = at + s.length;
  return true;
}

/** @internal writes one number of wire type `tag` (checked) with its tag byte. */
export function putNumber(w: Writer, tag: number, v: unknown): void {
  if (w.pos + 9 > w.end && isNumberTag(tag)) w.ensure(1 + numberSize(tag));
  const dv = w.dv;
  const p = w.pos;
  switch (tag) {
    case Tag.I8:
      dv.setInt8(p + 1, intOf(tag, v));
      w.pos = p + 2;
      break;
    case Tag.U8:
      dv.setUint8(p + 1, intOf(tag, v));
      w.pos = p + 2;
      break;
    case Tag.I16:
      dv.setInt16(p + 1, intOf(tag, v), true);
      w.pos = p + 3;
      break;
    case Tag.U16:
      dv.setUint16(p + 1, intOf(tag, v), true);
      w.pos = p + 3;
      break;
    case Tag.I32:
      dv.setInt32(p + 1, intOf(tag, v), true);
      w.pos = p + 5;
      break;
    case Tag.U32:
      dv.setUint32(p + 1, intOf(tag, v), true);
      w.pos = p + 5;
      break;
    case Tag.I64:
      dv.setBigInt64(p + 1, bigOf(tag, v), true);
      w.pos = p + 9;
      break;
    case Tag.U64:
      dv.setBigUint64(p + 1, bigOf(tag, v), true);
      w.pos = p + 9;
      break;
    case Tag.F32:
      if (typeof v !== 'number') throw serErr(`f32 value ${describeJs(v)} is not a number`);
      dv.setFloat32(p + 1, v, true);
      w.pos = p + 5;
      break;
    case Tag.F64:
      if (typeof v !== 'number') throw serErr(`f64 value ${describeJs(v)} is not a number`);
      dv.setFloat64(p + 1, v, true);
      w.pos = p + 9;
      break;
    default:
      throw serErr(`number tag ${typeof tag === 'number' ? '0x' + hex2(tag & 0xff) : describeJs(tag)} is not a number type (0x02..0x0b)`);
  }
  w.u8[p] = tag;
}

/** @internal a string value: tag, u32 length, UTF-8. */
export function putString(w: Writer, s: string): void {
  if (w.pos + 5 > w.end) w.ensure(5);
  const at = w.pos;
  w.u8[at] = Tag.String;
  w.pos = at + 5;
  writeUtf8(w, s, 'string');
  w.dv.setUint32(at + 1, w.pos - at - 5, true);
}

/** @internal a u8-length name (struct and field names). */
export function putName(w: Writer, s: string, what: string): void {
  if (w.pos + 1 > w.end) w.ensure(1);
  const at = w.pos;
  w.pos = at + 1;
  writeUtf8(w, s, what);
  const n = w.pos - at - 1;
  if (n > 255) throw serErr(`${what} of ${n} bytes exceeds the limit of 255`);
  w.u8[at] = n;
}

/** @internal a bytes value from raw bytes. */
export function putBlob(w: Writer, b: Uint8Array, tag: number = Tag.Bytes): void {
  putTag(w, tag);
  putBlobBody(w, b);
}

/** @internal u32 length + the raw bytes (a bytes value without its tag, as the schema form writes it). */
export function putBlobBody(w: Writer, b: Uint8Array): void {
  const n = b.length;
  if (n > kU32Max) throw serErr(`bytes length of ${n} exceeds the u32 limit of ${kU32Max}`);
  if (w.pos + 4 + n > w.end) w.ensure(4 + n);
  const p = w.pos;
  w.dv.setUint32(p, n, true);
  w.u8.set(b, p + 4);
  w.pos = p + 4 + n;
}

/** @internal a tag byte alone (a unit value; a struct's tag before its name). */
export function putTag(w: Writer, tag: number): void {
  if (w.pos + 1 > w.end) w.ensure(1);
  w.u8[w.pos++] = tag;
}

/** @internal tag byte + a 0/1 byte (a bool value; an optional's presence flag before its value). */
export function putTagFlag(w: Writer, tag: number, flag: boolean): void {
  if (w.pos + 2 > w.end) w.ensure(2);
  w.u8[w.pos] = tag;
  w.u8[w.pos + 1] = flag ? 1 : 0;
  w.pos += 2;
}

/** @internal tag byte + u32. */
export function putTagU32(w: Writer, tag: number, n: number): void {
  if (w.pos + 5 > w.end) w.ensure(5);
  w.u8[w.pos] = tag;
  w.dv.setUint32(w.pos + 1, n, true);
  w.pos += 5;
}

/** @internal opening a container at `depth` (levels already open). */
export function enterEnc(depth: number): void {
  if (depth >= kMaxDepth) throw serErr(`nesting depth ${depth + 1} exceeds the limit of ${kMaxDepth}`);
}

/** @internal an error value. */
export function putError(w: Writer, e: FerryError): void {
  putTag(w, Tag.Error);
  putErrorBody(w, e);
}

/** @internal an error value's payload (its kind byte on), as the schema form writes it. */
export function putErrorBody(w: Writer, e: FerryError): void {
  const kind = e.kind;
  if (!isErrorKind(kind)) throw serErr(`error kind ${String(kind)} is not a known ErrorKind`);
  w.putU8(kind);
  putText(w, String(e.message), 'error message');
  putText(w, String(e.origin ?? ''), 'error origin');
  // Only a TypeMismatch carries its two type names (CODEC.md, error 0x14).
  if (kind === ErrorKind.TypeMismatch) {
    const m = e as { expected?: unknown; actual?: unknown };
    putText(w, String(m.expected ?? ''), 'error expected type');
    putText(w, String(m.actual ?? ''), 'error actual type');
  }
}

/** @internal u32 byte length + UTF-8 (what names the field in errors). */
export function putText(w: Writer, s: string, what: string): void {
  if (w.pos + 4 > w.end) w.ensure(4);
  const at = w.pos;
  w.pos = at + 4;
  writeUtf8(w, s, what);
  w.dv.setUint32(at, w.pos - at - 4, true);
}

/** @internal packed element tag of a typed array (Uint8Array is bytes, not packed): 0 if none. */
export function packedTagOf(v: ArrayBufferView): number {
  switch ((v as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag]) {
    case 'Int8Array': return Tag.I8;
    case 'Uint8ClampedArray': return Tag.U8;
    case 'Int16Array': return Tag.I16;
    case 'Uint16Array': return Tag.U16;
    case 'Int32Array': return Tag.I32;
    case 'Uint32Array': return Tag.U32;
    case 'BigInt64Array': return Tag.I64;
    case 'BigUint64Array': return Tag.U64;
    case 'Float32Array': return Tag.F32;
    case 'Float64Array': return Tag.F64;
    default: return 0;
  }
}

/**
 * @internal the header of a packed value of `count` elements of type `elem`
 * (n bytes in all), with room made for them; returns where the elements go.
 * The caller writes them and moves w.pos past them. Bare (the schema form):
 * only the count, no tags.
 */
export function putPackedHead(w: Writer, elem: number, count: number, n: number, bare = false): number {
  if (count > kU32Max) throw serErr(`packed array of ${count} exceeds the u32 limit of ${kU32Max}`);
  const head = bare ? 4 : 6;
  if (w.pos + head + n > w.end) w.ensure(head + n);
  const p = w.pos;
  if (!bare) {
    w.u8[p] = Tag.Packed;
    w.u8[p + 1] = elem;
  }
  w.dv.setUint32(p + head - 4, count, true);
  return p + head;
}

/** @internal a packed value from a typed array of the element type `elem` (bare: see putPackedHead). */
export function putPacked(w: Writer, elem: number, v: ArrayBufferView & { length: number }, bare = false): void {
  const count = v.length;
  const n = v.byteLength;
  const at = putPackedHead(w, elem, count, n, bare);
  if (kLittleEndian || n === count) {
    w.u8.set(new Uint8Array(v.buffer, v.byteOffset, n), at);
  } else {
    const a = v as unknown as ArrayLike<number | bigint>;
    const size = n / count;
    for (let i = 0; i < count; i++) writeRaw(w.dv, elem, at + i * size, a[i]!);
  }
  w.pos = at + n;
}


/** @internal raw bytes of a bytes-like object, or null. */
export function bytesOf(v: object): Uint8Array | null {
  if (v instanceof Uint8Array) return v;
  if (v instanceof DataView) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (isRawBuffer(v)) return new Uint8Array(v);
  return null;
}
