// Test that the header is self-contained: it comes first.
#include "workers/pool.hpp"
#include "workers/executor.hpp"

#include "tests/pool_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// Every way a call or a stream ends badly: crashes racing shutdown, nested
// calls, cancellation reaching every kind of task, streams that end with
// their task's error, shutdown deadlines, and bad records from a peer.

using namespace ferry;
using namespace std::chrono_literals;

namespace failure_test {

int add(int a, int b) { return a + b; }
FERRY_EXPORT(add);

int crash(std::string why) { crash_worker(why); }
FERRY_EXPORT(crash);

// A synchronous task that spins until it is cancelled (or 20 s pass).
std::atomic<int> sync_saw_cancel{0};
std::atomic<int> sync_started{0};
int spin_until_cancelled(CancelToken stop) {
  sync_started.fetch_add(1);
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < end) {
    if (stop.is_cancelled()) {
      sync_saw_cancel.fetch_add(1);
      return -1;
    }
    std::this_thread::sleep_for(100us);
  }
  return 0;
}
FERRY_EXPORT(spin_until_cancelled);

// A synchronous task that ignores cancellation until released.
std::atomic<bool> release_stubborn{false};
std::atomic<int> stubborn_running{0};
int stubborn() {
  stubborn_running.fetch_add(1);
  while (!release_stubborn.load()) std::this_thread::sleep_for(1ms);
  stubborn_running.fetch_sub(1);
  return 7;
}
FERRY_EXPORT(stubborn);

// A coroutine task that parks until cancelled, by polling its token.
std::atomic<int> coro_saw_cancel{0};
std::atomic<int> coro_started{0};
Task<int> wait_for_cancel(CancelToken stop) {
  coro_started.fetch_add(1);
  auto* ex = dynamic_cast<Executor*>(Scheduler::current());
  while (!stop.is_cancelled()) co_await ferry::test::sleep_on{*ex, 1ms};
  coro_saw_cancel.fetch_add(1);
  co_return -1;
}
FERRY_EXPORT(wait_for_cancel);

// A coroutine task that calls another task on its own pool.
WorkerPool* the_pool = nullptr;
Task<int> add_nested(int a, int b) {
  auto r = co_await the_pool->call<int>("add", a, b);
  if (!r) throw std::runtime_error(r.error().describe());
  co_return *r + 1000;
}
FERRY_EXPORT(add_nested);

// The same with an argument larger than any request ring record.
Task<std::size_t> sum_nested(std::uint32_t n) {
  std::vector<std::uint8_t> big(n, 1);
  auto r = co_await the_pool->call<std::size_t>("count_ones", big);
  if (!r) throw std::runtime_error(r.error().describe());
  co_return *r;
}
FERRY_EXPORT(sum_nested);
std::size_t count_ones(std::vector<std::uint8_t> v) { return static_cast<std::size_t>(std::count(v.begin(), v.end(), 1)); }
FERRY_EXPORT(count_ones);

// A synchronous task that blocks on a nested call: refused at once.
std::string blocks_on_nested() {
  auto r = the_pool->call<int>("add", 1, 2).get();
  return r ? "it blocked" : r.error().describe();
}
FERRY_EXPORT(blocks_on_nested);

// Streams that end badly after sending what they were given.
Task<void> echo_then_throw(Receiver<int> in, Sender<int> out) {
  while (auto v = co_await in.recv()) {
    if (*v < 0) throw std::runtime_error("negative input");
    if (!co_await out.send(*v)) co_return;
  }
}
FERRY_EXPORT_STREAM(echo_then_throw);

Task<Result<void>> echo_then_refuse(Receiver<int> in, Sender<int> out) {
  while (auto v = co_await in.recv()) {
    if (*v < 0) co_return Error::make(ErrorKind::InvalidArgument, "negative input");
    if (!co_await out.send(*v)) co_return Result<void>{};
  }
  co_return Result<void>{};
}
FERRY_EXPORT_STREAM(echo_then_refuse);

// Ends normally after one value, its input still open on the caller's side.
Task<void> echo_one(Receiver<int> in, Sender<int> out) {
  if (auto v = co_await in.recv()) (void)co_await out.send(*v);
}
FERRY_EXPORT_STREAM(echo_one);

Task<void> idle_stream(Receiver<int> in, Sender<int> out) {
  while (auto v = co_await in.recv()) {
    if (!co_await out.send(*v)) co_return;
  }
}
FERRY_EXPORT_STREAM(idle_stream);

}  // namespace failure_test

using namespace failure_test;

using ferry::test::eventually;

TEST(PoolFailure, DestroyingAPoolRightAfterACrashIsSafe) {
  // Crash, then destroy at once, while the monitor buries the dead worker
  // and would start its replacement: no use after free, no replacement
  // after shutdown, every call ends.
  for (int round = 0; round < 50; ++round) {
    Call<int> crashed = [round] {
      WorkerPool pool({.workers = 2});
      auto c = pool.call_with<int>({.affinity = 0}, "crash", std::string("round"));
      if ((round % 2) == 0) (void)c.get(10s);
      return c;
    }();
    auto r = crashed.get(10s);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.error().kind == ErrorKind::WorkerCrashed || r.error().kind == ErrorKind::Cancelled) << r.error().describe();
  }
}

TEST(PoolFailure, ManyCrashesWhileCallsFlowLoseNoCall) {
  WorkerPool pool({.workers = 2, .max_queued = 100000});
  std::vector<Call<int>> calls;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    calls.push_back(i % 97 == 13 ? pool.call<int>("crash", std::string("chaos ") + std::to_string(i))
                                 : pool.call<int>("add", i, 1));
  }
  int ok = 0, crashed = 0;
  for (int i = 0; i < n; ++i) {
    auto r = calls[i].get(30s);
    if (r) {
      EXPECT_EQ(*r, i + 1);
      ++ok;
    } else {
      ASSERT_EQ(r.error().kind, ErrorKind::WorkerCrashed) << r.error().describe();
      ++crashed;
    }
  }
  EXPECT_EQ(ok + crashed, n);
  EXPECT_GE(crashed, n / 97);  // every crash call, and perhaps what its worker held
  EXPECT_EQ(*pool.call<int>("add", 2, 2).get(10s), 4);
}

TEST(PoolFailure, NestedCallsFromCoroutineTasksNeverDeadlockTheInFlightLimit) {
  // Far more parents than workers x max_in_flight: each holds a slot while
  // it awaits its child. The children must not queue behind the parents.
  WorkerPool pool({.workers = 2, .max_in_flight = 2});
  the_pool = &pool;
  std::vector<Call<int>> calls;
  for (int i = 0; i < 64; ++i) calls.push_back(pool.call<int>("add_nested", i, 1));
  for (int i = 0; i < 64; ++i) {
    auto r = calls[i].get(20s);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(*r, i + 1 + 1000);
  }
  the_pool = nullptr;
}

TEST(PoolFailure, NestedCallsWithArgumentsLargerThanTheRingAreServedLikeTheOthers) {
  // Every worker full of parents, each awaiting a child whose request does
  // not fit a ring record: the children still go straight to a worker.
  WorkerPool pool({.workers = 2, .max_in_flight = 2});
  the_pool = &pool;
  std::vector<Call<std::size_t>> calls;
  for (std::uint32_t i = 0; i < 16; ++i) calls.push_back(pool.call<std::size_t>("sum_nested", 100000 + i));
  for (std::uint32_t i = 0; i < 16; ++i) {
    auto r = calls[i].get(20s);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(*r, 100000u + i);
  }
  // And a plain caller's: a 1 MiB argument with the default 64 KiB rings.
  auto r = pool.call<std::size_t>("count_ones", std::vector<std::uint8_t>(1 << 20, 1)).get(20s);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(*r, std::size_t{1} << 20);
  the_pool = nullptr;
}

TEST(PoolFailure, BlockingOnACallInsideATaskFailsAtOnceInsteadOfDeadlocking) {
  WorkerPool pool({.workers = 1});
  the_pool = &pool;
  auto r = pool.call<std::string>("blocks_on_nested").get(10s);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_NE(r->find("InvalidArgument"), std::string::npos) << *r;
  EXPECT_NE(r->find("co_await"), std::string::npos) << *r;
  the_pool = nullptr;
}

TEST(PoolFailure, ASynchronousTaskSeesItsCallTimeOut) {
  sync_saw_cancel = 0;
  WorkerPool pool({.workers = 1});
  const auto t0 = std::chrono::steady_clock::now();
  auto r = pool.call_with<int>({.timeout = 30ms}, "spin_until_cancelled").get(10s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Timeout);
  ASSERT_TRUE(eventually([] { return sync_saw_cancel.load() == 1; })) << "the running function never saw it";
  // The worker is free again long before the task's own 20 s.
  EXPECT_EQ(*pool.call<int>("add", 1, 1).get(10s), 2);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(PoolFailure, ASynchronousTaskSeesItsCallCancelled) {
  sync_saw_cancel = 0;
  WorkerPool pool({.workers = 1});
  CancelSource cancel;
  auto call = pool.call_with<int>({.cancel = cancel.token()}, "spin_until_cancelled");
  std::this_thread::sleep_for(20ms);
  cancel.cancel();
  auto r = call.get(10s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Cancelled);
  EXPECT_TRUE(eventually([] { return sync_saw_cancel.load() == 1; }));
}

TEST(PoolFailure, CancelShutdownCancelsTheTokenOfEveryRunningTask) {
  coro_saw_cancel = 0;
  coro_started = 0;
  sync_saw_cancel = 0;
  sync_started = 0;
  WorkerPool pool({.workers = 2, .max_in_flight = 8});
  std::vector<Call<int>> calls;
  for (int i = 0; i < 6; ++i) calls.push_back(pool.call_with<int>({.affinity = 0}, "wait_for_cancel"));
  auto sync = pool.call_with<int>({.affinity = 1}, "spin_until_cancelled");
  ASSERT_TRUE(eventually([] { return coro_started.load() == 6; }));
  // The function must be running, not queued, to see its token cancelled
  // (a clang-asan CI run shut down before worker 1 had started it).
  ASSERT_TRUE(eventually([] { return sync_started.load() == 1; }));
  const auto report = pool.shutdown(ShutdownMode::Cancel);
  EXPECT_TRUE(report.clean());
  EXPECT_EQ(report.cancelled, 7u);
  EXPECT_EQ(coro_saw_cancel.load(), 6) << "every running coroutine reads its token cancelled";
  EXPECT_EQ(sync_saw_cancel.load(), 1) << "and so does the running function";
  for (auto& c : calls) EXPECT_EQ(c.get(1s).error().kind, ErrorKind::Cancelled);
  EXPECT_EQ(sync.get(1s).error().kind, ErrorKind::Cancelled);
}

TEST(PoolFailure, DrainShutdownWithAnIdleOpenStreamEndsAtItsTimeout) {
  WorkerPool pool({.workers = 1});
  auto s = pool.stream<int, int>("idle_stream");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->tx.send_blocking(1, 10s).ok());
  EXPECT_EQ(*s->rx.recv_blocking(10s), 1);
  const auto t0 = std::chrono::steady_clock::now();
  const auto report = pool.shutdown(ShutdownMode::Drain, 100ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_TRUE(report.clean());
  EXPECT_EQ(report.cancelled, 1u);
  auto done = s->done.get(1s);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, ErrorKind::Cancelled);
  auto end = s->rx.recv_blocking(1s);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.error().kind, ErrorKind::Cancelled);
}

TEST(PoolFailure, ShutdownLeavesATaskThatNeverReturnsBehindAndSaysSo) {
  release_stubborn = false;
  stubborn_running = 0;
  {
    WorkerPool pool({.workers = 1, .stop_grace = 100ms});
    auto call = pool.call<int>("stubborn");
    ASSERT_TRUE(eventually([] { return stubborn_running.load() == 1; }));
    const auto t0 = std::chrono::steady_clock::now();
    const auto report = pool.shutdown(ShutdownMode::Cancel);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
    ASSERT_EQ(report.abandoned.size(), 1u);
    EXPECT_NE(report.abandoned[0].find("\"stubborn\""), std::string::npos) << report.abandoned[0];
    EXPECT_EQ(call.get(1s).error().kind, ErrorKind::Cancelled);
  }
  // The pool is gone; the thread it left ends safely once its task returns.
  release_stubborn = true;
  EXPECT_TRUE(eventually([] { return stubborn_running.load() == 0; }));
  std::this_thread::sleep_for(20ms);
}

TEST(PoolFailure, AStreamWhoseTaskThrowsEndsWithTaskFailedAfterEveryValue) {
  WorkerPool pool({.workers = 1});
  auto s = pool.stream<int, int>("echo_then_throw");
  ASSERT_TRUE(s.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s->tx.send_blocking(i, 10s).ok());
  ASSERT_TRUE(s->tx.send_blocking(-1, 10s).ok());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(*s->rx.recv_blocking(10s), i);
  auto end = s->rx.recv_blocking(10s);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.error().kind, ErrorKind::TaskFailed) << end.error().describe();
  auto done = s->done.get(10s);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, ErrorKind::TaskFailed);
  EXPECT_EQ(done.error().message, "negative input");
  // Its input is over too: a send fails with the same kind.
  auto send = s->tx.send_blocking(9, 10s);
  ASSERT_FALSE(send.ok());
  EXPECT_EQ(send.error().kind, ErrorKind::TaskFailed);
}

// `done` settles only once the task's rings have ended: a send made the
// moment it settles fails with the kind it ended with (a value sent then
// would be lost: nobody reads the input any more). Many streams, since a
// gap between the two would be a short window.
TEST(PoolFailure, AStreamsInputHasEndedWhenItsCallSettles) {
  WorkerPool pool({.workers = 2});
  for (int i = 0; i < 2000; ++i) {
    const bool fails = i % 2 == 0;
    auto s = pool.stream<int, int>(fails ? "echo_then_throw" : "echo_one");
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s->tx.try_send(fails ? -1 : 1).ok());
    auto done = s->done.get(10s);
    ASSERT_EQ(done.ok(), !fails) << i;
    auto send = s->tx.try_send(2);
    ASSERT_FALSE(send.ok()) << "a send after `done` was accepted, stream " << i;
    EXPECT_EQ(send.error().kind, fails ? ErrorKind::TaskFailed : ErrorKind::Closed) << i << ": " << send.error().describe();
    if (!fails) {
      EXPECT_EQ(*s->rx.recv_blocking(10s), 1);
    }
    auto end = s->rx.recv_blocking(10s);
    ASSERT_FALSE(end.ok());
    EXPECT_EQ(end.error().kind, fails ? ErrorKind::TaskFailed : ErrorKind::Closed) << i;
  }
}

TEST(PoolFailure, AStreamWhoseTaskReturnsAnErrorEndsWithThatKind) {
  WorkerPool pool({.workers = 1});
  auto s = pool.stream<int, int>("echo_then_refuse");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->tx.send_blocking(3, 10s).ok());
  ASSERT_TRUE(s->tx.send_blocking(-3, 10s).ok());
  EXPECT_EQ(*s->rx.recv_blocking(10s), 3);
  auto end = s->rx.recv_blocking(10s);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(s->done.get(10s).error().message, "negative input");
}

TEST(PoolFailure, AStreamThatEndsNormallyStillEndsWithClosed) {
  WorkerPool pool({.workers = 1});
  auto s = pool.stream<int, int>("echo_then_throw");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->tx.send_blocking(1, 10s).ok());
  s->tx.close();
  EXPECT_EQ(*s->rx.recv_blocking(10s), 1);
  auto end = s->rx.recv_blocking(10s);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.error().kind, ErrorKind::Closed);
  EXPECT_TRUE(s->done.get(10s).ok());
}

TEST(PoolFailure, BlockingGetOnAnExecutorThreadFailsUnlessTheCallIsDone) {
  WorkerPool pool({.workers = 1});
  Executor ex;
  std::thread t([&] { ex.run(); });
  std::promise<std::string> out;
  ex.post([&] {
    auto r = pool.call<int>("spin_until_cancelled").get();  // would block this executor
    out.set_value(r ? "blocked" : r.error().describe());
  });
  auto f = out.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_NE(f.get().find("InvalidArgument"), std::string::npos);
  ex.stop();
  t.join();
}

// --- A JavaScript peer driving the rings (external mode) ----------------------

using ferry::test::call_record;
using ferry::test::ExternalPeer;
using ferry::test::read_answer;

namespace {
std::vector<std::byte> id_record(std::uint64_t id) {
  std::vector<std::byte> rec(8);
  std::memcpy(rec.data(), &id, 8);
  return rec;
}
}  // namespace

TEST(PoolFailureExternal, ARunningSynchronousTaskSeesACancelRecord) {
  sync_saw_cancel = 0;
  ExternalPeer peer;
  WorkerPool pool({.workers = 1, .external = true,
                   .on_worker_started = [&](const WorkerPool& p, unsigned i) { peer.on_started(p, i); }});
  auto rings = peer.await(1, 0);
  auto tx = RingProducer::attach(rings.request);
  auto rx = RingConsumer::attach(rings.response);
  ASSERT_TRUE(tx.ok() && rx.ok());
  ASSERT_TRUE(*tx->try_write(protocol::kCallTag, call_record(5, "spin_until_cancelled", encode(std::tuple<>{}).value())));
  tx->publish();
  std::this_thread::sleep_for(20ms);  // it is running now, reading no request
  ASSERT_TRUE(*tx->try_write(protocol::kCancelTag, id_record(5)));
  tx->publish();
  auto [id, value] = read_answer(*rx);
  EXPECT_EQ(id, 5u);
  EXPECT_EQ(decode<int>(value).value(), -1) << "the function returned early, having seen the cancel";
  EXPECT_EQ(sync_saw_cancel.load(), 1);
}

TEST(PoolFailureExternal, AMalformedCallRecordIsAnsweredWithDeserialization) {
  ExternalPeer peer;
  WorkerPool pool({.workers = 1, .external = true,
                   .on_worker_started = [&](const WorkerPool& p, unsigned i) { peer.on_started(p, i); }});
  auto rings = peer.await(1, 0);
  auto tx = RingProducer::attach(rings.request);
  auto rx = RingConsumer::attach(rings.response);
  ASSERT_TRUE(tx.ok() && rx.ok());
  // A name said to be 500 bytes long, in a 13-byte record.
  auto bad = id_record(9);
  const std::uint16_t n = 500;
  bad.resize(10);
  std::memcpy(bad.data() + 8, &n, 2);
  bad.push_back(std::byte{'a'});
  ASSERT_TRUE(*tx->try_write(protocol::kCallTag, bad));
  ASSERT_TRUE(*tx->try_write(protocol::kCallTag, std::vector<std::byte>(3)));  // no id at all: nothing to answer
  ASSERT_TRUE(*tx->try_write(protocol::kCallTag, call_record(10, "add", encode(std::tuple<int, int>{2, 3}).value())));
  tx->publish();
  auto [id, value] = read_answer(*rx);
  EXPECT_EQ(id, 9u);
  auto err = decode<Result<int>>(value).value();
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.error().kind, ErrorKind::Deserialization);
  EXPECT_NE(err.error().message.find("500 bytes"), std::string::npos) << err.error().message;
  auto [id2, value2] = read_answer(*rx);
  EXPECT_EQ(id2, 10u);
  EXPECT_EQ(decode<int>(value2).value(), 5);
}

TEST(PoolFailureExternal, ACorruptRequestRingReplacesThatWorkerOnly) {
  ExternalPeer peer;
  WorkerPool pool({.workers = 2, .external = true,
                   .on_worker_started = [&](const WorkerPool& p, unsigned i) { peer.on_started(p, i); }});
  auto old = peer.await(2, 0);
  {
    auto tx = RingProducer::attach(old.request);
    auto rx = RingConsumer::attach(old.response);
    ASSERT_TRUE(tx.ok() && rx.ok());
    ASSERT_TRUE(*tx->try_write(protocol::kCallTag, call_record(1, "add", encode(std::tuple<int, int>{1, 1}).value())));
    // The record's length word now claims more than was published.
    auto* header = static_cast<std::byte*>(old.request) + ring_layout::kHeaderBytes;
    const std::uint32_t lie = 4096;
    std::memcpy(header, &lie, 4);
    tx->publish();
    auto why = rx->read(10s);
    ASSERT_TRUE(why.ok()) << why.error().describe();
    EXPECT_EQ(why->tag, protocol::kCrashTag);
    EXPECT_NE(decode<std::string>(why->payload).value().find("corrupt"), std::string::npos);
  }
  auto fresh = peer.await(3, 0);
  EXPECT_NE(fresh.request, old.request);
  auto tx = RingProducer::attach(fresh.request);
  auto rx = RingConsumer::attach(fresh.response);
  ASSERT_TRUE(*tx->try_write(protocol::kCallTag, call_record(2, "add", encode(std::tuple<int, int>{2, 2}).value())));
  tx->publish();
  auto [id, value] = read_answer(*rx);
  EXPECT_EQ(id, 2u);
  EXPECT_EQ(decode<int>(value).value(), 4);
  EXPECT_EQ(pool.stats().workers[0].restarts, 1u);
  EXPECT_EQ(pool.stats().workers[1].restarts, 0u);
}
