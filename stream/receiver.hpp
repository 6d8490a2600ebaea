// ferry stream: Receiver<T>, the reading end of a typed stream.
//
// Guarantees:
// - Values arrive in the order they were sent. A value that does not decode
//   as T (TypeMismatch, Deserialization) is consumed and reported; the next
//   receive call reads the value after it (bytes that are no value at all
//   take the rest of their record with them).
// - A value larger than one record arrives in part records (tags 1, 2;
//   stream/STREAMS.md, "Records"): it is copied into a buffer this end keeps
//   and reuses, each part handed back to the sender as soon as it is copied
//   (the value may be larger than the ring), and returned when whole. A value
//   whose sender gave up on it (its send failed) is dropped silently; a
//   malformed part fails one receive call with Deserialization.
// - One thread at a time uses a Receiver, and at most one operation is in
//   progress on it (a second one fails with InvalidArgument). stats() may be
//   called from any thread while the Receiver exists.
// - recv / recv_batch are awaited on a scheduler and suspend while the ring is
//   empty, without spinning. try_recv never waits. recv_blocking blocks a
//   plain thread (not an executor's, not the browser's main thread).
// - After the sender closes, the receiver first gets everything it sent, then
//   Closed, on every later call. The consuming loop ("range-for"; C++20 has
//   no `for co_await`):
//       while (auto v = co_await rx.recv()) use(*v);
//       // here v.error().kind == ErrorKind::Closed unless something failed
// - Release: records are handed back to the sender in batches (kBatchRecords
//   records or a quarter of the ring), before suspending or blocking on an
//   empty ring, on close, and for owning T also when the receiving handler of
//   the scheduler returns.
// - Zero-copy: Receiver<std::string_view> and Receiver<std::span<const
//   std::byte>> (and any T holding such views) return views into the ring
//   (or, for a value that came in parts, into this end's buffer), valid
//   until the next receive call (recv, recv_batch, try_recv, recv_blocking),
//   close() or destruction of this receiver. A recv_batch of such T ends
//   before a part rather than release what its views point into.
// - Nothing here allocates per value, except what decoding T itself needs;
//   the buffer for values in parts grows to the largest one (freed on close).
#pragma once

#include "detail/core.hpp"
#include "options.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

namespace ferry {

namespace detail {
template <class T, bool Batch>
class RecvOp;
struct StreamFactory;
}  // namespace detail

template <class T>
class Receiver {
 public:
  // The receiving end over a ring made elsewhere; `keepalive` is held until
  // this end is gone. Counters in stats() are then this end's own.
  static Result<Receiver> over(void* ring, std::shared_ptr<void> keepalive = nullptr);

  Receiver() = default;  // an empty receiver: every operation fails with Closed
  Receiver(Receiver&&) noexcept = default;
  Receiver& operator=(Receiver&&) noexcept = default;
  ~Receiver() = default;  // closes: a pending or later send fails with Closed

  // co_await rx.recv() -> Result<T>. Suspends while the ring is empty.
  // Errors: Closed (the sender closed and everything was received, or this
  // receiver was closed), TypeMismatch/Deserialization (that value or record
  // is skipped), Timeout/Cancelled (per options; a value in parts half
  // received is kept for the next call), CorruptRecord (the ring is
  // unusable), InvalidArgument (no scheduler on this thread, or the stream
  // was made for another executor).
  [[nodiscard]] detail::RecvOp<T, false> recv(StreamWaitOptions options = {});
  // co_await rx.recv_batch(max) -> Result<std::vector<T>>: waits for at least
  // one value, then takes what is there, up to `max`. An error met after some
  // values ends the batch early; the next call reports it.
  [[nodiscard]] detail::RecvOp<T, true> recv_batch(std::size_t max, StreamWaitOptions options = {});
  // Never waits: nullopt when nothing is there now.
  Result<std::optional<T>> try_recv();
  // Blocks a plain thread while the ring is empty, up to `timeout` in all.
  Result<T> recv_blocking(std::chrono::nanoseconds timeout = kWaitForever);

  // Hands every record read so far back to the sender now; views into the
  // ring die here. Like Sender::flush(), call it before handing the receiver
  // to another thread from inside an executor's handler.
  void release();
  // Closes this end: a pending or later send fails with Closed, and so does
  // every later receive here. Views into the ring die here.
  void close();
  bool is_closed() const noexcept { return core_ == nullptr || core_->closed; }

  StreamStats stats() const noexcept { return core_ ? core_->shared->snapshot() : StreamStats{}; }
  std::uint32_t capacity() const noexcept { return core_ ? core_->capacity : 0; }

 private:
  friend struct detail::StreamFactory;
  explicit Receiver(std::unique_ptr<detail::ReceiverCore> core) noexcept : core_(std::move(core)) {}
  // Common start of the non-awaited calls; an error, or nullopt to go on.
  std::optional<Error> begin_plain_call(const char* op);

  std::unique_ptr<detail::ReceiverCore> core_;
};

// ---------------------------------------------------------------------------
// Implementation

namespace detail {

// The awaiter of recv (one value) and recv_batch (a vector of them).
template <class T, bool Batch>
class RecvOp final : public OpBase {
 public:
  using Out = std::conditional_t<Batch, std::vector<T>, T>;

  RecvOp(ReceiverCore* core, std::size_t max, const StreamWaitOptions& options) noexcept
      : OpBase(core, options, Batch ? "recv_batch" : "recv", "no value arrived", "receiver_scheduler",
               "recv_blocking"),
        max_(max) {}

  bool await_ready() {
    if (!start()) return true;
    if (core().pending_error) {
      error_ = std::move(*core().pending_error);
      core().pending_error.reset();
      return true;
    }
    if (max_ == 0) {
      error_ = Error::make(ErrorKind::InvalidArgument, "recv_batch(0): max must be at least 1", kStreamOrigin);
      return true;
    }
    core().begin_call();
    if (step()) return true;
    if (!may_wait()) return true;
    core().release();  // nothing taken in this call: hand back all the room before waiting
    return false;
  }
  void await_suspend(coro::coroutine_handle<> h) { suspend(h); }
  Result<Out> await_resume() {
    if (core_ != nullptr) {
      finish(core().shared->rx.waited_ns);
      core().settle();
    }
    if constexpr (Batch) {
      if (!taken_.empty()) return std::move(taken_);
    } else {
      if (taken_) return std::move(*taken_);
    }
    return std::move(*error_);
  }

  bool poll() override {
    if (!step()) {
      // Nothing taken in this call, but a skip record may have been read:
      // hand its room back, or a sender waiting for it never wakes.
      core().release();
      return false;
    }
    core().consumer.cancel_wait_for_data();
    return true;
  }
  std::atomic<std::uint32_t>* arm() override {
    (void)core().consumer.prepare_wait_for_data();
    return core_->bell;
  }

 private:
  ReceiverCore& core() noexcept { return *static_cast<ReceiverCore*>(core_); }
  std::size_t taken() const noexcept {
    if constexpr (Batch) {
      return taken_.size();
    } else {
      return taken_ ? 1 : 0;
    }
  }

  // Takes what is there, up to max_; true once it has a value or an error.
  bool step() {
    auto& c = core();
    while (taken() < max_) {
      // Taking a part releases the records before it, and a value in parts
      // reuses the buffer of the last one: not under views this batch holds.
      auto v = take_next<T>(c, kBorrowsRing<T> && taken() > 0);
      if (!v) {
        Error e = std::move(v).error();
        // Closed repeats by itself on the next call; anything else must be kept.
        if (taken() == 0) {
          error_ = std::move(e);
        } else if (e.kind != ErrorKind::Closed) {
          c.pending_error = std::move(e);
        }
        return true;
      }
      if (!*v) return taken() > 0;
      if constexpr (Batch) {
        taken_.push_back(std::move(**v));
      } else {
        taken_.emplace(std::move(**v));
      }
    }
    return true;
  }

  std::size_t max_;
  std::conditional_t<Batch, std::vector<T>, std::optional<T>> taken_{};  // what await_resume hands over
};

}  // namespace detail

template <class T>
Result<Receiver<T>> Receiver<T>::over(void* ring, std::shared_ptr<void> keepalive) {
  auto consumer = RingConsumer::attach(ring);
  if (!consumer) return std::move(consumer).error();
  auto shared = std::make_shared<detail::StreamShared>(ring, false, std::move(keepalive));
  return Receiver(std::make_unique<detail::ReceiverCore>(std::move(shared), std::move(consumer).value(),
                                                         detail::kBorrowsRing<T>));
}

template <class T>
detail::RecvOp<T, false> Receiver<T>::recv(StreamWaitOptions options) {
  return detail::RecvOp<T, false>(core_.get(), 1, options);
}

template <class T>
detail::RecvOp<T, true> Receiver<T>::recv_batch(std::size_t max, StreamWaitOptions options) {
  return detail::RecvOp<T, true>(core_.get(), max, options);
}

template <class T>
std::optional<Error> Receiver<T>::begin_plain_call(const char* op) {
  if (core_ == nullptr || core_->closed) return detail::endpoint_closed_error(core_.get(), op);
  if (core_->busy) return detail::busy_error(op);
  if (core_->pending_error) {
    auto e = std::move(core_->pending_error);
    core_->pending_error.reset();
    return e;
  }
  core_->begin_call();
  return std::nullopt;
}

template <class T>
Result<std::optional<T>> Receiver<T>::try_recv() {
  if (auto e = begin_plain_call("try_recv")) return std::move(*e);
  auto v = detail::take_next<T>(*core_);
  if (v && !v->has_value()) {
    core_->release();  // nothing (whole) there: whoever waits for room gets all of it
  } else {
    core_->settle();
  }
  return v;
}

template <class T>
Result<T> Receiver<T>::recv_blocking(std::chrono::nanoseconds timeout) {
  if (auto e = begin_plain_call("recv_blocking")) return std::move(*e);
  if (Scheduler::current() != nullptr) {
    return Error::make(ErrorKind::InvalidArgument,
                       "recv_blocking on a scheduler's thread would stall its loop: co_await recv() there",
                       detail::kStreamOrigin);
  }
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    auto v = detail::take_next<T>(*core_);
    if (!v || v->has_value()) {
      core_->settle();
      if (!v) return std::move(v).error();
      return std::move(**v);
    }
    core_->release();  // the sender gets all the room before we block
    const auto t0 = std::chrono::steady_clock::now();
    // The ring's own wait: spin briefly, then sleep on the data bell.
    auto got = core_->consumer.read(detail::time_left(timeout, start));
    detail::counter_add(core_->shared->rx.waited_ns, detail::elapsed_ns(t0));
    if (!got) {
      Error e = std::move(got).error();
      if (e.kind != ErrorKind::Timeout) return core_->ended(std::move(e));
      // A value in parts still in progress stays: the next call goes on with it.
      e.message = "recv_blocking timed out after " + detail::describe_duration(timeout) + ": no value arrived";
      e.origin = detail::kStreamOrigin;
      return e;
    }
    if (auto ok = core_->accept(*got); !ok) return std::move(ok).error();
  }
}

template <class T>
void Receiver<T>::release() {
  if (core_ == nullptr || core_->closed || core_->busy) return;
  core_->release();
  if (core_->flush_pending && core_->flush_sched == Scheduler::current()) core_->flush_sched->cancel_flush(*core_);
}

template <class T>
void Receiver<T>::close() {
  if (core_ != nullptr) core_->close();
}

}  // namespace ferry
