// ferry core (internal): the ring's shared words
// Part of core/ring.hpp, which includes it after its public declarations:
// include core/ring.hpp, not this file.
//
// Atomic access to the header's words, the bells and barriers of the
// eventcount (wake, park), the header check, the role claim, and the errors
// the endpoints return (built out of line, so the hot paths stay small).
#pragma once

namespace ferry {

namespace detail {

inline std::atomic<std::uint32_t>& ring_word(std::byte* base, std::size_t offset) noexcept {
  return *reinterpret_cast<std::atomic<std::uint32_t>*>(base + offset);
}

// The data/space bells are words the waiting side sleeps on; by default the
// ring's own sequence words, or a doorbell elsewhere in the same memory.
inline std::atomic<std::uint32_t>& ring_bell(std::byte* base, std::size_t bell_field) noexcept {
  std::int32_t rel;
  // relaxed: bells are set before the endpoints attach and never change after.
  std::uint32_t raw = ring_word(base, bell_field).load(std::memory_order_relaxed);
  std::memcpy(&rel, &raw, 4);
  return *reinterpret_cast<std::atomic<std::uint32_t>*>(base + rel);
}

// Bumps the bell and wakes whoever sleeps on it. release: the bump carries the
// notifier's earlier stores to a waiter that reads the new bell value.
inline void ring_wake(std::byte* base, std::size_t bell_field) noexcept {
  auto& bell = ring_bell(base, bell_field);
  bell.fetch_add(1, std::memory_order_release);
  notify_word(bell);
}

// Asymmetric barrier (the membarrier(2) pattern of liburcu and folly). The
// hot side (after every publish/release) must order its store of tail/head
// before its load of the other side's parked flag; the cold side (about to
// park) must order its flag store before its re-check. With membarrier the
// cold side pays for both: membarrier(PRIVATE_EXPEDITED) makes every running
// thread of the process execute a full barrier, so the hot side needs only
// a compiler barrier and no mfence per batch. Where membarrier is missing
// (old kernels, seccomp, WebAssembly) both sides use a seq_cst fence.
inline bool register_asymmetric_barrier() noexcept {
#if defined(__linux__) && !defined(__EMSCRIPTEN__) && defined(SYS_membarrier)
  const long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (cmds < 0 || (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
  return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
  return false;
#endif
}
// Decided once, during static initialisation. Read before that (a ring used
// from another static initialiser) it is false: full fences, still correct.
inline const bool kAsymmetricBarrier = register_asymmetric_barrier();

inline void light_barrier() noexcept {
  if (kAsymmetricBarrier) {
    std::atomic_signal_fence(std::memory_order_seq_cst);  // compiler only
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}

inline void heavy_barrier() noexcept {
#if defined(__linux__) && !defined(__EMSCRIPTEN__) && defined(SYS_membarrier)
  if (kAsymmetricBarrier && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) return;
#endif
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

// Wakes the other side if its parked flag is raised. Called right after a
// release store of head or tail; the light barrier orders that store before
// the flag load (Dekker: pairs with the heavy barrier in ring_park()), or a
// full fence where the other side parks without the heavy barrier.
inline void ring_wake_if_parked(std::byte* base, std::size_t parked, std::size_t bell_field,
                                bool full_fence = false) noexcept {
  if (full_fence) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  } else {
    light_barrier();
  }
  auto& flag = ring_word(base, parked);
  // relaxed: the fence above orders it; the exchange makes one wake per park.
  if (flag.load(std::memory_order_relaxed) != 0 && flag.exchange(0, std::memory_order_relaxed) != 0) {
    ring_wake(base, bell_field);
  }
}

// Raises a parked flag and returns the bell value to wait on. The caller
// re-checks its condition after this and before waiting. `peer_fences`: the
// other side orders every store it publishes before its look at the flag
// with a full fence (a fenced publish, or JavaScript's Atomics), so a plain
// fence suffices here instead of the heavy barrier.
inline std::uint32_t ring_park(std::byte* base, std::size_t parked, std::size_t bell_field,
                               bool peer_fences = false) noexcept {
  // acquire: if this reads a bumped value, the notifier's stores are visible.
  const std::uint32_t key = ring_bell(base, bell_field).load(std::memory_order_acquire);
  ring_word(base, parked).store(1, std::memory_order_relaxed);
  // Orders the flag store before the caller's re-check (pairs with the light
  // barrier in ring_wake_if_parked): either the caller sees the other side's
  // progress or the other side sees the flag and bumps the bell, so a wait
  // on `key` returns.
  if (peer_fences) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  } else {
    heavy_barrier();
  }
  return key;
}

// Eventcount wait: returns when ready() holds, or with Timeout/InvalidArgument.
template <class Ready>
Result<void> ring_wait_until(std::byte* base, std::size_t parked, std::size_t bell_field,
                             WaitNanos timeout, const char* what, Ready ready) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto& bell = ring_bell(base, bell_field);
  auto& flag = ring_word(base, parked);
  // A short spin first: the other side is often microseconds away, and a
  // park/wake pair costs two syscalls.
  for (int i = 0; i < kSpinsBeforePark; ++i) {
    if (ready()) return {};
    cpu_relax();
  }
  for (;;) {
    if (ready()) return {};
    if (!can_block()) {
      return Error::make(ErrorKind::InvalidArgument,
                         std::string("cannot block waiting for ") + what +
                             " on the browser main thread; use the asynchronous API",
                         "core/ring");
    }
    const std::uint32_t key = ring_park(base, parked, bell_field);
    if (ready()) {
      flag.store(0, std::memory_order_relaxed);
      return {};
    }
    WaitNanos left = kWaitForever;
    if (timeout.count() >= 0) {
      left = timeout - std::chrono::duration_cast<WaitNanos>(clock::now() - start);
      if (left.count() <= 0) {
        flag.store(0, std::memory_order_relaxed);
        return Error::make(ErrorKind::Timeout,
                           std::string("waiting for ") + what + " timed out after " +
                               std::to_string(timeout.count() / 1000) + " us",
                           "core/ring");
      }
    }
    wait_word(bell, key, left);
    flag.store(0, std::memory_order_relaxed);
  }
}

#ifndef NDEBUG
// Debug builds: fail loudly if two threads use one endpoint at once.
template <class Endpoint>
struct RoleGuardT {
  explicit RoleGuardT(Endpoint& e) : e_(e) {
    bool was = e_.in_use_.exchange(true, std::memory_order_acquire);
    assert(!was && "ferry ring endpoint used by two threads at once (single producer/consumer)");
    (void)was;
  }
  ~RoleGuardT() { e_.in_use_.store(false, std::memory_order_release); }
  Endpoint& e_;
};
#endif

inline Result<void> ring_check(std::byte* base) {
  using namespace ring_layout;
  if (base == nullptr || reinterpret_cast<std::uintptr_t>(base) % kCacheLine != 0) {
    return Error::make(ErrorKind::InvalidArgument, "ring memory must be 64-byte aligned", "core/ring");
  }
  // acquire: pairs with ring_init's release store of the magic word.
  if (ring_word(base, kMagicOffset).load(std::memory_order_acquire) != kMagic) {
    return Error::make(ErrorKind::InvalidArgument, "memory does not hold a ferry ring (bad magic)", "core/ring");
  }
  const std::uint32_t version = ring_word(base, kVersionOffset).load(std::memory_order_relaxed);
  if (version != kVersion) {
    return Error::make(ErrorKind::InvalidArgument,
                       "ring layout version " + std::to_string(version) + " is not the supported " +
                           std::to_string(kVersion),
                       "core/ring");
  }
  return {};
}

// Sets `bit` in the flags word unless it is already set.
inline bool ring_claim(std::byte* base, std::uint32_t bit) noexcept {
  // acq_rel: claiming a role orders after the previous holder's release.
  return (ring_word(base, ring_layout::kFlagsOffset).fetch_or(bit, std::memory_order_acq_rel) & bit) == 0;
}

}  // namespace detail

#ifndef NDEBUG
#define FERRY_RING_ROLE_GUARD(endpoint) ::ferry::detail::RoleGuardT<std::remove_reference_t<decltype(endpoint)>> ferry_role_guard_(endpoint)
#else
#define FERRY_RING_ROLE_GUARD(endpoint) ((void)0)
#endif

namespace detail {
// Errors are built out of line and marked cold, so the hot paths of
// try_reserve/try_read stay small enough to inline.
[[gnu::cold, gnu::noinline]] inline Error ring_skip_tag_error() {
  return Error::make(ErrorKind::InvalidArgument, "tag 0xFFFFFFFF is reserved for skip records", "core/ring");
}
[[gnu::cold, gnu::noinline]] inline Error ring_too_large_error(std::size_t len, std::uint32_t capacity) {
  return Error::make(ErrorKind::MessageTooLarge,
                     "record of " + std::to_string(len) + " bytes exceeds ring capacity " + std::to_string(capacity) +
                         " (at most " + std::to_string(capacity - ring_layout::kRecordHeaderBytes) + " payload bytes)",
                     "core/ring");
}
[[gnu::cold, gnu::noinline]] inline Error ring_corrupt_skip_error(std::uint32_t pos, std::uint64_t span,
                                                                  std::uint32_t to_end) {
  return Error::make(ErrorKind::CorruptRecord,
                     "skip record at offset " + std::to_string(pos) + " covers " + std::to_string(span) +
                         " bytes, but " + std::to_string(to_end) + " remain before the end of the ring",
                     "core/ring");
}
[[gnu::cold, gnu::noinline]] inline Error ring_corrupt_record_error(std::uint32_t pos, std::uint32_t len,
                                                                    std::uint32_t published) {
  return Error::make(ErrorKind::CorruptRecord,
                     "record at offset " + std::to_string(pos) + " claims " + std::to_string(len) +
                         " payload bytes, but only " + std::to_string(published) + " bytes are published there",
                     "core/ring");
}

// The error a closed ring reports: Closed, or the kind ring_abort gave.
[[gnu::cold, gnu::noinline]] inline Error ring_closed_error(std::byte* base, const char* what) {
  // relaxed: read after an acquire load of the flags that saw the close.
  const auto reason = ring_word(base, ring_layout::kCloseReasonOffset).load(std::memory_order_relaxed);
  if (reason != 0 && is_valid_error_kind(static_cast<std::uint8_t>(reason))) {
    std::string message("the ring was aborted: ");
    message.append(to_string(static_cast<ErrorKind>(reason)));
    return Error::make(static_cast<ErrorKind>(reason), std::move(message), "core/ring");
  }
  return Error::make(ErrorKind::Closed, what, "core/ring");
}
}  // namespace detail

}  // namespace ferry
