// @ferry/web: the public surface. Worker scripts import from '@ferry/web/worker'
// (expose, streamTask, currentCall).
export { WorkerPool, sharedMemoryAvailable } from './pool.js';
export type { CallOptions, PoolStats, StreamOptions, WorkerPoolOptions, WorkerStats } from './pool/options.js';
export { Stream, Receiver, Sender } from './stream.js';
export { WasmBuffer } from './buffer.js';
export type { ArenaStats } from './js-backend.js';
export {
  ErrorKind,
  FerryError,
  JsExceptionError,
  SerializationError,
  DeserializationError,
  TypeMismatchError,
  ClosedError,
  CancelledError,
  TimeoutError,
  QueueFullError,
  WorkerCrashedError,
  MessageTooLargeError,
  CorruptRecordError,
  UnknownTaskError,
  TaskFailedError,
  InvalidArgumentError,
  ferryError,
  kindName,
  toFerryError,
} from './errors.js';
export {
  i8,
  u8,
  i16,
  u16,
  i32,
  u32,
  i64,
  u64,
  f32,
  f64,
  typed,
  some,
  NONE,
  variant,
  struct,
  STRUCT_NAME,
  Typed,
  Some,
  Variant,
  encode,
  decode,
} from './codec.js';
