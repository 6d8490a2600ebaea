// ferry core: spin, then park — with a spin budget learned from whether
// spinning paid.
//
// A side that waits for the other one (an answer, a record, room in a ring)
// first spins re-checking, then parks on a futex. Spinning pays when the
// other side is about to deliver: a park and its wake cost two syscalls and
// 5-60 µs of wake-up latency on these machines. It wastes a core when the
// other side is not about to deliver, and on a machine with more runnable
// threads than cores it takes the very core the other side needs — in a
// browser, a worker that spins right after answering can hold the core the
// page needs to send the next request, so the request waits for the spin.
//
// AdaptiveSpin learns only from what spinning bought, the way glibc's
// adaptive mutexes and Go's scheduler do:
//   - a spin that saw its event after t pulls the budget toward 2t (so the
//     next wait like it also ends while spinning);
//   - a spin that ran out (the waiter parked anyway) halves the budget;
//   - a spin that lost its core (the clock jumped by more than the budget
//     between two looks) halves it too: the machine is oversubscribed;
//   - once the budget is 0, every 16th wait still spins for the cap, so that
//     spinning starts again when it would pay again.
// It never learns from how long a park lasted: a waiter whose own spin
// delays the event would otherwise teach itself to spin longer.
//
// At most as many threads spin at once, process-wide, as there are cores;
// the others park at once.
//
// The budget is one relaxed atomic shared by every thread that waits for the
// same kind of event (a pool's callers, one executor's loop); concurrent
// updates only blur the estimate, which is all it is.
#pragma once

#include "wait.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace ferry {

class AdaptiveSpin {
 public:
  using Clock = std::chrono::steady_clock;

  // cap: the longest the budget may grow, and a probe's length; start: the
  // budget before any wait was seen.
  explicit constexpr AdaptiveSpin(std::chrono::nanoseconds cap = std::chrono::microseconds(50),
                                  std::chrono::nanoseconds start = std::chrono::microseconds(10)) noexcept
      : cap_ns_(static_cast<std::uint32_t>(cap.count())), budget_ns_(static_cast<std::uint32_t>(start.count())) {}

  // Spins while ready() is false, for at most the budget counted from
  // `since` (when the wait began); learns from how it went. True once
  // ready() held.
  template <class Ready>
  bool spin(Ready&& ready, Clock::time_point since) noexcept {
    auto budget = std::chrono::nanoseconds(budget_ns_.load(std::memory_order_relaxed));
    if (budget.count() == 0) {
      // relaxed: a counter of waits, ordering nothing.
      if ((waits_.fetch_add(1, std::memory_order_relaxed) & 15) != 15) return ready();
      budget = std::chrono::nanoseconds(cap_ns_);  // a probe
    }
    // More spinners than cores only take cores from the threads that would
    // end their waits.
    Spinner spinner;
    if (!spinner.admitted) return ready();
    auto last = since;
    for (std::uint32_t i = 1;; ++i) {
      if (ready()) {
        paid(Clock::now() - since);
        return true;
      }
      if ((i & 31) == 0) {
        const auto now = Clock::now();
        if (now - last > budget || now - since >= budget) {
          // Descheduled mid-spin, or the budget ran out: it did not pay.
          if (ready()) {
            paid(now - since);
            return true;
          }
          shrink();
          return false;
        }
        last = now;
      }
      detail::cpu_relax();
    }
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

  // The event came after `waited` of spinning: aim the budget at twice that.
  void paid(std::chrono::nanoseconds waited) noexcept {
    // relaxed: a hint, not a synchronisation (see the top of the file).
    const auto old = std::int64_t{budget_ns_.load(std::memory_order_relaxed)};
    const auto target = std::min(std::int64_t{cap_ns_}, 2 * static_cast<std::int64_t>(waited.count()) + 1000);
    if (target > old) budget_ns_.store(static_cast<std::uint32_t>(old + (target - old) / 2), std::memory_order_relaxed);
  }
  void shrink() noexcept {
    budget_ns_.store(budget_ns_.load(std::memory_order_relaxed) / 2, std::memory_order_relaxed);
  }

  std::uint32_t cap_ns_;
  std::atomic<std::uint32_t> budget_ns_;
  std::atomic<std::uint32_t> waits_{0};
};

}  // namespace ferry
