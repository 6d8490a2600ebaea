// ferry workers: WorkerPool — N worker threads, each an Executor, fed
// through shared-memory rings.
//
//   ferry::WorkerPool pool({.workers = 4});
//   ferry::Result<int> r = pool.call<int>("add", 2, 3).get();      // plain thread
//   ferry::Result<int> s = co_await pool.call<int>("add", 2, 3);   // coroutine
//
// Guarantees:
// - call() may be made from any thread; it never blocks. Every call ends
//   exactly once: with the task's value, the task's Error (TaskFailed for an
//   exception, UnknownTask, TypeMismatch, ...), QueueFull, Timeout,
//   Cancelled, WorkerCrashed, or Closed once the pool is shut down.
// - Call<R>::get() blocks; co_await suspends a coroutine on a ferry Executor
//   without blocking it. get() on a thread that runs a ferry Executor (a
//   pool worker, or any other) fails at once with InvalidArgument unless the
//   call is done: blocking there could wait for work that thread itself must
//   do. Likewise on the browser's main thread, which may never block.
// - One wake each way, at most: the worker that finishes a call completes
//   it and wakes its caller itself (a futex notify only if the caller
//   sleeps, a post only to a coroutine's executor). A caller spins before it
//   sleeps, and a worker before it parks, each for a budget learned from how
//   soon answers and requests came recently (core/spin.hpp).
// - Plain exported functions run inline on the worker, decoding their
//   arguments straight from its request ring; coroutines are spawned on its
//   executor. The CancelToken a task takes is cancelled by the pool itself
//   (timeout, the caller's CancelToken, shutdown), so a synchronous task sees
//   it while it runs.
// - Scheduling: least-loaded dispatch. A worker holds at most max_in_flight
//   calls; beyond that calls wait in one queue that workers take from as
//   they finish, bounded by max_queued, past which call() answers
//   QueueFull. A call with an affinity key always runs on worker key %
//   workers (for stateful tasks).
// - Nested calls: a call made by a task running on this pool's workers is
//   never queued behind the in-flight limit: it goes straight to a worker's
//   request ring (another worker's, when there is one), so tasks that
//   co_await calls on their own pool cannot starve each other. (They must
//   co_await them: see get() above.)
// - A worker that dies (crash_worker(), or any exception escaping its loop)
//   fails every call it held with WorkerCrashed and is replaced; its streams
//   end with WorkerCrashed after what they had published.
// - Shutdown never hangs past its deadlines: see shutdown().
//
// Design: per worker, a request ring (callers -> worker; callers serialise
// on a small per-worker mutex, so the ring stays single-producer) and, when
// JavaScript drives the pool (external), a response ring. A C++ caller puts
// its call's state address in the request, and the worker completes that
// state directly. A monitor thread runs timeouts and replaces dead workers;
// it is never on a call's path. The implementation is in
// workers/detail/pool_core.hpp and the files it includes, compiled once into
// the runtime library (workers/pool.cpp) rather than into every file that
// makes or calls a pool; the records are in workers/protocol.hpp.
#pragma once

#include "../core/cancel.hpp"
#include "../core/codec.hpp"
#include "../core/error.hpp"
#include "../core/spin.hpp"
#include "../core/wait.hpp"
#include "../stream/stream.hpp"
#include "detail/call_state.hpp"
#include "executor_stats.hpp"
#include "protocol.hpp"
#include "registry.hpp"
#include "task.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

class WorkerPool;

struct WorkerPoolOptions {
  unsigned workers = 0;                    // 0: hardware concurrency
  // Bytes of each worker's request (and response) ring. It bounds what is
  // in flight, not how large a value may be: a C++ call too large for a ring
  // record waits in the pool's queue instead, and a JavaScript peer's records
  // travel in parts (web/PROTOCOL.md).
  std::uint32_t ring_capacity = 1u << 16;
  std::uint32_t max_in_flight = 4;         // calls held by one worker at once
  std::uint32_t max_queued = 10000;        // calls waiting for a worker
  // How long shutdown() gives running tasks, once told to stop (their
  // CancelToken cancelled, their streams ended), before it leaves their
  // threads behind and says so in its report.
  std::chrono::milliseconds stop_grace{1000};
  // JavaScript drives every worker's request and response rings
  // (web/PROTOCOL.md): the pool attaches only the workers' ends, call() and
  // stream() answer InvalidArgument, a dead worker's rings are aborted with
  // WorkerCrashed (and kept until the pool is destroyed, since JavaScript may
  // still look at them), and on_worker_started announces each worker as it
  // starts or replaces a dead one (see worker_rings()).
  bool external = false;
  // With external: a request or result record too large for a ring may lie
  // in a block of shared memory (shared_alloc) that a block record names
  // (web/PROTOCOL.md, "Records out of band"); the reader frees it. The wasm
  // bridge turns it on; without it such records come and go in parts.
  bool shared_blocks = false;
  std::function<void(const WorkerPool& pool, unsigned index)> on_worker_started;
};

struct CallOptions {
  WaitNanos timeout = kWaitForever;
  CancelToken cancel;
  std::optional<std::uint64_t> affinity;  // same key, same worker
};

struct StreamOptions {
  std::size_t capacity = 64 * 1024;       // bytes per direction (stream_capacity rounds it)
  std::optional<std::uint64_t> affinity;  // same key, same worker
};

struct WorkerStats {
  bool alive = false;
  std::uint32_t restarts = 0;
  std::uint32_t in_flight = 0;
  std::uint64_t calls_completed = 0;
  ExecutorStats executor;
};

struct PoolStats {
  std::vector<WorkerStats> workers;
  std::uint64_t calls_submitted = 0;
  std::uint64_t calls_failed = 0;
  std::uint32_t queued = 0;
  std::uint32_t queued_high_water = 0;
};

enum class ShutdownMode { Drain, Cancel };

// What shutdown() did.
struct ShutdownReport {
  std::uint32_t finished = 0;   // calls and streams that ended by themselves while shutdown waited
  std::uint32_t cancelled = 0;  // calls and streams it ended with Cancelled
  // Tasks still running stop_grace after they were told to stop, named
  // ("worker 1: \"spin\" (call 17)"): their threads were left to end by
  // themselves when those tasks return.
  std::vector<std::string> abandoned;
  bool clean() const noexcept { return abandoned.empty(); }
};

namespace detail {
class PoolCore;

// Where a stream will run, chosen before its rings' bells are set.
struct StreamPlan {
  std::shared_ptr<StreamMemory> memory;
  int worker;
  std::atomic<std::uint32_t>* task_bell;  // that worker's doorbell
};

// Blocks until `st` is done (see Call::get()); an Error if it may not wait here or the timeout passed.
std::optional<Error> wait_for_call(CallState& st, WaitNanos timeout);

template <class R>
Result<R> call_result(CallState& st) {
  if (st.error) return *st.error;
  // A task that failed answers with a tagged error value; any other answer
  // is R in either form (the schema form where preferred_form<R>() says so,
  // workers/registry.hpp), which decode<R> reads, not decode<Result<R>>.
  if constexpr (!std::is_void_v<R>) {
    if (st.value.empty() || st.value.front() != static_cast<std::byte>(WireTag::Error)) return decode<R>(st.value);
  }
  auto r = decode<Result<R>>(st.value);
  if (!r) return std::move(r).error();
  return std::move(*r);
}

// A string literal or C string argument travels as a string.
template <class T>
const T& as_argument(const T& v) noexcept {
  return v;
}
inline std::string_view as_argument(const char* s) noexcept { return s; }

// Appends the arguments as one array value (core/CODEC.md, tag 0x0E),
// encoding each in place rather than copying them into a tuple first.
template <class... Args>
Result<void> append_args(std::vector<std::byte>& record, const Args&... args) {
  record.push_back(static_cast<std::byte>(WireTag::Array));
  const auto count = static_cast<std::uint32_t>(sizeof...(Args));
  record.resize(record.size() + 4);
  std::memcpy(record.data() + record.size() - 4, &count, 4);
  Writer writer(record);
  Result<void> encoded;
  ((encoded ? (void)(encoded = encode(writer, as_argument(args))) : (void)0), ...);
  return encoded;
}

// The request record being built on this thread (reused: no allocation per call).
inline std::vector<std::byte>& scratch_record() {
  static thread_local std::vector<std::byte> record;
  return record;
}
}  // namespace detail

// The result of WorkerPool::call: awaitable in a coroutine, or blocking.
template <class R>
class Call {
 public:
  // Blocks until the call ends (Timeout if `timeout` passes first; the call
  // itself goes on). Fails at once with InvalidArgument on a thread that
  // runs a ferry Executor, and on the browser's main thread, unless done.
  Result<R> get(WaitNanos timeout = kWaitForever) {
    if (!st_->is_done()) {
      if (auto e = detail::wait_for_call(*st_, timeout)) return std::move(*e);
    }
    return detail::call_result<R>(*st_);
  }
  bool done() const noexcept { return st_->is_done(); }
  std::uint64_t id() const noexcept { return st_->id; }

  auto operator co_await() {
    struct Awaiter {
      detail::CallRef st;
      bool await_ready() const noexcept { return st->is_done(); }
      bool await_suspend(coro::coroutine_handle<> h) {
        Scheduler* s = Scheduler::current();
        if (s == nullptr) {
          throw Error::make(ErrorKind::InvalidArgument, "co_await on a call outside a ferry executor; use get()", "workers/pool");
        }
        std::lock_guard lock(st->mutex);
        if (st->done.load(std::memory_order_relaxed) != 0) return false;
        st->waiter = h;
        st->waiter_scheduler = s;
        return true;
      }
      Result<R> await_resume() { return detail::call_result<R>(*st); }
    };
    return Awaiter{st_};
  }

 private:
  friend class WorkerPool;
  explicit Call(detail::CallRef st) : st_(std::move(st)) {}
  detail::CallRef st_;
};

// An open stream to a FERRY_EXPORT_STREAM task: send on tx, receive on rx;
// done ends when the task does (its error, or WorkerCrashed, Cancelled...).
// If the calling thread runs a ferry Executor, tx/rx are bound to it (await
// them there); otherwise use their try_* / *_blocking calls. When the task
// fails (throws, returns an error, is cancelled) rx ends, after every value
// the task sent, with an error of that kind instead of Closed, and tx's
// sends fail with it; a crashed worker ends both with WorkerCrashed. The
// rings have ended by the time done is ready: a send made then fails (with
// Closed after a normal end) instead of being accepted and lost.
template <class In, class Out>
struct Stream {
  Sender<In> tx;
  Receiver<Out> rx;
  Call<void> done;
};

class WorkerPool {
 public:
  // Throws Error (InvalidArgument) if two tasks were exported under one name.
  explicit WorkerPool(WorkerPoolOptions options = {});
  ~WorkerPool();  // shutdown(Cancel); never hangs (see shutdown)
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  template <class R, class... Args>
  Call<R> call(std::string_view name, const Args&... args) {
    return call_with<R>(CallOptions{}, name, args...);
  }
  template <class R, class... Args>
  Call<R> call_with(CallOptions options, std::string_view name, const Args&... args);

  // Opens a stream to the FERRY_EXPORT_STREAM task `name` on one worker.
  // Errors: Closed (pool shut down), QueueFull (that worker's request ring
  // is full), InvalidArgument, Serialization; the task's own failures
  // (UnknownTask, TypeMismatch of the arguments, ...) arrive through done and
  // end tx/rx with the same kind.
  template <class In, class Out, class... Args>
  Result<Stream<In, Out>> stream(std::string_view name, const Args&... args) {
    return stream_with<In, Out>(StreamOptions{}, name, args...);
  }
  template <class In, class Out, class... Args>
  Result<Stream<In, Out>> stream_with(StreamOptions options, std::string_view name, const Args&... args);

  // Stops the pool; later calls end with Closed.
  // Drain: waits (up to `timeout`) for every accepted call and stream to end
  //   by itself — a stream ends when its caller closes it and its task returns.
  // Cancel: does not wait.
  // Then, in both modes, what is still pending ends with Cancelled at once:
  // its task's CancelToken is cancelled and its stream rings are ended with
  // Cancelled. Running tasks get WorkerPoolOptions::stop_grace to return; a thread
  // still inside a task after that is left behind (it ends when the task
  // returns, keeping alive only what it uses) and the report names it. A
  // second shutdown() returns an empty report.
  ShutdownReport shutdown(ShutdownMode mode, WaitNanos timeout = kWaitForever);

  unsigned size() const noexcept;
  PoolStats stats() const;

  // Where worker `index` takes requests, answers, and sleeps (its executor's
  // doorbell, which the task-side bells of a stream's rings point at).
  struct WorkerRings {
    void* request;
    void* response;
    std::atomic<std::uint32_t>* doorbell;
  };
  WorkerRings worker_rings(unsigned index) const;

 private:
  // Non-template halves of call_with / stream_with (workers/detail/pool_core.hpp).
  Call<void> refused(Error e);
  void submit(const detail::CallRef& st, std::vector<std::byte>& record, const CallOptions& options);
  Result<detail::StreamPlan> plan_stream(std::string_view name, const StreamOptions& options);
  Result<void> send_stream(const detail::StreamPlan& plan, const detail::CallRef& st, std::vector<std::byte>& record);

  std::shared_ptr<detail::PoolCore> core_;
};

template <class R, class... Args>
Call<R> WorkerPool::call_with(CallOptions options, std::string_view name, const Args&... args) {
  if (name.size() > protocol::kMaxNameBytes) {
    return Call<R>(refused(Error::make(ErrorKind::InvalidArgument, "task name longer than 65535 bytes", "workers/pool")).st_);
  }
  auto st = detail::CallRef::make();
  auto& record = detail::scratch_record();
  // The wire id of a C++ caller is its call state's address (workers/protocol.hpp).
  protocol::begin_call(record, reinterpret_cast<std::uintptr_t>(st.get()), name);
  if (auto encoded = detail::append_args(record, args...); !encoded) {
    return Call<R>(refused(std::move(encoded).error()).st_);
  }
  submit(st, record, options);
  return Call<R>(std::move(st));
}

template <class In, class Out, class... Args>
Result<Stream<In, Out>> WorkerPool::stream_with(StreamOptions options, std::string_view name,
                                                const Args&... args) {
  auto plan = plan_stream(name, options);
  if (!plan) return std::move(plan).error();
  auto& mem = plan->memory;
  // The worker's doorbell wakes the task; the caller's executor (if any) wakes us.
  Scheduler* here = Scheduler::current();
  std::atomic<std::uint32_t>* mine = here ? &here->doorbell() : nullptr;
  if (auto ok = ring_set_bells(mem->in, plan->task_bell, mine); !ok) return std::move(ok).error();
  if (auto ok = ring_set_bells(mem->out, mine, plan->task_bell); !ok) return std::move(ok).error();
  auto tx = Sender<In>::over(mem->in, mem);
  if (!tx) return std::move(tx).error();
  auto rx = Receiver<Out>::over(mem->out, mem);
  if (!rx) return std::move(rx).error();

  auto st = detail::CallRef::make();
  auto& record = detail::scratch_record();
  auto* keep = new std::shared_ptr<void>(mem);  // the worker takes it over
  protocol::begin_stream(record, reinterpret_cast<std::uintptr_t>(st.get()), reinterpret_cast<std::uintptr_t>(mem->in),
                         reinterpret_cast<std::uintptr_t>(mem->out), reinterpret_cast<std::uintptr_t>(keep), name);
  if (auto encoded = detail::append_args(record, args...); !encoded) {
    delete keep;
    return std::move(encoded).error();
  }
  if (auto sent = send_stream(*plan, st, record); !sent) {
    delete keep;
    return std::move(sent).error();
  }
  return Stream<In, Out>{std::move(*tx), std::move(*rx), Call<void>(std::move(st))};
}

}  // namespace ferry
