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

}  // namespace ferry

// The implementation (core/detail/): the shared words first, then the
// free functions on a whole ring below, then the endpoints' members.
#include "detail/ring_words.hpp"

namespace ferry {

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

}  // namespace ferry

#include "detail/ring_endpoints.hpp"
