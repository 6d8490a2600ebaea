// ferry workers: Executor, one per worker thread, Asio-style.
//
// Guarantees:
// - post/defer queue a function to run later on the executor's thread;
//   dispatch runs it inline when called on that thread. All three may be
//   called from any thread. spawn() starts a Task on the executor.
// - run() is the loop: it runs queued functions, resumes coroutines whose
//   ring operation can complete, fires timers and deadlines, and when there is
//   nothing to do it parks on one doorbell word. Whoever queues work or moves
//   a ring bound to this executor wakes it with one notify, and only when it
//   is parked (eventcount: a "sleeping" flag + the doorbell as sequence).
// - Asio interop: executor.asio() is a lightweight handle that meets Asio's
//   executor requirements, so asio::post/dispatch/co_spawn can target it and
//   Asio I/O objects (timers) can be made on it; ferry::use_task
//   (workers/asio_interop.hpp) lets a ferry Task co_await any Asio async
//   operation, including an asio::awaitable spawned with co_spawn.
//
// Design: the executor owns an asio::execution_context so Asio services
// (timers) can attach to it. Asio drives such services from its own internal
// thread and hands completions back through execute(), i.e. post() here: the
// executor never blocks anywhere but on its doorbell, which JavaScript can
// ring too (Atomics.notify on the same word), so one wait covers Asio, rings
// and posted work.
#pragma once

#include "../core/arena.hpp"
#include "../core/coro.hpp"
#include "../core/error.hpp"
#include "../core/spin.hpp"
#include "../core/wait.hpp"
#include "../stream/scheduler.hpp"
#include "crash.hpp"
#include "executor_stats.hpp"
#include "task.hpp"

#include <asio/execution.hpp>
#include <asio/detail/scheduler.hpp>
#include <asio/execution_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace ferry {

class Executor;
namespace detail {
struct SpawnFrame;
}

// Asio's view of an Executor: copyable, comparable, execute() == post().
class AsioExecutor {
 public:
  explicit AsioExecutor(Executor* ex) noexcept : ex_(ex) {}
  template <class F>
  void execute(F&& f) const;
  asio::execution_context& query(asio::execution::context_t) const noexcept;
  static constexpr asio::execution::blocking_t::never_t query(asio::execution::blocking_t) noexcept {
    return asio::execution::blocking.never;
  }
  AsioExecutor require(asio::execution::blocking_t::never_t) const noexcept { return *this; }
  AsioExecutor prefer(asio::execution::outstanding_work_t::tracked_t) const noexcept { return *this; }
  AsioExecutor prefer(asio::execution::outstanding_work_t::untracked_t) const noexcept { return *this; }
  AsioExecutor prefer(asio::execution::relationship_t::fork_t) const noexcept { return *this; }
  AsioExecutor prefer(asio::execution::relationship_t::continuation_t) const noexcept { return *this; }
  template <class Alloc>
  AsioExecutor prefer(asio::execution::allocator_t<Alloc>) const noexcept { return *this; }
  friend bool operator==(const AsioExecutor& a, const AsioExecutor& b) noexcept { return a.ex_ == b.ex_; }
  friend bool operator!=(const AsioExecutor& a, const AsioExecutor& b) noexcept { return a.ex_ != b.ex_; }
  Executor& ferry_executor() const noexcept { return *ex_; }

 private:
  Executor* ex_;
};

namespace detail {
// An execution_context whose services the Executor can stop before it
// destroys coroutine frames that still hold Asio objects.
class AsioContext : public asio::execution_context {
 public:
  using asio::execution_context::shutdown;
};
}  // namespace detail

class Executor final : public Scheduler {
 public:
  using Clock = std::chrono::steady_clock;

  Executor();
  ~Executor() override;
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs the loop on the calling thread until stop() or crash(). Before it
  // sleeps it spins for a budget learned from how soon work came recently
  // (core/spin.hpp).
  void run();
  // Any thread: makes run() return.
  void stop();
  // Loop thread: a task called crash_worker(); run() returns at once, and
  // nothing else this executor holds will run (see discard()).
  void crash() noexcept;
  bool crashed() const noexcept { return crashed_.load(std::memory_order_acquire); }
  // True once stop() or crash() was called: a long-running loop should end.
  bool stopping() const noexcept { return stop_.load(std::memory_order_acquire); }
  // After run() returned, on the thread that ran it: fails what is still
  // parked with Cancelled and lets those coroutines run, then destroys any
  // task still suspended. The destructor does it if nobody did.
  void close();
  // After a crash: destroys every suspended task without running any more of
  // it (a crashed worker's code does not get to continue).
  void discard();
  bool running_in_this_thread() const noexcept;
  // Any thread: wakes the loop if it is parked (one notify), so that it
  // looks again at whatever the caller changed (a queue it polls); true if
  // it was parked.
  bool wake() noexcept;
  // Loop thread: true if handlers are queued to run (a long-running handler
  // may yield to them).
  bool has_ready_work() const noexcept {
    return !local_.empty() || remote_count_.load(std::memory_order_relaxed) != 0;
  }

  void post(std::function<void()> fn) override;
  void dispatch(std::function<void()> fn);
  void defer(std::function<void()> fn) { post(std::move(fn)); }

  // Starts `task` on this executor (any thread). `done` receives its outcome
  // on the executor's thread: the value, or the task's Error (exceptions
  // become TaskFailed). Tasks still suspended when the executor is destroyed
  // are destroyed with it.
  template <class T, class Done>
  void spawn(Task<T> task, Done done, std::string origin = "task");
  template <class T>
  void spawn(Task<T> task) {
    spawn(std::move(task), [](auto&&) {});
  }

  // Runs fn at `when` on this executor (scheduler thread only); returns an id for cancel_timer.
  std::uint64_t schedule_at(Clock::time_point when, std::function<void()> fn);
  void cancel_timer(std::uint64_t id);

  AsioExecutor asio() noexcept { return AsioExecutor(this); }
  asio::execution_context& asio_context() noexcept { return *asio_context_; }

  ExecutorStats stats() const noexcept;

  // Scheduler
  std::atomic<std::uint32_t>& doorbell() noexcept override { return *doorbell_; }
  std::uint64_t park(RingWait& w) override;
  void cancel(std::uint64_t id, Error error) override;
  void defer_flush(Flushable& f) override;
  void cancel_flush(Flushable& f) override;

 private:
  friend struct detail::SpawnFrame;
  bool run_ready();
  bool poll_waits();
  bool fire_timers();
  void flush_all();
  void sleep();
  void run_one(std::function<void()>& fn);
  void stop_asio();      // close() and discard(): Asio's services stop first
  void destroy_roots();  // close() and discard(): every suspended frame goes

  std::atomic<std::uint32_t>* doorbell_;  // in the shared arena (rings point at it); recycled, never freed
  std::atomic<std::uint32_t> sleeping_{0};
  std::atomic<std::uint64_t> remote_count_{0};  // functions queued from other threads
  std::atomic<bool> stop_{false};
  std::atomic<bool> crashed_{false};
  bool closed_ = false;
  std::atomic<std::thread::id> thread_{};
  AdaptiveSpin spin_;

  std::mutex remote_mutex_;
  std::vector<std::function<void()>> remote_;  // guarded by remote_mutex_
  std::deque<std::function<void()>> local_;
  std::unordered_map<std::uint64_t, RingWait*> waits_;
  std::vector<Flushable*> flushes_;
  std::multimap<Clock::time_point, std::pair<std::uint64_t, std::function<void()>>> timers_;
  std::uint64_t next_id_ = 1;
  std::unordered_set<void*> roots_;  // frames of spawned, unfinished tasks

  std::atomic<std::uint64_t> handlers_run_{0}, parks_{0}, wakes_{0}, parked_ns_{0};
  std::unique_ptr<detail::AsioContext> asio_context_;
};

}  // namespace ferry

// The bodies: what the loop does, how spawn and wake work.
#include "detail/executor_impl.hpp"
