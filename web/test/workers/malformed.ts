// A worker that speaks web/PROTOCOL.md badly on purpose, for records.test.ts:
// it does the start-up handshake itself (no expose()), then answers every
// call and stream with what a seeded PRNG picks from the ways a buggy or
// hostile peer can write records. The pool must settle everything it sent,
// with a value or a typed error, and stay usable.
//
// call 'fuzz' (seed, mode) answers with `mode` (see Mode) and seed's bytes;
// stream 'fuzz' (seed, count) writes `count` random records into its out
// channel, then its result (or something else), all chosen by seed.
import { parentPort } from 'node:worker_threads';
import { decode, encode } from '../../dist/codec.js';
import { MessageHub, kRequestChannel, kResponseChannel } from '../../dist/message-channel.js';
import { kBlockRecordBytes } from '../../dist/blocks.js';
import { RequestTag, ResponseTag, kCallHeaderBytes, kPartHeaderBytes, kResultHeaderBytes, kStreamHeaderBytes, nameLength, putResultHeader, putWholeHeader, recordId, streamOutRing } from '../../dist/protocol.js';
import type { RecordConsumer, RecordProducer } from '../../dist/records.js';
import { RingConsumer, RingProducer } from '../../dist/ring.js';
import type { SetupMessage } from '../../dist/spawn.js';
import { rng32 } from '../helpers.js';
import { Mode } from './malformed-modes.js';

const port = parentPort!;

// The raw ring words of the response channel, for a header no producer writes.
let responseRing: { buffer: SharedArrayBuffer; offset: number } | null = null;
let post: ((m: unknown, t?: Transferable[]) => void) | null = null;
let broken = false;
let blocksPosted = Promise.resolve(); // GoodBlock's late blocks, posted in order

function randomBytes(next: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = next() & 0xff;
  return b;
}

function result(id: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(kResultHeaderBytes + value.length);
  putResultHeader(out, id);
  out.set(value, kResultHeaderBytes);
  return out;
}

// Writes a record header by hand right at the producer's write position and
// publishes it: length far beyond what was published (RING.md consumer rule).
function writeBadHeader(response: RecordProducer): void {
  if (responseRing !== null) {
    const { buffer, offset } = responseRing;
    const w = new Int32Array(buffer);
    const base = offset >> 2;
    const tail = Atomics.load(w, base + 16) >>> 0; // tail at byte 64
    const cap = Atomics.load(w, base + 2) >>> 0;
    const at = (offset + 256 + (tail & (cap - 1))) >> 2;
    w[at] = 0x7fff0000;
    w[at + 1] = 1;
    Atomics.store(w, base + 16, (tail + 16) | 0);
    Atomics.add(w, base + 48, 1); // data bell (192)
    Atomics.notify(w, base + 48);
    return;
  }
  // postMessage: a chunk whose record runs past its end.
  const chunk = new Uint8Array(16);
  new DataView(chunk.buffer).setUint32(0, 4096, true);
  new DataView(chunk.buffer).setUint32(4, 1, true);
  post!({ c: 1, d: chunk.buffer }, [chunk.buffer]);
  void response;
}

function answerCall(response: RecordProducer, id: number, seed: number, mode: number): void {
  const next = rng32(seed);
  switch (mode) {
    case Mode.Good:
      response.tryWrite(ResponseTag.Result, result(id, encode([seed])));
      break;
    case Mode.Garbage:
      response.tryWrite(ResponseTag.Result, result(id, randomBytes(next, next() % 40)));
      break;
    case Mode.Short:
      response.tryWrite(ResponseTag.Result, randomBytes(next, next() % 8));
      break;
    case Mode.UnknownTag:
      response.tryWrite(3 + (next() % 1000), result(id, encode(seed)));
      break;
    case Mode.StrangerId:
      response.tryWrite(ResponseTag.Result, result(id + 1_000_000 + (next() % 1000), encode('nobody asked')));
      response.tryWrite(ResponseTag.Result, result(id, encode([seed])));
      break;
    case Mode.BadHeader:
      response.publish();
      writeBadHeader(response);
      broken = true; // our producer no longer knows where the tail is: write nothing more
      return;
    case Mode.CrashGarbage:
      response.tryWrite(ResponseTag.Crash, randomBytes(next, next() % 20));
      break;
    case Mode.GoodParts:
    case Mode.BadPart: {
      const whole = result(id, encode([seed]));
      let at = next() % (mode === Mode.BadPart ? whole.length : whole.length + 1); // a bad part needs one to follow
      const first = new Uint8Array(kPartHeaderBytes + at);
      putWholeHeader(first, ResponseTag.Result, whole.length);
      first.set(whole.subarray(0, at), kPartHeaderBytes);
      response.tryWrite(ResponseTag.Part, first);
      if (mode === Mode.BadPart) {
        response.tryWrite(ResponseTag.Part, randomBytes(next, whole.length - at + 1 + (next() % 8)));
        break;
      }
      for (let n = 0; at < whole.length; at += n) {
        n = 1 + (next() % 7);
        response.tryWrite(ResponseTag.Part, whole.subarray(at, at + n));
      }
      break;
    }
    case Mode.GoodBlock:
    case Mode.BadBlock:
    case Mode.LostBlock: {
      const whole = result(id, encode([seed]));
      if (responseRing === null && mode !== Mode.LostBlock) {
        response.tryWrite(ResponseTag.Result, whole); // no blocks over postMessage
        break;
      }
      const record = new Uint8Array(kBlockRecordBytes);
      putWholeHeader(record, ResponseTag.Result, whole.length + (mode === Mode.BadBlock ? 1 : 0));
      response.tryWrite(ResponseTag.Block, record);
      // Same id: read before the block, it would settle the call. (A worker
      // that ends reads on past its block record: there, another id.)
      response.tryWrite(ResponseTag.Result, result(mode === Mode.GoodBlock ? id : id + 1_000_000, encode(['read before the block'])));
      response.publish();
      // Late, but in the order of their records, as blocks.ts requires.
      const delay = next() % 4;
      blocksPosted = blocksPosted.then(() => new Promise((resolve) => setTimeout(resolve, delay))).then(() => {
        if (mode !== Mode.LostBlock) {
          port.postMessage({ ferry: 'block', b: whole.buffer, o: 0, n: whole.length }, [whole.buffer]);
          return;
        }
        setTimeout(() => {
          throw new Error('the worker died before it posted its block');
        });
      });
      return;
    }
  }
  response.publish();
}

// A stream: `count` records of random tag and payload (sometimes a valid
// value), then the result, a garbage result, or nothing.
async function answerStream(response: RecordProducer, out: RecordProducer, id: number, seed: number, count: number): Promise<void> {
  const next = rng32(seed);
  for (let i = 0; i < count; i++) {
    const kind = next() % 4;
    const payload = kind === 0 ? encode(i) : randomBytes(next, next() % 24);
    const tag = kind === 1 ? 1 + (next() % 5) : 0;
    if (!out.tryWrite(tag, payload)) {
      out.publish();
      if (!(await out.waitForSpace(payload.length, 2000))) break;
      if (!out.tryWrite(tag, payload)) break;
    }
  }
  out.close();
  const end = next() % 3;
  if (end === 0) response.tryWrite(ResponseTag.Result, result(id, encode(count)));
  else if (end === 1) response.tryWrite(ResponseTag.Result, result(id, randomBytes(next, next() % 16)));
  else response.tryWrite(ResponseTag.Result, result(id, encode(null)));
  response.publish();
}

function serve(request: RecordConsumer, response: RecordProducer, attachOut: (wire: number) => RecordProducer): void {
  const loop = async (): Promise<void> => {
    for (;;) {
      for (let r = request.tryRead(); r !== null && !broken; r = request.tryRead()) {
        const p = r.payload;
        if (r.tag === RequestTag.Call) {
          const n = nameLength(p, 0, kCallHeaderBytes);
          const [seed, mode] = decode(p.subarray(kCallHeaderBytes + n)) as [number, number];
          answerCall(response, recordId(p, 0), seed, mode);
        } else if (r.tag === RequestTag.Stream) {
          const n = nameLength(p, 0, kStreamHeaderBytes);
          const [seed, count] = decode(p.subarray(kStreamHeaderBytes + n)) as [number, number];
          void answerStream(response, attachOut(streamOutRing(p, 0)), recordId(p, 0), seed, count);
        }
      }
      request.release();
      await request.waitForData();
    }
  };
  void loop();
}

port.on('message', (m: SetupMessage) => {
  if (m?.ferry !== 'setup') return;
  if (m.transport === 'shared-memory') {
    const buffer = m.buffer!;
    responseRing = { buffer, offset: m.response! };
    serve(RingConsumer.attach(buffer, m.request!), RingProducer.attach(buffer, m.response!), (wire) => RingProducer.attach(buffer, wire));
  } else {
    post = (msg, t) => port.postMessage(msg, t as never);
    const hub = new MessageHub((msg, t) => port.postMessage(msg, t as never), true);
    port.on('message', (msg) => hub.deliver(msg));
    serve(hub.consumer(kRequestChannel, m.capacity!), hub.producer(kResponseChannel, m.capacity!, m.capacity!), (wire) => hub.producer(wire, 0, 0));
  }
  port.postMessage({ ferry: 'ready', index: m.index });
});
port.postMessage({ ferry: 'hello' });
