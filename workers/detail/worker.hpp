// ferry workers (internal): one pool worker — its thread, executor, rings
// and the calls it holds.
//
// Ownership: a Worker is shared by its thread (which ends it) and the pool
// (which keeps the shells of dead workers until it is destroyed, so that a
// caller that picked a worker just as it died still points at valid memory:
// it sees `alive` false under `submit_mutex` and goes elsewhere).
#pragma once

#include "../../core/arena.hpp"
#include "../../core/ring.hpp"
#include "../executor.hpp"
#include "../protocol.hpp"
#include "call_state.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ferry::detail {

// The calls and streams a worker holds — sent to its request ring, or
// running — as an intrusive list, each with one reference. A caller adds a
// call before it writes the request; the worker removes it once it has
// answered; a crash or shutdown takes what is left.
class HeldCalls {
 public:
  HeldCalls() = default;
  HeldCalls(const HeldCalls&) = delete;
  HeldCalls& operator=(const HeldCalls&) = delete;
  ~HeldCalls() {
    for (auto& ref : take_all()) (void)ref;
  }

  void add(CallRef ref) {
    CallState* st = ref.detach();
    std::lock_guard lock(mutex_);
    link(st);
    count_.fetch_add(1, std::memory_order_relaxed);
  }
  // Gives back the reference add() took; empty if `st` is not held here
  // (take_all() took it: shutdown, or a crash).
  CallRef remove(CallState* st) {
    std::lock_guard lock(mutex_);
    if (st->held_by != this) return {};
    st->held_by = nullptr;
    if (st->prev) st->prev->next = st->next; else head_ = st->next;
    if (st->next) st->next->prev = st->prev;
    st->prev = st->next = nullptr;
    count_.fetch_sub(1, std::memory_order_relaxed);
    return CallRef::adopt(st);
  }
  std::vector<CallRef> take_all() {
    std::vector<CallRef> out;
    std::lock_guard lock(mutex_);
    for (CallState* st = head_; st != nullptr;) {
      CallState* next = st->next;
      st->prev = st->next = nullptr;
      st->held_by = nullptr;
      out.push_back(CallRef::adopt(st));
      st = next;
    }
    head_ = nullptr;
    count_.store(0, std::memory_order_relaxed);
    return out;
  }
  // New references to every held call, which stay held.
  std::vector<CallRef> snapshot() {
    std::vector<CallRef> out;
    std::lock_guard lock(mutex_);
    for (CallState* st = head_; st != nullptr; st = st->next) {
      st->add_ref();
      out.push_back(CallRef::adopt(st));
    }
    return out;
  }
  // Adds states whose references the caller hands over, under one lock.
  void adopt_all(const std::vector<CallState*>& states) {
    std::lock_guard lock(mutex_);
    for (CallState* st : states) link(st);
    count_.fetch_add(static_cast<std::uint32_t>(states.size()), std::memory_order_relaxed);
  }
  std::uint32_t size() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  void link(CallState* st) {  // under mutex_
    st->held_by = this;
    st->prev = nullptr;
    st->next = head_;
    if (head_) head_->prev = st;
    head_ = st;
  }

  std::mutex mutex_;
  CallState* head_ = nullptr;
  std::atomic<std::uint32_t> count_{0};
};

struct Worker {
  int index = 0;
  std::unique_ptr<Executor> ex;
  std::atomic<std::uint32_t>* doorbell = nullptr;  // ex's: recycled, never freed
  void* request_mem = nullptr;
  void* response_mem = nullptr;                    // external mode only
  std::optional<RingProducer> request_tx;          // callers, under submit_mutex
  std::optional<RingConsumer> request_rx;          // worker thread
  std::optional<RingProducer> response_tx;         // worker thread (external)
  std::mutex submit_mutex;
  std::atomic<bool> alive{true};                   // false once dead: written under submit_mutex
  HeldCalls held;
  std::atomic<std::uint64_t> completed{0};
  std::mutex pinned_mutex;
  std::deque<CallRef> pinned;                      // calls with this worker's affinity, waiting for room
  std::atomic<std::uint32_t> pinned_count{0};
  // Worker thread only: calls from JavaScript by id (external mode), and
  // answers that found the response ring full, in order.
  std::unordered_map<std::uint64_t, CallState*> by_id;
  std::deque<std::pair<std::uint32_t, std::vector<std::byte>>> unsent;
  protocol::PartReader parts{protocol::kRequestPartTag};  // a request that comes in parts (external mode)
  std::vector<std::byte> answer;                   // worker thread: a synchronous task's encoded result
  std::vector<CallState*> batch;                   // worker thread: queued calls being taken
  // Worker thread only: records taken off the request ring early, while a
  // running synchronous task looked for its cancel record.
  std::deque<std::pair<std::uint32_t, std::vector<std::byte>>> backlog;
  // Publishes the response ring once per executor handler (external mode).
  struct ResponseFlush final : Flushable {
    RingProducer* tx = nullptr;
    void flush() override { tx->publish(); }
  } response_flush;
  std::mutex join_mutex;                           // guards thread.join()/detach()
  std::thread thread;
  std::atomic<std::uint32_t> exited{0};            // futex word: 1 once the thread's function returned

  ~Worker() {
    ex.reset();  // frames (and their ring endpoints) go before the rings
    request_tx.reset();
    request_rx.reset();
    response_tx.reset();
    shared_free(request_mem);
    shared_free(response_mem);
  }
};

}  // namespace ferry::detail
