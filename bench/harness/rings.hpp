// ferry bench harness, rings: raw ferry rings and round trips, for the benchmarks that use them as a baseline or a floor.
// Part of bench/bench_harness.hpp, which includes the parts in order after the
// headers they use: include bench/bench_harness.hpp, not this file.
#pragma once

namespace ferry::bench {

// ---------------------------------------------------------------------------
// Raw ferry rings, shared by the benchmarks that use one as a baseline

// One 64-byte aligned, pre-faulted allocation per ring, reused by every
// repetition (ring_init() re-formats it) so page faults are never timed.
class RingMemory {
 public:
  explicit RingMemory(std::uint32_t capacity) : capacity_(capacity) {
    const std::size_t n = (ferry::ring_bytes(capacity) + 63) & ~std::size_t{63};
    mem_.reset(static_cast<std::byte*>(std::aligned_alloc(64, n)));
    if (!mem_) fail("out of memory for a ring of " + std::to_string(capacity) + " bytes");
    std::memset(mem_.get(), 0, n);
  }
  std::byte* fresh() {
    if (auto ok = ferry::ring_init(mem_.get(), capacity_); !ok) fail(ok.error().describe());
    return mem_.get();
  }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::uint32_t capacity_;
  std::unique_ptr<std::byte, Free> mem_;
};

inline RingMemory& ring_memory(std::uint32_t capacity, int which = 0) {
  static std::map<std::pair<std::uint32_t, int>, std::unique_ptr<RingMemory>> cache;  // main thread only
  auto& slot = cache[{capacity, which}];
  if (!slot) slot = std::make_unique<RingMemory>(capacity);
  return *slot;
}

// Both endpoints of a ring, attached on the main thread; each is then moved
// into the side that uses it (see run_pair). The endpoint objects hold hot
// per-record state and are not padded to a cache line: left side by side in
// this pair they would share one.
inline std::pair<ferry::RingProducer, ferry::RingConsumer> attach(std::byte* base) {
  auto p = ferry::RingProducer::attach(base);
  if (!p) fail(p.error().describe());
  auto c = ferry::RingConsumer::attach(base);
  if (!c) fail(c.error().describe());
  return {std::move(*p), std::move(*c)};
}

// Spins (Spinner) for the next record and copies out its 8-byte payload;
// false if the record has another tag or size. Does not release.
inline bool ring_read_u64(ferry::RingConsumer& c, std::uint32_t tag, std::uint64_t& v) {
  for (Spinner s;;) {
    auto r = c.try_read();
    if (!r) fail("ferry try_read: " + r.error().describe());
    if (*r) {
      const ferry::RingRecord& rec = **r;
      if (rec.tag != tag || rec.payload.size() != sizeof v) return false;
      std::memcpy(&v, rec.payload.data(), sizeof v);
      return true;
    }
    s.spin();
  }
}

// The consumer of a spinning throughput run: reads until `count` records
// were handed to on_record (a view: copy out what you keep), releasing every
// `batch` of them (1: each) and whenever the ring runs dry, so the producer
// sees the room before this side waits.
template <class OnRecord>
void ring_read_spinning(ferry::RingConsumer& c, std::uint64_t count, std::uint64_t batch, OnRecord&& on_record) {
  std::uint64_t since_release = 0;
  Spinner s;
  for (std::uint64_t got = 0; got < count;) {
    auto r = c.try_read();
    if (!r) fail("ferry try_read: " + r.error().describe());
    if (*r) {
      on_record(**r);
      ++got;
      if (++since_release == batch) {
        c.release();
        since_release = 0;
      }
      s = Spinner{};
    } else {
      c.release();  // drained: hand the room back before waiting
      since_release = 0;
      s.spin();
    }
  }
  c.release();
}

// Its producer: writes make(0) .. make(count - 1), each as one record of its
// bytes, publishing every `batch` records (1: each), whenever the ring is
// full (the consumer can only free what it can see), and at the end.
template <class Make>
void ring_write_spinning(ferry::RingProducer& p, std::uint32_t tag, std::uint64_t count, std::uint64_t batch, Make&& make) {
  std::uint64_t unpublished = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto m = make(i);
    const auto bytes = std::as_bytes(std::span<const decltype(m), 1>(&m, 1));
    for (Spinner s;;) {
      auto r = p.try_write(tag, bytes);
      if (!r) fail("ferry try_write: " + r.error().describe());
      if (*r) break;
      p.publish();
      s.spin();
    }
    if (++unpublished == batch) {
      p.publish();
      unpublished = 0;
    }
  }
  p.publish();
}

// The producer of a bulk run: `count` records of `bytes` each, reserved in
// the ring, filled with memcpy from block_of(i) and published one by one.
template <class BlockOf>
void ring_copy_in(ferry::RingProducer& p, std::uint32_t tag, std::uint64_t count, std::size_t bytes, BlockOf&& block_of) {
  for (std::uint64_t i = 0; i < count; ++i) {
    for (Spinner s;;) {
      auto r = p.try_reserve(bytes, tag);
      if (!r) fail("ferry try_reserve: " + r.error().describe());
      if (*r) {
        std::memcpy(*r, block_of(i), bytes);
        p.commit(bytes);
        p.publish();
        break;
      }
      s.spin();
    }
  }
}

// Spins until the 8-byte record fits, then publishes it.
inline void ring_write_u64(ferry::RingProducer& p, std::uint32_t tag, std::uint64_t v) {
  for (Spinner s;;) {
    auto r = p.try_write(tag, std::as_bytes(std::span<const std::uint64_t, 1>(&v, 1)));
    if (!r) fail("ferry try_write: " + r.error().describe());
    if (*r) break;
    s.spin();
  }
  p.publish();
}

// --- Round trips ----------------------------------------------------------------------

inline float ns_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<float, std::nano>(b - a).count();
}

// The value of round trip i: distinct, never 0 and never ~0.
inline std::uint64_t ping_value(std::uint64_t i) { return (i + 1) * 0x9E3779B97F4A7C15ull; }

// n timed round trips, the echoes that came back wrong, the whole run's time.
struct RoundTrips {
  std::vector<float> ns;
  std::uint64_t bad = 0;
  double seconds = 0;
};

// Two threads spinning on two 4 KiB ferry rings, one 8-byte record each way
// per round trip: the ring's round trip with no wake.
inline RoundTrips ring_round_trips(std::uint64_t n) {
  constexpr std::uint32_t kTag = 7;
  auto [ping_tx, pong_rx] = attach(ring_memory(4096, 0).fresh());
  auto [pong_tx, ping_rx] = attach(ring_memory(4096, 1).fresh());
  RoundTrips out;
  run_pair(
      [n, tx = std::move(ping_tx), rx = std::move(ping_rx), &out]() mutable {
        RoundTrips mine;
        mine.ns.reserve(n);
        const auto t0 = Clock::now();
        for (std::uint64_t i = 0; i < n; ++i) {
          const auto t = Clock::now();
          const std::uint64_t v = ping_value(i);
          ring_write_u64(tx, kTag, v);
          std::uint64_t back = 0;
          if (!ring_read_u64(rx, kTag, back) || back != v) ++mine.bad;
          rx.release();
          mine.ns.push_back(ns_between(t, Clock::now()));
        }
        mine.seconds = seconds_since(t0);
        out = std::move(mine);
      },
      [n, rx = std::move(pong_rx), tx = std::move(pong_tx)]() mutable {
        for (std::uint64_t i = 0; i < n; ++i) {
          std::uint64_t v = 0;
          if (!ring_read_u64(rx, kTag, v)) v = ~std::uint64_t{0};
          ring_write_u64(tx, kTag, v);
          rx.release();
        }
      });
  return out;
}

}  // namespace ferry::bench
