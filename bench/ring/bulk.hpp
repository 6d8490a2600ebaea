// ferry ring benchmark, bulk: 64 KiB records against memcpy, copied out or read in place.
// Part of bench/ring_bench.cpp, the one translation unit that includes it
// (after its includes, the `fb` alias and its using-declarations, and after bench/ring/common.hpp).
#pragma once

namespace {

// --- 64 KiB records: bandwidth against memcpy ------------------------------------
//
// Two consumers, each applied alike to every contender:
//   copy-out  the consumer memcpy's the record to a destination buffer;
//             baseline: the same src->dst block copies on one thread.
//   in place  the consumer checksums the record where it lies (ferry's view,
//             boost's consume_one, RWQ's peek); baseline: copy src->dst, then
//             checksum the copy, on one thread.

struct alignas(64) Block {
  std::byte b[kBlockBytes];
};

inline std::uint64_t stamp(std::uint64_t block) { return block ^ 0x5EED5EED00000000ull; }

// Reads every byte: four independent sums, so it runs far above memory speed.
inline std::uint64_t block_sum(const std::byte* p) {
  std::uint64_t a = 0, b = 0, c = 0, d = 0;
  for (std::size_t k = 0; k < kBlockBytes; k += 32) {
    std::uint64_t w[4];
    std::memcpy(w, p + k, sizeof w);
    a += w[0];
    b += w[1];
    c += w[2];
    d += w[3];
  }
  return a ^ std::rotl(b, 16) ^ std::rotl(c, 32) ^ std::rotl(d, 48);
}

enum class Consume { CopyOut, InPlace };

// Where record i comes from and goes to: source block i % blocks and
// destination block i % blocks. Small and copied by value into each side.
struct BulkView {
  Block* src;
  Block* dst;
  const std::uint64_t* sums;  // block_sum of each source block
  std::size_t blocks;

  std::byte* src_block(std::uint64_t i) const { return src[i % blocks].b; }
  std::byte* dst_block(std::uint64_t i) const { return dst[i % blocks].b; }
  // The consumer's work on record i at `data`, checked and folded into `s`.
  void consume(Consume how, Seen& s, std::uint64_t i, const std::byte* data) const {
    std::uint64_t h;
    if (how == Consume::CopyOut) {
      std::memcpy(dst_block(i), data, kBlockBytes);
      std::memcpy(&h, dst_block(i), sizeof h);  // the stamp; the full compare comes after the run
      if (h != stamp(i % blocks)) ++s.bad;
    } else {
      h = block_sum(data);
      if (h != sums[i % blocks]) ++s.bad;
    }
    s.checksum = fold(s.checksum, h);
    ++s.count;
  }
};

// Source and destination buffers, each bigger than the last-level cache
// (64 MiB; 4 MiB with --quick).
struct BulkBuffers {
  std::size_t blocks = 0;
  std::unique_ptr<Block[]> src, dst;
  std::vector<std::uint64_t> sums;

  explicit BulkBuffers(std::size_t n) : blocks(n), src(new Block[n]), dst(new Block[n]), sums(n) {
    for (std::size_t j = 0; j < n; ++j) {
      auto* w = reinterpret_cast<std::uint64_t*>(src[j].b);
      for (std::size_t k = 0; k < kBlockBytes / 8; ++k) w[k] = make<std::uint64_t>(j * kBlockBytes + k);
      const std::uint64_t st = stamp(j);
      std::memcpy(src[j].b, &st, sizeof st);
      sums[j] = block_sum(src[j].b);
    }
    std::memset(dst.get(), 0, n * sizeof(Block));  // also faults the pages in
  }
  // Clears the destination (so a run cannot pass on an earlier run's bytes).
  BulkView fresh_view() {
    std::memset(dst.get(), 0, blocks * sizeof(Block));
    return {src.get(), dst.get(), sums.data(), blocks};
  }
  // After a run of n records: the count, the per-record checks, and for
  // copy-out every destination block written must match its source.
  void verify(const char* what, Consume how, const Seen& seen, std::uint64_t n) const {
    std::uint64_t h = kFnvBasis;
    for (std::uint64_t i = 0; i < n; ++i) h = fold(h, how == Consume::CopyOut ? stamp(i % blocks) : sums[i % blocks]);
    fb::check_seen(what, seen, n, h);
    const std::size_t written = static_cast<std::size_t>(std::min<std::uint64_t>(n, blocks));
    if (how == Consume::CopyOut && std::memcmp(dst.get(), src.get(), written * sizeof(Block)) != 0) {
      fail(std::string(what) + ": destination bytes differ from the source after " + std::to_string(n) + " records");
    }
  }
};

BulkBuffers* g_bulk = nullptr;

RunResult memcpy_bulk(std::uint64_t n, Consume how) {
  const BulkView b = g_bulk->fresh_view();
  Seen seen;
  const auto t0 = fb::Clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    std::memcpy(b.dst_block(i), b.src_block(i), kBlockBytes);
    if (how == Consume::CopyOut) {
      // The copy above is the whole job; record the stamp as the consumers do.
      std::uint64_t st;
      std::memcpy(&st, b.dst_block(i), sizeof st);
      if (st != stamp(i % b.blocks)) ++seen.bad;
      seen.checksum = fold(seen.checksum, st);
      ++seen.count;
    } else {
      b.consume(Consume::InPlace, seen, i, b.dst_block(i));
    }
  }
  RunResult out;
  out.seconds = fb::seconds_since(t0);
  g_bulk->verify("memcpy", how, seen, n);
  return out;
}

RunResult ferry_bulk(std::uint64_t n, Consume how) {
  const BulkView view = g_bulk->fresh_view();
  auto [prod, cons] = attach(ring_memory(kBulkRingBytes).fresh());
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, how, b = view, cons = std::move(cons), &out, &seen]() mutable {
        Seen local;
        const auto t0 = fb::Clock::now();
        fb::ring_read_spinning(cons, n, 1, [&](const ferry::RingRecord& rec) {
          if (rec.tag != kTag || rec.payload.size() != kBlockBytes) {
            ++local.bad;
            ++local.count;
          } else {
            b.consume(how, local, local.count, rec.payload.data());
          }
        });
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, b = view, prod = std::move(prod)]() mutable {
        fb::ring_copy_in(prod, kTag, n, kBlockBytes, [&](std::uint64_t i) { return b.src_block(i); });
      });
  g_bulk->verify("ferry 64 KiB", how, seen, n);
  return out;
}

// Both baseline queues hold 15 blocks, as many 64 KiB records as the 1 MiB
// ring does. The producer's copy in is the queue's push; `take(q, fn)` hands
// the front element to fn in place (boost consume_one, RWQ peek + pop) or
// returns false if the queue is empty.
template <class Queue, class Push, class Take>
RunResult queue_bulk(const char* what, std::uint64_t n, Consume how, Push push, Take take) {
  const BulkView view = g_bulk->fresh_view();
  auto queue = std::make_unique<Queue>(15);
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, how, b = view, q = queue.get(), take, &out, &seen] {
        Seen local;
        const auto t0 = fb::Clock::now();
        for (std::uint64_t i = 0; i < n; ++i) {
          for (Spinner s; !take(*q, [&](const Block& blk) { b.consume(how, local, i, blk.b); });) s.spin();
        }
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, b = view, q = queue.get(), push] {
        for (std::uint64_t i = 0; i < n; ++i) {
          const Block& src = *reinterpret_cast<const Block*>(b.src_block(i));
          for (Spinner s; !push(*q, src);) s.spin();
        }
      });
  g_bulk->verify(what, how, seen, n);
  return out;
}

RunResult boost_bulk(std::uint64_t n, Consume how) {
  using Q = boost::lockfree::spsc_queue<Block>;
  return queue_bulk<Q>("boost::spsc 64 KiB", n, how, [](Q& q, const Block& v) { return q.push(v); },
                       [](Q& q, auto&& fn) { return q.consume_one(fn); });
}

RunResult rwq_bulk(std::uint64_t n, Consume how) {
  using Q = moodycamel::ReaderWriterQueue<Block>;
  return queue_bulk<Q>("moodycamel::RWQ 64 KiB", n, how, [](Q& q, const Block& v) { return q.try_enqueue(v); },
                       [](Q& q, auto&& fn) {
                         const Block* front = q.peek();
                         if (front == nullptr) return false;
                         fn(*front);
                         q.pop();
                         return true;
                       });
}

}  // namespace
