// stream_test, parts: values larger than one ring record travel as part
// records (tags 1 and 2; stream/STREAMS.md, "Records"): every API both ways,
// the exact ring bytes, abandoned values, malformed parts, the 1 GiB limit and
// views into a value put together from parts.
// Part of tests/stream_test.cpp, the one translation unit of that test binary.
#pragma once

#if !defined(__EMSCRIPTEN__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace {

// n ASCII letters (as chars or bytes) that follow no short period and differ
// with `seed`, so a value put together from the wrong parts, or in the wrong
// order, shows.
template <class T>
T patterned(std::size_t n, unsigned seed) {
  T out(n, typename T::value_type{});
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = static_cast<typename T::value_type>('a' + (((i * 2654435761u) >> 11) ^ seed) % 26);
  }
  return out;
}

// Small and large values interleaved, around the record limit of `capacity`.
template <class T>
std::vector<T> mixed_values(std::uint32_t capacity) {
  const std::size_t limit = capacity - 8 - 5;  // string and bytes encode with 5 bytes of tag and length
  return {patterned<T>(1 << 20, 1),     patterned<T>(3, 2), patterned<T>(limit, 3),
          patterned<T>(limit + 1, 4),   patterned<T>(0, 5), patterned<T>((1 << 20) + 7, 6),
          patterned<T>(10, 7)};
}

enum class Api { Awaited, Batch, Blocking, Try };

template <class T>
Task<Result<void>> send_batch_then_close(Sender<T>& tx, const std::vector<T>& values) {
  if (auto ok = co_await tx.send_batch(values); !ok) co_return ok;
  tx.close();
  co_return Result<void>{};
}

template <class T>
Task<Result<std::vector<T>>> recv_batches(Receiver<T>& rx) {
  std::vector<T> out;
  for (;;) {
    auto batch = co_await rx.recv_batch(3);
    if (!batch) {
      if (batch.error().kind != ErrorKind::Closed) co_return batch.error();
      co_return out;
    }
    for (auto& v : *batch) out.push_back(std::move(v));
  }
}

// Sends `values` with one API while the receiver takes them with another, on
// other threads, and checks every byte, the order and the counters.
template <class T>
void round_trip_in_parts(std::uint32_t capacity, Api send_api, Api recv_api) {
  SCOPED_TRACE("capacity " + std::to_string(capacity) + ", send api " + std::to_string(int(send_api)) +
               ", recv api " + std::to_string(int(recv_api)));
  const std::vector<T> values = mixed_values<T>(capacity);
  StreamPair<T> s;
  Running a, b;
  s = must(make_stream<T>({.capacity = capacity, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  std::future<Result<void>> sent;
  if (send_api == Api::Awaited) sent = start(a, send_all(s.tx, values));
  if (send_api == Api::Batch) sent = start(a, send_batch_then_close(s.tx, values));
  if (send_api == Api::Blocking) {
    sent = std::async(std::launch::async, [&]() -> Result<void> {
      for (const auto& v : values) {
        if (auto ok = s.tx.send_blocking(v, 30s); !ok) return ok;
      }
      s.tx.close();
      return {};
    });
  }
  std::future<Result<std::vector<T>>> got;
  if (recv_api == Api::Awaited) got = start(b, recv_all(s.rx));
  if (recv_api == Api::Batch) got = start(b, recv_batches(s.rx));
  if (recv_api == Api::Blocking || recv_api == Api::Try) {
    got = std::async(std::launch::async, [&, recv_api]() -> Result<std::vector<T>> {
      std::vector<T> out;
      for (;;) {
        if (recv_api == Api::Blocking) {
          auto v = s.rx.recv_blocking(30s);
          if (!v) return v.error().kind == ErrorKind::Closed ? Result<std::vector<T>>(std::move(out)) : v.error();
          out.push_back(std::move(*v));
        } else {
          auto v = s.rx.try_recv();
          if (!v) return v.error().kind == ErrorKind::Closed ? Result<std::vector<T>>(std::move(out)) : v.error();
          if (*v) {
            out.push_back(std::move(**v));
          } else {
            std::this_thread::yield();
          }
        }
      }
    });
  }
  auto ok = get(sent);
  ASSERT_TRUE(ok.ok()) << describe(ok.error());
  auto out = get(got);
  ASSERT_TRUE(out.ok()) << describe(out.error());
  ASSERT_EQ(out->size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) EXPECT_TRUE((*out)[i] == values[i]) << "value " << i;
  const auto st = s.rx.stats();
  EXPECT_EQ(st.messages_sent, values.size()) << "a value in parts counts once";
  EXPECT_EQ(st.messages_received, values.size());
  EXPECT_EQ(st.bytes_sent, st.bytes_received);
  EXPECT_LE(st.queue_bytes_high_water, st.capacity);
}

// A record as the raw consumer sees it, and where it lies.
struct SeenRecord {
  std::uint32_t start;
  std::uint32_t tag;
  std::vector<std::byte> payload;
};

// Reads `n` records with a raw consumer (releasing each, so that a sender on
// another thread keeps going) and says where each began.
std::vector<SeenRecord> read_raw(RingConsumer& raw, std::size_t n) {
  std::vector<SeenRecord> seen;
  for (std::size_t i = 0; i < n; ++i) {
    auto r = raw.read(10s);
    if (!r) {
      ADD_FAILURE() << describe(r.error());
      break;
    }
    seen.push_back({raw.record_start(), r->tag, {r->payload.begin(), r->payload.end()}});
    raw.release();
  }
  return seen;
}

std::vector<std::byte> le_u64(std::uint64_t v) {
  std::vector<std::byte> out(8);
  std::memcpy(out.data(), &v, 8);
  return out;
}
std::vector<std::byte> concat(std::vector<std::byte> a, std::span<const std::byte> b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

// --- every API, both ways --------------------------------------------------------------

TEST(Stream, MebibyteValuesCrossADefaultRingAndA64ByteRingWithAwaitedCalls) {
  for (std::uint32_t capacity : {64u * 1024u, 64u}) {
    round_trip_in_parts<std::string>(capacity, Api::Awaited, Api::Awaited);
    round_trip_in_parts<std::vector<std::byte>>(capacity, Api::Awaited, Api::Awaited);
  }
}

TEST(Stream, MebibyteValuesCrossADefaultRingAndA64ByteRingWithBatches) {
  for (std::uint32_t capacity : {64u * 1024u, 64u}) {
    round_trip_in_parts<std::string>(capacity, Api::Batch, Api::Batch);
    round_trip_in_parts<std::vector<std::byte>>(capacity, Api::Batch, Api::Batch);
  }
}

TEST(Stream, MebibyteValuesCrossADefaultRingAndA64ByteRingWithBlockingCallsAndTryRecv) {
  for (std::uint32_t capacity : {64u * 1024u, 64u}) {
    round_trip_in_parts<std::string>(capacity, Api::Blocking, Api::Blocking);
    round_trip_in_parts<std::vector<std::byte>>(capacity, Api::Blocking, Api::Try);
  }
}

// --- the wire ----------------------------------------------------------------------------

TEST(Stream, PartsOfA60ByteValueInA64ByteRingAreTheSpecsBytes) {
  // The case both twins test: 60 bytes 0..59 encode to 65 bytes (tag 0x0D,
  // u32 60, the bytes), more than the 56 one record carries. Parts are a
  // quarter ring, 16 bytes: the first holds u64 65 and 8 value bytes, then
  // 16, 16, 16 and 9 bytes. Each is a record of its own; two skip records
  // (at 48 and 112) keep them from crossing the end.
  OwnRing ring(64);
  auto tx = must(Sender<std::vector<std::byte>>::over(ring.mem));
  auto raw = must(RingConsumer::attach(ring.mem));
  EXPECT_EQ(tx.max_value_bytes(), 56u);
  std::vector<std::byte> value(60);
  for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<std::byte>(i);
  const std::vector<std::byte> encoded = concat({std::byte{0x0D}, std::byte{60}, {}, {}, {}}, value);
  ASSERT_EQ(*encode(value), encoded);
  const std::span<const std::byte> e(encoded);

  auto sent = std::async(std::launch::async, [&] { return tx.send_blocking(value, 10s); });
  const std::vector<SeenRecord> expected{
      {0, stream_tag::kFirstPart, concat(le_u64(65), e.subspan(0, 8))},
      {24, stream_tag::kNextPart, {e.begin() + 8, e.begin() + 24}},
      {64, stream_tag::kNextPart, {e.begin() + 24, e.begin() + 40}},
      {88, stream_tag::kNextPart, {e.begin() + 40, e.begin() + 56}},
      {128, stream_tag::kNextPart, {e.begin() + 56, e.end()}},
  };
  for (const auto& want : expected) {
    SCOPED_TRACE("record at " + std::to_string(want.start));
    auto r = raw.read(10s);
    ASSERT_TRUE(r.ok()) << describe(r.error());
    EXPECT_EQ(raw.record_start(), want.start);
    // The ring's own bytes: the header (length, tag; little-endian), then the payload.
    const std::byte* at = ring.data() + (want.start & 63);
    const std::uint32_t header[2] = {static_cast<std::uint32_t>(want.payload.size()), want.tag};
    EXPECT_EQ(std::memcmp(at, header, 8), 0);
    EXPECT_EQ(std::vector<std::byte>(at + 8, at + 8 + want.payload.size()), want.payload);
    raw.release();
  }
  auto ok = sent.get();
  ASSERT_TRUE(ok.ok()) << describe(ok.error());
  // Both skip records (positions 48 and 112) lie at offset 48. Read once the
  // sender is done: reading the first one in the loop above raced with the
  // sender writing the second there (ThreadSanitizer), since the consumer
  // had passed it already.
  const std::uint32_t skip[2] = {8, 0xFFFFFFFFu};
  EXPECT_EQ(std::memcmp(ring.data() + 48, skip, 8), 0);
  EXPECT_EQ(tx.stats().messages_sent, 1u);
  EXPECT_EQ(tx.stats().bytes_sent, 65u);
}

TEST(Stream, AValueOfExactlyTheRecordLimitIsOneRecordAndOneByteMoreGoesInParts) {
  OwnRing ring(256);
  auto tx = must(Sender<std::string>::over(ring.mem));
  auto raw = must(RingConsumer::attach(ring.mem));
  ASSERT_EQ(tx.max_value_bytes(), 248u);
  auto sent = std::async(std::launch::async, [&]() -> Result<void> {
    if (auto ok = tx.send_blocking(std::string(243, 'a'), 10s); !ok) return ok;  // 5 + 243 = 248 bytes
    return tx.send_blocking(std::string(244, 'b'), 10s);                        // 249: parts of 64
  });
  const auto seen = read_raw(raw, 6);
  ASSERT_TRUE(get(sent).ok());
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[0].tag, stream_tag::kValue);
  EXPECT_EQ(seen[0].payload.size(), 248u);
  const std::size_t sizes[] = {64, 64, 64, 64, 1};  // 8 + 56, then 64 each: 56 + 3 * 64 + 1 = 249
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(seen[1 + i].tag, i == 0 ? stream_tag::kFirstPart : stream_tag::kNextPart) << i;
    EXPECT_EQ(seen[1 + i].payload.size(), sizes[i]) << i;
  }
  EXPECT_EQ(std::vector<std::byte>(seen[1].payload.begin(), seen[1].payload.begin() + 8), le_u64(249));
}

TEST(Stream, AValueAfterTheLastPartStartsARecordOfItsOwnEvenInOneBatch) {
  // The last part (89 bytes, 104 in the ring) is under a quarter ring, so the
  // batch goes on unpublished; "x" must not grow the part record.
  Running a;
  OwnRing ring(1024, nullptr, &a.ex);
  auto tx = must(Sender<std::string>::over(ring.mem));
  auto raw = must(RingConsumer::attach(ring.mem));
  const std::vector<std::string> values{std::string(1100, 'p'), "x"};  // 1105 encoded: 248, 3 * 256, 89
  auto sent = start(a, [](Sender<std::string>& tx, const std::vector<std::string>& v) -> Task<Result<void>> {
    co_return co_await tx.send_batch(v);
  }(tx, values));
  const auto seen = read_raw(raw, 6);
  ASSERT_TRUE(get(sent).ok());
  ASSERT_EQ(seen.size(), 6u);
  const std::uint32_t tags[] = {1, 2, 2, 2, 2, 0};
  const std::size_t sizes[] = {256, 256, 256, 256, 89, 6};
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(seen[i].tag, tags[i]) << i;
    EXPECT_EQ(seen[i].payload.size(), sizes[i]) << i;
  }
}

TEST(Stream, TrySendRefusesAValueLargerThanOneRecordAndPointsAtSend) {
  auto s = must(make_stream<std::string>({.capacity = 256}));
  auto r = s.tx.try_send(std::string(300, 'x'));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::MessageTooLarge);
  EXPECT_NE(r.error().message.find("305 bytes"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("248 bytes"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("send() or send_blocking()"), std::string::npos) << r.error().message;
  EXPECT_TRUE(*s.tx.try_send(std::string(243, 'y'))) << "the record limit itself fits";
  auto v = s.rx.try_recv();
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ((*v)->size(), 243u);
}

// --- abandoned values ----------------------------------------------------------------------

TEST(Stream, ASendThatTimesOutMidValueIsDroppedAndTheNextValueArrivesWhole) {
  Running a;
  Wired<std::string> w(256, &a.ex, nullptr);
  const std::string big(1000, 'b');
  auto timed_out = get(start(a, [](Sender<std::string>& tx, const std::string& big) -> Task<Result<void>> {
    co_return co_await tx.send(big, {.timeout = 20ms});
  }(w.tx, big)));
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(timed_out.error().kind, ErrorKind::Timeout) << describe(timed_out.error());
  EXPECT_GT(w.tx.stats().queue_bytes, 128u) << "its first parts are in the ring";
  auto none = w.rx.try_recv();  // copies those parts: the value is unfinished
  ASSERT_TRUE(none.ok()) << describe(none.error());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(w.tx.send_blocking("next", 10s).ok());
  auto next = w.rx.try_recv();
  ASSERT_TRUE(next.ok()) << describe(next.error());
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ(**next, "next");

  // The same with send_blocking, and a new value in parts after it.
  auto blocked = w.tx.send_blocking(big, 20ms);
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().kind, ErrorKind::Timeout);
  const std::string other(600, 'o');
  auto sent = std::async(std::launch::async, [&] { return w.tx.send_blocking(other, 10s); });
  auto got = w.rx.recv_blocking(10s);
  ASSERT_TRUE(got.ok()) << describe(got.error());
  EXPECT_EQ(*got, other);
  ASSERT_TRUE(sent.get().ok());
  EXPECT_EQ(w.rx.stats().messages_received, 2u);
  EXPECT_EQ(w.tx.stats().messages_sent, 2u) << "abandoned values are not counted as sent";
}

TEST(Stream, AStreamThatEndsMidValueGivesTheReceiverTheEnd) {
  {  // the sender gives up, then closes: the receiver drains, then Closed
    Wired<std::string> w(256, nullptr, nullptr);
    ASSERT_TRUE(w.tx.send_blocking("first", 10s).ok());
    ASSERT_EQ(w.tx.send_blocking(std::string(1000, 'b'), 10ms).error().kind, ErrorKind::Timeout);
    w.tx.close();
    auto first = w.rx.recv_blocking(10s);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(*first, "first");
    for (int i = 0; i < 2; ++i) {
      auto end = w.rx.recv_blocking(10s);
      ASSERT_FALSE(end.ok());
      EXPECT_EQ(end.error().kind, ErrorKind::Closed) << describe(end.error());
    }
  }
  {  // the ring ends with a reason: that error, not a value and not Deserialization
    Wired<std::string> w(256, nullptr, nullptr);
    ASSERT_EQ(w.tx.send_blocking(std::string(1000, 'b'), 10ms).error().kind, ErrorKind::Timeout);
    ring_abort(w.ring.mem, ErrorKind::WorkerCrashed);
    auto end = w.rx.try_recv();
    ASSERT_FALSE(end.ok());
    EXPECT_EQ(end.error().kind, ErrorKind::WorkerCrashed) << describe(end.error());
  }
  {  // the receiver closes while a value is half sent: that send fails with Closed
    Wired<std::string> w(256, nullptr, nullptr);
    auto sent = std::async(std::launch::async, [&] { return w.tx.send_blocking(std::string(1000, 'b'), 10s); });
    ASSERT_TRUE(eventually([&] { return w.ring.producer_parked(); }));
    w.rx.close();
    auto r = sent.get();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::Closed) << describe(r.error());
  }
}

// --- malformed parts --------------------------------------------------------------------------

TEST(Stream, MalformedPartsFailOneReceiveEachAndTheStreamGoesOn) {
  OwnRing ring(4096);
  const auto enc = [](auto v) { return *encode(v); };
  const auto first = [](std::uint64_t length, std::span<const std::byte> bytes) {
    return concat(le_u64(length), bytes);
  };
  const std::vector<std::byte> nine = enc(std::int32_t{9});  // 5 bytes
  const std::span<const std::byte> n9(nine);
  const std::vector<std::byte> junk(7, std::byte{0x55});
  struct Step {
    std::vector<std::pair<std::uint32_t, std::vector<std::byte>>> records;
    std::string error;                  // what the one failing receive says; empty: none fails
    std::optional<std::int32_t> then;   // the good value the next receive gets, if one follows
  };
  const std::vector<Step> steps{
      {{{2, {junk.begin(), junk.begin() + 3}}}, "no value in parts is in progress", 1},
      {{{1, {junk.begin(), junk.begin() + 5}}}, "shorter than the 8-byte value length", 2},
      {{{1, first(0, {})}}, "announces a value of 0 bytes", 3},
      {{{1, first((1ull << 30) + 1, n9)}}, "announces a value of 1073741825 bytes", 4},
      {{{1, first(4, n9)}}, "runs past the 4 bytes", 6},
      // Past the end in a later part: the value is dropped, so the part
      // right after it belongs to no value.
      {{{1, first(10, n9.first(4))}, {2, junk}}, "runs past the 10 bytes", std::nullopt},
      {{{2, {junk.begin(), junk.begin() + 2}}}, "no value in parts is in progress", 8},
      // An empty part: the value goes on, and its last part completes it.
      {{{1, first(5, n9.first(4))}, {2, {}}}, "a part carries at least one byte", std::nullopt},
      {{{2, {n9.begin() + 4, n9.end()}}}, "", 10},
      // Whole, but the 10 bytes hold one value and 5 more.
      {{{1, first(10, n9.first(3))}, {2, concat({n9.begin() + 3, n9.end()}, std::span(junk).first(5))}},
       "decodes from 5 of its 10 bytes",
       11},
      {{{1, first(10, enc(std::string("hello")))}}, "string", 12},  // TypeMismatch: expected i32
  };
  {
    auto raw = must(RingProducer::attach(ring.mem));
    for (const auto& step : steps) {
      for (const auto& [tag, payload] : step.records) ASSERT_TRUE(*raw.try_write(tag, payload));
      if (step.then) {
        ASSERT_TRUE(*raw.try_write(stream_tag::kValue, enc(*step.then)));
      }
    }
  }  // detaching publishes
  auto rx = must(Receiver<std::int32_t>::over(ring.mem));
  for (const auto& step : steps) {
    SCOPED_TRACE(step.error);
    auto r = rx.try_recv();
    if (step.error.empty()) {  // no error: the step completes a value in parts, 9
      ASSERT_TRUE(r.ok()) << describe(r.error());
      ASSERT_TRUE(r->has_value());
      EXPECT_EQ(**r, 9);
    } else if (step.error == "string") {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().kind, ErrorKind::TypeMismatch) << describe(r.error());
      EXPECT_EQ(r.error().actual, "string");
    } else {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().kind, ErrorKind::Deserialization) << describe(r.error());
      EXPECT_NE(r.error().message.find(step.error), std::string::npos) << r.error().message;
    }
    if (!step.then) continue;
    auto good = rx.try_recv();
    ASSERT_TRUE(good.ok()) << describe(good.error());
    ASSERT_TRUE(good->has_value());
    EXPECT_EQ(**good, *step.then);
  }
  auto none = rx.try_recv();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "every record was read";
}

TEST(Stream, AnUnfinishedValueIsDroppedSilentlyByTheNextValueOrTheEnd) {
  OwnRing ring(1024);
  const std::vector<std::byte> v13 = *encode(std::int32_t{13});
  const std::vector<std::byte> v14 = *encode(std::int32_t{14});
  const std::vector<std::byte> v15 = *encode(std::int32_t{15});
  {
    auto raw = must(RingProducer::attach(ring.mem));
    const auto first_two = [](const std::vector<std::byte>& v) { return concat(le_u64(5), std::span(v).first(2)); };
    ASSERT_TRUE(*raw.try_write(stream_tag::kFirstPart, first_two(v13)));  // then a value record
    ASSERT_TRUE(*raw.try_write(stream_tag::kValue, *encode(std::int32_t{12})));
    ASSERT_TRUE(*raw.try_write(stream_tag::kFirstPart, first_two(v13)));  // then a new value in parts
    ASSERT_TRUE(*raw.try_write(stream_tag::kFirstPart, concat(le_u64(5), std::span(v14).first(1))));
    ASSERT_TRUE(*raw.try_write(stream_tag::kNextPart, std::span(v14).subspan(1)));
    ASSERT_TRUE(*raw.try_write(stream_tag::kFirstPart, concat(le_u64(5), v15)));  // whole in one part
    ASSERT_TRUE(*raw.try_write(stream_tag::kFirstPart, first_two(v13)));  // then the end
    raw.close();
  }
  auto rx = must(Receiver<std::int32_t>::over(ring.mem));
  for (std::int32_t want : {12, 14, 15}) {
    auto v = rx.recv_blocking(10s);
    ASSERT_TRUE(v.ok()) << describe(v.error());
    EXPECT_EQ(*v, want);
  }
  auto end = rx.recv_blocking(10s);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.error().kind, ErrorKind::Closed) << describe(end.error());
  EXPECT_EQ(rx.stats().messages_received, 3u);
}

// --- the 1 GiB limit ------------------------------------------------------------------------------

TEST(Stream, AValueOverOneGibibyteIsMessageTooLargeBeforeAnythingIsReadOrWritten) {
#if defined(__EMSCRIPTEN__)
  GTEST_SKIP() << "needs 1 GiB of address space that is never touched (mmap, mincore)";
#else
  // 2^30 + 1 bytes encode to 2^30 + 6: over the limit by the size alone. The
  // memory is mapped read-only and never read: the size check comes first
  // (mincore shows no page of it was ever brought in).
  const std::size_t n = (std::size_t{1} << 30) + 1;
  void* region = mmap(nullptr, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(region, MAP_FAILED);
  const std::span<const std::byte> huge(static_cast<const std::byte*>(region), n);
  Running a;
  Wired<std::span<const std::byte>> w(256, &a.ex, nullptr);
  const auto expect_too_large = [](bool ok, const Error& e) {
    ASSERT_FALSE(ok);
    EXPECT_EQ(e.kind, ErrorKind::MessageTooLarge);
    EXPECT_NE(e.message.find("1073741830 bytes, more than the 1 GiB a stream value may have"), std::string::npos) << e.message;
  };
  auto blocking = w.tx.send_blocking(huge);
  expect_too_large(blocking.ok(), blocking.ok() ? Error{} : blocking.error());
  auto tried = w.tx.try_send(huge);
  expect_too_large(tried.ok(), tried.ok() ? Error{} : tried.error());
  auto awaited = get(start(a, [](Sender<std::span<const std::byte>>& tx, std::span<const std::byte> v)
                                  -> Task<Result<void>> { co_return co_await tx.send(v); }(w.tx, huge)));
  expect_too_large(awaited.ok(), awaited.ok() ? Error{} : awaited.error());
  const std::byte small[3] = {};
  const std::vector<std::span<const std::byte>> batch{small, huge};
  auto batched = get(start(a, [](Sender<std::span<const std::byte>>& tx, const std::vector<std::span<const std::byte>>& b)
                                  -> Task<Result<void>> { co_return co_await tx.send_batch(b); }(w.tx, batch)));
  expect_too_large(batched.ok(), batched.ok() ? Error{} : batched.error());
  if (!batched.ok()) {
    EXPECT_NE(batched.error().message.find("value #1"), std::string::npos) << batched.error().message;
  }
  EXPECT_EQ(w.ring.word(ring_layout::kTailOffset), 0u) << "nothing was written, not even the small value before it";
  EXPECT_EQ(w.tx.stats().messages_sent, 0u);
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((n + page - 1) / page);
  ASSERT_EQ(mincore(region, n, resident.data()), 0);
  EXPECT_EQ(std::count_if(resident.begin(), resident.end(), [](unsigned char c) { return (c & 1) != 0; }), 0)
      << "the value's bytes were read";
  munmap(region, n);
#endif
}

// --- views into a value in parts --------------------------------------------------------------------

TEST(Stream, ViewsIntoValuesInPartsStayValidUntilTheNextReceiveAndABatchStopsBeforeAPart) {
  // A batch of views must not release the records its views point into (a
  // part is released once copied), nor reuse the buffer its value in parts
  // lies in: it ends before the next part instead.
  Running b;
  OwnRing ring(256, &b.ex, nullptr);
  auto tx = must(Sender<std::string>::over(ring.mem));
  auto rx = must(Receiver<std::string_view>::over(ring.mem));
  const std::vector<std::string> values{"a",
                                        "b",
                                        patterned<std::string>(1000, 1),
                                        "c",
                                        "d",
                                        patterned<std::string>(700, 2),
                                        patterned<std::string>(900, 3),
                                        "e"};
  auto sent = std::async(std::launch::async, [&]() -> Result<void> {
    for (const auto& v : values) {
      if (auto ok = tx.send_blocking(v, 10s); !ok) return ok;
    }
    tx.close();
    return {};
  });
  using Batches = std::vector<std::vector<std::string>>;
  auto got = start(b, [](Receiver<std::string_view>& rx) -> Task<Result<Batches>> {
    Batches batches;
    for (;;) {
      auto batch = co_await rx.recv_batch(10);
      if (!batch) {
        if (batch.error().kind != ErrorKind::Closed) co_return batch.error();
        co_return batches;
      }
      std::vector<std::string> copies(batch->begin(), batch->end());
      std::this_thread::sleep_for(2ms);  // time for the sender to overwrite what this batch no longer holds
      for (std::size_t i = 0; i < copies.size(); ++i) {
        if ((*batch)[i] != copies[i]) co_return Error::make(ErrorKind::InvalidArgument, "a view changed before the next receive");
      }
      batches.push_back(std::move(copies));
    }
  }(rx));
  ASSERT_TRUE(get(sent).ok());
  auto batches = get(got);
  ASSERT_TRUE(batches.ok()) << describe(batches.error());
  std::vector<std::string> all;
  for (const auto& batch : *batches) {
    for (std::size_t i = 1; i < batch.size(); ++i) EXPECT_LE(batch[i].size(), 243u) << "a value in parts only opens a batch";
    all.insert(all.end(), batch.begin(), batch.end());
  }
  EXPECT_EQ(all, values);
}
