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
// - Call<R>::get() blocks, spinning for up to 50 us before it sleeps (not
//   on the browser main thread: it fails with InvalidArgument there, after
//   that spin); co_await suspends a coroutine on a ferry
//   Executor without blocking it.
// - Scheduling: least-loaded dispatch. A worker holds at most
//   max_in_flight calls; beyond that calls wait in an overflow queue
//   (moodycamel ConcurrentQueue) that idle workers take from, bounded by
//   max_queued, past which call() answers QueueFull. A call with an affinity
//   key always runs on worker key % workers (for stateful tasks).
// - A worker that dies (crash_worker(), or any exception escaping its loop)
//   fails every call it held with WorkerCrashed and is replaced.
//
// Design: per worker, a request ring (callers → worker; callers serialise on
// a small per-worker mutex, the ring stays single-producer) and a response
// ring (worker → pool). The worker's request ring rings its executor's
// doorbell; all response rings ring the doorbell of one client executor
// thread, which completes calls, runs timeouts and replaces dead workers.
#pragma once

#include "core/arena.hpp"
#include "core/cancel.hpp"
#include "core/codec.hpp"
#include "core/error.hpp"
#include "core/ring.hpp"
#include "core/wait.hpp"
#include "stream/stream.hpp"
#include "workers/executor.hpp"
#include "workers/registry.hpp"
#include "workers/task.hpp"

#include <concurrentqueue/concurrentqueue.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace ferry {

class WorkerPool;

struct PoolOptions {
  unsigned workers = 0;                   // 0: hardware concurrency
  std::uint32_t ring_capacity = 1u << 16;  // bytes, each direction, per worker
  std::uint32_t max_in_flight = 4;        // calls held by one worker at once
  std::uint32_t max_queued = 10000;       // calls waiting for a worker
  // JavaScript drives every worker's request and response rings
  // (web/PROTOCOL.md): the pool attaches only the workers' ends, call() and
  // stream() answer InvalidArgument, a dead worker's rings are aborted with
  // WorkerCrashed (and kept until the pool is destroyed, since JavaScript may
  // still look at them), and on_worker_started announces each worker as it
  // starts or replaces a dead one (see worker_rings()).
  bool external = false;
  std::function<void(const WorkerPool& pool, unsigned index)> on_worker_started;
};

struct CallOptions {
  WaitNanos timeout = kWaitForever;
  CancelToken cancel;
  std::optional<std::uint64_t> affinity;  // same key, same worker
};

struct StreamOpenOptions {
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

namespace detail {

// One call as the caller sees it: completed exactly once by whoever wins.
struct CallState {
  std::uint64_t id = 0;
  std::atomic<std::uint32_t> done{0};      // futex word: 1 once completed
  std::atomic<std::uint32_t> sleepers{0};  // threads blocked in get(): only then notify
  std::atomic<int> worker{-1};         // who holds it, for crash handling
  std::mutex mutex;
  coro::coroutine_handle<> waiter;     // guarded by mutex
  Scheduler* waiter_scheduler = nullptr;
  std::vector<std::byte> value;        // encoded result, or
  std::optional<Error> error;          // the error it ended with
  std::unique_ptr<CancelCallback> on_cancel;
  std::uint64_t timer = 0;

  // Returns false if it was completed already.
  bool complete(std::vector<std::byte> v, std::optional<Error> e) {
    coro::coroutine_handle<> h;
    Scheduler* s = nullptr;
    {
      std::lock_guard lock(mutex);
      if (done.load(std::memory_order_relaxed) != 0) return false;
      value = std::move(v);
      error = std::move(e);
      // seq_cst: the value above is visible to whoever sees done == 1, and
      // the store is ordered before the sleepers load (Dekker with get()).
      done.store(1, std::memory_order_seq_cst);
      h = std::exchange(waiter, {});
      s = waiter_scheduler;
    }
    if (sleepers.load(std::memory_order_seq_cst) != 0) notify_word(done);  // a syscall only if someone sleeps
    if (h) s->post([h]() mutable { h.resume(); });
    return true;
  }
};

template <class R>
Result<R> call_result(CallState& st) {
  if (st.error) return *st.error;
  if constexpr (std::is_void_v<R>) {
    auto r = decode<Result<void>>(st.value);
    if (!r) return std::move(r).error();
    return std::move(*r);
  } else {
    auto r = decode<Result<R>>(st.value);
    if (!r) return std::move(r).error();
    return std::move(*r);
  }
}

// Request ring tags and record layout (pool-internal; both ends are C++).
// How long Call::get() spins for its answer before it sleeps (bench/
// channel_bench, pool call p50 on 2 cores: 69-79 us with a 4 us spin, 58-61
// with 20 us, 42-48 with 50 us, 38-46 with 120 us).
inline constexpr std::chrono::microseconds kCallSpin{50};
inline constexpr std::uint32_t kCallTag = 1;    // u64 id, u16 name length, name, args
inline constexpr std::uint32_t kCancelTag = 2;  // u64 id
inline constexpr std::uint32_t kStreamTag = 3;  // u64 id, u64 in ring, u64 out ring, u64 keepalive, u16 name length, name, args
inline constexpr std::uint32_t kResultTag = 1;  // response ring: u64 id, encoded Result
inline constexpr std::uint32_t kCrashTag = 2;   // response ring, external mode only: the reason, one codec string

// Ring memory of one pool stream, shared by both ends.
struct StreamMemory {
  void* in = nullptr;   // caller -> task
  void* out = nullptr;  // task -> caller
  ~StreamMemory() {
    shared_free(in);
    shared_free(out);
  }
};

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
  ((encoded ? (void)(encoded = encode(writer, args)) : (void)0), ...);
  return encoded;
}

template <class T>
void put_raw(std::vector<std::byte>& out, T v) {
  const auto at = out.size();
  out.resize(at + sizeof v);
  std::memcpy(out.data() + at, &v, sizeof v);
}

// A coroutine-side wait for a ring condition, parked on the current executor.
template <class Ready, class Arm>
class RingCondition final : public RingWait {
 public:
  RingCondition(Ready ready, Arm arm) : ready_(std::move(ready)), arm_(std::move(arm)) {}
  bool await_ready() { return ready_(); }
  void await_suspend(coro::coroutine_handle<> h) {
    handle = h;
    Scheduler::current()->park(*this);
  }
  // false: the executor is going away (the wait was cancelled).
  bool await_resume() const noexcept { return !failed_; }
  bool poll() override { return ready_(); }
  std::atomic<std::uint32_t>* arm() override { return arm_(); }
  void fail(Error) override { failed_ = true; }

 private:
  Ready ready_;
  Arm arm_;
  bool failed_ = false;
};
template <class Ready, class Arm>
RingCondition(Ready, Arm) -> RingCondition<Ready, Arm>;

struct PendingCall {
  std::uint64_t id;
  std::vector<std::byte> record;  // the request record's payload
};

// A worker: its thread, executor and two rings. Replaced whole after a crash.
struct Worker {
  int index = 0;
  void* request_mem = nullptr;
  void* response_mem = nullptr;
  std::unique_ptr<Executor> ex;
  std::optional<RingProducer> request_tx;   // callers, under submit_mutex
  std::optional<RingConsumer> request_rx;   // worker thread
  std::optional<RingProducer> response_tx;  // worker thread
  std::optional<RingConsumer> response_rx;  // client thread
  std::mutex submit_mutex;
  std::atomic<std::uint32_t> in_flight{0};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<bool> alive{true};
  std::mutex affinity_mutex;
  std::deque<PendingCall> affinity_queue;   // calls pinned to this worker
  std::unordered_map<std::uint64_t, CancelSource> running;  // worker thread only
  std::mutex streams_mutex;
  std::vector<std::weak_ptr<StreamMemory>> streams;  // aborted if the worker dies
  std::thread thread;

  ~Worker() {
    ex.reset();  // frames (and their ring endpoints) go before the rings
    request_tx.reset();
    request_rx.reset();
    response_tx.reset();
    response_rx.reset();
    shared_free(request_mem);
    shared_free(response_mem);
  }
};

}  // namespace detail

// The result of WorkerPool::call: awaitable in a coroutine, or blocking.
template <class R>
class Call {
 public:
  // Blocks until the call ends (not on the browser main thread).
  Result<R> get(WaitNanos timeout = kWaitForever) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    // Spin for up to kCallSpin first: a quick call's answer takes two
    // thread wakes (worker, then client) to come back, about 40 us on a
    // 2-core machine, and a caller that slept by then pays a third.
    for (int i = 0; st_->done.load(std::memory_order_acquire) == 0; ++i) {
      if ((i & 63) == 63 && Clock::now() - start >= detail::kCallSpin) break;
      detail::cpu_relax();
    }
    while (st_->done.load(std::memory_order_acquire) == 0) {
      WaitNanos left = kWaitForever;
      if (timeout.count() >= 0) {
        left = timeout - std::chrono::duration_cast<WaitNanos>(Clock::now() - start);
        if (left.count() <= 0) return Error::make(ErrorKind::Timeout, "waiting for call " + std::to_string(st_->id), "workers/pool");
      }
      // seq_cst: announce the sleep before the last look at done (Dekker with complete()).
      st_->sleepers.fetch_add(1, std::memory_order_seq_cst);
      const auto status = st_->done.load(std::memory_order_seq_cst) == 0 ? wait_word(st_->done, 0, left) : WaitStatus::NotEqual;
      st_->sleepers.fetch_sub(1, std::memory_order_relaxed);
      if (status == WaitStatus::NotAllowed) {
        return Error::make(ErrorKind::InvalidArgument,
                           "Call::get() would block the browser main thread; co_await the call instead",
                           "workers/pool");
      }
    }
    return detail::call_result<R>(*st_);
  }
  bool done() const noexcept { return st_->done.load(std::memory_order_acquire) != 0; }
  std::uint64_t id() const noexcept { return st_->id; }

  auto operator co_await() {
    struct Awaiter {
      std::shared_ptr<detail::CallState> st;
      bool await_ready() const noexcept { return st->done.load(std::memory_order_acquire) != 0; }
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
  explicit Call(std::shared_ptr<detail::CallState> st) : st_(std::move(st)) {}
  std::shared_ptr<detail::CallState> st_;
};

// An open stream to a FERRY_EXPORT_STREAM task: send on tx, receive on rx;
// done ends when the task does (its error, or WorkerCrashed, Cancelled...).
// If the calling thread runs a ferry Executor, tx/rx are bound to it (await
// them there); otherwise use their try_* / *_blocking calls. A crashed
// worker ends tx and rx with WorkerCrashed.
template <class In, class Out>
struct PoolStream {
  Sender<In> tx;
  Receiver<Out> rx;
  Call<void> done;
};

class WorkerPool {
 public:
  explicit WorkerPool(PoolOptions options = {});
  ~WorkerPool();  // shutdown(Cancel) if still running; never hangs
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
  Result<PoolStream<In, Out>> stream(std::string_view name, const Args&... args) {
    return stream_with<In, Out>(StreamOpenOptions{}, name, args...);
  }
  template <class In, class Out, class... Args>
  Result<PoolStream<In, Out>> stream_with(StreamOpenOptions options, std::string_view name, const Args&... args);

  // Drain: stop taking calls, let every accepted call finish, then stop.
  // Cancel: fail everything pending with Cancelled at once, then stop.
  void shutdown(ShutdownMode mode);

  unsigned size() const noexcept { return static_cast<unsigned>(slots_.size()); }
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
  struct Slot {
    mutable std::mutex mutex;  // guards worker (swapped on restart)
    std::shared_ptr<detail::Worker> worker;
    std::uint32_t restarts = 0;
  };

  std::shared_ptr<detail::Worker> start_worker(int index);
  std::shared_ptr<detail::Worker> worker_at(int index) const;
  void submit(std::shared_ptr<detail::CallState> st, std::vector<std::byte> record, const CallOptions& options);
  bool try_write_request(detail::Worker& w, std::uint32_t tag, std::span<const std::byte> payload);
  void send_cancel(std::uint64_t id);
  void fail_call(const std::shared_ptr<detail::CallState>& st, Error e);
  void forget(std::uint64_t id);
  // Raw pointer: the worker owns the executor running it. The executor comes
  // as a parameter: a serve() first resumed while its executor is being
  // destroyed (a pool shut down at once) finds w->ex already null.
  Task<void> serve(detail::Worker* w, Executor& ex);
  Task<void> run_call(detail::Worker& w, std::uint64_t id, std::vector<std::byte> record);
  Task<void> run_stream(detail::Worker& w, std::uint64_t id, StreamRings rings, std::vector<std::byte> record);
  Task<void> respond(detail::Worker& w, std::uint64_t id, Result<std::vector<std::byte>> out);
  int pick_worker(const std::optional<std::uint64_t>& affinity) const;
  void pull_queued(detail::Worker& w);
  Task<void> collect(std::shared_ptr<detail::Worker> w);
  void drain_responses(detail::Worker& w);
  void worker_died(detail::Worker& w, const std::string& reason);  // on the dying thread
  void on_worker_died(int index, std::string reason);             // on the client thread

  PoolOptions options_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::unique_ptr<Executor> client_;  // completes calls; its doorbell is every response ring's bell
  std::thread client_thread_;
  std::atomic<bool> accepting_{true};
  std::atomic<std::uint32_t> active_callers_{0};  // threads inside call_with()
  std::atomic<bool> stopped_{false};       // shutdown() has begun
  std::atomic<bool> tearing_down_{false};  // workers are being stopped and destroyed
  std::atomic<std::uint64_t> next_id_{1};

  std::mutex pending_mutex_;
  std::unordered_map<std::uint64_t, std::shared_ptr<detail::CallState>> pending_;
  std::atomic<std::uint32_t> pending_count_{0};  // futex word for Drain

  moodycamel::ConcurrentQueue<detail::PendingCall> overflow_;
  std::atomic<std::uint32_t> queued_{0};
  std::atomic<std::uint32_t> queued_high_water_{0};
  std::atomic<std::uint64_t> submitted_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::vector<void*> retired_rings_;  // external: dead workers' rings (client thread, then shutdown)
};

// ---------------------------------------------------------------------------
// Implementation

template <class R, class... Args>
Call<R> WorkerPool::call_with(CallOptions options, std::string_view name, const Args&... args) {
  auto st = std::make_shared<detail::CallState>();
  st->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  submitted_.fetch_add(1, std::memory_order_relaxed);
  Call<R> call(st);
  // Shutdown waits for calls inside call_with() to leave before it tears
  // the workers down (seq_cst: Dekker with accepting_ in shutdown()).
  active_callers_.fetch_add(1, std::memory_order_seq_cst);
  struct Leave {
    std::atomic<std::uint32_t>& n;
    ~Leave() { n.fetch_sub(1, std::memory_order_release); }
  } leave{active_callers_};
  if (!accepting_.load(std::memory_order_seq_cst)) {
    fail_call(st, Error::make(ErrorKind::Closed, "the pool is shut down", "workers/pool"));
    return call;
  }
  if (options_.external) {
    fail_call(st, Error::make(ErrorKind::InvalidArgument, "this pool's rings are driven by JavaScript", "workers/pool"));
    return call;
  }
  if (name.size() > 0xFFFF) {
    fail_call(st, Error::make(ErrorKind::InvalidArgument, "task name longer than 65535 bytes", "workers/pool"));
    return call;
  }
  // The request record: u64 id, u16 name length, name, then the arguments.
  std::vector<std::byte> record;
  detail::put_raw(record, st->id);
  detail::put_raw(record, static_cast<std::uint16_t>(name.size()));
  record.insert(record.end(), reinterpret_cast<const std::byte*>(name.data()),
                reinterpret_cast<const std::byte*>(name.data()) + name.size());
  if (auto encoded = detail::append_args(record, args...); !encoded) {
    fail_call(st, std::move(encoded).error());
    return call;
  }
  submit(std::move(st), std::move(record), options);
  return call;
}

template <class In, class Out, class... Args>
Result<PoolStream<In, Out>> WorkerPool::stream_with(StreamOpenOptions options, std::string_view name,
                                                    const Args&... args) {
  active_callers_.fetch_add(1, std::memory_order_seq_cst);  // see call_with
  struct Leave {
    std::atomic<std::uint32_t>& n;
    ~Leave() { n.fetch_sub(1, std::memory_order_release); }
  } leave{active_callers_};
  if (!accepting_.load(std::memory_order_seq_cst)) {
    return Error::make(ErrorKind::Closed, "the pool is shut down", "workers/pool");
  }
  if (options_.external) return Error::make(ErrorKind::InvalidArgument, "this pool's rings are driven by JavaScript", "workers/pool");
  if (name.size() > 0xFFFF) return Error::make(ErrorKind::InvalidArgument, "task name longer than 65535 bytes", "workers/pool");
  auto capacity = stream_capacity(options.capacity);
  if (!capacity) return std::move(capacity).error();
  auto mem = std::make_shared<detail::StreamMemory>();
  auto in = shared_alloc(ring_bytes(*capacity));
  if (!in) return std::move(in).error();
  mem->in = *in;
  auto out = shared_alloc(ring_bytes(*capacity));
  if (!out) return std::move(out).error();
  mem->out = *out;
  (void)ring_init(mem->in, *capacity);  // capacity was checked by stream_capacity
  (void)ring_init(mem->out, *capacity);

  const int index = pick_worker(options.affinity);
  auto w = worker_at(index);
  // The worker's doorbell wakes the task; the caller's executor (if any) wakes us.
  Scheduler* here = Scheduler::current();
  std::atomic<std::uint32_t>* mine = here ? &here->doorbell() : nullptr;
  if (auto ok = ring_set_bells(mem->in, &w->ex->doorbell(), mine); !ok) return std::move(ok).error();
  if (auto ok = ring_set_bells(mem->out, mine, &w->ex->doorbell()); !ok) return std::move(ok).error();
  auto tx = Sender<In>::over(mem->in, mem);
  if (!tx) return std::move(tx).error();
  auto rx = Receiver<Out>::over(mem->out, mem);
  if (!rx) return std::move(rx).error();

  auto st = std::make_shared<detail::CallState>();
  st->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  st->worker.store(index, std::memory_order_release);
  std::vector<std::byte> record;
  detail::put_raw(record, st->id);
  detail::put_raw(record, reinterpret_cast<std::uint64_t>(mem->in));
  detail::put_raw(record, reinterpret_cast<std::uint64_t>(mem->out));
  auto* keep = new std::shared_ptr<void>(mem);  // the worker takes it over
  detail::put_raw(record, reinterpret_cast<std::uint64_t>(keep));
  detail::put_raw(record, static_cast<std::uint16_t>(name.size()));
  record.insert(record.end(), reinterpret_cast<const std::byte*>(name.data()),
                reinterpret_cast<const std::byte*>(name.data()) + name.size());
  if (auto encoded = detail::append_args(record, args...); !encoded) {
    delete keep;
    return std::move(encoded).error();
  }
  {
    std::lock_guard lock(pending_mutex_);
    pending_.emplace(st->id, st);
    pending_count_.fetch_add(1, std::memory_order_relaxed);
  }
  {
    std::lock_guard lock(w->streams_mutex);
    std::erase_if(w->streams, [](auto& weak) { return weak.expired(); });
    w->streams.push_back(mem);
  }
  w->in_flight.fetch_add(1, std::memory_order_relaxed);
  submitted_.fetch_add(1, std::memory_order_relaxed);
  if (!try_write_request(*w, detail::kStreamTag, record)) {
    delete keep;
    w->in_flight.fetch_sub(1, std::memory_order_relaxed);
    Error e = Error::make(ErrorKind::QueueFull,
                          "worker " + std::to_string(index) + " cannot take a stream now (its request ring is full or it died)",
                          "workers/pool");
    fail_call(st, e);
    return e;
  }
  return PoolStream<In, Out>{std::move(*tx), std::move(*rx), Call<void>(st)};
}

inline WorkerPool::WorkerPool(PoolOptions options) : options_(options), client_(std::make_unique<Executor>()) {
  if (options_.workers == 0) options_.workers = std::max(1u, std::thread::hardware_concurrency());
  client_thread_ = std::thread([this] { client_->run(); });
  for (unsigned i = 0; i < options_.workers; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->worker = start_worker(static_cast<int>(i));
    slots_.push_back(std::move(slot));
    if (options_.on_worker_started) options_.on_worker_started(*this, i);
  }
}

inline WorkerPool::~WorkerPool() { shutdown(ShutdownMode::Cancel); }

inline std::shared_ptr<detail::Worker> WorkerPool::start_worker(int index) {
  auto w = std::make_shared<detail::Worker>();
  w->index = index;
  w->ex = std::make_unique<Executor>();
  const auto bytes = ring_bytes(options_.ring_capacity);
  auto req = shared_alloc(bytes);
  auto resp = shared_alloc(bytes);
  if (!req || !resp) std::abort();  // the arena reserves 1 GiB: a pool cannot exhaust it
  w->request_mem = *req;
  w->response_mem = *resp;
  auto check = [](Result<void> r) { if (!r) std::abort(); };
  check(ring_init(w->request_mem, options_.ring_capacity));
  check(ring_init(w->response_mem, options_.ring_capacity));
  // Requests wake the worker; responses wake the client; a full response
  // ring parks the worker until the client releases.
  // External callers (JavaScript) sleep on the response ring's own bell.
  check(ring_set_bells(w->request_mem, &w->ex->doorbell(), nullptr));
  check(ring_set_bells(w->response_mem, options_.external ? nullptr : &client_->doorbell(), &w->ex->doorbell()));
  w->request_rx.emplace(std::move(RingConsumer::attach(w->request_mem).value()));
  w->response_tx.emplace(std::move(RingProducer::attach(w->response_mem).value()));
  if (!options_.external) {
    w->request_tx.emplace(std::move(RingProducer::attach(w->request_mem).value()));
    w->response_rx.emplace(std::move(RingConsumer::attach(w->response_mem).value()));
  }
  w->ex->spawn(serve(w.get(), *w->ex));
  if (!options_.external) client_->spawn(collect(w));
  w->thread = std::thread([this, w] {
    struct Owner {
      WorkerPool* pool;
      detail::Worker* worker;
    } owner{this, w.get()};
    detail::crash_owner = &owner;
    detail::crash_hook = [](void* o, const std::string& reason) {
      auto* self = static_cast<Owner*>(o);
      self->pool->worker_died(*self->worker, reason);
    };
    try {
      w->ex->run();
      return;  // stopped normally
    } catch (const WorkerCrash&) {
      // crash_worker() reported it through the hook already.
    } catch (const std::exception& e) {
      worker_died(*w, e.what());
    } catch (...) {
      worker_died(*w, "unknown exception");
    }
  });
  return w;
}

inline void WorkerPool::worker_died(detail::Worker& w, const std::string& reason) {
  {
    // Under the submit lock: a caller either wrote before this (and its
    // call is marked as ours, so it fails later) or sees the worker dead.
    std::lock_guard lock(w.submit_mutex);
    w.alive.store(false, std::memory_order_release);
  }
  {
    // Its streams end now, before anything unwinds and closes them normally:
    // the callers' ends drain, then get WorkerCrashed.
    std::lock_guard lock(w.streams_mutex);
    for (auto& weak : w.streams) {
      if (auto mem = weak.lock()) {
        ring_abort(mem->in, ErrorKind::WorkerCrashed);
        ring_abort(mem->out, ErrorKind::WorkerCrashed);
      }
    }
  }
  // JavaScript learns it from its response ring and fails what it sent here.
  // A last record says why (web/PROTOCOL.md): this thread is the ring's only
  // producer, and between two records (no reservation open), so it may
  // still write; if the ring is full the reason is lost and only the abort
  // tells. Publishing first also shows the answers already written.
  if (options_.external) {
    if (w.response_tx) {
      std::vector<std::byte> why;
      Writer writer(why);
      if (encode(writer, reason)) (void)w.response_tx->try_write(detail::kCrashTag, why);
      w.response_tx->publish();
    }
    ring_abort(w.request_mem, ErrorKind::WorkerCrashed);
    ring_abort(w.response_mem, ErrorKind::WorkerCrashed);
  }
  client_->post([this, index = w.index, reason] { on_worker_died(index, reason); });
}

inline std::shared_ptr<detail::Worker> WorkerPool::worker_at(int index) const {
  std::lock_guard lock(slots_[static_cast<std::size_t>(index)]->mutex);
  return slots_[static_cast<std::size_t>(index)]->worker;
}

inline bool WorkerPool::try_write_request(detail::Worker& w, std::uint32_t tag, std::span<const std::byte> payload) {
  std::lock_guard lock(w.submit_mutex);
  if (!w.alive.load(std::memory_order_acquire)) return false;
  auto wrote = w.request_tx->try_write(tag, payload);
  if (!wrote || !*wrote) return false;
  w.request_tx->publish();
  return true;
}

inline void WorkerPool::submit(std::shared_ptr<detail::CallState> st, std::vector<std::byte> record,
                               const CallOptions& options) {
  const std::uint64_t id = st->id;
  {
    std::lock_guard lock(pending_mutex_);
    pending_.emplace(id, st);
    pending_count_.fetch_add(1, std::memory_order_relaxed);
  }
  if (options.cancel.can_be_cancelled()) {
    st->on_cancel = std::make_unique<CancelCallback>(options.cancel, [this, id] {
      client_->post([this, id] {
        std::shared_ptr<detail::CallState> s;
        {
          std::lock_guard lock(pending_mutex_);
          auto it = pending_.find(id);
          if (it != pending_.end()) s = it->second;
        }
        if (s) {
          fail_call(s, Error::make(ErrorKind::Cancelled, "call " + std::to_string(id) + " cancelled", "workers/pool"));
          send_cancel(id);
        }
      });
    });
  }
  if (options.timeout.count() >= 0) {
    const auto deadline = Executor::Clock::now() + options.timeout;
    client_->post([this, id, deadline, ms = options.timeout.count() / 1000000] {
      std::shared_ptr<detail::CallState> s;
      {
        std::lock_guard lock(pending_mutex_);
        auto it = pending_.find(id);
        if (it == pending_.end()) return;
        s = it->second;
      }
      s->timer = client_->schedule_at(deadline, [this, s, ms] {
        if (s->done.load(std::memory_order_acquire) != 0) return;
        fail_call(s, Error::make(ErrorKind::Timeout, "call " + std::to_string(s->id) + " timed out after " + std::to_string(ms) + " ms", "workers/pool"));
        send_cancel(s->id);
      });
    });
  }

  const int target = pick_worker(options.affinity);
  auto w = worker_at(target);
  if (w->in_flight.load(std::memory_order_relaxed) < options_.max_in_flight) {
    w->in_flight.fetch_add(1, std::memory_order_relaxed);
    st->worker.store(target, std::memory_order_release);
    if (try_write_request(*w, detail::kCallTag, record)) return;
    w->in_flight.fetch_sub(1, std::memory_order_relaxed);
    st->worker.store(-1, std::memory_order_release);
  }
  // Every worker is busy (or the ring is full): queue it, bounded.
  const auto queued = queued_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (queued > options_.max_queued) {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    fail_call(st, Error::make(ErrorKind::QueueFull,
                              "call queue is full: " + std::to_string(options_.max_queued) + " calls already wait for a worker",
                              "workers/pool"));
    return;
  }
  auto hw = queued_high_water_.load(std::memory_order_relaxed);
  while (queued > hw && !queued_high_water_.compare_exchange_weak(hw, queued, std::memory_order_relaxed)) {}
  if (options.affinity) {
    // Under the slot lock, so a worker being replaced hands this call on
    // (on_worker_died moves the queue under the same lock).
    std::lock_guard slot_lock(slots_[static_cast<std::size_t>(target)]->mutex);
    w = slots_[static_cast<std::size_t>(target)]->worker;
    std::lock_guard lock(w->affinity_mutex);
    w->affinity_queue.push_back({id, std::move(record)});
  } else {
    overflow_.enqueue({id, std::move(record)});
  }
  // Nudge the target: it pulls when it has room (others pull when they finish).
  w->ex->post([this, raw = w.get()] { pull_queued(*raw); });
}

inline int WorkerPool::pick_worker(const std::optional<std::uint64_t>& affinity) const {
  const int n = static_cast<int>(slots_.size());
  // Affinity pins the work; otherwise the least-loaded live worker takes it.
  if (affinity) return static_cast<int>(*affinity % static_cast<std::uint64_t>(n));
  int target = 0;
  std::uint32_t best = UINT32_MAX;
  for (int i = 0; i < n; ++i) {
    auto w = worker_at(i);
    const auto load = w->in_flight.load(std::memory_order_relaxed);
    if (w->alive.load(std::memory_order_relaxed) && load < best) {
      best = load;
      target = i;
    }
  }
  return target;
}

inline void WorkerPool::fail_call(const std::shared_ptr<detail::CallState>& st, Error e) {
  if (st->complete({}, std::move(e))) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    forget(st->id);
  }
}

inline void WorkerPool::forget(std::uint64_t id) {
  std::shared_ptr<detail::CallState> st;
  {
    std::lock_guard lock(pending_mutex_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    st = std::move(it->second);
    pending_.erase(it);
  }
  if (pending_count_.fetch_sub(1, std::memory_order_acq_rel) == 1) notify_word(pending_count_);
  // on_cancel's destructor may wait for a running callback: never under a lock.
  st->on_cancel.reset();
}

inline void WorkerPool::send_cancel(std::uint64_t id) {
  std::shared_ptr<detail::CallState> st;
  const int index = [&] {
    std::lock_guard lock(pending_mutex_);
    auto it = pending_.find(id);
    return it == pending_.end() ? -1 : it->second->worker.load();
  }();
  std::byte payload[8];
  std::memcpy(payload, &id, 8);
  // The call may have ended already (then the worker ignores the id); a full
  // ring drops the cancel: it is advisory, the caller has its answer.
  if (index >= 0) {
    try_write_request(*worker_at(index), detail::kCancelTag, payload);
  } else {
    for (int i = 0; i < static_cast<int>(slots_.size()); ++i) try_write_request(*worker_at(i), detail::kCancelTag, payload);
  }
}

// Worker side ---------------------------------------------------------------

inline Task<void> WorkerPool::serve(detail::Worker* w, Executor& ex) {
  auto& rx = *w->request_rx;
  for (;;) {
    const bool ok = co_await detail::RingCondition(
        [&] { return rx.has_data() || rx.producer_closed(); },
        [&] { rx.prepare_wait_for_data(); return &ex.doorbell(); });
    if (!ok || tearing_down_.load(std::memory_order_acquire)) co_return;
    for (;;) {
      auto rec = rx.try_read();
      if (!rec) co_return;  // Closed: the pool is stopping
      if (!*rec) break;
      const auto& r = **rec;
      if (r.tag == detail::kCallTag && r.payload.size() >= 10) {
        std::uint64_t id;
        std::memcpy(&id, r.payload.data(), 8);
        // Its cancel source exists from now on, so a cancel record that
        // arrives before the task first runs is not lost.
        w->running.try_emplace(id);
        if (options_.external) w->in_flight.fetch_add(1, std::memory_order_relaxed);  // call_with counts its own
        ex.spawn(run_call(*w, id, std::vector<std::byte>(r.payload.begin(), r.payload.end())));
      } else if (r.tag == detail::kStreamTag && r.payload.size() >= 34) {
        std::uint64_t id, in, out, keep;
        std::memcpy(&id, r.payload.data(), 8);
        std::memcpy(&in, r.payload.data() + 8, 8);
        std::memcpy(&out, r.payload.data() + 16, 8);
        std::memcpy(&keep, r.payload.data() + 24, 8);
        // keep is 0 from JavaScript, which owns its stream rings (web/PROTOCOL.md).
        std::unique_ptr<std::shared_ptr<void>> owner(reinterpret_cast<std::shared_ptr<void>*>(keep));
        StreamRings rings{reinterpret_cast<void*>(in), reinterpret_cast<void*>(out), owner ? std::move(*owner) : nullptr};
        w->running.try_emplace(id);
        if (options_.external) w->in_flight.fetch_add(1, std::memory_order_relaxed);
        // The record without the three pointers, laid out like a call's.
        std::vector<std::byte> call_like(r.payload.size() - 24);
        std::memcpy(call_like.data(), r.payload.data(), 8);
        std::memcpy(call_like.data() + 8, r.payload.data() + 32, r.payload.size() - 32);
        ex.spawn(run_stream(*w, id, std::move(rings), std::move(call_like)));
      } else if (r.tag == detail::kCancelTag && r.payload.size() == 8) {
        std::uint64_t id;
        std::memcpy(&id, r.payload.data(), 8);
        if (auto it = w->running.find(id); it != w->running.end()) it->second.cancel();
      }
    }
    rx.release();
  }
}

inline Task<void> WorkerPool::run_call(detail::Worker& w, std::uint64_t id, std::vector<std::byte> record) {
  std::uint16_t name_len;
  std::memcpy(&name_len, record.data() + 8, 2);
  Result<std::vector<std::byte>> out = std::vector<std::byte>{};
  const std::string origin = "worker " + std::to_string(w.index);
  if (record.size() < 10u + name_len) {
    out = Error::make(ErrorKind::Deserialization, "request record shorter than its task name", origin);
  } else {
    const std::string_view name(reinterpret_cast<const char*>(record.data()) + 10, name_len);
    const TaskEntry* entry = TaskRegistry::instance().find(name);
    if (entry == nullptr) {
      out = Error::make(ErrorKind::UnknownTask, "no task named \"" + std::string(name) + "\" is exported", origin);
    } else if (!entry->invoke) {
      out = Error::make(ErrorKind::InvalidArgument,
                        "\"" + std::string(name) + "\" is a streaming task: open it with pool.stream()", origin);
    } else {
      CancelToken token = w.running.try_emplace(id).first->second.token();
      const std::span<const std::byte> args(record.data() + 10 + name_len, record.size() - 10 - name_len);
      // Exceptions become TaskFailed here; WorkerCrash passes through.
      out = co_await catch_errors(entry->invoke(args, token), origin + ": " + std::string(name));
    }
  }
  w.running.erase(id);
  co_await respond(w, id, std::move(out));
  pull_queued(w);
}

inline Task<void> WorkerPool::run_stream(detail::Worker& w, std::uint64_t id, StreamRings rings,
                                         std::vector<std::byte> record) {
  std::uint16_t name_len;
  std::memcpy(&name_len, record.data() + 8, 2);
  const std::string origin = "worker " + std::to_string(w.index);
  Result<std::vector<std::byte>> out = std::vector<std::byte>{};
  const TaskEntry* entry = nullptr;
  std::string_view name;
  if (record.size() >= 10u + name_len) {
    name = std::string_view(reinterpret_cast<const char*>(record.data()) + 10, name_len);
    entry = TaskRegistry::instance().find(name);
  }
  if (entry == nullptr || !entry->invoke_stream) {
    out = Error::make(entry ? ErrorKind::InvalidArgument : ErrorKind::UnknownTask,
                      entry ? "\"" + std::string(name) + "\" is not a streaming task: call it with pool.call()"
                            : "no streaming task named \"" + std::string(name) + "\" is exported",
                      origin);
    ring_abort(rings.in, out.error().kind);
    ring_abort(rings.out, out.error().kind);
  } else {
    CancelToken token = w.running.try_emplace(id).first->second.token();
    const std::span<const std::byte> args(record.data() + 10 + name_len, record.size() - 10 - name_len);
    out = co_await catch_errors(entry->invoke_stream(std::move(rings), args, token), origin + ": " + std::string(name));
  }
  w.running.erase(id);
  co_await respond(w, id, std::move(out));
}

// Writes one answer (u64 id, then the encoded Result) to the response ring,
// waiting for room if the client is behind.
inline Task<void> WorkerPool::respond(detail::Worker& w, std::uint64_t id, Result<std::vector<std::byte>> out) {
  // Not w.ex: it is already null while the executor is being destroyed.
  Scheduler& ex = *Scheduler::current();
  std::vector<std::byte> payload;
  detail::put_raw(payload, id);
  if (out) {
    payload.insert(payload.end(), out->begin(), out->end());
  } else {
    Writer writer(payload);
    (void)encode(writer, Result<void>(std::move(out).error()));
  }
  // Counted before the answer is published, so a caller that has its answer
  // sees the counters include it.
  w.completed.fetch_add(1, std::memory_order_relaxed);
  w.in_flight.fetch_sub(1, std::memory_order_relaxed);
  auto& tx = *w.response_tx;
  auto attempt = [&] {
    auto wrote = tx.try_write(detail::kResultTag, payload);
    if (!wrote) {  // too large for the ring (or closed): answer with that error instead
      Error e = std::move(wrote).error();
      payload.resize(8);
      Writer writer(payload);
      (void)encode(writer, Result<void>(std::move(e)));
      wrote = tx.try_write(detail::kResultTag, payload);
    }
    const bool written = wrote && *wrote;
    if (!written) tx.publish();  // the client can only free room it can see
    return written || tx.consumer_closed();
  };
  if (!attempt()) {
    co_await detail::RingCondition(attempt, [&] { tx.prepare_wait_for_space(); return &ex.doorbell(); });
  }
  tx.publish();
}

inline void WorkerPool::pull_queued(detail::Worker& w) {
  if (tearing_down_.load(std::memory_order_acquire)) return;
  while (w.alive.load(std::memory_order_relaxed) && w.in_flight.load(std::memory_order_relaxed) < options_.max_in_flight) {
    detail::PendingCall next;
    bool got = false;
    {
      std::lock_guard lock(w.affinity_mutex);
      if (!w.affinity_queue.empty()) {
        next = std::move(w.affinity_queue.front());
        w.affinity_queue.pop_front();
        got = true;
      }
    }
    if (!got && !overflow_.try_dequeue(next)) return;
    queued_.fetch_sub(1, std::memory_order_relaxed);
    {
      std::lock_guard lock(pending_mutex_);
      auto it = pending_.find(next.id);
      if (it == pending_.end()) continue;  // cancelled or timed out while queued
      it->second->worker.store(w.index, std::memory_order_release);
    }
    w.in_flight.fetch_add(1, std::memory_order_relaxed);
    w.ex->spawn(run_call(w, next.id, std::move(next.record)));
  }
}

// Client side ---------------------------------------------------------------

inline void WorkerPool::drain_responses(detail::Worker& w) {
  auto& rx = *w.response_rx;
  for (;;) {
    auto rec = rx.try_read();
    if (!rec || !*rec) break;
    const auto& r = **rec;
    if (r.tag != detail::kResultTag || r.payload.size() < 8) continue;
    std::uint64_t id;
    std::memcpy(&id, r.payload.data(), 8);
    std::shared_ptr<detail::CallState> st;
    {
      std::lock_guard lock(pending_mutex_);
      auto it = pending_.find(id);
      if (it != pending_.end()) st = it->second;
    }
    // A call that timed out or was cancelled has its answer already.
    if (st && st->complete(std::vector<std::byte>(r.payload.begin() + 8, r.payload.end()), std::nullopt)) {
      if (st->timer) client_->cancel_timer(st->timer);
      forget(id);
    }
  }
  rx.release();
}

inline Task<void> WorkerPool::collect(std::shared_ptr<detail::Worker> w) {
  auto& rx = *w->response_rx;
  for (;;) {
    const bool ok = co_await detail::RingCondition(
        [&] { return rx.has_data() || rx.producer_closed() || !w->alive.load(std::memory_order_acquire); },
        [&] { rx.prepare_wait_for_data(); return &client_->doorbell(); });
    if (!ok || !w->alive.load(std::memory_order_acquire)) co_return;  // on_worker_died drains the rest
    drain_responses(*w);
  }
}

inline void WorkerPool::on_worker_died(int index, std::string reason) {
  auto& slot = *slots_[static_cast<std::size_t>(index)];
  std::shared_ptr<detail::Worker> dead;
  {
    std::lock_guard lock(slot.mutex);
    dead = slot.worker;
  }
  dead->thread.join();
  // What it answered before dying is delivered (external: JavaScript reads
  // its response ring itself); everything else it held fails.
  if (!options_.external) drain_responses(*dead);
  std::vector<std::shared_ptr<detail::CallState>> lost;
  {
    std::lock_guard lock(pending_mutex_);
    for (auto& [id, st] : pending_) {
      if (st->worker.load(std::memory_order_acquire) == index) lost.push_back(st);
    }
  }
  for (auto& st : lost) {
    fail_call(st, Error::make(ErrorKind::WorkerCrashed, "worker " + std::to_string(index) + " crashed: " + reason,
                              "worker " + std::to_string(index)));
  }

  if (stopped_.load(std::memory_order_acquire)) return;
  auto fresh = start_worker(index);
  {
    // Calls pinned to this worker move to its replacement (see submit).
    std::lock_guard lock(slot.mutex);
    {
      std::scoped_lock queues(dead->affinity_mutex, fresh->affinity_mutex);
      fresh->affinity_queue.swap(dead->affinity_queue);
    }
    slot.worker = fresh;
    ++slot.restarts;
  }
  fresh->ex->post([this, raw = fresh.get()] { pull_queued(*raw); });
  if (options_.external) {
    retired_rings_.push_back(std::exchange(dead->request_mem, nullptr));
    retired_rings_.push_back(std::exchange(dead->response_mem, nullptr));
    // The dead worker's frames let go of JavaScript's stream rings before it
    // hears of the replacement (and may free them).
    dead.reset();
    if (options_.on_worker_started) options_.on_worker_started(*this, static_cast<unsigned>(index));
  }
}

inline void WorkerPool::shutdown(ShutdownMode mode) {
  if (stopped_.exchange(true)) return;
  accepting_.store(false, std::memory_order_seq_cst);
  while (active_callers_.load(std::memory_order_acquire) != 0) std::this_thread::yield();  // call_with never blocks
  if (mode == ShutdownMode::Drain) {
    for (std::uint32_t n; (n = pending_count_.load(std::memory_order_acquire)) != 0;) wait_word(pending_count_, n);
  }
  // Cancel: whatever is still pending ends now.
  std::vector<std::shared_ptr<detail::CallState>> rest;
  {
    std::lock_guard lock(pending_mutex_);
    for (auto& [id, st] : pending_) rest.push_back(st);
  }
  for (auto& st : rest) fail_call(st, Error::make(ErrorKind::Cancelled, "the pool was shut down", "workers/pool"));
  tearing_down_.store(true, std::memory_order_release);
  for (auto& slot : slots_) {
    auto w = slot->worker;
    w->ex->stop();
    if (w->thread.joinable()) w->thread.join();
  }
  client_->stop();
  client_thread_.join();
  // Executors go while every pool member they may touch is still alive:
  // running tasks see their cancellation, then leftover frames are destroyed.
  for (auto& slot : slots_) {
    for (auto& running : slot->worker->running) running.second.cancel();
    slot->worker->ex.reset();
  }
  client_.reset();
  detail::PendingCall drop;
  while (overflow_.try_dequeue(drop)) {}
  for (void* mem : retired_rings_) shared_free(mem);
}

inline WorkerPool::WorkerRings WorkerPool::worker_rings(unsigned index) const {
  auto w = worker_at(static_cast<int>(index));
  return {w->request_mem, w->response_mem, &w->ex->doorbell()};
}

inline PoolStats WorkerPool::stats() const {
  PoolStats s;
  for (auto& slot : slots_) {
    std::lock_guard lock(slot->mutex);
    WorkerStats ws;
    if (slot->worker) {
      ws.alive = slot->worker->alive.load(std::memory_order_relaxed);
      ws.in_flight = slot->worker->in_flight.load(std::memory_order_relaxed);
      ws.calls_completed = slot->worker->completed.load(std::memory_order_relaxed);
      if (slot->worker->ex) ws.executor = slot->worker->ex->stats();
    }
    ws.restarts = slot->restarts;
    s.workers.push_back(ws);
  }
  s.calls_submitted = submitted_.load(std::memory_order_relaxed);
  s.calls_failed = failed_.load(std::memory_order_relaxed);
  s.queued = queued_.load(std::memory_order_relaxed);
  s.queued_high_water = queued_high_water_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace ferry
