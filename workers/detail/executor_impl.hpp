// ferry workers (internal): the Executor's bodies — spawn frames, the
// doorbell pool, the loop (run, park, wake, close, discard). Part of
// workers/executor.hpp, which includes it after the declarations: include
// workers/executor.hpp, not this file.
#pragma once

namespace ferry {

template <class F>
void AsioExecutor::execute(F&& f) const {
  // Asio hands over move-only function objects; std::function needs copyable.
  auto shared = std::make_shared<std::decay_t<F>>(std::forward<F>(f));
  ex_->post([shared] { (*shared)(); });
}

inline asio::execution_context& AsioExecutor::query(asio::execution::context_t) const noexcept {
  return ex_->asio_context();
}

namespace detail {
// The coroutine that owns a spawned task: runs it, reports, and destroys
// itself. Its promise unregisters the frame from the executor's roots when
// the frame goes away, however it goes.
struct SpawnFrame {
  struct promise_type {
    Executor* ex;
    template <class... Args>
    explicit promise_type(Executor* e, Args&...) noexcept : ex(e) {}
    ~promise_type();
    SpawnFrame get_return_object() noexcept {
      return {coro::coroutine_handle<promise_type>::from_promise(*this)};
    }
    coro::suspend_always initial_suspend() noexcept { return {}; }
    coro::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    // spawn_frame catches WorkerCrash itself and catch_errors everything
    // else: nothing can escape the frame.
    void unhandled_exception() noexcept { std::terminate(); }
  };
  // Publishes what the finished task batched (Flushable), before done() hands
  // its outcome to whoever may then read those streams or destroy them.
  static void flush(Executor* ex);
  coro::coroutine_handle<promise_type> handle;
};

template <class T, class Done>
SpawnFrame spawn_frame(Executor* ex, Task<T> task, Done done, std::string origin) {
  std::optional<typename TaskOutcome<T>::type> outcome;
  try {
    outcome.emplace(co_await catch_errors(std::move(task), std::move(origin)));
  } catch (const WorkerCrash&) {
    // The hook reported it (workers/crash.hpp); this thread's work ends here.
    ex->crash();
    co_return;
  }
  SpawnFrame::flush(ex);
  done(std::move(*outcome));
}
}  // namespace detail

template <class T, class Done>
void Executor::spawn(Task<T> task, Done done, std::string origin) {
  // The frame is the posted function's until it first runs: dropped unrun
  // (a crashed executor discards its queue), it is destroyed with it.
  struct NotStarted {
    // A constructor, not an aggregate: clang 14 and Emscripten 3.1.6's libc++
    // have no parenthesised aggregate initialisation for make_shared.
    explicit NotStarted(coro::coroutine_handle<detail::SpawnFrame::promise_type> frame) noexcept : h(frame) {}
    NotStarted(const NotStarted&) = delete;
    NotStarted& operator=(const NotStarted&) = delete;
    coro::coroutine_handle<detail::SpawnFrame::promise_type> h;
    ~NotStarted() {
      if (h) h.destroy();
    }
  };
  auto start = std::make_shared<NotStarted>(detail::spawn_frame(this, std::move(task), std::move(done), std::move(origin)).handle);
  post([this, start] {
    auto h = std::exchange(start->h, {});
    roots_.insert(h.address());
    h.resume();
  });
}

inline void detail::SpawnFrame::flush(Executor* ex) { ex->flush_all(); }

inline detail::SpawnFrame::promise_type::~promise_type() { ex->roots_.erase(coro::coroutine_handle<promise_type>::from_promise(*this).address()); }

namespace detail {
// Doorbell words outlive their executors: a ring may still point its bell
// at one after the executor is gone (a stream end destroyed later), and its
// close or publish then bumps the word. So words are recycled, never freed;
// a stale bump on a reused word is only a spurious wake-up, which every
// waiter tolerates.
class DoorbellPool {
 public:
  static std::atomic<std::uint32_t>* take() {
    auto& p = instance();
    {
      std::lock_guard lock(p.mutex_);
      if (!p.free_.empty()) {
        auto* w = p.free_.back();
        p.free_.pop_back();
        return w;
      }
    }
    auto mem = shared_alloc(64);  // its own cache line
    if (!mem) std::abort();       // the arena reserves 1 GiB: 64 bytes cannot fail
    return new (*mem) std::atomic<std::uint32_t>(0);
  }
  static void give_back(std::atomic<std::uint32_t>* w) {
    auto& p = instance();
    std::lock_guard lock(p.mutex_);
    p.free_.push_back(w);
  }

 private:
  static DoorbellPool& instance() {
    static DoorbellPool* pool = new DoorbellPool;  // never destroyed: rings may ring it at exit
    return *pool;
  }
  std::mutex mutex_;
  std::vector<std::atomic<std::uint32_t>*> free_;
};
}  // namespace detail

inline Executor::Executor()
    : doorbell_(detail::DoorbellPool::take()), asio_context_(std::make_unique<detail::AsioContext>()) {}

inline Executor::~Executor() {
  if (crashed()) {
    discard();
  } else {
    close();
  }
  detail::DoorbellPool::give_back(doorbell_);
}

inline void Executor::stop_asio() {
  // Asio's services stop first (their internal thread posts into us); they
  // are destroyed last, after the frames whose Asio objects refer to them.
  // Asio 1.22 shuts services down newest first, i.e. the reactor before the
  // scheduler whose own thread is still running that reactor: join that
  // thread first.
  if (asio::has_service<asio::detail::scheduler>(*asio_context_)) {
    asio::use_service<asio::detail::scheduler>(*asio_context_).shutdown();
  }
  asio_context_->shutdown();
}

inline void Executor::destroy_roots() {
  auto roots = std::move(roots_);
  roots_.clear();
  for (void* frame : roots) coro::coroutine_handle<>::from_address(frame).destroy();
}

inline void Executor::close() {
  if (closed_) return;
  closed_ = true;
  stop_asio();
  Scheduler*& cur = current_ref();
  Scheduler* saved = cur;
  cur = this;
  thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  // Parked operations end with Cancelled; their coroutines get to run.
  for (int round = 0; round < 1000 && !crashed() && (!waits_.empty() || !local_.empty() || remote_count_.load() != 0); ++round) {
    std::vector<std::uint64_t> ids;
    for (auto& [id, w] : waits_) ids.push_back(id);
    for (auto id : ids) cancel(id, Error::make(ErrorKind::Cancelled, "executor destroyed", "workers/executor"));
    run_ready();
  }
  // Whatever is still suspended is destroyed (locals' destructors run).
  destroy_roots();
  asio_context_.reset();
  thread_.store(std::thread::id{}, std::memory_order_relaxed);
  cur = saved;
}

inline void Executor::discard() {
  if (closed_) return;
  closed_ = true;
  stop_asio();
  Scheduler*& cur = current_ref();
  Scheduler* saved = cur;
  cur = this;
  // Nothing runs: queued handlers, parked waits and timers are dropped, and
  // suspended frames are destroyed where they stand.
  local_.clear();
  {
    std::lock_guard lock(remote_mutex_);
    remote_.clear();
  }
  waits_.clear();
  timers_.clear();
  flushes_.clear();
  destroy_roots();
  asio_context_.reset();
  cur = saved;
}

inline void Executor::crash() noexcept {
  crashed_.store(true, std::memory_order_release);
  stop_.store(true, std::memory_order_release);
}

inline bool Executor::running_in_this_thread() const noexcept {
  return thread_.load(std::memory_order_relaxed) == std::this_thread::get_id();
}

inline void Executor::post(std::function<void()> fn) {
  if (running_in_this_thread()) {
    local_.push_back(std::move(fn));
    return;
  }
  {
    std::lock_guard lock(remote_mutex_);
    remote_.push_back(std::move(fn));
  }
  // seq_cst: ordered before the sleeping_ load in wake() (Dekker with sleep()).
  remote_count_.fetch_add(1, std::memory_order_seq_cst);
  wake();
}

inline void Executor::dispatch(std::function<void()> fn) {
  if (running_in_this_thread()) {
    run_one(fn);
  } else {
    post(std::move(fn));
  }
}

inline void Executor::stop() {
  stop_.store(true, std::memory_order_release);
  remote_count_.fetch_add(1, std::memory_order_seq_cst);  // counts as news for sleep()
  wake();
}

inline bool Executor::wake() noexcept {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  // relaxed: the fence orders it; exchange makes one notify per sleep.
  if (sleeping_.load(std::memory_order_relaxed) == 0 || sleeping_.exchange(0, std::memory_order_relaxed) == 0) return false;
  // release: a woken loop that reads the new value sees the queued work.
  doorbell_->fetch_add(1, std::memory_order_release);
  notify_word(*doorbell_);
  return true;
}

inline void Executor::run_one(std::function<void()>& fn) {
  fn();
  handlers_run_.fetch_add(1, std::memory_order_relaxed);
  if (!crashed()) flush_all();  // the handler is done: publish whatever it batched
}

inline bool Executor::run_ready() {
  bool ran = false;
  if (remote_count_.load(std::memory_order_acquire) != 0) {
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard lock(remote_mutex_);
      batch.swap(remote_);
      remote_count_.store(0, std::memory_order_relaxed);
    }
    for (auto& fn : batch) local_.push_back(std::move(fn));
  }
  // Run what is queued now; what those functions post runs next round.
  // After a crash nothing more runs, not even what was queued with it.
  for (std::size_t n = local_.size(); n > 0 && !crashed(); --n) {
    auto fn = std::move(local_.front());
    local_.pop_front();
    run_one(fn);
    ran = true;
  }
  return ran;
}

inline std::uint64_t Executor::park(RingWait& w) {
  const std::uint64_t id = next_id_++;
  waits_.emplace(id, &w);
  return id;
}

inline void Executor::cancel(std::uint64_t id, Error error) {
  if (!running_in_this_thread()) {
    post([this, id, e = std::move(error)]() mutable { cancel(id, std::move(e)); });
    return;
  }
  auto it = waits_.find(id);
  if (it == waits_.end()) return;  // already finished
  RingWait* w = it->second;
  waits_.erase(it);
  w->fail(std::move(error));
  local_.push_back([h = w->handle]() mutable { h.resume(); });
}

inline bool Executor::poll_waits() {
  bool any = false;
  const auto now = waits_.empty() ? Clock::time_point{} : Clock::now();
  for (auto it = waits_.begin(); it != waits_.end();) {
    RingWait* w = it->second;
    if (w->poll()) {
      it = waits_.erase(it);
      local_.push_back([h = w->handle]() mutable { h.resume(); });
      any = true;
    } else if (w->deadline <= now) {
      it = waits_.erase(it);
      w->fail(Error::make(ErrorKind::Timeout, "stream operation timed out", "workers/executor"));
      local_.push_back([h = w->handle]() mutable { h.resume(); });
      any = true;
    } else {
      ++it;
    }
  }
  return any;
}

inline std::uint64_t Executor::schedule_at(Clock::time_point when, std::function<void()> fn) {
  const std::uint64_t id = next_id_++;
  timers_.emplace(when, std::make_pair(id, std::move(fn)));
  return id;
}

inline void Executor::cancel_timer(std::uint64_t id) {
  for (auto it = timers_.begin(); it != timers_.end(); ++it) {
    if (it->second.first == id) {
      timers_.erase(it);
      return;
    }
  }
}

inline bool Executor::fire_timers() {
  if (timers_.empty()) return false;
  const auto now = Clock::now();
  bool any = false;
  while (!timers_.empty() && timers_.begin()->first <= now) {
    auto fn = std::move(timers_.begin()->second.second);
    timers_.erase(timers_.begin());
    local_.push_back(std::move(fn));
    any = true;
  }
  return any;
}

inline void Executor::defer_flush(Flushable& f) {
  if (f.flush_pending) return;
  f.flush_pending = true;
  flushes_.push_back(&f);
}

inline void Executor::cancel_flush(Flushable& f) {
  if (!f.flush_pending) return;
  f.flush_pending = false;
  std::erase(flushes_, &f);
}

inline void Executor::flush_all() {
  while (!flushes_.empty()) {
    Flushable* f = flushes_.back();
    flushes_.pop_back();
    f->flush_pending = false;
    f->flush();
  }
}

inline void Executor::sleep() {
  // Spin first, for a budget learned from whether spinning paid lately
  // (core/spin.hpp): a park and its wake cost two syscalls, and work often
  // arrives within microseconds.
  const auto t0 = Clock::now();
  std::uint32_t looks = 0;
  const bool ready = spin_.spin(
      [&] {
        if (remote_count_.load(std::memory_order_relaxed) != 0 || stop_.load(std::memory_order_relaxed)) return true;
        return (++looks & 15) == 0 && (poll_waits() || fire_timers());
      },
      t0);
  if (ready) return;
  // Eventcount: read the doorbell, say we sleep, re-check, then wait on the
  // value read. Any notifier that misses our flag has work we see below.
  const std::uint32_t key = doorbell_->load(std::memory_order_acquire);
  sleeping_.store(1, std::memory_order_relaxed);
  for (auto& [id, w] : waits_) w->arm();  // rings ring our doorbell while we sleep
  // seq_cst: orders the flag stores before the re-checks (pairs with wake()
  // and with the rings' fence before they look at their parked flags).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (remote_count_.load(std::memory_order_relaxed) != 0 || stop_.load(std::memory_order_relaxed) || poll_waits()) {
    // Work came (or a ring moved) meanwhile: resume instead of sleeping.
    sleeping_.store(0, std::memory_order_relaxed);
    return;
  }
  auto deadline = Clock::time_point::max();
  if (!timers_.empty()) deadline = timers_.begin()->first;
  for (auto& [id, w] : waits_) deadline = std::min(deadline, w->deadline);
  WaitNanos timeout = kWaitForever;
  const auto t1 = Clock::now();
  if (deadline != Clock::time_point::max()) {
    timeout = std::max(WaitNanos{0}, std::chrono::duration_cast<WaitNanos>(deadline - t1));
  }
  parks_.fetch_add(1, std::memory_order_relaxed);
  const bool woken = wait_word(*doorbell_, key, timeout) != WaitStatus::TimedOut;
  if (woken) wakes_.fetch_add(1, std::memory_order_relaxed);
  const auto t2 = Clock::now();
  parked_ns_.fetch_add(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t2 - t1).count()),
                       std::memory_order_relaxed);
  sleeping_.store(0, std::memory_order_relaxed);
}

inline void Executor::run() {
  Scheduler*& cur = current_ref();
  Scheduler* saved = cur;
  cur = this;
  thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  while (!stop_.load(std::memory_order_acquire)) {
    bool progress = run_ready();
    progress |= poll_waits();
    progress |= fire_timers();
    if (!progress && local_.empty()) sleep();
  }
  thread_.store(std::thread::id{}, std::memory_order_relaxed);
  cur = saved;
}

inline ExecutorStats Executor::stats() const noexcept {
  ExecutorStats s;
  s.handlers_run = handlers_run_.load(std::memory_order_relaxed);
  s.parks = parks_.load(std::memory_order_relaxed);
  s.wakes = wakes_.load(std::memory_order_relaxed);
  s.parked_ns = parked_ns_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace ferry
