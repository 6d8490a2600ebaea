// Streams under load: a pipeline of four stages on four threads (a plain
// thread, then three executors) with random message sizes, every byte and a
// checksum verified at the end; values up to four rings long in parts; and a
// quick throughput table. Sizes scale with FERRY_STRESS_SCALE (default 1;
// TSan and wasm runs set it lower).
#include "stream/stream.hpp"

#include "tests/executor_fixture.hpp"
#include "tests/ring_fixture.hpp"
#include "workers/executor.hpp"
#include "workers/task.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

// The same wire struct twice: owning, and borrowing the payload from the ring.
namespace owned {
struct Msg {
  std::uint64_t seq = 0;
  std::vector<std::byte> payload;
};
FERRY_STRUCT(Msg, seq, payload)
}  // namespace owned
namespace views {
struct Msg {
  std::uint64_t seq = 0;
  std::span<const std::byte> payload;
};
FERRY_STRUCT(Msg, seq, payload)
}  // namespace views

namespace {



// Message `seq`: its length (0..max_len, 256 unless said) and bytes depend
// only on seq.
std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
std::size_t length_of(std::uint64_t seq, std::size_t max_len = 256) {
  return static_cast<std::size_t>(mix(seq + 0x51) % (max_len + 1));
}
std::byte byte_of(std::uint64_t seq, std::size_t i) {
  return static_cast<std::byte>((seq * 0x9Du) ^ (i * 0x3Bu) ^ (i >> 3));
}
owned::Msg make_msg(std::uint64_t seq, std::size_t max_len = 256) {
  owned::Msg m{seq, std::vector<std::byte>(length_of(seq, max_len))};
  for (std::size_t i = 0; i < m.payload.size(); ++i) m.payload[i] = byte_of(seq, i);
  return m;
}
// FNV-1a over the sequence number and the payload.
std::uint64_t fold(std::uint64_t h, std::uint64_t seq, std::span<const std::byte> payload) {
  auto step = [&h](std::uint8_t b) { h = (h ^ b) * 0x100000001B3ull; };
  for (int i = 0; i < 8; ++i) step(static_cast<std::uint8_t>(seq >> (8 * i)));
  for (auto b : payload) step(std::to_integer<std::uint8_t>(b));
  return h;
}
constexpr std::uint64_t kFnvBasis = 0xCBF29CE484222325ull;

Error fail(const std::string& what) { return Error::make(ErrorKind::InvalidArgument, what, "stress"); }

// Stage A (executor): batches from s0 forwarded as batches to s1.
Task<Result<std::uint64_t>> relay_batches(Receiver<owned::Msg>& in, Sender<owned::Msg>& out) {
  std::uint64_t next = 0;
  for (;;) {
    auto batch = co_await in.recv_batch(1 + next % 40);
    if (!batch) {
      if (batch.error().kind != ErrorKind::Closed) co_return batch.error();
      break;
    }
    for (const auto& m : *batch) {
      if (m.seq != next++) co_return fail("stage A: out of order at " + std::to_string(m.seq));
    }
    if (auto ok = co_await out.send_batch(*batch); !ok) co_return ok.error();
  }
  out.close();
  co_return next;
}

// Stage B (executor): zero-copy views from s1, sent on to s2 before the next
// recv; some with try_send first, all with a (never cancelled) token.
Task<Result<std::uint64_t>> relay_views(Receiver<views::Msg>& in, Sender<views::Msg>& out, CancelToken token) {
  std::uint64_t next = 0;
  for (;;) {
    auto m = co_await in.recv({.timeout = 300s, .cancel = token});
    if (!m) {
      if (m.error().kind != ErrorKind::Closed) co_return m.error();
      break;
    }
    if (m->seq != next++) co_return fail("stage B: out of order at " + std::to_string(m->seq));
    if (next % 7 == 0) {
      auto sent = out.try_send(*m);
      if (!sent) co_return sent.error();
      if (*sent) continue;
    }
    if (auto ok = co_await out.send(*m, {.cancel = token}); !ok) co_return ok.error();
  }
  out.close();
  co_return next;
}

struct Verified {
  std::uint64_t count = 0;
  std::uint64_t checksum = kFnvBasis;
};

// Message `seq` of make_msg(seq, max_len), whatever holds its payload.
bool intact(std::uint64_t seq, std::span<const std::byte> payload, std::size_t max_len) {
  if (payload.size() != length_of(seq, max_len)) return false;
  for (std::size_t i = 0; i < payload.size(); ++i) {
    if (payload[i] != byte_of(seq, i)) return false;
  }
  return true;
}

// Stage C (executor): recv, recv_batch and try_recv in turn; checks every byte.
Task<Result<Verified>> verify(Receiver<owned::Msg>& in, std::size_t max_len = 256) {
  Verified v;
  auto check = [&v, max_len](const owned::Msg& m) -> bool {
    if (m.seq != v.count || !intact(m.seq, m.payload, max_len)) return false;
    v.checksum = fold(v.checksum, m.seq, m.payload);
    ++v.count;
    return true;
  };
  for (std::uint64_t round = 0;; ++round) {
    std::vector<owned::Msg> got;
    Error end;
    bool ended = false;
    switch (round % 3) {
      case 0: {
        auto b = co_await in.recv_batch(16);
        if (b) got = std::move(*b); else { end = b.error(); ended = true; }
        break;
      }
      case 1: {
        auto m = co_await in.recv();
        if (m) got.push_back(std::move(*m)); else { end = m.error(); ended = true; }
        break;
      }
      default: {
        auto t = in.try_recv();
        if (!t) { end = t.error(); ended = true; }
        else if (*t) got.push_back(std::move(**t));
        break;
      }
    }
    if (ended) {
      if (end.kind != ErrorKind::Closed) co_return end;
      co_return v;
    }
    for (const auto& m : got) {
      if (!check(m)) co_return fail("stage C: bad message " + std::to_string(m.seq) + " expected " + std::to_string(v.count));
    }
  }
}

}  // namespace

// A stream whose ends have different C++ types with the same wire form
// (owned::Msg in, views::Msg out): two endpoints over one ring made here.
template <class In, class Out>
void cross_stream(std::uint32_t capacity, Executor& tx_on, Executor& rx_on, Sender<In>& tx, Receiver<Out>& rx) {
  void* mem = shared_alloc(ring_bytes(capacity)).value();
  std::shared_ptr<void> ring(mem, [](void* p) { shared_free(p); });
  ASSERT_TRUE(ring_init(mem, capacity).ok());
  ASSERT_TRUE(ring_set_bells(mem, &rx_on.doorbell(), &tx_on.doorbell()).ok());
  tx = std::move(Sender<In>::over(mem, ring).value());
  rx = std::move(Receiver<Out>::over(mem, ring).value());
}

TEST(StreamStress, PipelineAcrossExecutorsKeepsEveryByteInOrder) {
  const std::uint64_t kMessages = scaled(1'000'000);
  // plain thread --s0--> A (batches) --s1--> B (zero-copy views) --s2--> C (verifies)
  StreamPair<owned::Msg> s0;
  Sender<owned::Msg> s1_tx;
  Receiver<views::Msg> s1_rx;
  Sender<views::Msg> s2_tx;
  Receiver<owned::Msg> s2_rx;
  Running a, b, c;
  s0 = must(make_stream<owned::Msg>({.capacity = 4096, .receiver_scheduler = &a.ex}));
  cross_stream(1024, a.ex, b.ex, s1_tx, s1_rx);
  cross_stream(2048, b.ex, c.ex, s2_tx, s2_rx);
  CancelSource never;
  auto fc = start(c, verify(s2_rx));
  auto fb = start(b, relay_views(s1_rx, s2_tx, never.token()));
  auto fa = start(a, relay_batches(s0.rx, s1_tx));
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t checksum = kFnvBasis;
  std::thread producer([&] {
    for (std::uint64_t seq = 0; seq < kMessages; ++seq) {
      auto m = make_msg(seq);
      checksum = fold(checksum, seq, m.payload);
      auto ok = s0.tx.send_blocking(m, 60s);
      ASSERT_TRUE(ok.ok()) << ok.error().describe();
    }
    s0.tx.close();
  });
  producer.join();
  auto ra = get(fa, 300s);
  auto rb = get(fb, 300s);
  auto rc = get(fc, 300s);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(ra.ok()) << ra.error().describe();
  ASSERT_TRUE(rb.ok()) << rb.error().describe();
  ASSERT_TRUE(rc.ok()) << rc.error().describe();
  EXPECT_EQ(*ra, kMessages);
  EXPECT_EQ(*rb, kMessages);
  EXPECT_EQ(rc->count, kMessages);
  EXPECT_EQ(rc->checksum, checksum);
  for (auto st : {s0.tx.stats(), s1_tx.stats(), s2_tx.stats()}) {
    EXPECT_EQ(st.messages_sent, kMessages);
    EXPECT_LE(st.queue_bytes_high_water, st.capacity);
  }
  EXPECT_EQ(s2_rx.stats().messages_received, kMessages);
  std::printf("[ stress   ] %llu messages through 3 streams in %.2f s (%.0f msg/s end to end); "
              "blocked ns: s0 %llu, s1 %llu, s2 %llu\n",
              static_cast<unsigned long long>(kMessages), secs, static_cast<double>(kMessages) / secs,
              static_cast<unsigned long long>(s0.tx.stats().send_blocked_ns),
              static_cast<unsigned long long>(s1_tx.stats().send_blocked_ns),
              static_cast<unsigned long long>(s2_tx.stats().send_blocked_ns));
}

// Values from 0 to 4 rings long, most of them in parts (stream/STREAMS.md,
// "Records"), racing between threads on two streams at once: a plain thread's
// send_blocking into owning recv / recv_batch / try_recv, and awaited send /
// send_batch into a borrowing recv_batch (views into the ring and into the
// buffer a value in parts is put together in).
TEST(StreamStress, ValuesUpToFourRingsLongRaceThroughInParts) {
  constexpr std::uint32_t kCapacity = 1024;
  constexpr std::size_t kMaxLen = 4 * kCapacity;
  const std::uint64_t kMessages = scaled(10'000);
  StreamPair<owned::Msg> s0;
  Sender<owned::Msg> s1_tx;
  Receiver<views::Msg> s1_rx;
  Running a, b, c;
  s0 = must(make_stream<owned::Msg>({.capacity = kCapacity, .receiver_scheduler = &c.ex}));
  cross_stream(kCapacity, a.ex, b.ex, s1_tx, s1_rx);
  auto checked = start(c, verify(s0.rx, kMaxLen));
  auto viewed = start(b, [](Receiver<views::Msg>& in) -> Task<Result<std::uint64_t>> {
    std::uint64_t next = 0;
    for (;;) {
      auto batch = co_await in.recv_batch(1 + next % 8);
      if (!batch) {
        if (batch.error().kind != ErrorKind::Closed) co_return batch.error();
        co_return next;
      }
      for (const auto& m : *batch) {
        if (m.seq != next++ || !intact(m.seq, m.payload, kMaxLen)) {
          co_return fail("views: bad message " + std::to_string(m.seq) + " expected " + std::to_string(next - 1));
        }
      }
    }
  }(s1_rx));
  auto sent = start(a, [](Sender<owned::Msg>& out, std::uint64_t n) -> Task<Result<void>> {
    std::vector<owned::Msg> batch;
    for (std::uint64_t seq = 0; seq < n;) {
      if (seq % 3 == 0) {
        batch.clear();
        for (; batch.size() < 4 && seq < n; ++seq) batch.push_back(make_msg(seq, kMaxLen));
        if (auto ok = co_await out.send_batch(batch); !ok) co_return ok;
      } else {
        const auto m = make_msg(seq++, kMaxLen);
        if (auto ok = co_await out.send(m); !ok) co_return ok;
      }
    }
    out.close();
    co_return Result<void>{};
  }(s1_tx, kMessages));
  std::uint64_t checksum = kFnvBasis;
  for (std::uint64_t seq = 0; seq < kMessages; ++seq) {
    auto m = make_msg(seq, kMaxLen);
    checksum = fold(checksum, seq, m.payload);
    auto ok = s0.tx.send_blocking(m, 60s);
    ASSERT_TRUE(ok.ok()) << ok.error().describe();
  }
  s0.tx.close();
  auto rc = get(checked, 300s);
  ASSERT_TRUE(rc.ok()) << rc.error().describe();
  EXPECT_EQ(rc->count, kMessages);
  EXPECT_EQ(rc->checksum, checksum);
  auto ra = get(sent, 300s);
  ASSERT_TRUE(ra.ok()) << ra.error().describe();
  auto rb = get(viewed, 300s);
  ASSERT_TRUE(rb.ok()) << rb.error().describe();
  EXPECT_EQ(*rb, kMessages);
  for (auto st : {s0.tx.stats(), s1_tx.stats()}) {
    EXPECT_EQ(st.messages_sent, kMessages);
    EXPECT_LE(st.queue_bytes_high_water, st.capacity);
  }
  EXPECT_EQ(s0.rx.stats().messages_received, kMessages);
  EXPECT_EQ(s1_rx.stats().messages_received, kMessages);
}

// --- quick throughput table -----------------------------------------------------

namespace {

struct Row {
  std::string name;
  std::uint64_t messages;
  double seconds;
  std::uint64_t sender_parks = 0;    // times the sending executor slept
  std::uint64_t receiver_parks = 0;  // times the receiving executor slept
};

template <class T, class Make>
Row through_stream(const char* name, std::uint64_t n, bool batched, Make make_value) {
  StreamPair<T> s;
  Running a, b;
  s = must(make_stream<T>({.capacity = 64 * 1024, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  const auto t0 = std::chrono::steady_clock::now();
  auto fb = start(b, [](Receiver<T>& rx, std::uint64_t n, bool batched) -> Task<Result<std::uint64_t>> {
    std::uint64_t got = 0;
    while (got < n) {
      if (batched) {
        auto v = co_await rx.recv_batch(256);
        if (!v) co_return v.error();
        got += v->size();
      } else {
        auto v = co_await rx.recv();
        if (!v) co_return v.error();
        ++got;
      }
    }
    co_return got;
  }(s.rx, n, batched));
  auto fa = start(a, [](Sender<T>& tx, std::uint64_t n, bool batched, Make make) -> Task<Result<std::uint64_t>> {
    std::vector<T> batch;
    for (std::uint64_t i = 0; i < n;) {
      if (batched) {
        batch.clear();
        for (; batch.size() < 256 && i < n; ++i) batch.push_back(make(i));
        if (auto ok = co_await tx.send_batch(batch); !ok) co_return ok.error();
      } else {
        if (auto ok = co_await tx.send(make(i)); !ok) co_return ok.error();
        ++i;
      }
    }
    co_return n;
  }(s.tx, n, batched, make_value));
  auto sent = get(fa, 300s);
  auto got = get(fb, 300s);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(sent.ok() && got.ok());
  return {std::string(name) + (batched ? ", batch 256" : ", one at a time"), n, secs, a.ex.stats().parks,
          b.ex.stats().parks};
}

// Baseline: the bare ring between two plain threads, publishing and releasing
// every 64 records, memcpy of the same payload bytes.
Row bare_ring(const char* name, std::uint64_t n, std::size_t payload) {
  void* mem = shared_alloc(ring_bytes(64 * 1024)).value();
  EXPECT_TRUE(ring_init(mem, 64 * 1024).ok());
  auto tx = std::move(RingProducer::attach(mem).value());
  auto rx = std::move(RingConsumer::attach(mem).value());
  std::vector<std::byte> src(payload, std::byte{1});
  const auto t0 = std::chrono::steady_clock::now();
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < n; ++i) {
      auto slot = tx.reserve(payload, 0);
      std::memcpy(*slot, src.data(), payload);
      tx.commit(payload);
      if (i % 64 == 63) tx.publish();
    }
    tx.close();
  });
  std::uint64_t got = 0;
  std::vector<std::byte> dst(payload);
  for (;;) {
    auto r = rx.read();
    if (!r) break;
    std::memcpy(dst.data(), r->payload.data(), r->payload.size());
    if (++got % 64 == 0) rx.release();
  }
  producer.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(got, n);
  { auto drop_tx = std::move(tx); auto drop_rx = std::move(rx); }
  shared_free(mem);
  return {std::string("bare ring, ") + name, n, secs, 0, 0};
}

}  // namespace

TEST(StreamThroughput, QuickTableOfMessagesPerSecond) {
  const std::uint64_t n = scaled(2'000'000);
  static const std::string k64(64, 'x');
  std::vector<Row> rows;
  rows.push_back(bare_ring("9-byte payload (u64 encoded)", n, 9));
  rows.push_back(through_stream<std::uint64_t>("u64 (9 B encoded)", n, true, [](std::uint64_t i) { return i; }));
  rows.push_back(through_stream<std::uint64_t>("u64 (9 B encoded)", n, false, [](std::uint64_t i) { return i; }));
  rows.push_back(bare_ring("69-byte payload", n, 69));
  rows.push_back(through_stream<std::string_view>("64-byte string_view (69 B encoded)", n, true,
                                                  [](std::uint64_t) { return std::string_view(k64); }));
  rows.push_back(through_stream<std::string_view>("64-byte string_view (69 B encoded)", n, false,
                                                  [](std::uint64_t) { return std::string_view(k64); }));
  std::printf("\n%-52s %10s %8s %12s %9s %9s\n", "case (64 KiB ring, 2 threads)", "messages", "seconds",
              "messages/s", "tx parks", "rx parks");
  for (const auto& r : rows) {
    std::printf("%-52s %10llu %8.3f %12.0f %9llu %9llu\n", r.name.c_str(),
                static_cast<unsigned long long>(r.messages), r.seconds, static_cast<double>(r.messages) / r.seconds,
                static_cast<unsigned long long>(r.sender_parks), static_cast<unsigned long long>(r.receiver_parks));
  }
  std::printf("cores: %u (hardware_concurrency)\n\n", std::thread::hardware_concurrency());
}
