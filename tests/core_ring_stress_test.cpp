// Two threads racing on one ring: random record sizes, every byte verified,
// batches of random length on both sides, tiny rings that wrap every few
// records, and sides that park and wake each other all the time.
// Sizes scale with FERRY_STRESS_SCALE (TSan and wasm runs set it lower).
#include "core/ring.hpp"

#include "tests/ring_fixture.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#if !defined(__EMSCRIPTEN__)
#include <pthread.h>
#include <ctime>
#endif

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;
namespace L = ferry::ring_layout;

namespace {

struct StressCase {
  std::uint32_t capacity;
  std::uint32_t max_len;
  std::uint64_t records;
  bool blocking;  // use reserve()/read() (parks often) instead of try_*
};

// A non-blocking side that finds the ring full (empty) this many rounds in a
// row parks in reserve() (read()) for one record. Spinning alone, a side
// burns its whole time slice whenever the other side is descheduled: with
// more threads than cores (ctest -j2 runs two of these tests, each with two
// threads) a run took minutes instead of seconds, and one CI timed out at
// 300 s. sched_yield() made it worse under load: it hands the core to any
// other process. Parking hands it to no one until the other side has moved.
constexpr std::uint32_t kSpinRounds = 8192;

// Producer thread writes `records` generated records in random-size batches;
// the consumer verifies each one's tag (sequence number) and every byte.
void run_stress(const StressCase& c) {
  RingMemory mem(c.capacity);
  const RecordGen gen{0xFE44Eull + c.capacity, c.max_len};
  std::thread producer([&] {
    auto tx = std::move(RingProducer::attach(mem.base()).value());
    Rng rng{1};
    std::uint64_t seq = 0;
    std::uint32_t full_rounds = 0;
    while (seq < c.records) {
      const std::uint32_t batch = 1 + rng.below(32);
      for (std::uint32_t i = 0; i < batch && seq < c.records; ++i) {
        const std::uint32_t len = gen.length(seq);
        const auto tag = static_cast<std::uint32_t>(seq);
        const bool park = c.blocking || full_rounds >= kSpinRounds;
        auto slot = park ? tx.reserve(len, tag) : tx.try_reserve(len, tag);
        ASSERT_TRUE(slot.ok()) << slot.error().describe();
        if (*slot == nullptr) {  // full: publish what we have, go on
          full_rounds += i == 0;
          break;
        }
        full_rounds = 0;
        gen.fill(seq, {*slot, len});
        tx.commit(len);
        ++seq;
      }
      tx.publish();
    }
    tx.close();
  });

  auto rx = std::move(RingConsumer::attach(mem.base()).value());
  Rng rng{2};
  std::uint64_t seq = 0;
  std::uint64_t bad = 0;
  std::uint32_t empty_rounds = 0;
  // One record, parked for or not; nullopt: none now; an error: closed.
  const auto next = [&](bool park) -> Result<std::optional<RingRecord>> {
    if (!park) return rx.try_read();
    auto rec = rx.read();
    if (!rec.ok()) return rec.error();
    return std::optional<RingRecord>(*rec);
  };
  for (;;) {
    const std::uint32_t batch = 1 + rng.below(32);
    bool closed = false;
    for (std::uint32_t i = 0; i < batch; ++i) {
      auto rec = next(c.blocking || empty_rounds >= kSpinRounds);
      if (!rec.ok()) {
        ASSERT_EQ(rec.error().kind, ErrorKind::Closed) << rec.error().describe();
        closed = true;
        break;
      }
      if (!*rec) {
        empty_rounds += i == 0;
        break;
      }
      empty_rounds = 0;
      bad += (*rec)->tag != static_cast<std::uint32_t>(seq) || !gen.check(seq, (*rec)->payload);
      ++seq;
    }
    rx.release();
    if (closed) break;
  }
  producer.join();
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(seq, c.records) << "every record arrives exactly once, in order";
  EXPECT_TRUE(mem.canaries_intact());
}

constexpr std::uint64_t kBigRun = 10'000'000;

}  // namespace

TEST(RingStress, TenMillionRandomRecordsArriveIntactAndInOrder) {
  run_stress({64 * 1024, 64, scaled(kBigRun), false});
}

TEST(RingStress, TinyRingWrapsEveryFewRecords) {
  run_stress({128, 56, scaled(kBigRun / 10), false});
}

TEST(RingStress, LargeRecordsUpToTheWholeRing) {
  run_stress({4096, 4088, scaled(kBigRun / 100), false});
}

TEST(RingStress, BlockingSidesParkAndWakeEachOther) {
  run_stress({256, 120, scaled(kBigRun / 50), true});
}

#if !defined(__EMSCRIPTEN__)
namespace {
std::chrono::nanoseconds thread_cpu_time(pthread_t t) {
  clockid_t id;
  pthread_getcpuclockid(t, &id);
  timespec ts{};
  clock_gettime(id, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}
}  // namespace
#endif

TEST(RingStress, AParkedConsumerIsWokenNotSpinning) {
  RingMemory mem(256);
  auto tx = std::move(RingProducer::attach(mem.base()).value());
  auto rx = std::move(RingConsumer::attach(mem.base()).value());
  std::thread reader([&] {
    auto rec = rx.read(30s);
    ASSERT_TRUE(rec.ok()) << rec.error().describe();
    EXPECT_EQ(rec->tag, 5u);
  });
  while (mem.word(L::kConsumerParkedOffset).load() == 0) std::this_thread::yield();
#if !defined(__EMSCRIPTEN__)
  // The consumer is parked: over 200 ms of wall time it may use almost no CPU.
  const auto cpu0 = thread_cpu_time(reader.native_handle());
  std::this_thread::sleep_for(200ms);
  const auto cpu1 = thread_cpu_time(reader.native_handle());
  EXPECT_LT(cpu1 - cpu0, 10ms) << "a parked consumer burned CPU: it spins instead of sleeping";
#endif
  EXPECT_EQ(mem.word(L::kDataSeqOffset).load(), 0u) << "no wake-up before there is data";
  ASSERT_TRUE(*tx.try_write(5, {}));
  tx.publish();
  reader.join();
  EXPECT_EQ(mem.word(L::kDataSeqOffset).load(), 1u) << "one notify woke it";
}
