// Test that the header is self-contained: it comes first.
#include "core/ring.hpp"

#include "tests/ring_fixture.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>
#include <string>
#include <thread>

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;
namespace L = ferry::ring_layout;

namespace {

std::span<const std::byte> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
std::string text_of(std::span<const std::byte> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

struct Endpoints {
  RingMemory mem;
  RingProducer tx;
  RingConsumer rx;
  explicit Endpoints(std::uint32_t capacity)
      : mem(capacity),
        tx(std::move(RingProducer::attach(mem.base()).value())),
        rx(std::move(RingConsumer::attach(mem.base()).value())) {}
};

bool write(RingProducer& tx, std::uint32_t tag, const std::string& s) {
  auto r = tx.try_write(tag, bytes_of(s));
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
  return r.ok() && *r;
}

std::optional<RingRecord> read_one(RingConsumer& rx) {
  auto r = rx.try_read();
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().describe());
  return r.ok() ? *r : std::nullopt;
}

}  // namespace

TEST(RingLayout, OffsetsMatchTheLayoutDocument) {
  // core/RING.md and web/ (TypeScript) use these same numbers.
  EXPECT_EQ(L::kMagic, 0x474E5246u);
  EXPECT_EQ(L::kCapacityOffset, 8u);
  EXPECT_EQ(L::kFlagsOffset, 12u);
  EXPECT_EQ(L::kDataBellOffset, 16u);
  EXPECT_EQ(L::kSpaceBellOffset, 20u);
  EXPECT_EQ(L::kTailOffset, 64u);
  EXPECT_EQ(L::kHeadOffset, 128u);
  EXPECT_EQ(L::kDataSeqOffset, 192u);
  EXPECT_EQ(L::kConsumerParkedOffset, 196u);
  EXPECT_EQ(L::kSpaceSeqOffset, 200u);
  EXPECT_EQ(L::kProducerParkedOffset, 204u);
  EXPECT_EQ(L::kHeaderBytes, 256u);
  EXPECT_EQ(ring_bytes(1024), 1280u);
  EXPECT_EQ(ring_record_bytes(0), 8u);
  EXPECT_EQ(ring_record_bytes(1), 16u);
  EXPECT_EQ(ring_record_bytes(8), 16u);
  EXPECT_EQ(ring_record_bytes(9), 24u);
}

TEST(RingLayout, InitWritesTheDocumentedHeader) {
  RingMemory mem(4096);
  EXPECT_EQ(mem.word(L::kMagicOffset).load(), L::kMagic);
  EXPECT_EQ(mem.word(L::kVersionOffset).load(), 1u);
  EXPECT_EQ(mem.word(L::kCapacityOffset).load(), 4096u);
  EXPECT_EQ(mem.word(L::kFlagsOffset).load(), 0u);
  EXPECT_EQ(mem.word(L::kDataBellOffset).load(), 192u);
  EXPECT_EQ(mem.word(L::kSpaceBellOffset).load(), 200u);
  EXPECT_EQ(mem.word(L::kTailOffset).load(), 0u);
  EXPECT_EQ(mem.word(L::kHeadOffset).load(), 0u);
}

TEST(Ring, InitRejectsCapacitiesThatAreNotPowersOfTwoInRange) {
  RingMemory mem(64);
  for (std::uint32_t bad : {0u, 32u, 100u, 3000u, (1u << 31)}) {
    auto r = ring_init(mem.base(), bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::InvalidArgument);
    EXPECT_NE(r.error().message.find(std::to_string(bad)), std::string::npos) << r.error().message;
  }
  auto misaligned = ring_init(mem.base() + 8, 64);
  ASSERT_FALSE(misaligned.ok());
  EXPECT_EQ(misaligned.error().kind, ErrorKind::InvalidArgument);
}

TEST(Ring, AttachRejectsMemoryThatIsNotARing) {
  RingMemory mem(64);
  mem.word(L::kMagicOffset).store(0xDEADBEEF);
  auto p = RingProducer::attach(mem.base());
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("bad magic"), std::string::npos);
  mem.word(L::kMagicOffset).store(L::kMagic);
  mem.word(L::kVersionOffset).store(7);
  auto c = RingConsumer::attach(mem.base());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("version 7"), std::string::npos);
}

TEST(Ring, SecondProducerOrConsumerIsRefusedUntilTheFirstDetaches) {
  RingMemory mem(256);
  {
    auto p1 = RingProducer::attach(mem.base());
    auto c1 = RingConsumer::attach(mem.base());
    ASSERT_TRUE(p1.ok() && c1.ok());
    auto p2 = RingProducer::attach(mem.base());
    auto c2 = RingConsumer::attach(mem.base());
    ASSERT_FALSE(p2.ok());
    ASSERT_FALSE(c2.ok());
    EXPECT_NE(p2.error().message.find("single producer"), std::string::npos);
    EXPECT_NE(c2.error().message.find("single consumer"), std::string::npos);
  }
  EXPECT_TRUE(RingProducer::attach(mem.base()).ok());
}

TEST(Ring, EmptyRingReadsNothing) {
  Endpoints e(256);
  auto r = e.rx.try_read();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(Ring, RecordRoundTripsWithTagAndPayload) {
  Endpoints e(256);
  ASSERT_TRUE(write(e.tx, 42, "hello ring"));
  e.tx.publish();
  auto rec = read_one(e.rx);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->tag, 42u);
  EXPECT_EQ(text_of(rec->payload), "hello ring");
  EXPECT_FALSE(read_one(e.rx));
  EXPECT_TRUE(e.mem.canaries_intact());
}

TEST(Ring, PayloadViewPointsIntoTheRing) {
  Endpoints e(256);
  ASSERT_TRUE(write(e.tx, 1, "zero-copy"));
  e.tx.publish();
  auto rec = read_one(e.rx);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->payload.data(), e.mem.base() + L::kHeaderBytes + L::kRecordHeaderBytes);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(rec->payload.data()) % 8, 0u);
}

TEST(Ring, ZeroLengthRecordsCarryOnlyTheirTag) {
  Endpoints e(64);
  for (std::uint32_t t = 0; t < 8; ++t) ASSERT_TRUE(write(e.tx, t, ""));  // 8 x 8 bytes = full
  EXPECT_FALSE(*e.tx.try_write(99, {}));
  e.tx.publish();
  for (std::uint32_t t = 0; t < 8; ++t) {
    auto rec = read_one(e.rx);
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->tag, t);
    EXPECT_TRUE(rec->payload.empty());
  }
}

TEST(Ring, BatchIsInvisibleUntilPublish) {
  Endpoints e(1024);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(write(e.tx, i, "batched"));
  EXPECT_FALSE(read_one(e.rx));
  EXPECT_EQ(e.mem.word(L::kTailOffset).load(), 0u);
  e.tx.publish();
  EXPECT_EQ(e.mem.word(L::kTailOffset).load(), 10 * 16u);  // one store for the batch
  for (int i = 0; i < 10; ++i) {
    auto rec = read_one(e.rx);
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->tag, static_cast<std::uint32_t>(i));
  }
}

TEST(Ring, FullRingRefusesUntilTheConsumerReleases) {
  Endpoints e(128);  // 8 records of 16 bytes
  int written = 0;
  while (*e.tx.try_write(written, bytes_of("12345678"))) ++written;
  EXPECT_EQ(written, 8);
  e.tx.publish();
  ASSERT_TRUE(read_one(e.rx));
  ASSERT_TRUE(read_one(e.rx));
  EXPECT_FALSE(*e.tx.try_write(100, bytes_of("x"))) << "reading alone must not free room";
  e.rx.release();
  EXPECT_TRUE(*e.tx.try_write(100, bytes_of("x")));
  EXPECT_TRUE(*e.tx.try_write(101, bytes_of("y")));
  EXPECT_FALSE(*e.tx.try_write(102, bytes_of("z")));
  EXPECT_EQ(e.mem.word(L::kHeadOffset).load(), 32u);
}

TEST(Ring, ExactFitUsesTheWholeCapacity) {
  Endpoints e(256);
  // One record that is exactly the whole ring: payload capacity - 8.
  std::string big(e.tx.max_payload(), 'q');
  ASSERT_TRUE(write(e.tx, 7, big));
  EXPECT_FALSE(*e.tx.try_write(8, {}));
  e.tx.publish();
  auto rec = read_one(e.rx);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->payload.size(), 248u);
  EXPECT_EQ(text_of(rec->payload), big);
  EXPECT_TRUE(e.mem.canaries_intact());
}

TEST(Ring, WrapsWithSkipMarkerWhenTailTooSmall) {
  Endpoints e(128);
  ASSERT_TRUE(write(e.tx, 1, std::string(88, 'a')));  // 96 bytes at [0, 96)
  e.tx.publish();
  ASSERT_TRUE(read_one(e.rx));
  e.rx.release();
  // 32 bytes left before the end; a 40-byte record must go to offset 0.
  ASSERT_TRUE(write(e.tx, 2, std::string(32, 'b')));
  e.tx.publish();
  std::uint32_t skip[2];
  std::memcpy(skip, e.mem.base() + L::kHeaderBytes + 96, 8);
  EXPECT_EQ(skip[1], L::kSkipTag);
  EXPECT_EQ(skip[0], 24u);  // covers the 32 bytes to the end, header included
  auto rec = read_one(e.rx);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->tag, 2u);
  EXPECT_EQ(rec->payload.data(), e.mem.base() + L::kHeaderBytes + 8);
  EXPECT_EQ(text_of(rec->payload), std::string(32, 'b'));
  EXPECT_EQ(e.mem.word(L::kTailOffset).load(), 96u + 32u + 40u);
}

TEST(Ring, RecordBiggerThanHalfTheRingFitsOnceTheSkipIsConsumed) {
  Endpoints e(128);
  ASSERT_TRUE(write(e.tx, 1, std::string(24, 'a')));  // [0, 32)
  e.tx.publish();
  ASSERT_TRUE(read_one(e.rx));
  e.rx.release();
  // 112 bytes needed; 96 remain before the end and 32 after wrapping: the
  // skip goes in alone, and the record fits after the consumer passes it.
  auto first = e.tx.try_reserve(104, 2);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, nullptr);
  e.tx.publish();
  EXPECT_FALSE(read_one(e.rx)) << "a lone skip record is not a record";
  e.rx.release();
  ASSERT_TRUE(write(e.tx, 2, std::string(104, 'b')));
  e.tx.publish();
  auto rec = read_one(e.rx);
  ASSERT_TRUE(rec);
  EXPECT_EQ(text_of(rec->payload), std::string(104, 'b'));
}

TEST(Ring, CommitMayBeShorterThanTheReservation) {
  Endpoints e(256);
  auto slot = e.tx.try_reserve(100, 5);
  ASSERT_TRUE(slot.ok() && *slot);
  std::memcpy(*slot, "abc", 3);
  e.tx.commit(3);
  e.tx.publish();
  EXPECT_EQ(e.mem.word(L::kTailOffset).load(), 16u);
  auto rec = read_one(e.rx);
  ASSERT_TRUE(rec);
  EXPECT_EQ(text_of(rec->payload), "abc");
}

TEST(Ring, ExtendGrowsTheLastUnpublishedRecordInPlace) {
  Endpoints e(256);
  ASSERT_TRUE(write(e.tx, 4, "abc"));
  for (const char* more : {"de", "fghijk"}) {
    std::byte* at = e.tx.try_extend(std::strlen(more));
    ASSERT_NE(at, nullptr) << more;
    std::memcpy(at, more, std::strlen(more));
    e.tx.commit_extend(std::strlen(more));
  }
  e.tx.publish();
  EXPECT_EQ(e.mem.word(L::kTailOffset).load(), ring_record_bytes(11)) << "one header for the three pieces";
  auto rec = read_one(e.rx);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->tag, 4u);
  EXPECT_EQ(text_of(rec->payload), "abcdefghijk");
  EXPECT_FALSE(read_one(e.rx));
}

TEST(Ring, ExtendRefusesAPublishedRecordTheEndOfTheRingAndAFullRing) {
  Endpoints e(64);
  EXPECT_EQ(e.tx.try_extend(1), nullptr) << "no record yet";
  ASSERT_TRUE(write(e.tx, 1, "ab"));
  e.tx.publish();
  EXPECT_EQ(e.tx.try_extend(1), nullptr) << "the consumer may be reading it";
  ASSERT_TRUE(write(e.tx, 2, "cd"));  // at 16, room to the end: 48 bytes, 40 payload
  EXPECT_EQ(e.tx.try_extend(39), nullptr) << "it would cross the end of the ring";
  std::byte* at = e.tx.try_extend(38);
  ASSERT_NE(at, nullptr);
  e.tx.commit_extend(0);  // may commit less than offered; nothing grew
  e.tx.publish();
  EXPECT_EQ(e.mem.word(L::kTailOffset).load(), 32u);
  // Free the ring, then fill it so that the next record sits at 0 with
  // unread records ahead of it: only room, not the end, limits it.
  ASSERT_TRUE(read_one(e.rx) && read_one(e.rx));
  e.rx.release();                                     // head 32
  ASSERT_TRUE(write(e.tx, 4, "yyyyyyyy"));            // 32..48
  ASSERT_TRUE(write(e.tx, 5, "zzzzzzzz"));            // 48..64
  e.tx.publish();
  ASSERT_TRUE(write(e.tx, 6, ""));                    // at 0, 8 bytes: 24 free after it
  ASSERT_NE(e.tx.try_extend(16), nullptr);
  e.tx.commit_extend(16);                             // 24 bytes: 8 free
  EXPECT_EQ(e.tx.try_extend(9), nullptr) << "16 more bytes, 8 free";
  EXPECT_NE(e.tx.try_extend(8), nullptr) << "8 more bytes fit";
  e.tx.commit_extend(0);
  ASSERT_TRUE(read_one(e.rx));
  e.rx.release();                                     // head 48
  EXPECT_NE(e.tx.try_extend(9), nullptr) << "the release made room (head re-read)";
}

TEST(Ring, ExtendAfterAConsumerCloseLeavesTheErrorToReserve) {
  Endpoints e(256);
  ASSERT_TRUE(write(e.tx, 1, "x"));
  e.rx.close();
  EXPECT_EQ(e.tx.try_extend(1), nullptr);
  auto r = e.tx.try_reserve(1, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Closed);
}

TEST(Ring, ReadBatchTakesManyRecordsInOnePass) {
  Endpoints e(256);
  for (const char* s : {"a", "bb", "ccc"}) ASSERT_TRUE(write(e.tx, 7, s));
  e.tx.publish();
  std::array<RingRecord, 2> out{};
  auto n = e.rx.try_read_batch(out);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, 2u);
  EXPECT_EQ(text_of(out[0].payload), "a");
  EXPECT_EQ(text_of(out[1].payload), "bb");
  n = e.rx.try_read_batch(out);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, 1u);
  EXPECT_EQ(text_of(out[0].payload), "ccc");
  e.tx.close();
  n = e.rx.try_read_batch(out);
  ASSERT_FALSE(n.ok()) << "an error only when nothing was read";
  EXPECT_EQ(n.error().kind, ErrorKind::Closed);
}

TEST(Ring, ReleaseToKeepsTheRecordStillInUse) {
  Endpoints e(64);
  ASSERT_TRUE(write(e.tx, 1, "first"));   // 16 bytes
  ASSERT_TRUE(write(e.tx, 2, "second"));  // 16 bytes
  e.tx.publish();
  ASSERT_TRUE(read_one(e.rx));
  auto second = read_one(e.rx);
  ASSERT_TRUE(second);
  EXPECT_EQ(e.rx.record_start(), 16u);
  e.rx.release_to(e.rx.record_start());
  EXPECT_EQ(e.mem.word(L::kHeadOffset).load(), 16u) << "the first record is handed back, the second kept";
  // The producer may now use the first 16 bytes again, and no more.
  for (const char* s : {"AAAAAAAA", "BBBBBBBB", "CCCCCCCC"}) ASSERT_TRUE(write(e.tx, 3, s)) << s;
  auto full = e.tx.try_write(3, bytes_of("D"));
  ASSERT_TRUE(full.ok());
  EXPECT_FALSE(*full) << "the second record's bytes are still held";
  e.tx.publish();
  EXPECT_EQ(text_of(second->payload), "second") << "still intact";
  e.rx.release();
  EXPECT_EQ(e.mem.word(L::kHeadOffset).load(), 32u);
}

TEST(Ring, OversizeRecordFailsWithMessageTooLarge) {
  Endpoints e(1024);
  auto r = e.tx.try_reserve(70000, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::MessageTooLarge);
  EXPECT_NE(r.error().message.find("record of 70000 bytes exceeds ring capacity 1024"), std::string::npos)
      << r.error().message;
  auto edge = e.tx.try_reserve(1017, 1);
  ASSERT_FALSE(edge.ok());
  EXPECT_EQ(edge.error().kind, ErrorKind::MessageTooLarge);
  // Nothing was lost or written: the ring still works.
  ASSERT_TRUE(write(e.tx, 3, "still fine"));
  e.tx.publish();
  EXPECT_EQ(text_of(read_one(e.rx)->payload), "still fine");
}

TEST(Ring, SkipTagIsReservedForTheRing) {
  Endpoints e(256);
  auto r = e.tx.try_reserve(1, L::kSkipTag);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidArgument);
}

TEST(Ring, CorruptLengthIsDetectedInsteadOfReadingPastTheRecord) {
  Endpoints e(256);
  ASSERT_TRUE(write(e.tx, 1, "abcdefgh"));
  e.tx.publish();
  std::uint32_t bogus = 4000;
  std::memcpy(e.mem.base() + L::kHeaderBytes, &bogus, 4);
  auto r = e.rx.try_read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::CorruptRecord);
  EXPECT_NE(r.error().message.find("claims 4000 payload bytes"), std::string::npos) << r.error().message;
  // It stays an error: the consumer never skips past garbage.
  EXPECT_FALSE(e.rx.try_read().ok());
}

TEST(Ring, CorruptSkipRecordIsDetected) {
  Endpoints e(128);
  ASSERT_TRUE(write(e.tx, 1, std::string(88, 'a')));
  e.tx.publish();
  ASSERT_TRUE(read_one(e.rx));
  e.rx.release();
  ASSERT_TRUE(write(e.tx, 2, std::string(32, 'b')));
  e.tx.publish();
  std::uint32_t wrong = 8;  // a skip that does not reach the end
  std::memcpy(e.mem.base() + L::kHeaderBytes + 96, &wrong, 4);
  auto r = e.rx.try_read();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::CorruptRecord);
}

TEST(Ring, CountersWrapPast2To32) {
  RingMemory mem(256);
  const std::uint32_t start = 0xFFFFFF00u;  // 256 bytes before the counters wrap
  mem.word(L::kTailOffset).store(start);
  mem.word(L::kHeadOffset).store(start);
  auto tx = std::move(RingProducer::attach(mem.base()).value());
  auto rx = std::move(RingConsumer::attach(mem.base()).value());
  RecordGen gen{7, 60};
  std::uint64_t sent = 0, got = 0;
  while (got < 200) {
    for (;;) {
      auto slot = tx.try_reserve(gen.length(sent), 9);
      ASSERT_TRUE(slot.ok());
      if (!*slot) break;
      gen.fill(sent, {*slot, gen.length(sent)});
      tx.commit(gen.length(sent));
      ++sent;
    }
    tx.publish();
    while (auto rec = read_one(rx)) {
      ASSERT_TRUE(gen.check(got, rec->payload)) << "record " << got;
      ++got;
    }
    rx.release();
  }
  EXPECT_LT(mem.word(L::kTailOffset).load(), start) << "the counter wrapped";
  EXPECT_TRUE(mem.canaries_intact());
}

TEST(Ring, ReadTimesOutOnAnEmptyRing) {
  Endpoints e(256);
  auto t0 = std::chrono::steady_clock::now();
  auto r = e.rx.read(20ms);
  auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Timeout);
  EXPECT_GE(waited, 20ms);
  EXPECT_EQ(e.mem.word(L::kConsumerParkedOffset).load(), 0u) << "the parked flag is lowered after waking";
  auto zero = e.rx.read(0ms);
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().kind, ErrorKind::Timeout);
}

TEST(Ring, ReserveTimesOutOnAFullRing) {
  Endpoints e(64);
  ASSERT_TRUE(write(e.tx, 1, std::string(56, 'x')));
  auto r = e.tx.reserve(8, 2, 20ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Timeout);
  EXPECT_EQ(e.mem.word(L::kTailOffset).load(), 64u) << "reserve publishes before it waits";
}

TEST(Ring, BlockedReaderIsWokenByThePublish) {
  Endpoints e(256);
  std::thread reader([&] {
    auto rec = e.rx.read(10s);
    ASSERT_TRUE(rec.ok()) << rec.error().describe();
    EXPECT_EQ(text_of(rec->payload), "wake up");
  });
  // Publish only once the reader is parked, so the wake path is what is tested.
  while (e.mem.word(L::kConsumerParkedOffset).load() == 0) std::this_thread::yield();
  ASSERT_TRUE(write(e.tx, 1, "wake up"));
  e.tx.publish();
  reader.join();
  EXPECT_EQ(e.mem.word(L::kDataSeqOffset).load(), 1u) << "exactly one notify";
}

TEST(Ring, BlockedWriterIsWokenByTheRelease) {
  Endpoints e(64);
  ASSERT_TRUE(write(e.tx, 1, std::string(56, 'x')));
  e.tx.publish();
  std::thread writer([&] {
    auto slot = e.tx.reserve(8, 2, 10s);
    ASSERT_TRUE(slot.ok()) << slot.error().describe();
    std::memcpy(*slot, "12345678", 8);
    e.tx.commit(8);
    e.tx.publish();
  });
  while (e.mem.word(L::kProducerParkedOffset).load() == 0) std::this_thread::yield();
  ASSERT_TRUE(read_one(e.rx));
  e.rx.release();
  writer.join();
  auto rec = e.rx.read(10s);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(text_of(rec->payload), "12345678");
  EXPECT_EQ(e.mem.word(L::kSpaceSeqOffset).load(), 1u);
}

TEST(Ring, NoNotifyHappensWhileTheOtherSideIsRunning) {
  Endpoints e(1024);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(write(e.tx, i, "x"));
    e.tx.publish();
    ASSERT_TRUE(read_one(e.rx));
    e.rx.release();
  }
  EXPECT_EQ(e.mem.word(L::kDataSeqOffset).load(), 0u);
  EXPECT_EQ(e.mem.word(L::kSpaceSeqOffset).load(), 0u);
}

TEST(Ring, CloseLetsTheConsumerDrainThenReportsClosed) {
  Endpoints e(256);
  ASSERT_TRUE(write(e.tx, 1, "one"));
  ASSERT_TRUE(write(e.tx, 2, "two"));
  e.tx.close();  // publishes the batch too
  EXPECT_TRUE(e.rx.producer_closed());
  EXPECT_EQ(text_of(read_one(e.rx)->payload), "one");
  EXPECT_EQ(text_of(read_one(e.rx)->payload), "two");
  auto end = e.rx.try_read();
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.error().kind, ErrorKind::Closed);
  auto blocking = e.rx.read(10s);
  ASSERT_FALSE(blocking.ok());
  EXPECT_EQ(blocking.error().kind, ErrorKind::Closed);
}

TEST(Ring, CloseWakesABlockedReader) {
  Endpoints e(256);
  std::thread reader([&] {
    auto rec = e.rx.read(10s);
    ASSERT_FALSE(rec.ok());
    EXPECT_EQ(rec.error().kind, ErrorKind::Closed);
  });
  while (e.mem.word(L::kConsumerParkedOffset).load() == 0) std::this_thread::yield();
  e.tx.close();
  reader.join();
}

TEST(Ring, ConsumerCloseFailsTheProducerAndWakesIt) {
  Endpoints e(64);
  ASSERT_TRUE(write(e.tx, 1, std::string(56, 'x')));
  std::thread writer([&] {
    auto slot = e.tx.reserve(8, 2, 10s);
    ASSERT_FALSE(slot.ok());
    EXPECT_EQ(slot.error().kind, ErrorKind::Closed);
  });
  while (e.mem.word(L::kProducerParkedOffset).load() == 0) std::this_thread::yield();
  e.rx.close();
  writer.join();
  auto again = e.tx.try_write(3, {});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind, ErrorKind::Closed);
}

// The cases by concern (one translation unit; see each part's header).
#include "tests/core_ring_test/golden.hpp"
