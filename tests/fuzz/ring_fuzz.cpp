// libFuzzer target for the ring reader: the input becomes the shared state a
// hostile or broken producer could leave behind (tail, head, the data bytes).
// The consumer must end in a record, "empty", Closed or CorruptRecord — never
// read outside the ring (ASan guards the allocation exactly).
#include "core/ring.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::uint32_t kCapacity = 256;
  if (size < 9) return 0;
  void* mem = std::aligned_alloc(64, ferry::ring_bytes(kCapacity));
  auto* base = static_cast<std::byte*>(mem);
  if (!ferry::ring_init(base, kCapacity)) std::abort();
  std::uint32_t head, tail;
  std::memcpy(&head, data, 4);
  std::memcpy(&tail, data + 4, 4);
  const bool closed = (data[8] & 1) != 0;
  head &= ~7u;  // counters are multiples of 8 by contract; the rest is hostile
  tail &= ~7u;
  ferry::detail::ring_word(base, ferry::ring_layout::kHeadOffset).store(head);
  ferry::detail::ring_word(base, ferry::ring_layout::kTailOffset).store(tail);
  if (closed) ferry::detail::ring_word(base, ferry::ring_layout::kFlagsOffset).store(ferry::ring_layout::kProducerClosed);
  const std::size_t n = std::min<std::size_t>(size - 9, kCapacity);
  std::memset(base + ferry::ring_layout::kHeaderBytes, 0, kCapacity);
  std::memcpy(base + ferry::ring_layout::kHeaderBytes, data + 9, n);
  {
    auto rx = ferry::RingConsumer::attach(base);
    if (!rx) std::abort();
    volatile std::uint32_t sink = 0;
    for (int i = 0; i < 1000; ++i) {
      auto rec = rx->try_read();
      if (!rec || !*rec) break;
      for (std::byte b : (*rec)->payload) sink = sink + std::to_integer<std::uint32_t>(b);
      if (i % 3 == 0) rx->release();
    }
  }
  std::free(mem);
  return 0;
}
