// ferry ring benchmark, common: sizes, names and the known sequence every case checks.
// Part of bench/ring_bench.cpp, the one translation unit that includes it
// (after its includes, the `fb` alias and its using-declarations).
#pragma once

namespace {

constexpr std::uint32_t kTag = 7;
constexpr std::uint64_t kBatch = 64;              // publish / release / push / pop granularity
constexpr std::uint32_t kInFlight = 4096;         // messages each queue can hold (at least)
constexpr std::uint64_t kLatencyBatch = 1000;     // round trips per latency sample
constexpr std::size_t kBlockBytes = 64 * 1024;    // bulk record payload
constexpr std::uint32_t kBulkRingBytes = 1u << 20;

const std::string kFerry = "ferry";
const std::string kBoost = "boost::spsc";
const std::string kRwq = "moodycamel::RWQ";
const std::string kMemcpy = "memcpy (1 thread)";

// --- The known sequence ------------------------------------------------------

using fb::fold;
using fb::kFnvBasis;
using fb::progress;

struct Msg64 {
  std::uint64_t w[8];
};
static_assert(sizeof(Msg64) == 64);

template <class T> T make(std::uint64_t i);
template <> inline std::uint64_t make<std::uint64_t>(std::uint64_t i) { return (i + 1) * 0x9E3779B97F4A7C15ull; }
template <> inline Msg64 make<Msg64>(std::uint64_t i) {
  const std::uint64_t v = make<std::uint64_t>(i);
  Msg64 m;
  for (std::uint64_t k = 0; k < 8; ++k) m.w[k] = v + k * 0xD6E8FEB86659FD93ull;
  return m;
}

// What the consumer folds in per message: every byte of it.
inline std::uint64_t digest(std::uint64_t v) { return v; }
inline std::uint64_t digest(const Msg64& m) {
  return m.w[0] ^ std::rotl(m.w[1], 8) ^ std::rotl(m.w[2], 16) ^ std::rotl(m.w[3], 24) ^ std::rotl(m.w[4], 32) ^
         std::rotl(m.w[5], 40) ^ std::rotl(m.w[6], 48) ^ std::rotl(m.w[7], 56);
}

template <class T>
std::uint64_t expected_checksum(std::uint64_t n) {
  return fb::expected_checksum<T>(n, [](std::uint64_t i) { return digest(make<T>(i)); });
}


// Smallest power-of-two capacity holding kInFlight records of T.
template <class T>
std::uint32_t ring_capacity_for() {
  return std::bit_ceil(static_cast<std::uint32_t>(kInFlight * ferry::ring_record_bytes(sizeof(T))));
}

}  // namespace
