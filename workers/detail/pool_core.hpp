// ferry workers (internal): the WorkerPool's implementation — the shared
// core, what callers do (this file), what workers do (pool_serve.hpp) and
// how workers start, die and stop (pool_lifecycle.hpp).
//
// The core is shared (std::shared_ptr) by the WorkerPool and by every worker
// thread, so a thread that shutdown had to leave behind (its task never
// returned) can still finish safely long after the WorkerPool is gone.
#pragma once

#include "../../core/arena.hpp"
#include "../../core/ring.hpp"
#include "../../core/spin.hpp"
#include "../executor.hpp"
#include "../protocol.hpp"
#include "../registry.hpp"
#include "call_state.hpp"
#include "monitor.hpp"
#include "worker.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ferry::detail {

class PoolCore;
// The pool and worker whose thread this is (nullptr elsewhere).
inline thread_local const PoolCore* current_pool = nullptr;
inline thread_local const Worker* current_worker = nullptr;

// How long blocked callers spin before they sleep, learned from how soon
// answers came (core/spin.hpp); one budget for every caller in the process.
inline AdaptiveSpin& caller_spin() {
  static AdaptiveSpin spin;
  return spin;
}

class PoolCore : public std::enable_shared_from_this<PoolCore> {
 public:
  using Clock = std::chrono::steady_clock;

  PoolCore(WorkerPoolOptions options, const WorkerPool& facade);
  ~PoolCore();
  void start();  // starts the workers (once the core is owned by a shared_ptr)

  // Callers.
  void refuse(CallState& st, Error e);
  void submit(const CallRef& st, std::vector<std::byte>& record, const CallOptions& options);
  Result<StreamPlan> plan_stream(std::string_view name, const StreamOptions& options);
  Result<void> send_stream(const StreamPlan& plan, const CallRef& st, std::vector<std::byte>& record);

  // Everyone.
  ShutdownReport shutdown(ShutdownMode mode, WaitNanos timeout);
  PoolStats stats() const;
  WorkerPool::WorkerRings worker_rings(unsigned index) const;
  unsigned size() const noexcept { return static_cast<unsigned>(slots_.size()); }

 private:
  struct Slot {
    std::atomic<Worker*> worker{nullptr};  // the live one; callers read it without a lock
    std::shared_ptr<Worker> owner;         // guarded by lifecycle_
    std::atomic<std::uint32_t> restarts{0};
  };
  enum class Step { Ok, Crashed, Closed };

  // Caller side (this file).
  bool settle(CallState& st, std::vector<std::byte>* value, std::optional<Error> error, bool claimant = false);
  bool fail(CallState& st, Error e) { return settle(st, nullptr, std::move(e)); }
  void end_early(CallState& st, Error e);
  void watch(const CallRef& st, const CallOptions& options);
  void closed_meanwhile(CallState& st);
  std::uint32_t queued() const noexcept;
  int least_loaded(bool avoid_own) const;
  bool send(Worker& w, const CallRef& st, std::uint32_t tag, std::span<const std::byte> record);
  void enqueue(const CallRef& st, std::vector<std::byte>& record, std::optional<int> pinned_to);
  void wake_one_idle();

  // Worker side (pool_serve.hpp).
  Task<void> serve(Worker& w);
  bool has_work(Worker& w);
  Step take_requests(Worker& w);
  Step handle(Worker& w, std::uint32_t tag, std::span<const std::byte> payload);
  Step run(Worker& w, CallState& st, std::string_view name, std::span<const std::byte> args);
  Step run_sync(Worker& w, CallState& st, const TaskEntry& entry, std::span<const std::byte> args);
  Task<void> run_task(Worker& w, CallState& st, const TaskEntry& entry, std::vector<std::byte> args);
  void start_stream(Worker& w, CallState& st, const protocol::Request& req);
  Task<void> run_stream(Worker& w, CallState& st, const TaskEntry& entry, StreamRings rings, std::vector<std::byte> args);
  Step run_queued(Worker& w);
  void take_queued(Worker& w, std::uint32_t room, std::vector<CallState*>& out);
  // `claimant`: a stream's task that claimed its call (CallState::claim).
  void finish(Worker& w, CallState& st, std::vector<std::byte>* value, std::optional<Error> error, bool claimant = false);
  void finish(Worker& w, CallState& st, Error error) { finish(w, st, nullptr, std::move(error)); }
  // A task's outcome: its encoded result, or its error.
  void finish(Worker& w, CallState& st, Result<std::vector<std::byte>>& out, bool claimant = false) {
    if (out) return finish(w, st, &*out, std::nullopt, claimant);
    finish(w, st, nullptr, std::move(out).error(), claimant);
  }
  void respond(Worker& w, std::uint64_t id, const std::vector<std::byte>* value, const std::optional<Error>& error);
  void send_response(Worker& w, std::uint32_t tag, std::vector<std::byte> record);
  Task<bool> send_unsent(Worker& w);
  void poll_cancels(Worker& w);
  std::string origin(const Worker& w) const { return "worker " + std::to_string(w.index); }

  // Lifecycle (pool_lifecycle.hpp).
  std::shared_ptr<Worker> make_worker(int index);
  void run_worker(const std::shared_ptr<Worker>& w);
  void worker_died(Worker& w, const std::string& reason);  // on the dying thread
  void bury(int index, std::string reason);                // on the monitor
  std::uint32_t wait_idle(Clock::time_point deadline);
  std::uint32_t cancel_pending(Worker& w, const Error& why);
  void join_or_leave(Worker& w, Clock::time_point deadline, ShutdownReport& report);

  WorkerPoolOptions options_;
  const WorkerPool& facade_;  // for on_worker_started; outlived by the core only once stopped
  std::vector<std::unique_ptr<Slot>> slots_;
  mutable std::mutex lifecycle_;  // guards slot replacement, retired_ and the decision to stop
  std::vector<std::shared_ptr<Worker>> retired_;
  std::vector<void*> retired_rings_;  // external: dead workers' rings, which JavaScript may still read
  Monitor monitor_;

  std::atomic<bool> accepting_{true};
  std::atomic<bool> stopped_{false};

  std::mutex queue_mutex_;
  std::deque<CallRef> queue_;                  // calls waiting for any worker (record in `request`)
  std::atomic<std::uint32_t> queue_count_{0};  // queue_.size(), for idle workers to poll
  std::atomic<std::uint32_t> queued_high_water_{0};
  std::atomic<std::uint64_t> submitted_{0};
  std::atomic<std::uint64_t> failed_{0};
};

// ---------------------------------------------------------------------------
// Callers

// A number for each call, for messages and stats (C++ callers' wire id is
// the state's address): blocks of ids per thread, so that callers on many
// threads do not all bump one shared counter.
inline std::uint64_t next_call_id() noexcept {
  static std::atomic<std::uint64_t> next{1};
  static thread_local std::uint64_t id = 0, left = 0;
  if (left == 0) {
    id = next.fetch_add(1024, std::memory_order_relaxed);
    left = 1024;
  }
  --left;
  return id++;
}

inline void PoolCore::refuse(CallState& st, Error e) {
  st.id = next_call_id();
  submitted_.fetch_add(1, std::memory_order_relaxed);
  fail(st, std::move(e));
}

// Calls waiting for a worker: in the shared queue and in every pinned queue.
inline std::uint32_t PoolCore::queued() const noexcept {
  std::uint32_t n = queue_count_.load(std::memory_order_relaxed);
  for (auto& slot : slots_) n += slot->worker.load(std::memory_order_acquire)->pinned_count.load(std::memory_order_relaxed);
  return n;
}

// A call that was handed over while shutdown began: shutdown may have swept
// the queues and the held lists before it arrived there, so it ends here.
// (seq_cst: Dekker with the store in shutdown(). The handing over was under
// the queue's or the held list's mutex, which shutdown's sweep also takes:
// either the sweep saw the call, or this load sees the pool closed.)
inline void PoolCore::closed_meanwhile(CallState& st) {
  if (!accepting_.load(std::memory_order_seq_cst)) {
    fail(st, Error::make(ErrorKind::Cancelled, "the pool was shut down", "workers/pool"));
  }
}

// Ends `st` with its outcome (the one place calls end): the encoded value
// in *value (swapped in) or the error. False if it had ended already.
inline bool PoolCore::settle(CallState& st, std::vector<std::byte>* value, std::optional<Error> error, bool claimant) {
  const bool failed = error.has_value();
  if (!st.complete(value, std::move(error), claimant)) return false;
  if (failed) failed_.fetch_add(1, std::memory_order_relaxed);
  if (st.timer != 0) monitor_.cancel_timer(st.timer);
  return true;
}

// A timeout or a cancel: the call ends now, and its task is told (its
// CancelToken fires, even while a synchronous task runs).
inline void PoolCore::end_early(CallState& st, Error e) {
  if (fail(st, std::move(e))) st.cancel_task();
}

// Arms the call's timeout and the caller's CancelToken, before the call is
// sent (so st.timer is set before any worker can end the call).
inline void PoolCore::watch(const CallRef& st, const CallOptions& options) {
  if (options.timeout.count() >= 0) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout).count();
    monitor_.add_timer(Clock::now() + options.timeout, [self = weak_from_this(), ref = st, ms] {
      if (auto core = self.lock()) {
        core->end_early(*ref, Error::make(ErrorKind::Timeout,
                                          "call " + std::to_string(ref->id) + " timed out after " + std::to_string(ms) + " ms",
                                          "workers/pool"));
      }
    }, st->timer);
  }
  if (options.cancel.can_be_cancelled()) {
    // A raw pointer: the callback is st's own member, destroyed with it.
    st->on_cancel = std::make_unique<CancelCallback>(options.cancel, [self = weak_from_this(), raw = st.get()] {
      if (auto core = self.lock()) {
        core->end_early(*raw, Error::make(ErrorKind::Cancelled, "call " + std::to_string(raw->id) + " cancelled", "workers/pool"));
      }
    });
  }
}

inline void PoolCore::submit(const CallRef& st, std::vector<std::byte>& record, const CallOptions& options) {
  st->id = next_call_id();
  submitted_.fetch_add(1, std::memory_order_relaxed);
  if (!accepting_.load(std::memory_order_acquire)) {
    fail(*st, Error::make(ErrorKind::Closed, "the pool is shut down", "workers/pool"));
    return;
  }
  if (options_.external) {
    fail(*st, Error::make(ErrorKind::InvalidArgument, "this pool's rings are driven by JavaScript", "workers/pool"));
    return;
  }
  watch(st, options);
  if (st->is_done()) return;  // its CancelToken was cancelled already
  const bool nested = current_pool == this;
  const int n = static_cast<int>(slots_.size());
  const int target = options.affinity ? static_cast<int>(*options.affinity % static_cast<std::uint64_t>(n)) : least_loaded(nested);
  Worker* w = slots_[static_cast<std::size_t>(target)]->worker.load(std::memory_order_acquire);
  if ((nested || w->held.size() < options_.max_in_flight) && send(*w, st, protocol::kCallTag, record)) {
    closed_meanwhile(*st);
    return;
  }
  if (nested && !options.affinity) {
    // Never behind the in-flight limit (see pool.hpp): any ring with room.
    for (int i = 0; i < n; ++i) {
      if (send(*slots_[static_cast<std::size_t>(i)]->worker.load(std::memory_order_acquire), st, protocol::kCallTag, record)) {
        closed_meanwhile(*st);
        return;
      }
    }
    fail(*st, Error::make(ErrorKind::QueueFull, "a nested call found every worker's request ring full", "workers/pool"));
    return;
  }
  enqueue(st, record, options.affinity ? std::optional<int>(target) : std::nullopt);
  closed_meanwhile(*st);
}

// The live worker holding the fewest calls (nested calls avoid the caller's own).
inline int PoolCore::least_loaded(bool avoid_own) const {
  int best = 0;
  std::uint32_t best_load = UINT32_MAX;
  for (int i = 0; i < static_cast<int>(slots_.size()); ++i) {
    const Worker* w = slots_[static_cast<std::size_t>(i)]->worker.load(std::memory_order_acquire);
    if (!w->alive.load(std::memory_order_relaxed)) continue;
    std::uint32_t load = w->held.size();
    if (avoid_own && w == current_worker) load = UINT32_MAX - 1;
    if (load < best_load) {
      best_load = load;
      best = i;
    }
  }
  return best;
}

// Hands the call to worker w through its request ring; false if w is dead
// or the ring has no room (or, for a stream, the record can never fit it).
inline bool PoolCore::send(Worker& w, const CallRef& st, std::uint32_t tag, std::span<const std::byte> record) {
  std::lock_guard lock(w.submit_mutex);
  if (!w.alive.load(std::memory_order_relaxed)) return false;
  st->worker.store(w.index, std::memory_order_relaxed);
  w.held.add(st);  // before the record: the worker may answer at once
  Result<bool> wrote = false;
  if (tag != protocol::kCallTag || record.size() <= w.request_tx->max_payload()) {
    wrote = w.request_tx->try_write(tag, record);
  } else {
    // A call too large for a ring record: the worker reads it from the
    // call's state, which stays alive while the worker holds the call.
    st->request.assign(record.begin(), record.end());
    wrote = w.request_tx->try_write(protocol::kCallByStateTag, record.first(8));
  }
  if (!wrote || !*wrote) {
    w.held.remove(st.get());
    st->worker.store(-1, std::memory_order_relaxed);
    return false;
  }
  // One release store and a fence; a notify only if the worker is parked.
  // Fenced: the worker parks often, and so skips the heavy barrier.
  w.request_tx->publish_fenced();
  return true;
}

inline void PoolCore::enqueue(const CallRef& st, std::vector<std::byte>& record, std::optional<int> pinned_to) {
  // The bound is checked, not reserved: callers racing past it together may
  // overshoot it by their number (one each), never by more.
  const auto queued = this->queued() + 1;
  if (queued > options_.max_queued) {
    fail(*st, Error::make(ErrorKind::QueueFull,
                                "call queue is full: " + std::to_string(options_.max_queued) +
                                    " calls already wait for a worker",
                                "workers/pool"));
    return;
  }
  auto hw = queued_high_water_.load(std::memory_order_relaxed);
  while (queued > hw && !queued_high_water_.compare_exchange_weak(hw, queued, std::memory_order_relaxed)) {}
  st->request.assign(record.begin(), record.end());  // its buffer is reused with the state
  CallRef q = st;
  if (pinned_to) {
    // A slot's worker may be replaced meanwhile: push only to a live one
    // (bury() moves a dead worker's pinned calls under the same mutexes).
    for (;;) {
      Worker* w = slots_[static_cast<std::size_t>(*pinned_to)]->worker.load(std::memory_order_acquire);
      {
        std::lock_guard lock(w->pinned_mutex);
        if (w->alive.load(std::memory_order_acquire) || stopped_.load(std::memory_order_acquire)) {
          w->pinned.push_back(std::move(q));
          w->pinned_count.fetch_add(1, std::memory_order_seq_cst);  // before wake(): Dekker with its sleep
        }
      }
      if (!q) {
        w->ex->wake();
        return;
      }
      std::this_thread::yield();  // the slot is between workers
    }
  }
  {
    std::lock_guard lock(queue_mutex_);
    queue_.push_back(std::move(q));
    queue_count_.fetch_add(1, std::memory_order_seq_cst);  // before the idle checks: Dekker with sleep
  }
  wake_one_idle();
}

// Wakes one parked worker, if any is, to take queued work.
inline void PoolCore::wake_one_idle() {
  for (auto& slot : slots_) {
    Worker* w = slot->worker.load(std::memory_order_acquire);
    if (w->held.size() < options_.max_in_flight && w->ex->wake()) return;
  }
}

inline Result<StreamPlan> PoolCore::plan_stream(std::string_view name, const StreamOptions& options) {
  if (!accepting_.load(std::memory_order_acquire)) return Error::make(ErrorKind::Closed, "the pool is shut down", "workers/pool");
  if (options_.external) return Error::make(ErrorKind::InvalidArgument, "this pool's rings are driven by JavaScript", "workers/pool");
  if (name.size() > protocol::kMaxNameBytes) return Error::make(ErrorKind::InvalidArgument, "task name longer than 65535 bytes", "workers/pool");
  auto capacity = stream_capacity(options.capacity);
  if (!capacity) return std::move(capacity).error();
  auto mem = std::make_shared<StreamMemory>();
  auto in = shared_alloc(ring_bytes(*capacity));
  if (!in) return std::move(in).error();
  mem->in = *in;
  auto out = shared_alloc(ring_bytes(*capacity));
  if (!out) return std::move(out).error();
  mem->out = *out;
  (void)ring_init(mem->in, *capacity);  // capacity was checked by stream_capacity
  (void)ring_init(mem->out, *capacity);
  const int n = static_cast<int>(slots_.size());
  const int index = options.affinity ? static_cast<int>(*options.affinity % static_cast<std::uint64_t>(n))
                                     : least_loaded(current_pool == this);
  return StreamPlan{std::move(mem), index, slots_[static_cast<std::size_t>(index)]->worker.load()->doorbell};
}

inline Result<void> PoolCore::send_stream(const StreamPlan& plan, const CallRef& st,
                                          std::vector<std::byte>& record) {
  st->id = next_call_id();
  st->stream = plan.memory;
  submitted_.fetch_add(1, std::memory_order_relaxed);
  Error refused = Error::make(ErrorKind::Closed, "the pool is shut down", "workers/pool");
  if (accepting_.load(std::memory_order_acquire)) {
    Worker* w = slots_[static_cast<std::size_t>(plan.worker)]->worker.load(std::memory_order_acquire);
    if (w->doorbell == plan.task_bell && send(*w, st, protocol::kStreamTag, record)) {
      // Shutdown began meanwhile and may have missed it: end it (its task,
      // if it starts, finds its rings ended).
      if (!accepting_.load(std::memory_order_seq_cst) && fail(*st, Error::make(ErrorKind::Cancelled, "the pool was shut down", "workers/pool"))) {
        ring_abort(plan.memory->in, ErrorKind::Cancelled);
        ring_abort(plan.memory->out, ErrorKind::Cancelled);
      }
      return {};
    }
    refused = Error::make(ErrorKind::QueueFull,
                          "worker " + std::to_string(plan.worker) + " cannot take a stream now (its request ring is full or it died)",
                          "workers/pool");
  }
  // Nothing will run on these rings: end them so the caller's ends do not wait.
  ring_abort(plan.memory->in, refused.kind);
  ring_abort(plan.memory->out, refused.kind);
  fail(*st, refused);
  return refused;
}

}  // namespace ferry::detail

#include "pool_lifecycle.hpp"
#include "pool_serve.hpp"
