// ferry channel benchmark: ferry's ring, its coroutine streams and its pool
// calls against the queues and channels C++ programs use today —
// boost::lockfree::spsc_queue, moodycamel::ReaderWriterQueue,
// moodycamel::ConcurrentQueue, Asio's experimental concurrent_channel — and
// memcpy, in one run. The same source builds natively and with Emscripten
// (run the .js under Node).
//
//   channel_bench [--quick] [--json FILE] [--reps N] [--target-ms MS] [--filter TEXT]
//
// Tables:
//   messages     messages/s for 8 B, 64 B and 4 KiB values, producer thread ->
//                consumer thread; the consumer reads every byte.
//   bulk         MB/s for 64 KiB and 1 MiB buffers into a consumer that
//                checksums each one where it lies (where the API allows).
//   latency      8-byte round trips, each timed on its own: p50 and p99.
//   backpressure 4 KiB values to a consumer 10x slower than the producer:
//                delivered rate (should equal the consumer's own), peak bytes
//                in flight (should stay at the queue's capacity), and the
//                producer's CPU time while it waits.
//
// Each queue is used the way its documentation recommends for speed (its bulk
// or in-place calls where it has them); the notes under each table say how.
// Every run is checked — message counts, checksums of the known sequence,
// echoes — and a mismatch ends the program with status 1. --quick runs tiny
// sizes for the test suite: it checks that every case runs and verifies, not
// speed.
#include "core/ring.hpp"
#include "stream/stream.hpp"
#include "workers/executor.hpp"
#include "workers/pool.hpp"
#include "workers/task.hpp"

#include "bench/bench_harness.hpp"
#include "bench/runtime_harness.hpp"

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/concurrent_channel.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#include <concurrentqueue/concurrentqueue.h>
#include <readerwriterqueue/readerwriterqueue.h>

#include <bit>
#include <ctime>
#include <deque>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace fb = ferry::bench;
using fb::Contender;
using fb::Measured;
using fb::RunResult;
using fb::Spinner;
using fb::fail;
using fb::Seen;
using fb::must;

// Tasks for the pool cases.
namespace chan_bench {
std::uint64_t echo_u64(std::uint64_t v) { return v; }
FERRY_EXPORT(echo_u64);
std::uint64_t sum_bytes(std::span<const std::byte> data);
std::uint64_t checksum_bytes(std::span<const std::byte> data) { return sum_bytes(data); }
FERRY_EXPORT(checksum_bytes);
}  // namespace chan_bench

namespace {

constexpr std::uint32_t kTag = 7;
constexpr std::uint64_t kBatch = 64;          // ring publish / release, CQ bulk dequeue
// send_batch / recv_batch size: 256 values, fewer for big ones so that a
// batch stays well inside the ring (and the cache).
template <std::size_t N>
constexpr std::size_t kStreamBatch = std::min<std::size_t>(256, 64 * 1024 / N);
constexpr unsigned kCallWindow = 4;           // pool calls in flight in the bulk case
constexpr std::size_t kSketch = 1000;         // quantiles kept per latency run

const std::string kFerry = "ferry";
const std::string kBoost = "boost::spsc";
const std::string kRwq = "moodycamel::RWQ";
const std::string kCq = "moodycamel::CQ";
const std::string kAsio = "asio channel";
const std::string kMemcpy = "memcpy (1 thread)";
const std::string kAlone = "consumer alone";

#if defined(__EMSCRIPTEN__)
constexpr bool kNative = false;
#else
constexpr bool kNative = true;
#endif

// --- Values, the known sequence and its check -----------------------------------

using fb::fold;
using fb::kFnvBasis;

template <std::size_t N>
struct Msg {
  static_assert(N % 8 == 0);
  std::uint64_t w[N / 8];
};

template <std::size_t N>
inline Msg<N> make(std::uint64_t i) {
  const std::uint64_t v = (i + 1) * 0x9E3779B97F4A7C15ull;
  Msg<N> m;
  for (std::size_t k = 0; k < N / 8; ++k) m.w[k] = v + k * 0xD6E8FEB86659FD93ull;
  return m;
}

// Reads every byte: a wrapping sum and an xor of the words, four lanes each.
inline std::uint64_t digest_bytes(const std::byte* p, std::size_t len) {
  std::uint64_t s[4] = {0, 0, 0, 0}, x[4] = {0, 0, 0, 0};
  std::size_t k = 0;
  for (; k + 32 <= len; k += 32) {
    std::uint64_t w[4];
    std::memcpy(w, p + k, sizeof w);
    for (int j = 0; j < 4; ++j) {
      s[j] += w[j];
      x[j] ^= w[j];
    }
  }
  for (; k + 8 <= len; k += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + k, 8);
    s[0] += w;
    x[0] ^= w;
  }
  return (s[0] + s[1] + s[2] + s[3]) ^ std::rotl(x[0] ^ x[1] ^ x[2] ^ x[3], 32);
}

template <std::size_t N>
inline std::uint64_t digest(const Msg<N>& m) {
  return digest_bytes(reinterpret_cast<const std::byte*>(m.w), N);
}

template <std::size_t N>
std::uint64_t expected_checksum(std::uint64_t n) {
  return fb::expected_checksum<Msg<N>>(n, [](std::uint64_t i) { return digest(make<N>(i)); });
}


template <std::size_t N>
void check_seq(const std::string& what, const Seen& s, std::uint64_t n) {
  fb::check_seen(what, s, n, expected_checksum<N>(n));
}

// Every contender holds as many messages as the ferry ring of the case does:
// the ring's capacity in bytes is the one knob, the others get its count.
template <std::size_t N>
constexpr std::uint32_t ring_capacity_for() {
  return N <= 8 ? 64 * 1024 : N <= 64 ? 256 * 1024 : 1024 * 1024;
}
template <std::size_t N>
constexpr std::size_t slots_for() {
  return ring_capacity_for<N>() / ferry::ring_record_bytes(N);
}

inline double thread_cpu_seconds() {
#if defined(__EMSCRIPTEN__)
  return NAN;  // no per-thread CPU clock in Emscripten's libc
#else
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return NAN;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
#endif
}

// Quantiles of one latency run: kSketch evenly spaced ranks of its samples, so
// repetitions can be pooled (each weighs the same) without keeping millions
// of samples.
std::vector<double> sketch(std::vector<float>& ns) {
  std::vector<double> q;
  if (ns.empty()) return q;
  std::sort(ns.begin(), ns.end());
  q.reserve(kSketch);
  for (std::size_t k = 0; k < kSketch; ++k) {
    q.push_back(ns[std::min(ns.size() - 1, (k * ns.size() + ns.size() / 2) / kSketch)]);
  }
  return q;
}

// --- Asio: io_contexts on their own threads -------------------------------------

struct AsioThread {
  asio::io_context ctx;
  asio::executor_work_guard<asio::io_context::executor_type> guard{ctx.get_executor()};
  std::thread thread{[this] { ctx.run(); }};
  ~AsioThread() {
    guard.reset();
    ctx.stop();
    thread.join();
  }
};

// asio::experimental::channel is not thread-safe; concurrent_channel is its
// thread-safe twin (a mutex inside), the one that crosses threads.
template <class T>
using AsioChannel = asio::experimental::concurrent_channel<void(asio::error_code, T)>;

// Sends with try_send, and awaits async_send only when the channel is full.
template <class T>
asio::awaitable<void> asio_send(AsioChannel<T>& ch, T&& v) {
  if (!ch.try_send(asio::error_code{}, std::move(v))) {
    co_await ch.async_send(asio::error_code{}, std::move(v), asio::use_awaitable);
  }
}

// Receives with try_receive, and awaits async_receive only when it is empty.
template <class T, class Fn>
asio::awaitable<void> asio_recv(AsioChannel<T>& ch, Fn&& fn) {
  if (!ch.try_receive([&](asio::error_code, T v) { fn(v); })) {
    T v = co_await ch.async_receive(asio::use_awaitable);
    fn(v);
  }
}

struct AsioPair {
  AsioThread a, b;  // a: producer / ping side, b: consumer / echo side
};

// =================================================================================
// Messages: throughput, producer on a thread, consumer (and the clock) on main
// =================================================================================

template <std::size_t N>
RunResult ring_tp(std::uint64_t n) {
  auto [prod, cons] = fb::attach(fb::ring_memory(ring_capacity_for<N>()).fresh());
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, cons = std::move(cons), &out, &seen]() mutable {
        Seen local;
        const auto t0 = fb::Clock::now();
        fb::ring_read_spinning(cons, n, kBatch, [&](const ferry::RingRecord& rec) {
          if (rec.tag != kTag || rec.payload.size() != N) ++local.bad;
          local.add(digest_bytes(rec.payload.data(), N));  // in place: the ring hands out a view
        });
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, prod = std::move(prod)]() mutable {
        fb::ring_write_spinning(prod, kTag, n, kBatch, [](std::uint64_t i) { return make<N>(i); });
      });
  check_seq<N>("ferry ring", seen, n);
  return out;
}

// ferry streams: 8-byte values travel as u64; larger ones as byte spans (the
// receiver gets a zero-copy view into the ring).
template <std::size_t N>
using StreamValue = std::conditional_t<N == 8, std::uint64_t, std::span<const std::byte>>;

template <std::size_t N>
inline std::uint64_t stream_digest(const StreamValue<N>& v, Seen& s) {
  if constexpr (N == 8) {
    return digest_bytes(reinterpret_cast<const std::byte*>(&v), 8);
  } else {
    if (v.size() != N) ++s.bad;
    return digest_bytes(v.data(), std::min(v.size(), N));
  }
}

template <std::size_t N>
ferry::Task<ferry::Result<std::uint64_t>> stream_produce(ferry::Sender<StreamValue<N>> tx, std::uint64_t n,
                                                          bool batched) {
  if (batched) {
    std::vector<Msg<N>> msgs(kStreamBatch<N>);
    std::vector<StreamValue<N>> vals(kStreamBatch<N>);
    for (std::uint64_t i = 0; i < n; i += kStreamBatch<N>) {
      const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(kStreamBatch<N>, n - i));
      for (std::size_t j = 0; j < k; ++j) {
        msgs[j] = make<N>(i + j);
        if constexpr (N == 8) vals[j] = msgs[j].w[0];
        else vals[j] = std::as_bytes(std::span<const Msg<N>, 1>(&msgs[j], 1));
      }
      auto span = std::span<const StreamValue<N>>(vals.data(), k);
      if (auto ok = co_await tx.send_batch(span); !ok) co_return ok.error();
    }
  } else {
    for (std::uint64_t i = 0; i < n; ++i) {
      const Msg<N> m = make<N>(i);
      StreamValue<N> v;
      if constexpr (N == 8) v = m.w[0];
      else v = std::as_bytes(std::span<const Msg<N>, 1>(&m, 1));
      if (auto ok = co_await tx.send(v); !ok) co_return ok.error();
    }
  }
  tx.close();
  co_return n;
}

template <std::size_t N>
ferry::Task<ferry::Result<Seen>> stream_consume(ferry::Receiver<StreamValue<N>> rx, std::uint64_t n, bool batched) {
  Seen s;
  while (s.count < n) {
    if (batched) {
      auto b = co_await rx.recv_batch(kStreamBatch<N>);
      if (!b) co_return b.error();
      for (const auto& v : *b) s.add(stream_digest<N>(v, s));
    } else {
      auto v = co_await rx.recv();
      if (!v) co_return v.error();
      s.add(stream_digest<N>(*v, s));
    }
  }
  co_return s;
}

// Timed on main from spawning both coroutines to the consumer's completion.
template <std::size_t N>
RunResult stream_tp(fb::Running& a, fb::Running& b, std::uint64_t n, bool batched) {
  auto pair = must("make_stream", ferry::make_stream<StreamValue<N>>({.capacity = ring_capacity_for<N>(),
                                                                      .sender_scheduler = &a.ex,
                                                                      .receiver_scheduler = &b.ex}));
  const auto t0 = fb::Clock::now();
  auto got = fb::start(b, stream_consume<N>(std::move(pair.rx), n, batched));
  auto sent = fb::start(a, stream_produce<N>(std::move(pair.tx), n, batched));
  const Seen s = must("stream consumer", got.get());
  RunResult out;
  out.seconds = fb::seconds_since(t0);
  must("stream producer", sent.get());
  check_seq<N>(batched ? "ferry stream batched" : "ferry stream", s, n);
  return out;
}

template <std::size_t N>
RunResult boost_tp(std::uint64_t n) {
  auto queue = std::make_unique<boost::lockfree::spsc_queue<Msg<N>>>(slots_for<N>());
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, q = queue.get(), &out, &seen] {
        Seen local;
        Spinner s;
        const auto t0 = fb::Clock::now();
        while (local.count < n) {
          // consume_all: in place, one index update for everything available.
          if (q->consume_all([&](const Msg<N>& m) { local.add(digest(m)); }) == 0) s.spin();
          else s = Spinner{};
        }
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, q = queue.get()] {
        for (std::uint64_t i = 0; i < n; ++i) {
          const Msg<N> m = make<N>(i);
          for (Spinner s; !q->push(m);) s.spin();
        }
      });
  check_seq<N>(kBoost, seen, n);
  return out;
}

template <std::size_t N>
RunResult rwq_tp(std::uint64_t n) {
  auto queue = std::make_unique<moodycamel::ReaderWriterQueue<Msg<N>>>(slots_for<N>());
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, q = queue.get(), &out, &seen] {
        Seen local;
        Spinner s;
        const auto t0 = fb::Clock::now();
        while (local.count < n) {
          const Msg<N>* front = q->peek();  // in place
          if (front == nullptr) { s.spin(); continue; }
          local.add(digest(*front));
          q->pop();
          s = Spinner{};
        }
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, q = queue.get()] {
        for (std::uint64_t i = 0; i < n; ++i) {
          const Msg<N> m = make<N>(i);
          for (Spinner s; !q->try_enqueue(m);) s.spin();  // never allocates
        }
      });
  check_seq<N>(kRwq, seen, n);
  return out;
}

template <std::size_t N>
RunResult cq_tp(std::uint64_t n) {
  auto queue = std::make_unique<moodycamel::ConcurrentQueue<Msg<N>>>(slots_for<N>());
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, q = queue.get(), &out, &seen] {
        moodycamel::ConsumerToken tok(*q);
        std::vector<Msg<N>> buf(kBatch);
        Seen local;
        Spinner s;
        const auto t0 = fb::Clock::now();
        while (local.count < n) {
          const std::size_t k = q->try_dequeue_bulk(tok, buf.begin(), kBatch);  // copies out
          if (k == 0) { s.spin(); continue; }
          for (std::size_t j = 0; j < k; ++j) local.add(digest(buf[j]));
          s = Spinner{};
        }
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, q = queue.get()] {
        moodycamel::ProducerToken tok(*q);
        for (std::uint64_t i = 0; i < n; ++i) {
          const Msg<N> m = make<N>(i);
          for (Spinner s; !q->try_enqueue(tok, m);) s.spin();  // try_: never allocates
        }
      });
  check_seq<N>(kCq, seen, n);
  return out;
}

template <std::size_t N>
asio::awaitable<void> asio_produce(AsioChannel<Msg<N>>& ch, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) co_await asio_send(ch, make<N>(i));
}

template <std::size_t N>
asio::awaitable<Seen> asio_consume(AsioChannel<Msg<N>>& ch, std::uint64_t n) {
  Seen s;
  while (s.count < n) co_await asio_recv<Msg<N>>(ch, [&](const Msg<N>& m) { s.add(digest(m)); });
  co_return s;
}

template <std::size_t N>
RunResult asio_tp(AsioPair& io, std::uint64_t n) {
  AsioChannel<Msg<N>> ch(io.a.ctx, slots_for<N>());
  const auto t0 = fb::Clock::now();
  auto got = asio::co_spawn(io.b.ctx, asio_consume<N>(ch, n), asio::use_future);
  auto sent = asio::co_spawn(io.a.ctx, asio_produce<N>(ch, n), asio::use_future);
  const Seen s = got.get();
  RunResult out;
  out.seconds = fb::seconds_since(t0);
  sent.get();
  check_seq<N>(kAsio, s, n);
  return out;
}

// =================================================================================
// Bulk: 64 KiB and 1 MiB buffers into a consumer that checksums them
// =================================================================================

template <std::size_t B>
struct alignas(64) Block {
  std::byte b[B];
};

// Source blocks, cycled (bigger than the last-level cache), with their sums.
struct Source {
  std::size_t bytes = 0;   // one block
  std::size_t blocks = 0;
  std::byte* data = nullptr;
  std::vector<std::uint64_t> sums;

  Source(std::size_t block_bytes, std::size_t total) : bytes(block_bytes), blocks(total / block_bytes) {
    data = static_cast<std::byte*>(std::aligned_alloc(64, blocks * bytes));
    if (!data) fail("out of memory for " + std::to_string(total >> 20) + " MiB of source blocks");
    auto* w = reinterpret_cast<std::uint64_t*>(data);
    for (std::size_t k = 0; k < blocks * bytes / 8; ++k) w[k] = (k + 1) * 0x9E3779B97F4A7C15ull;
    for (std::size_t j = 0; j < blocks; ++j) sums.push_back(chan_bench::sum_bytes({block(j), bytes}));
  }
  ~Source() { std::free(data); }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  const std::byte* block(std::uint64_t i) const { return data + (i % blocks) * bytes; }
  std::uint64_t sum(std::uint64_t i) const { return sums[i % blocks]; }
};

// Seen, for blocks: count, and a bad mark for every sum that is not its block's.
struct BulkSeen {
  std::uint64_t count = 0;
  std::uint64_t bad = 0;
  void add(const Source& src, const std::byte* p, std::size_t len) {
    if (len != src.bytes || chan_bench::sum_bytes({p, len}) != src.sum(count)) ++bad;
    ++count;
  }
};

void check_bulk(const std::string& what, const BulkSeen& s, std::uint64_t n) {
  if (s.count != n || s.bad != 0) {
    fail(what + ": consumer saw " + std::to_string(s.count) + " of " + std::to_string(n) + " blocks, " +
         std::to_string(s.bad) + " with the wrong checksum or size");
  }
}

// Ring records the same ring holds: 1 MiB for 64 KiB blocks (15), 4 MiB for 1 MiB (3).
inline std::uint32_t bulk_ring_bytes(std::size_t block) { return block <= 64 * 1024 ? 1u << 20 : 4u << 20; }
inline std::size_t bulk_slots(std::size_t block) { return bulk_ring_bytes(block) / ferry::ring_record_bytes(block); }

RunResult memcpy_bulk(const Source& src, std::uint64_t n) {
  std::unique_ptr<std::byte, void (*)(void*)> dst(static_cast<std::byte*>(std::aligned_alloc(64, src.bytes)),
                                                  std::free);
  std::memset(dst.get(), 0, src.bytes);
  BulkSeen seen;
  const auto t0 = fb::Clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    std::memcpy(dst.get(), src.block(i), src.bytes);
    seen.add(src, dst.get(), src.bytes);
  }
  RunResult out;
  out.seconds = fb::seconds_since(t0);
  check_bulk(kMemcpy, seen, n);
  return out;
}

RunResult ring_bulk(const Source& src, std::uint64_t n) {
  auto [prod, cons] = fb::attach(fb::ring_memory(bulk_ring_bytes(src.bytes)).fresh());
  RunResult out;
  BulkSeen seen;
  fb::run_pair(
      [n, &src, cons = std::move(cons), &out, &seen]() mutable {
        BulkSeen local;
        const auto t0 = fb::Clock::now();
        fb::ring_read_spinning(cons, n, 1, [&](const ferry::RingRecord& rec) {
          local.add(src, rec.payload.data(), rec.tag == kTag ? rec.payload.size() : 0);
        });
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, &src, prod = std::move(prod)]() mutable {
        fb::ring_copy_in(prod, kTag, n, src.bytes, [&](std::uint64_t i) { return src.block(i); });
      });
  check_bulk("ferry ring", seen, n);
  return out;
}

using Bytes = std::span<const std::byte>;

ferry::Task<ferry::Result<std::uint64_t>> bulk_produce(ferry::Sender<Bytes> tx, const Source& src, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) {
    const Bytes v(src.block(i), src.bytes);
    if (auto ok = co_await tx.send(v); !ok) co_return ok.error();
  }
  tx.close();
  co_return n;
}

ferry::Task<ferry::Result<BulkSeen>> bulk_consume(ferry::Receiver<Bytes> rx, const Source& src, std::uint64_t n) {
  BulkSeen s;
  while (s.count < n) {
    auto v = co_await rx.recv();  // a view into the ring
    if (!v) co_return v.error();
    s.add(src, v->data(), v->size());
  }
  co_return s;
}

RunResult stream_bulk(fb::Running& a, fb::Running& b, const Source& src, std::uint64_t n) {
  auto pair = must("make_stream", ferry::make_stream<Bytes>({.capacity = bulk_ring_bytes(src.bytes),
                                                             .sender_scheduler = &a.ex,
                                                             .receiver_scheduler = &b.ex}));
  const auto t0 = fb::Clock::now();
  auto got = fb::start(b, bulk_consume(std::move(pair.rx), src, n));
  auto sent = fb::start(a, bulk_produce(std::move(pair.tx), src, n));
  const BulkSeen s = must("stream consumer", got.get());
  RunResult out;
  out.seconds = fb::seconds_since(t0);
  must("stream producer", sent.get());
  check_bulk("ferry stream", s, n);
  return out;
}

// kCallWindow calls in flight: the worker checksums each argument where it
// lies in its request ring and returns the sum, which the caller checks.
RunResult call_bulk(ferry::WorkerPool& pool, const Source& src, std::uint64_t n) {
  std::deque<std::pair<std::uint64_t, ferry::Call<std::uint64_t>>> inflight;
  BulkSeen seen;
  auto finish_one = [&] {
    auto& [i, call] = inflight.front();
    auto r = call.get();
    if (!r) fail("pool call checksum_bytes: " + r.error().describe());
    if (*r != src.sum(i)) ++seen.bad;
    ++seen.count;
    inflight.pop_front();
  };
  const auto t0 = fb::Clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    inflight.emplace_back(i, pool.call<std::uint64_t>("checksum_bytes", Bytes(src.block(i), src.bytes)));
    if (inflight.size() == kCallWindow) finish_one();
  }
  while (!inflight.empty()) finish_one();
  RunResult out;
  out.seconds = fb::seconds_since(t0);
  check_bulk("ferry pool call", seen, n);
  return out;
}

// boost and RWQ hold the blocks by value (push copies in; the consumer reads in
// place); CQ and the Asio channel move heap buffers (std::vector: the producer
// allocates and copies in, the consumer reads and frees), their usual idiom
// for big payloads.
template <std::size_t B>
RunResult boost_bulk(const Source& src, std::uint64_t n) {
  auto queue = std::make_unique<boost::lockfree::spsc_queue<Block<B>>>(bulk_slots(B));
  RunResult out;
  BulkSeen seen;
  fb::run_pair(
      [n, &src, q = queue.get(), &out, &seen] {
        BulkSeen local;
        Spinner s;
        const auto t0 = fb::Clock::now();
        while (local.count < n) {
          if (!q->consume_one([&](const Block<B>& blk) { local.add(src, blk.b, B); })) s.spin();
          else s = Spinner{};
        }
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, &src, q = queue.get()] {
        for (std::uint64_t i = 0; i < n; ++i) {
          const auto& blk = *reinterpret_cast<const Block<B>*>(src.block(i));
          for (Spinner s; !q->push(blk);) s.spin();
        }
      });
  check_bulk(kBoost, seen, n);
  return out;
}

template <std::size_t B>
RunResult rwq_bulk(const Source& src, std::uint64_t n) {
  auto queue = std::make_unique<moodycamel::ReaderWriterQueue<Block<B>>>(bulk_slots(B));
  RunResult out;
  BulkSeen seen;
  fb::run_pair(
      [n, &src, q = queue.get(), &out, &seen] {
        BulkSeen local;
        Spinner s;
        const auto t0 = fb::Clock::now();
        while (local.count < n) {
          const Block<B>* front = q->peek();
          if (front == nullptr) { s.spin(); continue; }
          local.add(src, front->b, B);
          q->pop();
          s = Spinner{};
        }
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, &src, q = queue.get()] {
        for (std::uint64_t i = 0; i < n; ++i) {
          const auto& blk = *reinterpret_cast<const Block<B>*>(src.block(i));
          for (Spinner s; !q->try_enqueue(blk);) s.spin();
        }
      });
  check_bulk(kRwq, seen, n);
  return out;
}

using Buffer = std::vector<std::byte>;

RunResult cq_bulk(const Source& src, std::uint64_t n) {
  auto queue = std::make_unique<moodycamel::ConcurrentQueue<Buffer>>(bulk_slots(src.bytes));
  RunResult out;
  BulkSeen seen;
  fb::run_pair(
      [n, &src, q = queue.get(), &out, &seen] {
        moodycamel::ConsumerToken tok(*q);
        BulkSeen local;
        Spinner s;
        Buffer v;
        const auto t0 = fb::Clock::now();
        while (local.count < n) {
          if (!q->try_dequeue(tok, v)) { s.spin(); continue; }
          local.add(src, v.data(), v.size());
          Buffer().swap(v);  // free it, as a consumer done with it would
          s = Spinner{};
        }
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, &src, q = queue.get()] {
        moodycamel::ProducerToken tok(*q);
        for (std::uint64_t i = 0; i < n; ++i) {
          Buffer v(src.block(i), src.block(i) + src.bytes);
          for (Spinner s; !q->try_enqueue(tok, std::move(v));) s.spin();
        }
      });
  check_bulk(kCq, seen, n);
  return out;
}

asio::awaitable<void> asio_bulk_produce(AsioChannel<Buffer>& ch, const Source& src, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) co_await asio_send(ch, Buffer(src.block(i), src.block(i) + src.bytes));
}

asio::awaitable<BulkSeen> asio_bulk_consume(AsioChannel<Buffer>& ch, const Source& src, std::uint64_t n) {
  BulkSeen s;
  while (s.count < n) co_await asio_recv<Buffer>(ch, [&](const Buffer& v) { s.add(src, v.data(), v.size()); });
  co_return s;
}

RunResult asio_bulk(AsioPair& io, const Source& src, std::uint64_t n) {
  AsioChannel<Buffer> ch(io.a.ctx, bulk_slots(src.bytes));
  const auto t0 = fb::Clock::now();
  auto got = asio::co_spawn(io.b.ctx, asio_bulk_consume(ch, src, n), asio::use_future);
  auto sent = asio::co_spawn(io.a.ctx, asio_bulk_produce(ch, src, n), asio::use_future);
  const BulkSeen s = got.get();
  RunResult out;
  out.seconds = fb::seconds_since(t0);
  sent.get();
  check_bulk(kAsio, s, n);
  return out;
}

// =================================================================================
// Latency: 8-byte round trips, each one timed
// =================================================================================

RunResult finish_latency(const std::string& what, std::vector<float>& ns, std::uint64_t bad, double seconds) {
  if (bad != 0) fail(what + ": " + std::to_string(bad) + " wrong echoes");
  RunResult out;
  out.seconds = seconds;
  out.batch_ns = sketch(ns);
  return out;
}

RunResult ring_rtt(std::uint64_t n) {
  auto r = fb::ring_round_trips(n);
  return finish_latency("ferry ring round trip", r.ns, r.bad, r.seconds);
}

template <class Queue, class Push, class Pop>
RunResult queue_rtt(const std::string& what, std::uint64_t n, Push push, Pop pop) {
  auto ping_q = std::make_unique<Queue>(256);
  auto pong_q = std::make_unique<Queue>(256);
  std::vector<float> ns;
  std::uint64_t bad = 0;
  double seconds = 0;
  fb::run_pair(
      [n, ping = ping_q.get(), pong = pong_q.get(), push, pop, &ns, &bad, &seconds] {
        std::vector<float> local;
        local.reserve(n);
        std::uint64_t wrong = 0;
        const auto t0 = fb::Clock::now();
        for (std::uint64_t i = 0; i < n; ++i) {
          const auto t = fb::Clock::now();
          const std::uint64_t v = fb::ping_value(i);
          for (Spinner s; !push(*ping, v);) s.spin();
          std::uint64_t back = 0;
          for (Spinner s; !pop(*pong, back);) s.spin();
          if (back != v) ++wrong;
          local.push_back(fb::ns_between(t, fb::Clock::now()));
        }
        seconds = fb::seconds_since(t0);
        ns = std::move(local);
        bad = wrong;
      },
      [n, ping = ping_q.get(), pong = pong_q.get(), push, pop] {
        for (std::uint64_t i = 0; i < n; ++i) {
          std::uint64_t v = 0;
          for (Spinner s; !pop(*ping, v);) s.spin();
          for (Spinner s; !push(*pong, v);) s.spin();
        }
      });
  return finish_latency(what + " round trip", ns, bad, seconds);
}

RunResult boost_rtt(std::uint64_t n) {
  using Q = boost::lockfree::spsc_queue<std::uint64_t>;
  return queue_rtt<Q>(kBoost, n, [](Q& q, std::uint64_t v) { return q.push(v); },
                      [](Q& q, std::uint64_t& v) { return q.pop(v); });
}

RunResult rwq_rtt(std::uint64_t n) {
  using Q = moodycamel::ReaderWriterQueue<std::uint64_t>;
  return queue_rtt<Q>(kRwq, n, [](Q& q, std::uint64_t v) { return q.try_enqueue(v); },
                      [](Q& q, std::uint64_t& v) { return q.try_dequeue(v); });
}

RunResult cq_rtt(std::uint64_t n) {
  using Q = moodycamel::ConcurrentQueue<std::uint64_t>;
  return queue_rtt<Q>(kCq, n, [](Q& q, std::uint64_t v) { return q.try_enqueue(v); },
                      [](Q& q, std::uint64_t& v) { return q.try_dequeue(v); });
}

struct Pings {
  std::vector<float> ns;
  std::uint64_t bad = 0;
  double seconds = 0;
};

ferry::Task<ferry::Result<Pings>> stream_ping(ferry::Sender<std::uint64_t> tx, ferry::Receiver<std::uint64_t> rx,
                                              std::uint64_t n) {
  Pings p;
  p.ns.reserve(n);
  const auto t0 = fb::Clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto t = fb::Clock::now();
    const std::uint64_t v = fb::ping_value(i);
    if (auto ok = co_await tx.send(v); !ok) co_return ok.error();
    auto back = co_await rx.recv();
    if (!back) co_return back.error();
    if (*back != v) ++p.bad;
    p.ns.push_back(fb::ns_between(t, fb::Clock::now()));
  }
  p.seconds = fb::seconds_since(t0);
  tx.close();
  co_return p;
}

ferry::Task<ferry::Result<std::uint64_t>> stream_echo(ferry::Receiver<std::uint64_t> rx,
                                                      ferry::Sender<std::uint64_t> tx, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) {
    auto v = co_await rx.recv();
    if (!v) co_return v.error();
    const std::uint64_t back = *v;
    if (auto ok = co_await tx.send(back); !ok) co_return ok.error();
  }
  co_return n;
}

RunResult stream_rtt(fb::Running& a, fb::Running& b, std::uint64_t n) {
  auto ping = must("make_stream", ferry::make_stream<std::uint64_t>(
                                      {.capacity = 4096, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  auto pong = must("make_stream", ferry::make_stream<std::uint64_t>(
                                      {.capacity = 4096, .sender_scheduler = &b.ex, .receiver_scheduler = &a.ex}));
  auto echoed = fb::start(b, stream_echo(std::move(ping.rx), std::move(pong.tx), n));
  Pings p = must("stream ping", fb::start(a, stream_ping(std::move(ping.tx), std::move(pong.rx), n)).get());
  must("stream echo", echoed.get());
  return finish_latency("ferry stream round trip", p.ns, p.bad, p.seconds);
}

RunResult call_rtt(ferry::WorkerPool& pool, std::uint64_t n) {
  std::vector<float> ns;
  ns.reserve(n);
  std::uint64_t bad = 0;
  const auto t0 = fb::Clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto t = fb::Clock::now();
    const std::uint64_t v = fb::ping_value(i);
    auto r = pool.call<std::uint64_t>("echo_u64", v).get();
    if (!r) fail("pool call echo_u64: " + r.error().describe());
    if (*r != v) ++bad;
    ns.push_back(fb::ns_between(t, fb::Clock::now()));
  }
  return finish_latency("ferry pool call", ns, bad, fb::seconds_since(t0));
}

asio::awaitable<Pings> asio_ping(AsioChannel<std::uint64_t>& ping, AsioChannel<std::uint64_t>& pong,
                                 std::uint64_t n) {
  Pings p;
  p.ns.reserve(n);
  const auto t0 = fb::Clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto t = fb::Clock::now();
    const std::uint64_t v = fb::ping_value(i);
    co_await ping.async_send(asio::error_code{}, v, asio::use_awaitable);
    const std::uint64_t back = co_await pong.async_receive(asio::use_awaitable);
    if (back != v) ++p.bad;
    p.ns.push_back(fb::ns_between(t, fb::Clock::now()));
  }
  p.seconds = fb::seconds_since(t0);
  co_return p;
}

asio::awaitable<void> asio_echo(AsioChannel<std::uint64_t>& ping, AsioChannel<std::uint64_t>& pong,
                                std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::uint64_t v = co_await ping.async_receive(asio::use_awaitable);
    co_await pong.async_send(asio::error_code{}, v, asio::use_awaitable);
  }
}

RunResult asio_rtt(AsioPair& io, std::uint64_t n) {
  AsioChannel<std::uint64_t> ping(io.a.ctx, 256), pong(io.b.ctx, 256);
  auto echoed = asio::co_spawn(io.b.ctx, asio_echo(ping, pong, n), asio::use_future);
  Pings p = asio::co_spawn(io.a.ctx, asio_ping(ping, pong, n), asio::use_future).get();
  echoed.get();
  return finish_latency("asio channel round trip", p.ns, p.bad, p.seconds);
}

// =================================================================================
// Backpressure: 4 KiB values into a consumer 10x slower than the producer
// =================================================================================

constexpr std::size_t kBpBytes = 4096;
constexpr std::uint32_t kBpRing = 256 * 1024;  // every bounded contender holds what this ring holds
inline std::size_t bp_slots() { return kBpRing / ferry::ring_record_bytes(kBpBytes); }
using BpMsg = Msg<kBpBytes>;

// What one backpressure run saw, on both sides.
struct BpResult {
  double seconds = 0;            // consumer: first message to last
  std::uint64_t peak_in_flight = 0;  // produced - received, at its largest
  double producer_cpu = NAN;     // producer thread CPU seconds / its wall seconds
  std::uint32_t ring_high_water = 0;  // ferry stream: the ring's own high-water mark
};

// The producer's count, on its own cache line; the consumer reads it after
// every message to track what is in flight.
struct alignas(64) Produced {
  std::atomic<std::uint64_t> n{0};
};

// The slow consumer: digest the message (reads every byte), then spin until
// `work` has passed since it took the message.
struct SlowConsumer {
  fb::Clock::duration work;
  Produced* produced;
  Seen seen;
  std::uint64_t peak = 0;
  fb::Clock::time_point t0, t1;

  void take(const std::byte* p, std::size_t len) {
    const auto t = fb::Clock::now();
    if (seen.count == 0) t0 = t;
    const std::uint64_t in_flight = produced->n.load(std::memory_order_relaxed) - seen.count;
    peak = std::max(peak, in_flight);
    if (len != kBpBytes) ++seen.bad;
    seen.add(digest_bytes(p, std::min(len, kBpBytes)));
    while (fb::Clock::now() - t < work) fb::cpu_relax();
    t1 = fb::Clock::now();
  }
  double seconds() const { return std::chrono::duration<double>(t1 - t0).count(); }
};

// Producer bookkeeping: CPU and wall time of the thread that produces.
struct ProducerClock {
  double cpu0 = thread_cpu_seconds();
  fb::Clock::time_point t0 = fb::Clock::now();
  double share() const { return (thread_cpu_seconds() - cpu0) / fb::seconds_since(t0); }
};

BpResult bp_finish(const std::string& what, const SlowConsumer& c, double cpu, std::uint64_t n) {
  check_seq<kBpBytes>(what + " (backpressure)", c.seen, n);
  return {c.seconds(), c.peak, cpu, 0};
}

// Spinning contenders: producer on a thread, consumer on main.
template <class Push, class Drain>
BpResult bp_spin(const std::string& what, fb::Clock::duration work, std::uint64_t n, Push push, Drain drain) {
  Produced produced;
  SlowConsumer c{work, &produced};
  double cpu = NAN;
  fb::run_pair(
      [&c, &drain, n] {
        for (Spinner s; c.seen.count < n;) {
          if (drain(c)) s = Spinner{};
          else s.spin();
        }
      },
      [&produced, &cpu, &push, n] {
        ProducerClock clock;
        for (std::uint64_t i = 0; i < n; ++i) {
          push(make<kBpBytes>(i));
          produced.n.store(i + 1, std::memory_order_relaxed);
        }
        cpu = clock.share();
      });
  return bp_finish(what, c, cpu, n);
}

BpResult bp_ring(fb::Clock::duration work, std::uint64_t n) {
  auto ends = fb::attach(fb::ring_memory(kBpRing).fresh());
  ferry::RingProducer& prod = ends.first;  // clang 14 cannot capture structured bindings
  ferry::RingConsumer& cons = ends.second;
  return bp_spin(
      "ferry ring", work, n,
      [&prod](const BpMsg& m) {
        for (Spinner s;;) {
          auto r = prod.try_write(kTag, std::as_bytes(std::span<const BpMsg, 1>(&m, 1)));
          if (!r) fail("ferry try_write: " + r.error().describe());
          if (*r) break;
          s.spin();
        }
        prod.publish();
      },
      [&cons](SlowConsumer& c) {
        auto r = cons.try_read();
        if (!r) fail("ferry try_read: " + r.error().describe());
        if (!*r) return false;
        c.take((**r).payload.data(), (**r).payload.size());
        cons.release();
        return true;
      });
}

BpResult bp_boost(fb::Clock::duration work, std::uint64_t n) {
  boost::lockfree::spsc_queue<BpMsg> q(bp_slots());
  return bp_spin(
      kBoost, work, n, [&q](const BpMsg& m) { for (Spinner s; !q.push(m);) s.spin(); },
      [&q](SlowConsumer& c) {
        return q.consume_one([&](const BpMsg& m) { c.take(reinterpret_cast<const std::byte*>(m.w), kBpBytes); });
      });
}

BpResult bp_rwq(fb::Clock::duration work, std::uint64_t n) {
  moodycamel::ReaderWriterQueue<BpMsg> q(bp_slots());
  return bp_spin(
      kRwq, work, n, [&q](const BpMsg& m) { for (Spinner s; !q.try_enqueue(m);) s.spin(); },
      [&q](SlowConsumer& c) {
        const BpMsg* m = q.peek();
        if (m == nullptr) return false;
        c.take(reinterpret_cast<const std::byte*>(m->w), kBpBytes);
        q.pop();
        return true;
      });
}

// ConcurrentQueue's usual call, enqueue, never refuses: it allocates instead
// of pushing back, which is what this case shows.
BpResult bp_cq(fb::Clock::duration work, std::uint64_t n) {
  moodycamel::ConcurrentQueue<BpMsg> q(bp_slots());
  BpMsg m;
  return bp_spin(
      kCq, work, n, [&q](const BpMsg& v) { if (!q.enqueue(v)) fail("ConcurrentQueue::enqueue: out of memory"); },
      [&q, &m](SlowConsumer& c) {
        if (!q.try_dequeue(m)) return false;
        c.take(reinterpret_cast<const std::byte*>(m.w), kBpBytes);
        return true;
      });
}

ferry::Task<ferry::Result<double>> bp_stream_produce(ferry::Sender<Bytes> tx, Produced& produced, std::uint64_t n) {
  ProducerClock clock;
  for (std::uint64_t i = 0; i < n; ++i) {
    const BpMsg m = make<kBpBytes>(i);
    const Bytes v = std::as_bytes(std::span<const BpMsg, 1>(&m, 1));
    if (auto ok = co_await tx.send(v); !ok) co_return ok.error();  // suspends while the ring is full
    produced.n.store(i + 1, std::memory_order_relaxed);
  }
  const double cpu = clock.share();
  tx.close();
  co_return cpu;
}

ferry::Task<ferry::Result<std::uint64_t>> bp_stream_consume(ferry::Receiver<Bytes> rx, SlowConsumer& c,
                                                            std::uint64_t n) {
  while (c.seen.count < n) {
    auto v = co_await rx.recv();
    if (!v) co_return v.error();
    c.take(v->data(), v->size());
  }
  co_return n;
}

BpResult bp_stream(fb::Running& a, fb::Running& b, fb::Clock::duration work, std::uint64_t n) {
  auto pair = must("make_stream", ferry::make_stream<Bytes>(
                                      {.capacity = kBpRing, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  Produced produced;
  SlowConsumer c{work, &produced};
  auto got = fb::start(b, bp_stream_consume(std::move(pair.rx), c, n));
  auto sent = fb::start(a, bp_stream_produce(std::move(pair.tx), produced, n));
  must("stream consumer", got.get());
  const double cpu = must("stream producer", sent.get());
  BpResult r = bp_finish("ferry stream", c, cpu, n);
  r.ring_high_water = pair.tx.stats().queue_bytes_high_water;
  return r;
}

asio::awaitable<double> bp_asio_produce(AsioChannel<BpMsg>& ch, Produced& produced, std::uint64_t n) {
  ProducerClock clock;
  for (std::uint64_t i = 0; i < n; ++i) {
    co_await asio_send(ch, make<kBpBytes>(i));  // awaits while the channel is full
    produced.n.store(i + 1, std::memory_order_relaxed);
  }
  co_return clock.share();
}

asio::awaitable<void> bp_asio_consume(AsioChannel<BpMsg>& ch, SlowConsumer& c, std::uint64_t n) {
  while (c.seen.count < n) {
    co_await asio_recv<BpMsg>(ch, [&](const BpMsg& m) { c.take(reinterpret_cast<const std::byte*>(m.w), kBpBytes); });
  }
}

BpResult bp_asio(AsioPair& io, fb::Clock::duration work, std::uint64_t n) {
  AsioChannel<BpMsg> ch(io.a.ctx, bp_slots());
  Produced produced;
  SlowConsumer c{work, &produced};
  auto got = asio::co_spawn(io.b.ctx, bp_asio_consume(ch, c, n), asio::use_future);
  auto sent = asio::co_spawn(io.a.ctx, bp_asio_produce(ch, produced, n), asio::use_future);
  got.get();
  return bp_finish(kAsio, c, sent.get(), n);
}

// The consumer's own rate: the same work on messages that are already there.
BpResult bp_alone(fb::Clock::duration work, std::uint64_t n) {
  std::vector<BpMsg> msgs(64);
  for (std::size_t j = 0; j < msgs.size(); ++j) msgs[j] = make<kBpBytes>(j);
  Produced produced;
  SlowConsumer c{work, &produced};
  for (std::uint64_t i = 0; i < n; ++i) {
    produced.n.store(i + 1, std::memory_order_relaxed);
    c.take(reinterpret_cast<const std::byte*>(msgs[i % msgs.size()].w), kBpBytes);
  }
  return {c.seconds(), 0, NAN, 0};
}

// The producer's own cost per message: build it and copy it once, as a push does.
double producer_ns_per_message() {
  auto sink = std::make_unique<BpMsg>();
  constexpr std::uint64_t kN = 20'000;
  std::uint64_t guard = 0;
  const auto t0 = fb::Clock::now();
  for (std::uint64_t i = 0; i < kN; ++i) {
    const BpMsg m = make<kBpBytes>(i);
    std::memcpy(sink.get(), &m, sizeof m);
    guard += sink->w[i % (kBpBytes / 8)];
  }
  const double ns = fb::seconds_since(t0) * 1e9 / kN;
  if (guard == 42) std::fprintf(stderr, " ");  // keeps the loop
  return ns;
}

// --- Driver --------------------------------------------------------------------

using fb::progress;

void usage(std::FILE* out) {
  std::fprintf(out, "usage: channel_bench [--quick] [--json FILE] [--reps N] [--target-ms MS] [--filter TEXT]\n");
  fb::print_common_options(out);
  std::fprintf(out,
               "  filter labels: \"<case>/<implementation>\", e.g. \"8 B/boost::spsc\", \"64 KiB/ferry pool call\",\n"
               "               \"backpressure/ferry stream\"\n");
}

double mb_per_s_of(std::size_t bytes, std::uint64_t n, double s) {
  return static_cast<double>(n) * static_cast<double>(bytes) / s / 1e6;
}

std::string fmt(const char* f, double v) {
  char buf[96];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

namespace chan_bench {
std::uint64_t sum_bytes(std::span<const std::byte> data) { return digest_bytes(data.data(), data.size()); }
}  // namespace chan_bench

namespace {

// One table's rows for a case measured once: a row per ferry variant, each
// against the same baseline results.
struct Variant {
  std::string impl;   // the contender's name in Measured
  std::string shown;  // how the row names it
  std::string seed;   // the seed metric the row is, if any (fb::Row::seed)
};

void add_variant_rows(fb::Table& t, const std::string& label, const std::string& unit, bool higher,
                      const Measured& m, const std::vector<Variant>& variants, const std::string& note) {
  for (const auto& [impl, shown, seed] : variants) {
    auto it = m.stats.find(impl);
    if (it == m.stats.end()) continue;
    fb::Row row{label + " · " + shown + " (" + unit + ")", unit, higher, {}, note, seed};
    row.cells[kFerry] = it->second;
    for (const auto& b : t.baselines) {
      if (auto bt = m.stats.find(b); bt != m.stats.end()) row.cells[b] = bt->second;
    }
    t.rows.push_back(std::move(row));
  }
}

template <std::size_t N>
void message_case(const fb::Options& o, fb::Table& t, fb::Running& a, fb::Running& b, AsioPair& io,
                  const std::string& label, std::uint64_t n0) {
  progress("messages " + label);
  const std::string ring = "ferry ring", s1 = "ferry stream send/recv", sb = "ferry stream send_batch/recv_batch";
  Measured m = fb::measure(o, label,
                           {{ring, [](std::uint64_t n) { return ring_tp<N>(n); }, n0},
                            {s1, [&](std::uint64_t n) { return stream_tp<N>(a, b, n, false); }, n0 / 4},
                            {sb, [&](std::uint64_t n) { return stream_tp<N>(a, b, n, true); }, n0},
                            {kBoost, [](std::uint64_t n) { return boost_tp<N>(n); }, n0},
                            {kRwq, [](std::uint64_t n) { return rwq_tp<N>(n); }, n0},
                            {kCq, [](std::uint64_t n) { return cq_tp<N>(n); }, n0},
                            {kAsio, [&](std::uint64_t n) { return asio_tp<N>(io, n); }, n0 / 4}},
                           fb::mmsg_per_s);
  add_variant_rows(t, label, "Mmsg/s", true, m,
                   {{ring, "ring, publish per 64"},
                    {s1, "stream send/recv"},
                    {sb, "stream send_batch(" + std::to_string(kStreamBatch<N>) + ")"}},
                   "every queue holds " + std::to_string(slots_for<N>()) + " msgs (ring " +
                       std::to_string(ring_capacity_for<N>() >> 10) + " KiB)");
}

template <std::size_t B>
void bulk_case(const fb::Options& o, fb::Table& t, fb::Running& a, fb::Running& b, AsioPair& io,
               const std::string& label, std::size_t source_bytes, std::uint64_t n0) {
  progress("bulk " + label);
  const Source src(B, source_bytes);
  ferry::WorkerPool pool({.workers = 1,
                          .ring_capacity = std::bit_ceil(static_cast<std::uint32_t>(kCallWindow * (B + 256)))});
  const std::string ring = "ferry ring", stream = "ferry stream", call = "ferry pool call";
  auto mbps = +[](std::uint64_t n, double s) { return mb_per_s_of(B, n, s); };
  Measured m = fb::measure(o, label,
                           {{ring, [&](std::uint64_t n) { return ring_bulk(src, n); }, n0},
                            {stream, [&](std::uint64_t n) { return stream_bulk(a, b, src, n); }, n0},
                            {call, [&](std::uint64_t n) { return call_bulk(pool, src, n); }, n0},
                            {kMemcpy, [&](std::uint64_t n) { return memcpy_bulk(src, n); }, n0},
                            {kBoost, [&](std::uint64_t n) { return boost_bulk<B>(src, n); }, n0},
                            {kRwq, [&](std::uint64_t n) { return rwq_bulk<B>(src, n); }, n0},
                            {kCq, [&](std::uint64_t n) { return cq_bulk(src, n); }, n0},
                            {kAsio, [&](std::uint64_t n) { return asio_bulk(io, src, n); }, n0}},
                           mbps);
  add_variant_rows(t, label, "MB/s", true, m,
                   {{ring, "ring (reserve, memcpy in, read in place)"},
                    {stream, "stream send / zero-copy recv"},
                    {call, "pool call, " + std::to_string(kCallWindow) + " in flight"}},
                   std::to_string(bulk_slots(B)) + " blocks in flight (ring " +
                       std::to_string(bulk_ring_bytes(B) >> 20) + " MiB); source " +
                       std::to_string(source_bytes >> 20) + " MiB, cycled");
}

}  // namespace

int main(int argc, char** argv) {
  fb::bench_name() = "channel_bench";
  const fb::Options o = fb::parse_options(argc, argv, usage);
  const fb::Env env = fb::current_env();
  const auto t_start = fb::Clock::now();
  const std::uint64_t small_n0 = o.quick ? 4'000 : 50'000;
  const std::uint64_t big_n0 = o.quick ? 500 : 5'000;
  const std::uint64_t rtt_n0 = o.quick ? 1'000 : 5'000;
  const std::string cores = std::to_string(env.cores) + " cores";

  fb::Table msgs;
  msgs.title = "messages/s, producer thread -> consumer thread (consumer reads every byte)";
  msgs.baselines = {kBoost, kRwq, kCq, kAsio};
  msgs.notes = "ring: try_write, publish per 64, read in place, release per 64; stream: coroutines on two ferry "
               "executors (8 B as u64, larger as byte spans, zero-copy recv); boost: push / consume_all in place; "
               "RWQ: try_enqueue / peek+pop in place; CQ: tokens, try_enqueue / try_dequeue_bulk(64); asio: "
               "concurrent_channel, try_send/try_receive, co_await async_* only when full/empty, coroutines on two "
               "io_context threads; spinning sides pause, then yield";
  fb::Table bulk;
  bulk.title = "bulk buffers to a consumer that checksums each (MB/s)";
  bulk.baselines = {kMemcpy, kBoost, kRwq, kCq, kAsio};
  bulk.notes = "ring: try_reserve + memcpy + commit + publish, consumer reads in place; stream: Sender<span<const "
               "byte>> (copies in), Receiver view; pool call: 1 worker checksums its argument in its request ring "
               "and returns the sum; memcpy: one thread copies src->dst and checksums dst; boost/RWQ: blocks by "
               "value, in place; CQ/asio: std::vector moved (producer allocates + copies in, consumer frees)";
  fb::Table lat;
  lat.title = "round-trip latency, 8-byte ping-pong (ns per round trip)";
  lat.baselines = {kBoost, kRwq, kCq, kAsio};
  lat.notes = "each round trip timed on its own (steady_clock, its cost included for every contender); p50/p99 "
              "pooled over reps (" + std::to_string(kSketch) + " quantiles per rep); ring, boost, RWQ, CQ: both "
              "threads spin; stream and asio: coroutines that suspend on empty (ferry executors park on a futex, "
              "io_context threads on its scheduler); pool call: main thread get(), pool of 1 worker (caller, client "
              "and worker threads on " + cores + ")";
  fb::Table bp;
  bp.title = "stream under backpressure: 4 KiB values, consumer 10x slower than the producer";
  bp.baselines = {kAlone, kBoost, kRwq, kCq, kAsio};

  {
    fb::Running a, b;
    AsioPair io;
    message_case<8>(o, msgs, a, b, io, "8 B", small_n0);
    message_case<64>(o, msgs, a, b, io, "64 B", small_n0);
    message_case<4096>(o, msgs, a, b, io, "4 KiB", small_n0 / 10);

    const std::size_t source = o.quick ? (4u << 20) : (64u << 20);
    bulk_case<64 * 1024>(o, bulk, a, b, io, "64 KiB", source, big_n0 / 10);
    bulk_case<1024 * 1024>(o, bulk, a, b, io, "1 MiB", source, big_n0 / 100);

    progress("round-trip latency");
    ferry::WorkerPool pool({.workers = 1});
    const std::string ring = "ferry ring", stream = "ferry stream", call = "ferry pool call";
    Measured m = fb::measure(o, "round trip",
                             {{ring, ring_rtt, rtt_n0 * 10},
                              {stream, [&](std::uint64_t n) { return stream_rtt(a, b, n); }, rtt_n0},
                              {call, [&](std::uint64_t n) { return call_rtt(pool, n); }, rtt_n0 / 10},
                              {kBoost, boost_rtt, rtt_n0 * 10},
                              {kRwq, rwq_rtt, rtt_n0 * 10},
                              {kCq, cq_rtt, rtt_n0 * 10},
                              {kAsio, [&](std::uint64_t n) { return asio_rtt(io, n); }, rtt_n0}},
                             fb::ns_per_op);
    for (const auto& [p, pname] : {std::pair{50.0, "p50"}, std::pair{99.0, "p99"}}) {
      Measured q;
      for (const auto& [impl, pool_ns] : m.batch_ns) {
        q.stats[impl] = fb::single_value(fb::percentile(pool_ns, p), pool_ns.size());
      }
      add_variant_rows(lat, std::string("round trip ") + pname, "ns", false, q,
                       {{ring, "ring (spins)"},
                        {stream, "stream (suspends)"},
                        {call, "pool call get()"}},
                       "");
    }
  }

  {
    progress("backpressure");
    const double prod_ns = producer_ns_per_message();
    const double work_ns = std::max(10 * prod_ns, 500.0);
    const auto work =
        std::chrono::duration_cast<fb::Clock::duration>(std::chrono::duration<double, std::nano>(work_ns));
    const std::uint64_t n = o.quick ? 2'000 : static_cast<std::uint64_t>(0.4e9 / work_ns);
    const int reps = o.quick ? 1 : std::min(o.reps, 3);
    fb::Running a, b;
    AsioPair io;
    std::map<std::string, std::vector<BpResult>> runs;
    const std::string stream = "ferry stream", ring = "ferry ring";
    const std::vector<std::pair<std::string, std::function<BpResult()>>> contenders{
        {kAlone, [&] { return bp_alone(work, n); }},
        {stream, [&] { return bp_stream(a, b, work, n); }},
        {ring, [&] { return bp_ring(work, n); }},
        {kBoost, [&] { return bp_boost(work, n); }},
        {kRwq, [&] { return bp_rwq(work, n); }},
        {kCq, [&] { return bp_cq(work, n); }},
        {kAsio, [&] { return bp_asio(io, work, n); }}};
    for (int r = 0; r < reps; ++r) {
      for (const auto& [impl, fn] : contenders) {
        if (fb::selected(o, "backpressure", impl)) runs[impl].push_back(fn());
      }
    }
    Measured rate, peak, cpu;
    for (const auto& [impl, rs] : runs) {
      std::vector<double> r1, p1, c1;
      for (const auto& x : rs) {
        r1.push_back(static_cast<double>(n) / x.seconds / 1e3);
        p1.push_back(static_cast<double>(x.peak_in_flight * kBpBytes) / 1024);
        c1.push_back(100 * x.producer_cpu);
      }
      rate.stats[impl] = fb::make_stat(r1, n);
      if (impl != kAlone) {
        peak.stats[impl] = fb::make_stat(p1, n);
        if (!std::isnan(c1[0])) cpu.stats[impl] = fb::make_stat(c1, n);
      }
    }
    const std::vector<Variant> variants{{stream, "stream (send suspends)"}, {ring, "ring (producer spins)"}};
    add_variant_rows(bp, "delivered", "k msg/s", true, rate,
                     {{stream, "stream (send suspends)", "stream throughput under backpressure"},
                      {ring, "ring (producer spins)"}},
                     "should equal the consumer alone");
    add_variant_rows(bp, "peak in flight", "KiB", false, peak,
                     {{stream, "stream (send suspends)", "stream throughput under backpressure"},
                      {ring, "ring (producer spins)"}},
                     "bounded queues hold " + std::to_string(bp_slots()) + " msgs = " +
                         std::to_string(bp_slots() * kBpBytes >> 10) + " KiB");
    add_variant_rows(bp, "producer CPU", "% of its wall time", false, cpu, variants,
                     kNative ? "while it waits for room" : "no per-thread CPU clock in wasm");
    bp.notes = "producer builds a message in " + fmt("%.0f ns", prod_ns) + "; consumer reads every byte and works " +
               fmt("%.0f ns", work_ns) + " per message; " + std::to_string(n) + " msgs per run, median of " +
               std::to_string(reps) + "; CQ: enqueue (its usual call, never refuses: it allocates, no backpressure); "
               "asio: concurrent_channel, co_await async_send when full";
  }

  const double total_s = fb::seconds_since(t_start);
  std::printf("ferry channel benchmark — %s, %s, %u cores (std::thread::hardware_concurrency), %s%s\n",
              env.platform.c_str(), env.compiler.c_str(), env.cores, env.build_type.c_str(),
              env.ndebug ? "" : " WITHOUT NDEBUG (assertions on: not representative)");
  if (o.quick) std::printf("--quick: tiny sizes, no calibration; these numbers only show that the harness runs\n");
  std::printf("median of %d repetitions%s, implementations interleaved; ±x%% = half the min-max spread\n", o.reps,
              o.quick ? " after a warm-up" : " (calibrated, after a warm-up)");
  std::printf("ratio = ferry / baseline for throughput and baseline / ferry for latency, bytes and CPU: > 1 means "
              "ferry is better\n");
  std::printf("every run checked: message counts and checksums of the known sequence, block sums, echoes\n\n");
  for (const fb::Table* t : {&msgs, &bulk, &lat, &bp}) fb::print_table(stdout, *t, &env);
  std::printf("total %.2f s\n", total_s);
  std::fflush(stdout);

  if (!o.json.empty()) {
    std::map<std::string, std::string> settings{{"quick", o.quick ? "true" : "false"},
                                                {"reps", std::to_string(o.reps)},
                                                {"target_ms", std::to_string(static_cast<int>(o.target_s * 1000))},
                                                {"total_seconds", std::to_string(total_s)}};
    fb::write_file(o.json, fb::to_json(env, settings, {msgs, bulk, lat, bp}));
  }
  return 0;
}
