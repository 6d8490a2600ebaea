// Why ferry is behind a baseline, and what would fix it: the closing notes of
// the benchmark report. bench/report.mjs quotes the first entry whose
// patterns (all optional) match a comparison where ferry is more than 5%
// behind: target ('native', 'wasm (Node)', 'browser (Chromium)'), benchmark,
// case (the row's name) and baseline. Keep the reasons to what a profile or
// the code shows; say "not yet explained" rather than guess.
const STREAMS = {
  title: 'Streams: coroutine sends and receives park on a futex, the baselines spin',
  case: /stream/,
  why:
    'A ferry stream is a typed, awaitable channel: every value is encoded with the codec (a tag byte plus the ' +
    'payload, so an 8-byte value takes a 24-byte record against 16 for the raw ring), each send/recv goes ' +
    'through an awaiter on an executor (operation state, stats counters, flush on handler return), and when a ' +
    'side catches up with the other its executor spins only 128 pauses (core/wait.hpp kSpinsBeforePark, a few ' +
    'µs) before parking on its doorbell. The spinning baselines never sleep, so they win on raw rate and on ' +
    'round-trip latency, at the price of two busy cores; Asio’s channel, which also suspends, is the ' +
    'like-for-like comparison (its column).',
  fix:
    'An adaptive spin before parking (spin about as long as a park/wake pair costs, ~5–15 µs here), decoding ' +
    'recv_batch into a reused buffer instead of a new vector per batch, and a fixed-size fast path for ' +
    'trivially copyable T that skips the per-value codec tag.',
};

const POOL_CALLS = {
  title: 'Pool calls: three threads, two of them parked, per call',
  case: /pool call/,
  why:
    'A call goes caller → worker (request ring; the worker’s executor wakes) → client executor (response ring; ' +
    'it wakes and completes the call) → caller. The worker and the client executor spin only 128 pauses (a few ' +
    'µs) before parking, shorter than the hop before them, so each of those two hops is a futex wake-up on this ' +
    'VM, not work (perf stat on 5,000 sequential calls: 3 context switches per call before get() spun longer). ' +
    'get() now spins up to 50 µs (workers/pool.hpp kCallSpin), which covers the answer’s ~40 µs, so the caller ' +
    'no longer pays a third wake; spinning the executors longer made calls slower here (3 spinning threads on ' +
    '2 cores). The ping-pong baselines are two spinning threads that never park. Under Node (wasm) each wake-up ' +
    'is an Atomics.notify into another worker and costs more. For bulk data the call also copies its argument ' +
    'into the request ring, with 4 calls in flight at most.',
  fix:
    'Take the client executor out of the path (the caller that waits in get() can read the response ring ' +
    'itself), so a call costs one wake-up, and pass bulk arguments as shared-memory leases (like the browser’s ' +
    'WasmBuffer) instead of copies.',
};

export const explanations = [
  // --- browser ---------------------------------------------------------------
  {
    title: 'Browser call latency: a shared-memory call still waits for one event per direction',
    target: /browser/,
    case: /^p(50|99) · /,
    why:
      'The main thread may never block, so after a short spin it waits for the response ring with ' +
      'Atomics.waitAsync, whose wake-up is delivered as a task like a message event; the worker side waits the ' +
      'same way. A sequential call therefore costs two cross-thread wake-ups, as postMessage and Comlink do, plus ' +
      'ferry’s own work (encoding into the ring, publishing at the end of the microtask so that calls made ' +
      'together share one wake-up). Where Comlink and workerpool are ahead, the difference has not been broken ' +
      'down by a profile yet. Streams, where no call waits for its answer, are 2–30x faster than every baseline.',
    fix:
      'Profile a sequential call in Chromium (where the 15–25 µs over Comlink go); spin a little longer on the ' +
      'worker side before Atomics.waitAsync while calls keep coming; publish a lone call at once instead of at ' +
      'the end of the microtask.',
  },
  {
    title: 'Browser buffers: the C++ task copies its argument again',
    target: /browser/,
    case: /checksum_bytes/,
    why:
      'checksum_bytes (web/wasm/ferry_web.cpp) takes std::vector<std::uint8_t> by value, so after the bytes are ' +
      'copied into the request ring the C++ side decodes them into a freshly allocated vector: two copies and a ' +
      'malloc per call, against one structured clone. The WasmBuffer row (checksum_shared: no copy but the ' +
      'page’s own bytes.set()) is 1.7–2x faster than structured clone and even with transferring the ArrayBuffer.',
    fix:
      'Take std::span<const std::uint8_t> in byte-reading tasks (the codec decodes it as a zero-copy view into ' +
      'the ring), or pass a WasmBuffer.',
  },
  {
    title: 'Browser buffers: a copy through the ring against a transfer',
    target: /browser/,
    case: /ferry JS workers, call/,
    why:
      'A JavaScript worker’s call copies the buffer into the shared request ring (and the worker reads it there), ' +
      'while a transferred ArrayBuffer moves without any copy; against structured clone (one copy too) ferry is ' +
      'even.',
    fix: 'A WasmBuffer-like lease of shared memory for JavaScript pools, so a big argument is written once, in place.',
  },
  {
    title: 'Marshalling in the page: ferry’s codec is JavaScript, JSON is a V8 builtin',
    target: /browser/,
    case: /encode \+ decode/,
    why:
      'JSON.stringify and JSON.parse are C++ inside V8 with fast paths for plain objects; ferry’s codec runs in ' +
      'JavaScript and writes a self-describing value (a tag per value, the struct and field names of every ' +
      'object). It is ahead of structuredClone, and across a worker boundary (the echo rows) it is about twice ' +
      'as fast as structured clone, Comlink and workerpool.',
    fix:
      'Schema-directed encoding for known types (names written once per type, not per object), and caching the ' +
      'field lists of repeated object shapes.',
  },
  {
    title: 'Browser backpressure: the worker pays per message to read from the ring',
    target: /browser/,
    case: /^delivered/,
    why:
      'The slow consumer is a JavaScript worker: for each value its for-await loop resolves a promise, decodes ' +
      'the 4 KiB record, and when it drains the ring it waits with Atomics.waitAsync for the producer, which in ' +
      'turn waits for room. Those per-message costs come on top of the consumer’s 80 µs of work; how they split ' +
      'has not been profiled. What the row shows as intended: peak memory stays at the ring’s capacity while ' +
      'the others queue every message.',
    fix: 'Profile the worker’s read loop; batch reads (a recv of many values per wake-up) in Receiver.',
  },
  {
    title: 'JS heap after 10,000 calls: the pool’s caches warm up',
    target: /browser/,
    case: /JS heap growth/,
    why:
      'The growth does not scale with the calls (300 calls: ~25–30 KiB, 10,000: ~40 KiB), so it is what the ' +
      'pool keeps once warmed (encoders, name caches, the pending-call queue’s storage), not memory per call; ' +
      'Comlink keeps almost nothing between calls. Not yet broken down with a heap snapshot.',
    fix: 'Take a heap snapshot diff and trim what the pool keeps per task name and per worker.',
  },
  // --- native and wasm ------------------------------------------------------------
  {
    title: 'Backpressure: the delivered rate is below the consumer’s own rate',
    case: /^delivered/,
    why:
      'The stream’s receiver hands room back every quarter ring and rings the sender’s doorbell when the sender ' +
      'is parked, and the sender gets ready to park each time the ring fills: strace of the native stream case ' +
      '(235,000 messages of 4 KiB) counts one membarrier (the ring’s asymmetric barrier, which interrupts every ' +
      'core running the process) per ~17 messages and a futex wait/wake pair per ~30. The wake-ups run on the ' +
      'consumer’s thread and the membarriers interrupt its core: several µs per ~30 µs of consumer work, about ' +
      'the ~30% the stream row loses. ' +
      'Spinning producers (ring, boost, RWQ) lose more or less depending on how the scheduler shares the two ' +
      'cores. Memory stays at the ring’s capacity throughout, as intended.',
    fix:
      'Wake a parked sender only once the ring is half empty (hysteresis), let the sender spin briefly before ' +
      'parking, and use plain fences instead of membarrier on a side that parks often.',
  },
  {
    title: 'Spinning round trips: p99 set by preemption on an oversubscribed machine',
    case: /round trip p99 · ring|round trip 8 B p99/,
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
    title: 'Backpressure: the stream’s sender spends its CPU on parking',
    case: /producer CPU · stream/,
    why:
      'The sender does suspend while the ring is full, but the receiver hands room back a quarter ring at a ' +
      'time (~16 of the 63 messages), so the sender gets ready to park about every 17 messages and sleeps ' +
      'about every 30 (strace, native); each attempt costs 128 pauses of spinning and a membarrier syscall (the ' +
      'ring’s asymmetric barrier: ~12 µs per call in strace here, and it interrupts every core running the ' +
      'process). Per ~30 µs of the consumer’s work that is a large share of the sender’s time. Asio’s channel ' +
      'wakes its producer through the io_context and uses less.',
    fix:
      'Hysteresis (wake the sender only when half the ring is free, so it parks less often) and plain fences ' +
      'instead of membarrier for a side that parks often.',
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
    title: 'Spinning round trips in wasm: the ring’s publish and read cost more than bare index stores',
    target: /wasm/,
    case: /round trip p50 · ring|round trip 8 B/,
    why:
      'In wasm a ring round trip runs try_write + publish (release store, then a check of the consumer’s parked ' +
      'flag behind a fence) and try_read + release, while boost’s push/pop are a bare index load and store each; ' +
      'natively the same code is ahead of boost, so the wasm difference is in how these atomics and fences ' +
      'compile. Not yet profiled.',
    fix: 'Look at the wasm of publish()/try_read() (a seq_cst fence becomes atomic.fence) and keep it off the no-waiter path.',
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
    title: 'Bulk streams: encoding copies in, and the two sides park while the other copies',
    case: /KiB · stream|MiB · stream/,
    why:
      'The stream’s sender encodes each buffer into the ring (one copy, as the queues’ push), and when sender and ' +
      'receiver catch up with each other they park on futexes instead of spinning; a 64 KiB copy takes a few µs, ' +
      'less than a park/wake pair, so a stall costs more than it does for the spinning queues.',
    fix: 'Adaptive spinning before parking; a reserve/commit API on Sender for building large values in the ring.',
  },
  STREAMS,
  { ...STREAMS, benchmark: /runtime_bench/, case: /send/,
    title: 'runtime_bench: a stream against ferry’s own raw ring (what the stream layer costs)' },
  POOL_CALLS,
  { ...POOL_CALLS, benchmark: /runtime_bench/, case: /get\(\)|co_await/,
    title: 'runtime_bench: a pool call against a ping-pong over ferry’s own raw rings' },
  {
    title: 'Small messages on the raw ring: a header per record',
    case: /^8 B · ring|^(8|64) B (one-by-one|batched)/,
    why:
      'Every ring record carries an 8-byte header (length, tag) and is padded to 8 bytes, so an 8-byte message ' +
      'moves 16 bytes, and try_write checks room, the skip marker and returns a Result<bool>; boost::spsc_queue’s ' +
      'slots are bare T. At 8 bytes the header doubles the memory traffic; from 64 bytes on the ring’s batched ' +
      'publish wins in channel_bench. ring_bench’s batched baseline is stronger: boost pushes and pops ranges of ' +
      '64 values with one index update per range on each side.',
    fix: 'Put a batch’s values in one record: one try_reserve and one copy for an array of them (the “one ' +
      'reserve per batch” rows, the same work as boost’s range push), or try_extend per value as streams do ' +
      '(the “packed records” rows, which pay a bounds check per value).',
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
