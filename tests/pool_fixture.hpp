// Test fixtures shared by the pool suites: waiting for a condition, and an
// external peer that drives a pool's rings the way JavaScript does
// (web/PROTOCOL.md), built with the protocol's own record writers.
#pragma once

#include "workers/executor.hpp"
#include "workers/pool.hpp"
#include "workers/protocol.hpp"

#include <gtest/gtest.h>
#include <malloc.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace ferry::test {

// Polls pred every millisecond until it holds or `limit` passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// co_await sleep_on(ex, d): suspends a coroutine on executor `ex` for `d`
// without blocking its thread (a timer of the executor resumes it).
struct sleep_on {
  Executor& ex;
  std::chrono::nanoseconds d;
  bool await_ready() const noexcept { return d.count() <= 0; }
  void await_suspend(coro::coroutine_handle<> h) {
    ex.schedule_at(Executor::Clock::now() + d, [h]() mutable { h.resume(); });
  }
  void await_resume() const noexcept {}
};

// Bytes the C heap has handed out and not taken back (leak checks), once
// the allocator's deferred frees are done. In wasm a thread joined from
// another thread gives its 2 MiB stack back only when Node's main thread
// handles its 'cleanupThread' message (Emscripten's library_pthread.js), so
// the count is read until it stops changing (at most about 2 s).
inline std::size_t heap_in_use() {
  const auto read = [] {
#if defined(__GLIBC__) && !defined(__EMSCRIPTEN__)
    return mallinfo2().uordblks;
#else
    return static_cast<std::size_t>(mallinfo().uordblks);
#endif
  };
  std::size_t last = read();
#if defined(__EMSCRIPTEN__)
  for (int i = 0; i < 40; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::size_t now = read();
    if (now == last) break;
    last = now;
  }
#endif
  return last;
}

// Learns each worker's rings as the pool announces them (on_worker_started).
struct ExternalPeer {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<WorkerPool::WorkerRings> rings;
  unsigned announcements = 0;
  void on_started(const WorkerPool& pool, unsigned i) {
    std::lock_guard lock(mutex);
    if (rings.size() <= i) rings.resize(i + 1);
    rings[i] = pool.worker_rings(i);
    ++announcements;
    changed.notify_all();
  }
  // Waits until `count` announcements were made; the rings of worker i then.
  WorkerPool::WorkerRings await(unsigned count, unsigned i) {
    std::unique_lock lock(mutex);
    EXPECT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return announcements >= count; }));
    return rings.at(i);
  }
};

// A call record as JavaScript writes it.
inline std::vector<std::byte> call_record(std::uint64_t id, std::string_view name, const std::vector<std::byte>& args) {
  std::vector<std::byte> rec;
  protocol::begin_call(rec, id, name);
  rec.insert(rec.end(), args.begin(), args.end());
  return rec;
}

// Reads one answer: (id, encoded Result).
inline std::pair<std::uint64_t, std::vector<std::byte>> read_answer(RingConsumer& rx) {
  auto rec = rx.read(std::chrono::seconds(10));
  EXPECT_TRUE(rec.ok()) << rec.error().describe();
  if (!rec.ok() || rec->payload.size() < 8) return {0, {}};
  std::uint64_t id = 0;
  std::memcpy(&id, rec->payload.data(), 8);
  std::vector<std::byte> value(rec->payload.begin() + 8, rec->payload.end());
  rx.release();
  return {id, value};
}

}  // namespace ferry::test
