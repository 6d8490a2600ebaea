// ferry errors for JavaScript: the twin of core/error.hpp.
//
// Every failure ferry reports is a FerryError with a kind from the closed list
// below. The numeric values are part of the wire format (core/CODEC.md: error
// values carry the kind as one byte) and must never be renumbered. Each kind
// has its own subclass so callers can use `instanceof TimeoutError`; every
// subclass is also `instanceof FerryError`.

export enum ErrorKind {
  JsException = 1, // a JavaScript task or callback threw
  Serialization, // a value could not be encoded
  Deserialization, // bytes could not be decoded (truncated, malformed)
  TypeMismatch, // decoded or converted a value of another type than expected
  Closed, // the stream or ring was closed
  Cancelled, // the operation was cancelled
  Timeout, // the deadline passed first
  QueueFull, // a bounded queue refused the item
  WorkerCrashed, // the worker running the operation died
  MessageTooLarge, // a record can never fit the ring
  CorruptRecord, // a ring record header failed validation
  UnknownTask, // no task is registered under that name
  TaskFailed, // a C++ task threw or returned an error
  InvalidArgument, // an API was called with an argument it cannot use
}

const kKindNames: readonly string[] = [
  'Unknown',
  'JsException',
  'Serialization',
  'Deserialization',
  'TypeMismatch',
  'Closed',
  'Cancelled',
  'Timeout',
  'QueueFull',
  'WorkerCrashed',
  'MessageTooLarge',
  'CorruptRecord',
  'UnknownTask',
  'TaskFailed',
  'InvalidArgument',
];

/** The C++ spelling of a kind ("TypeMismatch"); "Unknown" outside the list. */
export function kindName(kind: ErrorKind): string {
  return Number.isInteger(kind) && kind >= 1 && kind < kKindNames.length ? kKindNames[kind]! : 'Unknown';
}

/** True for the raw byte values that name a kind (1..14), as is_valid_error_kind. */
export function isErrorKind(raw: number): raw is ErrorKind {
  return Number.isInteger(raw) && raw >= 1 && raw < kKindNames.length;
}

export class FerryError extends Error {
  readonly kind: ErrorKind;
  /** Where it was raised: "core/ring", "worker 2", "js"; '' when unknown. */
  readonly origin: string;

  constructor(kind: ErrorKind, message: string, origin = '') {
    super(message);
    this.kind = kind;
    this.origin = origin;
    this.name = 'FerryError';
  }

  /** The C++ Error::describe() form: "Timeout: recv waited 5 ms (core/ring)". */
  describe(): string {
    const s = `${kindName(this.kind)}: ${this.message}`;
    return this.origin ? `${s} (${this.origin})` : s;
  }
}

export class JsExceptionError extends FerryError {
  constructor(message: string, origin = '') {
    super(ErrorKind.JsException, message, origin);
    this.name = 'JsExceptionError';
  }
}
export class SerializationError extends FerryError {
  constructor(message: string, origin = '') {
    super(ErrorKind.Serialization, message, origin);
    this.name = 'SerializationError';
  }
}
export class DeserializationError extends FerryError {
  constructor(message: string, origin = '') {
    super(ErrorKind.Deserialization, message, origin);
    this.name = 'DeserializationError';
  }
}

// "type mismatch: expected i32, got string at offset 10" (core/error.hpp's
// Error::type_mismatch message, plus the codec's offset and detail suffixes);
// the "type mismatch: " prefix is optional.
const kMismatchRe = /^(?:type mismatch: )?expected (.+?), got (.+?)(?: at offset \d+(?: \(.*\))?)?$/s;

/** Best effort: the expected/actual type names inside a C++ TypeMismatch message. */
export function parseTypeMismatch(message: string): { expected: string; actual: string } | undefined {
  const m = kMismatchRe.exec(message);
  return m ? { expected: m[1]!, actual: m[2]! } : undefined;
}

export class TypeMismatchError extends FerryError {
  /** The wire type name that was wanted (core/CODEC.md "Type names"). */
  readonly expected: string;
  /** What was found: a wire type name, or a JavaScript description. */
  readonly actual: string;

  /** expected/actual default to what the message says when it has the C++ form. */
  constructor(message: string, origin = '', expected?: string, actual?: string) {
    super(ErrorKind.TypeMismatch, message, origin);
    this.name = 'TypeMismatchError';
    if (expected === undefined || actual === undefined) {
      const parsed = parseTypeMismatch(message);
      expected ??= parsed?.expected ?? '';
      actual ??= parsed?.actual ?? '';
    }
    this.expected = expected;
    this.actual = actual;
  }
}
export class ClosedError extends FerryError {
  constructor(message: string, origin = '') {
    super(ErrorKind.Closed, message, origin);
    this.name = 'ClosedError';
  }
}
export class CancelledError extends FerryError {
  constructor(message: string, origin = '') {
    super(ErrorKind.Cancelled, message, origin);
    this.name = 'CancelledError';
  }
}
export class TimeoutError extends FerryError {
  constructor(message: string, origin = '') {
    super(ErrorKind.Timeout, message, origin);
    this.name = 'TimeoutError';
  }
}
export class QueueFullError extends FerryError {
  constructor(message: string, origin = '') {
    super(ErrorKind.QueueFull, message, origin);
    this.name = 'QueueFullError';
  }
}
export class WorkerCrashedError extends FerryError {
  constructor(message: string, origin = '') {
    super(ErrorKind.WorkerCrashed, message, origin);
    this.name = 'WorkerCrashedError';
  }
}
export class MessageTooLargeError extends FerryError {
  constructor(message: string, origin = '') {
    super(ErrorKind.MessageTooLarge, message, origin);
    this.name = 'MessageTooLargeError';
  }
}
export class CorruptRecordError extends FerryError {
  constructor(message: string, origin = '') {
    super(ErrorKind.CorruptRecord, message, origin);
    this.name = 'CorruptRecordError';
  }
}
export class UnknownTaskError extends FerryError {
  constructor(message: string, origin = '') {
    super(ErrorKind.UnknownTask, message, origin);
    this.name = 'UnknownTaskError';
  }
}
export class TaskFailedError extends FerryError {
  constructor(message: string, origin = '') {
    super(ErrorKind.TaskFailed, message, origin);
    this.name = 'TaskFailedError';
  }
}
export class InvalidArgumentError extends FerryError {
  constructor(message: string, origin = '') {
    super(ErrorKind.InvalidArgument, message, origin);
    this.name = 'InvalidArgumentError';
  }
}

type Ctor = new (message: string, origin?: string) => FerryError;
const kCtors: readonly (Ctor | undefined)[] = [
  undefined,
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
];

/**
 * The subclass for `kind`. For TypeMismatch, `extra` gives expected/actual;
 * without it they are parsed from the C++ message form when it matches.
 * A kind outside the list gives a plain FerryError.
 */
export function ferryError(
  kind: ErrorKind,
  message: string,
  origin = '',
  extra?: { expected?: string; actual?: string },
): FerryError {
  if (kind === ErrorKind.TypeMismatch) return new TypeMismatchError(message, origin, extra?.expected, extra?.actual);
  const C = isErrorKind(kind) ? kCtors[kind] : undefined;
  return C ? new C(message, origin) : new FerryError(kind, message, origin);
}

/**
 * A thrown JavaScript value as a FerryError: a FerryError passes through;
 * anything else becomes a JsExceptionError that keeps the message, the stack
 * and the original value as `cause`.
 */
export function toFerryError(e: unknown, origin: string): FerryError {
  if (e instanceof FerryError) return e;
  let message: string;
  let stack: string | undefined;
  if (e instanceof Error) {
    message = e.message;
    stack = e.stack;
  } else if (typeof e === 'string') {
    message = e;
  } else {
    try {
      message = String(e);
    } catch {
      message = Object.prototype.toString.call(e);
    }
  }
  const err = new JsExceptionError(message, origin);
  if (stack !== undefined) err.stack = stack;
  Object.defineProperty(err, 'cause', { value: e, writable: true, configurable: true, enumerable: false });
  return err;
}
