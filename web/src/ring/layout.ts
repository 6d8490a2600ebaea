// ferry web ring (internal): the shared-memory layout of a ring — the
// twin of core/ring.hpp's ring_layout. Part of ring.ts, which re-exports the
// public names (RING, RingBuffer, ringBytes, recordBytes): import ring.ts.
//
// Layout (core/RING.md is the contract; the test compares these offsets with
// core/ring.hpp). A ring is 256 header bytes plus `capacity` data bytes at a
// 64-byte aligned byte offset of the buffer. u32 words, little-endian:
//
//    0 magic 0x474E5246   4 version 1   8 capacity   12 flags (bits: 1 producer
//   closed, 2 consumer closed, 4 producer attached, 8 consumer attached)
//   16 data bell, 20 space bell: i32 byte offsets from the ring base of the
//   words each side sleeps on (default 192 / 200; may lie outside the ring)
//   24 close_reason: 0, or the ErrorKind a ring abort ended the ring with
//   64 tail (producer)   128 head (consumer)   192 data_seq
//  196 consumer_parked  200 space_seq  204 producer_parked   256.. records
//
// A record is u32 length, u32 tag, then the payload padded to 8 bytes; it
// never wraps: a skip record (tag 0xFFFFFFFF) fills the end of the data area.
// head/tail are free-running byte counters, modulo 2^32.

export const RING = Object.freeze({
  MAGIC: 0x474e5246, // "FRNG" as bytes 46 52 4E 47
  VERSION: 1,
  HEADER_BYTES: 256,
  MIN_CAPACITY: 64,
  MAX_CAPACITY: 2 ** 30,
  SKIP_TAG: 0xffffffff,
  RECORD_HEADER_BYTES: 8,
  offsets: Object.freeze({
    magic: 0,
    version: 4,
    capacity: 8,
    flags: 12,
    dataBell: 16,
    spaceBell: 20,
    closeReason: 24,
    tail: 64,
    head: 128,
    dataSeq: 192,
    consumerParked: 196,
    spaceSeq: 200,
    producerParked: 204,
  } as const),
  flags: Object.freeze({ producerClosed: 1, consumerClosed: 2, producerAttached: 4, consumerAttached: 8 } as const),
} as const);

export type RingBuffer = SharedArrayBuffer | ArrayBuffer;

/** Bytes a ring of `capacity` data bytes needs: header plus data. */
export function ringBytes(capacity: number): number {
  return RING.HEADER_BYTES + capacity;
}

/** Bytes a record with `payloadLength` payload bytes occupies in the ring. */
export function recordBytes(payloadLength: number): number {
  return RING.RECORD_HEADER_BYTES + Math.ceil(payloadLength / 8) * 8;
}

// Word indices (byte offset / 4) of the header fields, relative to the base.
export const W = {
  magic: RING.offsets.magic >> 2,
  version: RING.offsets.version >> 2,
  capacity: RING.offsets.capacity >> 2,
  flags: RING.offsets.flags >> 2,
  dataBell: RING.offsets.dataBell >> 2,
  spaceBell: RING.offsets.spaceBell >> 2,
  closeReason: RING.offsets.closeReason >> 2,
  tail: RING.offsets.tail >> 2,
  head: RING.offsets.head >> 2,
  consumerParked: RING.offsets.consumerParked >> 2,
  producerParked: RING.offsets.producerParked >> 2,
} as const;
export const F = RING.flags;
export const SKIP_TAG_I32 = RING.SKIP_TAG | 0; // -1: how the skip tag reads through an Int32Array
