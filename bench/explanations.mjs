// Why ferry is behind a baseline, and what would fix it: the closing notes of
// the benchmark report. bench/report.mjs quotes the first entry whose
// patterns (all optional) match a comparison where ferry is more than 5%
// behind: target ('native', 'wasm (Node)', 'browser (Chromium)'), benchmark,
// case (the row's name) and baseline. Keep the reasons to what a profile or
// the code shows; say "not yet explained" rather than guess.
export const explanations = [
  {
    title: 'Backpressure: the delivered rate is below the consumer’s own rate',
    case: /^delivered/,
    why:
      'The row compares the rate delivered through the queue with the slow consumer running alone on ready data. ' +
      'On a 2-core machine the producer, the consumer and (in wasm) Node’s main thread share two cores: a producer ' +
      'that spins on a full queue (ring, boost, RWQ) takes the consumer’s core whenever the scheduler moves it, and ' +
      'a suspending one (ferry stream, Asio) costs a futex wake-up per quarter ring released. Other builds on the ' +
      'same machine add to both.',
    fix:
      'Nothing in the queue itself: the stream’s sender already sleeps while the ring is full and memory stays at ' +
      'the ring’s capacity. Releasing in smaller batches near the full mark, or pinning producer and consumer to ' +
      'their own cores, narrows the gap.',
  },
  {
    title: 'Spinning round trips: p99 set by preemption on an oversubscribed machine',
    case: /round trip p99 · ring/,
    why:
      'Both sides of a spinning ping-pong need a core each; when another process (or the other benchmark thread) ' +
      'takes one, a round trip waits for a time slice (hundreds of µs). Which queue is hit more often in a given ' +
      'run is luck: the p50 row shows the queues’ own cost.',
    fix: 'Measure spinning p99 on an idle machine with isolated cores; on shared machines prefer the p50 row.',
  },
  {
    title: 'Stream round trips: each side parks between messages',
    case: /round trip p\d+ · stream/,
    why:
      'In a ping-pong every recv finds its ring empty, so both coroutines suspend and both executors park on ' +
      'their doorbells after 128 pauses (core/wait.hpp kSpinsBeforePark, a few µs): a round trip is two futex ' +
      'wake-ups plus the awaiter path, against two spinning threads for the queues. Asio’s io_context threads ' +
      'park too; why Asio’s round trip is cheaper than ferry’s (when it is) is not yet explained by a profile.',
    fix:
      'An adaptive spin before parking (about as long as a park/wake pair costs, ~5–15 µs here) would turn most ' +
      'of these round trips into spinning ones while a conversation is active; profile the wake path against ' +
      'Asio’s scheduler.',
  },
  {
    title: 'The raw ring’s producer spins while the ring is full',
    case: /producer CPU · ring/,
    why:
      'In this case the raw ring has no waiting of its own: its producer spins (pause, then yield) exactly like ' +
      'boost’s and RWQ’s, and which spinner burns more CPU in a run depends on how often the scheduler preempts ' +
      'it. The ferry stream row shows what ferry offers instead: its sender sleeps while the ring is full.',
    fix:
      'Use a stream, or RingProducer::reserve() with a timeout (it waits on the ring’s eventcount), when a ' +
      'producer can outrun its consumer.',
  },
  {
    title: '4 KiB messages: the copies dominate',
    case: /^4 KiB · ring/,
    why:
      'At 4 KiB per message every queue spends its time copying 4 KiB in and reading 4 KiB out; the queues’ own ' +
      'costs are a few percent of that, within the run-to-run spread on a shared machine.',
    fix: 'Nothing specific; the zero-copy path (reserve and build the message in the ring) removes one copy.',
  },
  {
    title: 'Streams: coroutine sends and receives park on a futex, the baselines spin',
    case: /stream/,
    why:
      'A ferry stream is a typed, awaitable channel: every value is encoded with the codec (a tag byte plus the ' +
      'payload, so an 8-byte value takes a 24-byte record against 16 for the raw ring), each send/recv goes ' +
      'through an awaiter on an executor (operation state, stats counters, flush on handler return), and when a ' +
      'side catches up with the other its executor spins only 128 pauses (core/wait.hpp kSpinsBeforePark, a few ' +
      'µs) before parking on its doorbell. The spinning baselines never sleep, so they win on raw rate and on ' +
      'round-trip latency, at the price of two busy cores; Asio’s channel, which also suspends, is the ' +
      'like-for-like comparison for throughput, and ferry’s stream moves more messages per second than it.',
    fix:
      'An adaptive spin before parking (spin about as long as a park/wake pair costs, ~5–15 µs here), decoding ' +
      'recv_batch into a reused buffer instead of a new vector per batch, and a fixed-size fast path for ' +
      'trivially copyable T that skips the per-value codec tag.',
  },
  {
    title: 'Pool calls: three threads and up to three wake-ups per call',
    case: /pool call/,
    why:
      'A call goes caller → worker (request ring, worker executor wakes) → client executor (response ring, it ' +
      'wakes and completes the call) → caller (get() spins 128 pauses, then futex-waits). With a pool of one ' +
      'worker that is three threads on two cores, and each hop that finds its thread parked costs a futex ' +
      'wake-up; the ping-pong baselines are two spinning threads and no parking. For bulk data the call also ' +
      'copies its argument into the request ring, and only 4 calls are in flight (PoolOptions.max_in_flight).',
    fix:
      'Complete calls on the caller’s side without the client-executor hop (the caller can read its response ring ' +
      'directly when it waits in get()), spin adaptively before parking, and let bulk arguments be passed as ' +
      'shared-memory leases (like the browser’s WasmBuffer) instead of copies.',
  },
  {
    title: 'Small messages on the raw ring: a header per record',
    case: /^8 B · ring/,
    why:
      'Every ring record carries an 8-byte header (length, tag) and is padded to 8 bytes, so an 8-byte message ' +
      'moves 16 bytes, and try_write checks room, the skip marker and returns a Result<bool>; boost::spsc_queue’s ' +
      'slots are bare T. At 8 bytes the header doubles the memory traffic; from 64 bytes on the ring’s batched ' +
      'publish wins.',
    fix: 'A packed-record batch API (one header for many same-tag fixed-size values) for tiny messages.',
  },
  {
    title: 'Large buffers through the raw ring: one record per publish, 3 records in flight',
    case: /^1 MiB · ring|^64 KiB · ring/,
    why:
      'At 1 MiB the 4 MiB ring holds only 3 records, the producer publishes each one and the consumer releases ' +
      'each one, so both sides touch the shared indices once per MiB and often wait for each other; results vary ' +
      'a lot run to run on a shared 2-core machine (see the ± spread).',
    fix: 'A bigger ring for bulk streams (16 MiB holds 15 records), or reading a record in chunks as it is written.',
  },
  {
    title: 'memcpy on one thread',
    baseline: /memcpy/,
    why:
      'memcpy copies and checksums on one core with no hand-off at all; every queue adds a second core’s ' +
      'cache misses (the consumer reads what the producer just wrote in another core’s cache).',
    fix: 'Nothing to fix: memcpy is the ceiling, not a competitor.',
  },
];
