// ferry ring benchmark: the SPSC byte ring (core/ring.hpp) against
// boost::lockfree::spsc_queue and moodycamel::ReaderWriterQueue, and 64 KiB
// records against a plain memcpy, in one run. The same source builds natively
// and with Emscripten (run the .js under Node).
//
//   ring_bench [--quick] [--json FILE] [--reps N] [--target-ms MS] [--filter TEXT]
//
// Every case runs a producer and a consumer thread that busy-wait (pause, then
// yield after a long run of failures) on whichever queue is measured. The
// producer writes a known sequence; the consumer folds every message into a
// checksum that is compared with the expected one, and a mismatch (or a lost
// or malformed record) ends the program with status 1. --quick runs tiny sizes
// for the test suite: it checks that every case runs and verifies, not speed.
#include "core/ring.hpp"

#include "bench/bench_harness.hpp"

#include <boost/lockfree/spsc_queue.hpp>
#include <readerwriterqueue/readerwriterqueue.h>

#include <bit>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>

namespace fb = ferry::bench;
using fb::Spinner;
using fb::fail;
using fb::Seen;
using fb::attach;
using fb::ring_memory;
using fb::RunResult;
using fb::Contender;
using fb::Measured;
using fb::mmsg_per_s;
using fb::ns_per_op;

namespace {

constexpr std::uint32_t kTag = 7;
constexpr std::uint64_t kBatch = 64;              // publish / release / push / pop granularity
constexpr std::uint32_t kInFlight = 4096;         // messages each queue can hold (at least)
constexpr std::uint64_t kLatencyBatch = 1000;     // round trips per latency sample
constexpr std::size_t kBlockBytes = 64 * 1024;    // bulk record payload
constexpr std::uint32_t kBulkRingBytes = 1u << 20;

const std::string kFerry = "ferry";
const std::string kBoost = "boost::spsc";
const std::string kRwq = "moodycamel::RWQ";
const std::string kMemcpy = "memcpy (1 thread)";

// --- The known sequence ------------------------------------------------------

using fb::fold;
using fb::kFnvBasis;
using fb::progress;

struct Msg64 {
  std::uint64_t w[8];
};
static_assert(sizeof(Msg64) == 64);

template <class T> T make(std::uint64_t i);
template <> inline std::uint64_t make<std::uint64_t>(std::uint64_t i) { return (i + 1) * 0x9E3779B97F4A7C15ull; }
template <> inline Msg64 make<Msg64>(std::uint64_t i) {
  const std::uint64_t v = make<std::uint64_t>(i);
  Msg64 m;
  for (std::uint64_t k = 0; k < 8; ++k) m.w[k] = v + k * 0xD6E8FEB86659FD93ull;
  return m;
}

// What the consumer folds in per message: every byte of it.
inline std::uint64_t digest(std::uint64_t v) { return v; }
inline std::uint64_t digest(const Msg64& m) {
  return m.w[0] ^ std::rotl(m.w[1], 8) ^ std::rotl(m.w[2], 16) ^ std::rotl(m.w[3], 24) ^ std::rotl(m.w[4], 32) ^
         std::rotl(m.w[5], 40) ^ std::rotl(m.w[6], 48) ^ std::rotl(m.w[7], 56);
}

template <class T>
std::uint64_t expected_checksum(std::uint64_t n) {
  return fb::expected_checksum<T>(n, [](std::uint64_t i) { return digest(make<T>(i)); });
}


// Smallest power-of-two capacity holding kInFlight records of T.
template <class T>
std::uint32_t ring_capacity_for() {
  return std::bit_ceil(static_cast<std::uint32_t>(kInFlight * ferry::ring_record_bytes(sizeof(T))));
}

// --- Throughput: producer on a thread, consumer (and clock) on main ------------
//
// Every side below captures its inputs by value and writes its results back
// once, after its timed loop: fb::run_pair moves each side onto the stack of
// the thread that runs it, so nothing one side touches per message can share
// a cache line with the other side.

template <class T>
RunResult ferry_throughput(std::uint64_t n, bool batched) {
  auto [prod, cons] = attach(ring_memory(ring_capacity_for<T>()).fresh());
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, batched, cons = std::move(cons), &out, &seen]() mutable {
        Seen local;
        const auto t0 = fb::Clock::now();
        fb::ring_read_spinning(cons, n, batched ? kBatch : 1, [&](const ferry::RingRecord& rec) {
          if (rec.tag != kTag || rec.payload.size() != sizeof(T)) {
            ++local.bad;
          } else {
            T m;
            std::memcpy(&m, rec.payload.data(), sizeof m);
            local.checksum = fold(local.checksum, digest(m));
          }
          ++local.count;
        });
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, batched, prod = std::move(prod)]() mutable {
        fb::ring_write_spinning(prod, kTag, n, batched ? kBatch : 1, [](std::uint64_t i) { return make<T>(i); });
      });
  fb::check_seen("ferry", seen, n, expected_checksum<T>(n));
  return out;
}

// The values of a batch share one record (try_extend, core/RING.md "Growing
// the last record"): one header and one padding per 64 values, not per value.
template <class T>
RunResult ferry_packed_throughput(std::uint64_t n) {
  auto [prod, cons] = attach(ring_memory(ring_capacity_for<T>()).fresh());
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, cons = std::move(cons), &out, &seen]() mutable {
        Seen local;
        const auto t0 = fb::Clock::now();
        fb::Spinner spin;
        while (local.count < n) {
          auto r = cons.try_read();
          if (!r) fb::fail("ferry try_read: " + r.error().describe());
          if (!*r) {
            cons.release();
            spin.spin();
            continue;
          }
          const auto payload = (*r)->payload;
          if ((*r)->tag != kTag || payload.size() % sizeof(T) != 0) ++local.bad;
          for (std::size_t at = 0; at + sizeof(T) <= payload.size(); at += sizeof(T)) {
            T m;
            std::memcpy(&m, payload.data() + at, sizeof m);
            local.checksum = fold(local.checksum, digest(m));
            ++local.count;
          }
          cons.release();  // one record is one batch
          spin = fb::Spinner{};
        }
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, prod = std::move(prod)]() mutable {
        for (std::uint64_t i = 0; i < n; ++i) {
          const T m = make<T>(i);
          std::byte* at = i % kBatch == 0 ? nullptr : prod.try_extend(sizeof m);
          if (at != nullptr) {
            std::memcpy(at, &m, sizeof m);
            prod.commit_extend(sizeof m);
          } else {
            for (fb::Spinner spin;;) {
              auto r = prod.try_write(kTag, std::as_bytes(std::span<const T, 1>(&m, 1)));
              if (!r) fb::fail("ferry try_write: " + r.error().describe());
              if (*r) break;
              prod.publish();
              spin.spin();
            }
          }
          if ((i + 1) % kBatch == 0) prod.publish();
        }
        prod.publish();
      });
  fb::check_seen("ferry packed", seen, n, expected_checksum<T>(n));
  return out;
}

template <class T>
RunResult boost_throughput(std::uint64_t n, bool batched) {
  auto queue = std::make_unique<boost::lockfree::spsc_queue<T>>(kInFlight);
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, batched, q = queue.get(), &out, &seen] {
        Seen local;
        Spinner s;
        const auto t0 = fb::Clock::now();
        if (batched) {
          T buf[kBatch];
          while (local.count < n) {
            const std::size_t k = q->pop(buf, kBatch);
            if (k == 0) { s.spin(); continue; }
            for (std::size_t j = 0; j < k; ++j) local.checksum = fold(local.checksum, digest(buf[j]));
            local.count += k;
            s = Spinner{};
          }
        } else {
          T m;
          while (local.count < n) {
            if (!q->pop(m)) { s.spin(); continue; }
            local.checksum = fold(local.checksum, digest(m));
            ++local.count;
            s = Spinner{};
          }
        }
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, batched, q = queue.get()] {
        if (batched) {
          T buf[kBatch];
          for (std::uint64_t i = 0; i < n; i += kBatch) {
            const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, n - i));
            for (std::size_t j = 0; j < k; ++j) buf[j] = make<T>(i + j);
            std::size_t done = 0;
            for (Spinner s; done < k;) {
              const std::size_t pushed = q->push(buf + done, k - done);
              done += pushed;
              if (pushed == 0) s.spin();
            }
          }
        } else {
          for (std::uint64_t i = 0; i < n; ++i) {
            const T m = make<T>(i);
            for (Spinner s; !q->push(m);) s.spin();
          }
        }
      });
  fb::check_seen("boost::spsc", seen, n, expected_checksum<T>(n));
  return out;
}

// ReaderWriterQueue has no bulk API: the batched cases use this one-by-one run.
template <class T>
RunResult rwq_throughput(std::uint64_t n) {
  auto queue = std::make_unique<moodycamel::ReaderWriterQueue<T>>(kInFlight);
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, q = queue.get(), &out, &seen] {
        Seen local;
        Spinner s;
        T m;
        const auto t0 = fb::Clock::now();
        while (local.count < n) {
          if (!q->try_dequeue(m)) { s.spin(); continue; }
          local.checksum = fold(local.checksum, digest(m));
          ++local.count;
          s = Spinner{};
        }
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, q = queue.get()] {
        for (std::uint64_t i = 0; i < n; ++i) {
          const T m = make<T>(i);
          // try_enqueue never allocates: the queue stays at its initial size.
          for (Spinner s; !q->try_enqueue(m);) s.spin();
        }
      });
  fb::check_seen("moodycamel::RWQ", seen, n, expected_checksum<T>(n));
  return out;
}

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

// --- Driver ------------------------------------------------------------------------

Measured measure_cases(const fb::Options& o, const std::string& name, std::vector<Contender> cs,
                 double (*value)(std::uint64_t, double)) {
  return fb::measure(o, name, std::move(cs), value, kLatencyBatch);
}

double mb_per_s(std::uint64_t n, double s) { return static_cast<double>(n) * kBlockBytes / s / 1e6; }

void usage(std::FILE* out) {
  std::fprintf(out, "usage: ring_bench [--quick] [--json FILE] [--reps N] [--target-ms MS] [--filter TEXT]\n");
  fb::print_common_options(out);
}

}  // namespace

int main(int argc, char** argv) {
  const fb::Options o = fb::parse_options(argc, argv, usage);
  using fb::selected;

  const fb::Env env = fb::current_env();
  const std::uint64_t small_n0 = o.quick ? 20'000 : 100'000;
  const std::uint64_t rt_n0 = o.quick ? 2 * kLatencyBatch : 10 * kLatencyBatch;
  const std::uint64_t bulk_n0 = o.quick ? 64 : 256;
  const std::size_t bulk_blocks = o.quick ? 64 : 1024;  // 4 MiB / 64 MiB per buffer
  const auto t_start = fb::Clock::now();

  fb::Table msgs;
  msgs.baselines = {kBoost, kRwq};
  fb::Table bulk;
  bulk.baselines = {kMemcpy, kBoost, kRwq};

  const std::string in_flight = "queues hold >= " + std::to_string(kInFlight) + " msgs";
  auto throughput_row = [&](const std::string& name, std::vector<Contender> cs, std::string note) {
    progress(name);
    Measured m = measure_cases(o, name, std::move(cs), mmsg_per_s);
    msgs.rows.push_back({name, "Mmsg/s", true, std::move(m.stats), std::move(note)});
  };
  throughput_row("8 B one-by-one (Mmsg/s)",
                 {{kFerry, [](std::uint64_t n) { return ferry_throughput<std::uint64_t>(n, false); }, small_n0},
                  {kBoost, [](std::uint64_t n) { return boost_throughput<std::uint64_t>(n, false); }, small_n0},
                  {kRwq, [](std::uint64_t n) { return rwq_throughput<std::uint64_t>(n); }, small_n0}},
                 "ferry: try_write+publish, try_read+release per msg; " + in_flight);
  throughput_row("8 B batched (Mmsg/s)",
                 {{kFerry, [](std::uint64_t n) { return ferry_throughput<std::uint64_t>(n, true); }, small_n0},
                  {kBoost, [](std::uint64_t n) { return boost_throughput<std::uint64_t>(n, true); }, small_n0},
                  {kRwq, [](std::uint64_t n) { return rwq_throughput<std::uint64_t>(n); }, small_n0}},
                 "ferry: publish per 64, release per 64 or when drained; boost: push/pop ranges of 64; "
                 "RWQ: no bulk API, one-by-one");
  throughput_row("8 B batched, packed records (Mmsg/s)",
                 {{kFerry, [](std::uint64_t n) { return ferry_packed_throughput<std::uint64_t>(n); }, small_n0},
                  {kBoost, [](std::uint64_t n) { return boost_throughput<std::uint64_t>(n, true); }, small_n0},
                  {kRwq, [](std::uint64_t n) { return rwq_throughput<std::uint64_t>(n); }, small_n0}},
                 "ferry: the 64 values of a batch share one record (try_extend), one publish and one release "
                 "per batch; boost: push/pop ranges of 64; RWQ: one-by-one");
  throughput_row("64 B one-by-one (Mmsg/s)",
                 {{kFerry, [](std::uint64_t n) { return ferry_throughput<Msg64>(n, false); }, small_n0},
                  {kBoost, [](std::uint64_t n) { return boost_throughput<Msg64>(n, false); }, small_n0},
                  {kRwq, [](std::uint64_t n) { return rwq_throughput<Msg64>(n); }, small_n0}},
                 "64-byte struct for the baselines; consumer folds all 64 bytes");
  throughput_row("64 B batched (Mmsg/s)",
                 {{kFerry, [](std::uint64_t n) { return ferry_throughput<Msg64>(n, true); }, small_n0},
                  {kBoost, [](std::uint64_t n) { return boost_throughput<Msg64>(n, true); }, small_n0},
                  {kRwq, [](std::uint64_t n) { return rwq_throughput<Msg64>(n); }, small_n0}},
                 "as 8 B batched; RWQ: one-by-one");
  throughput_row("64 B batched, packed records (Mmsg/s)",
                 {{kFerry, [](std::uint64_t n) { return ferry_packed_throughput<Msg64>(n); }, small_n0},
                  {kBoost, [](std::uint64_t n) { return boost_throughput<Msg64>(n, true); }, small_n0},
                  {kRwq, [](std::uint64_t n) { return rwq_throughput<Msg64>(n); }, small_n0}},
                 "as 8 B batched, packed records");

  {
    progress("round trip latency");
    Measured m = measure_cases(o, "round trip 8 B",
                         {{kFerry, ferry_latency, rt_n0}, {kBoost, boost_latency, rt_n0}, {kRwq, rwq_latency, rt_n0}},
                         ns_per_op);
    msgs.rows.push_back({"round trip 8 B (ns, median)", "ns", false, m.stats,
                         "ping-pong over two queues, both sides spin; median of reps"});
    std::map<std::string, fb::Stat> p50, p99;
    for (const auto& [impl, pool] : m.batch_ns) {
      p50[impl] = fb::single_value(fb::percentile(pool, 50), pool.size());
      p99[impl] = fb::single_value(fb::percentile(pool, 99), pool.size());
    }
    const std::string over = "over batches of " + std::to_string(kLatencyBatch) + " round trips, all reps";
    msgs.rows.push_back({"round trip 8 B p50 (ns)", "ns", false, std::move(p50), "p50 " + over});
    msgs.rows.push_back({"round trip 8 B p99 (ns)", "ns", false, std::move(p99), "p99 " + over});
  }

  {
    progress("64 KiB records");
    const std::string copy_out = "64 KiB records, copy-out (MB/s)";
    const std::string in_place = "64 KiB records, in place (MB/s)";
    bool wanted = false;
    for (const auto& impl : {kFerry, kMemcpy, kBoost, kRwq}) {
      wanted |= selected(o, copy_out, impl) || selected(o, in_place, impl);
    }
    BulkBuffers buffers(wanted ? bulk_blocks : 1);
    g_bulk = &buffers;
    const std::string mib = std::to_string(bulk_blocks * kBlockBytes >> 20);
    auto bulk_row = [&](const std::string& name, Consume how, const std::string& note) {
      Measured m = measure_cases(o, name,
                           {{kFerry, [how](std::uint64_t n) { return ferry_bulk(n, how); }, bulk_n0},
                            {kMemcpy, [how](std::uint64_t n) { return memcpy_bulk(n, how); }, bulk_n0},
                            {kBoost, [how](std::uint64_t n) { return boost_bulk(n, how); }, bulk_n0},
                            {kRwq, [how](std::uint64_t n) { return rwq_bulk(n, how); }, bulk_n0}},
                           mb_per_s);
      bulk.rows.push_back({name, "MB/s", true, std::move(m.stats), note});
    };
    bulk_row(copy_out, Consume::CopyOut,
             "consumer memcpy's each record to dst; memcpy: the same src->dst copies, one thread");
    bulk_row(in_place, Consume::InPlace,
             "consumer checksums each record in place (boost consume_one, RWQ peek); memcpy: copy src->dst "
             "then checksum it, one thread");
    bulk.notes = "ferry: 1 MiB ring, producer memcpy's src->ring (try_reserve/commit/publish per record); "
                 "boost/RWQ hold 15 blocks (push copies in); " + mib + " MiB src and dst buffers, cycled";
    g_bulk = nullptr;
  }

  const double total_s = fb::seconds_since(t_start);
  char head[512];
  std::snprintf(head, sizeof head, "ferry ring benchmark — %s, %s, %u cores (std::thread::hardware_concurrency), %s%s",
                env.platform.c_str(), env.compiler.c_str(), env.cores, env.build_type.c_str(),
                env.ndebug ? "" : " WITHOUT NDEBUG (assertions on: not representative)");
  std::printf("%s\n", head);
  if (o.quick) std::printf("--quick: tiny sizes, no calibration; these numbers only show that the harness runs\n");
  if (o.quick) {
    std::printf("median of %d repetitions after a warm-up, implementations interleaved; ±x%% = half the min-max "
                "spread\n",
                o.reps);
  } else {
    std::printf("median of %d repetitions (~%.0f ms each, after calibration and a warm-up), implementations "
                "interleaved; ±x%% = half the min-max spread\n",
                o.reps, o.target_s * 1000);
  }
  std::printf("ratio = ferry / baseline for throughput (Mmsg/s, MB/s) and baseline / ferry for latency (ns): "
              "> 1 means ferry is faster\n");
  std::printf("every run checked: message count and checksum of the known sequence (64 KiB: block stamps or "
              "sums, and a full compare of the destination after copy-out)\n\n");
  msgs.title = "messages (2 threads: producer, consumer)";
  bulk.title = "64 KiB records (2 threads, except memcpy)";
  fb::print_table(stdout, msgs, &env);
  fb::print_table(stdout, bulk, &env);
  std::printf("total %.2f s\n", total_s);
  std::fflush(stdout);

  if (!o.json.empty()) {
    std::map<std::string, std::string> settings{{"quick", o.quick ? "true" : "false"},
                                                {"reps", std::to_string(o.reps)},
                                                {"target_ms", std::to_string(static_cast<int>(o.target_s * 1000))},
                                                {"batch", std::to_string(kBatch)},
                                                {"in_flight", std::to_string(kInFlight)},
                                                {"total_seconds", std::to_string(total_s)}};
    fb::write_file(o.json, fb::to_json(env, settings, {msgs, bulk}));
  }
  return 0;
}
