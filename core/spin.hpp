// ferry core: spin, then park — with a spin budget learned from recent waits.
//
// A side that waits for the other one (an answer, a record, room in a ring)
// first spins re-checking, then parks on a futex. Spinning pays when the
// other side is about to deliver: a park and its wake cost two syscalls and
// 5-60 µs of wake-up latency on these machines. It wastes a core when the
// other side is not about to deliver, and on a machine with more runnable
// threads than cores it takes the very core the other side needs.
//
// AdaptiveSpin learns the budget from how long recent waits took, the way
// glibc's adaptive mutexes and Go's scheduler do:
//   - a wait that ended within the cap pulls the budget toward twice its
//     length, so the next wait like it ends while spinning;
//   - a wait that outlasted the cap halves the budget: spinning would not
//     have paid;
//   - a spin that lost its core (the clock jumped by more than the budget
//     between two looks) halves the budget too: the machine is
//     oversubscribed.
//
// At most as many threads spin at once, process-wide, as there are cores;
// the others park at once.
//
// The budget is one relaxed atomic shared by every thread that waits for the
// same kind of event (a pool's callers, one executor's loop); concurrent
// updates only blur the average, which is all it is.
#pragma once

#include "core/wait.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>


namespace ferry {

class AdaptiveSpin {
 public:
  using Clock = std::chrono::steady_clock;

  // cap: the longest the budget may grow; start: the budget before any wait
  // was seen.
  explicit constexpr AdaptiveSpin(std::chrono::nanoseconds cap = std::chrono::microseconds(50),
                                  std::chrono::nanoseconds start = std::chrono::microseconds(10)) noexcept
      : cap_ns_(static_cast<std::uint32_t>(cap.count())), budget_ns_(static_cast<std::uint32_t>(start.count())) {}

  // Spins while ready() is false, for at most the current budget counted
  // from `since` (when the wait began). True once ready() held.
  template <class Ready>
  bool spin(Ready&& ready, Clock::time_point since) noexcept {
    const auto budget = std::chrono::nanoseconds(budget_ns_.load(std::memory_order_relaxed));
    if (budget.count() == 0) return ready();
    // More spinners than cores only take cores from the threads that would
    // end their waits.
    Spinner spinner;
    if (!spinner.admitted) return ready();
    auto last = since;
    for (std::uint32_t i = 1;; ++i) {
      if (ready()) return true;
      if ((i & 31) == 0) {
        const auto now = Clock::now();
        if (now - last > budget) {
          shrink();  // descheduled mid-spin: the machine has no core to spare
          return ready();
        }
        if (now - since >= budget) return ready();
        last = now;
      }
      detail::cpu_relax();
    }
  }

  // How long a whole wait took (spin and park), once it ended.
  void learn(std::chrono::nanoseconds waited) noexcept {
    const auto cap = std::int64_t{cap_ns_};
    const auto w = waited.count();
    if (w > cap) {
      shrink();
      return;
    }
    // relaxed: a hint, not a synchronisation (see the top of the file).
    const auto old = std::int64_t{budget_ns_.load(std::memory_order_relaxed)};
    const auto target = std::min(cap, 2 * w + 1000);
    budget_ns_.store(static_cast<std::uint32_t>(old + (target - old) / 4), std::memory_order_relaxed);
  }

  std::chrono::nanoseconds budget() const noexcept {
    return std::chrono::nanoseconds(budget_ns_.load(std::memory_order_relaxed));
  }

 private:
  // One of at most hardware_concurrency() threads spinning at once, process-wide.
  struct Spinner {
    static std::atomic<int>& count() noexcept {
      static std::atomic<int> n{0};
      return n;
    }
    static int limit() noexcept {
      static const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      return cores;
    }
    // relaxed: a headcount, ordering nothing else.
    Spinner() noexcept : admitted(count().fetch_add(1, std::memory_order_relaxed) < limit()) {}
    ~Spinner() { count().fetch_sub(1, std::memory_order_relaxed); }
    const bool admitted;
  };

  void shrink() noexcept {
    budget_ns_.store(budget_ns_.load(std::memory_order_relaxed) / 2, std::memory_order_relaxed);
  }

  std::uint32_t cap_ns_;
  std::atomic<std::uint32_t> budget_ns_;
};

}  // namespace ferry
