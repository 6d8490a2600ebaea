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
// - The task's CancelToken comes from token(), and the pool (a timeout, the
//   caller's CancelToken, shutdown) cancels it directly from its own thread
//   with cancel_task(): a task sees it while it runs, even a synchronous one.
// - Reused: a finished state goes to a cache on the thread that released it
//   last, and the value buffer travels between the worker and the state by
//   swapping; in steady state a call allocates nothing.
#pragma once

#include "../../core/arena.hpp"
#include "../../core/cancel.hpp"
#include "../../core/coro.hpp"
#include "../../core/error.hpp"
#include "../../core/wait.hpp"
#include "../../stream/scheduler.hpp"

#include <atomic>
#include <cassert>
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

class CallState {
 public:
  std::uint64_t id = 0;  // for messages ("call 17 timed out"); C++ callers' wire id is the address
  std::atomic<std::uint32_t> refs{1};

  // The outcome.
  std::atomic<std::uint32_t> done{0};      // futex word: 1 once completed
  std::atomic<std::uint32_t> sleepers{0};  // threads blocked in get(): only then notify
  std::mutex mutex;                        // guards the waiter, the outcome and the task's cancel source
  coro::coroutine_handle<> waiter;
  Scheduler* waiter_scheduler = nullptr;
  std::vector<std::byte> value;            // encoded Result, or
  std::optional<Error> error;              // the error it ended with

  // The task's side.
  std::atomic<int> worker{-1};                    // holding worker (-1: queued or never sent)
  std::atomic<const std::string*> task{nullptr};  // its name, once a worker started it (reports)
  std::weak_ptr<StreamMemory> stream;             // a stream's rings, ended with it at shutdown
  std::vector<std::byte> request;                 // a queued call's request record, while it waits
  // Links of the holding worker's `held` list (guarded by that list's mutex).
  CallState* prev = nullptr;
  CallState* next = nullptr;
  const void* held_by = nullptr;

  // Set before the call is sent, read by whoever ends it.
  std::uint64_t timer = 0;  // the pool monitor's timeout timer, or 0
  // The caller's own CancelToken, watched while the call is pending.
  // Declared last: destroyed first, it waits out a callback that is running.
  std::unique_ptr<CancelCallback> on_cancel;

  // A fresh state: from this thread's cache of finished ones, or new.
  static CallState* make();
  void add_ref() noexcept {
    [[maybe_unused]] const auto old = refs.fetch_add(1, std::memory_order_relaxed);
    assert(old != 0 && "a reference to a call state that was released");
  }
  void release() noexcept {
    // acq_rel: the last owner sees every other owner's writes before reuse.
    const auto old = refs.fetch_sub(1, std::memory_order_acq_rel);
    assert(old != 0 && "a call state released more often than referenced");
    if (old == 1) recycle(this);
  }

  bool is_done() const noexcept { return done.load(std::memory_order_acquire) != 0; }

  // Ends the call with the encoded value in `*v` (swapped in: `*v` gets the
  // state's old buffer back, to reuse) or with `e`; wakes whoever waits.
  // False if it had ended already, or if claim() reserved it for its
  // task's outcome and this is not that outcome (`claimant` false).
  bool complete(std::vector<std::byte>* v, std::optional<Error> e, bool claimant = false) {
    coro::coroutine_handle<> h;
    Scheduler* s = nullptr;
    {
      std::lock_guard lock(mutex);
      if (done.load(std::memory_order_relaxed) != 0 || (claimed_ && !claimant)) return false;
      if (v != nullptr) value.swap(*v);
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

  // A stream's task has ended, its rings still open: from now on only its
  // outcome ends the call (complete(..., claimant = true)), so that a cancel,
  // a timeout or shutdown arriving while its rings close cannot make the
  // caller's `done` tell another story than the rings. Returns the kind of
  // the error the call had ended with already, if one came first.
  std::optional<ErrorKind> claim() {
    std::lock_guard lock(mutex);
    if (done.load(std::memory_order_relaxed) != 0) return error ? error->kind : ErrorKind::Cancelled;
    claimed_ = true;
    return std::nullopt;
  }

  // The running task's CancelToken. Made only for a task that takes one.
  CancelToken token() {
    std::unique_lock lock(mutex);
    if (!cancel_) cancel_.emplace();
    CancelSource source = *cancel_;
    const bool now = cancel_requested_;
    lock.unlock();
    if (now) source.cancel();
    return source.token();
  }
  // The source behind token() (made if need be), to attach a poller to.
  CancelSource cancel_source() {
    std::lock_guard lock(mutex);
    if (!cancel_) cancel_.emplace();
    return *cancel_;
  }
  // Any thread: cancels the task's token, now or as soon as it is made.
  void cancel_task() {
    std::unique_lock lock(mutex);
    cancel_requested_ = true;
    if (!cancel_) return;
    CancelSource source = *cancel_;
    lock.unlock();
    source.cancel();  // runs the token's callbacks: never under our lock
  }

 private:
  static void recycle(CallState* st) noexcept;
  std::optional<CancelSource> cancel_;  // guarded by mutex
  bool cancel_requested_ = false;       // guarded by mutex
  bool claimed_ = false;                // guarded by mutex: see claim()
};

// Finished states, per thread, to be reused (bounded).
struct CallStateCache {
  static constexpr std::size_t kMax = 256;
  std::vector<CallState*> free;
  ~CallStateCache() {
    for (CallState* st : free) delete st;
  }
};
inline thread_local CallStateCache call_state_cache;

inline CallState* CallState::make() {
  auto& cache = call_state_cache.free;
  if (cache.empty()) return new CallState;
  CallState* st = cache.back();
  cache.pop_back();
  st->refs.store(1, std::memory_order_relaxed);
  return st;
}

inline void CallState::recycle(CallState* st) noexcept {
  // First: this waits out a cancel callback still running on another thread.
  st->on_cancel.reset();
  auto& cache = call_state_cache.free;
  if (cache.size() >= CallStateCache::kMax) {
    delete st;
    return;
  }
  st->id = 0;
  st->done.store(0, std::memory_order_relaxed);
  st->sleepers.store(0, std::memory_order_relaxed);
  st->waiter = {};
  st->waiter_scheduler = nullptr;
  // A large value or request is given back rather than kept in the cache.
  constexpr std::size_t kKeepBytes = std::size_t{64} << 10;
  if (st->value.capacity() > kKeepBytes) st->value = {};
  st->value.clear();
  st->error.reset();
  st->worker.store(-1, std::memory_order_relaxed);
  st->task.store(nullptr, std::memory_order_relaxed);
  st->stream.reset();
  if (st->request.capacity() > kKeepBytes) st->request = {};
  st->request.clear();
  st->prev = st->next = nullptr;
  st->held_by = nullptr;
  st->timer = 0;
  st->cancel_.reset();
  st->cancel_requested_ = false;
  st->claimed_ = false;
  cache.push_back(st);
}

// An owning pointer to a CallState (one reference).
class CallRef {
 public:
  CallRef() = default;
  static CallRef make() { return CallRef(CallState::make()); }
  // Takes over a reference that was counted already.
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
