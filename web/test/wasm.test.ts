// The TypeScript side against the real C++ side: the ferry_web wasm module
// (web/wasm, built by the release preset's Emscripten sub-build) run under
// Node. Values cross the language boundary both ways: TypeScript encodes,
// C++ decodes and re-encodes, TypeScript decodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WasmBackend } from '../dist/wasm-backend.js';
import { decode, encode, i32, u8, f32, i64, u64, struct, STRUCT_NAME, SchemaForm } from '../dist/codec.js';
import { decodeAs } from '../dist/schema.js';
import { ErrorKind, FerryError } from '../dist/errors.js';
import { rng, sendUntilRefused, until } from './helpers.js';

export const wasmModule =
  process.env.FERRY_WASM_MODULE ?? fileURLToPath(new URL('../../build/release/wasm/web/wasm/ferry_web.js', import.meta.url));

function callRecord(id: number, name: string, args: Uint8Array): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  const rec = new Uint8Array(10 + nameBytes.length + args.length);
  const view = new DataView(rec.buffer);
  view.setBigUint64(0, BigInt(id), true);
  view.setUint16(8, nameBytes.length, true);
  rec.set(nameBytes, 10);
  rec.set(args, 10 + nameBytes.length);
  return rec;
}

// One call through slot 0's rings by hand (web/PROTOCOL.md), without the pool.
async function rawCall(backend: WasmBackend, id: number, name: string, args: unknown[]): Promise<unknown> {
  const { request, response } = backend.slot(0);
  assert.ok(request.tryWrite(1, callRecord(id, name, encode(args))));
  request.publish();
  for (;;) {
    const rec = response.tryRead();
    if (rec) {
      assert.equal(rec.tag, 1);
      const view = new DataView(rec.payload.buffer, rec.payload.byteOffset, rec.payload.byteLength);
      assert.equal(Number(view.getBigUint64(0, true)), id);
      const value = decode(rec.payload.slice(8));
      response.release();
      return value;
    }
    await response.waitForData(10_000);
  }
}

test('the wasm module is built', () => {
  assert.ok(existsSync(wasmModule), `${wasmModule} is missing: build the release preset first (cmake --build --preset release)`);
});

test('a C++ pool starts in the module, publishes its task signatures, answers raw protocol calls and stops', async () => {
  const backend = await WasmBackend.create({ module: wasmModule, workers: 2 });
  try {
    assert.equal(backend.size, 2);
    const add = backend.signatures.get('add');
    assert.ok(add, 'add is exported');
    assert.equal(add.kind, 'call');
    assert.equal(backend.signatures.get('upper')?.kind, 'stream');
    assert.equal(await rawCall(backend, 1, 'add', [i32(2), i32(40)]), 42);
    // TypeScript encodes, C++ decodes, re-encodes, TypeScript decodes.
    assert.equal(await rawCall(backend, 2, 'echo_u8', [u8(255)]), 255);
    assert.equal(await rawCall(backend, 3, 'echo_f32', [f32(1.5)]), 1.5);
    assert.equal(await rawCall(backend, 4, 'echo_i64', [i64(-(2n ** 63n))]), -(2n ** 63n));
    assert.equal(await rawCall(backend, 5, 'echo_u64', [u64(2n ** 64n - 1n)]), 2n ** 64n - 1n);
    assert.equal(await rawCall(backend, 6, 'echo_string', ['h\u00e9llo \u{1f600}']), 'h\u00e9llo \u{1f600}');
    assert.deepEqual(await rawCall(backend, 7, 'echo_f32s', [new Float32Array([1.5, -0.25])]), new Float32Array([1.5, -0.25]));
    // A result holding a struct comes back in the schema form (web/PROTOCOL.md): the signature reads it.
    const raw = await rawCall(backend, 8, 'echo_point', [struct('Point', { x: i32(1), y: i32(-2) })]);
    assert.ok(raw instanceof SchemaForm, String(raw));
    assert.equal(raw.bytes.length, 12, 'its fingerprint and two i32s, no names');
    const p = decodeAs(encode(raw), backend.signatures.get('echo_point')!.result!) as Record<string | symbol, unknown>;
    assert.equal(p[STRUCT_NAME], 'Point');
    assert.deepEqual({ x: p.x, y: p.y }, { x: 1, y: -2 });
    // A plain JS number is f64 on the wire: the C++ decoder refuses it by type.
    const mismatch = await rawCall(backend, 9, 'add', [2, 40]);
    assert.ok(mismatch instanceof FerryError);
    assert.equal((mismatch as FerryError).kind, ErrorKind.TypeMismatch);
    // Its type names cross the ring as fields (CODEC.md, error 0x14), not only in the message.
    assert.deepEqual([(mismatch as { expected?: string }).expected, (mismatch as { actual?: string }).actual], ['i32', 'f64'], (mismatch as FerryError).message);
    const unknown = await rawCall(backend, 10, 'no_such_task', []);
    assert.equal((unknown as FerryError).kind, ErrorKind.UnknownTask);
  } finally {
    await backend.terminate();
  }
});

test('a crashed C++ worker aborts its response ring with WorkerCrashed and the slot gets a replacement', async () => {
  const backend = await WasmBackend.create({ module: wasmModule, workers: 1 });
  try {
    const { request, response } = backend.slot(0);
    assert.ok(request.tryWrite(1, callRecord(1, 'crash', encode(['on purpose']))));
    request.publish();
    // Its last record says why (web/PROTOCOL.md, tag 2), then the ring ends.
    const reasons: unknown[] = [];
    await assert.rejects(async () => {
      for (;;) {
        const rec = response.tryRead();
        if (rec) {
          if (rec.tag !== 2) assert.fail(`a crashed worker answered (tag ${rec.tag})`);
          reasons.push(decode(rec.payload));
          continue;
        }
        await response.waitForData(10_000);
      }
    }, (e: unknown) => e instanceof FerryError && e.kind === ErrorKind.WorkerCrashed);
    assert.deepEqual(reasons, ['on purpose']);
    await backend.replace(0);
    assert.notEqual(backend.slot(0).response, response);
    assert.equal(await rawCall(backend, 2, 'add', [i32(1), i32(1)]), 2);
  } finally {
    await backend.terminate();
  }
});

test('the WorkerPool over the wasm module in Node: typed calls, streams, errors, crash and terminate', async () => {
  const { WorkerPool, TypeMismatchError, WorkerCrashedError, ClosedError } = await import('../dist/index.js');
  const pool = await WorkerPool.create({ module: wasmModule, workers: 2 });
  try {
    assert.equal(pool.transport, 'shared-memory');
    assert.equal(await pool.call('add', 2, 40), 42);
    assert.deepEqual(await pool.call('echo_tuple', [7, 'seven']), [7, 'seven']);
    await assert.rejects(pool.call('add', 'x', 1), TypeMismatchError);
    const answers = await Promise.all(Array.from({ length: 2000 }, (_, i) => pool.call('add', i, 1)));
    assert.ok(answers.every((v, i) => v === i + 1), 'every call answered with its own result');
    const s = await pool.stream('upper');
    for (const w of ['a', 'b']) await s.send(w);
    await s.close();
    const got: unknown[] = [];
    for await (const v of s) got.push(v);
    assert.deepEqual(got, ['A', 'B']);
    const pending = pool.callWith({ affinity: 1 }, 'nap', 5000);
    await assert.rejects(pool.callWith({ affinity: 1 }, 'crash', 'in Node'), (e: unknown) => e instanceof WorkerCrashedError && /^worker 1 crashed: in Node$/.test(e.message));
    await assert.rejects(pending, WorkerCrashedError);
    assert.equal(await pool.callWith({ affinity: 1 }, 'add', 1, 1), 2);
    assert.equal(pool.stats().workers[1].restarts, 1);
    // A stream task that publishes five values and dies: all five are read, then the crash.
    const doomed = await pool.stream('crash_after', { args: [5], affinity: 0 });
    await until(() => pool.stats().workers[0].restarts === 1, 'the crash of worker 0');
    const before: unknown[] = [];
    await assert.rejects(async () => {
      for await (const v of doomed) before.push(v);
    }, (e: unknown) => e instanceof WorkerCrashedError && /^worker 0 crashed: crash_after sent 5$/.test(e.message));
    assert.deepEqual(before, [0, 1, 2, 3, 4]);
    await assert.rejects(doomed.done, WorkerCrashedError);
    assert.equal(await pool.callWith({ affinity: 0 }, 'add', 2, 2), 4);
  } finally {
    await pool.terminate();
  }
  await assert.rejects(pool.call('add', 1, 1), ClosedError);
});

test('a failing C++ stream task, as a JavaScript one: its echoes arrive, then for await, done and sends fail with its own error', async () => {
  const { WorkerPool, TaskFailedError } = await import('../dist/index.js');
  const pool = await WorkerPool.create({ module: wasmModule, workers: 2 });
  try {
    // fail_after(3) echoes three numbers and returns a TaskFailed error. The
    // 64-byte ring keeps the sends waiting for room as it fails: the waiting
    // send hears the task's kind from the ring (C++ closes it with that
    // reason) or its error from the result, never Closed.
    for (let round = 0; round < 20; round++) {
      const s = await pool.stream<number, number>('fail_after', { args: [3], capacity: 64 });
      const { got, sent, refused, readEnd } = await sendUntilRefused(s);
      assert.ok(refused instanceof TaskFailedError, `round ${round}: the send after ${sent} values failed with ${String(refused)}`);
      const failure = await s.done.catch((e: unknown) => e);
      assert.ok(failure instanceof TaskFailedError);
      assert.equal(failure.message, 'stream failed after 3');
      assert.match(failure.origin, /fail_after/);
      // The reader gets the task's own error (not the ring's "aborted: TaskFailed").
      assert.equal(readEnd, failure);
      assert.deepEqual(got, [0, 1, 2]);
      await assert.rejects(s.send(99), (e: unknown) => e === failure);
    }
  } finally {
    await pool.terminate();
  }
});

test('C++ workers take and give values of megabytes with the default rings: both ways in heap blocks', async () => {
  const { WorkerPool } = await import('../dist/index.js');
  const pool = await WorkerPool.create({ module: wasmModule, workers: 2 });
  try {
    const arg = new Uint8Array(3 << 20);
    for (let i = 0; i < arg.length; i += 4093) arg[i] = i & 0xff;
    const sizes = [3 << 20, 65000, 1 << 20, 10];
    const echoes = await Promise.all(sizes.map((n) => pool.call<Uint8Array>('echo_bytes', arg.subarray(0, n))));
    echoes.forEach((b, k) => {
      assert.equal(b.length, sizes[k]);
      for (let i = 0; i < b.length; i += 4093) assert.equal(b[i], i & 0xff, `echo ${k} byte ${i}`);
    });
    assert.equal(await pool.call('add', 2, 40), 42);
    const text = 'x'.repeat(2_000_000);
    assert.equal(await pool.call('echo_string', text), text);
    // Every block is freed by whoever read it: the heap in use comes back.
    // Leaked blocks would be 2 MiB an echo; other threads of the module (an
    // earlier test's pool, still stopping) may allocate a little meanwhile.
    const before = pool.heap().inUse;
    for (let k = 0; k < 20; k++) assert.equal((await pool.call<Uint8Array>('echo_bytes', arg.subarray(0, 1 << 20))).length, 1 << 20);
    assert.ok(pool.heap().inUse <= before + (4 << 20), `heap in use ${before} -> ${pool.heap().inUse} bytes after 20 echoes of 1 MiB`);
  } finally {
    await pool.terminate();
  }
});

test('stream values larger than their ring cross to C++ and back in parts: TypeScript writes them, C++ reads and writes them, TypeScript reads them', async () => {
  const { WorkerPool } = await import('../dist/index.js');
  const pool = await WorkerPool.create({ module: wasmModule, workers: 1 });
  const next = rng(10);
  const text = (n: number) => {
    let t = '';
    while (t.length < n) t += String.fromCharCode(97 + Math.floor(next() * 26)).repeat(1 + Math.floor(next() * 40));
    return t.slice(0, n);
  };
  try {
    // Default 64 KiB rings: 1 MiB strings through upper (std::string in,
    // std::string out), between values that fit one record (65528 bytes is
    // the largest a 64 KiB ring's record carries: 5 bytes of tag and length
    // plus 65523 characters).
    const sizes = [1, (1 << 20) + 7, 65523, 65524, 0, 3 << 20, 2];
    const s = await pool.stream<string, string>('upper');
    const inputs = sizes.map(text);
    const sent = (async () => {
      for (const v of inputs) await s.send(v);
      await s.close();
    })();
    const got: string[] = [];
    for await (const v of s) got.push(v);
    await sent;
    assert.deepEqual(got.map((v) => v.length), sizes);
    got.forEach((v, i) => assert.ok(v === inputs[i]!.toUpperCase(), `value ${i} (${sizes[i]} characters) came back upper-cased`));
    // A 256-byte ring: every value of random size, most of them in parts of
    // 64 bytes; bytes to std::vector<uint8_t> (running_sum answers each with
    // the running total).
    const sums = await pool.stream<Uint8Array, bigint | number>('running_sum', { capacity: 256 });
    let total = 0;
    const expected: number[] = [];
    const arrays = Array.from({ length: 200 }, () => {
      const a = new Uint8Array(Math.floor(next() * 1200));
      for (let i = 0; i < a.length; i++) a[i] = next() * 256;
      total += a.reduce((x, y) => x + y, 0);
      expected.push(total);
      return a;
    });
    const sentArrays = (async () => {
      for (const a of arrays) await sums.send(a);
      await sums.close();
    })();
    const totals: number[] = [];
    for await (const v of sums) totals.push(Number(v));
    await sentArrays;
    assert.deepEqual(totals, expected);
  } finally {
    await pool.terminate();
  }
});

test('a released WasmBuffer is quarantined: old views read poison, cannot reach the next lease, and a write through one is reported', async () => {
  const { WorkerPool } = await import('../dist/index.js');
  const pool = await WorkerPool.create({ module: wasmModule, workers: 1 });
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (m: string) => warnings.push(m);
  try {
    const a = pool.alloc(4096);
    a.bytes.fill(7);
    const old = a.bytes;
    const address = a.address;
    a.release();
    assert.ok(old.every((c) => c === 0xdb), 'a released block reads as poison');
    assert.equal(pool.heap().quarantined, 4096);
    const b = pool.alloc(4096);
    assert.notEqual(b.address, address, 'the next lease of the same size gets other memory');
    b.bytes.fill(1);
    old[100] = 42; // a write through a view kept past release()
    assert.ok(b.bytes.every((c) => c === 1), 'the write did not reach the live lease');
    assert.equal(await pool.call('checksum_shared', b), await pool.call('checksum_bytes', new Uint8Array(4096).fill(1)));
    for (let i = 0; i < 300; i++) pool.alloc(64).release(); // pushes the first block out
    assert.equal(pool.stats().writesAfterRelease, 1);
    assert.match(warnings.join('\n'), /released WasmBuffer of 4096 bytes .* was written after release\(\)/);
    b.release();
  } finally {
    console.warn = warn;
    await pool.terminate();
  }
});

test('JavaScript values reach C++ tasks only where they fit without loss: each coercion of old is a TypeMismatchError naming the argument and field', async () => {
  const { WorkerPool, TypeMismatchError } = await import('../dist/index.js');
  const pool = await WorkerPool.create({ module: wasmModule, workers: 1 });
  try {
    const refused = async (name: string, args: unknown[], message: RegExp) => {
      await assert.rejects(pool.call(name, ...args), (e: unknown) => e instanceof TypeMismatchError && message.test(e.message), `${name}(${args.map(String).join(', ')})`);
    };
    await refused('add', [1n, 2], /^argument 1 of add: type mismatch: expected i32, got bigint 1 \(bigints are for i64 and u64\)$/);
    await refused('echo_f32', [1e300], /^argument 1 of echo_f32: type mismatch: expected f32, got number 1e\+300 \(beyond the f32 range\)$/);
    await refused('echo_point', [{ x: 1, y: 2, z: 3 }], /^argument 1 of echo_point: type mismatch: expected struct Point, got an object with the extra field 'z' at z$/);
    await refused('echo_variant', [5], /^argument 1 of echo_variant: type mismatch: expected variant, got number 5/);
    await refused('echo_optional', [undefined], /^argument 1 of echo_optional: type mismatch: expected optional, got undefined \(use null for none\)$/);
    // What does fit still goes through, including the deliberate f32 rounding.
    assert.equal(await pool.call('add', 1, 2), 3);
    assert.equal(await pool.call('echo_f32', 0.1), Math.fround(0.1));
    assert.equal(await pool.call('echo_optional', null), null);
    assert.equal(await pool.call('echo_i64', 5), 5n);
  } finally {
    await pool.terminate();
  }
});
