// Typed streams: round trips, backpressure, close/drain, cancel/timeout,
// flush policy, type and size errors, zero-copy views, try/blocking/batch,
// values larger than one record (parts).
// Every test uses real executors on real threads; correctness never rests on
// a sleep (sleeps only make a consumer slow).
//
// Test that the header is self-contained: it comes first.
#include "stream/stream.hpp"

#include "tests/executor_fixture.hpp"
#include "tests/ring_fixture.hpp"
#include "workers/executor.hpp"
#include "workers/task.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace geo {
struct Point {
  std::int32_t x = 0;
  std::int32_t y = 0;
  friend bool operator==(const Point&, const Point&) = default;
};
FERRY_STRUCT(Point, x, y)

struct Shape {
  std::string name;
  std::vector<Point> points;
  std::optional<double> area;
  friend bool operator==(const Shape&, const Shape&) = default;
};
FERRY_STRUCT(Shape, name, points, area)

struct Label {  // borrows from the ring when received
  std::string_view text;
  std::int32_t id = 0;
};
FERRY_STRUCT(Label, text, id)
}  // namespace geo

namespace {

template <class Pred>
bool eventually(Pred pred, std::chrono::seconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(100us);
  }
  return true;
}

std::string describe(const Error& e) { return e.describe(); }


// Ring memory made outside make_stream, for the over() constructors and for
// tests that look at the ring's words.
struct OwnRing {
  std::uint32_t capacity;
  void* mem;
  explicit OwnRing(std::uint32_t cap, Scheduler* rx_sched = nullptr, Scheduler* tx_sched = nullptr)
      : capacity(cap), mem(shared_alloc(ring_bytes(cap)).value()) {
    EXPECT_TRUE(ring_init(mem, cap).ok());
    EXPECT_TRUE(ring_set_bells(mem, rx_sched ? &rx_sched->doorbell() : nullptr,
                               tx_sched ? &tx_sched->doorbell() : nullptr)
                    .ok());
  }
  ~OwnRing() { shared_free(mem); }
  std::byte* data() const { return static_cast<std::byte*>(mem) + ring_layout::kHeaderBytes; }
  std::uint32_t word(std::size_t offset) const {
    return reinterpret_cast<std::atomic<std::uint32_t>*>(static_cast<std::byte*>(mem) + offset)
        ->load(std::memory_order_acquire);
  }
  // Raised by the executor's arm() when it sleeps with our operation parked.
  bool producer_parked() const { return word(ring_layout::kProducerParkedOffset) == 1; }
  bool consumer_parked() const { return word(ring_layout::kConsumerParkedOffset) == 1; }
};

// Both ends over an OwnRing, so a test can watch the ring's words.
template <class T>
struct Wired {
  OwnRing ring;
  Sender<T> tx;
  Receiver<T> rx;
  Wired(std::uint32_t cap, Scheduler* tx_sched, Scheduler* rx_sched)
      : ring(cap, rx_sched, tx_sched), tx(Sender<T>::over(ring.mem).value()), rx(Receiver<T>::over(ring.mem).value()) {}
};

template <class T>
concept CanSendTemporary = requires(Sender<T>& tx) { tx.send(T{}); };
template <class T>
concept CanSendLvalue = requires(Sender<T>& tx, const T& v) { tx.send(v); };

// A coroutine that runs eagerly on the calling thread (no scheduler there).
struct Eager {
  struct promise_type {
    Eager get_return_object() noexcept { return {}; }
    coro::suspend_never initial_suspend() noexcept { return {}; }
    coro::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

template <class T>
Task<Result<void>> send_all(Sender<T>& tx, std::vector<T> values, bool close_after = true) {
  for (const auto& v : values) {
    if (auto ok = co_await tx.send(v); !ok) co_return ok;
  }
  if (close_after) tx.close();
  co_return Result<void>{};
}

// Receives until the stream ends; the error must be Closed.
template <class T>
Task<Result<std::vector<T>>> recv_all(Receiver<T>& rx) {
  std::vector<T> out;
  while (auto v = co_await rx.recv()) out.push_back(std::move(*v));
  auto last = co_await rx.recv();
  if (last.ok() || last.error().kind != ErrorKind::Closed) {
    co_return Error::make(ErrorKind::InvalidArgument, "stream did not end with Closed");
  }
  co_return out;
}

template <class T>
void round_trip(std::vector<T> values) {
  StreamPair<T> s;
  Running a, b;
  s = must(make_stream<T>({.capacity = 256, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  auto sent = start(a, send_all(s.tx, values));
  auto got = start(b, recv_all(s.rx));
  auto ok = get(sent);
  ASSERT_TRUE(ok.ok()) << describe(ok.error());
  auto out = get(got);
  ASSERT_TRUE(out.ok()) << describe(out.error());
  EXPECT_EQ(*out, values);
  const auto st = s.rx.stats();
  EXPECT_EQ(st.messages_sent, values.size());
  EXPECT_EQ(st.messages_received, values.size());
  EXPECT_EQ(st.bytes_sent, st.bytes_received);
  EXPECT_LE(st.queue_bytes_high_water, st.capacity);
}

}  // namespace

// --- construction -------------------------------------------------------------

TEST(Stream, CapacityIsRoundedUpToAPowerOfTwoOfAtLeast64) {
  EXPECT_EQ(*stream_capacity(0), 64u);
  EXPECT_EQ(*stream_capacity(64), 64u);
  EXPECT_EQ(*stream_capacity(100), 128u);
  EXPECT_EQ(*stream_capacity(65536), 65536u);
  EXPECT_EQ(*stream_capacity(std::size_t{1} << 30), 1u << 30);
  auto too_big = stream_capacity((std::size_t{1} << 30) + 1);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().kind, ErrorKind::InvalidArgument);
  auto s = must(make_stream<int>({.capacity = 1000}));
  EXPECT_EQ(s.tx.capacity(), 1024u);
  EXPECT_EQ(s.rx.capacity(), 1024u);
  EXPECT_EQ(s.tx.max_value_bytes(), 1016u);
  auto bad = make_stream<int>({.capacity = std::size_t{3} << 30});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::InvalidArgument);
}

TEST(Stream, KnowsWhichValueTypesBorrowFromTheRing) {
  static_assert(detail::kBorrowsRing<std::string_view>);
  static_assert(detail::kBorrowsRing<std::span<const std::byte>>);
  static_assert(detail::kBorrowsRing<std::vector<std::string_view>>);
  static_assert(detail::kBorrowsRing<std::pair<int, std::span<const std::uint8_t>>>);
  static_assert(detail::kBorrowsRing<geo::Label>);
  static_assert(!detail::kBorrowsRing<std::string>);
  static_assert(!detail::kBorrowsRing<std::vector<std::byte>>);
  static_assert(!detail::kBorrowsRing<geo::Shape>);
  static_assert(!detail::kBorrowsRing<std::map<std::string, std::vector<int>>>);
}

TEST(Stream, OptionsSurviveTheGccAggregateTemporaryBug) {
  // g++ 12 destroys the members of an aggregate temporary in a co_await
  // expression twice. The options aggregate is trivially destructible, so
  // `{.timeout = ..., .cancel = token}` is safe; a CancelToken inside it lost
  // one reference per call (TSan: use-after-free of the CancelState).
  static_assert(std::is_trivially_destructible_v<StreamWaitOptions>);
  static_assert(!std::is_constructible_v<CancelTokenRef, CancelToken&&>, "a temporary token would dangle");
#if defined(__GNUC__) && !defined(__clang__)
  static_assert(!CanSendTemporary<geo::Shape>, "an aggregate temporary with non-trivial members is refused under g++");
  static_assert(CanSendLvalue<geo::Shape>);
  static_assert(CanSendTemporary<geo::Point>, "trivially destructible: fine");
  static_assert(CanSendTemporary<std::string>, "not an aggregate: fine");
#endif
  Running a;
  Wired<int> s(4096, &a.ex, &a.ex);
  CancelSource source;
  auto r = get(start(a, [](Wired<int>& s, CancelToken token) -> Task<Result<int>> {
    int sum = 0;
    for (int i = 0; i < 1000; ++i) {
      if (auto ok = co_await s.tx.send(i, {.timeout = 10s, .cancel = token}); !ok) co_return ok.error();
      auto v = co_await s.rx.recv({.timeout = 10s, .cancel = token});
      if (!v) co_return v.error();
      sum += *v;
    }
    co_return sum;
  }(s, source.token())));
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(*r, 999 * 1000 / 2);
  EXPECT_TRUE(source.cancel()) << "the token's state is intact";
}

// --- round trips ----------------------------------------------------------------

TEST(Stream, RoundTripsIntegers) {
  std::vector<std::int64_t> v;
  for (int i = 0; i < 1000; ++i) v.push_back(i * 7919 - 3000);
  round_trip(v);
}

TEST(Stream, RoundTripsStrings) {
  std::vector<std::string> v{"", "a", "h\xc3\xa9llo", std::string(200, 'x'), "end"};
  for (int i = 0; i < 200; ++i) v.push_back(std::to_string(i));
  round_trip(v);
}

TEST(Stream, RoundTripsVectorsMapsAndVariants) {
  round_trip(std::vector<std::vector<double>>{{}, {1.5}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {-0.25}});
  round_trip(std::vector<std::map<std::string, int>>{{}, {{"a", 1}}, {{"b", 2}, {"c", 3}}});
  using V = std::variant<int, std::string, std::vector<std::byte>>;
  round_trip(std::vector<V>{V{1}, V{std::string("two")}, V{std::vector<std::byte>(3, std::byte{7})}});
}

TEST(Stream, RoundTripsStructs) {
  std::vector<geo::Shape> v;
  for (int i = 0; i < 100; ++i) {
    geo::Shape s{"shape" + std::to_string(i), {}, i % 3 ? std::optional<double>(i * 0.5) : std::nullopt};
    for (int k = 0; k < i % 5; ++k) s.points.push_back({k, -k * i});
    v.push_back(std::move(s));
  }
  round_trip(v);
}

TEST(Stream, RecordsOverHalfTheRingForceASkipRecordEveryTimeAndStillFlow) {
  // Each record takes 160 of 256 bytes, so every other one is preceded by a
  // skip record the receiver must read and hand back while it waits.
  std::vector<std::string> v;
  for (int i = 0; i < 200; ++i) v.push_back(std::string(147, static_cast<char>('a' + i % 26)));
  round_trip(v);
}

// --- backpressure ---------------------------------------------------------------

TEST(Stream, BackpressureSuspendsAFastSenderWithoutSpinning) {
  constexpr int kCount = 3000;
  StreamPair<std::int64_t> s;
  Running prod, cons;
  s = must(make_stream<std::int64_t>({.capacity = 256, .sender_scheduler = &prod.ex, .receiver_scheduler = &cons.ex}));
  const auto before = prod.ex.stats();
  const auto t0 = std::chrono::steady_clock::now();
  auto sent = start(prod, [](Sender<std::int64_t>& tx) -> Task<Result<void>> {
    for (int i = 0; i < kCount; ++i) {
      if (auto ok = co_await tx.send(i); !ok) co_return ok;
    }
    tx.close();
    co_return Result<void>{};
  }(s.tx));
  auto got = start(cons, [](Receiver<std::int64_t>& rx) -> Task<Result<std::int64_t>> {
    std::int64_t expect = 0;
    while (auto v = co_await rx.recv()) {
      if (*v != expect) co_return Error::make(ErrorKind::InvalidArgument, "out of order at " + std::to_string(expect));
      ++expect;
      // A slow consumer: the ring (~10 records) stays full most of the time.
      if (expect % 20 == 0) std::this_thread::sleep_for(200us);
    }
    co_return expect;
  }(s.rx));
  ASSERT_TRUE(get(sent).ok());
  auto n = get(got);
  ASSERT_TRUE(n.ok()) << describe(n.error());
  EXPECT_EQ(*n, kCount) << "nothing lost";
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  const auto after = prod.ex.stats();
  const auto st = s.tx.stats();
  EXPECT_LE(st.queue_bytes_high_water, 256u) << "bytes in flight never exceed capacity";
  EXPECT_GT(st.queue_bytes_high_water, 128u) << "the ring did fill";
  EXPECT_GT(st.send_blocked_ns, 0u);
  // Suspended, not spinning: the producer's executor slept most of the time,
  // and it ran a handler per resumption, not per retry.
  EXPECT_GT(after.parks - before.parks, 20u);
  const auto parked = after.parked_ns - before.parked_ns;
  EXPECT_GT(parked, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) / 4);
  EXPECT_LT(after.handlers_run - before.handlers_run, static_cast<std::uint64_t>(kCount));
}

TEST(Stream, ASenderSuspendedOnAFullRingRaisesTheParkedFlagAndIdles) {
  Running prod;
  Wired<int> w(256, &prod.ex, nullptr);
  std::atomic<int> sent{0};
  auto done = start(prod, [](Sender<int>& tx, std::atomic<int>& sent) -> Task<Result<void>> {
    for (int i = 0; i < 100; ++i) {
      if (auto ok = co_await tx.send(i); !ok) co_return ok;
      sent.store(i + 1, std::memory_order_relaxed);
    }
    co_return Result<void>{};
  }(w.tx, sent));
  ASSERT_TRUE(eventually([&] { return w.ring.producer_parked(); })) << "the sender never parked on the full ring";
  const auto parked = prod.ex.stats();
  const int sent_then = sent.load();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(prod.ex.stats().handlers_run, parked.handlers_run) << "the executor ran nothing while the ring was full";
  // At most the one park that was under way when we looked (arm() comes just before it).
  EXPECT_LE(prod.ex.stats().parks - parked.parks, 1u) << "the executor did not wake up to re-check";
  EXPECT_EQ(sent.load(), sent_then);
  EXPECT_LT(sent_then, 100);
  // Drain on this (plain) thread: the releases wake the sender.
  int expect = 0;
  while (expect < 100) {
    auto v = w.rx.recv_blocking(10s);
    ASSERT_TRUE(v.ok()) << describe(v.error());
    EXPECT_EQ(*v, expect++);
  }
  ASSERT_TRUE(get(done).ok());
}

// --- close and drain ---------------------------------------------------------------

TEST(Stream, CloseLetsTheReceiverDrainThenReportsClosedEveryTime) {
  StreamPair<std::string> s;
  Running a, b;
  s = must(make_stream<std::string>({.capacity = 4096, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  std::vector<std::string> values;
  for (int i = 0; i < 10; ++i) values.push_back("v" + std::to_string(i));
  ASSERT_TRUE(get(start(a, send_all(s.tx, values))).ok());  // sent and closed before anyone reads
  EXPECT_TRUE(s.tx.is_closed());
  auto got = start(b, [](Receiver<std::string>& rx) -> Task<Result<std::vector<std::string>>> {
    std::vector<std::string> out;
    Result<std::string> v = co_await rx.recv();
    for (; v.ok(); v = co_await rx.recv()) out.push_back(*v);
    if (v.error().kind != ErrorKind::Closed) co_return v.error();
    for (int i = 0; i < 3; ++i) {
      auto again = co_await rx.recv();
      if (again.ok() || again.error().kind != ErrorKind::Closed) co_return Error::make(ErrorKind::InvalidArgument, "not Closed");
    }
    auto t = rx.try_recv();
    if (t.ok() || t.error().kind != ErrorKind::Closed) co_return Error::make(ErrorKind::InvalidArgument, "try_recv not Closed");
    co_return out;
  }(s.rx));
  auto out = get(got);
  ASSERT_TRUE(out.ok()) << describe(out.error());
  EXPECT_EQ(*out, values);
}

TEST(Stream, UseAfterCloseFailsWithClosed) {
  StreamPair<int> s;
  Running a, b;
  s = must(make_stream<int>({.capacity = 256, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  s.tx.close();
  s.tx.close();  // idempotent
  auto t = s.tx.try_send(1);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().kind, ErrorKind::Closed);
  auto r = get(start(a, [](Sender<int>& tx) -> Task<Result<void>> { co_return co_await tx.send(1); }(s.tx)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Closed);
  s.rx.close();
  auto u = s.rx.try_recv();
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(u.error().kind, ErrorKind::Closed);
  EXPECT_NE(u.error().message.find("close()"), std::string::npos) << u.error().message;

  Sender<int> moved_to = std::move(s.tx);
  auto m = s.tx.try_send(1);  // NOLINT(bugprone-use-after-move): that is the test
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().kind, ErrorKind::Closed);
  Sender<int> empty;
  EXPECT_TRUE(empty.is_closed());
  EXPECT_EQ(empty.try_send(1).error().kind, ErrorKind::Closed);
  Receiver<int> empty_rx;
  EXPECT_EQ(empty_rx.try_recv().error().kind, ErrorKind::Closed);
}

TEST(Stream, DestroyingTheSenderClosesTheStream) {
  StreamPair<int> s;
  Running a, b;
  s = must(make_stream<int>({.capacity = 256, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  auto got = start(b, recv_all(s.rx));
  // The coroutine owns the sender; it is destroyed when the coroutine ends.
  auto sent = start(a, [](Sender<int> tx) -> Task<Result<void>> {
    for (int i = 0; i < 3; ++i) {
      if (auto ok = co_await tx.send(i); !ok) co_return ok;
    }
    co_return Result<void>{};
  }(std::move(s.tx)));
  ASSERT_TRUE(get(sent).ok());
  auto out = get(got);
  ASSERT_TRUE(out.ok()) << describe(out.error());
  EXPECT_EQ(*out, (std::vector<int>{0, 1, 2}));
}

TEST(Stream, ReceiverCloseFailsAPendingSendAndLaterOnes) {
  Running a;
  Wired<int> s(64, &a.ex, nullptr);
  std::atomic<int> sent{0};
  auto r = start(a, [](Sender<int>& tx, std::atomic<int>& sent) -> Task<Result<void>> {
    for (int i = 0;; ++i) {
      if (auto ok = co_await tx.send(i); !ok) co_return ok;
      sent.store(i + 1);
    }
  }(s.tx, sent));
  // 64 bytes hold 4 records of 16: the fifth send is pending.
  ASSERT_TRUE(eventually([&] { return s.ring.producer_parked(); }));
  EXPECT_EQ(sent.load(), 4);
  s.rx.close();
  auto out = get(r);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::Closed) << describe(out.error());
  EXPECT_NE(out.error().message.find("receiver closed"), std::string::npos) << out.error().message;
  auto later = get(start(a, [](Sender<int>& tx) -> Task<Result<void>> { co_return co_await tx.send(9); }(s.tx)));
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.error().kind, ErrorKind::Closed);
  EXPECT_EQ(s.tx.try_send(9).error().kind, ErrorKind::Closed);
}

TEST(Stream, ClosingTheSenderEndsItsOwnPendingSendFromAnotherCoroutine) {
  Running a;
  Wired<int> s(64, &a.ex, nullptr);
  while (*s.tx.try_send(1)) {
  }
  auto pending = start(a, [](Sender<int>& tx) -> Task<Result<void>> { co_return co_await tx.send(2); }(s.tx));
  ASSERT_TRUE(eventually([&] { return s.ring.producer_parked(); }));
  auto busy = get(start(a, [](Sender<int>& tx) -> Task<Result<void>> { co_return co_await tx.send(3); }(s.tx)));
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().kind, ErrorKind::InvalidArgument) << "one operation at a time";
  ASSERT_TRUE(get(start(a, [](Sender<int>& tx) -> Task<void> {
    tx.close();
    co_return;
  }(s.tx))).ok());
  auto out = get(pending);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::Closed) << describe(out.error());
  // The receiver drains exactly what fitted, then Closed.
  int n = 0;
  for (;;) {
    auto v = s.rx.try_recv();
    if (!v.ok()) {
      EXPECT_EQ(v.error().kind, ErrorKind::Closed);
      break;
    }
    ASSERT_TRUE(v->has_value());
    EXPECT_EQ(**v, 1);
    ++n;
  }
  EXPECT_EQ(n, 4);
}

// The cases by concern (one translation unit; see each part's header).
#include "tests/stream_test/cancel.hpp"
#include "tests/stream_test/flush.hpp"
#include "tests/stream_test/batch.hpp"
#include "tests/stream_test/parts.hpp"
