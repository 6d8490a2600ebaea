// ferry core: the shared arena that rings and doorbells are allocated from.
//
// A ring's bells are stored as 32-bit offsets from the ring (core/RING.md), so
// a ring and the doorbell it redirects to must lie within 2 GiB of each other.
// In WebAssembly all of linear memory qualifies. Natively the arena reserves
// one region of address space up front (pages are committed only when
// touched) and hands out 64-byte aligned blocks from it. Thread-safe;
// allocation is rare (a stream or a pool is being set up), so a mutex-guarded
// first-fit free list is enough.
#pragma once

#include "error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#if !defined(__EMSCRIPTEN__)
#include <sys/mman.h>
#endif

namespace ferry {

// Zeroed, 64-byte aligned memory for rings and doorbells; free with shared_free.
Result<void*> shared_alloc(std::size_t bytes);
void shared_free(void* p) noexcept;

namespace detail {

#if !defined(__EMSCRIPTEN__)
class NativeArena {
 public:
  static constexpr std::size_t kReserve = std::size_t{1} << 30;  // 1 GiB of address space
  static NativeArena& instance() {
    // Never destroyed: a thread that a pool's shutdown left behind inside a
    // task (ShutdownReport) may still free its rings here while the
    // process exits and runs static destructors.
    static NativeArena* const arena = new NativeArena;
    return *arena;
  }
  Result<void*> alloc(std::size_t bytes) {
    const std::size_t n = (bytes + 63) & ~std::size_t{63};
    std::lock_guard lock(mutex_);
    if (base_ == nullptr) {
      return Error::make(ErrorKind::InvalidArgument, "could not reserve the shared arena", "core/arena");
    }
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second < n) continue;
      const std::size_t at = it->first;
      const std::size_t left = it->second - n;
      free_.erase(it);
      if (left) free_.emplace(at + n, left);
      used_.emplace(at, n);
      std::memset(base_ + at, 0, n);
      return static_cast<void*>(base_ + at);
    }
    return Error::make(ErrorKind::MessageTooLarge,
                       "shared arena cannot fit " + std::to_string(bytes) + " more bytes (1 GiB in all)",
                       "core/arena");
  }
  void free(void* p) noexcept {
    std::lock_guard lock(mutex_);
    auto it = used_.find(static_cast<std::size_t>(static_cast<std::byte*>(p) - base_));
    if (it == used_.end()) return;
    auto [at, n] = *it;
    used_.erase(it);
    auto next = free_.lower_bound(at);
    if (next != free_.end() && at + n == next->first) {  // merge with the block after
      n += next->second;
      next = free_.erase(next);
    }
    if (next != free_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second == at) {  // merge with the block before
        prev->second += n;
        return;
      }
    }
    free_.emplace(at, n);
  }

 private:
  NativeArena() {
    void* p = mmap(nullptr, kReserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return;
    base_ = static_cast<std::byte*>(p);
    free_.emplace(0, kReserve);
  }
  std::mutex mutex_;
  std::byte* base_ = nullptr;
  std::map<std::size_t, std::size_t> free_;  // offset -> size
  std::map<std::size_t, std::size_t> used_;
};
#endif

}  // namespace detail

inline Result<void*> shared_alloc(std::size_t bytes) {
#if defined(__EMSCRIPTEN__)
  void* p = std::aligned_alloc(64, (bytes + 63) & ~std::size_t{63});
  if (p == nullptr) {
    return Error::make(ErrorKind::MessageTooLarge, "out of memory allocating " + std::to_string(bytes) + " bytes",
                       "core/arena");
  }
  std::memset(p, 0, bytes);
  return p;
#else
  return detail::NativeArena::instance().alloc(bytes);
#endif
}

inline void shared_free(void* p) noexcept {
  if (p == nullptr) return;
#if defined(__EMSCRIPTEN__)
  std::free(p);
#else
  detail::NativeArena::instance().free(p);
#endif
}

}  // namespace ferry
