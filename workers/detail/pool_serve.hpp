// ferry workers (internal): what a pool worker does — its serving loop, the
// tasks it runs and how it answers. Included by pool_core.hpp.
//
// The loop, one coroutine per worker on the worker's executor, reads every
// request its ring holds, then takes queued calls while it has room, then
// parks until the ring or the queue has more. A plain exported function
// runs right there, its arguments decoded straight from the ring record; a
// coroutine is spawned and answers when it ends. An answer goes to the
// caller's call state directly (C++ callers) or into the response ring,
// published once per executor handler (JavaScript callers).
#pragma once

#include "pool_core.hpp"

#if defined(__EMSCRIPTEN__)
#include <emscripten/heap.h>
#endif

namespace ferry::detail {

// A coroutine-side wait for a ring condition, parked on the current executor.
template <class Ready, class Arm>
class RingCondition final : public RingWait {
 public:
  RingCondition(Ready ready, Arm arm) : ready_(std::move(ready)), arm_(std::move(arm)) {}
  bool await_ready() { return ready_(); }
  void await_suspend(coro::coroutine_handle<> h) {
    handle = h;
    Scheduler::current()->park(*this);
  }
  // false: the executor is going away (the wait was cancelled).
  bool await_resume() const noexcept { return !failed_; }
  bool poll() override { return ready_(); }
  std::atomic<std::uint32_t>* arm() override { return arm_(); }
  void fail(Error) override { failed_ = true; }

 private:
  Ready ready_;
  Arm arm_;
  bool failed_ = false;
};
template <class Ready, class Arm>
RingCondition(Ready, Arm) -> RingCondition<Ready, Arm>;

// Lets the handlers queued behind a long-running loop run first.
struct YieldTo {
  Executor& ex;
  bool await_ready() const noexcept { return false; }
  void await_suspend(coro::coroutine_handle<> h) { ex.post([h]() mutable { h.resume(); }); }
  void await_resume() const noexcept {}
};

inline Task<void> PoolCore::serve(Worker& w) {
  Executor& ex = *w.ex;
  auto& rx = *w.request_rx;
  for (;;) {
    if (!w.unsent.empty() && !co_await send_unsent(w)) co_return;
    const bool ok = co_await RingCondition([&] { return has_work(w); },
                                           [&] {
                                             // Every producer fences: callers publish_fenced(),
                                             // JavaScript's Atomics are seq_cst.
                                             rx.prepare_wait_for_data(true);
                                             return w.doorbell;
                                           });
    if (!ok || ex.stopping()) co_return;
    if (take_requests(w) != Step::Ok) co_return;
    if (run_queued(w) != Step::Ok) co_return;
    if (ex.has_ready_work()) co_await YieldTo{ex};
  }
}

// Something to do: a request, a queued call it has room for, an answer to send.
inline bool PoolCore::has_work(Worker& w) {
  auto& rx = *w.request_rx;
  if (rx.has_data() || rx.producer_closed() || !w.backlog.empty() || !w.unsent.empty()) return true;
  if (options_.external || w.held.size() >= options_.max_in_flight) return false;
  return w.pinned_count.load(std::memory_order_relaxed) != 0 || queue_count_.load(std::memory_order_relaxed) != 0;
}

// Handles every request readable now: first those read early (backlog),
// then the ring's. Releases ring space after each synchronous task, so
// callers can write while it runs... and at the end.
inline PoolCore::Step PoolCore::take_requests(Worker& w) {
  auto& rx = *w.request_rx;
  while (!w.backlog.empty()) {
    auto [tag, bytes] = std::move(w.backlog.front());
    w.backlog.pop_front();
    if (handle(w, tag, bytes) == Step::Crashed) return Step::Crashed;
  }
  for (;;) {
    auto rec = rx.try_read();
    if (!rec) {
      if (rec.error().kind == ErrorKind::CorruptRecord) {
        crash_worker("its request ring is corrupt: " + rec.error().message);  // caught by the executor
      }
      return Step::Closed;  // JavaScript closed it, or the pool is stopping
    }
    if (!*rec) break;
    const auto& r = **rec;
    const Step step = handle(w, r.tag, r.payload);
    if (step != Step::Ok) return step;
  }
  rx.release();
  return Step::Ok;
}

// Memory named by a JavaScript peer, [address, address + bytes): in wasm it
// must lie inside the module's memory before anything touches it (natively
// the peer is a test in this process).
inline Result<void> check_peer_memory(std::uint64_t address, std::uint64_t bytes, const std::string& what) {
#if defined(__EMSCRIPTEN__)
  const auto memory = static_cast<std::uint64_t>(emscripten_get_heap_size());
  if (address > memory || bytes > memory - address) {
    return Error::make(ErrorKind::Deserialization,
                       what + " at " + std::to_string(address) + " (" + std::to_string(bytes) +
                           " bytes) lies outside the module's " + std::to_string(memory) + " bytes of memory",
                       "workers/protocol");
  }
#else
  (void)address, (void)bytes, (void)what;
#endif
  return {};
}

inline PoolCore::Step PoolCore::handle(Worker& w, std::uint32_t tag, std::span<const std::byte> payload) {
  const bool js = options_.external;
  if (tag == protocol::kCallTag || tag == protocol::kStreamTag) {
    auto req = tag == protocol::kCallTag ? protocol::parse_call(payload) : protocol::parse_stream(payload);
    CallState* st;
    if (!js) {
      if (!req) crash_worker("a malformed request from this process: " + req.error().message);
      st = reinterpret_cast<CallState*>(static_cast<std::uintptr_t>(req->id));  // held: alive
    } else {
      // A JavaScript call: a state of its own, so it runs, is cancelled and
      // ends like any other; a malformed one is answered with the error.
      auto id = protocol::parse_id(payload, tag == protocol::kCallTag ? "call" : "stream");
      if (!id) return Step::Ok;  // nothing to answer to
      CallRef ref = CallRef::make();
      st = ref.get();
      st->id = *id;
      st->worker.store(w.index, std::memory_order_relaxed);
      w.held.add(std::move(ref));
      w.by_id[*id] = st;
      if (!req) {
        finish(w, *st, std::move(req).error());
        return Step::Ok;
      }
    }
    if (tag == protocol::kStreamTag) {
      start_stream(w, *st, *req);
      return Step::Ok;
    }
    const Step step = run(w, *st, req->name, req->args);
    if (step == Step::Ok) w.request_rx->release();  // its record is done with: room for callers
    return step;
  }
  if (tag == protocol::kCallByStateTag && !js) {
    auto id = protocol::parse_id(payload, "call by state");
    if (!id) crash_worker("a malformed request from this process: " + id.error().message);
    auto* st = reinterpret_cast<CallState*>(static_cast<std::uintptr_t>(*id));  // held: alive
    auto req = protocol::parse_call(st->request);  // made by send(): well formed
    if (!req) crash_worker("a malformed request from this process: " + req.error().message);
    const Step step = run(w, *st, req->name, req->args);
    if (step == Step::Ok) w.request_rx->release();
    return step;
  }
  if (tag == protocol::kRequestPartTag && js) {
    // A request too large for one record: handled once its last part is in.
    auto whole = w.parts.add(payload);
    if (!whole) crash_worker("its request ring carried a malformed part: " + whole.error().message);
    if (!*whole) return Step::Ok;
    return handle(w, w.parts.tag(), w.parts.bytes());
  }
  if (tag == protocol::kRequestBlockTag && js && options_.shared_blocks) {
    // A request too large for the ring, in a block JavaScript allocated:
    // handled from there (calls and streams copy what they keep), then freed.
    // JavaScript wrote the block before it published the block record, so
    // the acquire that made the record visible made the block visible too.
    auto block = protocol::parse_block(payload, protocol::kRequestPartTag, protocol::kRequestBlockTag);
    if (!block) crash_worker("its request ring carried a malformed block record: " + block.error().message);
    if (auto ok = check_peer_memory(block->address, block->length, "block"); !ok) {
      crash_worker("its request ring carried a malformed block record: " + ok.error().message);
    }
    auto* bytes = reinterpret_cast<std::byte*>(static_cast<std::uintptr_t>(block->address));
    const Step step = handle(w, block->tag, std::span<const std::byte>(bytes, block->length));
    shared_free(bytes);
    return step;
  }
  if (tag == protocol::kCancelTag && js) {
    auto id = protocol::parse_id(payload, "cancel");
    if (!id) return Step::Ok;
    if (auto it = w.by_id.find(*id); it != w.by_id.end()) it->second->cancel_task();
  }
  return Step::Ok;  // an unknown tag: nothing to answer to (web/PROTOCOL.md)
}

// Runs one call: inline if it is a plain function, spawned if a coroutine.
inline PoolCore::Step PoolCore::run(Worker& w, CallState& st, std::string_view name, std::span<const std::byte> args) {
  if (st.is_done()) {  // timed out or cancelled before it started: it never runs
    finish(w, st, Error::make(ErrorKind::Cancelled, "ended before it started", origin(w)));
    return Step::Ok;
  }
  const TaskEntry* entry = TaskRegistry::instance().find(name);
  if (entry == nullptr) {
    finish(w, st, Error::make(ErrorKind::UnknownTask, "no task named \"" + std::string(name) + "\" is exported", origin(w)));
    return Step::Ok;
  }
  if (entry->invoke_stream) {
    finish(w, st, Error::make(ErrorKind::InvalidArgument,
                              "\"" + std::string(name) + "\" is a streaming task: open it with pool.stream()", origin(w)));
    return Step::Ok;
  }
  st.task.store(&entry->name, std::memory_order_relaxed);
  if (entry->invoke_sync) return run_sync(w, st, *entry, args);
  w.ex->spawn(run_task(w, st, *entry, std::vector<std::byte>(args.begin(), args.end())));
  return Step::Ok;
}

inline PoolCore::Step PoolCore::run_sync(Worker& w, CallState& st, const TaskEntry& entry, std::span<const std::byte> args) {
  // A JavaScript caller's cancel arrives through the request ring, which
  // only this thread reads: the token looks there when the task asks.
  CancelToken token;
  if (entry.takes_token) {
    if (options_.external) st.cancel_source().set_poller([this, &w] { poll_cancels(w); });
    token = st.token();
  }
  std::optional<Error> failed;
  try {
    if (auto ok = entry.invoke_sync(args, std::move(token), w.answer); !ok) failed = std::move(ok).error();
  } catch (const WorkerCrash&) {
    w.ex->crash();  // the hook reported it (workers/crash.hpp)
    return Step::Crashed;
  } catch (const Error& e) {
    failed = e;
  } catch (const std::exception& e) {
    failed = Error::make(ErrorKind::TaskFailed, e.what(), origin(w) + ": " + entry.name);
  } catch (...) {
    failed = Error::make(ErrorKind::TaskFailed, "task threw a non-std::exception value", origin(w) + ": " + entry.name);
  }
  if (entry.takes_token && options_.external) st.cancel_source().set_poller({});
  finish(w, st, failed ? nullptr : &w.answer, std::move(failed));
  return Step::Ok;
}

inline Task<void> PoolCore::run_task(Worker& w, CallState& st, const TaskEntry& entry, std::vector<std::byte> args) {
  // WorkerCrash passes catch_errors and ends the executor (spawn_frame).
  // Named, not temporaries of the co_await expression: g++ 12 destroys a
  // temporary made by ?: there twice (GCC bug 100611).
  CancelToken token;
  if (entry.takes_token) token = st.token();
  Task<Result<std::vector<std::byte>>> task = entry.invoke(args, std::move(token));
  std::string where = origin(w) + ": " + entry.name;
  auto out = co_await catch_errors(std::move(task), std::move(where));
  finish(w, st, out);
}

// A stream ring named by a JavaScript peer: it must lie inside the module's
// memory, be 64-byte aligned and hold a ring, before anything touches it.
inline Result<void> check_peer_ring(std::uint64_t address, const char* which) {
  if (auto ok = check_peer_memory(address, ring_layout::kHeaderBytes, std::string("its ") + which + " ring"); !ok) {
    return Error::make(ErrorKind::Deserialization, "stream record: " + ok.error().message, "workers/protocol");
  }
  if (auto ok = detail::ring_check(reinterpret_cast<std::byte*>(static_cast<std::uintptr_t>(address))); !ok) {
    return Error::make(ErrorKind::Deserialization, std::string("stream record: its ") + which + " ring: " + ok.error().message,
                       "workers/protocol");
  }
  return {};
}

inline void PoolCore::start_stream(Worker& w, CallState& st, const protocol::Request& req) {
  if (options_.external) {
    for (auto [address, which] : {std::pair{req.in, "in"}, std::pair{req.out, "out"}}) {
      if (auto ok = check_peer_ring(address, which); !ok) {
        finish(w, st, std::move(ok).error());  // nothing to end: these are no rings
        return;
      }
    }
  }
  // A C++ caller hands over the rings' owner; JavaScript owns its stream
  // rings (keepalive is 0 from it, and ignored: web/PROTOCOL.md).
  std::unique_ptr<std::shared_ptr<void>> owner(
      options_.external ? nullptr : reinterpret_cast<std::shared_ptr<void>*>(static_cast<std::uintptr_t>(req.keepalive)));
  StreamRings rings{reinterpret_cast<void*>(static_cast<std::uintptr_t>(req.in)),
                    reinterpret_cast<void*>(static_cast<std::uintptr_t>(req.out)), owner ? std::move(*owner) : nullptr};
  const TaskEntry* entry = TaskRegistry::instance().find(req.name);
  std::optional<Error> refused;
  if (st.is_done()) {
    refused = Error::make(ErrorKind::Cancelled, "ended before it started", origin(w));
  } else if (entry == nullptr || !entry->invoke_stream) {
    refused = Error::make(entry ? ErrorKind::InvalidArgument : ErrorKind::UnknownTask,
                          entry ? "\"" + std::string(req.name) + "\" is not a streaming task: call it with pool.call()"
                                : "no streaming task named \"" + std::string(req.name) + "\" is exported",
                          origin(w));
  }
  if (refused) {
    // The caller's ends must not wait for a task that never runs.
    ring_abort(rings.in, refused->kind);
    ring_abort(rings.out, refused->kind);
    finish(w, st, *refused);
    return;
  }
  st.task.store(&entry->name, std::memory_order_relaxed);
  w.ex->spawn(run_stream(w, st, *entry, std::move(rings), std::vector<std::byte>(req.args.begin(), req.args.end())));
}

inline Task<void> PoolCore::run_stream(Worker& w, CallState& st, const TaskEntry& entry, StreamRings rings,
                                       std::vector<std::byte> args) {
  CancelToken token;  // named: see run_task
  if (entry.takes_token) token = st.token();
  // Claimed when the task ends, before its rings close, and settled after:
  // the caller's `done` comes when the rings have ended (a send after it
  // fails), with the kind they ended with, and a shutdown, a cancel or a
  // timeout that comes in between cannot end a stream the caller saw end
  // another way.
  bool claimed = false;
  StreamEnding ending = [&] {
    auto first = st.claim();
    claimed = !first;
    return first;
  };
  Task<Result<std::vector<std::byte>>> task = entry.invoke_stream(std::move(rings), args, std::move(token), std::move(ending));
  std::string where = origin(w) + ": " + entry.name;
  auto out = co_await catch_errors(std::move(task), std::move(where));
  finish(w, st, out, claimed);
}

// Takes queued calls while this worker has room — as many at a time as it
// has room for, under one lock — and runs them straight from their records
// (a queued call never passes through a ring).
inline PoolCore::Step PoolCore::run_queued(Worker& w) {
  if (options_.external) return Step::Ok;
  auto& batch = w.batch;
  for (std::uint32_t held; (held = w.held.size()) < options_.max_in_flight;) {
    take_queued(w, options_.max_in_flight - held, batch);
    if (batch.empty()) break;
    for (CallState* st : batch) st->worker.store(w.index, std::memory_order_relaxed);
    w.held.adopt_all(batch);  // the queue's references; held until answered
    for (CallState* st : batch) {
      auto req = protocol::parse_call(st->request);  // made by submit(): well formed
      if (run(w, *st, req->name, req->args) != Step::Ok) return Step::Crashed;
    }
  }
  return Step::Ok;
}

// Up to `room` calls: first those pinned to this worker, then those queued
// for anyone; `out` gets them with the queue's references.
inline void PoolCore::take_queued(Worker& w, std::uint32_t room, std::vector<CallState*>& out) {
  out.clear();
  if (w.pinned_count.load(std::memory_order_relaxed) != 0) {
    std::lock_guard lock(w.pinned_mutex);
    while (out.size() < room && !w.pinned.empty()) {
      out.push_back(w.pinned.front().detach());
      w.pinned.pop_front();
      w.pinned_count.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  if (out.size() == room || queue_count_.load(std::memory_order_relaxed) == 0) return;
  std::lock_guard lock(queue_mutex_);
  while (out.size() < room && !queue_.empty()) {
    out.push_back(queue_.front().detach());
    queue_.pop_front();
    queue_count_.fetch_sub(1, std::memory_order_relaxed);
  }
}

// The call's answer: to its C++ caller directly, or to JavaScript through
// the response ring. Counted first, so a caller that has its answer sees
// the worker's counters include it. Nothing changes if a timeout, a cancel
// or shutdown ended the call first.
inline void PoolCore::finish(Worker& w, CallState& st, std::vector<std::byte>* value, std::optional<Error> error,
                             bool claimant) {
  CallRef ref = w.held.remove(&st);  // empty if shutdown took it already
  w.completed.fetch_add(1, std::memory_order_relaxed);
  if (options_.external) {
    w.by_id.erase(st.id);
    respond(w, st.id, value, error);
  }
  settle(st, value, std::move(error), claimant);
}

inline void PoolCore::respond(Worker& w, std::uint64_t id, const std::vector<std::byte>* value,
                              const std::optional<Error>& error) {
  const std::size_t max = w.response_tx->max_payload();
  if (!error && options_.shared_blocks && 8 + value->size() > max && 8 + value->size() <= protocol::kMaxPartedBytes) {
    // Too large for the ring: into a block that JavaScript reads and frees
    // (web/PROTOCOL.md, "Records out of band"); in parts if there is no room.
    // The block is written before its record is published: the response
    // ring's release store orders it for JavaScript's acquire, as a payload.
    const std::size_t size = 8 + value->size();
    if (auto block = shared_alloc(size)) {
      auto* p = static_cast<std::byte*>(*block);
      std::memcpy(p, &id, 8);
      std::memcpy(p + 8, value->data(), value->size());
      send_response(w, protocol::kResponseBlockTag,
                    protocol::block_record(protocol::kResultTag, size, reinterpret_cast<std::uintptr_t>(p)));
      return;
    }
  }
  std::vector<std::byte> payload;
  protocol::begin_result(payload, id);
  if (!error) {
    payload.resize(8 + value->size());
    if (!value->empty()) std::memcpy(payload.data() + 8, value->data(), value->size());
  } else {
    Writer writer(payload);
    (void)encode(writer, Result<void>(*error));
  }
  if (payload.size() > protocol::kMaxPartedBytes) {  // answer with that error instead
    const auto size = payload.size();
    protocol::begin_result(payload, id);
    Writer writer(payload);
    (void)encode(writer, Result<void>(Error::make(ErrorKind::MessageTooLarge,
                                                  "a result of " + std::to_string(size) +
                                                      " bytes: more than the 1 GiB a record sent in parts may hold",
                                                  origin(w))));
  }
  if (payload.size() <= max) {
    send_response(w, protocol::kResultTag, std::move(payload));
    return;
  }
  protocol::split_parts(protocol::kResultTag, payload, max,
                        [&](std::vector<std::byte> part) { send_response(w, protocol::kResponsePartTag, std::move(part)); });
}

// Writes one response record now, or queues it behind the others while the
// response ring is full (serve() sends those as room appears).
inline void PoolCore::send_response(Worker& w, std::uint32_t tag, std::vector<std::byte> record) {
  if (w.unsent.empty()) {
    auto wrote = w.response_tx->try_write(tag, record);
    if (!wrote || *wrote) {  // written, or never will be (closed: nobody reads it any more)
      w.ex->defer_flush(w.response_flush);  // published once this handler is done
      return;
    }
  }
  w.unsent.emplace_back(tag, std::move(record));
}

// Writes the answers that found the response ring full, waiting for room;
// false if the executor is going away.
inline Task<bool> PoolCore::send_unsent(Worker& w) {
  auto& tx = *w.response_tx;
  while (!w.unsent.empty()) {
    auto wrote = tx.try_write(w.unsent.front().first, w.unsent.front().second);
    if (!wrote || *wrote) {  // written, or it can never be (closed): either way it is done with
      w.unsent.pop_front();
      continue;
    }
    tx.publish();  // JavaScript can only free room it can see
    const bool ok = co_await RingCondition(
        [&] {
          auto wrote = tx.try_write(w.unsent.front().first, w.unsent.front().second);
          return !wrote || *wrote;  // written, or never will be
        },
        [&] {
          tx.prepare_wait_for_space();
          return w.doorbell;
        });
    if (!ok) co_return false;
    w.unsent.pop_front();  // the condition wrote it
  }
  tx.publish();
  co_return true;
}

// While a synchronous JavaScript-called task runs: reads the requests that
// came meanwhile, applies cancel records at once and keeps the rest for
// later (copied: ring space is released as tasks finish).
inline void PoolCore::poll_cancels(Worker& w) {
  auto& rx = *w.request_rx;
  for (;;) {
    auto rec = rx.try_read();
    if (!rec || !*rec) return;
    const auto& r = **rec;
    if (r.tag == protocol::kCancelTag) {
      handle(w, r.tag, r.payload);
    } else {
      w.backlog.emplace_back(r.tag, std::vector<std::byte>(r.payload.begin(), r.payload.end()));
    }
  }
}

}  // namespace ferry::detail
