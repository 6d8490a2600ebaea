// ferry core (internal): RingProducer's and RingConsumer's members
// Part of core/ring.hpp, which includes it after its public declarations:
// include core/ring.hpp, not this file.
//
// The two endpoints' operations on the ring contract (core/RING.md); every
// atomic says which side writes it and which ordering pairs with which.
#pragma once

namespace ferry {

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
