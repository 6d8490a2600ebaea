// Test that the header is self-contained: it comes first.
#include "workers/pool.hpp"
#include "workers/executor.hpp"

#include "tests/pool_fixture.hpp"
#include "tests/ring_fixture.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// The chaos soak: callers and streams keep a pool busy while workers crash
// at random, calls time out and are cancelled, and the pool is shut down
// (Drain with a deadline, Cancel, or by its destructor) under load and made
// again. Every call and stream must end exactly once with a kind its
// scenario allows, every value must arrive in order with none lost or
// doubled, and the heap must come back to where it was.
//
// FERRY_SOAK_SECONDS (default 4) sets its length: `npm test` runs it briefly
// in every build (g++ and clang, ASan, TSan, wasm); `npm run soak` for
// minutes. It prints a summary line: operations, faults injected, ends by
// kind, heap growth.

using namespace ferry;
using namespace std::chrono_literals;

namespace soak_test {

int soak_add(int a, int b) { return a + b; }
FERRY_EXPORT(soak_add);

// Sleeps `us` microseconds in small steps, unless cancelled first.
int soak_nap(int us, CancelToken stop) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  while (std::chrono::steady_clock::now() < end) {
    if (stop.is_cancelled()) return -1;
    std::this_thread::sleep_for(50us);
  }
  return us;
}
FERRY_EXPORT(soak_nap);

// The same as a coroutine: its worker runs other calls meanwhile.
Task<int> soak_later(int us, CancelToken stop) {
  auto* ex = dynamic_cast<Executor*>(Scheduler::current());
  const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  while (std::chrono::steady_clock::now() < end) {
    if (stop.is_cancelled()) co_return -1;
    co_await test::sleep_on{*ex, 100us};
  }
  co_return us;
}
FERRY_EXPORT(soak_later);

int soak_crash(int) { crash_worker("the soak crashed it"); }
FERRY_EXPORT(soak_crash);

// Echoes every value; a value of -7 crashes the worker mid-stream.
Task<void> soak_echo(Receiver<int> in, Sender<int> out) {
  while (auto v = co_await in.recv()) {
    if (*v == -7) crash_worker("the soak crashed a stream");
    if (!co_await out.send(*v)) co_return;
  }
}
FERRY_EXPORT_STREAM(soak_echo);

}  // namespace soak_test

namespace {

double soak_seconds() {
  const char* s = std::getenv("FERRY_SOAK_SECONDS");
  return s ? std::max(0.5, std::atof(s)) : 4.0;
}

// What happened, counted by every thread.
struct Tally {
  std::mutex mutex;
  std::map<std::string, std::uint64_t> ends;  // "call ok", "call WorkerCrashed", ...
  std::uint64_t operations = 0, crashes = 0, timeouts = 0, cancels = 0, shutdowns = 0, values = 0;
  std::vector<std::string> wrong;  // what must not happen
  void end(const std::string& what, const std::string& how) {
    std::lock_guard lock(mutex);
    ++ends[what + " " + how];
  }
  void bad(std::string why) {
    std::lock_guard lock(mutex);
    if (wrong.size() < 20) wrong.push_back(std::move(why));
  }
};

std::string kind_of(const Error& e) { return std::string(to_string(e.kind)); }

// An error a call may end with in the soak whatever it ran: its worker
// crashed, the pool was shut down under it, or the queue was full.
bool chaos_error(const Error& e) {
  return e.kind == ErrorKind::WorkerCrashed || e.kind == ErrorKind::Cancelled || e.kind == ErrorKind::Closed ||
         e.kind == ErrorKind::QueueFull;
}

// A batch of plain calls.
void plain_calls(WorkerPool& pool, Tally& tally, test::Rng& rng) {
  std::vector<std::pair<int, Call<int>>> calls;
  const int n = 1 + static_cast<int>(rng.below(32));
  for (int i = 0; i < n; ++i) {
    const int a = static_cast<int>(rng.below(1000));
    calls.emplace_back(a, pool.call<int>("soak_add", a, 1));
  }
  for (auto& [a, c] : calls) {
    auto r = c.get(30s);
    if (r) {
      if (*r != a + 1) tally.bad("soak_add answered " + std::to_string(*r) + " for " + std::to_string(a));
      tally.end("call", "ok");
    } else {
      if (!chaos_error(r.error())) tally.bad("soak_add ended with " + r.error().describe());
      tally.end("call", kind_of(r.error()));
    }
  }
  std::lock_guard lock(tally.mutex);
  tally.operations += static_cast<std::uint64_t>(n);
}

// A call that times out, or not.
void timed_call(WorkerPool& pool, Tally& tally, test::Rng& rng) {
  const int us = 100 + static_cast<int>(rng.below(3000));
  const char* task = rng.below(2) ? "soak_nap" : "soak_later";
  auto r = pool.call_with<int>({.timeout = std::chrono::microseconds(1500)}, task, us).get(30s);
  if (r) {
    if (*r != us) tally.bad(std::string(task) + " answered " + std::to_string(*r));
    tally.end("timed call", "ok");
  } else {
    if (r.error().kind != ErrorKind::Timeout && !chaos_error(r.error())) tally.bad(std::string(task) + ": " + r.error().describe());
    tally.end("timed call", kind_of(r.error()));
  }
  std::lock_guard lock(tally.mutex);
  ++tally.operations;
  if (!r && r.error().kind == ErrorKind::Timeout) ++tally.timeouts;
}

// A call cancelled at a random moment.
void cancelled_call(WorkerPool& pool, Tally& tally, test::Rng& rng) {
  CancelSource cancel;
  auto c = pool.call_with<int>({.cancel = cancel.token()}, "soak_later", 2000);
  std::this_thread::sleep_for(std::chrono::microseconds(rng.below(3000)));
  cancel.cancel();
  auto r = c.get(30s);
  if (r) {
    if (*r != 2000) tally.bad("soak_later answered " + std::to_string(*r));
    tally.end("cancelled call", "ok");
  } else {
    if (!chaos_error(r.error())) tally.bad("cancelled soak_later: " + r.error().describe());
    tally.end("cancelled call", kind_of(r.error()));
  }
  std::lock_guard lock(tally.mutex);
  ++tally.operations;
  ++tally.cancels;
}

// A stream, crashed now and then.
void echo_stream(WorkerPool& pool, Tally& tally, test::Rng& rng) {
  const int n = 1 + static_cast<int>(rng.below(200));
  const int crash_at = rng.below(8) == 0 ? static_cast<int>(rng.below(static_cast<std::uint32_t>(n))) : -1;
  auto s = pool.stream<int, int>("soak_echo");
  if (!s) {
    if (!chaos_error(s.error())) tally.bad("open soak_echo: " + s.error().describe());
    tally.end("stream", kind_of(s.error()));
    return;
  }
  std::thread feeder([&, n, crash_at] {
    for (int i = 0; i < n; ++i) {
      if (!s->tx.send_blocking(i == crash_at ? -7 : i, 30s)) return;
    }
    s->tx.close();
  });
  int next = 0;
  std::optional<Error> ended;
  for (;;) {
    auto v = s->rx.recv_blocking(30s);
    if (!v) {
      if (v.error().kind != ErrorKind::Closed) ended = v.error();
      break;
    }
    if (*v != next) tally.bad("stream value " + std::to_string(*v) + " where " + std::to_string(next) + " was due");
    ++next;
  }
  feeder.join();
  auto done = s->done.get(30s);
  if (!ended) {
    if (next != n) tally.bad("stream ended normally after " + std::to_string(next) + " of " + std::to_string(n));
    if (!done) tally.bad("stream read to its end, but its task: " + done.error().describe());
    tally.end("stream", "ok");
  } else {
    if (!chaos_error(*ended)) tally.bad("stream ended with " + ended->describe());
    if (done) tally.bad("stream failed (" + ended->describe() + ") but its task succeeded");
    tally.end("stream", kind_of(*ended));
  }
  std::lock_guard lock(tally.mutex);
  ++tally.operations;
  tally.values += static_cast<std::uint64_t>(next);
  if (crash_at >= 0) ++tally.crashes;
}

// A call that crashes its worker.
void crash_call(WorkerPool& pool, Tally& tally) {
  auto r = pool.call<int>("soak_crash", 0).get(30s);
  if (r || !chaos_error(r.error())) tally.bad("soak_crash ended with " + (r ? std::string("a value") : r.error().describe()));
  tally.end("crash call", r ? "ok" : kind_of(r.error()));
  std::lock_guard lock(tally.mutex);
  ++tally.operations;
  ++tally.crashes;
}

// One caller: a random mix of calls, each checked.
void caller(WorkerPool& pool, Tally& tally, std::uint64_t seed, std::atomic<bool>& stop) {
  test::Rng rng{seed};
  while (!stop.load(std::memory_order_relaxed)) {
    const auto pick = rng.below(100);
    if (pick < 60) plain_calls(pool, tally, rng);
    else if (pick < 75) timed_call(pool, tally, rng);
    else if (pick < 88) cancelled_call(pool, tally, rng);
    else if (pick < 98) echo_stream(pool, tally, rng);
    else crash_call(pool, tally);
  }
}

// One pool's life: callers run, then the pool is stopped under them.
void epoch(Tally& tally, std::uint64_t seed, std::chrono::milliseconds length) {
  auto pool = std::make_unique<WorkerPool>(WorkerPoolOptions{.workers = 2, .max_in_flight = 4, .max_queued = 4096, .stop_grace = 2000ms});
  std::atomic<bool> stop{false};
  std::vector<std::thread> callers;
  for (int i = 0; i < 3; ++i) callers.emplace_back(caller, std::ref(*pool), std::ref(tally), seed * 7 + i, std::ref(stop));
  std::this_thread::sleep_for(length);
  // Each way a pool ends, in turn: shut down while the callers still call
  // (Drain with a deadline, or Cancel), or destroyed with calls in flight.
  ShutdownReport report;
  if (seed % 3 == 0) report = pool->shutdown(ShutdownMode::Drain, 50ms);
  if (seed % 3 == 1) report = pool->shutdown(ShutdownMode::Cancel);
  if (!report.clean()) tally.bad("shutdown left " + report.abandoned.front());
  stop = true;
  for (auto& t : callers) t.join();
  std::vector<Call<int>> in_flight;
  if (seed % 3 == 2) {
    for (int i = 0; i < 64; ++i) in_flight.push_back(pool->call<int>(i % 2 ? "soak_later" : "soak_nap", 500));
  }
  pool.reset();
  for (auto& c : in_flight) {
    auto r = c.get(1s);
    if (r ? *r != 500 : r.error().kind != ErrorKind::Cancelled) {
      tally.bad("a call the destructor ended: " + (r ? std::to_string(*r) : r.error().describe()));
    }
    tally.end("call at destruction", r ? "ok" : kind_of(r.error()));
  }
  std::lock_guard lock(tally.mutex);
  ++tally.shutdowns;
}

}  // namespace

TEST(PoolSoak, ChaosLosesNothingAndLeaksNothing) {
  const double seconds = soak_seconds();
  const auto length = std::chrono::milliseconds(std::clamp(static_cast<int>(seconds * 1000 / 6), 300, 3000));
  Tally tally;
  epoch(tally, 1, length);  // warms up what stays allocated (arena, thread-locals)
  const std::size_t heap_before = test::heap_in_use();
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  std::uint64_t seed = 2;
  while (std::chrono::steady_clock::now() < end) epoch(tally, seed++, length);
  const std::size_t heap_after = test::heap_in_use();
  const long long growth = static_cast<long long>(heap_after) - static_cast<long long>(heap_before);

  std::string ends;
  std::uint64_t ended = 0;
  for (const auto& [what, n] : tally.ends) {
    ends += (ends.empty() ? "" : ", ") + what + " " + std::to_string(n);
    ended += n;
  }
  std::printf("soak: %.1f s, %llu pools, %llu operations (%llu stream values); faults: %llu crashes, %llu timeouts, "
              "%llu cancels, %llu shutdowns under load; ends: %s; heap growth %lld bytes\n",
              seconds, static_cast<unsigned long long>(tally.shutdowns), static_cast<unsigned long long>(tally.operations),
              static_cast<unsigned long long>(tally.values), static_cast<unsigned long long>(tally.crashes),
              static_cast<unsigned long long>(tally.timeouts), static_cast<unsigned long long>(tally.cancels),
              static_cast<unsigned long long>(tally.shutdowns), ends.c_str(), growth);
  for (const auto& w : tally.wrong) ADD_FAILURE() << w;
  EXPECT_GT(ended, 100u) << "the soak did almost nothing";
  EXPECT_GT(tally.crashes, 0u);
  // Memory comes back: what a pool and its calls take is all given back
  // (a little slack for the allocator's own bookkeeping).
  EXPECT_LT(growth, 256 * 1024) << "heap grew by " << growth << " bytes over " << tally.shutdowns << " pools";
}
