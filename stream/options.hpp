// ferry stream: the small value types shared by Sender<T> and Receiver<T>.
#pragma once

#include "../core/cancel.hpp"
#include "../core/wait.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace ferry {

// Record tags this layer writes into the ring (stream/STREAMS.md, "Records").
// Every other tag is reserved, and a receiver that meets one consumes the
// record and reports Deserialization.
namespace stream_tag {
inline constexpr std::uint32_t kValue = 0;      // payload: codec-encoded values back to back
inline constexpr std::uint32_t kFirstPart = 1;  // payload: u64 LE length L of one value's encoding, its first bytes
inline constexpr std::uint32_t kNextPart = 2;   // payload: the next bytes of that encoding
}  // namespace stream_tag

// The most encoded bytes one value (a stream's, in part records) or one
// record (a call's, workers/protocol.hpp) may have: 1 GiB. Larger is
// MessageTooLarge, whatever the ring's capacity.
inline constexpr std::size_t kMaxPartedBytes = std::size_t{1} << 30;

// Names a CancelToken without owning it; the operation copies the token when
// it starts, so the token only has to outlive the send()/recv() call. Binding
// a temporary token is refused at compile time (it would dangle in options
// kept in a variable): `auto token = source.token();` first.
class CancelTokenRef {
 public:
  CancelTokenRef() = default;
  CancelTokenRef(const CancelToken& token) noexcept : token_(&token) {}  // NOLINT: implicit by design
  CancelTokenRef(const CancelToken&&) = delete;
  const CancelToken* get() const noexcept { return token_; }

 private:
  const CancelToken* token_ = nullptr;
};

// Per-operation limits for an awaited send/recv:
//   co_await tx.send(v, {.timeout = 5ms, .cancel = token});
// A pending operation that hits either ends with Timeout or Cancelled; a send
// that ends so delivers nothing of its value (stream/STREAMS.md, "Ending
// operations").
//
// Trivially destructible on purpose: g++ 12 destroys the members of an
// aggregate temporary made inside a co_await expression twice (clang does
// not), so an owning CancelToken here would lose a reference per call.
// See stream/STREAMS.md, "Compiler note".
struct StreamWaitOptions {
  // Longest time to wait for room (send) or data (recv). Negative: no limit.
  // Zero: never wait; fail with Timeout where the operation would suspend.
  std::chrono::nanoseconds timeout = kWaitForever;
  // Cancelling this token ends a pending operation with Cancelled.
  CancelTokenRef cancel = {};
};
static_assert(std::is_trivially_destructible_v<StreamWaitOptions>,
              "StreamWaitOptions is an aggregate used inside co_await: keep it trivially destructible (g++ 12)");

// A snapshot of one stream's counters. Readable from any thread while the
// endpoint exists: the counters are relaxed atomics, so the fields are each
// exact but not taken at one instant.
struct StreamStats {
  std::uint32_t capacity = 0;          // ring data bytes
  std::uint64_t messages_sent = 0;     // values the sender wrote into the ring
  std::uint64_t bytes_sent = 0;        // their encoded (payload) bytes
  std::uint64_t messages_received = 0; // values the receiver decoded and returned
  std::uint64_t bytes_received = 0;    // their encoded (payload) bytes
  // Ring bytes published and not yet released: record headers, padding and
  // skip records included, so queue_bytes <= capacity always.
  std::uint32_t queue_bytes = 0;
  std::uint32_t queue_bytes_high_water = 0;  // largest queue_bytes seen at a publish
  std::uint64_t send_blocked_ns = 0;  // sender suspended or blocked on a full ring
  std::uint64_t recv_waited_ns = 0;   // receiver suspended or blocked on an empty ring
};

}  // namespace ferry
