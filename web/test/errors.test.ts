import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../dist/errors.js';

const classes: [E.ErrorKind, string][] = [
  [E.ErrorKind.JsException, 'JsExceptionError'],
  [E.ErrorKind.Serialization, 'SerializationError'],
  [E.ErrorKind.Deserialization, 'DeserializationError'],
  [E.ErrorKind.TypeMismatch, 'TypeMismatchError'],
  [E.ErrorKind.Closed, 'ClosedError'],
  [E.ErrorKind.Cancelled, 'CancelledError'],
  [E.ErrorKind.Timeout, 'TimeoutError'],
  [E.ErrorKind.QueueFull, 'QueueFullError'],
  [E.ErrorKind.WorkerCrashed, 'WorkerCrashedError'],
  [E.ErrorKind.MessageTooLarge, 'MessageTooLargeError'],
  [E.ErrorKind.CorruptRecord, 'CorruptRecordError'],
  [E.ErrorKind.UnknownTask, 'UnknownTaskError'],
  [E.ErrorKind.TaskFailed, 'TaskFailedError'],
  [E.ErrorKind.InvalidArgument, 'InvalidArgumentError'],
];

test('ErrorKind numbers match core/error.hpp', () => {
  assert.equal(E.ErrorKind.JsException, 1);
  assert.equal(E.ErrorKind.TypeMismatch, 4);
  assert.equal(E.ErrorKind.WorkerCrashed, 9);
  assert.equal(E.ErrorKind.InvalidArgument, 14);
  classes.forEach(([k], i) => assert.equal(k, i + 1));
});

test('kindName spells every kind as C++ to_string does', () => {
  for (const [k, cls] of classes) assert.equal(E.kindName(k), cls.slice(0, -'Error'.length));
  assert.equal(E.kindName(0 as E.ErrorKind), 'Unknown');
  assert.equal(E.kindName(15 as E.ErrorKind), 'Unknown');
});

test('ferryError makes the subclass of each kind, instanceof FerryError and Error', () => {
  for (const [k, cls] of classes) {
    const e = E.ferryError(k, 'msg', 'core/ring');
    const C = (E as unknown as Record<string, new (...a: never[]) => E.FerryError>)[cls]!;
    assert.ok(e instanceof C, cls);
    assert.ok(e instanceof E.FerryError);
    assert.ok(e instanceof Error);
    assert.equal(e.constructor, C);
    assert.equal(e.name, cls);
    assert.equal(e.kind, k);
    assert.equal(e.message, 'msg');
    assert.equal(e.origin, 'core/ring');
    for (const [k2, cls2] of classes) if (k2 !== k) assert.ok(!(e instanceof (E as any)[cls2]));
  }
});

test('ferryError with an unknown kind falls back to a plain FerryError', () => {
  const e = E.ferryError(99 as E.ErrorKind, 'x');
  assert.equal(e.constructor, E.FerryError);
  assert.equal(e.name, 'FerryError');
  assert.equal(e.origin, '');
});

test('FerryError.describe matches the C++ Error::describe form', () => {
  assert.equal(new E.TimeoutError('recv waited 5 ms', 'core/ring').describe(), 'Timeout: recv waited 5 ms (core/ring)');
  assert.equal(new E.ClosedError('stream closed').describe(), 'Closed: stream closed');
});

test('TypeMismatchError parses expected and actual from the C++ message', () => {
  const e = E.ferryError(E.ErrorKind.TypeMismatch, 'type mismatch: expected i32, got string at offset 10', 'worker 1');
  assert.ok(e instanceof E.TypeMismatchError);
  assert.equal(e.expected, 'i32');
  assert.equal(e.actual, 'string');
  const f = new E.TypeMismatchError('type mismatch: expected struct Point, got map');
  assert.equal(f.expected, 'struct Point');
  assert.equal(f.actual, 'map');
  const g = new E.TypeMismatchError('something else');
  assert.equal(g.expected, '');
  assert.equal(g.actual, '');
});

test('TypeMismatchError prefers explicit expected and actual', () => {
  const e = E.ferryError(E.ErrorKind.TypeMismatch, 'type mismatch: expected i32, got string', '', { expected: 'u8', actual: 'number 1.5' });
  assert.ok(e instanceof E.TypeMismatchError);
  assert.equal(e.expected, 'u8');
  assert.equal(e.actual, 'number 1.5');
});

test('toFerryError passes a FerryError through unchanged', () => {
  const e = new E.CancelledError('cancelled');
  assert.equal(E.toFerryError(e, 'js'), e);
});

test('toFerryError turns a thrown Error into JsException keeping message and stack', () => {
  const orig = new TypeError('x is not a function');
  const e = E.toFerryError(orig, 'js');
  assert.ok(e instanceof E.JsExceptionError);
  assert.equal(e.kind, E.ErrorKind.JsException);
  assert.equal(e.message, 'x is not a function');
  assert.equal(e.origin, 'js');
  assert.equal(e.stack, orig.stack);
  assert.equal((e as Error & { cause?: unknown }).cause, orig);
});

test('toFerryError turns thrown non-Error values into JsException', () => {
  assert.equal(E.toFerryError('boom', 'js').message, 'boom');
  assert.equal(E.toFerryError(42, 'js').message, '42');
  assert.equal(E.toFerryError(undefined, 'js').message, 'undefined');
  const weird = Object.create(null);
  assert.equal(E.toFerryError(weird, 'js').message, '[object Object]');
  assert.ok(E.toFerryError(null, 'w') instanceof E.JsExceptionError);
});
