// ferry workers (internal): the state one call (or one stream's task) shares
// between its caller, the worker that runs it and whoever ends it early
// (a timeout, a cancel, a crash, shutdown).
//
// Design:
// - Completed exactly once: complete() stores the outcome under `mutex` and
//   flips `done` (a futex word); every later complete() returns false. The
//   caller reads the outcome only after it saw done == 1 (acquire).
// - No thread between the worker and the caller: the worker that finishes
//   the call completes it; a blocked caller is woken by one futex notify, and
//   only if it sleeps (the `sleepers` count, a Dekker handshake with get());
//   a coroutine caller is resumed by one post to its executor.
// - Reference counted by hand (intrusive, no control block): the caller's
//   Call<R>, the worker's `held` list and the pool's timer each own one
//   reference. A C++ caller sends the state's address as the call's id, so
//   the worker needs no lookup.
// - The task's CancelToken comes from `cancel`, which the pool (a timeout, a
//   CancelToken of the caller, shutdown) cancels directly from its own
//   thread: a task sees it while it runs, even a synchronous one.
#pragma once

#include "core/arena.hpp"
#include "core/cancel.hpp"
#include "core/coro.hpp"
#include "core/error.hpp"
#include "core/wait.hpp"
#include "stream/scheduler.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ferry::detail {

// Ring memory of one pool stream, shared by both ends.
struct StreamMemory {
  void* in = nullptr;   // caller -> task
  void* out = nullptr;  // task -> caller
  ~StreamMemory() {
    shared_free(in);
    shared_free(out);
  }
};

struct CallState {
  std::uint64_t id = 0;  // for messages ("call 17 timed out"); C++ callers' wire id is the address
  std::atomic<std::uint32_t> refs{1};

  // The outcome.
  std::atomic<std::uint32_t> done{0};      // futex word: 1 once completed
  std::atomic<std::uint32_t> sleepers{0};  // threads blocked in get(): only then notify
  std::mutex mutex;                        // guards what follows, up to `cancel`
  coro::coroutine_handle<> waiter;
  Scheduler* waiter_scheduler = nullptr;
  std::vector<std::byte> value;            // encoded Result, or
  std::optional<Error> error;              // the error it ended with

  // The task's side.
  CancelSource cancel;                          // the running task's token
  std::atomic<int> worker{-1};                  // holding worker (-1: queued or never sent)
  std::atomic<const std::string*> task{nullptr};  // its name, once a worker started it (reports)
  std::weak_ptr<StreamMemory> stream;           // a stream's rings, ended with it at shutdown
  // Links of the holding worker's `held` list (guarded by that list's mutex).
  CallState* prev = nullptr;
  CallState* next = nullptr;
  const void* held_by = nullptr;

  // Set before the call is sent, read by whoever ends it.
  std::uint64_t timer = 0;                      // the pool monitor's timeout timer, or 0
  // The caller's own CancelToken, watched while the call is pending.
  // Declared last: destroyed first, it waits out a callback that is running.
  std::unique_ptr<CancelCallback> on_cancel;

  void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    // acq_rel: the last owner sees every other owner's writes before deleting.
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  bool is_done() const noexcept { return done.load(std::memory_order_acquire) != 0; }

  // Stores the outcome and wakes whoever waits; false if it ended already.
  bool complete(std::vector<std::byte> v, std::optional<Error> e) {
    coro::coroutine_handle<> h;
    Scheduler* s = nullptr;
    {
      std::lock_guard lock(mutex);
      if (done.load(std::memory_order_relaxed) != 0) return false;
      value = std::move(v);
      error = std::move(e);
      // seq_cst: the outcome above is visible to whoever sees done == 1, and
      // the store is ordered before the sleepers load below (Dekker with get()).
      done.store(1, std::memory_order_seq_cst);
      h = std::exchange(waiter, {});
      s = waiter_scheduler;
    }
    if (sleepers.load(std::memory_order_seq_cst) != 0) notify_word(done);  // a syscall only if someone sleeps
    if (h) s->post([h]() mutable { h.resume(); });
    return true;
  }
  bool fail(Error e) { return complete({}, std::move(e)); }
};

// An owning pointer to a CallState (one reference).
class CallRef {
 public:
  CallRef() = default;
  static CallRef make() { return CallRef(new CallState); }
  // Takes over a reference that was counted already (an id read off a ring).
  static CallRef adopt(CallState* s) noexcept { return CallRef(s); }
  CallRef(const CallRef& o) noexcept : s_(o.s_) {
    if (s_) s_->add_ref();
  }
  CallRef(CallRef&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  CallRef& operator=(CallRef o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~CallRef() {
    if (s_) s_->release();
  }
  CallState* get() const noexcept { return s_; }
  CallState* operator->() const noexcept { return s_; }
  CallState& operator*() const noexcept { return *s_; }
  explicit operator bool() const noexcept { return s_ != nullptr; }
  // Gives up ownership without releasing (the reference travels elsewhere).
  CallState* detach() noexcept { return std::exchange(s_, nullptr); }

 private:
  explicit CallRef(CallState* s) noexcept : s_(s) {}
  CallState* s_ = nullptr;
};

}  // namespace ferry::detail
