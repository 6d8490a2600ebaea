// ferry workers: C exports of the JavaScript bridge (web/PROTOCOL.md, "Wasm
// bridge descriptor"). Every call here returns at once: the browser's main
// thread calls them and may never block. Starting and stopping a pool (which
// spawns and joins threads) happens on a host thread of its own, which
// reports through the descriptor's state word (a futex word JavaScript
// awaits with Atomics.waitAsync).
#include "js_bridge.hpp"

#include "../core/arena.hpp"
#include "../core/wait.hpp"
#include "pool.hpp"
#include "registry.hpp"

#include <emscripten/emscripten.h>
#include <emscripten/heap.h>
#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace {

using Word = std::atomic<std::uint32_t>;

// Byte offsets of web/PROTOCOL.md's descriptor; slot i starts at 32 + 16 i.
constexpr std::size_t kStateOffset = 0;
constexpr std::size_t kWorkersOffset = 4;
constexpr std::size_t kCapacityOffset = 8;
constexpr std::size_t kTasksOffset = 12;
constexpr std::size_t kSlotsOffset = 32;
constexpr std::size_t kSlotBytes = 16;
enum State : std::uint32_t { kStarting = 0, kRunning = 1, kStopRequested = 2, kStopped = 3 };

Word& word_at(std::byte* d, std::size_t offset) { return *reinterpret_cast<Word*>(d + offset); }
std::uint32_t address_of(const void* p) { return static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(p)); }

// The task list: one line per exported task, "call NAME SIG" or "stream NAME SIG".
const std::string& task_list() {
  static const std::string list = [] {
    std::string out;
    auto& registry = ferry::TaskRegistry::instance();
    for (const auto& name : registry.names()) {
      const auto* entry = registry.find(name);
      out += entry->invoke_stream ? "stream " : "call ";
      out += name + " " + entry->signature + "\n";
    }
    return out;
  }();
  return list;
}

// Publishes slot `index`'s rings, then bumps its generation (release: the
// addresses are visible to whoever sees the new generation) and wakes
// JavaScript if it awaits a replacement.
void publish_slot(std::byte* d, const ferry::WorkerPool& pool, unsigned index) {
  std::byte* slot = d + kSlotsOffset + kSlotBytes * index;
  const auto rings = pool.worker_rings(index);
  word_at(slot, 4).store(address_of(rings.request), std::memory_order_relaxed);
  word_at(slot, 8).store(address_of(rings.response), std::memory_order_relaxed);
  word_at(slot, 12).store(address_of(rings.doorbell), std::memory_order_relaxed);
  word_at(slot, 0).fetch_add(1, std::memory_order_release);
  ferry::notify_word(word_at(slot, 0));
}

void set_state(std::byte* d, State s) {
  word_at(d, kStateOffset).store(s, std::memory_order_release);
  ferry::notify_word(word_at(d, kStateOffset));
}

}  // namespace

extern "C" {

// Starts a pool of `workers` C++ workers whose rings JavaScript drives.
// Returns the descriptor's address (state 0 until the host thread has
// started the pool), or 0 if the arguments are out of range: workers 1..64,
// ring_capacity a power of two in [4096, 2^26].
EMSCRIPTEN_KEEPALIVE std::uint32_t ferry_js_pool_start(std::uint32_t workers, std::uint32_t ring_capacity) {
  const bool power_of_two = ring_capacity != 0 && (ring_capacity & (ring_capacity - 1)) == 0;
  if (workers == 0 || workers > 64 || !power_of_two || ring_capacity < 4096 || ring_capacity > (1u << 26)) return 0;
  auto mem = ferry::shared_alloc(kSlotsOffset + kSlotBytes * workers);
  if (!mem) return 0;
  auto* d = static_cast<std::byte*>(*mem);
  word_at(d, kWorkersOffset).store(workers, std::memory_order_relaxed);
  word_at(d, kCapacityOffset).store(ring_capacity, std::memory_order_relaxed);
  word_at(d, kTasksOffset).store(address_of(task_list().c_str()), std::memory_order_relaxed);
  std::thread([d, workers, ring_capacity] {
    {
      ferry::WorkerPool pool({.workers = workers,
                              .ring_capacity = ring_capacity,
                              .external = true,
                              .shared_blocks = true,
                              .on_worker_started = [d](const ferry::WorkerPool& p, unsigned i) { publish_slot(d, p, i); }});
      set_state(d, kRunning);
      auto& state = word_at(d, kStateOffset);
      for (std::uint32_t s; (s = state.load(std::memory_order_acquire)) != kStopRequested;) ferry::wait_word(state, s);
    }  // shutdown(Cancel): every worker is joined, every ring endpoint detached
    set_state(d, kStopped);
  }).detach();
  return address_of(d);
}

// Asks the host thread to stop the pool; state becomes 3 when it has.
EMSCRIPTEN_KEEPALIVE void ferry_js_pool_stop(std::uint32_t descriptor) {
  set_state(reinterpret_cast<std::byte*>(static_cast<std::uintptr_t>(descriptor)), kStopRequested);
}

// Zeroed, 64-byte aligned memory in the module's heap (stream rings,
// WasmBuffers); 0 when out of memory.
EMSCRIPTEN_KEEPALIVE std::uint32_t ferry_js_alloc(std::uint32_t bytes) {
  auto p = ferry::shared_alloc(bytes);
  return p ? address_of(*p) : 0;
}
EMSCRIPTEN_KEEPALIVE void ferry_js_free(std::uint32_t address) {
  ferry::shared_free(reinterpret_cast<void*>(static_cast<std::uintptr_t>(address)));
}

// dlmalloc's view of the heap, for leak and fragmentation checks:
// out[0] bytes in use, out[1] free bytes inside the heap, out[2] free chunks,
// out[3] the heap's high-water mark (bytes ever obtained from the system),
// out[4] the size of linear memory.
EMSCRIPTEN_KEEPALIVE void ferry_js_heap_stats(std::uint32_t* out) {
  const struct mallinfo m = mallinfo();
  out[0] = static_cast<std::uint32_t>(m.uordblks);
  out[1] = static_cast<std::uint32_t>(m.fordblks);
  out[2] = static_cast<std::uint32_t>(m.ordblks);
  out[3] = static_cast<std::uint32_t>(m.usmblks);
  out[4] = static_cast<std::uint32_t>(emscripten_get_heap_size());
}

}  // extern "C"
