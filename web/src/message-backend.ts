// The postMessage fallback, the pool's side: WorkerPool's Transport
// (transport.ts) over the channels of message-channel.ts, one MessageHub per
// worker's port — the same records as over rings, with byte credits standing
// in for a ring's capacity. worker.ts is the other side.

import { ClosedError, ErrorKind, InvalidArgumentError } from './errors.js';
import { ringCapacityOf } from './js-backend.js';
import { MessageHub, kFirstStreamChannel, kRequestChannel, kResponseChannel, type MsgConsumer, type MsgProducer } from './message-channel.js';
import type { Signature } from './schema.js';
import { checkHeartbeat, defaultWorkers, startWorker, type WorkerHandle } from './spawn.js';
import type { StreamChannels, Transport } from './transport.js';

const kOrigin = 'web/message-backend';

export interface MessageBackendOptions {
  script: string | URL;
  workers?: number;
  /** Credit (bytes) of each slot's request and response channel (default 64 KiB). */
  ringCapacity?: number;
  /** How long a worker may take to start (default 30 s). */
  startTimeoutMs?: number;
  /** Kill and replace a worker whose event loop has not beaten for this long (default 0: off). */
  heartbeatMs?: number;
}

interface MsgSlot {
  hub: MessageHub;
  worker: WorkerHandle | null;
  request: MsgProducer;
  response: MsgConsumer;
  nextChannel: number;
  gen: number;
  dead: boolean;
}

/** WorkerPool's transport over postMessage (pool.transport === 'postMessage'). */
export async function createMessageBackend(options: MessageBackendOptions): Promise<Transport> {
  const workers = options.workers ?? (await defaultWorkers());
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
    throw new InvalidArgumentError(`workers ${String(workers)} must be an integer from 1 to 256`, kOrigin);
  }
  checkHeartbeat(options.heartbeatMs, kOrigin);
  const t = new MessageTransport(options, workers, ringCapacityOf(options.ringCapacity, 64 * 1024));
  await t.start();
  return t;
}

class MessageTransport implements Transport {
  readonly name = 'postMessage' as const;
  readonly signatures: Map<string, Signature> | null = null;
  private readonly slots: MsgSlot[] = [];
  private crashCallback: (index: number, reason: string) => void = () => {};
  private terminating = false;

  constructor(
    private readonly options: MessageBackendOptions,
    readonly size: number,
    // Credit (bytes) of each slot's request and response channel.
    private readonly capacity: number,
  ) {}

  /** Starts every worker; if one fails, stops them all and throws. */
  async start(): Promise<void> {
    try {
      for (let i = 0; i < this.size; i++) this.slots.push(this.makeSlot(0));
      await Promise.all(this.slots.map((s, i) => this.startSlot(i, s)));
    } catch (e) {
      this.terminating = true;
      await Promise.all(this.slots.map((s) => s.worker?.terminate().catch(() => {})));
      throw e;
    }
  }

  slot(index: number): { request: MsgProducer; response: MsgConsumer } {
    const s = this.slots[index]!;
    return { request: s.request, response: s.response };
  }

  abortSlot(index: number, kind: number): void {
    this.slots[index]!.hub.abortAll(kind);
  }

  openStream(index: number, cap: number): StreamChannels {
    const s = this.slots[index]!;
    const inId = s.nextChannel;
    const outId = s.nextChannel + 1;
    s.nextChannel += 2;
    const c = ringCapacityOf(cap, 64 * 1024);
    const input = s.hub.producer(inId, c, c);
    const output = s.hub.consumer(outId, c);
    // The task learns the in channel's capacity, and gets credit for out.
    s.worker?.post({ c: inId, cap: c });
    s.worker?.post({ c: outId, g: c });
    return {
      inWire: inId,
      outWire: outId,
      input,
      output,
      abort(kind: number) {
        input.abort(kind);
        output.abort(kind);
      },
      free() {
        s.hub.drop(inId);
        s.hub.drop(outId);
      },
    };
  }

  async replace(index: number): Promise<void> {
    if (this.terminating) throw new ClosedError('the pool was terminated', kOrigin);
    const old = this.slots[index]!;
    old.dead = true;
    old.hub.abortAll(ErrorKind.WorkerCrashed);
    await old.worker?.terminate().catch(() => {});
    const s = this.makeSlot(old.gen + 1);
    this.slots[index] = s;
    await this.startSlot(index, s);
    if (this.terminating) {
      await s.worker?.terminate();
      throw new ClosedError('the pool was terminated', kOrigin);
    }
  }

  onCrash(callback: (index: number, reason: string) => void): void {
    this.crashCallback = callback;
  }

  async terminate(): Promise<void> {
    if (this.terminating) return;
    this.terminating = true;
    for (const s of this.slots) s.hub.abortAll(ErrorKind.Closed);
    await Promise.all(this.slots.map((s) => s.worker?.terminate().catch(() => {})));
  }

  private makeSlot(gen: number): MsgSlot {
    let slot!: MsgSlot;
    const hub = new MessageHub((m, t) => slot.worker?.post(m, t), false);
    slot = {
      hub,
      worker: null,
      request: hub.producer(kRequestChannel, this.capacity, this.capacity),
      response: hub.consumer(kResponseChannel, this.capacity),
      nextChannel: kFirstStreamChannel,
      gen,
      dead: false,
    };
    return slot;
  }

  private async startSlot(index: number, slot: MsgSlot): Promise<void> {
    const gen = slot.gen;
    const capacity = this.capacity;
    slot.worker = await startWorker(this.options.script, index, () => ({ ferry: 'setup', transport: 'postMessage', index, capacity }), {
      onMessage: (m) => {
        if (slot.gen === gen) slot.hub.deliver(m);
      },
      onDeath: (reason) => {
        if (this.terminating || slot.gen !== gen || slot.dead) return;
        slot.dead = true;
        slot.hub.abortAll(ErrorKind.WorkerCrashed);
        this.crashCallback(index, reason);
      },
    }, this.options);
  }
}
