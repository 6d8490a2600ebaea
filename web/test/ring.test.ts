// Tests of web/src/ring.ts, the TypeScript twin of core/ring.hpp: the shared
// golden vectors byte for byte, the layout numbers against core/ring.hpp,
// records, batches, skip records, wrapping counters and corrupt records.
// Close, abort, the eventcount (park, wake, timeouts, the polling fallback)
// and the two-thread stress run are in ring-wait.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RING, RingConsumer, RingProducer, recordBytes, ringBytes, ringInit } from '../dist/ring.js';
import { ErrorKind } from '../dist/errors.js';
import { O, Stream, dec, enc, hex, isKind, makeRing, readText, setWord, word, write } from './ring-helpers.js';

const root = (p: string) => fileURLToPath(new URL(`../../${p}`, import.meta.url));

test('RING numbers equal core/ring.hpp (offsets, flags, limits)', () => {
  const hpp = readFileSync(root('core/ring.hpp'), 'utf8');
  const constants = new Map<string, number>();
  for (const m of hpp.matchAll(/inline constexpr std::(?:size_t|uint32_t) k(\w+) = ([^;]+);/g)) {
    const expr = m[2]!.trim();
    const shift = /^(\d+)u? << (\d+)$/.exec(expr);
    constants.set(m[1]!, shift ? Number(shift[1]) * 2 ** Number(shift[2]) : Number(expr.replace(/u$/i, '')));
  }
  const offsets = [...constants].filter(([k]) => k.endsWith('Offset'));
  assert.ok(offsets.length >= 13, `parsed only ${offsets.length} offsets`);
  const camel = (k: string) => k[0]!.toLowerCase() + k.slice(1, -'Offset'.length);
  const fromHpp = Object.fromEntries(offsets.map(([k, v]) => [camel(k), v]));
  assert.deepEqual({ ...O }, fromHpp);
  assert.equal(RING.MAGIC, constants.get('Magic'));
  assert.equal(RING.VERSION, constants.get('Version'));
  assert.equal(RING.HEADER_BYTES, constants.get('HeaderBytes'));
  assert.equal(RING.RECORD_HEADER_BYTES, constants.get('RecordHeaderBytes'));
  assert.equal(RING.SKIP_TAG, constants.get('SkipTag'));
  assert.equal(RING.MIN_CAPACITY, constants.get('MinCapacity'));
  assert.equal(RING.MAX_CAPACITY, constants.get('MaxCapacity'));
  assert.deepEqual(
    { ...RING.flags },
    {
      producerClosed: constants.get('ProducerClosed'),
      consumerClosed: constants.get('ConsumerClosed'),
      producerAttached: constants.get('ProducerAttached'),
      consumerAttached: constants.get('ConsumerAttached'),
    },
  );
  assert.equal(ringBytes(1024), 1280);
  assert.deepEqual([0, 1, 8, 9].map(recordBytes), [8, 16, 16, 24]);
});

test('golden vectors (tests/golden/ring.txt) replay byte for byte', () => {
  const lines = readFileSync(root('tests/golden/ring.txt'), 'utf8').split('\n');
  let checked = 0;
  for (const line of lines) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const [name, cap, ops, want] = line.split('|').map((c) => c.trim());
    assert.ok(name && cap && ops !== undefined && want, `bad vector line: ${line}`);
    const capacity = Number(cap);
    // Alone in a SharedArrayBuffer; in a non-shared ArrayBuffer; and at an
    // offset inside a bigger buffer between canaries.
    for (const where of [{ shared: true, at: 0 }, { shared: false, at: 0 }, { shared: true, at: 192 }]) {
      const n = where.at + ringBytes(capacity) + 64;
      const buf = where.shared ? new SharedArrayBuffer(n) : new ArrayBuffer(n);
      const all = new Uint8Array(buf);
      all.fill(0xa5);
      ringInit(buf, where.at, capacity);
      all.fill(0, where.at + RING.HEADER_BYTES, where.at + ringBytes(capacity)); // as the C++ replay does
      const tx = RingProducer.attach(buf, where.at);
      const rx = RingConsumer.attach(buf, where.at);
      let lastTag = 0;
      let lastLen = 0;
      for (const op of ops.split(/\s+/).filter(Boolean)) {
        const w = /^w(\d+):(\d+)$/.exec(op);
        const e = /^e(\d+)$/.exec(op);
        if (w) {
          const tag = Number(w[1]);
          const payload = new Uint8Array(Number(w[2])).map((_, i) => (tag + i) & 0xff);
          assert.ok(tx.tryWrite(tag, payload), `${name}: ${op}`);
          lastTag = tag;
          lastLen = payload.length;
        } else if (e) {
          const n = Number(e[1]);
          const at = tx.extendAt(n);
          assert.ok(at >= 0, `${name}: ${op}`);
          for (let i = 0; i < n; i++) tx.bytes[at + i] = (lastTag + lastLen + i) & 0xff;
          tx.commitExtend(n);
          lastLen += n;
        } else if (op === 'p') tx.publish();
        else if (op === 'r') assert.ok(rx.tryRead(), `${name}: ${op}`);
        else if (op === 'R') rx.release();
        else if (op === 'cp') tx.close();
        else if (op === 'cc') rx.close();
        else assert.fail(`${name}: unknown op ${op}`);
      }
      const got = hex(all.subarray(where.at, where.at + ringBytes(capacity)));
      assert.equal(got, want, `vector ${name} (${where.shared ? 'shared' : 'ArrayBuffer'}, at ${where.at})`);
      assert.ok(all.subarray(0, where.at).every((b) => b === 0xa5), `${name}: canary before`);
      assert.ok(all.subarray(where.at + ringBytes(capacity)).every((b) => b === 0xa5), `${name}: canary after`);
    }
    ++checked;
  }
  assert.ok(checked >= 10, `only ${checked} vectors`);
});

test('ringInit writes the documented header and rejects bad capacities and offsets', () => {
  const buf = new SharedArrayBuffer(ringBytes(4096) + 64);
  ringInit(buf, 64, 4096);
  assert.equal(word(buf, 64 + O.magic), 0x474e5246);
  assert.equal(hex(new Uint8Array(buf, 64, 4)), '46524e47'); // "FRNG"
  assert.equal(word(buf, 64 + O.version), 1);
  assert.equal(word(buf, 64 + O.capacity), 4096);
  assert.equal(word(buf, 64 + O.flags), 0);
  assert.equal(word(buf, 64 + O.dataBell), 192);
  assert.equal(word(buf, 64 + O.spaceBell), 200);
  for (const bad of [0, 32, 100, 3000, 2 ** 31, 2 ** 30 * 2, 64.5]) {
    assert.throws(() => ringInit(buf, 0, bad), isKind(ErrorKind.InvalidArgument, String(bad)));
  }
  assert.throws(() => ringInit(buf, 8, 64), isKind(ErrorKind.InvalidArgument, 'multiple of 64'));
  assert.throws(() => ringInit(buf, 0, 8192), isKind(ErrorKind.InvalidArgument, 'needs 8448 bytes'));
});

test('attach checks magic and version, and allows one producer and one consumer', () => {
  const buf = new SharedArrayBuffer(ringBytes(256));
  ringInit(buf, 0, 256);
  setWord(buf, O.magic, 0xdeadbeef);
  assert.throws(() => RingProducer.attach(buf, 0), isKind(ErrorKind.InvalidArgument, 'bad magic'));
  setWord(buf, O.magic, RING.MAGIC);
  setWord(buf, O.version, 7);
  assert.throws(() => RingConsumer.attach(buf, 0), isKind(ErrorKind.InvalidArgument, 'version 7'));
  setWord(buf, O.version, 1);
  assert.throws(() => RingProducer.attach(buf, 32), isKind(ErrorKind.InvalidArgument, 'multiple of 64'));
  const tx = RingProducer.attach(buf, 0);
  const rx = RingConsumer.attach(buf, 0);
  assert.equal(word(buf, O.flags), 12);
  assert.throws(() => RingProducer.attach(buf, 0), isKind(ErrorKind.InvalidArgument, 'single producer'));
  assert.throws(() => RingConsumer.attach(buf, 0), isKind(ErrorKind.InvalidArgument, 'single consumer'));
  assert.equal(tx.capacity, 256);
  assert.equal(tx.maxPayload, 248);
  assert.equal(rx.capacity, 256);
  assert.equal(tx.byteOffset, 0);
  assert.equal(tx.buffer, buf);
  write(tx, 1, 'kept');
  tx.detach(); // publishes first
  tx.detach();
  assert.equal(word(buf, O.flags), 8);
  assert.throws(() => tx.tryWrite(2, enc('x')), isKind(ErrorKind.InvalidArgument, 'detached'));
  const tx2 = RingProducer.attach(buf, 0);
  assert.equal(readText(rx), 'kept');
  write(tx2, 2, 'second producer continues');
  tx2.publish();
  assert.equal(readText(rx), 'second producer continues');
  rx.detach();
  const rx2 = RingConsumer.attach(buf, 0);
  assert.equal(rx2.tryRead(), null);
  assert.equal(word(buf, O.head), word(buf, O.tail));
});

test('records round-trip with tag and payload as zero-copy views', () => {
  const { buf, tx, rx } = makeRing(256);
  assert.equal(rx.tryRead(), null);
  assert.equal(rx.hasData(), false);
  assert.ok(write(tx, 42, 'hello ring'));
  assert.ok(write(tx, 0xfffffffe, ''));
  assert.equal(rx.hasData(), false, 'invisible until publish');
  tx.publish();
  assert.equal(rx.hasData(), true);
  const r = rx.tryRead()!;
  assert.equal(r.tag, 42);
  assert.equal(dec(r.payload), 'hello ring');
  assert.equal(r.payload.buffer, buf);
  assert.equal(r.payload.byteOffset, RING.HEADER_BYTES + RING.RECORD_HEADER_BYTES);
  const z = rx.tryRead()!;
  assert.equal(z.tag, 0xfffffffe);
  assert.equal(z.payload.length, 0);
  assert.equal(rx.tryRead(), null);
  assert.throws(() => tx.tryWrite(-1, enc('x')), isKind(ErrorKind.InvalidArgument, 'u32'));
  assert.throws(() => tx.tryWrite(1.5, enc('x')), isKind(ErrorKind.InvalidArgument));
  assert.throws(() => tx.tryReserve(1, RING.SKIP_TAG), isKind(ErrorKind.InvalidArgument, 'reserved for skip'));
});

test('a batch is one tail store; zero-length records fill a ring of 64', () => {
  const { buf, tx, rx } = makeRing(1024);
  for (let i = 0; i < 10; ++i) assert.ok(write(tx, i, 'batched'));
  assert.equal(rx.tryRead(), null);
  assert.equal(word(buf, O.tail), 0);
  tx.publish();
  assert.equal(word(buf, O.tail), 160);
  for (let i = 0; i < 10; ++i) assert.equal(rx.tryRead()!.tag, i);

  const small = makeRing(64);
  for (let t = 0; t < 8; ++t) assert.ok(small.tx.tryWrite(t, new Uint8Array(0)));
  assert.equal(small.tx.tryWrite(99, new Uint8Array(0)), false);
  assert.equal(small.tx.freeBytes(), 0);
  small.tx.publish();
  for (let t = 0; t < 8; ++t) {
    const r = small.rx.tryRead()!;
    assert.deepEqual([r.tag, r.payload.length], [t, 0]);
  }
});

test('a full ring refuses until the consumer releases; commit may be shorter than the reservation', () => {
  const { buf, tx, rx } = makeRing(128); // 8 records of 16 bytes
  let written = 0;
  while (write(tx, written, '12345678')) ++written;
  assert.equal(written, 8);
  assert.equal(tx.canWrite(0), false);
  tx.publish();
  assert.ok(rx.tryRead());
  assert.ok(rx.tryRead());
  assert.equal(write(tx, 100, 'x'), false, 'reading alone must not free room');
  rx.release();
  assert.equal(tx.freeBytes(), 32);
  assert.equal(tx.canWrite(24), true);
  assert.equal(tx.canWrite(25), false);
  assert.ok(write(tx, 100, 'x'));
  assert.ok(write(tx, 101, 'y'));
  assert.equal(write(tx, 102, 'z'), false);
  assert.equal(word(buf, O.head), 32);

  const e = makeRing(256);
  const slot = e.tx.tryReserve(100, 5)!;
  assert.equal(slot.length, 100);
  slot.set(enc('abc'));
  assert.throws(() => e.tx.commit(101), isKind(ErrorKind.InvalidArgument));
  e.tx.commit(3);
  assert.throws(() => e.tx.commit(3), isKind(ErrorKind.InvalidArgument, 'without a reservation'));
  e.tx.publish();
  assert.equal(word(e.buf, O.tail), 16);
  assert.equal(readText(e.rx), 'abc');
});

test('extendAt grows the last unpublished record in place, and refuses what it cannot grow', () => {
  const { buf, tx, rx } = makeRing(64);
  assert.equal(tx.extendAt(1), -1, 'no record yet');
  assert.ok(write(tx, 4, 'abc'));
  for (const more of ['de', 'fghijk']) {
    const at = tx.extendAt(more.length);
    assert.ok(at >= 0, more);
    tx.bytes.set(enc(more), at);
    tx.commitExtend(more.length);
  }
  assert.throws(() => tx.commitExtend(1), isKind(ErrorKind.InvalidArgument, 'without extendAt'));
  tx.publish();
  assert.equal(word(buf, O.tail), 24, 'one header for the three pieces');
  assert.equal(tx.extendAt(1), -1, 'published: the consumer may be reading it');
  const r = rx.tryRead()!;
  assert.equal(r.tag, 4);
  assert.equal(new TextDecoder().decode(r.payload), 'abcdefghijk');
  rx.release();
  // At 24 with 40 bytes to the end: 32 payload bytes at most.
  assert.ok(write(tx, 5, ''));
  assert.equal(tx.extendAt(33), -1, 'it would cross the end of the ring');
  assert.ok(tx.extendAt(32) >= 0);
  tx.commitExtend(0);
  rx.close();
  assert.equal(tx.extendAt(1), -1, 'the consumer closed: reserveAt reports it');
  assert.throws(() => tx.reserveAt(1, 1), isKind(ErrorKind.Closed));
});

test('an exact fit uses the whole capacity', () => {
  const { tx, rx } = makeRing(256);
  const big = new Uint8Array(tx.maxPayload).fill(0x71);
  assert.ok(tx.tryWrite(7, big));
  assert.equal(tx.tryWrite(8, new Uint8Array(0)), false);
  tx.publish();
  const r = rx.tryRead()!;
  assert.equal(r.payload.length, 248);
  assert.ok(r.payload.every((b) => b === 0x71));
});

test('RING.md worked example: a skip marker fills the tail, the record goes to 0', () => {
  const { buf, tx, rx } = makeRing(128);
  assert.ok(write(tx, 1, 'a'.repeat(88)));
  tx.publish();
  assert.ok(rx.tryRead());
  rx.release();
  assert.equal(tx.canWrite(32), true); // 32 (skip) + 40 fit in the 128 free bytes
  assert.ok(write(tx, 2, 'b'.repeat(32)));
  tx.publish();
  assert.equal(hex(new Uint8Array(buf, RING.HEADER_BYTES + 96, 8)), '18000000ffffffff');
  const r = rx.tryRead()!;
  assert.equal(r.tag, 2);
  assert.equal(r.payload.byteOffset, RING.HEADER_BYTES + 8);
  assert.equal(dec(r.payload), 'b'.repeat(32));
  assert.equal(word(buf, O.tail), 96 + 32 + 40);
  rx.release();
  assert.equal(word(buf, O.head), 168);
});

test('a record bigger than half the ring fits once its lone skip is consumed', () => {
  const { tx, rx } = makeRing(128);
  assert.ok(write(tx, 1, 'a'.repeat(24))); // [0, 32)
  tx.publish();
  assert.ok(rx.tryRead());
  rx.release();
  // 112 bytes needed; 96 remain before the end: the skip goes in alone.
  assert.equal(tx.canWrite(104), false);
  assert.equal(tx.tryReserve(104, 2), null);
  tx.publish();
  assert.equal(rx.hasData(), false, 'a lone skip record is not a record');
  assert.equal(rx.tryRead(), null);
  rx.release();
  assert.equal(tx.canWrite(104), true);
  assert.ok(write(tx, 2, 'b'.repeat(104)));
  tx.publish();
  assert.equal(readText(rx), 'b'.repeat(104));
});

test('waitForSpace writes and publishes the skip that stands in the way', async () => {
  const { buf, tx, rx } = makeRing(128);
  assert.ok(write(tx, 1, 'a'.repeat(24)));
  tx.publish();
  assert.ok(rx.tryRead());
  rx.release();
  // Only the skip fits now; the wait must publish it or nobody can move past it.
  const waiting = tx.waitForSpace(104, 5000);
  assert.equal(word(buf, O.tail), 128, 'the skip is published');
  assert.equal(word(buf, O.producerParked), 1);
  assert.equal(await rx.waitForData(0), false, 'the consumer steps over the skip');
  assert.equal(word(buf, O.head), 128);
  assert.equal(await waiting, true);
  assert.ok(write(tx, 2, 'b'.repeat(104)));
});

test('MessageTooLarge names the record and the capacity; nothing is lost', async () => {
  const { tx, rx } = makeRing(65536);
  assert.throws(
    () => tx.tryReserve(70000, 1),
    isKind(ErrorKind.MessageTooLarge, 'record of 70000 bytes exceeds ring capacity 65536'),
  );
  assert.throws(() => tx.tryWrite(1, new Uint8Array(65529)), isKind(ErrorKind.MessageTooLarge, 'at most 65528 payload bytes'));
  await assert.rejects(tx.waitForSpace(70000), isKind(ErrorKind.MessageTooLarge));
  assert.throws(() => tx.waitForSpaceSync(65529), isKind(ErrorKind.MessageTooLarge));
  assert.equal(tx.canWrite(70000), false);
  assert.ok(tx.tryWrite(1, new Uint8Array(65528)));
  tx.publish();
  assert.equal(rx.tryRead()!.payload.length, 65528);
});

test('counters wrap past 2^32 with skip records every few records (capacities 64, 128, 256)', () => {
  for (const capacity of [64, 128, 256]) {
    const buf = new SharedArrayBuffer(ringBytes(capacity));
    ringInit(buf, 0, capacity);
    const start = 2 ** 32 - 8 * capacity - 24; // a few laps before the wrap, 24 bytes before the end
    setWord(buf, O.tail, start);
    setWord(buf, O.head, start);
    const tx = RingProducer.attach(buf, 0);
    const rx = RingConsumer.attach(buf, 0);
    const out = new Stream(capacity, capacity - 8);
    const back = new Stream(capacity, capacity - 8);
    const bytes = new Uint8Array(buf, RING.HEADER_BYTES, capacity);
    const dv = new DataView(buf, RING.HEADER_BYTES, capacity);
    let sent = 0;
    let got = 0;
    let skips = 0;
    let pendingLen = -1;
    const total = 3000;
    while (got < total) {
      for (; sent < total; ++sent) {
        if (pendingLen < 0) pendingLen = out.nextLength();
        const slot = tx.tryReserve(pendingLen, sent);
        if (slot === null) break;
        out.fill(sent, slot);
        tx.commit(pendingLen);
        pendingLen = -1;
      }
      tx.publish();
      // Walk the published records independently and count the skips.
      const tail = word(buf, O.tail);
      for (let c = word(buf, O.head); c !== tail; ) {
        const pos = c & (capacity - 1);
        const len = dv.getUint32(pos, true);
        if (dv.getUint32(pos + 4, true) === RING.SKIP_TAG) {
          assert.equal(8 + len, capacity - pos, 'a skip covers the rest of the data area');
          ++skips;
          c = (c + capacity - pos) >>> 0;
        } else {
          c = (c + recordBytes(len)) >>> 0;
        }
        assert.equal(c % 8, 0);
      }
      for (let r; (r = rx.tryRead()) !== null; ++got) {
        assert.equal(back.check(got, r.tag, r.payload), null);
        assert.equal(r.payload.byteOffset % 8, 0);
        assert.ok(r.payload.byteOffset + r.payload.length <= bytes.byteOffset + capacity);
      }
      rx.release();
      assert.ok(((word(buf, O.tail) - word(buf, O.head)) >>> 0) <= capacity);
    }
    assert.equal(back.checksum, out.checksum);
    assert.ok(word(buf, O.tail) < start, `capacity ${capacity}: the counters wrapped`);
    assert.ok(skips > total / 20, `capacity ${capacity}: only ${skips} skip records`);
  }
});

test('a corrupt length or skip is CorruptRecord, and stays so', () => {
  const { buf, tx, rx } = makeRing(256);
  assert.ok(write(tx, 1, 'abcdefgh'));
  tx.publish();
  setWord(buf, RING.HEADER_BYTES, 4000);
  assert.throws(() => rx.tryRead(), isKind(ErrorKind.CorruptRecord, 'claims 4000 payload bytes'));
  setWord(buf, RING.HEADER_BYTES, 8); // even repaired: the consumer never trusts the ring again
  assert.throws(() => rx.tryRead(), isKind(ErrorKind.CorruptRecord));
  assert.equal(rx.hasData(), true);

  const e = makeRing(128);
  assert.ok(write(e.tx, 1, 'a'.repeat(88)));
  e.tx.publish();
  assert.ok(e.rx.tryRead());
  e.rx.release();
  assert.ok(write(e.tx, 2, 'b'.repeat(32)));
  e.tx.publish();
  setWord(e.buf, RING.HEADER_BYTES + 96, 8); // a skip that does not reach the end
  assert.throws(() => e.rx.tryRead(), isKind(ErrorKind.CorruptRecord, 'skip record at offset 96'));

  // A record that claims more than was published (length near 2^32 too).
  const f = makeRing(256);
  assert.ok(write(f.tx, 1, 'abc'));
  f.tx.publish();
  setWord(f.buf, RING.HEADER_BYTES, 0xfffffff9);
  assert.throws(() => f.rx.tryRead(), isKind(ErrorKind.CorruptRecord, `claims ${0xfffffff9} payload bytes`));
  // A skip record whose span would overflow 32 bits.
  const g = makeRing(256);
  assert.ok(write(g.tx, 1, 'abc'));
  g.tx.publish();
  setWord(g.buf, RING.HEADER_BYTES, 0xfffffff8);
  setWord(g.buf, RING.HEADER_BYTES + 4, RING.SKIP_TAG);
  assert.throws(() => g.rx.tryRead(), isKind(ErrorKind.CorruptRecord, 'skip record at offset 0'));
});
