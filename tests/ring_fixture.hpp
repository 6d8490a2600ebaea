// Test fixtures shared by the ring suites: aligned ring memory with canaries,
// a seeded record generator and verifier, and the stress-size knob.
#pragma once

#include "core/ring.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

namespace ferry::test {

// FERRY_STRESS_SCALE multiplies every stress size (CI, TSan and long soaks run
// the same tests). Default 1.
inline double stress_scale() {
  const char* s = std::getenv("FERRY_STRESS_SCALE");
  return s ? std::atof(s) : 1.0;
}
inline std::uint64_t scaled(std::uint64_t base) {
  auto n = static_cast<std::uint64_t>(static_cast<double>(base) * stress_scale());
  return n < 1000 ? 1000 : n;
}

// splitmix64: tiny, seedable, good enough for test data.
struct Rng {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }
};

// Record `seq` of a generated sequence: its length and bytes depend only on
// (seed, seq), so the consumer can verify every byte without shared state.
struct RecordGen {
  std::uint64_t seed;
  std::uint32_t max_len;
  std::uint32_t length(std::uint64_t seq) const {
    Rng r{seed ^ (seq * 0x2545F4914F6CDD1Dull)};
    return r.below(max_len + 1);
  }
  void fill(std::uint64_t seq, std::span<std::byte> out) const {
    Rng r{seed + seq};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(r.next() >> 56);
  }
  bool check(std::uint64_t seq, std::span<const std::byte> in) const {
    if (in.size() != length(seq)) return false;
    Rng r{seed + seq};
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (in[i] != static_cast<std::byte>(r.next() >> 56)) return false;
    }
    return true;
  }
};

// Ring memory, 64-byte aligned, with canary bytes before and after that must
// survive every test.
class RingMemory {
 public:
  static constexpr std::size_t kCanary = 64;
  explicit RingMemory(std::uint32_t capacity) : capacity_(capacity) {
    const std::size_t n = ring_bytes(capacity) + 2 * kCanary;
    raw_.reset(static_cast<std::byte*>(std::aligned_alloc(64, (n + 63) & ~std::size_t{63})));
    std::memset(raw_.get(), 0xA5, n);
    auto ok = ring_init(base(), capacity);
    if (!ok) std::abort();
  }
  std::byte* base() const { return raw_.get() + kCanary; }
  std::atomic<std::uint32_t>& word(std::size_t offset) const { return detail::ring_word(base(), offset); }
  bool canaries_intact() const {
    const std::byte* end = base() + ring_bytes(capacity_);
    for (std::size_t i = 0; i < kCanary; ++i) {
      if (raw_.get()[i] != std::byte{0xA5} || end[i] != std::byte{0xA5}) return false;
    }
    return true;
  }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::uint32_t capacity_;
  std::unique_ptr<std::byte, Free> raw_;
};

}  // namespace ferry::test
