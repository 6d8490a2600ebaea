// ferry core: cooperative cancellation that works where std::stop_token does
// not exist (Emscripten 3.1.6's libc++).
//
// A CancelSource is shared by whoever may cancel; CancelTokens are handed to
// operations. An operation that can wait registers a CancelCallback; cancel()
// runs every registered callback once, on the cancelling thread. A callback's
// destructor deregisters it and, if it is running on another thread right
// then, waits for it to finish, so the operation may free its state safely
// afterwards (the same contract as std::stop_callback).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

namespace ferry {

namespace detail {
struct CancelNode {
  std::function<void()> fn;
  CancelNode* prev = nullptr;
  CancelNode* next = nullptr;
  std::thread::id running_on{};  // set while cancel() runs fn
  bool done = false;             // fn has run (or never will)
};

struct CancelState {
  std::mutex mutex;
  std::atomic<bool> cancelled{false};
  CancelNode* head = nullptr;
  // Optional: how is_cancelled() learns of a cancellation that can only be
  // seen from one thread (a worker whose cancel requests arrive through a
  // ring it alone reads). Set before the token is handed out; called only
  // on poll_thread, and only while not cancelled yet.
  // Other threads read only poll_thread (atomic), never poll itself.
  std::function<void()> poll;
  std::atomic<std::thread::id> poll_thread{};

  // Returns false if already cancelled (the caller then runs fn itself).
  bool add(CancelNode* n) {
    std::lock_guard lock(mutex);
    if (cancelled.load(std::memory_order_relaxed)) return false;
    n->next = head;
    if (head) head->prev = n;
    head = n;
    return true;
  }
  void remove(CancelNode* n) {
    for (;;) {
      {
        std::lock_guard lock(mutex);
        if (n->done) return;
        if (n->running_on == std::thread::id{}) {
          if (n->prev) n->prev->next = n->next; else head = n->next;
          if (n->next) n->next->prev = n->prev;
          n->done = true;
          return;
        }
        // Running from our own thread (the callback deregisters itself): fine.
        if (n->running_on == std::this_thread::get_id()) return;
      }
      std::this_thread::yield();  // another thread is inside fn: wait it out
    }
  }
  bool cancel() {
    std::unique_lock lock(mutex);
    // release: everything before cancel() is visible to is_cancelled() readers.
    if (cancelled.exchange(true, std::memory_order_release)) return false;
    while (CancelNode* n = head) {
      head = n->next;
      if (head) head->prev = nullptr;
      n->running_on = std::this_thread::get_id();
      lock.unlock();
      n->fn();
      lock.lock();
      n->running_on = {};
      n->done = true;
    }
    return true;
  }
};
}  // namespace detail

class CancelToken {
 public:
  CancelToken() = default;  // a token that is never cancelled
  bool can_be_cancelled() const noexcept { return state_ != nullptr; }
  bool is_cancelled() const {
    if (!state_) return false;
    // acquire: pairs with the release in CancelSource::cancel().
    if (state_->cancelled.load(std::memory_order_acquire)) return true;
    // relaxed: only the thread named here reads or writes poll.
    if (state_->poll_thread.load(std::memory_order_relaxed) != std::this_thread::get_id() || !state_->poll) return false;
    state_->poll();
    return state_->cancelled.load(std::memory_order_acquire);
  }

 private:
  friend class CancelSource;
  friend class CancelCallback;
  explicit CancelToken(std::shared_ptr<detail::CancelState> s) : state_(std::move(s)) {}
  std::shared_ptr<detail::CancelState> state_;
};

class CancelSource {
 public:
  CancelSource() : state_(std::make_shared<detail::CancelState>()) {}
  CancelToken token() const { return CancelToken(state_); }
  // Runs every registered callback once; later registrations run at once.
  // Returns false if it was cancelled already.
  bool cancel() { return state_->cancel(); }
  bool is_cancelled() const noexcept { return state_->cancelled.load(std::memory_order_acquire); }
  // Lets tokens of this source ask `poll` whether a cancellation arrived
  // (poll cancels the source if it did), when is_cancelled() is called on
  // the calling thread, which must be the only one that ever sets a poller
  // on this source. set_poller({}) removes it.
  void set_poller(std::function<void()> poll) {
    state_->poll_thread.store(std::thread::id{}, std::memory_order_relaxed);
    state_->poll = std::move(poll);
    if (state_->poll) state_->poll_thread.store(std::this_thread::get_id(), std::memory_order_relaxed);
  }

 private:
  std::shared_ptr<detail::CancelState> state_;
};

// Runs `fn` when the token is cancelled (at once, on this thread, if it already is).
class CancelCallback {
 public:
  CancelCallback(const CancelToken& token, std::function<void()> fn) : state_(token.state_) {
    node_.fn = std::move(fn);
    if (!state_) return;
    if (!state_->add(&node_)) {
      node_.done = true;
      node_.fn();
    }
  }
  ~CancelCallback() {
    if (state_) state_->remove(&node_);
  }
  CancelCallback(const CancelCallback&) = delete;
  CancelCallback& operator=(const CancelCallback&) = delete;

 private:
  std::shared_ptr<detail::CancelState> state_;
  detail::CancelNode node_;
};

}  // namespace ferry
