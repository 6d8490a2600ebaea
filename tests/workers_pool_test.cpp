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

// The cases by concern (one translation unit; see each part's header).
#include "tests/workers_pool_test/streams.hpp"
#include "tests/workers_pool_test/external.hpp"
