// ferry core: wait/notify on one 32-bit word in shared memory.
//
// Natively this is a Linux futex (private: rings live inside one process).
// Under Emscripten it is `memory.atomic.wait32` / `memory.atomic.notify`
// (through emscripten_futex_wait/wake) on
// the same word, which is exactly what JavaScript's `Atomics.wait` and
// `Atomics.notify` act on, so a C++ side and a JavaScript side can wait for
// and wake each other through the one word.
//
// The browser's main thread may never block: there `can_block()` is false and
// wait_word() returns WaitStatus::NotAllowed at once instead of trapping.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>

#if defined(__EMSCRIPTEN__)
#include <emscripten/em_asm.h>
#include <emscripten/threading.h>
#include <cmath>
#elif defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <ctime>
#else
#error "ferry waits need Linux futexes or WebAssembly atomics"
#endif

namespace ferry {

static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint32_t>) == 4);

enum class WaitStatus : std::uint8_t {
  Woken,       // notified (or a spurious wake-up: callers re-check)
  NotEqual,    // the word no longer held the expected value
  TimedOut,    // the timeout passed
  NotAllowed,  // this thread may not block (browser main thread)
};

namespace detail {
// How long a side spins re-checking before it parks: a park and its wake
// cost two syscalls, and the other side is often microseconds away.
inline constexpr int kSpinsBeforePark = 128;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
}  // namespace detail

// A timeout for one wait; negative means forever.
using WaitNanos = std::chrono::nanoseconds;
inline constexpr WaitNanos kWaitForever{-1};

// True if this thread may block in wait_word().
inline bool can_block() noexcept {
#if defined(__EMSCRIPTEN__)
  // The browser's main thread has `window` and no `WorkerGlobalScope`; Node's
  // main thread and every Worker may block.
  static thread_local const bool allowed = EM_ASM_INT({
    return (typeof window === 'object' && typeof WorkerGlobalScope === 'undefined') ? 0 : 1;
  }) != 0;
  return allowed;
#else
  return true;
#endif
}

// Blocks while `*word == expected`, until notified or the timeout passes.
// May return Woken spuriously; callers always re-check their condition.
inline WaitStatus wait_word(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                            WaitNanos timeout = kWaitForever) noexcept {
  if (!can_block()) return WaitStatus::NotAllowed;
#if defined(__EMSCRIPTEN__)
  // memory.atomic.wait32 underneath; on the runtime's main thread it also
  // runs calls proxied to it (a pthread_create from another thread is one),
  // which a bare wait there would deadlock.
  const double ms = timeout.count() < 0 ? INFINITY : static_cast<double>(timeout.count()) / 1e6;
  int r = emscripten_futex_wait(&word, expected, ms);
  return r == 0 ? WaitStatus::Woken : r == -ETIMEDOUT ? WaitStatus::TimedOut : WaitStatus::NotEqual;
#else
  timespec ts{};
  timespec* tsp = nullptr;
  if (timeout.count() >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
    tsp = &ts;
  }
  long r = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE,
                   expected, tsp, nullptr, 0);
  if (r == 0) return WaitStatus::Woken;
  if (errno == EAGAIN) return WaitStatus::NotEqual;
  if (errno == ETIMEDOUT) return WaitStatus::TimedOut;
  return WaitStatus::Woken;  // EINTR: treat as spurious
#endif
}

// Wakes every thread blocked in wait_word() (or Atomics.wait/waitAsync) on `word`.
inline void notify_word(std::atomic<std::uint32_t>& word) noexcept {
#if defined(__EMSCRIPTEN__)
  emscripten_futex_wake(&word, INT_MAX);
#else
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT32_MAX,
          nullptr, nullptr, 0);
#endif
}

}  // namespace ferry
