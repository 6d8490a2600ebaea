// ferry channel benchmark, latency: 8-byte round trips, each one timed, for every contender.
// Part of bench/channel_bench.cpp, the one translation unit that includes it
// (in namespace chan_bench, named so that its coroutine frames have linkage;
// after the includes, the `fb` alias and the using-declarations, and after bench/channel/common.hpp).
#pragma once

namespace chan_bench {

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

}  // namespace chan_bench
