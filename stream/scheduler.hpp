// ferry stream: what a suspended send/recv needs from whoever runs the
// coroutine. workers::Executor implements it; the stream layer knows only
// this interface (DESIGN.md: nothing in stream knows about the pool).
//
// Protocol:
// - A stream awaitable that cannot complete at once calls park(w) from
//   await_suspend on the scheduler's thread. The scheduler calls w.poll()
//   (on its thread) whenever the ring may have moved; when it returns true
//   the scheduler forgets w and resumes w.handle.
// - Before the scheduler sleeps it calls w.arm() for every parked wait; arm()
//   raises the ring's parked flag and returns the ring's bell. A ring used by
//   coroutines on a scheduler must ring that scheduler's doorbell() (set with
//   ring_set_bells when the stream is made), so one futex wait covers every
//   ring, every posted function and every cancellation.
// - A wait whose deadline passes gets w.fail(Timeout) and is resumed.
//   cancel(id, error) (any thread) does the same with the error given, if
//   w (identified by the id park() returned) is still parked.
// - A sender that batched records without publishing calls defer_flush(f);
//   the scheduler calls f.flush() before it next runs anything else or goes
//   idle, so no record is stranded in an unpublished batch.
#pragma once

#include "../core/coro.hpp"
#include "../core/error.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>

namespace ferry {

class RingWait {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~RingWait() = default;
  // Re-checks the ring; true once the operation finished (value, error or close).
  virtual bool poll() = 0;
  // Raises the ring's parked flag; returns the bell the ring will ring.
  virtual std::atomic<std::uint32_t>* arm() = 0;
  // Finishes the operation with `error` instead (Timeout, Cancelled, ...).
  virtual void fail(Error error) = 0;

  coro::coroutine_handle<> handle;
  Clock::time_point deadline = Clock::time_point::max();
};

class Flushable {
 public:
  virtual ~Flushable() = default;
  virtual void flush() = 0;  // publish the batch
  bool flush_pending = false;  // owned by the scheduler
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // The scheduler whose loop runs on this thread, or nullptr.
  static Scheduler* current() noexcept { return current_ref(); }

  // Word this scheduler sleeps on; rings used here must ring it.
  virtual std::atomic<std::uint32_t>& doorbell() noexcept = 0;
  // Parks w (scheduler thread only); returns an id for cancel().
  virtual std::uint64_t park(RingWait& w) = 0;
  // Any thread: fails the parked wait `id` with `error`, if it is still parked.
  virtual void cancel(std::uint64_t id, Error error) = 0;
  // Scheduler thread only: f.flush() runs before anything else runs or the
  // scheduler idles.
  virtual void defer_flush(Flushable& f) = 0;
  // Scheduler thread only: forget a pending flush (the Flushable is going away).
  virtual void cancel_flush(Flushable& f) = 0;
  // Any thread: runs fn on the scheduler's thread.
  virtual void post(std::function<void()> fn) = 0;

 protected:
  static Scheduler*& current_ref() noexcept {
    static thread_local Scheduler* current = nullptr;
    return current;
  }
};

}  // namespace ferry
