// ferry stream: Sender<T>, the writing end of a typed stream.
//
// Guarantees:
// - Values travel encoded with core/codec.hpp in ring records of tag 0; the
//   values of one batch share a record (stream/STREAMS.md, "Records"). A
//   value larger than one record (up to 1 GiB encoded) goes in part records
//   (tags 1, 2) of a quarter ring each, with nothing else between them.
//   Values arrive in order; none is lost, duplicated or delivered partially
//   (the receiver drops a value in parts whose send ended with an error).
// - One thread at a time uses a Sender, and at most one operation is in
//   progress on it (a second one fails with InvalidArgument). stats() may be
//   called from any thread while the Sender exists.
// - send / send_batch are awaited on a scheduler (workers::Executor) and
//   suspend while the ring is full, without spinning: the ring's
//   producer-parked flag plus the scheduler's doorbell. try_send never waits.
//   send_blocking blocks a plain thread (not an executor's, not the browser's
//   main thread: both fail with InvalidArgument).
// - Flush: a send commits into the ring's batch; the batch is published when
//   the sending handler of the scheduler returns (the coroutine suspends,
//   finishes or the executor goes idle), when it reaches kBatchRecords records
//   or a quarter of the ring, at once while the receiver is parked waiting
//   for data (stream/STREAMS.md, "Flush policy"), before suspending on a
//   full ring, on close and
//   in the destructor. Off a scheduler every send publishes at once. So no
//   value is ever stranded in an unpublished batch.
// - Nothing here allocates per value, except what encoding T itself needs
//   (nothing for numbers, strings, packed vectors and structs of them). A
//   value in parts is encoded once into a buffer this end keeps and reuses
//   (it grows to the largest such value sent, and goes with the Sender).
#pragma once

#include "detail/core.hpp"
#include "options.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <type_traits>

namespace ferry {

namespace detail {
template <class T>
class SendOp;
struct StreamFactory;
}  // namespace detail

template <class T>
class Sender {
 public:
  // The sending end over a ring made elsewhere (ring_init, bells set as
  // wanted); `keepalive` is held until this end is gone. Counters in stats()
  // are then this end's own (see stream/STREAMS.md).
  static Result<Sender> over(void* ring, std::shared_ptr<void> keepalive = nullptr);

  Sender() = default;  // an empty sender: every operation fails with Closed
  Sender(Sender&&) noexcept = default;
  Sender& operator=(Sender&& other) noexcept = default;
  ~Sender() = default;  // closes: the receiver drains what was sent, then gets Closed

  // co_await tx.send(v) -> Result<void>. Suspends while the ring is full (as
  // often as it fills between the parts of a value larger than one record).
  // Errors: Closed (receiver closed, or this sender), MessageTooLarge (the
  // value encodes to more than 1 GiB; nothing is sent), Serialization,
  // Timeout/Cancelled (per options; nothing of v is delivered), InvalidArgument
  // (no scheduler on this thread, or the stream was made for another
  // executor). `value` must stay alive until the co_await finishes (await the
  // call at once).
  [[nodiscard]] detail::SendOp<T> send(const T& value, StreamWaitOptions options = {});
#if defined(__GNUC__) && !defined(__clang__)
  // g++ destroys the members of an aggregate temporary made inside a co_await
  // expression twice (stream/STREAMS.md, "Compiler note"): for such T, name
  // the value first (`auto v = Shape{...}; co_await tx.send(v);`).
  template <class U = T>
    requires(std::is_aggregate_v<U> && !std::is_trivially_destructible_v<U>)
  detail::SendOp<T> send(T&& value, StreamWaitOptions options = {}) = delete;
#endif
  // co_await tx.send_batch(values) -> Result<void>: sends every value in
  // order, suspending as often as the ring fills, publishing per quarter ring.
  // On an error, the values before it were sent (the message says how many)
  // and none after it. A value over 1 GiB fails the batch before anything is sent.
  [[nodiscard]] detail::SendOp<T> send_batch(std::span<const T> values, StreamWaitOptions options = {});
  // Never waits: false when the ring is full now (and the batch was published
  // so the receiver can drain it). A value larger than one record
  // (max_value_bytes()) is MessageTooLarge here: its parts need waits.
  Result<bool> try_send(const T& value);
  // Blocks a plain thread while the ring is full, up to `timeout` in all.
  Result<void> send_blocking(const T& value, std::chrono::nanoseconds timeout = kWaitForever);

  // Publishes the batch now. Used inside an executor's handler, a sender may
  // still be touched by that executor until the handler returns (its deferred
  // publish); a spawned task is reported done only after that. To hand the
  // sender to another thread from inside a handler, flush() first.
  void flush();
  // Publishes, then closes: the receiver drains what was sent, then gets
  // Closed. Later operations here fail with Closed. A pending operation of
  // this sender (another coroutine's) ends with Closed.
  void close();
  bool is_closed() const noexcept { return core_ == nullptr || core_->closed; }

  StreamStats stats() const noexcept { return core_ ? core_->shared->snapshot() : StreamStats{}; }
  std::uint32_t capacity() const noexcept { return core_ ? core_->capacity : 0; }
  // Largest encoded value one record carries: capacity - 8. Larger ones (up to
  // 1 GiB) go in parts, except with try_send.
  std::size_t max_value_bytes() const noexcept {
    return core_ ? core_->capacity - ring_layout::kRecordHeaderBytes : 0;
  }

 private:
  friend struct detail::StreamFactory;
  explicit Sender(std::unique_ptr<detail::SenderCore> core) noexcept : core_(std::move(core)) {}

  std::unique_ptr<detail::SenderCore> core_;
};

// ---------------------------------------------------------------------------
// Implementation

namespace detail {

// make_stream's way to the endpoints' private constructors.
struct StreamFactory {
  template <class R, class Core>
  static R make(std::unique_ptr<Core> core) {
    return R(std::move(core));
  }
};

// Encodes `value` (`size` bytes) into the ring's batch: appended to the
// batch's last record when that can grow in place (the values of a batch
// share one record header, stream/STREAMS.md), else as a new record. false:
// no room now. An encode failure leaves nothing behind: neither a grown
// record nor a reservation is committed.
template <class T>
Result<bool> write_value(SenderCore& core, const T& value, std::size_t size, bool in_batch_op) {
  auto& producer = core.producer;
  if (std::byte* at = core.last_is_part ? nullptr : producer.try_extend(size)) {
    Writer w(std::span<std::byte>(at, size));
    if (auto ok = encode(w, value, preferred_form<T>()); !ok) return std::move(ok).error();
    producer.commit_extend(w.size());
    core.note_commit(w.size(), false, in_batch_op);
    return true;
  }
  auto slot = producer.try_reserve(size, stream_tag::kValue);
  if (!slot) return sender_ring_error(std::move(slot).error());
  if (*slot == nullptr) return false;
  Writer w(std::span<std::byte>(*slot, size));
  if (auto ok = encode(w, value, preferred_form<T>()); !ok) return std::move(ok).error();
  producer.commit(w.size());
  core.last_is_part = false;
  core.note_commit(w.size(), true, in_batch_op);
  return true;
}

// Writes `value` (`size` bytes) as far as the ring has room now: in one
// value record when it fits one, else in part records from `progress` on
// (encoded into core.parts when it starts). true once all of it is in.
template <class T>
Result<bool> write_next(SenderCore& core, const T& value, std::size_t size, PartsProgress& progress,
                        bool in_batch_op) {
  if (size <= core.producer.max_payload()) return write_value(core, value, size, in_batch_op);
  if (progress.size == 0) {
    if (core.parts.size() < size) core.parts.resize(size);  // grown, never shrunk: kept for the next one
    Writer w(std::span<std::byte>(core.parts.data(), size));
    if (auto ok = encode(w, value, preferred_form<T>()); !ok) return std::move(ok).error();
    progress.size = w.size();
  }
  return core.write_parts(progress, in_batch_op);
}

// The awaiter of send and send_batch: a batch of one or many values.
template <class T>
class SendOp final : public OpBase {
 public:
  SendOp(SenderCore* core, std::span<const T> values, const StreamWaitOptions& options, bool batch) noexcept
      : OpBase(core, options, batch ? "send_batch" : "send", "the ring stayed full",
               "sender_scheduler", "send_blocking"),
        values_(values), batch_(batch) {}

  bool await_ready() {
    if (!start()) return true;
    for (std::size_t i = 0; i < values_.size(); ++i) {
      const std::size_t size = encoded_size(values_[i], preferred_form<T>());
      if (auto too_large = size_error(size, core().capacity, false, i, batch_)) {
        error_ = std::move(*too_large);
        return true;
      }
      if (i == 0) size_ = size;
    }
    if (step()) return true;
    if (!may_wait()) return true;
    core().publish();  // the receiver can only make room for what it sees
    return false;
  }
  void await_suspend(coro::coroutine_handle<> h) { suspend(h); }
  Result<void> await_resume() {
    if (core_ != nullptr) {
      finish(core().shared->tx.blocked_ns);
      core().settle();
    }
    if (error_) {
      if (batch_ && sent_ > 0) {
        error_->message += " (after " + std::to_string(sent_) + " of " + std::to_string(values_.size()) +
                           " values were sent)";
      }
      return std::move(*error_);
    }
    return {};
  }

  bool poll() override {
    if (step()) {
      core().producer.cancel_wait_for_space();
      return true;
    }
    core().publish();  // part of a batch, or a skip record step() wrote
    return false;
  }
  std::atomic<std::uint32_t>* arm() override {
    (void)core().producer.prepare_wait_for_space();
    return core_->bell;
  }

 private:
  SenderCore& core() noexcept { return *static_cast<SenderCore*>(core_); }

  // Writes as many values (or parts of one) as fit now; true once all are in
  // or it failed.
  bool step() {
    while (sent_ < values_.size()) {
      const T& v = values_[sent_];
      if (size_ == 0) size_ = encoded_size(v, preferred_form<T>());
      auto wrote = write_next(core(), v, size_, parts_, batch_);
      if (!wrote) {
        error_ = std::move(wrote).error();
        return true;
      }
      if (!*wrote) return false;
      ++sent_;
      size_ = 0;
    }
    return true;
  }

  std::span<const T> values_;
  bool batch_;
  std::size_t sent_ = 0;
  std::size_t size_ = 0;  // encoded size of values_[sent_]; 0: not computed yet (a value takes at least 1)
  PartsProgress parts_;   // values_[sent_] in parts: dies with this operation, so an error abandons it
};

}  // namespace detail

template <class T>
Result<Sender<T>> Sender<T>::over(void* ring, std::shared_ptr<void> keepalive) {
  auto producer = RingProducer::attach(ring);
  if (!producer) return std::move(producer).error();
  auto shared = std::make_shared<detail::StreamShared>(ring, false, std::move(keepalive));
  return Sender(std::make_unique<detail::SenderCore>(std::move(shared), std::move(producer).value()));
}

template <class T>
detail::SendOp<T> Sender<T>::send(const T& value, StreamWaitOptions options) {
  return detail::SendOp<T>(core_.get(), std::span<const T>(&value, 1), options, false);
}

template <class T>
detail::SendOp<T> Sender<T>::send_batch(std::span<const T> values, StreamWaitOptions options) {
  return detail::SendOp<T>(core_.get(), values, options, true);
}

template <class T>
Result<bool> Sender<T>::try_send(const T& value) {
  if (core_ == nullptr || core_->closed) return detail::endpoint_closed_error(core_.get(), "try_send");
  if (core_->busy) return detail::busy_error("try_send");
  const std::size_t size = encoded_size(value, preferred_form<T>());
  if (auto too_large = detail::size_error(size, core_->capacity, true)) return std::move(*too_large);
  auto wrote = detail::write_value(*core_, value, size, false);
  if (wrote && !*wrote) {
    core_->publish();  // full: let the receiver see (and free) everything
  } else if (wrote) {
    core_->settle();
  }
  return wrote;
}

template <class T>
Result<void> Sender<T>::send_blocking(const T& value, std::chrono::nanoseconds timeout) {
  if (core_ == nullptr || core_->closed) return detail::endpoint_closed_error(core_.get(), "send_blocking");
  if (core_->busy) return detail::busy_error("send_blocking");
  if (Scheduler::current() != nullptr) {
    return Error::make(ErrorKind::InvalidArgument,
                       "send_blocking on a scheduler's thread would stall its loop: co_await send() there",
                       detail::kStreamOrigin);
  }
  const std::size_t size = encoded_size(value, preferred_form<T>());
  if (auto too_large = detail::size_error(size, core_->capacity, false)) return std::move(*too_large);
  const auto start = std::chrono::steady_clock::now();
  detail::PartsProgress parts;  // a value in parts: abandoned on any return before its last part
  for (;;) {
    auto wrote = detail::write_next(*core_, value, size, parts, false);
    if (!wrote) return std::move(wrote).error();
    if (*wrote) break;
    const std::size_t next = parts.size == 0 ? size : core_->next_part_bytes(parts);
    if (auto room = core_->wait_for_room(next, detail::time_left(timeout, start)); !room) {
      Error e = std::move(room).error();
      if (e.kind == ErrorKind::Timeout) {
        e.message = "send_blocking timed out after " + detail::describe_duration(timeout) + ": the ring stayed full";
        e.origin = detail::kStreamOrigin;
      }
      return e;
    }
  }
  core_->publish();  // off a scheduler: at once
  return {};
}

template <class T>
void Sender<T>::flush() {
  if (core_ != nullptr && !core_->closed) core_->flush_now();
}

template <class T>
void Sender<T>::close() {
  if (core_ != nullptr) core_->close();
}

}  // namespace ferry
