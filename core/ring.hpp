// ferry core: single-producer single-consumer byte ring in caller memory.
//
// Guarantees (moodycamel-style):
// - Exactly one RingProducer and one RingConsumer per ring; attaching a second
//   of either fails with InvalidArgument. Each endpoint object is used by one
//   thread at a time (debug builds assert it).
// - try_* calls never block and never allocate. read()/reserve() block the
//   calling thread (futex / memory.atomic.wait32) and fail with
//   InvalidArgument where blocking is not allowed (the browser main thread).
// - Records are variable length and never wrap, so every record a consumer
//   reads is one contiguous, zero-copy view, valid until release().
//
// Design: a byte ring with free-running 32-bit counters, as in rigtorp's
// SPSCQueue and ringbuf.js. The producer owns `tail` (the write counter it
// publishes); the consumer owns `head` (the read counter it releases). Each
// side keeps a private cached copy of the other's counter and re-reads the
// shared one only when the cache says there is not enough data or room.
// Invariants, with counters compared modulo 2^32:
//   0 <= tail - head <= capacity        (bytes in flight)
//   head, tail and every record offset are multiples of 8
//   a record [pos, pos + 8 + pad8(len)) never crosses the end of the buffer;
//   where the next record would, a skip record fills the tail of the buffer.
// Waiting is an eventcount (Dekker-style flag + sequence word): a side about
// to sleep reads the sequence word, raises its "parked" flag, re-checks, then
// waits on the sequence word. The other side, after its release store, issues
// a seq_cst fence and looks at the flag; only if it is raised does it bump the
// sequence word and notify, so a side that keeps up never makes a syscall.
// The byte layout is the contract with the TypeScript twin: core/RING.md.
#pragma once

#include "error.hpp"
#include "wait.hpp"

#if defined(__linux__) && !defined(__EMSCRIPTEN__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <atomic>
#include <climits>
#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <type_traits>

namespace ferry {

// Shared-memory layout (core/RING.md). Offsets are bytes from the ring base.
namespace ring_layout {
inline constexpr std::uint32_t kMagic = 0x474E5246;  // "FRNG" little-endian
inline constexpr std::uint32_t kVersion = 1;
inline constexpr std::size_t kCacheLine = 64;
// Line 0: read-mostly metadata.
inline constexpr std::size_t kMagicOffset = 0;
inline constexpr std::size_t kVersionOffset = 4;
inline constexpr std::size_t kCapacityOffset = 8;
inline constexpr std::size_t kFlagsOffset = 12;
inline constexpr std::size_t kDataBellOffset = 16;   // i32: data bell, relative to base
inline constexpr std::size_t kSpaceBellOffset = 20;  // i32: space bell, relative to base
inline constexpr std::size_t kCloseReasonOffset = 24; // u32: 0, or the ErrorKind of ring_abort
// Line 1: written by the producer only.
inline constexpr std::size_t kTailOffset = 64;
// Line 2: written by the consumer only.
inline constexpr std::size_t kHeadOffset = 128;
// Line 3: wait words, written only when a side parks or wakes the other.
inline constexpr std::size_t kDataSeqOffset = 192;
inline constexpr std::size_t kConsumerParkedOffset = 196;
inline constexpr std::size_t kSpaceSeqOffset = 200;
inline constexpr std::size_t kProducerParkedOffset = 204;
inline constexpr std::size_t kHeaderBytes = 256;  // records start here

// Bits of the flags word.
inline constexpr std::uint32_t kProducerClosed = 1u << 0;
inline constexpr std::uint32_t kConsumerClosed = 1u << 1;
inline constexpr std::uint32_t kProducerAttached = 1u << 2;
inline constexpr std::uint32_t kConsumerAttached = 1u << 3;

// Record header: u32 payload length, u32 tag; payload padded to 8 bytes.
inline constexpr std::size_t kRecordHeaderBytes = 8;
inline constexpr std::uint32_t kSkipTag = 0xFFFFFFFFu;  // fills the buffer's tail
inline constexpr std::uint32_t kMinCapacity = 64;
inline constexpr std::uint32_t kMaxCapacity = 1u << 30;
}  // namespace ring_layout

// Bytes a ring of `capacity` data bytes needs: header plus data.
constexpr std::size_t ring_bytes(std::uint32_t capacity) noexcept {
  return ring_layout::kHeaderBytes + capacity;
}

// Bytes a record with `payload` bytes occupies in the ring.
constexpr std::size_t ring_record_bytes(std::size_t payload) noexcept {
  return ring_layout::kRecordHeaderBytes + ((payload + 7) & ~std::size_t{7});
}

// Formats `memory` (64-byte aligned, ring_bytes(capacity) long) as an empty
// ring. capacity: a power of two in [64, 2^30].
Result<void> ring_init(void* memory, std::uint32_t capacity);

namespace detail {
template <class Endpoint> struct RoleGuardT;
}  // namespace detail

// Points the ring's bells at other words in the same memory (an executor's
// doorbell serving many rings); nullptr keeps the ring's own word. Call it
// before either side attaches. Each bell must lie within 2 GiB of the ring:
// allocate both with shared_alloc() (core/arena.hpp).
Result<void> ring_set_bells(void* ring, std::atomic<std::uint32_t>* data_bell,
                            std::atomic<std::uint32_t>* space_bell);

// Ends both directions from outside the endpoints (one side's thread died):
// the consumer reads what was published, then both sides get an error of
// kind `reason` (say WorkerCrashed) where a normal close gives Closed.
void ring_abort(void* ring, ErrorKind reason) noexcept;

// Says why the ring will end, before either endpoint closes it normally: the
// close then reports an error of kind `reason` instead of Closed (a stream
// task that failed). Does nothing if the ring has a reason already.
void ring_set_close_reason(void* ring, ErrorKind reason) noexcept;

// One record as the consumer sees it: a view into the ring, valid until the
// consumer's next release().
struct RingRecord {
  std::uint32_t tag;
  std::span<const std::byte> payload;
};

// alignas: the two endpoints, often members of one struct, must not share a
// cache line (their private caches are written on every record).
class alignas(64) RingProducer {
 public:
  // Attaches to a ring made by ring_init(); fails if it already has a producer.
  static Result<RingProducer> attach(void* ring);

  RingProducer(RingProducer&& other) noexcept;
  RingProducer& operator=(RingProducer&& other) noexcept;
  RingProducer(const RingProducer&) = delete;
  RingProducer& operator=(const RingProducer&) = delete;
  ~RingProducer();  // publishes what was committed, then detaches

  std::uint32_t capacity() const noexcept { return capacity_; }
  // Largest payload one record can carry: capacity - 8.
  std::size_t max_payload() const noexcept { return capacity_ - ring_layout::kRecordHeaderBytes; }

  // Reserves room for a record of up to `len` payload bytes and returns where
  // to write them; finish it with commit(). Returns nullptr when there is not
  // enough room now (nothing is lost: retry after the consumer releases).
  // Errors: MessageTooLarge (can never fit), Closed (consumer closed),
  // InvalidArgument (tag is the reserved skip tag).
  Result<std::byte*> try_reserve(std::size_t len, std::uint32_t tag);
  // Like try_reserve, but publishes the batch and blocks until room appears,
  // the consumer closes (Closed) or `timeout` passes (Timeout).
  Result<std::byte*> reserve(std::size_t len, std::uint32_t tag, WaitNanos timeout = kWaitForever);
  // Ends the last reservation with `len` (<= the reserved length) payload
  // bytes. The record joins the batch; the consumer sees it after publish().
  void commit(std::size_t len);
  // Copies a whole record in: try_reserve + memcpy + commit. false: no room now.
  Result<bool> try_write(std::uint32_t tag, std::span<const std::byte> payload);
  // Grows the last record committed since the last publish by up to `len`
  // payload bytes, in place, and returns where they go (right after its
  // payload); finish with commit_extend(). So a batch of small values can
  // share one record header (core/RING.md, "Growing the last record").
  // An open reservation is abandoned. nullptr, and nothing changes, when
  // there is no such record (none committed since the last publish, or a
  // skip record followed it, or the consumer closed) or it cannot grow by
  // `len` now (it would cross the end of the data area, or there is no
  // room): try_reserve a new record then.
  std::byte* try_extend(std::size_t len) noexcept;
  // Ends the extension try_extend() offered with `len` (<= what was asked)
  // more payload bytes in the last record.
  void commit_extend(std::size_t len);

  // Makes every committed record visible: one release store, and one notify
  // only if the consumer is parked.
  void publish();
  // publish() with a full fence before the look at the parked flag, instead
  // of the light barrier: a consumer that knows every publish is fenced
  // parks without the heavy barrier (prepare_wait_for_data(true)). Worth it
  // where the consumer parks about as often as the producer publishes (a
  // pool worker's request ring); a fence costs some nanoseconds, the heavy
  // barrier an interrupt on every core.
  void publish_fenced();
  // Publishes, then marks the ring closed for writing and wakes the consumer,
  // which reads what is left and then gets Closed.
  void close();
  // True once the consumer has closed its end.
  bool consumer_closed() const noexcept;
  // True if the consumer is parked waiting for data. A hint only, possibly
  // stale either way: a batching producer may publish at once rather than
  // let an idle consumer wait for the batch. publish() itself does the
  // fenced check that decides whether to wake it.
  bool consumer_parked() const noexcept;
  // Raises the producer-parked flag (see consumer's release) and returns the
  // space bell key to wait on; for executors that park on their own doorbell.
  std::uint32_t prepare_wait_for_space() noexcept;
  void cancel_wait_for_space() noexcept;

 private:
  explicit RingProducer(std::byte* base) noexcept;
  std::uint32_t free_bytes() const noexcept { return capacity_ - (write_ - head_cache_); }
  void detach() noexcept;

  std::byte* base_ = nullptr;
  std::uint32_t capacity_ = 0;
  std::uint32_t mask_ = 0;
  std::uint32_t write_ = 0;       // local: end of the committed batch
  std::uint32_t published_ = 0;   // local: last tail stored
  std::uint32_t reserved_len_ = 0;  // the open reservation (reserving_) or extension (extending_)
  std::uint32_t reserved_tag_ = 0;
  bool reserving_ = false;
  bool extending_ = false;
  // The last record committed since the last publish, which try_extend may
  // grow: its header's write counter and payload length (extendable_).
  std::uint32_t last_start_ = 0;
  std::uint32_t last_len_ = 0;
  bool extendable_ = false;
  std::uint32_t head_cache_ = 0;  // local copy of the consumer's head
#ifndef NDEBUG
  std::atomic<bool> in_use_{false};  // debug: one thread at a time
  template <class E> friend struct detail::RoleGuardT;
#endif
};

class alignas(64) RingConsumer {
 public:
  // Attaches to a ring made by ring_init(); fails if it already has a consumer.
  static Result<RingConsumer> attach(void* ring);

  RingConsumer(RingConsumer&& other) noexcept;
  RingConsumer& operator=(RingConsumer&& other) noexcept;
  RingConsumer(const RingConsumer&) = delete;
  RingConsumer& operator=(const RingConsumer&) = delete;
  ~RingConsumer();  // releases what was read, then detaches

  std::uint32_t capacity() const noexcept { return capacity_; }

  // Next record, or nullopt if none is published yet. Errors: Closed (the
  // producer closed and everything before it was read), CorruptRecord (a
  // header that cannot be right: the ring is unusable from here on).
  Result<std::optional<RingRecord>> try_read();
  // Like try_read, but releases what was read and blocks until a record
  // arrives, the producer closes (Closed) or `timeout` passes (Timeout).
  Result<RingRecord> read(WaitNanos timeout = kWaitForever);
  // Hands every record read so far back to the producer (one release store,
  // one notify only if the producer is parked). Views from them die here.
  void release();
  // Up to out.size() records in one pass: how many were read (0: none is
  // published now). An error (as try_read's) only when none was read; after
  // some, the next call meets it again.
  Result<std::size_t> try_read_batch(std::span<RingRecord> out);
  // Where the record try_read() returned last begins: its header's read
  // counter, for release_to().
  std::uint32_t record_start() const noexcept { return record_start_; }
  // release() of every record before `position` (a record_start() not older
  // than the last release), for a reader still using the record there: a
  // stream reading the values packed in one record, one per call.
  void release_to(std::uint32_t position);
  // Marks the ring closed for reading and wakes the producer, whose next
  // reserve fails with Closed.
  void close();
  bool producer_closed() const noexcept;
  // True if a record is published and unread.
  bool has_data() noexcept;
  // Raises the consumer-parked flag and returns the data bell key; for
  // executors that park on their own doorbell. producer_fences: every
  // producer of this ring publishes with publish_fenced() (or is JavaScript,
  // whose Atomics are sequentially consistent): no heavy barrier needed.
  std::uint32_t prepare_wait_for_data(bool producer_fences = false) noexcept;
  void cancel_wait_for_data() noexcept;

 private:
  explicit RingConsumer(std::byte* base) noexcept;
  void detach() noexcept;

  std::byte* base_ = nullptr;
  std::uint32_t capacity_ = 0;
  std::uint32_t mask_ = 0;
  std::uint32_t read_ = 0;        // local: end of what was read
  std::uint32_t released_ = 0;    // local: last released head
  std::uint32_t record_start_ = 0;  // local: header of the record try_read() returned last
  std::uint32_t tail_cache_ = 0;  // local copy of the producer's tail
#ifndef NDEBUG
  std::atomic<bool> in_use_{false};
  template <class E> friend struct detail::RoleGuardT;
#endif
};

// ---------------------------------------------------------------------------
// Implementation

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

inline Result<void> ring_init(void* memory, std::uint32_t capacity) {
  using namespace ring_layout;
  auto* base = static_cast<std::byte*>(memory);
  if (base == nullptr || reinterpret_cast<std::uintptr_t>(base) % kCacheLine != 0) {
    return Error::make(ErrorKind::InvalidArgument, "ring memory must be 64-byte aligned", "core/ring");
  }
  if (capacity < kMinCapacity || capacity > kMaxCapacity || (capacity & (capacity - 1)) != 0) {
    return Error::make(ErrorKind::InvalidArgument,
                       "ring capacity " + std::to_string(capacity) +
                           " must be a power of two between 64 and 2^30 bytes",
                       "core/ring");
  }
  std::memset(base, 0, kHeaderBytes);
  detail::ring_word(base, kVersionOffset).store(kVersion, std::memory_order_relaxed);
  detail::ring_word(base, kCapacityOffset).store(capacity, std::memory_order_relaxed);
  detail::ring_word(base, kDataBellOffset).store(static_cast<std::uint32_t>(kDataSeqOffset), std::memory_order_relaxed);
  detail::ring_word(base, kSpaceBellOffset).store(static_cast<std::uint32_t>(kSpaceSeqOffset), std::memory_order_relaxed);
  // release: publishes the fields above to whoever attaches (pairs with ring_check).
  detail::ring_word(base, kMagicOffset).store(kMagic, std::memory_order_release);
  return {};
}

inline Result<void> ring_set_bells(void* ring, std::atomic<std::uint32_t>* data_bell,
                                   std::atomic<std::uint32_t>* space_bell) {
  using namespace ring_layout;
  auto* base = static_cast<std::byte*>(ring);
  if (auto ok = detail::ring_check(base); !ok) return ok;
  if (detail::ring_word(base, kFlagsOffset).load(std::memory_order_acquire) & (kProducerAttached | kConsumerAttached)) {
    return Error::make(ErrorKind::InvalidArgument, "ring bells must be set before either side attaches", "core/ring");
  }
  const auto set = [&](std::size_t field, std::atomic<std::uint32_t>* bell) -> Result<void> {
    if (bell == nullptr) return {};
    const std::ptrdiff_t rel = reinterpret_cast<std::byte*>(bell) - base;
    if (rel < INT32_MIN || rel > INT32_MAX || rel % 4 != 0) {
      return Error::make(ErrorKind::InvalidArgument,
                         "bell is " + std::to_string(rel) +
                             " bytes from the ring; it must be a 4-byte aligned word within 2 GiB "
                             "(allocate both with shared_alloc)",
                         "core/ring");
    }
    const auto rel32 = static_cast<std::int32_t>(rel);
    std::uint32_t raw;
    std::memcpy(&raw, &rel32, 4);
    // relaxed: like ring_init's fields, published to the endpoints by whatever
    // hands them the ring (thread start, a queue, a release store).
    detail::ring_word(base, field).store(raw, std::memory_order_relaxed);
    return {};
  };
  if (auto ok = set(kDataBellOffset, data_bell); !ok) return ok;
  return set(kSpaceBellOffset, space_bell);
}

inline void ring_abort(void* ring, ErrorKind reason) noexcept {
  using namespace ring_layout;
  auto* base = static_cast<std::byte*>(ring);
  detail::ring_word(base, kCloseReasonOffset).store(static_cast<std::uint32_t>(reason), std::memory_order_relaxed);
  // release: the reason is visible to whoever sees the closed bits (acquire).
  detail::ring_word(base, kFlagsOffset).fetch_or(kProducerClosed | kConsumerClosed, std::memory_order_release);
  detail::ring_wake(base, kDataBellOffset);
  detail::ring_wake(base, kSpaceBellOffset);
}

inline void ring_set_close_reason(void* ring, ErrorKind reason) noexcept {
  auto expected = std::uint32_t{0};
  // relaxed: the close that follows (a release on the flags, on this thread
  // or after it) publishes it to whoever sees the ring closed.
  detail::ring_word(static_cast<std::byte*>(ring), ring_layout::kCloseReasonOffset)
      .compare_exchange_strong(expected, static_cast<std::uint32_t>(reason), std::memory_order_relaxed);
}

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

// --- RingProducer ----------------------------------------------------------

inline RingProducer::RingProducer(std::byte* base) noexcept
    : base_(base),
      capacity_(detail::ring_word(base, ring_layout::kCapacityOffset).load(std::memory_order_relaxed)),
      mask_(capacity_ - 1),
      // Own counter: relaxed (only this side writes it). Other side's: acquire.
      write_(detail::ring_word(base, ring_layout::kTailOffset).load(std::memory_order_relaxed)),
      published_(write_),
      head_cache_(detail::ring_word(base, ring_layout::kHeadOffset).load(std::memory_order_acquire)) {}

inline Result<RingProducer> RingProducer::attach(void* ring) {
  auto* base = static_cast<std::byte*>(ring);
  if (auto ok = detail::ring_check(base); !ok) return std::move(ok).error();
  if (!detail::ring_claim(base, ring_layout::kProducerAttached)) {
    return Error::make(ErrorKind::InvalidArgument, "ring already has a producer (single producer only)", "core/ring");
  }
  return RingProducer(base);
}

inline RingProducer::RingProducer(RingProducer&& o) noexcept
    : base_(o.base_), capacity_(o.capacity_), mask_(o.mask_), write_(o.write_), published_(o.published_),
      reserved_len_(o.reserved_len_), reserved_tag_(o.reserved_tag_), reserving_(o.reserving_),
      extending_(o.extending_), last_start_(o.last_start_), last_len_(o.last_len_), extendable_(o.extendable_),
      head_cache_(o.head_cache_) {
  o.base_ = nullptr;
}

inline RingProducer& RingProducer::operator=(RingProducer&& o) noexcept {
  if (this != &o) {
    detach();
    base_ = o.base_; capacity_ = o.capacity_; mask_ = o.mask_; write_ = o.write_; published_ = o.published_;
    reserved_len_ = o.reserved_len_; reserved_tag_ = o.reserved_tag_; reserving_ = o.reserving_;
    extending_ = o.extending_; last_start_ = o.last_start_; last_len_ = o.last_len_; extendable_ = o.extendable_;
    head_cache_ = o.head_cache_;
    o.base_ = nullptr;
  }
  return *this;
}

inline RingProducer::~RingProducer() { detach(); }

inline void RingProducer::detach() noexcept {
  if (base_ == nullptr) return;
  publish();
  // release: a later producer attaching (acq_rel claim) sees our tail.
  detail::ring_word(base_, ring_layout::kFlagsOffset)
      .fetch_and(~ring_layout::kProducerAttached, std::memory_order_release);
  base_ = nullptr;
}

inline bool RingProducer::consumer_closed() const noexcept {
  // acquire: pairs with the consumer's release in close().
  return (detail::ring_word(base_, ring_layout::kFlagsOffset).load(std::memory_order_acquire) &
          ring_layout::kConsumerClosed) != 0;
}

inline bool RingProducer::consumer_parked() const noexcept {
  // relaxed: a hint for when to publish, never what a wake depends on.
  return detail::ring_word(base_, ring_layout::kConsumerParkedOffset).load(std::memory_order_relaxed) != 0;
}

inline Result<std::byte*> RingProducer::try_reserve(std::size_t len, std::uint32_t tag) {
  using namespace ring_layout;
  FERRY_RING_ROLE_GUARD(*this);
  if (tag == kSkipTag) [[unlikely]] return detail::ring_skip_tag_error();
  if (len > max_payload()) [[unlikely]] return detail::ring_too_large_error(len, capacity_);
  if (consumer_closed()) [[unlikely]] return detail::ring_closed_error(base_, "the consumer closed the ring");
  const std::uint32_t need = static_cast<std::uint32_t>(ring_record_bytes(len));
  std::uint32_t pos = write_ & mask_;
  const std::uint32_t to_end = capacity_ - pos;
  if (need > to_end) {
    // The record would cross the end: fill [pos, capacity) with a skip record
    // first. The skip may go in alone, so that a record bigger than half the
    // ring still fits once the consumer has moved past the skip.
    if (free_bytes() < to_end) {
      head_cache_ = detail::ring_word(base_, kHeadOffset).load(std::memory_order_acquire);
      if (free_bytes() < to_end) return static_cast<std::byte*>(nullptr);
    }
    const std::uint32_t skip_hdr[2] = {to_end - static_cast<std::uint32_t>(kRecordHeaderBytes), kSkipTag};
    std::memcpy(base_ + kHeaderBytes + pos, skip_hdr, sizeof skip_hdr);
    write_ += to_end;
    pos = 0;
    extendable_ = false;  // the skip now follows the last record
  }
  if (free_bytes() < need) {
    // acquire: pairs with the consumer's release of head; after it we may
    // overwrite the bytes the consumer has finished with.
    head_cache_ = detail::ring_word(base_, kHeadOffset).load(std::memory_order_acquire);
    if (free_bytes() < need) return static_cast<std::byte*>(nullptr);
  }
  reserved_len_ = static_cast<std::uint32_t>(len);
  reserved_tag_ = tag;
  reserving_ = true;
  extending_ = false;
  return base_ + kHeaderBytes + pos + kRecordHeaderBytes;
}

inline void RingProducer::commit(std::size_t len) {
  FERRY_RING_ROLE_GUARD(*this);
  assert(reserving_ && "commit() without a reservation");
  assert(len <= reserved_len_ && "commit() longer than the reservation");
  const std::uint32_t hdr[2] = {static_cast<std::uint32_t>(len), reserved_tag_};
  std::memcpy(base_ + ring_layout::kHeaderBytes + (write_ & mask_), hdr, sizeof hdr);
  last_start_ = write_;
  last_len_ = static_cast<std::uint32_t>(len);
  extendable_ = true;
  write_ += static_cast<std::uint32_t>(ring_record_bytes(len));
  reserving_ = false;
}

inline std::byte* RingProducer::try_extend(std::size_t len) noexcept {
  using namespace ring_layout;
  FERRY_RING_ROLE_GUARD(*this);
  if (!extendable_ || consumer_closed()) return nullptr;  // closed: try_reserve reports it
  const std::uint32_t pos = last_start_ & mask_;
  // 64-bit: len may be anything a caller passes.
  const std::uint64_t grown = ring_record_bytes(std::uint64_t{last_len_} + len);
  if (grown > capacity_ - pos) return nullptr;  // a record never crosses the end
  const std::uint32_t extra = static_cast<std::uint32_t>(grown) - (write_ - last_start_);
  if (free_bytes() < extra) {
    // acquire: pairs with the consumer's release of head, as in try_reserve.
    head_cache_ = detail::ring_word(base_, kHeadOffset).load(std::memory_order_acquire);
    if (free_bytes() < extra) return nullptr;
  }
  reserved_len_ = static_cast<std::uint32_t>(len);
  reserving_ = false;  // an open reservation is abandoned, as a new try_reserve would
  extending_ = true;
  return base_ + kHeaderBytes + pos + kRecordHeaderBytes + last_len_;
}

inline void RingProducer::commit_extend(std::size_t len) {
  FERRY_RING_ROLE_GUARD(*this);
  assert(extending_ && "commit_extend() without try_extend()");
  assert(len <= reserved_len_ && "commit_extend() longer than what try_extend() offered");
  last_len_ += static_cast<std::uint32_t>(len);
  // The record is not published yet: the consumer cannot see its header change.
  std::memcpy(base_ + ring_layout::kHeaderBytes + (last_start_ & mask_), &last_len_, sizeof last_len_);
  write_ = last_start_ + static_cast<std::uint32_t>(ring_record_bytes(last_len_));
  extending_ = false;
}

inline Result<bool> RingProducer::try_write(std::uint32_t tag, std::span<const std::byte> payload) {
  auto slot = try_reserve(payload.size(), tag);
  if (!slot) return std::move(slot).error();
  if (*slot == nullptr) return false;
  if (!payload.empty()) std::memcpy(*slot, payload.data(), payload.size());
  commit(payload.size());
  return true;
}

inline void RingProducer::publish() {
  using namespace ring_layout;
  if (published_ == write_) return;
  published_ = write_;
  extendable_ = false;  // the consumer may read it from now on
  // release: publishes every record up to write_; pairs with the consumer's
  // acquire load of tail in has_data().
  detail::ring_word(base_, kTailOffset).store(write_, std::memory_order_release);
  detail::ring_wake_if_parked(base_, kConsumerParkedOffset, kDataBellOffset);
}

inline void RingProducer::publish_fenced() {
  using namespace ring_layout;
  if (published_ == write_) return;
  published_ = write_;
  extendable_ = false;
  // release: as in publish(); the fence then orders it before the flag load.
  detail::ring_word(base_, kTailOffset).store(write_, std::memory_order_release);
  detail::ring_wake_if_parked(base_, kConsumerParkedOffset, kDataBellOffset, true);
}

inline Result<std::byte*> RingProducer::reserve(std::size_t len, std::uint32_t tag, WaitNanos timeout) {
  using namespace ring_layout;
  auto slot = try_reserve(len, tag);
  if (!slot || *slot != nullptr) return slot;
  publish();  // the consumer can only make room for records it can see
  std::byte* out = nullptr;
  Error failure;
  auto waited = detail::ring_wait_until(base_, kProducerParkedOffset, kSpaceBellOffset, timeout, "ring space", [&] {
    auto r = try_reserve(len, tag);
    if (!r) { failure = std::move(r).error(); return true; }
    if (*r == nullptr) { publish(); return false; }  // publish a skip it may have added
    out = *r;
    return true;
  });
  if (!waited) return std::move(waited).error();
  if (out == nullptr) return failure;
  return out;
}

inline void RingProducer::close() {
  publish();
  // release: everything published above is visible to a consumer that sees the flag.
  detail::ring_word(base_, ring_layout::kFlagsOffset).fetch_or(ring_layout::kProducerClosed, std::memory_order_release);
  detail::ring_wake(base_, ring_layout::kDataBellOffset);
}

inline std::uint32_t RingProducer::prepare_wait_for_space() noexcept {
  return detail::ring_park(base_, ring_layout::kProducerParkedOffset, ring_layout::kSpaceBellOffset);
}

inline void RingProducer::cancel_wait_for_space() noexcept {
  detail::ring_word(base_, ring_layout::kProducerParkedOffset).store(0, std::memory_order_relaxed);
}

// --- RingConsumer ----------------------------------------------------------

inline RingConsumer::RingConsumer(std::byte* base) noexcept
    : base_(base),
      capacity_(detail::ring_word(base, ring_layout::kCapacityOffset).load(std::memory_order_relaxed)),
      mask_(capacity_ - 1),
      read_(detail::ring_word(base, ring_layout::kHeadOffset).load(std::memory_order_relaxed)),
      released_(read_),
      tail_cache_(detail::ring_word(base, ring_layout::kTailOffset).load(std::memory_order_acquire)) {}

inline Result<RingConsumer> RingConsumer::attach(void* ring) {
  auto* base = static_cast<std::byte*>(ring);
  if (auto ok = detail::ring_check(base); !ok) return std::move(ok).error();
  if (!detail::ring_claim(base, ring_layout::kConsumerAttached)) {
    return Error::make(ErrorKind::InvalidArgument, "ring already has a consumer (single consumer only)", "core/ring");
  }
  return RingConsumer(base);
}

inline RingConsumer::RingConsumer(RingConsumer&& o) noexcept
    : base_(o.base_), capacity_(o.capacity_), mask_(o.mask_), read_(o.read_), released_(o.released_),
      record_start_(o.record_start_), tail_cache_(o.tail_cache_) {
  o.base_ = nullptr;
}

inline RingConsumer& RingConsumer::operator=(RingConsumer&& o) noexcept {
  if (this != &o) {
    detach();
    base_ = o.base_; capacity_ = o.capacity_; mask_ = o.mask_; read_ = o.read_;
    released_ = o.released_; record_start_ = o.record_start_; tail_cache_ = o.tail_cache_;
    o.base_ = nullptr;
  }
  return *this;
}

inline RingConsumer::~RingConsumer() { detach(); }

inline void RingConsumer::detach() noexcept {
  if (base_ == nullptr) return;
  release();
  detail::ring_word(base_, ring_layout::kFlagsOffset)
      .fetch_and(~ring_layout::kConsumerAttached, std::memory_order_release);
  base_ = nullptr;
}

inline bool RingConsumer::producer_closed() const noexcept {
  // acquire: pairs with the producer's release in close(); after it, tail
  // holds every record the producer ever published.
  return (detail::ring_word(base_, ring_layout::kFlagsOffset).load(std::memory_order_acquire) &
          ring_layout::kProducerClosed) != 0;
}

inline bool RingConsumer::has_data() noexcept {
  if (read_ != tail_cache_) return true;
  // acquire: pairs with the producer's release store of tail in publish().
  tail_cache_ = detail::ring_word(base_, ring_layout::kTailOffset).load(std::memory_order_acquire);
  return read_ != tail_cache_;
}

inline Result<std::optional<RingRecord>> RingConsumer::try_read() {
  using namespace ring_layout;
  FERRY_RING_ROLE_GUARD(*this);
  for (;;) {
    if (!has_data()) {
      if (!producer_closed()) return std::optional<RingRecord>{};
      if (has_data()) continue;  // published just before the close
      return detail::ring_closed_error(base_, "the producer closed the ring");
    }
    const std::uint32_t pos = read_ & mask_;
    const std::uint32_t avail = tail_cache_ - read_;
    const std::uint32_t to_end = capacity_ - pos;
    std::uint32_t hdr[2];
    std::memcpy(hdr, base_ + kHeaderBytes + pos, sizeof hdr);
    const std::uint64_t span = ring_record_bytes(hdr[0]);
    if (hdr[1] == kSkipTag) {
      if (span != to_end || avail < to_end) [[unlikely]] return detail::ring_corrupt_skip_error(pos, span, to_end);
      read_ += to_end;
      continue;
    }
    if (span > avail || span > to_end) [[unlikely]] {
      return detail::ring_corrupt_record_error(pos, hdr[0], std::min(avail, to_end));
    }
    record_start_ = read_;
    read_ += static_cast<std::uint32_t>(span);
    return std::optional<RingRecord>{RingRecord{hdr[1], {base_ + kHeaderBytes + pos + kRecordHeaderBytes, hdr[0]}}};
  }
}

inline void RingConsumer::release() {
  using namespace ring_layout;
  if (released_ == read_) return;
  released_ = read_;
  // release: our reads of the records happen before the producer reuses the
  // bytes; pairs with the producer's acquire load of head.
  detail::ring_word(base_, kHeadOffset).store(read_, std::memory_order_release);
  detail::ring_wake_if_parked(base_, kProducerParkedOffset, kSpaceBellOffset);
}

inline Result<std::size_t> RingConsumer::try_read_batch(std::span<RingRecord> out) {
  std::size_t n = 0;
  while (n < out.size()) {
    auto next = try_read();
    if (!next) {
      if (n == 0) return std::move(next).error();
      break;  // a close or a corrupt header stays where it is: the next call reports it
    }
    if (!*next) break;
    out[n++] = **next;
  }
  return n;
}

inline void RingConsumer::release_to(std::uint32_t position) {
  using namespace ring_layout;
  // Wrapping counters: `position` lies in [released_, read_].
  assert(position - released_ <= read_ - released_ && "release_to() outside what was read and not released");
  if (released_ == position) return;
  released_ = position;
  // release: as in release(), for the records before `position`.
  detail::ring_word(base_, kHeadOffset).store(position, std::memory_order_release);
  detail::ring_wake_if_parked(base_, kProducerParkedOffset, kSpaceBellOffset);
}

inline Result<RingRecord> RingConsumer::read(WaitNanos timeout) {
  using namespace ring_layout;
  for (;;) {
    auto next = try_read();
    if (!next) return std::move(next).error();
    if (*next) return **next;
    release();  // the producer may be waiting for the room we hold
    auto waited = detail::ring_wait_until(base_, kConsumerParkedOffset, kDataBellOffset, timeout, "ring data",
                                          [&] { return has_data() || producer_closed(); });
    if (!waited) return std::move(waited).error();
  }
}

inline void RingConsumer::close() {
  release();
  // release: pairs with the producer's acquire in consumer_closed().
  detail::ring_word(base_, ring_layout::kFlagsOffset).fetch_or(ring_layout::kConsumerClosed, std::memory_order_release);
  detail::ring_wake(base_, ring_layout::kSpaceBellOffset);
}

inline std::uint32_t RingConsumer::prepare_wait_for_data(bool producer_fences) noexcept {
  return detail::ring_park(base_, ring_layout::kConsumerParkedOffset, ring_layout::kDataBellOffset, producer_fences);
}

inline void RingConsumer::cancel_wait_for_data() noexcept {
  detail::ring_word(base_, ring_layout::kConsumerParkedOffset).store(0, std::memory_order_relaxed);
}

}  // namespace ferry
