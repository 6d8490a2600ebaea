// ferry channel benchmark, messages: messages/s of 8 B, 64 B and 4 KiB values, producer thread -> consumer thread, for every contender.
// Part of bench/channel_bench.cpp, the one translation unit that includes it
// (in namespace chan_bench, named so that its coroutine frames have linkage;
// after the includes, the `fb` alias and the using-declarations, and after bench/channel/common.hpp).
#pragma once

namespace chan_bench {

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

}  // namespace chan_bench
