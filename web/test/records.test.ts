// Fuzzing the record decoders of the JavaScript side (web/PROTOCOL.md): what
// the pool reads from a worker (response records, stream records), over
// both transports, and the ring and channel consumers under them. A peer
// that writes malformed records gets Deserialization / CorruptRecord errors
// for that call or stream, or its worker is ended and replaced
// (WorkerCrashed); nothing throws anything else, hangs or leaks.
// Iterations scale with FERRY_STRESS_SCALE.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorKind, FerryError, WorkerPool } from '../dist/index.js';
import { MsgConsumer } from '../dist/message-channel.js';
import { RING, RingConsumer, ringInit } from '../dist/ring.js';
import { rng32, stressScale, until } from './helpers.js';
import { Mode, kModes } from './workers/malformed-modes.js';

const script = new URL('./workers/malformed.js', import.meta.url);
const kinds = (e: unknown) => (e instanceof FerryError ? ErrorKind[e.kind] : `not a FerryError: ${String(e)}`);
const kCrashModes: number[] = [Mode.Short, Mode.UnknownTag, Mode.BadHeader, Mode.CrashGarbage, Mode.BadPart, Mode.LostBlock];

for (const transport of ['shared-memory', 'postMessage'] as const) {
  test(`${transport}: malformed response records fail their call or end their worker; every call settles and the pool goes on`, async () => {
    const pool = await WorkerPool.create({ script, workers: 2, transport });
    const next = rng32(0xfe11);
    const n = Math.round(300 * stressScale);
    const seen: Record<string, number> = {};
    try {
      for (let done = 0; done < n; ) {
        const group = Array.from({ length: 1 + (next() % 4) }, () => ({ seed: next() >>> 1, mode: next() % kModes }));
        const settled = await Promise.allSettled(group.map((g) => pool.callWith({ timeout: 10_000 }, 'fuzz', g.seed, g.mode)));
        settled.forEach((r, i) => {
          const { seed, mode } = group[i]!;
          const how = r.status === 'fulfilled' ? 'value' : kinds(r.reason);
          seen[`mode ${mode}: ${how}`] = (seen[`mode ${mode}: ${how}`] ?? 0) + 1;
          assert.notEqual(how, 'Timeout', `mode ${mode} left its call pending`);
          assert.ok(how === 'value' || r.status === 'rejected' && r.reason instanceof FerryError, `mode ${mode}: ${how}`);
          // A call answered well gets its value, unless its worker was ended by another call's record.
          if (mode === Mode.Good || mode === Mode.StrangerId || mode === Mode.GoodParts || mode === Mode.GoodBlock) assert.ok(how === 'WorkerCrashed' || (r.status === 'fulfilled' && (r.value as number[])[0] === seed), `mode ${mode}: ${how}`);
          if (kCrashModes.includes(mode) || (mode === Mode.BadBlock && transport === 'shared-memory')) assert.equal(how, 'WorkerCrashed', `mode ${mode}`);
        });
        done += group.length;
      }
      const stats = pool.stats();
      assert.ok(stats.workers.reduce((a, w) => a + w.restarts, 0) > 0, 'malformed records ended workers');
      assert.equal(stats.submitted, stats.completed + stats.failed, JSON.stringify(seen));
      // The pool is still usable.
      assert.deepEqual(await pool.call('fuzz', 7, Mode.Good), [7]);
      await until(() => pool.stats().workers.every((w) => w.inFlight === 0), 'nothing in flight');
    } finally {
      await pool.terminate();
    }
  });

  test(`${transport}: malformed stream records fail the value they carry; every stream ends and its memory is freed`, async () => {
    const pool = await WorkerPool.create({ script, workers: 2, transport });
    const next = rng32(0x5eed);
    const n = Math.round(60 * stressScale);
    const baseline = pool.stats().memory?.used;
    try {
      for (let i = 0; i < n; i++) {
        const count = next() % 40;
        const s = await pool.stream('fuzz', { args: [next() >>> 1, count], capacity: 512 });
        // A task that has already failed: close() rejects with its error, as done does.
        const closing = await s.close().then(() => null, (e: unknown) => e);
        let values = 0;
        let errors = 0;
        let last: unknown = null;
        // A record carries values back to back (stream/STREAMS.md): each of
        // its at most 23 random bytes ends at most one value or one error.
        const most = 24 * count + 1;
        for (let k = 0; k < most + 2; k++) {
          try {
            const r = await s.recv();
            if (r.done) break;
            values++;
          } catch (e) {
            assert.ok(e instanceof FerryError, kinds(e));
            // The stream's own end is one error that repeats (its result failed, a crash).
            if (e === last || e.kind !== ErrorKind.Deserialization) break;
            last = e;
            errors++;
          }
        }
        // The task's failed result may add one.
        assert.ok(values + errors <= most, `${values} values and ${errors} errors from ${count} records`);
        const end = await Promise.race([s.done.then(() => 'value', (e) => kinds(e)), new Promise((r) => setTimeout(r, 5000, 'pending'))]);
        assert.notEqual(end, 'pending', `stream ${i}: done never settled`);
        if (closing !== null) assert.equal(kinds(closing), end, `stream ${i}: close() and done tell the same failure`);
        s.cancel('done with it'); // reading stopped early: let its memory go
      }
      if (baseline !== undefined) await until(() => pool.stats().memory!.used === baseline, 'stream memory back to its baseline');
      assert.deepEqual(await pool.call('fuzz', 9, Mode.Good), [9]);
    } finally {
      await pool.terminate();
    }
  });
}

test('a ring consumer over random header words returns records inside the ring or throws CorruptRecord, never anything else', () => {
  const next = rng32(0xc0ffee);
  const cap = 256;
  const buffer = new SharedArrayBuffer(RING.HEADER_BYTES + cap);
  const words = new Int32Array(buffer);
  const trials = Math.round(3000 * stressScale);
  const outcomes = { records: 0, corrupt: 0, empty: 0 };
  for (let t = 0; t < trials; t++) {
    ringInit(buffer, 0, cap);
    for (let i = 0; i < cap / 4; i++) words[RING.HEADER_BYTES / 4 + i] = next() % 3 === 0 ? next() % 64 : next() | 0;
    const start = (next() % (cap / 8)) * 8;
    Atomics.store(words, RING.offsets.head / 4, start);
    Atomics.store(words, RING.offsets.tail / 4, start + (next() % (cap + 1)));
    const rx = RingConsumer.attach(buffer, 0);
    try {
      for (let k = 0; k < 64; k++) {
        const rec = rx.tryRead();
        if (rec === null) {
          outcomes.empty++;
          break;
        }
        const end = rec.payload.byteOffset + rec.payload.length;
        assert.ok(rec.payload.byteOffset >= RING.HEADER_BYTES && end <= RING.HEADER_BYTES + cap, 'a record inside the data area');
        outcomes.records++;
      }
    } catch (e) {
      assert.ok(e instanceof FerryError && e.kind === ErrorKind.CorruptRecord, kinds(e));
      outcomes.corrupt++;
      assert.throws(() => rx.tryRead(), (x: unknown) => x === e, 'CorruptRecord stays');
    }
    rx.detach();
  }
  assert.ok(outcomes.corrupt > 0 && outcomes.records > 0, JSON.stringify(outcomes));
});

test('a postMessage channel consumer over random chunks returns records inside the chunk or throws CorruptRecord', () => {
  const next = rng32(0xbadc0de);
  const trials = Math.round(3000 * stressScale);
  let corrupt = 0;
  for (let t = 0; t < trials; t++) {
    const c = new MsgConsumer(() => {}, 1, 4096);
    const chunk = new Uint8Array(next() % 64);
    for (let i = 0; i < chunk.length; i++) chunk[i] = next() % 4 === 0 ? next() % 32 : next() & 0xff;
    c.data(chunk.buffer);
    try {
      for (let rec = c.tryRead(); rec !== null; rec = c.tryRead()) {
        assert.ok(rec.payload.byteOffset + rec.payload.length <= chunk.length);
      }
    } catch (e) {
      assert.ok(e instanceof FerryError && e.kind === ErrorKind.CorruptRecord, kinds(e));
      corrupt++;
    }
  }
  assert.ok(corrupt > 0);
});

test('parts put back together give the record; a part that contradicts the first throws CorruptRecord', async () => {
  const { PartReader, RequestTag, partBytes, splitParts, kPartHeaderBytes } = await import('../dist/protocol.js');
  const next = rng32(0x9a27);
  for (let round = 0; round < Math.round(200 * stressScale); round++) {
    const max = 32 + (next() % 300);
    const record = new Uint8Array(next() % 5000);
    for (let i = 0; i < record.length; i++) record[i] = next();
    const parts = splitParts(7, record, max);
    const size = partBytes(max);
    assert.ok(size <= max && size >= kPartHeaderBytes + 8);
    assert.ok(parts.every((p: Uint8Array) => p.length <= size));
    assert.equal(parts.length, Math.max(1, Math.ceil((record.length + kPartHeaderBytes) / size)));
    const reader = new PartReader(RequestTag.Part);
    parts.forEach((p: Uint8Array, i: number) => {
      const whole = reader.add(p, 0, p.length);
      if (i < parts.length - 1) assert.equal(whole, null);
      else assert.deepEqual(whole, record);
    });
    assert.equal(reader.tag, 7);
  }
  const reader = new PartReader(RequestTag.Part);
  const first = splitParts(1, new Uint8Array(100), 64)[0]!;
  assert.equal(reader.add(first, 0, first.length), null);
  assert.throws(() => reader.add(new Uint8Array(200), 0, 200), (e: unknown) => kinds(e) === 'CorruptRecord' && /runs past the 100 bytes its record announced/.test((e as Error).message));
  assert.throws(() => reader.add(new Uint8Array(8), 0, 8), (e: unknown) => kinds(e) === 'CorruptRecord' && /shorter than its 16-byte header/.test((e as Error).message));
  const huge = new Uint8Array(16);
  huge[15] = 1; // 2^56 bytes
  assert.throws(() => reader.add(huge, 0, 16), (e: unknown) => kinds(e) === 'CorruptRecord' && /more than 1 GiB/.test((e as Error).message));
  // Parts do not nest: a first part whose record would itself be a part is
  // refused, and the next record is read from its start.
  const nested = splitParts(RequestTag.Part, new Uint8Array(4), 64)[0]!;
  assert.throws(() => reader.add(nested, 0, nested.length), (e: unknown) => kinds(e) === 'CorruptRecord' && /parts do not nest/.test((e as Error).message));
  const empty = splitParts(RequestTag.Call, new Uint8Array(0), 64)[0]!;
  assert.deepEqual(reader.add(empty, 0, empty.length), new Uint8Array(0));
  assert.equal(reader.tag, RequestTag.Call);
});

test('a record over 16 MiB in parts gets room as its parts come; a first part announcing 1 GiB takes none of it up front', async () => {
  const { PartReader, RequestTag, splitParts } = await import('../dist/protocol.js');
  const record = new Uint8Array(20 << 20);
  for (let i = 0; i < record.length; i += 4093) record[i] = (i >>> 12) & 0xff;
  const reader = new PartReader(RequestTag.Part);
  let whole: Uint8Array | null = null;
  for (const p of splitParts(3, record, 64 * 1024)) whole = reader.add(p, 0, p.length);
  assert.equal(whole!.length, record.length);
  for (let i = 0; i < record.length; i += 4093) assert.equal(whole![i], record[i], `byte ${i}`);
  const first = splitParts(3, new Uint8Array(8), 64)[0]!;
  new DataView(first.buffer, first.byteOffset).setBigUint64(8, 1n << 30n, true); // announces 1 GiB, carries 8 bytes
  const before = process.memoryUsage().arrayBuffers;
  assert.equal(reader.add(first, 0, first.length), null);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 << 20, 'no 1 GiB buffer for 8 bytes');
});

test('a block record names its block; a block of another length or outside the heap, a record that is no block record, or a block of a part throws CorruptRecord', async () => {
  const { HeapBlocks, PortBlocks, kBlockRecordBytes, readBlockRecord } = await import('../dist/blocks.js');
  const { RequestTag } = await import('../dist/protocol.js');
  const own = [RequestTag.Part, RequestTag.Block];
  const posted: { m: { b: ArrayBuffer; o: number; n: number }; t: Transferable[] }[] = [];
  const lane = new PortBlocks((m, t) => posted.push({ m, t }));
  const backing = new Uint8Array(100);
  backing.fill(9, 10, 60);
  const record = lane.send(RequestTag.Call, backing.subarray(10, 60));
  assert.equal(record.length, kBlockRecordBytes);
  assert.equal(posted.length, 1);
  assert.equal(posted[0]!.t[0], backing.buffer); // moved, not copied
  assert.deepEqual({ o: posted[0]!.m.o, n: posted[0]!.m.n }, { o: 10, n: 50 });
  const r = readBlockRecord(record, 0, record.length, own);
  assert.deepEqual(r, { tag: RequestTag.Call, length: 50, address: 0 });
  // The port hands blocks out in order, each once; none yet is null.
  const inbox = lane;
  assert.equal(inbox.take(r), null);
  let arrived = false;
  const waiting = inbox.arrived().then(() => (arrived = true));
  await Promise.resolve();
  assert.equal(arrived, false);
  const buf = new Uint8Array(70);
  buf.fill(9, 20, 70);
  inbox.deliver({ ferry: 'block', b: buf.buffer, o: 20, n: 50 });
  await waiting;
  assert.deepEqual(inbox.take(r), new Uint8Array(50).fill(9));
  assert.equal(inbox.take(r), null);
  inbox.deliver({ ferry: 'block', b: new ArrayBuffer(49), o: 0, n: 49 });
  assert.throws(() => inbox.take(r), (e: unknown) => kinds(e) === 'CorruptRecord' && /a block of 49 bytes where its record announced 50/.test((e as Error).message));
  assert.throws(() => readBlockRecord(record, 0, 15, own), (e: unknown) => kinds(e) === 'CorruptRecord' && /a block record of 15 bytes/.test((e as Error).message));
  const ofPart = lane.send(RequestTag.Part, new Uint8Array(4));
  assert.throws(() => readBlockRecord(ofPart, 0, ofPart.length, own), (e: unknown) => kinds(e) === 'CorruptRecord' && /never a block's/.test((e as Error).message));
  const huge = record.slice();
  huge[15] = 1; // 2^56 bytes
  assert.throws(() => readBlockRecord(huge, 0, huge.length, own), (e: unknown) => kinds(e) === 'CorruptRecord' && /more than 1 GiB/.test((e as Error).message));
  assert.throws(() => inbox.take({ ...r, address: 64 }), (e: unknown) => kinds(e) === 'CorruptRecord' && /blocks come on the port here/.test((e as Error).message));
  // A message that is no block fails the record that takes it, in its turn.
  inbox.deliver({ ferry: 'block', b: new ArrayBuffer(8), o: 4, n: 8 });
  inbox.deliver({ ferry: 'block', b: 'bytes' as never, o: 0, n: 5 });
  assert.throws(() => inbox.take({ ...r, length: 8 }), (e: unknown) => kinds(e) === 'CorruptRecord' && /without an ArrayBuffer holding bytes \[o, o \+ n\) \(o 4, n 8\)/.test((e as Error).message));
  assert.throws(() => inbox.take({ ...r, length: 5 }), (e: unknown) => kinds(e) === 'CorruptRecord' && /o 0, n 5/.test((e as Error).message));
  // Heap blocks: copied into what alloc gave, read where the record says, freed by release().
  const heap = new Uint8Array(4096);
  const freed: number[] = [];
  const blocks = new HeapBlocks(() => heap, () => 1024, (a) => freed.push(a));
  const hr = readBlockRecord(blocks.send(RequestTag.Stream, new Uint8Array(300).fill(5)), 0, kBlockRecordBytes, own);
  assert.deepEqual(hr, { tag: RequestTag.Stream, length: 300, address: 1024 });
  assert.deepEqual(blocks.take(hr), new Uint8Array(300).fill(5));
  blocks.release(hr);
  assert.deepEqual(freed, [1024]);
  // A heap with no room: null, and the caller sends parts.
  const full = new HeapBlocks(() => heap, () => {
    throw new Error('the wasm heap cannot fit 300 more bytes');
  }, () => {});
  assert.equal(full.send(RequestTag.Call, new Uint8Array(300)), null);
  for (const bad of [{ ...hr, address: 0 }, { ...hr, address: 4000 }, { ...hr, address: 5000 }]) {
    assert.throws(() => blocks.take(bad), (e: unknown) => kinds(e) === 'CorruptRecord' && /outside the module's 4096 bytes of memory/.test((e as Error).message));
  }
});
