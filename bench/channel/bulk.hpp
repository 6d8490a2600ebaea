// ferry channel benchmark, bulk: 64 KiB and 1 MiB buffers into a consumer that checksums them where they lie.
// Part of bench/channel_bench.cpp, the one translation unit that includes it
// (in namespace chan_bench, named so that its coroutine frames have linkage;
// after the includes, the `fb` alias and the using-declarations, and after bench/channel/common.hpp).
#pragma once

namespace chan_bench {

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

}  // namespace chan_bench
