// ferry workers (internal): how pool workers start, die and stop. Included
// by pool_core.hpp.
//
// Death and shutdown, and why they cannot race:
// - A dying worker (crash_worker(), an escaped exception) marks itself dead
//   under its submit mutex (no caller writes to it after that), ends its
//   streams, and posts its burial to the monitor. Its thread then destroys
//   what it ran without running any more of it, and ends.
// - The monitor buries it: joins the thread, fails every call it held with
//   WorkerCrashed, and — under the lifecycle mutex, unless shutdown has
//   begun — starts its replacement.
// - shutdown() decides to stop under the same mutex, so no replacement
//   starts after it; it stops the monitor before it stops the workers, so
//   no burial runs while it joins them.
#pragma once

#include "pool_core.hpp"


namespace ferry::detail {

inline PoolCore::PoolCore(WorkerPoolOptions options, const WorkerPool& facade) : options_(std::move(options)), facade_(facade) {
  if (options_.workers == 0) options_.workers = std::max(1u, std::thread::hardware_concurrency());
  if (auto dup = TaskRegistry::instance().duplicates(); !dup.empty()) {
    throw Error::make(ErrorKind::InvalidArgument,
                      "tasks exported more than once under the same name: " + dup +
                          " (one of each pair would silently win; use FERRY_EXPORT_AS to give one another name)",
                      "workers/pool");
  }
}

inline PoolCore::~PoolCore() {
  for (void* mem : retired_rings_) shared_free(mem);
}

inline void PoolCore::start() {
  for (unsigned i = 0; i < options_.workers; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->owner = make_worker(static_cast<int>(i));
    slot->worker.store(slot->owner.get(), std::memory_order_release);
    slots_.push_back(std::move(slot));
  }
  // Threads start once every slot exists: a worker looks at all of them.
  for (auto& slot : slots_) {
    auto w = slot->owner;
    w->thread = std::thread([self = shared_from_this(), w] { self->run_worker(w); });
    if (options_.on_worker_started) options_.on_worker_started(facade_, static_cast<unsigned>(w->index));
  }
}

inline std::shared_ptr<Worker> PoolCore::make_worker(int index) {
  auto w = std::make_shared<Worker>();
  w->index = index;
  w->ex = std::make_unique<Executor>();
  w->doorbell = &w->ex->doorbell();
  const auto bytes = ring_bytes(options_.ring_capacity);
  auto check = [](auto r) {
    if (!r) throw r.error();
    return std::move(r).value();
  };
  w->request_mem = check(shared_alloc(bytes));
  check(ring_init(w->request_mem, options_.ring_capacity));
  // Requests wake the worker; it never waits for room in the request ring.
  check(ring_set_bells(w->request_mem, w->doorbell, nullptr));
  w->request_rx.emplace(check(RingConsumer::attach(w->request_mem)));
  if (options_.external) {
    // JavaScript sleeps on the response ring's own bell; a full response
    // ring parks the worker until JavaScript releases.
    w->response_mem = check(shared_alloc(bytes));
    check(ring_init(w->response_mem, options_.ring_capacity));
    check(ring_set_bells(w->response_mem, nullptr, w->doorbell));
    w->response_tx.emplace(check(RingProducer::attach(w->response_mem)));
    w->response_flush.tx = &*w->response_tx;
  } else {
    w->request_tx.emplace(check(RingProducer::attach(w->request_mem)));
  }
  w->ex->spawn(serve(*w));
  return w;
}

inline void PoolCore::run_worker(const std::shared_ptr<Worker>& w) {
  current_pool = this;
  current_worker = w.get();
  struct Owner {
    PoolCore* core;
    Worker* worker;
  } owner{this, w.get()};
  crash_hook = {[](void* o, const std::string& reason) {
                  auto* self = static_cast<Owner*>(o);
                  self->core->worker_died(*self->worker, reason);
                },
                &owner};
  bool died = false;
  try {
    w->ex->run();
    died = w->ex->crashed();  // crash_worker() reported it through the hook
  } catch (const WorkerCrash&) {
    died = true;  // from a posted function; reported through the hook
  } catch (const std::exception& e) {
    worker_died(*w, e.what());
    died = true;
  } catch (...) {
    worker_died(*w, "unknown exception");
    died = true;
  }
  crash_hook = {};
  if (died) {
    w->ex->crash();
    w->ex->discard();  // nothing of a crashed worker runs any more
  } else {
    w->ex->close();  // stopped: what is parked ends with Cancelled and finishes here
  }
  current_pool = nullptr;
  current_worker = nullptr;
  // release: whoever sees 1 sees everything this thread did.
  w->exited.store(1, std::memory_order_release);
  notify_word(w->exited);
}

inline void PoolCore::worker_died(Worker& w, const std::string& reason) {
  {
    // Under the submit lock: a caller either wrote before this (and its
    // call is held, so it fails when the worker is buried) or sees it dead.
    std::lock_guard lock(w.submit_mutex);
    w.alive.store(false, std::memory_order_release);
  }
  // Its running streams end now, before anything unwinds and closes them
  // normally: the callers' ends drain, then get WorkerCrashed. (A stream
  // whose task had finished is no longer held: its end stays Closed.)
  for (auto& st : w.held.snapshot()) {
    if (auto mem = st->stream.lock()) {
      ring_abort(mem->in, ErrorKind::WorkerCrashed);
      ring_abort(mem->out, ErrorKind::WorkerCrashed);
    }
  }
  if (options_.external) {
    // JavaScript learns it from its response ring and fails what it sent
    // here. A last record says why (web/PROTOCOL.md): this thread is the
    // ring's only producer, and between two records, so it may still write;
    // if the ring is full the reason is lost and only the abort tells.
    // Publishing first also shows the answers already written.
    std::vector<std::byte> why;
    Writer writer(why);
    if (encode(writer, reason)) (void)w.response_tx->try_write(protocol::kCrashTag, why);
    w.response_tx->publish();
    ring_abort(w.request_mem, ErrorKind::WorkerCrashed);
    ring_abort(w.response_mem, ErrorKind::WorkerCrashed);
  }
  monitor_.post([self = shared_from_this(), index = w.index, reason] { self->bury(index, reason); });
}

inline void PoolCore::bury(int index, std::string reason) {
  auto& slot = *slots_[static_cast<std::size_t>(index)];
  std::shared_ptr<Worker> dead;
  {
    std::lock_guard lock(lifecycle_);
    dead = slot.owner;
  }
  {
    std::lock_guard lock(dead->join_mutex);
    if (dead->thread.joinable()) dead->thread.join();
  }
  // What it answered is answered; everything else it held fails.
  const Error crashed = Error::make(ErrorKind::WorkerCrashed, "worker " + std::to_string(index) + " crashed: " + reason,
                                    "worker " + std::to_string(index));
  for (auto& st : dead->held.take_all()) fail(*st, crashed);
  if (!options_.external) {
    // Streams it never started: their keepalives travelled in its ring.
    while (auto rec = dead->request_rx->try_read()) {
      if (!*rec) break;
      if ((*rec)->tag != protocol::kStreamTag) continue;
      if (auto req = protocol::parse_stream((*rec)->payload); req && req->keepalive != 0) {
        delete reinterpret_cast<std::shared_ptr<void>*>(static_cast<std::uintptr_t>(req->keepalive));
      }
    }
    // Nobody writes to a dead worker (callers check `alive` under this
    // lock) and its thread is gone: its ring can go now.
    std::lock_guard lock(dead->submit_mutex);
    dead->request_tx.reset();
    dead->request_rx.reset();
    shared_free(std::exchange(dead->request_mem, nullptr));
  }
  std::shared_ptr<Worker> fresh;
  {
    std::lock_guard lock(lifecycle_);
    if (stopped_.load(std::memory_order_acquire)) return;  // shutdown takes it from here
    fresh = make_worker(index);
    {
      // Calls pinned to this worker move to its replacement (see enqueue).
      std::scoped_lock queues(dead->pinned_mutex, fresh->pinned_mutex);
      fresh->pinned.swap(dead->pinned);
      fresh->pinned_count.store(static_cast<std::uint32_t>(fresh->pinned.size()), std::memory_order_relaxed);
      dead->pinned_count.store(0, std::memory_order_relaxed);
    }
    slot.owner = fresh;
    slot.worker.store(fresh.get(), std::memory_order_release);
    slot.restarts.fetch_add(1, std::memory_order_relaxed);
    fresh->thread = std::thread([self = shared_from_this(), fresh] { self->run_worker(fresh); });
    if (options_.external) {
      // JavaScript may still look at the dead worker's rings.
      retired_rings_.push_back(std::exchange(dead->request_mem, nullptr));
      retired_rings_.push_back(std::exchange(dead->response_mem, nullptr));
    }
    retired_.push_back(std::move(dead));
  }
  if (options_.on_worker_started) options_.on_worker_started(facade_, static_cast<unsigned>(index));
}

inline ShutdownReport PoolCore::shutdown(ShutdownMode mode, WaitNanos timeout) {
  ShutdownReport report;
  {
    std::lock_guard lock(lifecycle_);
    if (stopped_.exchange(true)) return report;
  }
  // seq_cst: Dekker with closed_meanwhile(), which ends a call handed over
  // while this runs that the sweeps below might miss.
  accepting_.store(false, std::memory_order_seq_cst);
  const auto start = Clock::now();
  const auto deadline = timeout.count() < 0 ? Clock::time_point::max() : start + timeout;
  if (mode == ShutdownMode::Drain) report.finished = wait_idle(deadline);  // the monitor still runs timeouts meanwhile
  monitor_.stop();

  // Whatever is still pending ends now.
  const Error why = Error::make(ErrorKind::Cancelled, "the pool was shut down", "workers/pool");
  std::deque<CallRef> queued;
  {
    std::lock_guard lock(queue_mutex_);
    queued.swap(queue_);
    queue_count_.store(0, std::memory_order_relaxed);
  }
  for (auto& st : queued) report.cancelled += fail(*st, why) ? 1 : 0;
  std::vector<std::shared_ptr<Worker>> workers;
  {
    std::lock_guard lock(lifecycle_);
    for (auto& slot : slots_) workers.push_back(slot->owner);
    workers.insert(workers.end(), retired_.begin(), retired_.end());
  }
  for (auto& w : workers) report.cancelled += cancel_pending(*w, why);
  // Told to stop, running tasks get the grace period to return (their
  // executors keep running them); then the loops stop.
  const auto grace = Clock::now() + options_.stop_grace;
  auto busy = [&] {
    return std::any_of(workers.begin(), workers.end(),
                       [](auto& w) { return w->held.size() != 0 && w->exited.load(std::memory_order_acquire) == 0; });
  };
  while (busy() && Clock::now() < grace) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (auto& w : workers) w->ex->stop();
  for (auto& w : workers) join_or_leave(*w, grace, report);
  return report;
}

// Waits until no call or stream is queued or held by a worker (every task
// has returned), or the deadline; returns how many ended meanwhile. Polls:
// shutdown is rare, and counting every call for it would cost every call.
inline std::uint32_t PoolCore::wait_idle(Clock::time_point deadline) {
  auto completed = [this] {
    std::uint64_t n = 0;
    for (auto& slot : slots_) n += slot->worker.load(std::memory_order_acquire)->completed.load(std::memory_order_relaxed);
    return n;
  };
  auto busy = [this] {
    if (queued() != 0) return true;
    return std::any_of(slots_.begin(), slots_.end(), [](auto& slot) {
      return slot->worker.load(std::memory_order_acquire)->held.size() != 0;
    });
  };
  const auto before = completed();
  while (busy() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::microseconds(200));
  return static_cast<std::uint32_t>(completed() - before);
}

// Ends what worker w holds or has queued: calls with `why`, their tasks'
// tokens cancelled, streams' rings ended. Returns how many it ended.
inline std::uint32_t PoolCore::cancel_pending(Worker& w, const Error& why) {
  std::uint32_t ended = 0;
  std::deque<CallRef> pinned;
  {
    std::lock_guard lock(w.pinned_mutex);
    pinned.swap(w.pinned);
    w.pinned_count.store(0, std::memory_order_relaxed);
  }
  for (auto& st : pinned) ended += fail(*st, why) ? 1 : 0;
  for (auto& st : w.held.snapshot()) {
    // A stream whose task ended first claimed its call before its rings
    // closed (run_stream): its rings are left to end as the task ended them.
    if (!fail(*st, why)) continue;
    ++ended;
    st->cancel_task();
    if (auto mem = st->stream.lock()) {
      ring_abort(mem->in, ErrorKind::Cancelled);
      ring_abort(mem->out, ErrorKind::Cancelled);
    }
  }
  return ended;
}

// Joins w's thread if it ends by `deadline`; otherwise leaves it running
// (it holds the core and the worker: both outlive it) and says so.
inline void PoolCore::join_or_leave(Worker& w, Clock::time_point deadline, ShutdownReport& report) {
  std::lock_guard lock(w.join_mutex);
  if (!w.thread.joinable()) return;
  while (w.exited.load(std::memory_order_acquire) == 0) {
    const auto left = std::chrono::duration_cast<WaitNanos>(deadline - Clock::now());
    if (left.count() <= 0) break;
    wait_word(w.exited, 0, left);
  }
  if (w.exited.load(std::memory_order_acquire) != 0) {
    w.thread.join();
    return;
  }
  std::string what = "worker " + std::to_string(w.index) + ":";
  for (auto& st : w.held.snapshot()) {
    const std::string* task = st->task.load(std::memory_order_relaxed);
    what += " \"" + (task ? *task : std::string("?")) + "\" (call " + std::to_string(st->id) + ")";
  }
  report.abandoned.push_back(what + " still running " + std::to_string(options_.stop_grace.count()) +
                             " ms after it was told to stop; its thread was left to end by itself");
  w.thread.detach();
}

inline PoolStats PoolCore::stats() const {
  PoolStats s;
  for (auto& slot : slots_) {
    const Worker* w = slot->worker.load(std::memory_order_acquire);
    WorkerStats ws;
    ws.alive = w->alive.load(std::memory_order_relaxed);
    ws.in_flight = w->held.size();
    ws.calls_completed = w->completed.load(std::memory_order_relaxed);
    ws.executor = w->ex->stats();
    ws.restarts = slot->restarts.load(std::memory_order_relaxed);
    s.workers.push_back(ws);
  }
  s.calls_submitted = submitted_.load(std::memory_order_relaxed);
  s.calls_failed = failed_.load(std::memory_order_relaxed);
  s.queued = queued();
  s.queued_high_water = queued_high_water_.load(std::memory_order_relaxed);
  return s;
}

inline WorkerPool::WorkerRings PoolCore::worker_rings(unsigned index) const {
  const Worker* w = slots_[index]->worker.load(std::memory_order_acquire);
  return {w->request_mem, w->response_mem, w->doorbell};
}

}  // namespace ferry::detail
