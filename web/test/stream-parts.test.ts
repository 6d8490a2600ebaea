// Stream values larger than one record travel as part records (tag 1: u64
// the value's encoded length, then its first bytes; tag 2: the next bytes;
// web/PROTOCOL.md "Stream rings"). A Sender and a Receiver over a ring in one
// thread, over the postMessage channel wired by hand, and across a real
// worker_threads Worker; raw records written and read with the channel's own
// producer and consumer.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { encode, encodedSize } from '../dist/codec.js';
import { ClosedError, DeserializationError, MessageTooLargeError } from '../dist/errors.js';
import { MsgConsumer, MsgProducer } from '../dist/message-channel.js';
import type { RecordConsumer, RecordProducer } from '../dist/records.js';
import { RingConsumer, RingProducer, ringBytes, ringInit } from '../dist/ring.js';
import { Receiver, Sender } from '../dist/stream.js';
import { isErrorOf, rng32, stressScale } from './helpers.js';
import { assertSameValue, partValues } from './stream-helpers.js';

const kFirstPart = 1;
const kNextPart = 2;
const transports = ['ring', 'postMessage'] as const;
type Transport = (typeof transports)[number];

// The two ends of one channel of `capacity` bytes. Over postMessage each
// message is delivered in a later task, as a port would.
function channel(transport: Transport, capacity: number): { tx: RecordProducer; rx: RecordConsumer } {
  if (transport === 'ring') {
    const buf = new SharedArrayBuffer(ringBytes(capacity));
    ringInit(buf, 0, capacity);
    return { tx: RingProducer.attach(buf, 0), rx: RingConsumer.attach(buf, 0) };
  }
  let c: MsgConsumer | null = null;
  const p = new MsgProducer(
    (m) =>
      setImmediate(() => {
        if (m.d !== undefined) c!.data(m.d);
        if (m.e === 1) c!.end(m.r ?? 0);
      }),
    2,
    capacity,
    capacity,
  );
  c = new MsgConsumer(
    (m) =>
      setImmediate(() => {
        if (m.g !== undefined) p.grant(m.g);
        if (m.x === 1) p.peerClose(m.r ?? 0);
      }),
    2,
    capacity,
  );
  return { tx: p, rx: c };
}

function pair<T = unknown>(transport: Transport, capacity: number) {
  const { tx, rx } = channel(transport, capacity);
  return { tx: new Sender<T>(tx), rx: new Receiver<T>(rx), producer: tx, consumer: rx };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
const iota = (n: number) => new Uint8Array(n).map((_, i) => i);

// Reads `n` records with the channel's own consumer (copies of their payloads).
async function readRaw(rx: RecordConsumer, n: number): Promise<{ tag: number; bytes: Uint8Array }[]> {
  const out: { tag: number; bytes: Uint8Array }[] = [];
  while (out.length < n) {
    const r = rx.tryRead();
    if (r === null) {
      assert.ok(await rx.waitForData(2000), `only ${out.length} of ${n} records came`);
      continue;
    }
    out.push({ tag: r.tag, bytes: r.payload.slice() });
    rx.release();
  }
  return out;
}

// Writes raw records with the channel's own producer and publishes them.
function writeRaw(tx: RecordProducer, records: [number, Uint8Array][]): void {
  for (const [tag, bytes] of records) assert.ok(tx.tryWrite(tag, bytes), `no room for a record of ${bytes.length} bytes`);
  tx.publish();
}

// About 1 MiB of UTF-8 with 1- to 4-byte characters.
function longString(seed: number): string {
  const next = rng32(seed);
  const chars = ['a', 'q', 'ß', '€', '𝄞', ' '];
  const out: string[] = [];
  for (let bytes = 0; bytes < 1 << 20; ) {
    const c = chars[next() % chars.length]!;
    out.push(c);
    bytes += Buffer.byteLength(c);
  }
  return out.join('');
}

const mib = new Uint8Array(1 << 20).map((_, i) => (i * 7 + (i >>> 8)) & 255);
const text = longString(1);

// The send and receive calls the large values go through.
const apis: { name: string; send: (tx: Sender, vs: unknown[]) => Promise<void>; recv: (rx: Receiver, n: number) => Promise<unknown[]> }[] = [
  {
    name: 'send / recv',
    send: async (tx, vs) => {
      for (const v of vs) await tx.send(v);
    },
    recv: async (rx, n) => {
      const out: unknown[] = [];
      while (out.length < n) {
        const r = await rx.recv();
        assert.equal(r.done, false);
        out.push(r.value);
      }
      return out;
    },
  },
  {
    name: 'sendBatch / recvBatch',
    send: (tx, vs) => tx.sendBatch(vs),
    recv: async (rx, n) => {
      const out: unknown[] = [];
      while (out.length < n) out.push(...(await rx.recvBatch(n - out.length)));
      return out;
    },
  },
  {
    name: 'writable / tryRecv',
    send: async (tx, vs) => {
      const w = tx.writable.getWriter();
      for (const v of vs) {
        await w.ready;
        void w.write(v);
      }
      await w.ready;
      w.releaseLock();
    },
    recv: async (rx, n) => {
      const out: unknown[] = [];
      while (out.length < n) {
        const r = rx.tryRecv();
        if (r === null) await turn();
        else out.push(r.value);
      }
      return out;
    },
  },
];

describe('stream values in parts', () => {
  for (const transport of transports) {
    for (const capacity of [64 * 1024, 64]) {
      for (const api of apis) {
        test(`a 1 MiB byte array and a 1 MiB string go through a ${capacity}-byte ${transport} channel (${api.name}), compared byte for byte`, async () => {
          const { tx, rx } = pair(transport, capacity);
          const values = [mib, 'small', text, 7];
          const sending = api.send(tx, values).then(() => tx.close());
          const got = await api.recv(rx, values.length);
          await sending;
          values.forEach((v, i) => assertSameValue(got[i], v, `value ${i}`));
          assert.deepEqual(await rx.recv(), { done: true, value: undefined });
        });
      }
    }

    test(`a value over 16 MiB is put together in room that grows as its parts come; a first part announcing 1 GiB takes none of it up front (${transport})`, async () => {
      const { tx, rx } = pair(transport, 64 * 1024);
      const huge = new Uint8Array(20 << 20);
      for (let i = 0; i < huge.length; i += 4093) huge[i] = (i >>> 12) & 0xff;
      const sending = tx.send(huge);
      const got = (await rx.recv()).value as Uint8Array;
      await sending;
      assert.equal(got.length, huge.length);
      for (let i = 0; i < huge.length; i += 4093) assert.equal(got[i], huge[i], `byte ${i}`);
      await tx.close();
      // What a broken sender could write: 1 GiB announced, 8 bytes sent; the
      // value record after it drops that value (the abandon rule).
      const broken = pair(transport, 1024);
      const before = process.memoryUsage().arrayBuffers;
      writeRaw(broken.producer, [[kFirstPart, concat(u64(2 ** 30), iota(8))], [0, encode(42)]]);
      assert.deepEqual(await broken.rx.recv(), { done: false, value: 42 });
      assert.ok(process.memoryUsage().arrayBuffers - before < 64 << 20, 'no 1 GiB buffer for 8 bytes');
    });

    test(`a byte array that came in parts is a view of its own value's buffer, which later values leave alone (${transport})`, async () => {
      const { tx, rx } = pair(transport, 1024);
      const sending = Promise.all([tx.send(new Uint8Array(5000).fill(1)), tx.send(new Uint8Array(5000).fill(2))]).then(() => tx.close());
      const a = (await rx.recv()).value as Uint8Array;
      const b = (await rx.recv()).value as Uint8Array;
      await sending;
      assert.ok(a.byteOffset > 0 && b.byteOffset > 0, 'views, not copies');
      assert.notEqual(a.buffer, b.buffer);
      assert.ok(a.length === 5000 && a.every((x) => x === 1) && b.every((x) => x === 2));
    });

    test(`small and large values interleaved keep their order (${transport})`, async () => {
      const { tx, rx } = pair(transport, 256);
      const values: unknown[] = [];
      for (let i = 0; i < 300; i++) values.push(i % 3 === 0 ? iota(i * 5) : i % 3 === 1 ? i : `v${i}`.repeat(i % 40));
      // Many sends in one turn: small ones share records, large ones go in
      // parts between them.
      const sending = Promise.all(values.map((v) => tx.send(v))).then(() => tx.close());
      const got: unknown[] = [];
      for await (const v of rx) got.push(v);
      await sending;
      assert.equal(got.length, values.length);
      values.forEach((v, i) => assertSameValue(got[i], v, `value ${i}`));
    });

    test(`a value of exactly one record's limit goes as one record; one byte more goes in parts (${transport})`, async () => {
      for (const capacity of [64, 64 * 1024]) {
        const { tx, rx } = channel(transport, capacity);
        const s = new Sender(tx);
        const limit = s.maxValueBytes;
        assert.equal(limit, capacity - 8);
        const atLimit = iota(limit - 5); // a byte array's encoding: tag, u32 length, the bytes
        const over = iota(limit - 4);
        assert.equal(encodedSize(atLimit), limit);
        const sending = s.send(atLimit).then(() => s.send(over));
        const [one] = await readRaw(rx, 1);
        assert.equal(one!.tag, 0);
        assert.deepEqual(one!.bytes, encode(atLimit));
        const p = capacity / 4; // part payload: a quarter of the channel
        const parts = Math.ceil((limit + 1 + 8) / p);
        const raw = await readRaw(rx, parts);
        await sending;
        assert.deepEqual(
          raw.map((r) => r.tag),
          [kFirstPart, ...Array<number>(parts - 1).fill(kNextPart)],
        );
        assert.deepEqual(raw[0]!.bytes.subarray(0, 8), u64(limit + 1));
        assert.deepEqual(concat(...raw.map((r) => r.bytes)).subarray(8), encode(over));
      }
    });

    test(`the records of a 60-byte array through a 64-byte channel are the spec's (${transport})`, async () => {
      // The case both twins check: encoded 65 bytes > 56, so parts of 16:
      // tag 1 with u64 65 and 8 value bytes, then tag 2 with 16, 16, 16, 9.
      const { tx, rx } = channel(transport, 64);
      const s = new Sender(tx);
      const value = iota(60);
      const enc = encode(value);
      assert.equal(Buffer.from(enc.subarray(0, 5)).toString('hex'), '0d3c000000');
      const sending = s.send(value).then(() => s.send(7));
      const raw = await readRaw(rx, 6);
      await sending;
      const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
      assert.deepEqual(
        raw.map((r) => [r.tag, hex(r.bytes)]),
        [
          [1, '4100000000000000' + '0d3c000000000102'],
          [2, hex(enc.subarray(8, 24))],
          [2, hex(enc.subarray(24, 40))],
          [2, hex(enc.subarray(40, 56))],
          [2, hex(enc.subarray(56, 65))],
          [0, hex(encode(7))], // a value after parts starts a record of its own
        ],
      );
      assert.deepEqual(
        raw.map((r) => r.bytes.length),
        [16, 16, 16, 16, 9, 9],
      );
    });

    test(`trySend refuses a value larger than one record and points to send() (${transport})`, async () => {
      const { tx, rx } = pair<Uint8Array>(transport, 64);
      assert.throws(
        () => tx.trySend(iota(52)),
        isErrorOf(MessageTooLargeError, (e) => assert.match(e.message, /value encodes to 57 bytes, more than the 56 bytes .* use send\(\) for values larger than one record/)),
      );
      assert.equal(tx.trySend(iota(51)), true);
      await tx.close();
      assertSameValue((await rx.recv()).value, iota(51), 'the value that fits');
      assert.deepEqual(await rx.recv(), { done: true, value: undefined });
    });

    test(`a sender failed after its first part delivers nothing of that value; the receiver gets the end (${transport})`, async () => {
      const { tx, rx } = pair(transport, 64);
      await tx.send('before');
      const sending = tx.send(iota(1000));
      assert.deepEqual(await rx.recv(), { done: false, value: 'before' });
      // The channel fills with parts; the receiver takes what came.
      for (let i = 0; i < 10; i++) {
        assert.equal(rx.tryRecv(), null);
        await turn();
      }
      tx.fail(new ClosedError('the sender gave up', 'test'));
      await assert.rejects(sending, /the sender gave up/);
      assert.deepEqual(await rx.recv(), { done: true, value: undefined });
    });

    test(`a receiver that closes mid-value fails the send with Closed (${transport})`, async () => {
      const { tx, rx } = pair(transport, 64);
      const sending = tx.send(iota(1000));
      for (let i = 0; i < 5; i++) {
        assert.equal(rx.tryRecv(), null);
        await turn();
      }
      rx.close();
      await assert.rejects(sending, isErrorOf(ClosedError));
    });

    test(`close() with parts still queued ends the stream after the whole value (${transport})`, async () => {
      const { tx, rx } = pair(transport, 64);
      void tx.send(iota(1000));
      const closing = tx.close();
      assertSameValue((await rx.recv()).value, iota(1000), 'the value');
      assert.deepEqual(await rx.recv(), { done: true, value: undefined });
      await closing;
    });

    test(`an unfinished value is dropped at the next value, the next first part and the end (${transport})`, async () => {
      // What a sender whose send failed mid-value leaves (a C++ send that timed out).
      const { rx, producer } = pair(transport, 1024);
      const enc = encode(iota(60));
      const first = concat(u64(enc.length), enc.subarray(0, 8));
      writeRaw(producer, [
        [kFirstPart, first],
        [kNextPart, enc.subarray(8, 24)],
        [0, encode('after a dropped value')],
        [kFirstPart, first],
        [kFirstPart, first],
        [kNextPart, enc.subarray(8, 65)],
        [kFirstPart, first],
      ]);
      assert.deepEqual(await rx.recv(), { done: false, value: 'after a dropped value' });
      assertSameValue((await rx.recv()).value, iota(60), 'the value whose first part came again');
      producer.close();
      assert.deepEqual(await rx.recv(), { done: true, value: undefined });
    });

    test(`malformed part records fail one receive with Deserialization; the next value is received (${transport})`, async () => {
      const enc7 = encode(7);
      const cases: { records: [number, Uint8Array][]; message: RegExp }[] = [
        { records: [[kNextPart, iota(3)]], message: /next part record \(tag 2\) with no value in parts under way/ },
        { records: [[kFirstPart, iota(5)]], message: /first part record of 5 bytes, shorter than its 8-byte length/ },
        { records: [[kFirstPart, u64(0)]], message: /announces a value of 0 bytes/ },
        { records: [[kFirstPart, u64(2 ** 30 + 1)]], message: /announces a value of 1073741825 bytes \(1 byte to 1 GiB\)/ },
        { records: [[kFirstPart, concat(u64(4), iota(5))]], message: /part record of 5 value bytes takes its value past the 4 bytes/ },
        { records: [[kFirstPart, concat(u64(20), iota(8))], [kNextPart, iota(13)]], message: /13 value bytes takes its value past the 20 bytes .*8 were in.*dropped/ },
        { records: [[kFirstPart, concat(u64(20), iota(8))], [kNextPart, new Uint8Array(0)]], message: /empty next part record/ },
        { records: [[kFirstPart, concat(u64(3), new Uint8Array([0xff, 0xff, 0xff]))]], message: /./ },
        { records: [[kFirstPart, concat(u64(enc7.length + 1), enc7, new Uint8Array([0]))]], message: /1 trailing byte after the value sent in parts/ },
      ];
      for (const [i, c] of cases.entries()) {
        const { rx, producer, consumer } = pair(transport, 1024);
        writeRaw(producer, [...c.records, [0, encode(42)]]);
        const fail = isErrorOf(DeserializationError, (e) => assert.match(e.message, c.message));
        if (i % 2 === 0) {
          await assert.rejects(rx.recv(), fail, `case ${i}`);
        } else {
          while (!consumer.hasData()) await turn();
          assert.throws(() => rx.tryRecv(), fail, `case ${i}`);
        }
        assert.deepEqual(await rx.recv(), { done: false, value: 42 }, `case ${i}: the value after`);
      }
    });

    test(`a value encoding to more than 1 GiB is MessageTooLarge with nothing written (${transport})`, async () => {
      // 1025 references to one 1 MiB array: over 1 GiB encoded, 1 MiB in memory.
      const huge = Array<Uint8Array>(1025).fill(new Uint8Array(1 << 20));
      const { tx, rx } = channel(transport, 64);
      const s = new Sender<unknown>(tx);
      const size = encodedSize(huge);
      assert.ok(size > 2 ** 30);
      const tooLarge = isErrorOf(MessageTooLargeError, (e) => assert.equal(e.message, `value encodes to ${size} bytes, more than the 1 GiB a stream value may have`));
      await assert.rejects(s.send(huge), tooLarge);
      assert.throws(() => s.trySend(huge), tooLarge);
      await assert.rejects(s.sendBatch([1, huge, 2]), tooLarge);
      // Queued behind a value waiting for room, it is refused as well.
      const waiting = s.send(iota(200));
      await assert.rejects(s.send(huge), tooLarge);
      const sent3 = s.send(3);
      const raw = await readRaw(rx, 1 + Math.ceil((205 + 8) / 16) + 1);
      await Promise.all([waiting, sent3]);
      assert.deepEqual(raw[0], { tag: 0, bytes: encode(1) });
      assert.deepEqual(
        raw.slice(1, -1).map((r) => r.tag),
        [kFirstPart, ...Array<number>(13).fill(kNextPart)],
      );
      assert.deepEqual(raw.at(-1), { tag: 0, bytes: encode(3) });
      assert.equal(rx.tryRead(), null, 'nothing more was written');
    });

    test(`stress: thousands of values of 0 to 4x the capacity, sender and receiver interleaved (${transport})`, async () => {
      for (const capacity of [64, 1024]) {
        const count = Math.round(4000 * stressScale);
        const { tx, rx } = pair(transport, capacity);
        const pick = rng32(capacity);
        const sent = partValues(7, capacity);
        const want = partValues(7, capacity);
        const sending = (async () => {
          for (let i = 0; i < count; ) {
            const how = pick() % 4;
            if (how === 0) {
              const v = sent();
              try {
                if (!tx.trySend(v)) await tx.send(v);
              } catch (e) {
                assert.ok(e instanceof MessageTooLargeError && encodedSize(v) > tx.maxValueBytes, String(e));
                await tx.send(v);
              }
              i++;
            } else if (how === 1) {
              const n = Math.min(count - i, 1 + (pick() % 8));
              await tx.sendBatch(Array.from({ length: n }, sent));
              i += n;
            } else if (how === 2) {
              const n = Math.min(count - i, 1 + (pick() % 8));
              await Promise.all(Array.from({ length: n }, () => tx.send(sent())));
              i += n;
            } else {
              await tx.send(sent());
              i++;
            }
            if (pick() % 4 === 0) await turn();
          }
          await tx.close();
        })();
        let got = 0;
        const take = (v: unknown) => assertSameValue(v, want(), `capacity ${capacity}, value ${got++}`);
        for (;;) {
          const how = pick() % 3;
          if (how === 0) {
            const r = await rx.recv();
            if (r.done) break;
            take(r.value);
          } else if (how === 1) {
            const b = await rx.recvBatch(1 + (pick() % 16));
            if (b.length === 0) break;
            b.forEach(take);
          } else {
            const r = rx.tryRecv();
            if (r === null) await turn();
            else if (r.done) break;
            else take(r.value);
          }
          if (pick() % 8 === 0) await turn();
        }
        await sending;
        assert.equal(got, count);
      }
    });
  }

  test('across a real worker_threads Worker: values in parts both ways over a 256-byte ring', async () => {
    const capacity = 256;
    const count = Math.round(3000 * stressScale);
    const script = new URL('./workers/stream-roles.js', import.meta.url);
    const run = (job: object) =>
      new Promise<number>((resolve, reject) => {
        const w = new Worker(script, { workerData: job });
        let value: number | undefined;
        w.on('message', (m: { ok: boolean; value?: number; error?: string }) => {
          if (m.ok) value = m.value;
          else reject(new Error(`worker: ${m.error}`));
        });
        w.on('error', reject);
        w.on('exit', (code) => (value !== undefined ? resolve(value) : reject(new Error(`worker exited with ${code}`))));
      });
    const ring = () => {
      const buf = new SharedArrayBuffer(ringBytes(capacity));
      ringInit(buf, 0, capacity);
      return buf;
    };
    // The worker sends; this thread receives.
    const inBuf = ring();
    const sending = run({ role: 'send', buf: inBuf, seed: 11, capacity, count });
    const rx = new Receiver(RingConsumer.attach(inBuf, 0));
    const want = partValues(11, capacity);
    let got = 0;
    for await (const v of rx) assertSameValue(v, want(), `value ${got++} from the worker`);
    assert.equal(await sending, count);
    assert.equal(got, count);
    // This thread sends; the worker receives and checks.
    const outBuf = ring();
    const receiving = run({ role: 'recv', buf: outBuf, seed: 12, capacity, count });
    const tx = new Sender(RingProducer.attach(outBuf, 0));
    const value = partValues(12, capacity);
    for (let i = 0; i < count; i++) await tx.send(value());
    await tx.close();
    assert.equal(await receiving, count);
  });
});
