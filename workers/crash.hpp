// ferry workers: crash_worker() — how a worker thread dies on purpose.
//
// crash_worker(reason) kills the calling worker thread in a controlled way
// (tests, fatal corruption found by a task): the pool fails every call the
// worker held with WorkerCrashed ("worker N crashed: REASON"), ends its
// streams with WorkerCrashed after what they had published, and replaces it.
//
// Mechanism: the thread first reports its death through the hook its owner
// (the pool) installed, before anything unwinds and closes its streams
// normally. Then it throws WorkerCrash, which is not a std::exception:
// catch_errors (workers/task.hpp) lets it pass, and the executor catches it
// where a spawned task or the pool's serving loop meets it, stops its loop
// and destroys what is left without running any more of it — as abruptly as
// a trapped Web Worker. Outside a pool's worker (no hook) the exception is
// all there is.
#pragma once

#include <string>
#include <utility>

namespace ferry {

struct WorkerCrash {
  std::string reason;
};

namespace detail {
// Installed by whoever owns the calling thread (the pool, on its workers).
struct CrashHook {
  void (*report)(void* owner, const std::string& reason) = nullptr;
  void* owner = nullptr;
};
inline thread_local CrashHook crash_hook;
}  // namespace detail

[[noreturn]] inline void crash_worker(std::string reason) {
  if (detail::crash_hook.report != nullptr) detail::crash_hook.report(detail::crash_hook.owner, reason);
  throw WorkerCrash{std::move(reason)};
}

}  // namespace ferry
