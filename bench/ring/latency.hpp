// ferry ring benchmark, latency: 8-byte round trips, ping on main (and the clock), echo on a thread.
// Part of bench/ring_bench.cpp, the one translation unit that includes it
// (after its includes, the `fb` alias and its using-declarations, and after bench/ring/common.hpp).
#pragma once

namespace {

// --- Round-trip latency: ping on main (and the clock), echo on a thread ---------

// Times kLatencyBatch round trips at a time; `round_trip(i)` sends make(i),
// spins for the echo and returns whether it came back intact.
template <class RoundTrip>
RunResult time_round_trips(std::uint64_t n, Seen& seen, RoundTrip&& round_trip) {
  RunResult out;
  out.batch_ns.reserve(n / kLatencyBatch + 1);
  const auto t0 = fb::Clock::now();
  auto tb = t0;
  for (std::uint64_t i = 0; i < n; ++i) {
    if (!round_trip(i)) ++seen.bad;
    seen.checksum = fold(seen.checksum, make<std::uint64_t>(i));
    ++seen.count;
    if ((i + 1) % kLatencyBatch == 0) {
      const auto now = fb::Clock::now();
      out.batch_ns.push_back(std::chrono::duration<double, std::nano>(now - tb).count() / kLatencyBatch);
      tb = now;
    }
  }
  out.seconds = fb::seconds_since(t0);
  return out;
}

RunResult ferry_latency(std::uint64_t n) {
  constexpr std::uint32_t kCap = 4096;
  auto [ping_tx, pong_rx] = attach(ring_memory(kCap, 0).fresh());
  auto [pong_tx, ping_rx] = attach(ring_memory(kCap, 1).fresh());
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, tx = std::move(ping_tx), rx = std::move(ping_rx), &out, &seen]() mutable {
        Seen local;
        RunResult r = time_round_trips(n, local, [&](std::uint64_t i) {
          const std::uint64_t v = make<std::uint64_t>(i);
          fb::ring_write_u64(tx, kTag, v);
          std::uint64_t back = 0;
          const bool ok = fb::ring_read_u64(rx, kTag, back);
          rx.release();
          return ok && back == v;
        });
        out = std::move(r);
        seen = local;
      },
      [n, rx = std::move(pong_rx), tx = std::move(pong_tx)]() mutable {
        for (std::uint64_t i = 0; i < n; ++i) {
          std::uint64_t v = 0;
          if (!fb::ring_read_u64(rx, kTag, v)) v = ~std::uint64_t{0};  // the ping side counts it as bad
          fb::ring_write_u64(tx, kTag, v);
          rx.release();
        }
      });
  fb::check_seen("ferry round trip", seen, n, expected_checksum<std::uint64_t>(n));
  return out;
}

template <class Queue, class Push, class Pop>
RunResult queue_latency(const char* what, std::uint64_t n, Push push, Pop pop) {
  auto ping_q = std::make_unique<Queue>(256);
  auto pong_q = std::make_unique<Queue>(256);
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, ping = ping_q.get(), pong = pong_q.get(), push, pop, &out, &seen] {
        Seen local;
        RunResult r = time_round_trips(n, local, [&](std::uint64_t i) {
          const std::uint64_t v = make<std::uint64_t>(i);
          for (Spinner s; !push(*ping, v);) s.spin();
          std::uint64_t back = 0;
          for (Spinner s; !pop(*pong, back);) s.spin();
          return back == v;
        });
        out = std::move(r);
        seen = local;
      },
      [n, ping = ping_q.get(), pong = pong_q.get(), push, pop] {
        for (std::uint64_t i = 0; i < n; ++i) {
          std::uint64_t v = 0;
          for (Spinner s; !pop(*ping, v);) s.spin();
          for (Spinner s; !push(*pong, v);) s.spin();
        }
      });
  fb::check_seen(what, seen, n, expected_checksum<std::uint64_t>(n));
  return out;
}

RunResult boost_latency(std::uint64_t n) {
  using Q = boost::lockfree::spsc_queue<std::uint64_t>;
  return queue_latency<Q>("boost::spsc round trip", n, [](Q& q, std::uint64_t v) { return q.push(v); },
                          [](Q& q, std::uint64_t& v) { return q.pop(v); });
}

RunResult rwq_latency(std::uint64_t n) {
  using Q = moodycamel::ReaderWriterQueue<std::uint64_t>;
  return queue_latency<Q>("moodycamel::RWQ round trip", n,
                          [](Q& q, std::uint64_t v) { return q.try_enqueue(v); },
                          [](Q& q, std::uint64_t& v) { return q.try_dequeue(v); });
}

}  // namespace
