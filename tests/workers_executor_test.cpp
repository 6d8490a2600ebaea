// Test that the headers are self-contained: they come first.
#include "workers/executor.hpp"
#include "workers/asio_interop.hpp"

#include "stream/stream.hpp"
#include "tests/executor_fixture.hpp"

#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <optional>
#include <stdexcept>
#include <thread>

using namespace ferry;
using namespace ferry::test;
using namespace std::chrono_literals;

namespace {

Task<int> add(int a, int b) { co_return a + b; }
Task<int> sum_chain(int depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await sum_chain(depth - 1);
}
Task<int> throws() {
  throw std::runtime_error("boom in task");
  co_return 0;
}
Task<void> nothing() { co_return; }

}  // namespace

TEST(Executor, PostedFunctionsRunInOrderOnTheExecutorThread) {
  Running r;
  std::vector<int> order;
  std::thread::id where;
  r.on_executor([&] {
    where = std::this_thread::get_id();
    for (int i = 0; i < 5; ++i) r.ex.post([&order, i] { order.push_back(i); });
  });
  r.on_executor([] {});  // everything posted before has run
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(where, r.thread.get_id());
}

TEST(Executor, DispatchRunsInlineOnItsOwnThreadAndPostsFromOthers) {
  Running r;
  bool inline_ran = r.on_executor([&] {
    bool ran = false;
    r.ex.dispatch([&] { ran = true; });
    return ran;
  });
  EXPECT_TRUE(inline_ran);
  std::promise<std::thread::id> p;
  r.ex.dispatch([&] { p.set_value(std::this_thread::get_id()); });
  EXPECT_EQ(p.get_future().get(), r.thread.get_id());
}

TEST(Executor, DeferRunsAfterTheCurrentHandler) {
  Running r;
  std::vector<int> seen;
  r.on_executor([&] {
    r.ex.defer([&] { seen.push_back(2); });
    seen.push_back(1);
  });
  r.on_executor([] {});
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
}

TEST(Executor, SpawnedTaskDeliversItsValue) {
  Running r;
  auto out = run_task(r, add(2, 3));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, 5);
  EXPECT_TRUE(run_task(r, nothing()).ok());
}

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__) || !defined(__OPTIMIZE__)
// Sanitizer and -O0 builds do not turn symmetric transfer into tail calls.
constexpr int kDeepChain = 1000;
#else
constexpr int kDeepChain = 100000;
#endif

TEST(Executor, DeepAwaitChainsDoNotGrowTheStack) {
  Running r;
  auto out = run_task(r, sum_chain(kDeepChain));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, kDeepChain);
}

TEST(Executor, ThrowingTaskBecomesATaskFailedErrorWithTheMessage) {
  Running r;
  auto out = run_task(r, throws());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::TaskFailed);
  EXPECT_EQ(out.error().message, "boom in task");
}

TEST(Executor, IdleExecutorParksAndIsWokenByOnePost) {
  Running r;
  // After running this handler the executor has nothing to do: it parks
  // (a park counted after the handler, not one from before it).
  const auto parks_in_handler = r.on_executor([&] { return r.ex.stats().parks; });
  while (r.ex.stats().parks <= parks_in_handler) std::this_thread::yield();
  const auto wakes = r.ex.stats().wakes;
  const auto handlers = r.ex.stats().handlers_run;
  r.on_executor([] {});
  // The counter moves just after the handler returns.
  while (r.ex.stats().handlers_run == handlers) std::this_thread::yield();
  EXPECT_EQ(r.ex.stats().wakes, wakes + 1);
  EXPECT_EQ(r.ex.stats().handlers_run, handlers + 1);
}

TEST(Executor, TimersFireInDeadlineOrder) {
  Running r;
  std::promise<std::vector<int>> p;
  auto fut = p.get_future();
  auto order = std::make_shared<std::vector<int>>();
  r.ex.post([&, order] {
    const auto now = Executor::Clock::now();
    r.ex.schedule_at(now + 20ms, [&, order] { order->push_back(2); p.set_value(*order); });
    r.ex.schedule_at(now + 5ms, [order] { order->push_back(1); });
    auto never = r.ex.schedule_at(now + 10ms, [order] { order->push_back(99); });
    r.ex.cancel_timer(never);
  });
  ASSERT_EQ(fut.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(fut.get(), (std::vector<int>{1, 2}));
}

TEST(ExecutorAsio, AsioPostAndDispatchTargetTheExecutor) {
  Running r;
  std::promise<std::thread::id> a, b;
  asio::post(r.ex.asio(), [&] { a.set_value(std::this_thread::get_id()); });
  asio::dispatch(r.ex.asio(), [&] { b.set_value(std::this_thread::get_id()); });
  EXPECT_EQ(a.get_future().get(), r.thread.get_id());
  EXPECT_EQ(b.get_future().get(), r.thread.get_id());
}

namespace {
asio::awaitable<int> asio_side(int x) {
  asio::steady_timer t(co_await asio::this_coro::executor, 2ms);
  co_await t.async_wait(asio::use_awaitable);
  co_return x * 2;
}

Task<int> ferry_waits_on_asio(Executor& ex, std::thread::id expected) {
  asio::steady_timer timer(ex.asio(), 5ms);
  std::error_code ec = co_await timer.async_wait(use_task);
  if (ec) throw std::runtime_error(ec.message());
  // Against the timer's own deadline: a clock read after the constructor
  // starts later than the 5 ms do, so "now - t0 < 5ms" can hold for a timer
  // that fired on time (seen once under ASan on a loaded machine).
  if (std::chrono::steady_clock::now() < timer.expiry()) throw std::runtime_error("timer fired early");
  if (std::this_thread::get_id() != expected) throw std::runtime_error("resumed on the wrong thread");
  int doubled = co_await asio::co_spawn(ex.asio(), asio_side(21), use_task);
  if (std::this_thread::get_id() != expected) throw std::runtime_error("resumed on the wrong thread");
  co_return doubled;
}

asio::awaitable<void> asio_throws() {
  throw std::runtime_error("asio side failed");
  co_return;
}

Task<int> ferry_sees_asio_exception(Executor& ex) {
  try {
    co_await asio::co_spawn(ex.asio(), asio_throws(), use_task);
  } catch (const std::runtime_error& e) {
    co_return std::string(e.what()) == "asio side failed" ? 1 : 0;
  }
  co_return -1;
}
}  // namespace

TEST(ExecutorAsio, FerryTaskAwaitsAnAsioTimerAndAnAwaitableItSpawned) {
  Running r;
  auto out = run_task(r, ferry_waits_on_asio(r.ex, r.thread.get_id()));
  ASSERT_TRUE(out.ok()) << out.error().describe();
  EXPECT_EQ(*out, 42);
}

TEST(ExecutorAsio, AnExceptionInTheSpawnedAwaitableReachesTheFerryTask) {
  Running r;
  auto out = run_task(r, ferry_sees_asio_exception(r.ex));
  ASSERT_TRUE(out.ok()) << out.error().describe();
  EXPECT_EQ(*out, 1);
}

TEST(ExecutorAsio, CoSpawnRunsAnAsioAwaitableOnTheExecutor) {
  Running r;
  std::promise<int> p;
  asio::co_spawn(r.ex.asio(), asio_side(4), [&](std::exception_ptr e, int v) {
    EXPECT_FALSE(e);
    EXPECT_EQ(std::this_thread::get_id(), r.thread.get_id());
    p.set_value(v);
  });
  auto f = p.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), 8);
}

TEST(Executor, DestroyingAnExecutorWithSuspendedTasksDoesNotLeakOrHang) {
  auto alive = std::make_shared<int>(0);
  {
    Executor ex;
    std::thread t([&] { ex.run(); });
    std::promise<void> started;
    ex.spawn([](std::shared_ptr<int> keep, Executor& e, std::promise<void>& s) -> Task<void> {
      asio::steady_timer never(e.asio(), 1h);
      s.set_value();
      co_await never.async_wait(use_task);
      (void)keep;
    }(alive, ex, started));
    started.get_future().wait();
    ex.stop();
    t.join();
  }
  EXPECT_EQ(alive.use_count(), 1) << "the suspended task's frame was destroyed";
}

TEST(Executor, AStreamThatOutlivesItsExecutorRingsARecycledDoorbellNotFreedMemory) {
  std::optional<StreamPair<int>> s;
  std::atomic<std::uint32_t>* bell = nullptr;
  {
    Executor ex;
    bell = &ex.doorbell();
    auto made = make_stream<int>({.capacity = 256, .receiver_scheduler = &ex});
    ASSERT_TRUE(made.ok());
    s.emplace(std::move(*made));
  }
  const auto before = bell->load();
  s->tx.close();  // a close always rings the receiver's bell: the old executor's word
  EXPECT_EQ(bell->load(), before + 1) << "the word is still owned (recycled), not freed";
  Executor next;
  EXPECT_EQ(&next.doorbell(), bell) << "the next executor reuses it; a stale ring is only a spurious wake-up";
}
