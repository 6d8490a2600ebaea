// Helpers shared by the Node tests of web/ (not a test file itself).
import assert from 'node:assert/strict';
import { FerryError, kindName, type ErrorKind } from '../dist/errors.js';
import { WorkerPool } from '../dist/index.js';
// @ts-expect-error: a plain JavaScript module (browser pages use it too)
import { mulberry32 } from '../test-pages/prng.js';

export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

// The pool tests run once per transport: fallback.test.ts sets
// FERRY_TRANSPORT before it imports pool.test.ts and stream.test.ts.
export const transport: 'shared-memory' | 'postMessage' =
  (globalThis as { FERRY_TRANSPORT?: 'postMessage' }).FERRY_TRANSPORT ?? 'shared-memory';
export const script = new URL('./workers/basic.js', import.meta.url);
export const make = (options: Record<string, unknown> = {}) => WorkerPool.create({ script, workers: 2, transport, ...options });

export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A check for assert.throws/rejects: the error is a `C` (a FerryError class); then `check` may look closer. */
export function isErrorOf<T extends FerryError>(C: new (...a: never[]) => T, check?: (e: T) => void) {
  return (e: unknown) => {
    assert.ok(e instanceof C, `expected ${C.name}, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    check?.(e);
    return true;
  };
}

/** Runs fn, which must throw a FerryError; returns it. */
export function catchFerry(fn: () => unknown): FerryError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof FerryError, `expected a FerryError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a throw');
}

/** Runs fn, which must throw a FerryError of `kind` (with that message, or one matching it); returns the error. */
export function throwsKind(fn: () => unknown, kind: ErrorKind, message?: string | RegExp): FerryError {
  const caught = catchFerry(fn);
  assert.equal(kindName(caught.kind), kindName(kind), caught.message);
  if (typeof message === 'string') assert.equal(caught.message, message);
  else if (message) assert.match(caught.message, message);
  return caught;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Against a stream task that fails after reading a few values: reads the
 * stream's output to its end in the background, and sends 0, 1, 2, ...
 * (each send awaited) until one is refused. Returns what was read, how many
 * sends were accepted, the refusal, and the reader's end (its error, or
 * null for a normal end).
 */
export async function sendUntilRefused(s: {
  send(v: number): Promise<void>;
  [Symbol.asyncIterator](): AsyncIterator<number>;
}): Promise<{ got: number[]; sent: number; refused: unknown; readEnd: unknown }> {
  const got: number[] = [];
  const reading = (async () => {
    for await (const v of s) got.push(v);
    return null;
  })().catch((e: unknown) => e);
  let sent = 0;
  let refused: unknown = null;
  while (refused === null) {
    await s.send(sent).then(
      () => sent++,
      (e: unknown) => (refused = e),
    );
  }
  return { got, sent, refused, readEnd: await reading };
}

// A full garbage collection, in a test run without --expose-gc.
let gcFn: (() => void) | null = null;
export async function collectGarbage(): Promise<void> {
  if (gcFn === null) {
    const v8 = await import('node:v8');
    const vm = await import('node:vm');
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
}

/** mulberry32: a small seeded PRNG for test data; each call gives a u32. */
export const rng32: (seed: number) => () => number = mulberry32;

/** The same sequence as numbers in [0, 1). */
export function rng(seed: number): () => number {
  const next = rng32(seed);
  return () => next() / 4294967296;
}

/** Stress and fuzz sizes scale with FERRY_STRESS_SCALE (default 1). */
export const stressScale = Math.max(0.01, Number(process.env.FERRY_STRESS_SCALE ?? '1') || 1);
