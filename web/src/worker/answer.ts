// Answering calls: every result (a value or an error value) becomes a result
// record on the worker's response ring (web/PROTOCOL.md). A result the ring
// has no room for waits in an outbox, in order, and goes out as space frees;
// one too large for a ring record goes out of band (blocks.ts) or in parts.
// Answers are published in batches: by the request loop after each round of
// requests, and once per microtask turn for answers of async tasks.
import type { Blocks } from '../blocks.js';
import { ErrorKind, FerryError, TaskFailedError } from '../errors.js';
import { ResponseTag, kResultHeaderBytes, putResultHeader, splitParts } from '../protocol.js';
import { RecordWriter, plainCodec, type RecordProducer } from '../records.js';

export class Answers {
  private readonly outbox: { tag: number; bytes: Uint8Array }[] = [];
  private draining = false;
  /**
   * While the outbox waits for room in the response ring: resolves when
   * there is room. The request loop must let the event loop run until then
   * (not block in Atomics.wait), or the rest of a large answer waits too.
   */
  spaceWait: Promise<boolean> | null = null;
  private publishQueued = false;
  private readonly records = new RecordWriter();
  private readonly head = new Uint8Array(kResultHeaderBytes);
  private gone = false; // the pool ended our response ring

  constructor(
    private readonly response: RecordProducer,
    private readonly index: number,
    private readonly blocks: Blocks | null,
  ) {}

  /** Writes the result record of call `id` (or queues it while the response ring is full). */
  reply(id: number, value: unknown): void {
    if (this.gone) return;
    const resp = this.response;
    putResultHeader(this.head, id);
    let rest: Uint8Array | null;
    try {
      rest = this.write(value);
    } catch (e) {
      if (this.channelEnded(e)) return;
      // The value has no encoding (or is too large): report that instead.
      const err = e instanceof FerryError ? e : new TaskFailedError(String(e), `worker ${this.index}`);
      try {
        rest = this.write(err);
      } catch (e2) {
        if (this.channelEnded(e2)) return;
        throw e2;
      }
    }
    if (rest === null) return;
    if (rest.length <= resp.maxPayload) {
      this.outbox.push({ tag: ResponseTag.Result, bytes: rest });
    } else {
      // Too large for one record: out of band on shared memory (blocks.ts),
      // else in parts (web/PROTOCOL.md); an error if over 1 GiB.
      try {
        const block = this.blocks?.send(ResponseTag.Result, rest) ?? null;
        if (block !== null) this.outbox.push({ tag: ResponseTag.Block, bytes: block });
        else for (const bytes of splitParts(ResponseTag.Result, rest, resp.maxPayload)) this.outbox.push({ tag: ResponseTag.Part, bytes });
      } catch (e) {
        this.reply(id, e);
        return;
      }
    }
    void this.drain();
  }

  /** Publishes the answers written so far at the end of this microtask turn (once, however many ask). */
  schedulePublish(): void {
    if (this.publishQueued) return;
    this.publishQueued = true;
    queueMicrotask(() => {
      this.publishQueued = false;
      this.publish();
    });
  }

  /** Makes the answers written so far visible to the pool (one publish: one wake at most). */
  publish(): void {
    if (this.gone) return;
    try {
      this.response.publish();
    } catch (e) {
      if (!this.channelEnded(e)) throw e;
    }
  }

  // The record of this.head and `value`, written to the ring (null) when
  // nothing waits in the outbox, else its bytes for the outbox.
  private write(value: unknown): Uint8Array | null {
    const resp = this.response;
    return this.outbox.length === 0
      ? this.records.put(resp, ResponseTag.Result, this.head, kResultHeaderBytes, value, plainCodec)
      : this.records.bytes(this.head, kResultHeaderBytes, value, plainCodec);
  }

  private channelEnded(e: unknown): boolean {
    if (e instanceof FerryError && (e.kind === ErrorKind.Closed || e.kind === ErrorKind.WorkerCrashed)) {
      this.gone = true;
      this.outbox.length = 0;
      return true;
    }
    return false;
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    const resp = this.response;
    try {
      while (this.outbox.length > 0 && !this.gone) {
        const r = this.outbox[0]!;
        if (resp.tryWrite(r.tag, r.bytes)) {
          this.outbox.shift();
          continue;
        }
        this.spaceWait = resp.waitForSpace(r.bytes.length);
        await this.spaceWait;
        this.spaceWait = null;
      }
    } catch (e) {
      if (!this.channelEnded(e)) throw e;
    } finally {
      this.draining = false;
      this.spaceWait = null;
    }
    this.publish();
  }
}
