// ferry workers (internal): the pool's monitor thread — what is off the call
// path: call timeouts, and a dead worker's funeral (join its thread, fail
// what it held, start its replacement). Callers and workers never wait for
// it; a call's answer goes from the worker to its caller directly.
//
// Design: one mutex guards a list of posted functions and a map of timers.
// The thread sleeps on a futex word until the earliest deadline; posting,
// or adding a timer earlier than that deadline, bumps the word and wakes it
// (an eventcount: `sleeping_` is read and written under the mutex, so a
// poster either sees the thread asleep and bumps the word, or the thread
// sees the new work before it sleeps). Adding a timer later than the
// earliest one — the common case, calls with the same timeout — wakes
// nothing.
#pragma once

#include "../../core/wait.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ferry::detail {

class Monitor {
 public:
  using Clock = std::chrono::steady_clock;

  Monitor() : thread_([this] { run(); }) {}
  ~Monitor() { stop(); }
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Any thread: runs fn on the monitor thread soon. Dropped after stop().
  void post(std::function<void()> fn) {
    bool wake;
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      posted_.push_back(std::move(fn));
      wake = sleeping_;
    }
    if (wake) ring();
  }

  // Any thread: runs fn on the monitor thread at `when`, unless
  // cancel_timer(id) came first. The id (never 0) is stored in `id` under
  // the monitor's mutex, before fn can run: fn (which takes that mutex
  // first) sees it, even when `when` has passed already.
  void add_timer(Clock::time_point when, std::function<void()> fn, std::uint64_t& id) {
    bool wake;
    {
      std::lock_guard lock(mutex_);
      id = next_id_++;
      by_id_.emplace(id, timers_.emplace(when, std::make_pair(id, std::move(fn))));
      wake = sleeping_ && when < sleeping_until_;
    }
    if (wake) ring();
  }

  // Any thread: forgets timer `id` if it has not fired (its function is
  // destroyed here, outside the lock, so it may own what it likes).
  void cancel_timer(std::uint64_t id) {
    std::function<void()> dropped;
    std::lock_guard lock(mutex_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return;
    dropped = std::move(it->second->second.second);
    timers_.erase(it->second);
    by_id_.erase(it);
  }

  // Runs nothing more (pending timers and posts are dropped) and joins.
  // Not from the monitor thread itself.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      stopped_ = true;
    }
    ring();
    thread_.join();
    std::vector<std::function<void()>> posted;
    Timers timers;
    std::lock_guard lock(mutex_);  // released first: what the functions own goes after
    posted.swap(posted_);
    timers.swap(timers_);
    by_id_.clear();
  }

  bool on_monitor_thread() const noexcept { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void ring() noexcept {
    bell_.fetch_add(1, std::memory_order_release);
    notify_word(bell_);
  }

  void run() {
    std::unique_lock lock(mutex_);
    while (!stopped_) {
      std::vector<std::function<void()>> due = std::move(posted_);
      posted_.clear();
      const auto now = Clock::now();
      while (!timers_.empty() && timers_.begin()->first <= now) {
        auto it = timers_.begin();
        by_id_.erase(it->second.first);
        due.push_back(std::move(it->second.second));
        timers_.erase(it);
      }
      if (!due.empty()) {
        lock.unlock();
        for (auto& fn : due) fn();
        due.clear();  // whatever the functions own goes before the lock is retaken
        lock.lock();
        continue;
      }
      sleeping_until_ = timers_.empty() ? Clock::time_point::max() : timers_.begin()->first;
      sleeping_ = true;
      const std::uint32_t key = bell_.load(std::memory_order_acquire);
      WaitNanos timeout = kWaitForever;
      if (sleeping_until_ != Clock::time_point::max()) {
        timeout = std::max(WaitNanos{0}, std::chrono::duration_cast<WaitNanos>(sleeping_until_ - now));
      }
      lock.unlock();
      wait_word(bell_, key, timeout);
      lock.lock();
      sleeping_ = false;
    }
  }

  using Timers = std::multimap<Clock::time_point, std::pair<std::uint64_t, std::function<void()>>>;
  std::mutex mutex_;
  std::vector<std::function<void()>> posted_;
  Timers timers_;
  std::unordered_map<std::uint64_t, Timers::iterator> by_id_;
  std::uint64_t next_id_ = 1;
  bool sleeping_ = false;
  Clock::time_point sleeping_until_ = Clock::time_point::max();
  bool stopped_ = false;
  std::atomic<std::uint32_t> bell_{0};  // futex word the thread sleeps on
  std::thread thread_;                  // last: starts once the rest exists
};

}  // namespace ferry::detail
