// ferry stream: typed streams of values over one shared-memory ring.
//
//   auto s = make_stream<Point>({.capacity = 64 * 1024,
//                                .sender_scheduler = &producer_executor,
//                                .receiver_scheduler = &consumer_executor});
//   auto [tx, rx] = std::move(s.value());
//   // on producer_executor:
//   co_await tx.send(Point{1, 2});                       // Result<void>
//   co_await tx.send(p, {.timeout = 5ms, .cancel = token});
//   tx.close();
//   // on consumer_executor ("range-for": C++20 has no `for co_await`):
//   while (auto p = co_await rx.recv()) use(*p);         // Result<Point>
//
// Guarantees (details in stream/sender.hpp, stream/receiver.hpp and
// stream/STREAMS.md):
// - One sender and one receiver per stream, each used by one thread at a
//   time, each with at most one operation in progress. They may live on
//   different threads (that is the point). stats() from any thread.
// - co_await send/recv suspend the coroutine while the ring is full/empty and
//   never spin while suspended: the coroutine's scheduler parks on its
//   doorbell, which the ring rings. For that the ring's bells must be the
//   doorbells of the schedulers the two sides run on: make_stream sets them
//   from sender_scheduler / receiver_scheduler. Awaiting on any other
//   scheduler fails with InvalidArgument, as does awaiting on a thread with
//   no scheduler (use the *_blocking or try_* calls there).
// - try_* never wait; *_blocking block a plain thread (never an executor's
//   thread or the browser's main thread: InvalidArgument).
// - Every pending operation ends: with its value, or Closed, Timeout,
//   Cancelled, or Cancelled when its executor is destroyed.
// - No value is lost, reordered, duplicated or written partially; no sent
//   value is stranded in an unpublished batch.
// - make_stream allocates the ring (shared_alloc) and one control block;
//   sending and receiving allocate nothing beyond what encoding or decoding T
//   needs. The ring memory is freed when both ends are gone.
#pragma once

#include "../core/arena.hpp"
#include "../core/ring.hpp"
#include "detail/core.hpp"
#include "options.hpp"
#include "receiver.hpp"
#include "scheduler.hpp"
#include "sender.hpp"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace ferry {

struct StreamPairOptions {
  // Ring data bytes, rounded up to a power of two, at least 64; above 2^30
  // fails with InvalidArgument. The largest value is capacity - 8 encoded bytes.
  std::size_t capacity = 64 * 1024;
  // The scheduler whose coroutines await send (it is woken when the receiver
  // frees room) and the one whose coroutines await recv (woken by publishes).
  // nullptr: that side only uses try_* / *_blocking.
  Scheduler* sender_scheduler = nullptr;
  Scheduler* receiver_scheduler = nullptr;
};

template <class T>
struct StreamPair {
  Sender<T> tx;
  Receiver<T> rx;
};

// A new stream of T. Errors: InvalidArgument (capacity above 2^30),
// MessageTooLarge (the shared arena is out of room).
template <class T>
Result<StreamPair<T>> make_stream(const StreamPairOptions& options = {});

// The capacity make_stream uses for `requested` bytes.
Result<std::uint32_t> stream_capacity(std::size_t requested);

// ---------------------------------------------------------------------------
// Implementation

inline Result<std::uint32_t> stream_capacity(std::size_t requested) {
  if (requested > ring_layout::kMaxCapacity) {
    return Error::make(ErrorKind::InvalidArgument,
                       "stream capacity " + std::to_string(requested) + " bytes exceeds the ring limit of 2^30 (" +
                           std::to_string(ring_layout::kMaxCapacity) + ") bytes",
                       detail::kStreamOrigin);
  }
  const std::size_t at_least = requested < ring_layout::kMinCapacity ? ring_layout::kMinCapacity : requested;
  return static_cast<std::uint32_t>(std::bit_ceil(at_least));
}

template <class T>
Result<StreamPair<T>> make_stream(const StreamPairOptions& options) {
  auto capacity = stream_capacity(options.capacity);
  if (!capacity) return std::move(capacity).error();
  auto memory = shared_alloc(ring_bytes(*capacity));
  if (!memory) return std::move(memory).error();
  // From here the control block owns the memory, whatever happens next.
  auto shared = std::make_shared<detail::StreamShared>(*memory, true, nullptr);
  if (auto ok = ring_init(*memory, *capacity); !ok) return std::move(ok).error();
  // The receiver's scheduler sleeps on its doorbell: publishes must ring it.
  // The sender's likewise for releases.
  if (auto ok = ring_set_bells(*memory,
                               options.receiver_scheduler ? &options.receiver_scheduler->doorbell() : nullptr,
                               options.sender_scheduler ? &options.sender_scheduler->doorbell() : nullptr);
      !ok) {
    return std::move(ok).error();
  }
  auto producer = RingProducer::attach(*memory);
  if (!producer) return std::move(producer).error();
  auto consumer = RingConsumer::attach(*memory);
  if (!consumer) return std::move(consumer).error();
  auto tx = std::make_unique<detail::SenderCore>(shared, std::move(producer).value());
  auto rx = std::make_unique<detail::ReceiverCore>(std::move(shared), std::move(consumer).value(),
                                                   detail::kBorrowsRing<T>);
  return StreamPair<T>{detail::StreamFactory::make<Sender<T>>(std::move(tx)),
                       detail::StreamFactory::make<Receiver<T>>(std::move(rx))};
}

}  // namespace ferry
