// Test that the header is self-contained: it comes first.
#include "workers/pool.hpp"

#include "tests/pool_fixture.hpp"
#include "tests/ring_fixture.hpp"
#include "workers/asio_interop.hpp"

#include <asio/steady_timer.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <stdexcept>
#include <thread>

using namespace ferry;
using namespace std::chrono_literals;

namespace pool_test {

struct Point {
  std::int32_t x = 0;
  std::int32_t y = 0;
};
FERRY_STRUCT(Point, x, y)

int add(int a, int b) { return a + b; }
FERRY_EXPORT(add);

std::string greet(std::string name, std::uint32_t times) {
  std::string out;
  for (std::uint32_t i = 0; i < times; ++i) out += "hi " + name + ";";
  return out;
}
FERRY_EXPORT(greet);

Point flip(Point p) { return {p.y, p.x}; }
FERRY_EXPORT(flip);

std::vector<double> scale(std::vector<double> v, double k) {
  for (auto& x : v) x *= k;
  return v;
}
FERRY_EXPORT(scale);

void nothing() {}
FERRY_EXPORT(nothing);

int fails(std::string why) { throw std::runtime_error(why); }
FERRY_EXPORT(fails);

Result<int> refuses(int v) {
  if (v < 0) return Error::make(ErrorKind::InvalidArgument, "negative input " + std::to_string(v));
  return v * 2;
}
FERRY_EXPORT(refuses);

std::uint64_t which_thread() { return std::hash<std::thread::id>{}(std::this_thread::get_id()); }
FERRY_EXPORT(which_thread);

int crash(std::string why) { crash_worker(why); }
FERRY_EXPORT(crash);

// A coroutine task: waits on an Asio timer on its worker's executor.
Task<int> later(int v) {
  auto* ex = dynamic_cast<Executor*>(Scheduler::current());
  asio::steady_timer t(ex->asio(), 1ms);
  co_await t.async_wait(use_task);
  co_return v + 1;
}
FERRY_EXPORT(later);

// Holds its worker's slot until the gate opens or the call is cancelled.
std::atomic<bool> gate{false};
std::atomic<int> saw_cancel{0};
std::atomic<int> started{0};
Task<int> hold(int v, CancelToken stop) {
  started.fetch_add(1);
  auto* ex = dynamic_cast<Executor*>(Scheduler::current());
  while (!gate.load()) {
    if (stop.is_cancelled()) {
      saw_cancel.fetch_add(1);
      co_return -1;
    }
    asio::steady_timer t(ex->asio(), 1ms);  // poll the gate without blocking the worker
    co_await t.async_wait(use_task);
  }
  co_return v;
}
FERRY_EXPORT(hold);

}  // namespace pool_test

using namespace pool_test;
using ferry::test::eventually;
using ferry::test::ExternalPeer;
using ferry::test::call_record;
using ferry::test::read_answer;

namespace {
struct GateReset {
  GateReset() { gate = false; saw_cancel = 0; started = 0; }
  ~GateReset() { gate = true; }
};
}  // namespace

TEST(Pool, CallsMarshalArgumentsAndResultsOfManyTypes) {
  WorkerPool pool({.workers = 2});
  EXPECT_EQ(*pool.call<int>("add", 2, 40).get(), 42);
  EXPECT_EQ(*pool.call<std::string>("greet", std::string("ann"), 2u).get(), "hi ann;hi ann;");
  auto p = pool.call<Point>("flip", Point{1, 2}).get();
  ASSERT_TRUE(p.ok()) << p.error().describe();
  EXPECT_EQ(p->x, 2);
  EXPECT_EQ(p->y, 1);
  EXPECT_EQ(*pool.call<std::vector<double>>("scale", std::vector<double>{1.5, -2}, 2.0).get(),
            (std::vector<double>{3.0, -4.0}));
  EXPECT_TRUE(pool.call<void>("nothing").get().ok());
  EXPECT_EQ(*pool.call<int>("later", 9).get(), 10);
}

TEST(Pool, ACoroutineAwaitsACallWithoutBlockingItsExecutor) {
  WorkerPool pool({.workers = 2});
  Executor ex;
  std::thread t([&] { ex.run(); });
  std::promise<Result<int>> out;
  ex.spawn([](WorkerPool& p) -> Task<int> {
    int a = *co_await p.call<int>("add", 1, 2);
    int b = *co_await p.call<int>("later", a);
    co_return b;
  }(pool), [&](Result<int> r) { out.set_value(std::move(r)); });
  auto f = out.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(*f.get(), 4);
  ex.stop();
  t.join();
}

TEST(Pool, UnknownTaskNameIsATypedError) {
  WorkerPool pool({.workers = 1});
  auto r = pool.call<int>("no_such_task", 1).get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::UnknownTask);
  EXPECT_NE(r.error().message.find("no_such_task"), std::string::npos);
}

TEST(Pool, WrongArgumentTypesGiveTypeMismatch) {
  WorkerPool pool({.workers = 1});
  auto r = pool.call<int>("add", std::string("two"), 3).get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::TypeMismatch);
  EXPECT_NE(r.error().message.find("arguments of add"), std::string::npos) << r.error().message;
  auto count = pool.call<int>("add", 1).get();
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.error().kind, ErrorKind::TypeMismatch) << count.error().describe();
  auto result_type = pool.call<std::string>("add", 1, 2).get();
  ASSERT_FALSE(result_type.ok());
  EXPECT_EQ(result_type.error().kind, ErrorKind::TypeMismatch);
}

TEST(Pool, ATaskThatThrowsReachesTheCallerAsTaskFailedWithItsMessage) {
  WorkerPool pool({.workers = 1});
  auto r = pool.call<int>("fails", std::string("disk on fire")).get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::TaskFailed);
  EXPECT_EQ(r.error().message, "disk on fire");
  EXPECT_NE(r.error().origin.find("fails"), std::string::npos) << r.error().origin;
}

TEST(Pool, AnErrorReturnedByATaskKeepsItsKind) {
  WorkerPool pool({.workers = 1});
  auto r = pool.call<int>("refuses", -3).get();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(r.error().message, "negative input -3");
  EXPECT_EQ(*pool.call<int>("refuses", 4).get(), 8);
}

TEST(Pool, CancellingACallEndsItAndTheRunningCoroutineSeesIt) {
  GateReset reset;
  WorkerPool pool({.workers = 1});
  CancelSource cancel;
  auto call = pool.call_with<int>({.cancel = cancel.token()}, "hold", 5);
  ASSERT_TRUE(eventually([] { return started.load() == 1; }));
  cancel.cancel();
  auto r = call.get(10s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Cancelled);
  EXPECT_TRUE(eventually([] { return saw_cancel.load() == 1; })) << "the task never saw the cancellation";
}

TEST(Pool, ACallCancelledBeforeItStartsNeverRuns) {
  GateReset reset;
  WorkerPool pool({.workers = 1, .max_in_flight = 1});
  auto first = pool.call<int>("hold", 1);  // holds the only slot
  ASSERT_TRUE(eventually([] { return started.load() == 1; }));
  CancelSource cancel;
  auto queued = pool.call_with<int>({.cancel = cancel.token()}, "hold", 2);
  cancel.cancel();
  auto r = queued.get(10s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Cancelled);
  gate = true;
  EXPECT_EQ(*first.get(10s), 1);
  EXPECT_EQ(*pool.call<int>("add", 1, 2).get(10s), 3);  // the worker went past it
  EXPECT_EQ(started.load(), 1) << "the cancelled call ran anyway";
}

TEST(Pool, ATimedOutCallEndsWithTimeoutAndIsCancelledOnTheWorker) {
  GateReset reset;
  WorkerPool pool({.workers = 1});
  auto r = pool.call_with<int>({.timeout = 20ms}, "hold", 5).get(10s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Timeout);
  EXPECT_TRUE(eventually([] { return saw_cancel.load() == 1; }));
}

TEST(Pool, ABoundedQueueAnswersQueueFullInsteadOfGrowing) {
  GateReset reset;
  WorkerPool pool({.workers = 1, .max_in_flight = 1, .max_queued = 2});
  auto running = pool.call<int>("hold", 1);
  auto q1 = pool.call<int>("hold", 2);
  auto q2 = pool.call<int>("hold", 3);
  auto refused = pool.call<int>("hold", 4).get(10s);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::QueueFull);
  EXPECT_NE(refused.error().message.find("2 calls"), std::string::npos) << refused.error().message;
  EXPECT_EQ(pool.stats().queued, 2u);
  gate = true;
  EXPECT_EQ(*running.get(10s), 1);
  EXPECT_EQ(*q1.get(10s), 2);
  EXPECT_EQ(*q2.get(10s), 3);
  EXPECT_EQ(pool.stats().queued_high_water, 2u);
}

TEST(Pool, IdleWorkersTakeQueuedCallsAndLoadIsSpread) {
  GateReset reset;
  WorkerPool pool({.workers = 2, .max_in_flight = 1, .max_queued = 100});
  std::vector<Call<int>> calls;
  for (int i = 0; i < 10; ++i) calls.push_back(pool.call<int>("hold", i));
  ASSERT_TRUE(eventually([&] {
    auto s = pool.stats();
    return s.workers[0].in_flight == 1 && s.workers[1].in_flight == 1;
  })) << "both workers should hold one call each";
  EXPECT_EQ(pool.stats().queued, 8u);
  gate = true;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(*calls[i].get(10s), i);
  auto s = pool.stats();
  EXPECT_GT(s.workers[0].calls_completed, 0u);
  EXPECT_GT(s.workers[1].calls_completed, 0u);
}

TEST(Pool, SameAffinityKeyAlwaysRunsOnTheSameWorker) {
  WorkerPool pool({.workers = 2});
  const auto a = *pool.call_with<std::uint64_t>({.affinity = 7}, "which_thread").get();
  const auto b = *pool.call_with<std::uint64_t>({.affinity = 8}, "which_thread").get();
  EXPECT_NE(a, b);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(*pool.call_with<std::uint64_t>({.affinity = 7}, "which_thread").get(), a);
    EXPECT_EQ(*pool.call_with<std::uint64_t>({.affinity = 8}, "which_thread").get(), b);
  }
}

TEST(Pool, AWorkerCrashFailsItsCallsWithWorkerCrashedAndThePoolRecovers) {
  GateReset reset;
  WorkerPool pool({.workers = 2});
  auto pending = pool.call_with<int>({.affinity = 0}, "hold", 1);  // on worker 0, blocked
  ASSERT_TRUE(eventually([&] { return pool.stats().workers[0].in_flight == 1; }));
  auto crashed = pool.call_with<int>({.affinity = 0}, "crash", std::string("test crash")).get(10s);
  ASSERT_FALSE(crashed.ok());
  EXPECT_EQ(crashed.error().kind, ErrorKind::WorkerCrashed);
  EXPECT_NE(crashed.error().message.find("test crash"), std::string::npos);
  auto other = pending.get(10s);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().kind, ErrorKind::WorkerCrashed);
  ASSERT_TRUE(eventually([&] { return pool.stats().workers[0].restarts == 1 && pool.stats().workers[0].alive; }));
  EXPECT_EQ(*pool.call_with<int>({.affinity = 0}, "add", 1, 1).get(10s), 2);
  EXPECT_EQ(*pool.call_with<int>({.affinity = 1}, "add", 2, 2).get(10s), 4);
}

TEST(Pool, DrainShutdownLetsAcceptedCallsFinish) {
  GateReset reset;
  WorkerPool pool({.workers = 2});
  std::vector<Call<int>> calls;
  for (int i = 0; i < 6; ++i) calls.push_back(pool.call<int>("hold", i));
  std::thread opener([] {
    std::this_thread::sleep_for(20ms);  // makes shutdown wait for real
    gate = true;
  });
  pool.shutdown(ShutdownMode::Drain);
  opener.join();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(*calls[i].get(1s), i);
  auto late = pool.call<int>("add", 1, 2).get(1s);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().kind, ErrorKind::Closed);
}

TEST(Pool, CancelShutdownFailsEveryPendingCall) {
  GateReset reset;
  WorkerPool pool({.workers = 2, .max_in_flight = 1});
  std::vector<Call<int>> calls;
  for (int i = 0; i < 6; ++i) calls.push_back(pool.call<int>("hold", i));
  pool.shutdown(ShutdownMode::Cancel);
  for (auto& c : calls) {
    auto r = c.get(1s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::Cancelled);
  }
}

TEST(Pool, DestroyingAPoolWithBlockedTasksDoesNotHang) {
  GateReset reset;
  Call<int> survivor = [] {
    WorkerPool pool({.workers = 2});
    for (int i = 0; i < 4; ++i) (void)pool.call<int>("hold", i);
    return pool.call<int>("hold", 99);
  }();
  auto r = survivor.get(1s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Cancelled);
}

TEST(PoolStress, ManyCallsFromSeveralThreadsAllComplete) {
  WorkerPool pool({.workers = 2, .max_queued = 1u << 20});
  const int per_thread = 20000;
  std::vector<std::thread> callers;
  std::atomic<std::int64_t> sum{0};
  for (int t = 0; t < 3; ++t) {
    callers.emplace_back([&, t] {
      std::vector<Call<int>> calls;
      for (int i = 0; i < per_thread; ++i) calls.push_back(pool.call<int>("add", i, t));
      for (auto& c : calls) {
        auto r = c.get(30s);
        ASSERT_TRUE(r.ok()) << r.error().describe();
        sum += *r;
      }
    });
  }
  for (auto& c : callers) c.join();
  std::int64_t expected = 0;
  for (int t = 0; t < 3; ++t) expected += std::int64_t{per_thread} * (per_thread - 1) / 2 + std::int64_t{t} * per_thread;
  EXPECT_EQ(sum.load(), expected);
}

namespace pool_test {

Task<void> shout(Receiver<std::string> in, Sender<std::string> out, std::string suffix) {
  while (auto v = co_await in.recv()) {
    std::string loud = *v;
    for (auto& c : loud) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    loud += suffix;
    if (!co_await out.send(loud)) co_return;
  }
}
FERRY_EXPORT_STREAM(shout);

Task<void> plus_one(Receiver<std::uint64_t> in, Sender<std::uint64_t> out) {
  while (auto v = co_await in.recv()) {
    const std::uint64_t next = *v + 1;
    if (!co_await out.send(next)) co_return;
  }
}
FERRY_EXPORT_STREAM(plus_one);

Task<void> dies_on_zero(Receiver<int> in, Sender<int> out) {
  while (auto v = co_await in.recv()) {
    if (*v == 0) crash_worker("zero received");
    if (!co_await out.send(*v)) co_return;
  }
}
FERRY_EXPORT_STREAM(dies_on_zero);

}  // namespace pool_test

TEST(PoolStream, AStreamTaskTransformsEverythingSentInOrder) {
  WorkerPool pool({.workers = 2});
  auto s = pool.stream<std::string, std::string>("shout", std::string("!"));
  ASSERT_TRUE(s.ok()) << s.error().describe();
  const int n = 20000;
  std::thread producer([&] {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(s->tx.send_blocking("msg " + std::to_string(i), 10s).ok());
    s->tx.close();
  });
  for (int i = 0; i < n; ++i) {
    auto v = s->rx.recv_blocking(10s);
    ASSERT_TRUE(v.ok()) << v.error().describe();
    ASSERT_EQ(*v, "MSG " + std::to_string(i) + "!");
  }
  auto end = s->rx.recv_blocking(10s);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.error().kind, ErrorKind::Closed);
  producer.join();
  EXPECT_TRUE(s->done.get(10s).ok());
}

TEST(PoolStream, UnknownStreamTaskEndsTheStreamAndItsCompletionWithUnknownTask) {
  WorkerPool pool({.workers = 1});
  auto s = pool.stream<int, int>("no_such_stream");
  ASSERT_TRUE(s.ok());
  auto done = s->done.get(10s);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, ErrorKind::UnknownTask);
  auto v = s->rx.recv_blocking(10s);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().kind, ErrorKind::UnknownTask);
  auto wrong = pool.call<int>("shout", std::string("x"));
  EXPECT_EQ(wrong.get(10s).error().kind, ErrorKind::InvalidArgument);
}

TEST(PoolStream, ACrashedWorkerEndsItsStreamsWithWorkerCrashed) {
  WorkerPool pool({.workers = 2});
  auto s = pool.stream_with<int, int>({.affinity = 1}, "dies_on_zero");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->tx.send_blocking(5, 10s).ok());
  EXPECT_EQ(*s->rx.recv_blocking(10s), 5);
  ASSERT_TRUE(s->tx.send_blocking(0, 10s).ok());
  auto v = s->rx.recv_blocking(10s);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().kind, ErrorKind::WorkerCrashed);
  auto done = s->done.get(10s);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, ErrorKind::WorkerCrashed);
  auto send = s->tx.send_blocking(1, 10s);
  ASSERT_FALSE(send.ok());
  EXPECT_EQ(send.error().kind, ErrorKind::WorkerCrashed);
  EXPECT_EQ(*pool.call_with<int>({.affinity = 1}, "add", 2, 3).get(10s), 5) << "the worker was replaced";
}

TEST(PoolStress, AMillionMessagesThroughAPipelineAcrossEveryWorker) {
  // caller -> worker 0 -> relay -> worker 1 -> relay ... -> caller; each stage
  // adds one. The relays are coroutines on one client executor, so every hop
  // suspends on backpressure instead of blocking.
  const unsigned workers = 2;
  WorkerPool pool({.workers = workers});
  Executor ex;
  std::thread ex_thread([&] { ex.run(); });
  // At least a million even where FERRY_STRESS_SCALE shrinks other stress
  // tests (TSan): this is the pipeline the runtime is judged on.
  const std::uint64_t n = std::max<std::uint64_t>(1'000'000, ferry::test::scaled(1'000'000));
  std::promise<Result<std::uint64_t>> out;
  ex.spawn([](WorkerPool& p, unsigned stages, std::uint64_t count) -> Task<std::uint64_t> {
    std::vector<Stream<std::uint64_t, std::uint64_t>> s;
    for (unsigned i = 0; i < stages; ++i) {
      auto opened = p.stream_with<std::uint64_t, std::uint64_t>({.capacity = 4096, .affinity = i}, "plus_one");
      if (!opened) throw std::runtime_error(opened.error().describe());
      s.push_back(std::move(*opened));
    }
    auto relay = [](Receiver<std::uint64_t>& from, Sender<std::uint64_t>& to) -> Task<void> {
      while (auto v = co_await from.recv()) {
        if (!co_await to.send(*v)) co_return;
      }
      to.close();
    };
    auto* sched = dynamic_cast<Executor*>(Scheduler::current());
    for (unsigned i = 0; i + 1 < stages; ++i) sched->spawn(relay(s[i].rx, s[i + 1].tx));
    auto feed = [](Sender<std::uint64_t>& to, std::uint64_t count) -> Task<void> {
      for (std::uint64_t i = 0; i < count; ++i) {
        if (!co_await to.send(i)) co_return;
      }
      to.close();
    };
    sched->spawn(feed(s[0].tx, count));
    std::uint64_t expected = stages, received = 0;
    while (auto v = co_await s[stages - 1].rx.recv()) {
      if (*v != expected) throw std::runtime_error("out of order: got " + std::to_string(*v));
      ++expected;
      ++received;
    }
    co_return received;
  }(pool, workers, n), [&](Result<std::uint64_t> r) { out.set_value(std::move(r)); });
  auto f = out.get_future();
  ASSERT_EQ(f.wait_for(300s), std::future_status::ready);
  auto received = f.get();
  ASSERT_TRUE(received.ok()) << received.error().describe();
  EXPECT_EQ(*received, n);
  ex.stop();
  ex_thread.join();
}

// External mode: another producer (in the browser, JavaScript) drives the
// rings through web/PROTOCOL.md; here a test thread plays that part
// (tests/pool_fixture.hpp).

TEST(PoolExternal, RingsWrittenByAnotherProducerAreServedAndAnswered) {
  ExternalPeer peer;
  WorkerPool pool({.workers = 2, .external = true,
                   .on_worker_started = [&](const WorkerPool& p, unsigned i) { peer.on_started(p, i); }});
  ASSERT_EQ(peer.announcements, 2u);
  auto tx = RingProducer::attach(peer.rings[1].request);
  auto rx = RingConsumer::attach(peer.rings[1].response);
  ASSERT_TRUE(tx.ok() && rx.ok());
  ASSERT_TRUE(*tx->try_write(protocol::kCallTag, call_record(7, "add", encode(std::tuple<int, int>{2, 40}).value())));
  ASSERT_TRUE(*tx->try_write(protocol::kCallTag, call_record(8, "nope", encode(std::tuple<>{}).value())));
  tx->publish();
  auto [id, value] = read_answer(*rx);
  EXPECT_EQ(id, 7u);
  EXPECT_EQ(decode<int>(value).value(), 42);
  auto [id2, value2] = read_answer(*rx);
  EXPECT_EQ(id2, 8u);
  auto unknown = decode<Result<int>>(value2).value();
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().kind, ErrorKind::UnknownTask);
  // C++ callers are refused: the rings have another producer.
  auto refused = pool.call<int>("add", 1, 2).get();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(pool.stats().workers[1].calls_completed, 2u);
  EXPECT_EQ(pool.stats().workers[1].in_flight, 0u);
}

// Values larger than a ring record, with the default 64 KiB rings: a C++
// caller's request goes by the queue (never through a ring), its answer
// straight to it; a JavaScript peer's travel in part records.
TEST(Pool, ValuesOfMegabytesNeedNoTuning) {
  WorkerPool pool({.workers = 2});
  std::vector<double> big(512 * 1024);  // 4 MiB
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<double>(i);
  auto r = pool.call<std::vector<double>>("scale", big, 2.0).get(30s);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  ASSERT_EQ(r->size(), big.size());
  for (std::size_t i = 0; i < big.size(); i += 4093) EXPECT_EQ((*r)[i], 2.0 * static_cast<double>(i));
  auto s = pool.call<std::string>("greet", std::string(100000, 'x'), 20u).get(30s);
  ASSERT_TRUE(s.ok()) << s.error().describe();
  EXPECT_EQ(s->size(), 20u * 100004u);  // "hi " + name + ";"
}

TEST(PoolExternal, RecordsLargerThanTheRingTravelInParts) {
  ExternalPeer peer;
  WorkerPool pool({.workers = 1, .external = true,
                   .on_worker_started = [&](const WorkerPool& p, unsigned i) { peer.on_started(p, i); }});
  auto tx = RingProducer::attach(peer.rings[0].request);
  auto rx = RingConsumer::attach(peer.rings[0].response);
  ASSERT_TRUE(tx.ok() && rx.ok());
  std::vector<double> big(300 * 1000);  // 2.4 MB: about 150 parts of a quarter ring each way
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<double>(i % 1000);
  const auto record = call_record(5, "scale", encode(std::tuple<std::vector<double>, double>{big, 0.5}).value());
  // The request, written part by part as the worker makes room, while this
  // thread also reads the answer's parts (both rings are smaller than either).
  std::vector<std::vector<std::byte>> parts;
  protocol::split_parts(protocol::kCallTag, record, tx->max_payload(), [&](std::vector<std::byte> p) { parts.push_back(std::move(p)); });
  ASSERT_GT(parts.size(), 30u);
  std::thread writer([&] {
    for (auto& p : parts) {
      while (!*tx->try_write(protocol::kRequestPartTag, p)) {
        tx->publish();
        std::this_thread::sleep_for(50us);
      }
    }
    tx->publish();
  });
  protocol::PartReader answer{protocol::kResponsePartTag};
  std::size_t answer_parts = 0;
  for (bool whole = false; !whole;) {
    auto rec = rx->read(10s);
    ASSERT_TRUE(rec.ok()) << rec.error().describe();
    ASSERT_EQ(rec->tag, protocol::kResponsePartTag);
    ++answer_parts;
    auto got = answer.add(rec->payload);
    ASSERT_TRUE(got.ok()) << got.error().describe();
    whole = *got;
    rx->release();
  }
  writer.join();
  EXPECT_GT(answer_parts, 30u);
  ASSERT_EQ(answer.tag(), protocol::kResultTag);
  std::uint64_t id = 0;
  std::memcpy(&id, answer.bytes().data(), 8);
  EXPECT_EQ(id, 5u);
  auto value = decode<std::vector<double>>(answer.bytes().subspan(8));
  ASSERT_TRUE(value.ok()) << value.error().describe();
  ASSERT_EQ(value->size(), big.size());
  for (std::size_t i = 0; i < big.size(); i += 997) EXPECT_EQ((*value)[i], 0.5 * static_cast<double>(i % 1000));
  // Small records after it are whole again, and the worker serves them.
  ASSERT_TRUE(*tx->try_write(protocol::kCallTag, call_record(6, "add", encode(std::tuple<int, int>{1, 2}).value())));
  tx->publish();
  auto [id2, sum] = read_answer(*rx);
  EXPECT_EQ(id2, 6u);
  EXPECT_EQ(decode<int>(sum).value(), 3);
}

TEST(PoolExternal, PartsDoNotNest) {
  // A first part whose record would itself be a part is refused, and the
  // reader takes the next record from its start.
  protocol::PartReader reader{protocol::kRequestPartTag};
  auto first_part = [](std::uint32_t tag, std::uint64_t length) {
    std::vector<std::byte> b(16);
    std::memcpy(b.data(), &tag, 4);
    std::memcpy(b.data() + 8, &length, 8);
    return b;
  };
  auto nested = reader.add(first_part(protocol::kRequestPartTag, 8));
  ASSERT_FALSE(nested.ok());
  EXPECT_EQ(nested.error().kind, ErrorKind::Deserialization);
  EXPECT_NE(nested.error().message.find("parts do not nest"), std::string::npos) << nested.error().message;
  auto whole = reader.add(first_part(protocol::kCallTag, 0));
  ASSERT_TRUE(whole.ok()) << whole.error().describe();
  EXPECT_TRUE(*whole);
  EXPECT_EQ(reader.tag(), protocol::kCallTag);
  // The response direction's reader refuses its own part tag the same way.
  protocol::PartReader answers{protocol::kResponsePartTag};
  EXPECT_FALSE(answers.add(first_part(protocol::kResponsePartTag, 4)).ok());
}

TEST(PoolExternal, AMalformedPartEndsTheWorkerWithAReason) {
  ExternalPeer peer;
  WorkerPool pool({.workers = 1, .external = true,
                   .on_worker_started = [&](const WorkerPool& p, unsigned i) { peer.on_started(p, i); }});
  auto tx = RingProducer::attach(peer.rings[0].request);
  auto rx = RingConsumer::attach(peer.rings[0].response);
  // A first part announcing 100 bytes, then a part of 200.
  std::vector<std::byte> first(16 + 8);
  const std::uint32_t tag = protocol::kCallTag;
  const std::uint64_t length = 100;
  std::memcpy(first.data(), &tag, 4);
  std::memcpy(first.data() + 8, &length, 8);
  ASSERT_TRUE(*tx->try_write(protocol::kRequestPartTag, first));
  ASSERT_TRUE(*tx->try_write(protocol::kRequestPartTag, std::vector<std::byte>(200)));
  tx->publish();
  auto why = rx->read(10s);
  ASSERT_TRUE(why.ok()) << why.error().describe();
  EXPECT_EQ(why->tag, protocol::kCrashTag);
  EXPECT_NE(decode<std::string>(why->payload).value().find("runs past the 100 bytes its record announced"), std::string::npos);
  rx->release();
  peer.await(2, 0);
  EXPECT_EQ(pool.stats().workers[0].restarts, 1u);
}

TEST(PoolExternal, ACrashAbortsTheWorkersRingsAndAnnouncesTheReplacement) {
  ExternalPeer peer;
  WorkerPool pool({.workers = 1, .external = true,
                   .on_worker_started = [&](const WorkerPool& p, unsigned i) { peer.on_started(p, i); }});
  auto old = peer.rings[0];
  {
    auto tx = RingProducer::attach(old.request);
    auto rx = RingConsumer::attach(old.response);
    ASSERT_TRUE(*tx->try_write(protocol::kCallTag, call_record(1, "crash", encode(std::tuple<std::string>{"boom"}).value())));
    tx->publish();
    // The dying worker's last record says why (web/PROTOCOL.md), then the ring ends.
    auto why = rx->read(std::chrono::seconds(10));
    ASSERT_TRUE(why.ok()) << why.error().message;
    EXPECT_EQ(why->tag, protocol::kCrashTag);
    EXPECT_EQ(decode<std::string>(why->payload).value(), "boom");
    rx->release();
    auto rec = rx->read(std::chrono::seconds(10));
    ASSERT_FALSE(rec.ok());
    EXPECT_EQ(rec.error().kind, ErrorKind::WorkerCrashed);
    // The old endpoints are dropped without detaching: the memory stays valid
    // until the pool is destroyed, so this is safe either way.
  }
  auto fresh = peer.await(2, 0);
  EXPECT_NE(fresh.request, old.request);
  auto tx = RingProducer::attach(fresh.request);
  auto rx = RingConsumer::attach(fresh.response);
  ASSERT_TRUE(*tx->try_write(protocol::kCallTag, call_record(2, "add", encode(std::tuple<int, int>{1, 1}).value())));
  tx->publish();
  auto [id, value] = read_answer(*rx);
  EXPECT_EQ(id, 2u);
  EXPECT_EQ(decode<int>(value).value(), 2);
  EXPECT_EQ(pool.stats().workers[0].restarts, 1u);
}
