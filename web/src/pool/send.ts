// Where a call is sent: a record goes into its slot's request ring (encoded
// straight into the reservation when it fits), out of band (blocks.ts) or
// in parts when it is larger than the ring (web/PROTOCOL.md), or into the
// slot's outbox while the ring is full. The service pass (service.ts) then publishes every slot written
// to since the last one, one store (and at most one wake-up) per worker.

import { RequestTag, cancelRecord, splitParts } from '../protocol.js';
import type { ValueCodec } from '../records.js';
import type { PoolContext, Slot } from './common.js';
import type { CallEncoder } from './encode.js';
import type { Service } from './service.js';

export class RecordSender {
  constructor(
    private readonly pool: PoolContext,
    private readonly encoder: CallEncoder,
    // Publishes what was written, in its next pass.
    private readonly service: Service,
  ) {}

  /**
   * Writes a call or stream record to slot s: encoder.head[0, headLen), then
   * the arguments (`encoded` when they were encoded while queued, else
   * `args` with `codec`). Throws encoding errors (nothing is sent), and a
   * FerryError WorkerCrashed or Closed when the request ring was ended.
   */
  send(s: Slot, tag: number, headLen: number, encoded: Uint8Array | null, args: unknown[], codec: ValueCodec): void {
    const enc = this.encoder;
    if (encoded !== null) {
      this.sendParts(s, tag, headLen, encoded);
    } else if (s.outbox.length === 0) {
      const rest = enc.records.put(s.request!, tag, enc.head, headLen, args, codec);
      if (rest !== null) this.sendRaw(s, tag, rest);
      else this.service.markDirty(s);
    } else {
      this.sendRaw(s, tag, enc.records.bytes(enc.head, headLen, args, codec));
    }
  }

  /** Tells the task of call `id` on slot s that it is cancelled (a worker that is gone has nothing to cancel). */
  sendCancel(s: Slot, id: number): void {
    try {
      this.sendRaw(s, RequestTag.Cancel, cancelRecord(id));
    } catch {
      // the worker is gone: nothing to cancel
    }
  }

  // Writes head[0, headLen) + body as one record, copying once when it fits now.
  private sendParts(s: Slot, tag: number, headLen: number, body: Uint8Array): void {
    const head = this.encoder.head;
    const total = headLen + body.length;
    if (s.outbox.length === 0 && total <= s.request!.maxPayload) {
      const view = s.request!.tryReserve(total, tag);
      if (view !== null) {
        view.set(head.subarray(0, headLen));
        view.set(body, headLen);
        s.request!.commit(total);
        this.service.markDirty(s);
        return;
      }
    }
    const full = new Uint8Array(total);
    full.set(head.subarray(0, headLen));
    full.set(body, headLen);
    this.sendRaw(s, tag, full);
  }

  // Writes one record now, or queues it behind the others while the ring is
  // full; a record too large for the ring goes out of band or in parts
  // (web/PROTOCOL.md). `bytes` is the caller's to give away.
  private sendRaw(s: Slot, tag: number, bytes: Uint8Array): void {
    if (bytes.length > s.request!.maxPayload) {
      const block = s.blocks?.send(tag, bytes) ?? null; // bytes: ours to give away
      if (block !== null) {
        this.sendRaw(s, RequestTag.Block, block);
        return;
      }
      for (const part of splitParts(tag, bytes, s.request!.maxPayload)) this.sendRaw(s, RequestTag.Part, part);
      return;
    }
    if (s.outbox.length === 0 && s.request!.tryWrite(tag, bytes)) {
      this.service.markDirty(s);
      return;
    }
    s.outbox.push({ tag, bytes });
    if (s.draining === null) s.draining = this.drain(s);
  }

  // Writes the records that found the request ring full, in order, as room appears.
  private async drain(s: Slot): Promise<void> {
    const gen = s.gen;
    const req = s.request!;
    try {
      while (s.gen === gen && s.outbox.length > 0) {
        const r = s.outbox.peek()!;
        if (req.tryWrite(r.tag, r.bytes)) {
          s.outbox.shift();
          continue;
        }
        await req.waitForSpace(r.bytes.length); // publishes what is written first
      }
    } catch (e) {
      if (s.gen === gen && !this.pool.closed) this.pool.crash(s, e instanceof Error ? e.message : String(e));
    } finally {
      if (s.gen === gen) {
        s.draining = null;
        this.service.markDirty(s);
      }
    }
  }
}
