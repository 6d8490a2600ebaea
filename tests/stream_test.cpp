// Typed streams: round trips, backpressure, close/drain, cancel/timeout,
// flush policy, type and size errors, zero-copy views, try/blocking/batch.
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

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <chrono>
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

// --- timeouts and cancellation -----------------------------------------------------

namespace {
// Fills the ring with try_send; returns how many fitted.
int fill(Sender<int>& tx) {
  int n = 0;
  while (true) {
    auto ok = tx.try_send(n);
    EXPECT_TRUE(ok.ok());
    if (!ok.ok() || !*ok) return n;
    ++n;
  }
}
// Drains with try_recv on this thread; returns the values.
std::vector<int> drain(Receiver<int>& rx) {
  std::vector<int> out;
  for (;;) {
    auto v = rx.try_recv();
    if (!v.ok() || !v->has_value()) return out;
    out.push_back(**v);
  }
}
std::vector<int> iota(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}
}  // namespace

TEST(Stream, SendTimesOutOnAFullRingAndLosesNothing) {
  StreamPair<int> s;
  Running a;
  s = must(make_stream<int>({.capacity = 256, .sender_scheduler = &a.ex}));
  const int n = get(start(a, [](Sender<int>& tx) -> Task<int> { co_return fill(tx); }(s.tx))).value();
  ASSERT_GT(n, 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = get(start(a, [](Sender<int>& tx) -> Task<Result<void>> {
    co_return co_await tx.send(999, {.timeout = 5ms});
  }(s.tx)));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 5ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Timeout);
  EXPECT_NE(r.error().message.find("send timed out after 5 ms"), std::string::npos) << r.error().message;
  auto zero = get(start(a, [](Sender<int>& tx) -> Task<Result<void>> {
    co_return co_await tx.send(998, {.timeout = 0ns});
  }(s.tx)));
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().kind, ErrorKind::Timeout);
  EXPECT_EQ(drain(s.rx), iota(n)) << "exactly what was sent before; nothing of 999";
  // The stream is still consistent.
  ASSERT_TRUE(get(start(a, [](Sender<int>& tx) -> Task<Result<void>> { co_return co_await tx.send(1000); }(s.tx))).ok());
  EXPECT_EQ(drain(s.rx), std::vector<int>{1000});
  EXPECT_GT(s.tx.stats().send_blocked_ns, 4'000'000u);
}

TEST(Stream, RecvTimesOutOnAnEmptyRingAndTheStreamGoesOn) {
  StreamPair<int> s;
  Running b;
  s = must(make_stream<int>({.capacity = 256, .receiver_scheduler = &b.ex}));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = get(start(b, [](Receiver<int>& rx) -> Task<Result<int>> { co_return co_await rx.recv({.timeout = 5ms}); }(s.rx)));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 5ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Timeout);
  EXPECT_NE(r.error().message.find("recv timed out after 5 ms"), std::string::npos) << r.error().message;
  auto zero = get(start(b, [](Receiver<int>& rx) -> Task<Result<int>> { co_return co_await rx.recv({.timeout = 0ns}); }(s.rx)));
  EXPECT_EQ(zero.error().kind, ErrorKind::Timeout);
  ASSERT_TRUE(*s.tx.try_send(5));
  auto v = get(start(b, [](Receiver<int>& rx) -> Task<Result<int>> { co_return co_await rx.recv({.timeout = 10s}); }(s.rx)));
  ASSERT_TRUE(v.ok()) << describe(v.error());
  EXPECT_EQ(*v, 5);
  EXPECT_GT(s.rx.stats().recv_waited_ns, 4'000'000u);
}

TEST(Stream, CancellingAPendingSendEndsItWithCancelledAndLosesNothing) {
  Running a;
  Wired<int> s(256, &a.ex, nullptr);
  const int n = get(start(a, [](Sender<int>& tx) -> Task<int> { co_return fill(tx); }(s.tx))).value();
  CancelSource source;
  auto r = start(a, [](Sender<int>& tx, CancelToken t) -> Task<Result<void>> {
    co_return co_await tx.send(999, {.cancel = t});
  }(s.tx, source.token()));
  ASSERT_TRUE(eventually([&] { return s.ring.producer_parked(); }));  // suspended on the full ring
  EXPECT_EQ(r.wait_for(5ms), std::future_status::timeout);
  source.cancel();
  auto out = get(r);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::Cancelled) << describe(out.error());
  EXPECT_EQ(drain(s.rx), iota(n));
  auto again = get(start(a, [](Sender<int>& tx, CancelToken t) -> Task<Result<void>> {
    co_return co_await tx.send(1, {.cancel = t});  // already cancelled: fails at once
  }(s.tx, source.token())));
  EXPECT_EQ(again.error().kind, ErrorKind::Cancelled);
  ASSERT_TRUE(get(start(a, [](Sender<int>& tx) -> Task<Result<void>> { co_return co_await tx.send(7); }(s.tx))).ok());
  EXPECT_EQ(drain(s.rx), std::vector<int>{7});
}

TEST(Stream, CancellingAPendingRecvEndsItWithCancelled) {
  Running b;
  Wired<int> s(256, nullptr, &b.ex);
  CancelSource source;
  auto r = start(b, [](Receiver<int>& rx, CancelToken t) -> Task<Result<int>> {
    co_return co_await rx.recv({.timeout = 60s, .cancel = t});
  }(s.rx, source.token()));
  ASSERT_TRUE(eventually([&] { return s.ring.consumer_parked(); }));
  std::thread canceller([&] { source.cancel(); });  // from yet another thread
  canceller.join();
  auto out = get(r);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::Cancelled) << describe(out.error());
  ASSERT_TRUE(*s.tx.try_send(3));
  auto v = get(start(b, [](Receiver<int>& rx) -> Task<Result<int>> { co_return co_await rx.recv(); }(s.rx)));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 3);
}

namespace {
// Cancels sources handed to it, on its own thread, as soon as it can. Started
// from the test's main thread: under Emscripten a thread started from a
// worker needs the (blocked) main thread to spawn it.
class Canceller {
 public:
  Canceller() : thread_([this] { loop(); }) {}
  ~Canceller() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void cancel_soon(std::shared_ptr<CancelSource> s) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(s));
    }
    cv_.notify_one();
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto s = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      s->cancel();
      lock.lock();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<CancelSource>> queue_;
  bool stop_ = false;
  std::thread thread_;
};
}  // namespace

TEST(Stream, CancellationRacingCompletionAlwaysEndsConsistently) {
  // Cancel while values flow: each operation either completes or is
  // cancelled; either way the values seen are exactly the ones sent, in order.
  StreamPair<int> s;
  Canceller canceller;
  Running a, b;
  s = must(make_stream<int>({.capacity = 64, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  constexpr int kRounds = 300;
  auto sent = start(a, [](Sender<int>& tx, Canceller& c) -> Task<Result<int>> {
    int next = 0;
    for (int round = 0; round < kRounds; ++round) {
      auto src = std::make_shared<CancelSource>();
      const CancelToken token = src->token();
      c.cancel_soon(src);
      auto ok = co_await tx.send(next, {.cancel = token});
      if (ok) {
        ++next;
      } else if (ok.error().kind != ErrorKind::Cancelled) {
        co_return ok.error();
      }
    }
    tx.close();
    co_return next;
  }(s.tx, canceller));
  auto got = start(b, [](Receiver<int>& rx, Canceller& c) -> Task<Result<int>> {
    int expect = 0;
    for (;;) {
      auto src = std::make_shared<CancelSource>();
      const CancelToken token = src->token();
      c.cancel_soon(src);
      auto v = co_await rx.recv({.cancel = token});
      if (v) {
        if (*v != expect) co_return Error::make(ErrorKind::InvalidArgument, "out of order");
        ++expect;
      } else if (v.error().kind == ErrorKind::Closed) {
        co_return expect;
      } else if (v.error().kind != ErrorKind::Cancelled) {
        co_return v.error();
      }
    }
  }(s.rx, canceller));
  auto n_sent = get(sent);
  ASSERT_TRUE(n_sent.ok()) << describe(n_sent.error());
  auto n_got = get(got);
  ASSERT_TRUE(n_got.ok()) << describe(n_got.error());
  EXPECT_EQ(*n_sent, *n_got);
}

TEST(Stream, DestroyingTheExecutorEndsAPendingRecvWithCancelled) {
  std::optional<OwnRing> ring;  // outlives the executor and the frame it destroys
  std::future<Result<int>> r;
  {
    Running b;
    ring.emplace(256, &b.ex);
    auto rx = Receiver<int>::over(ring->mem);
    ASSERT_TRUE(rx.ok());
    r = start(b, [](Receiver<int> rx) -> Task<Result<int>> { co_return co_await rx.recv(); }(std::move(*rx)));
    ASSERT_TRUE(eventually([&] { return ring->consumer_parked(); }));
  }
  auto out = get(r);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::Cancelled) << describe(out.error());
}

// --- flush policy -----------------------------------------------------------------

TEST(Stream, NoValueIsStrandedWhenTheSenderAwaitsSomethingElseForever) {
  StreamPair<int> s, never;
  Running a, b;
  s = must(make_stream<int>({.capacity = 64 * 1024, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  never = must(make_stream<int>({.capacity = 256, .receiver_scheduler = &a.ex}));
  auto sender = start(a, [](Sender<int>& tx, Receiver<int>& never) -> Task<Result<int>> {
    if (auto ok = co_await tx.send(42); !ok) co_return ok.error();  // one record: below every threshold
    co_return co_await never.recv();  // suspends until the test ends it
  }(s.tx, never.rx));
  auto got = get(start(b, [](Receiver<int>& rx) -> Task<Result<int>> { co_return co_await rx.recv({.timeout = 20s}); }(s.rx)));
  ASSERT_TRUE(got.ok()) << describe(got.error());
  EXPECT_EQ(*got, 42);
  never.tx.close();
  EXPECT_EQ(get(sender).error().kind, ErrorKind::Closed);
}

TEST(Stream, NoValueIsStrandedWhenAPlainHandlerSendsAndTheExecutorIdles) {
  StreamPair<std::string> s;
  Running a, b;
  s = must(make_stream<std::string>({.capacity = 64 * 1024, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  a.ex.post([&] { EXPECT_TRUE(*s.tx.try_send("from a handler")); });
  auto got = get(start(b, [](Receiver<std::string>& rx) -> Task<Result<std::string>> {
    co_return co_await rx.recv({.timeout = 20s});
  }(s.rx)));
  ASSERT_TRUE(got.ok()) << describe(got.error());
  EXPECT_EQ(*got, "from a handler");
}

TEST(Stream, SendsInOneSliceArePublishedTogetherWhenTheCoroutineSuspends) {
  Running a;
  Wired<int> s(4096, &a.ex, nullptr);
  auto done = start(a, [](Sender<int>& tx, const OwnRing& ring) -> Task<Result<std::uint32_t>> {
    for (int i = 0; i < 10; ++i) {
      if (auto ok = co_await tx.send(i); !ok) co_return ok.error();
    }
    if (ring.word(ring_layout::kTailOffset) != 0) co_return Error::make(ErrorKind::InvalidArgument, "published early");
    struct Yield {  // suspend on something unrelated; the executor resumes us next round
      bool await_ready() { return false; }
      void await_suspend(coro::coroutine_handle<> h) { Scheduler::current()->post([h]() mutable { h.resume(); }); }
      void await_resume() {}
    };
    co_await Yield{};
    co_return ring.word(ring_layout::kTailOffset);
  }(s.tx, s.ring));
  auto tail = get(done);
  ASSERT_TRUE(tail.ok()) << describe(tail.error());
  // The ten 5-byte values share one record: 8 header bytes + 50 padded to 56.
  EXPECT_EQ(*tail, ring_record_bytes(10 * 5)) << "one batch in one record, published when the coroutine suspended";
}

TEST(StreamExecutor, ASpawnedTaskIsReportedDoneOnlyAfterItsBatchedSendsArePublished) {
  // A task's outcome goes to another thread (a future, here); that thread may
  // then read the stream or destroy the sender. So the executor must publish
  // the task's batch before it reports the outcome, not after the handler.
  Running a;
  Wired<int> s(4096, &a.ex, nullptr);
  std::promise<std::uint32_t> tail_when_done;
  a.ex.spawn([](Sender<int>& tx) -> Task<Result<void>> { co_return co_await tx.send(1); }(s.tx),
             [&](Result<void>) { tail_when_done.set_value(s.ring.word(ring_layout::kTailOffset)); });
  auto f = tail_when_done.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), ring_record_bytes(5)) << "the send was still unpublished when the task was reported done";
}

TEST(Stream, FlushPublishesAtOnceAndReleaseHandsRoomBack) {
  Running a;
  Wired<int> s(4096, &a.ex, &a.ex);
  auto r = get(start(a, [](Wired<int>& s) -> Task<Result<std::uint32_t>> {
    if (auto ok = co_await s.tx.send(1); !ok) co_return ok.error();
    const std::uint32_t before = s.ring.word(ring_layout::kTailOffset);
    s.tx.flush();
    if (s.ring.word(ring_layout::kTailOffset) == before) co_return Error::make(ErrorKind::InvalidArgument, "not published");
    auto v = co_await s.rx.recv();
    if (!v) co_return v.error();
    s.rx.release();
    co_return s.ring.word(ring_layout::kHeadOffset);
  }(s)));
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(*r, ring_record_bytes(5));
}

// --- wrong use ------------------------------------------------------------------------

TEST(Stream, AwaitingOnAnotherExecutorFailsAndSaysHowToFixIt) {
  StreamPair<int> s, t;
  Running a, b;
  s = must(make_stream<int>({.capacity = 256, .sender_scheduler = &a.ex, .receiver_scheduler = &a.ex}));
  auto r = get(start(b, [](Receiver<int>& rx) -> Task<Result<int>> { co_return co_await rx.recv(); }(s.rx)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(r.error().message.find("stream was made for another executor: pass it as receiver_scheduler in make_stream"),
            std::string::npos)
      << r.error().message;
  auto w = get(start(b, [](Sender<int>& tx) -> Task<Result<void>> { co_return co_await tx.send(1); }(s.tx)));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(w.error().message.find("sender_scheduler"), std::string::npos) << w.error().message;
  // Made without schedulers: every awaited call fails, not just the ones that would wait.
  t = must(make_stream<int>({.capacity = 256}));
  auto x = get(start(a, [](Sender<int>& tx) -> Task<Result<void>> { co_return co_await tx.send(1); }(t.tx)));
  EXPECT_EQ(x.error().kind, ErrorKind::InvalidArgument);
  EXPECT_TRUE(drain(t.rx).empty()) << "nothing was sent";
}

TEST(Stream, AwaitingWithoutASchedulerFailsAndPointsAtTheBlockingCalls) {
  auto s = must(make_stream<int>({.capacity = 256}));
  std::optional<Result<void>> sent;
  std::optional<Result<int>> got;
  [](Sender<int>& tx, std::optional<Result<void>>& out) -> Eager { out.emplace(co_await tx.send(1)); }(s.tx, sent);
  [](Receiver<int>& rx, std::optional<Result<int>>& out) -> Eager { out.emplace(co_await rx.recv()); }(s.rx, got);
  ASSERT_TRUE(sent && got);
  ASSERT_FALSE(sent->ok());
  EXPECT_EQ(sent->error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(sent->error().message.find("send_blocking"), std::string::npos) << sent->error().message;
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(got->error().message.find("recv_blocking"), std::string::npos) << got->error().message;
}

TEST(Stream, BlockingCallsOnAnExecutorThreadFail) {
  StreamPair<int> s;
  Running a;
  s = must(make_stream<int>({.capacity = 256, .sender_scheduler = &a.ex, .receiver_scheduler = &a.ex}));
  auto r = get(start(a, [](StreamPair<int>& s) -> Task<Result<int>> {
    if (auto ok = s.tx.send_blocking(1); ok || ok.error().kind != ErrorKind::InvalidArgument) {
      co_return Error::make(ErrorKind::TaskFailed, "send_blocking did not refuse");
    }
    co_return s.rx.recv_blocking(1ms);
  }(s)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidArgument) << describe(r.error());
}

TEST(Stream, DecodingAnotherTypeIsTypeMismatchAndConsumesTheRecord) {
  OwnRing ring(256);
  auto tx = Sender<std::int32_t>::over(ring.mem);
  auto rx = Receiver<std::string>::over(ring.mem);
  ASSERT_TRUE(tx.ok() && rx.ok());
  ASSERT_TRUE(*tx->try_send(5));
  ASSERT_TRUE(*tx->try_send(6));
  auto v = rx->try_recv();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().kind, ErrorKind::TypeMismatch);
  EXPECT_EQ(v.error().expected, "string");
  EXPECT_EQ(v.error().actual, "i32");
  auto w = rx->try_recv();
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::TypeMismatch) << "the second record, not the first again";
  auto x = rx->try_recv();
  ASSERT_TRUE(x.ok());
  EXPECT_FALSE(x->has_value());
}

TEST(Stream, ARecordWithAnUnknownTagIsReportedAndSkipped) {
  OwnRing ring(256);
  {
    auto raw = RingProducer::attach(ring.mem);
    ASSERT_TRUE(raw.ok());
    const std::byte junk[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
    ASSERT_TRUE(*raw->try_write(7, junk));
    auto enc = encode(std::int32_t{77});
    ASSERT_TRUE(*raw->try_write(stream_tag::kValue, *enc));
  }  // detaching publishes
  auto rx = Receiver<std::int32_t>::over(ring.mem);
  ASSERT_TRUE(rx.ok());
  auto bad = rx->try_recv();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::Deserialization);
  EXPECT_NE(bad.error().message.find("tag 7"), std::string::npos) << bad.error().message;
  auto good = rx->try_recv();
  ASSERT_TRUE(good.ok() && good->has_value());
  EXPECT_EQ(**good, 77);
}

TEST(Stream, AValueLargerThanARecordIsMessageTooLargeAndNothingElseIsLost) {
  StreamPair<std::string> s;
  Running a, b;
  s = must(make_stream<std::string>({.capacity = 256, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  auto r = get(start(a, [](Sender<std::string>& tx) -> Task<Result<void>> {
    if (auto ok = co_await tx.send("before"); !ok) co_return ok;
    auto big = co_await tx.send(std::string(300, 'x'));
    if (big.ok()) co_return Error::make(ErrorKind::TaskFailed, "oversize accepted");
    if (auto ok = co_await tx.send("after"); !ok) co_return ok;
    tx.close();
    co_return big;
  }(s.tx)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::MessageTooLarge);
  EXPECT_NE(r.error().message.find("305 bytes"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("248 bytes"), std::string::npos) << r.error().message;
  EXPECT_EQ(s.tx.try_send(std::string(300, 'x')).error().kind, ErrorKind::Closed);
  auto out = get(start(b, recv_all(s.rx)));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, (std::vector<std::string>{"before", "after"}));
  // The largest value that fits does fit.
  StreamPair<std::string> t = must(make_stream<std::string>({.capacity = 256}));
  EXPECT_TRUE(*t.tx.try_send(std::string(243, 'y')));  // 5 + 243 = 248 encoded bytes
  EXPECT_EQ(t.tx.try_send(std::string(244, 'y')).error().kind, ErrorKind::MessageTooLarge);
  EXPECT_EQ(t.tx.send_blocking(std::string(244, 'y')).error().kind, ErrorKind::MessageTooLarge);
  auto v = t.rx.try_recv();
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ((*v)->size(), 243u);
}

TEST(Stream, AnInvalidValueIsASerializationErrorAndWritesNothing) {
  auto s = must(make_stream<std::string>({.capacity = 256}));
  ASSERT_TRUE(*s.tx.try_send("ok"));
  auto bad = s.tx.try_send(std::string("\xff\xfe"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::Serialization);
  ASSERT_TRUE(*s.tx.try_send("fine"));
  std::vector<std::string> got;
  while (true) {
    auto v = s.rx.try_recv();
    ASSERT_TRUE(v.ok());
    if (!v->has_value()) break;
    got.push_back(**v);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"ok", "fine"}));
}

// --- zero copy ----------------------------------------------------------------------

TEST(Stream, StringViewsPointIntoTheRingAndStayValidUntilTheNextRecv) {
  OwnRing ring(256);
  auto tx = Sender<std::string>::over(ring.mem);
  auto rx = Receiver<std::string_view>::over(ring.mem);
  ASSERT_TRUE(tx.ok() && rx.ok());
  ASSERT_TRUE(*tx->try_send("alpha"));
  ASSERT_TRUE(*tx->try_send("beta"));
  auto a = rx->try_recv();
  ASSERT_TRUE(a.ok() && a->has_value());
  const std::string_view view = **a;
  EXPECT_EQ(view, "alpha");
  EXPECT_GE(reinterpret_cast<const std::byte*>(view.data()), ring.data());
  EXPECT_LT(reinterpret_cast<const std::byte*>(view.data()), ring.data() + ring.capacity);
  // The sender fills every byte it may; the view's record is still held.
  int more = 0;
  while (*tx->try_send("filler" + std::to_string(more))) ++more;
  EXPECT_GT(more, 0);
  EXPECT_EQ(view, "alpha") << "not overwritten before the next recv";
  auto b = rx->try_recv();
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ(**b, "beta");
  for (int i = 0; i < more; ++i) {
    auto f = rx->try_recv();
    ASSERT_TRUE(f.ok() && f->has_value());
    EXPECT_EQ(**f, "filler" + std::to_string(i));
  }
}

TEST(Stream, ByteSpansAndBorrowingBatchesOnAnExecutor) {
  Running b;
  OwnRing ring(1024, &b.ex);
  auto tx = Sender<std::vector<std::byte>>::over(ring.mem);
  auto rx = Receiver<std::span<const std::byte>>::over(ring.mem);
  ASSERT_TRUE(tx.ok() && rx.ok());
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(*tx->try_send(std::vector<std::byte>(static_cast<std::size_t>(i + 1), std::byte(i))));
  tx->close();
  auto r = get(start(b, [](Receiver<std::span<const std::byte>>& rx, std::byte* lo, std::byte* hi) -> Task<Result<int>> {
    auto batch = co_await rx.recv_batch(100);
    if (!batch) co_return batch.error();
    // Every view of the batch is valid until the next receive call, even
    // across a suspension on something else.
    co_await [] {
      struct Yield {
        bool await_ready() { return false; }
        void await_suspend(coro::coroutine_handle<> h) { Scheduler::current()->post([h]() mutable { h.resume(); }); }
        void await_resume() {}
      };
      return Yield{};
    }();
    int checked = 0;
    for (std::size_t i = 0; i < batch->size(); ++i) {
      auto v = (*batch)[i];
      if (v.size() != i + 1 || v.data() < lo || v.data() >= hi) co_return Error::make(ErrorKind::InvalidArgument, "bad view");
      for (auto byte : v) {
        if (byte != std::byte(i)) co_return Error::make(ErrorKind::InvalidArgument, "bad byte");
      }
      ++checked;
    }
    auto end = co_await rx.recv();
    if (end.ok() || end.error().kind != ErrorKind::Closed) co_return Error::make(ErrorKind::InvalidArgument, "not Closed");
    co_return checked;
  }(*rx, ring.data(), ring.data() + ring.capacity)));
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(*r, 8);
}

// --- try / blocking / batch ------------------------------------------------------------

TEST(Stream, TrySendReportsAFullRingAndTryRecvAnEmptyOne) {
  auto s = must(make_stream<std::int64_t>({.capacity = 128}));
  auto none = s.rx.try_recv();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  int n = 0;
  while (true) {
    auto ok = s.tx.try_send(n);
    ASSERT_TRUE(ok.ok());
    if (!*ok) break;
    ++n;
  }
  EXPECT_EQ(n, 128 / 24);  // i64: 9 encoded bytes, 24 ring bytes per record
  // 5 records and the 8-byte skip record the sixth wrote before finding no room.
  EXPECT_EQ(s.tx.stats().queue_bytes, 128u) << "a failed try_send publishes";
  for (int i = 0; i < n; ++i) {
    auto v = s.rx.try_recv();
    ASSERT_TRUE(v.ok() && v->has_value());
    EXPECT_EQ(**v, i);
  }
  auto empty = s.rx.try_recv();
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has_value());
  EXPECT_EQ(s.rx.stats().queue_bytes, 0u) << "an empty try_recv releases";
  EXPECT_TRUE(*s.tx.try_send(99));
}

TEST(Stream, BlockingSendAndRecvBetweenPlainThreads) {
  constexpr int kCount = 20000;
  auto s = must(make_stream<std::string>({.capacity = 512}));
  std::thread producer([&] {
    for (int i = 0; i < kCount; ++i) ASSERT_TRUE(s.tx.send_blocking(std::to_string(i), 20s).ok());
    s.tx.close();
  });
  int expect = 0;
  for (;;) {
    auto v = s.rx.recv_blocking(20s);
    if (!v) {
      EXPECT_EQ(v.error().kind, ErrorKind::Closed) << describe(v.error());
      break;
    }
    ASSERT_EQ(*v, std::to_string(expect));
    ++expect;
  }
  producer.join();
  EXPECT_EQ(expect, kCount);
  auto late = s.rx.recv_blocking(1ms);
  EXPECT_EQ(late.error().kind, ErrorKind::Closed);
}

TEST(Stream, BlockingCallsTimeOut) {
  auto s = must(make_stream<int>({.capacity = 64}));
  auto r = s.rx.recv_blocking(2ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Timeout);
  EXPECT_NE(r.error().message.find("recv_blocking timed out after 2 ms"), std::string::npos) << r.error().message;
  while (*s.tx.try_send(1)) {
  }
  auto w = s.tx.send_blocking(2, 2ms);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::Timeout);
  EXPECT_EQ(drain(s.rx), std::vector<int>(4, 1)) << "nothing of the timed-out value";
}

TEST(Stream, SendBatchAndRecvBatchMoveManyValuesPerSuspension) {
  constexpr int kCount = 5000;
  StreamPair<std::int32_t> s;
  Running a, b;
  s = must(make_stream<std::int32_t>({.capacity = 1024, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  std::vector<std::int32_t> values(kCount);
  for (int i = 0; i < kCount; ++i) values[static_cast<std::size_t>(i)] = i * 3;
  auto sent = start(a, [](Sender<std::int32_t>& tx, const std::vector<std::int32_t>& v) -> Task<Result<void>> {
    if (auto ok = co_await tx.send_batch(std::span<const std::int32_t>(v).first(10)); !ok) co_return ok;
    if (auto ok = co_await tx.send_batch(std::span<const std::int32_t>(v).subspan(10)); !ok) co_return ok;
    tx.close();
    co_return Result<void>{};
  }(s.tx, values));
  auto got = start(b, [](Receiver<std::int32_t>& rx) -> Task<Result<std::pair<std::vector<std::int32_t>, std::size_t>>> {
    std::vector<std::int32_t> out;
    std::size_t largest = 0;
    for (;;) {
      auto batch = co_await rx.recv_batch(100);
      if (!batch) {
        if (batch.error().kind == ErrorKind::Closed) break;
        co_return batch.error();
      }
      if (batch->empty() || batch->size() > 100) co_return Error::make(ErrorKind::InvalidArgument, "bad batch size");
      largest = std::max(largest, batch->size());
      out.insert(out.end(), batch->begin(), batch->end());
    }
    co_return std::make_pair(std::move(out), largest);
  }(s.rx));
  ASSERT_TRUE(get(sent).ok());
  auto out = get(got);
  ASSERT_TRUE(out.ok()) << describe(out.error());
  EXPECT_EQ(out->first, values);
  EXPECT_GT(out->second, 1u) << "batches carry more than one value";
  EXPECT_LE(s.tx.stats().queue_bytes_high_water, 1024u);
}

TEST(Stream, ABatchWithAValueTooLargeSendsNothing) {
  auto s = must(make_stream<std::string>({.capacity = 128}));
  Running a;
  auto r = get(start(a, [](Sender<std::string>& tx) -> Task<Result<void>> {
    std::vector<std::string> v{"a", std::string(200, 'b'), "c"};
    co_return co_await tx.send_batch(v);
  }(s.tx)));
  // Made without sender_scheduler: InvalidArgument comes first; use a matching stream.
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidArgument);
  StreamPair<std::string> t = must(make_stream<std::string>({.capacity = 128, .sender_scheduler = &a.ex}));
  auto big = get(start(a, [](Sender<std::string>& tx) -> Task<Result<void>> {
    std::vector<std::string> v{"a", std::string(200, 'b'), "c"};
    co_return co_await tx.send_batch(v);
  }(t.tx)));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().kind, ErrorKind::MessageTooLarge);
  EXPECT_NE(big.error().message.find("value #1"), std::string::npos) << big.error().message;
  auto none = t.rx.try_recv();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(Stream, ARecvBatchStopsAtABadRecordAndReportsItNext) {
  Running b;
  OwnRing ring(1024, &b.ex);
  {
    auto raw = RingProducer::attach(ring.mem);
    ASSERT_TRUE(raw.ok());
    for (std::int32_t v : {1, 2}) ASSERT_TRUE(*raw->try_write(stream_tag::kValue, *encode(v)));
    ASSERT_TRUE(*raw->try_write(stream_tag::kValue, *encode(std::string("oops"))));
    ASSERT_TRUE(*raw->try_write(stream_tag::kValue, *encode(std::int32_t{3})));
    raw->close();
  }
  auto rx = Receiver<std::int32_t>::over(ring.mem);
  ASSERT_TRUE(rx.ok());
  auto r = get(start(b, [](Receiver<std::int32_t>& rx) -> Task<Result<std::vector<std::int32_t>>> {
    std::vector<std::int32_t> seen;
    auto first = co_await rx.recv_batch(10);
    if (!first) co_return first.error();
    seen = *first;
    auto second = co_await rx.recv_batch(10);
    if (second.ok() || second.error().kind != ErrorKind::TypeMismatch) co_return Error::make(ErrorKind::InvalidArgument, "expected TypeMismatch");
    auto third = co_await rx.recv_batch(10);
    if (!third) co_return third.error();
    seen.insert(seen.end(), third->begin(), third->end());
    auto end = co_await rx.recv_batch(10);
    if (end.ok() || end.error().kind != ErrorKind::Closed) co_return Error::make(ErrorKind::InvalidArgument, "expected Closed");
    co_return seen;
  }(*rx)));
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(*r, (std::vector<std::int32_t>{1, 2, 3}));
}

// One tag-0 record holding the concatenation of `parts` (each an encoded value, or junk).
void write_packed(void* ring, std::initializer_list<std::vector<std::byte>> parts) {
  auto raw = RingProducer::attach(ring);
  ASSERT_TRUE(raw.ok());
  std::vector<std::byte> payload;
  for (const auto& p : parts) payload.insert(payload.end(), p.begin(), p.end());
  ASSERT_TRUE(*raw->try_write(stream_tag::kValue, payload));
  raw->publish();
}

TEST(Stream, AValueOfAnotherTypeInsideARecordIsSkippedAndTheValuesAfterItArrive) {
  OwnRing ring(1024, nullptr);
  write_packed(ring.mem, {*encode(std::int32_t{1}), *encode(std::string("oops")), *encode(std::int32_t{2})});
  auto rx = Receiver<std::int32_t>::over(ring.mem);
  ASSERT_TRUE(rx.ok());
  auto first = rx->try_recv();
  ASSERT_TRUE(first.ok() && *first);
  EXPECT_EQ(**first, 1);
  auto bad = rx->try_recv();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::TypeMismatch);
  EXPECT_EQ(bad.error().actual, "string");
  auto second = rx->try_recv();
  ASSERT_TRUE(second.ok() && *second) << "the value after the mismatch is read";
  EXPECT_EQ(**second, 2);
  EXPECT_EQ(rx->stats().messages_received, 2u);
}

TEST(Stream, BytesThatAreNoValueEndTheirRecordButNotTheStream) {
  OwnRing ring(1024, nullptr);
  {
    auto raw = RingProducer::attach(ring.mem);
    ASSERT_TRUE(raw.ok());
    std::vector<std::byte> first = *encode(std::int32_t{1});
    first.push_back(std::byte{0xEE});  // no wire tag
    first.push_back(std::byte{0x06});
    ASSERT_TRUE(*raw->try_write(stream_tag::kValue, first));
    ASSERT_TRUE(*raw->try_write(stream_tag::kValue, *encode(std::int32_t{3})));
    ASSERT_TRUE(*raw->try_write(stream_tag::kValue, {}));  // a value record carries at least one value
    ASSERT_TRUE(*raw->try_write(stream_tag::kValue, *encode(std::int32_t{4})));
    raw->close();
  }
  auto rx = Receiver<std::int32_t>::over(ring.mem);
  ASSERT_TRUE(rx.ok());
  auto one = rx->recv_blocking();
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, 1);
  auto junk = rx->recv_blocking();
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.error().kind, ErrorKind::Deserialization);
  auto three = rx->recv_blocking();
  ASSERT_TRUE(three.ok()) << "the junk took only the rest of its record";
  EXPECT_EQ(*three, 3);
  auto empty = rx->recv_blocking();
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("empty stream record"), std::string::npos) << empty.error().message;
  auto four = rx->recv_blocking();
  ASSERT_TRUE(four.ok());
  EXPECT_EQ(*four, 4);
  EXPECT_EQ(rx->recv_blocking().error().kind, ErrorKind::Closed);
}

TEST(Stream, AReceiverHandsBackRoomWhileItIsStillReadingARecordsValues) {
  // A 128-byte ring: the sender's batches fill it, and it can only go on if
  // the receiver releases what it finished while it takes the values of a
  // record one by one (release_to keeps that record).
  constexpr int kCount = 5000;
  Running a, b;
  auto s = must(make_stream<std::int64_t>({.capacity = 128, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  std::vector<std::int64_t> values(kCount);
  for (int i = 0; i < kCount; ++i) values[static_cast<std::size_t>(i)] = i * 7919;
  auto sent = start(a, [](Sender<std::int64_t>& tx, const std::vector<std::int64_t>& v) -> Task<Result<void>> {
    if (auto ok = co_await tx.send_batch(v); !ok) co_return ok.error();
    tx.close();
    co_return Result<void>{};
  }(s.tx, values));
  auto got = get(start(b, recv_all(s.rx)));
  ASSERT_TRUE(get(sent).ok());
  ASSERT_TRUE(got.ok()) << describe(got.error());
  EXPECT_EQ(*got, values);
}

// --- topologies and stats ----------------------------------------------------------------

TEST(Stream, SenderAndReceiverOnOneExecutor) {
  constexpr int kCount = 20000;
  StreamPair<std::int64_t> s;
  Running a;
  s = must(make_stream<std::int64_t>({.capacity = 128, .sender_scheduler = &a.ex, .receiver_scheduler = &a.ex}));
  std::vector<std::int64_t> values(kCount);
  for (int i = 0; i < kCount; ++i) values[static_cast<std::size_t>(i)] = i;
  auto got = start(a, recv_all(s.rx));
  auto sent = start(a, send_all(s.tx, values));
  ASSERT_TRUE(get(sent).ok());
  auto out = get(got);
  ASSERT_TRUE(out.ok()) << describe(out.error());
  EXPECT_EQ(*out, values);
}

TEST(Stream, StatsCountMessagesBytesAndQueueDepth) {
  constexpr int kCount = 1000;
  StreamPair<std::string> s;
  Running a, b;
  s = must(make_stream<std::string>({.capacity = 1024, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  std::vector<std::string> values;
  std::uint64_t bytes = 0;
  for (int i = 0; i < kCount; ++i) {
    values.push_back(std::string(static_cast<std::size_t>(i % 50), 'z'));
    bytes += 5 + static_cast<std::uint64_t>(i % 50);
  }
  auto sent = start(a, send_all(s.tx, values));
  auto got = start(b, recv_all(s.rx));
  ASSERT_TRUE(get(sent).ok());
  ASSERT_TRUE(get(got).ok());
  // The receiver's last release is deferred to the end of its handler: wait for it.
  ASSERT_TRUE(eventually([&] { return s.rx.stats().queue_bytes == 0; }));
  const auto st = s.tx.stats();
  EXPECT_EQ(st.capacity, 1024u);
  EXPECT_EQ(st.messages_sent, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(st.messages_received, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(st.bytes_sent, bytes);
  EXPECT_EQ(st.bytes_received, bytes);
  EXPECT_GT(st.queue_bytes_high_water, 0u);
  EXPECT_LE(st.queue_bytes_high_water, 1024u);
}

TEST(Stream, EndpointsMadeOverAForeignRingKeepItAlive) {
  auto keep = std::make_shared<int>(0);
  void* mem = shared_alloc(ring_bytes(256)).value();
  ASSERT_TRUE(ring_init(mem, 256).ok());
  std::shared_ptr<void> owner(mem, [keep](void* p) { shared_free(p); });
  std::weak_ptr<void> watch = owner;
  {
    auto tx = Sender<int>::over(mem, owner);
    auto rx = Receiver<int>::over(mem, owner);
    owner.reset();
    ASSERT_TRUE(tx.ok() && rx.ok());
    auto second = Sender<int>::over(mem);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().kind, ErrorKind::InvalidArgument) << "single producer";
    ASSERT_TRUE(*tx->try_send(5));
    auto v = rx->try_recv();
    ASSERT_TRUE(v.ok() && v->has_value());
    EXPECT_EQ(**v, 5);
    EXPECT_FALSE(watch.expired());
  }
  EXPECT_TRUE(watch.expired());
}
