// ferry channel benchmark, backpressure: 4 KiB values into a consumer 10x slower than the producer: delivered rate, bytes in flight, producer CPU.
// Part of bench/channel_bench.cpp, the one translation unit that includes it
// (in namespace chan_bench, named so that its coroutine frames have linkage;
// after the includes, the `fb` alias and the using-declarations, and after bench/channel/common.hpp).
#pragma once

namespace chan_bench {

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

}  // namespace chan_bench
