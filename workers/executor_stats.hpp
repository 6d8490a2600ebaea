// ferry workers: what an Executor counts (Executor::stats(), and each
// worker's WorkerStats::executor), apart from the Executor itself so that
// workers/pool.hpp need not include it.
#pragma once

#include <cstdint>

namespace ferry {

// Counters readable from any thread without locks (relaxed loads).
struct ExecutorStats {
  std::uint64_t handlers_run = 0;  // functions and coroutine resumptions
  std::uint64_t parks = 0;         // times the loop went to sleep
  std::uint64_t wakes = 0;         // notifies this executor received while parked
  std::uint64_t parked_ns = 0;     // time spent asleep
};

}  // namespace ferry
