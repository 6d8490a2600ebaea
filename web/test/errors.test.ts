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

test('Errors.KindNumbersMatchCoreErrorHpp', () => {
  assert.equal(E.ErrorKind.JsException, 1);
  assert.equal(E.ErrorKind.TypeMismatch, 4);
  assert.equal(E.ErrorKind.WorkerCrashed, 9);
  assert.equal(E.ErrorKind.InvalidArgument, 14);
  classes.forEach(([k], i) => assert.equal(k, i + 1));
});

test('Errors.KindNameSpellsEveryKindAsCppToStringDoes', () => {
  for (const [k, cls] of classes) assert.equal(E.kindName(k), cls.slice(0, -'Error'.length));
  assert.equal(E.kindName(0 as E.ErrorKind), 'Unknown');
  assert.equal(E.kindName(15 as E.ErrorKind), 'Unknown');
});

test('Errors.FerryErrorMakesTheSubclassOfEachKindAndEachIsAFerryError', () => {
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

test('Errors.AnUnknownKindFallsBackToAPlainFerryError', () => {
  const e = E.ferryError(99 as E.ErrorKind, 'x');
  assert.equal(e.constructor, E.FerryError);
  assert.equal(e.name, 'FerryError');
  assert.equal(e.origin, '');
});

test('Errors.DescribeMatchesTheCppErrorDescribeForm', () => {
  assert.equal(new E.TimeoutError('recv waited 5 ms', 'core/ring').describe(), 'Timeout: recv waited 5 ms (core/ring)');
  assert.equal(new E.ClosedError('stream closed').describe(), 'Closed: stream closed');
});

test('Errors.TypeMismatchParsesExpectedAndActualFromTheCppMessage', () => {
  const e = E.ferryError(E.ErrorKind.TypeMismatch, 'type mismatch: expected i32, got string at offset 10', 'worker 1');
  assert.ok(e instanceof E.TypeMismatchError);
  assert.equal(e.expected, 'i32');
  assert.equal(e.actual, 'string');
  const f = new E.TypeMismatchError('type mismatch: expected struct Point, got map');
  assert.equal(f.expected, 'struct Point');
  assert.equal(f.actual, 'map');
  const h = new E.TypeMismatchError('expected i32, got string'); // the golden vector's message has no prefix
  assert.equal(h.expected, 'i32');
  assert.equal(h.actual, 'string');
  const d = new E.TypeMismatchError('type mismatch: expected array of 2, got array of 3 at offset 0 (a fixed sequence of 2 decodes only from an array of 2)');
  assert.equal(d.expected, 'array of 2');
  assert.equal(d.actual, 'array of 3');
  const g = new E.TypeMismatchError('something else');
  assert.equal(g.expected, '');
  assert.equal(g.actual, '');
});

test('Errors.TypeMismatchPrefersExplicitExpectedAndActual', () => {
  const e = E.ferryError(E.ErrorKind.TypeMismatch, 'type mismatch: expected i32, got string', '', { expected: 'u8', actual: 'number 1.5' });
  assert.ok(e instanceof E.TypeMismatchError);
  assert.equal(e.expected, 'u8');
  assert.equal(e.actual, 'number 1.5');
});

test('Errors.ToFerryErrorPassesAFerryErrorThroughUnchanged', () => {
  const e = new E.CancelledError('cancelled');
  assert.equal(E.toFerryError(e, 'js'), e);
});

test('Errors.ToFerryErrorTurnsAThrownErrorIntoJsExceptionKeepingMessageAndStack', () => {
  const orig = new TypeError('x is not a function');
  const e = E.toFerryError(orig, 'js');
  assert.ok(e instanceof E.JsExceptionError);
  assert.equal(e.kind, E.ErrorKind.JsException);
  assert.equal(e.message, 'x is not a function');
  assert.equal(e.origin, 'js');
  assert.equal(e.stack, orig.stack);
  assert.equal((e as Error & { cause?: unknown }).cause, orig);
});

test('Errors.ToFerryErrorTurnsThrownNonErrorValuesIntoJsException', () => {
  assert.equal(E.toFerryError('boom', 'js').message, 'boom');
  assert.equal(E.toFerryError(42, 'js').message, '42');
  assert.equal(E.toFerryError(undefined, 'js').message, 'undefined');
  const weird = Object.create(null);
  assert.equal(E.toFerryError(weird, 'js').message, '[object Object]');
  assert.ok(E.toFerryError(null, 'w') instanceof E.JsExceptionError);
});
