// What a 'fuzz' call of workers/malformed.ts answers with (records.test.ts picks).
export const Mode = {
  Good: 0, // a well-formed result: [seed]
  Garbage: 1, // a result record with the right id and random bytes as the value
  Short: 2, // a result record too short for an id
  UnknownTag: 3, // a record tag the protocol does not have
  StrangerId: 4, // a result for an id nobody waits for, then a good one
  BadHeader: 5, // a record header that claims more bytes than were published
  CrashGarbage: 6, // a crash record whose reason is not a string
  GoodParts: 7, // a well-formed result sent in parts of random sizes (web/PROTOCOL.md)
  BadPart: 8, // a part longer than what its first part announced
  // Shared memory only (blocks.ts; over postMessage a plain good result): a
  // block record, then a result of the same id that must not win, then the
  // block, posted 0-3 ms later.
  GoodBlock: 9,
  BadBlock: 10, // as GoodBlock, but the block is one byte shorter than its record says
  LostBlock: 11, // a block record, then the worker dies before it posts the block (both transports: it dies)
} as const;
export const kModes = 12;
