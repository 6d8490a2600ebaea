// ferry workers: WorkerPool's non-template members, compiled once (the
// runtime library that ferry::ferry links; workers/pool.hpp only declares
// them), so that a translation unit which makes a pool or calls one does not
// compile the pool's implementation (workers/detail/) again.
#include "pool.hpp"

#include "detail/pool_core.hpp"

#include <cstdio>

namespace ferry::detail {

// Blocks until the call ends: spins for the learned budget, then sleeps on
// its done word (a Dekker handshake with CallState::complete()).
std::optional<Error> wait_for_call(CallState& st, WaitNanos timeout) {
  if (Scheduler::current() != nullptr) {
    return Error::make(ErrorKind::InvalidArgument,
                       "Call::get() would block this thread's executor (a pool worker's, or another ferry Executor) "
                       "until call " + std::to_string(st.id) + " ends; co_await the call instead",
                       "workers/pool");
  }
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto& spin = caller_spin();
  if (spin.spin([&] { return st.is_done(); }, start)) return std::nullopt;
  while (!st.is_done()) {
    WaitNanos left = kWaitForever;
    if (timeout.count() >= 0) {
      left = timeout - std::chrono::duration_cast<WaitNanos>(Clock::now() - start);
      if (left.count() <= 0) return Error::make(ErrorKind::Timeout, "waiting for call " + std::to_string(st.id), "workers/pool");
    }
    // seq_cst: announce the sleep before the last look at done (Dekker with complete()).
    st.sleepers.fetch_add(1, std::memory_order_seq_cst);
    const auto status = st.done.load(std::memory_order_seq_cst) == 0 ? wait_word(st.done, 0, left) : WaitStatus::NotEqual;
    st.sleepers.fetch_sub(1, std::memory_order_relaxed);
    if (status == WaitStatus::NotAllowed) {
      return Error::make(ErrorKind::InvalidArgument,
                         "Call::get() would block the browser main thread; co_await the call instead", "workers/pool");
    }
  }
  return std::nullopt;
}

}  // namespace ferry::detail

namespace ferry {

WorkerPool::WorkerPool(WorkerPoolOptions options) : core_(std::make_shared<detail::PoolCore>(std::move(options), *this)) {
  core_->start();
}

WorkerPool::~WorkerPool() {
  const auto report = core_->shutdown(ShutdownMode::Cancel, kWaitForever);
  for (const auto& line : report.abandoned) std::fprintf(stderr, "ferry: WorkerPool destroyed with %s\n", line.c_str());
}

Call<void> WorkerPool::refused(Error e) {
  auto st = detail::CallRef::make();
  core_->refuse(*st, std::move(e));
  return Call<void>(std::move(st));
}

void WorkerPool::submit(const detail::CallRef& st, std::vector<std::byte>& record, const CallOptions& options) {
  core_->submit(st, record, options);
}

Result<detail::StreamPlan> WorkerPool::plan_stream(std::string_view name, const StreamOptions& options) {
  return core_->plan_stream(name, options);
}

Result<void> WorkerPool::send_stream(const detail::StreamPlan& plan, const detail::CallRef& st, std::vector<std::byte>& record) {
  return core_->send_stream(plan, st, record);
}

ShutdownReport WorkerPool::shutdown(ShutdownMode mode, WaitNanos timeout) { return core_->shutdown(mode, timeout); }
unsigned WorkerPool::size() const noexcept { return core_->size(); }
PoolStats WorkerPool::stats() const { return core_->stats(); }
WorkerPool::WorkerRings WorkerPool::worker_rings(unsigned index) const { return core_->worker_rings(index); }

}  // namespace ferry
