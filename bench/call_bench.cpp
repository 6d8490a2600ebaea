// ferry call benchmark: pool calls and pool streams against what a user
// writes without ferry — a std::thread pool with one std::mutex, one
// std::condition_variable, a std::deque of jobs and a std::future per answer
// (the well-known 40-line "ThreadPool"), and a bounded mutex/condition
// variable queue for streams — plus the platform's floor for a round trip:
// two threads waking each other through a futex (one wake each way) and two
// threads spinning on a ferry ring (no wake at all). Same source natively and
// with Emscripten (run the .js under Node).
//
//   call_bench [--quick] [--json FILE] [--reps N] [--target-ms MS] [--filter TEXT] [--loaded]
//
// Tables:
//   latency     one caller, one call at a time, each timed: p50 and p99.
//   throughput  calls/s with 4 caller threads blocking on one call each, and
//               with 4 caller threads keeping 64 calls each in flight.
//   streams     8-byte values into a task that sums them: from a plain thread
//               (send_blocking) and from a coroutine (co_await send).
// --loaded only labels the tables: scripts/bench.sh runs this program a
// second time while another process keeps one core busy, so the report can
// say how much each contender's p99 grows under load.
//
// Every pool here has as many workers as the machine has cores, the same for
// ferry and the hand-written pool. Every answer and every sum is checked.
#include "stream/stream.hpp"
#include "workers/executor.hpp"
#include "workers/pool.hpp"
#include "workers/task.hpp"

#include "bench/bench_harness.hpp"
#include "bench/runtime_harness.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace fb = ferry::bench;
using fb::Contender;
using fb::fail;
using fb::Measured;
using fb::must;
using fb::RunResult;

// Tasks the pool runs.
namespace call_bench {
std::uint64_t echo_u64(std::uint64_t v) { return v; }
FERRY_EXPORT(echo_u64);

// Sums every value it receives; answers the sum once the caller closes.
ferry::Task<void> sum_u64(ferry::Receiver<std::uint64_t> in, ferry::Sender<std::uint64_t> out) {
  std::uint64_t sum = 0;
  while (auto v = co_await in.recv()) sum += *v;
  (void)co_await out.send(sum);
}
FERRY_EXPORT_STREAM(sum_u64);
}  // namespace call_bench

namespace {

const std::string kFerry = "ferry";
const std::string kHand = "mutex+condvar pool";
const std::string kHandQueue = "mutex+condvar queue";
const std::string kFutex = "futex ping-pong";
const std::string kRingFloor = "ring ping-pong (spin)";
constexpr unsigned kCallers = 4;
constexpr unsigned kWindow = 64;


// --- What a user writes by hand ----------------------------------------------------

// N threads take jobs from one deque under one mutex; a job's answer comes
// back through a std::future (packaged_task).
class HandPool {
 public:
  explicit HandPool(unsigned n) {
    for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { run(); });
  }
  ~HandPool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  template <class F>
  auto submit(F f) -> std::future<decltype(f())> {
    auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
    auto future = task->get_future();
    {
      std::lock_guard lock(mutex_);
      jobs_.emplace_back([task] { (*task)(); });
    }
    cv_.notify_one();
    return future;
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
        if (stop_ && jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
};

// A bounded queue: push waits while full, pop while empty; close ends it.
template <class T>
class HandQueue {
 public:
  explicit HandQueue(std::size_t capacity) : capacity_(capacity) {}
  void push(T v) {
    std::unique_lock lock(mutex_);
    not_full_.wait(lock, [this] { return items_.size() < capacity_; });
    items_.push_back(std::move(v));
    lock.unlock();
    not_empty_.notify_one();
  }
  std::optional<T> pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [this] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T v = std::move(items_.front());
    items_.pop_front();
    lock.unlock();
    not_full_.notify_one();
    return v;
  }
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    not_empty_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
  std::deque<T> items_;
  std::size_t capacity_;
  bool closed_ = false;
};

// --- Latency ------------------------------------------------------------------------

RunResult latency_result(const std::string& what, std::vector<float> ns, std::uint64_t bad, double seconds) {
  if (bad != 0) fail(what + ": " + std::to_string(bad) + " wrong echoes");
  RunResult r;
  r.seconds = seconds;
  r.batch_ns.assign(ns.begin(), ns.end());
  return r;
}

template <class CallOnce>
RunResult time_each(const std::string& what, std::uint64_t n, CallOnce call_once) {
  std::vector<float> ns;
  ns.reserve(n);
  std::uint64_t bad = 0;
  const auto t0 = fb::Clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto t = fb::Clock::now();
    const std::uint64_t v = fb::ping_value(i);
    if (call_once(v) != v) ++bad;
    ns.push_back(fb::ns_between(t, fb::Clock::now()));
  }
  return latency_result(what, std::move(ns), bad, fb::seconds_since(t0));
}

RunResult ferry_rtt(ferry::WorkerPool& pool, std::uint64_t n) {
  return time_each("ferry call", n, [&](std::uint64_t v) {
    return must("pool call echo_u64", pool.call<std::uint64_t>("echo_u64", v).get());
  });
}

RunResult hand_rtt(HandPool& pool, std::uint64_t n) {
  return time_each("hand pool call", n, [&](std::uint64_t v) { return pool.submit([v] { return v; }).get(); });
}

// Two threads, each parked on its own futex word until the other bumps it:
// exactly one wake each way, nothing else.
RunResult futex_rtt(std::uint64_t n) {
  struct alignas(64) Word {
    std::atomic<std::uint32_t> w{0};
  };
  auto ping = std::make_unique<Word>();
  auto pong = std::make_unique<Word>();
  std::atomic<std::uint64_t> value{0};
  std::vector<float> ns;
  std::uint64_t bad = 0;
  double seconds = 0;
  fb::run_pair(
      [&] {
        std::vector<float> local;
        local.reserve(n);
        std::uint32_t seen = 0;
        const auto t0 = fb::Clock::now();
        for (std::uint64_t i = 0; i < n; ++i) {
          const auto t = fb::Clock::now();
          const std::uint64_t v = fb::ping_value(i);
          value.store(v, std::memory_order_relaxed);
          ping->w.fetch_add(1, std::memory_order_release);
          ferry::notify_word(ping->w);
          ++seen;
          while (pong->w.load(std::memory_order_acquire) != seen) ferry::wait_word(pong->w, seen - 1);
          if (value.load(std::memory_order_relaxed) != ~v) ++bad;
          local.push_back(fb::ns_between(t, fb::Clock::now()));
        }
        seconds = fb::seconds_since(t0);
        ns = std::move(local);
      },
      [&] {
        std::uint32_t seen = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
          ++seen;
          while (ping->w.load(std::memory_order_acquire) != seen) ferry::wait_word(ping->w, seen - 1);
          value.store(~value.load(std::memory_order_relaxed), std::memory_order_relaxed);
          pong->w.fetch_add(1, std::memory_order_release);
          ferry::notify_word(pong->w);
        }
      });
  return latency_result("futex ping-pong", std::move(ns), bad, seconds);
}

// Two threads spinning on two ferry rings: the round trip with no wake.
RunResult ring_rtt(std::uint64_t n) {
  auto r = fb::ring_round_trips(n);
  return latency_result("ring ping-pong", std::move(r.ns), r.bad, r.seconds);
}

// --- Throughput ------------------------------------------------------------------------

// Runs `per_thread(thread_index, calls)` on kCallers threads at once; each
// returns how many answers were wrong. n calls in all.
template <class PerThread>
RunResult callers(std::uint64_t n, const std::string& what, PerThread per_thread) {
  const std::uint64_t each = std::max<std::uint64_t>(n / kCallers, 1);
  std::atomic<std::uint64_t> bad{0};
  std::atomic<unsigned> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kCallers; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      bad.fetch_add(per_thread(t, each));
    });
  }
  while (ready.load() != kCallers) std::this_thread::yield();
  const auto t0 = fb::Clock::now();
  go.store(true, std::memory_order_release);
  for (auto& th : threads) th.join();
  RunResult r;
  r.seconds = fb::seconds_since(t0);
  if (bad.load() != 0) fail(what + ": " + std::to_string(bad.load()) + " wrong answers");
  return r;
}

// Each caller keeps up to `window` calls in flight: it starts calls until it
// has `window`, then waits for the oldest.
template <class Start, class Wait>
std::uint64_t windowed(unsigned t, std::uint64_t calls, unsigned window, Start start, Wait wait) {
  using Pending = decltype(start(std::uint64_t{}));
  std::deque<std::pair<std::uint64_t, Pending>> inflight;
  std::uint64_t bad = 0;
  for (std::uint64_t i = 0; i < calls; ++i) {
    const std::uint64_t v = fb::ping_value(i + (std::uint64_t{t} << 40));
    if (inflight.size() == window) {
      if (wait(inflight.front().second) != inflight.front().first) ++bad;
      inflight.pop_front();
    }
    inflight.emplace_back(v, start(v));
  }
  for (auto& [v, p] : inflight) {
    if (wait(p) != v) ++bad;
  }
  return bad;
}

RunResult ferry_calls(ferry::WorkerPool& pool, std::uint64_t n, unsigned window) {
  return callers(n, "ferry calls", [&](unsigned t, std::uint64_t calls) {
    return windowed(
        t, calls, window, [&](std::uint64_t v) { return pool.call<std::uint64_t>("echo_u64", v); },
        [](ferry::Call<std::uint64_t>& c) { return must("pool call echo_u64", c.get()); });
  });
}

RunResult hand_calls(HandPool& pool, std::uint64_t n, unsigned window) {
  return callers(n, "hand pool calls", [&](unsigned t, std::uint64_t calls) {
    return windowed(
        t, calls, window, [&](std::uint64_t v) { return pool.submit([v] { return v; }); },
        [](std::future<std::uint64_t>& f) { return f.get(); });
  });
}

// --- Streams of 8-byte values -------------------------------------------------------------

std::uint64_t expected_sum(std::uint64_t n) {
  std::uint64_t s = 0;
  for (std::uint64_t i = 0; i < n; ++i) s += fb::ping_value(i);
  return s;
}

void check(const std::string& what, ferry::Result<void> r) {
  if (!r) fail(what + ": " + r.error().describe());
}

void check_sum(const std::string& what, std::uint64_t got, std::uint64_t n) {
  if (got != expected_sum(n)) fail(what + ": the task summed " + std::to_string(got) + ", not the values sent");
}

RunResult ferry_stream_plain(ferry::WorkerPool& pool, std::uint64_t n) {
  const auto t0 = fb::Clock::now();
  auto s = must("pool.stream sum_u64", pool.stream<std::uint64_t, std::uint64_t>("sum_u64"));
  for (std::uint64_t i = 0; i < n; ++i) check("send_blocking", s.tx.send_blocking(fb::ping_value(i)));
  s.tx.close();
  const std::uint64_t sum = must("recv_blocking", s.rx.recv_blocking());
  check("stream done", s.done.get());
  RunResult r;
  r.seconds = fb::seconds_since(t0);
  check_sum("ferry stream from a plain thread", sum, n);
  return r;
}

ferry::Task<ferry::Result<std::uint64_t>> send_all(ferry::WorkerPool& pool, std::uint64_t n) {
  auto s = pool.stream<std::uint64_t, std::uint64_t>("sum_u64");
  if (!s) co_return s.error();
  for (std::uint64_t i = 0; i < n; ++i) {
    if (auto ok = co_await s->tx.send(fb::ping_value(i)); !ok) co_return ok.error();
  }
  s->tx.close();
  auto sum = co_await s->rx.recv();
  if (!sum) co_return sum.error();
  if (auto done = co_await s->done; !done) co_return done.error();
  co_return *sum;
}

RunResult ferry_stream_coroutine(ferry::WorkerPool& pool, fb::Running& caller, std::uint64_t n) {
  const auto t0 = fb::Clock::now();
  const std::uint64_t sum = must("stream from a coroutine", fb::start(caller, send_all(pool, n)).get());
  RunResult r;
  r.seconds = fb::seconds_since(t0);
  check_sum("ferry stream from a coroutine", sum, n);
  return r;
}

RunResult hand_stream(std::uint64_t n) {
  // As many values as the ferry stream's 64 KiB ring holds (16 bytes a record).
  HandQueue<std::uint64_t> q(4096);
  std::uint64_t sum = 0;
  const auto t0 = fb::Clock::now();
  std::thread consumer([&] {
    while (auto v = q.pop()) sum += *v;
  });
  for (std::uint64_t i = 0; i < n; ++i) q.push(fb::ping_value(i));
  q.close();
  consumer.join();
  RunResult r;
  r.seconds = fb::seconds_since(t0);
  check_sum("mutex+condvar queue", sum, n);
  return r;
}

// --- Driver ------------------------------------------------------------------------------

void usage(std::FILE* out) {
  std::fprintf(out, "usage: call_bench [--quick] [--json FILE] [--reps N] [--target-ms MS] [--filter TEXT] [--loaded]\n");
  fb::print_common_options(out);
  std::fprintf(out,
               "  --loaded     label the tables as measured while another process keeps a core busy\n"
               "  filter labels: \"<case>/<implementation>\", e.g. \"round trip/ferry\", \"4 callers/mutex+condvar pool\"\n");
}

double calls_per_s(std::uint64_t n, double s) { return static_cast<double>(n) / s / 1e3; }

fb::Row row_of(const std::string& name, const std::string& unit, bool higher, const Measured& m,
               const std::vector<std::string>& impls, const std::string& note, const std::string& seed = "") {
  fb::Row row{name + " (" + unit + ")", unit, higher, {}, note, seed};
  for (const auto& impl : impls) {
    if (auto it = m.stats.find(impl); it != m.stats.end()) row.cells[impl] = it->second;
  }
  return row;
}

// Round trips, one call at a time: p50 and p99 against the hand-written pool and the floors.
void latency_rows(const fb::Options& o, fb::Table& lat, unsigned workers, bool loaded) {
  fb::progress("round-trip latency");
  ferry::WorkerPool pool({.workers = workers});
  HandPool hand(workers);
  const std::uint64_t n0 = o.quick ? 500 : 5'000;
  Measured m = fb::measure(o, "round trip",
                           {{kFerry, [&](std::uint64_t n) { return ferry_rtt(pool, n); }, n0},
                            {kHand, [&](std::uint64_t n) { return hand_rtt(hand, n); }, n0},
                            {kFutex, futex_rtt, n0},
                            {kRingFloor, ring_rtt, n0 * 10}},
                           fb::ns_per_op);
  for (const auto& [p, pname] : {std::pair{50.0, "p50"}, std::pair{99.0, "p99"}}) {
    Measured q;
    for (const auto& [impl, ns] : m.batch_ns) {
      if (!ns.empty()) q.stats[impl] = fb::single_value(fb::percentile(ns, p), ns.size());
    }
    lat.rows.push_back(row_of(std::string("round trip ") + pname, "ns", false, q,
                              {kFerry, kHand, kFutex, kRingFloor}, "",
                              loaded || p != 99.0 ? "" : "async call latency p99"));
  }
}

// Calls/s from kCallers threads, blocking and with kWindow calls in flight.
void throughput_rows(const fb::Options& o, fb::Table& tput, unsigned workers) {
  const std::uint64_t n0 = o.quick ? 2'000 : 40'000;
  for (const unsigned window : {1u, kWindow}) {
    const std::string label = window == 1 ? std::to_string(kCallers) + " callers, blocking"
                                          : std::to_string(kCallers) + " callers, " + std::to_string(window) + " in flight";
    fb::progress(label);
    ferry::WorkerPool pool({.workers = workers});
    HandPool hand(workers);
    Measured m = fb::measure(o, label,
                             {{kFerry, [&](std::uint64_t n) { return ferry_calls(pool, n, window); }, n0},
                              {kHand, [&](std::uint64_t n) { return hand_calls(hand, n, window); }, n0}},
                             calls_per_s, kCallers);
    tput.rows.push_back(row_of(label, "k calls/s", true, m, {kFerry, kHand}, ""));
  }
}

// 8-byte values streamed into a task, from a plain thread and from a coroutine.
void stream_rows(const fb::Options& o, fb::Table& streams, unsigned workers) {
  fb::progress("streams of 8-byte values");
  ferry::WorkerPool pool({.workers = workers});
  fb::Running caller;
  const std::uint64_t n0 = o.quick ? 20'000 : 200'000;
  auto mvals = +[](std::uint64_t n, double s) { return static_cast<double>(n) / s / 1e6; };
  Measured plain = fb::measure(o, "from a plain thread",
                               {{kFerry, [&](std::uint64_t n) { return ferry_stream_plain(pool, n); }, n0},
                                {kHandQueue, hand_stream, n0}},
                               mvals);
  streams.rows.push_back(row_of("from a plain thread", "M values/s", true, plain, {kFerry, kHandQueue}, ""));
  Measured coro = fb::measure(o, "from a coroutine",
                              {{kFerry, [&](std::uint64_t n) { return ferry_stream_coroutine(pool, caller, n); }, n0},
                               {kHandQueue, hand_stream, n0}},
                              mvals);
  streams.rows.push_back(row_of("from a coroutine", "M values/s", true, coro, {kFerry, kHandQueue},
                                "the baseline is the same plain-thread queue"));
}

}  // namespace

int main(int argc, char** argv) {
  fb::bench_name() = "call_bench";
  // --loaded is ours; the rest are the harness's.
  bool loaded = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::string(argv[i]) == "--loaded") {
      loaded = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  const fb::Options o = fb::parse_options(static_cast<int>(args.size()), args.data(), usage);
  const fb::Env env = fb::current_env();
  const unsigned workers = std::max(1u, env.cores);
  const auto t_start = fb::Clock::now();
  const std::string load = loaded ? ", one core kept busy by another process" : "";
  const std::string pools = std::to_string(workers) + " workers each (one per core)";

  fb::Table lat;
  lat.title = "call round trip, one caller, one call at a time (ns)" + load;
  lat.baselines = {kHand, kFutex, kRingFloor};
  lat.notes = "ferry: pool.call<u64>(\"echo_u64\", v).get(); mutex+condvar pool: submit(lambda).get() (packaged_task, "
              "std::future); " + pools + "; futex ping-pong: two threads, one futex wake each way (the floor for a "
              "caller that sleeps); ring ping-pong: two threads spinning on two ferry rings (the floor with no wake)";
  fb::Table tput;
  tput.title = "calls/s, " + std::to_string(kCallers) + " caller threads (k calls/s)" + load;
  tput.baselines = {kHand};
  tput.notes = "echo of a u64; " + pools + "; blocking: each caller waits for each answer before the next call; "
               "in flight: each caller keeps " + std::to_string(kWindow) + " calls in flight, waiting for the oldest";
  fb::Table streams;
  streams.title = "8-byte values into a task that sums them (M values/s)" + load;
  streams.baselines = {kHandQueue};
  streams.notes = "ferry: pool.stream<u64,u64>(\"sum_u64\") (64 KiB ring), values sent one by one with send_blocking "
                  "from a plain thread or co_await send from a coroutine on a ferry executor; mutex+condvar queue: "
                  "bounded to 4096 values, a consumer thread sums";

  latency_rows(o, lat, workers, loaded);
  throughput_rows(o, tput, workers);
  stream_rows(o, streams, workers);

  const double total_s = fb::seconds_since(t_start);
  std::printf("ferry call benchmark — %s, %s, %u cores (std::thread::hardware_concurrency), %s%s%s\n",
              env.platform.c_str(), env.compiler.c_str(), env.cores, env.build_type.c_str(),
              env.ndebug ? "" : " WITHOUT NDEBUG (assertions on: not representative)", load.c_str());
  if (o.quick) std::printf("--quick: tiny sizes, no calibration; these numbers only show that the harness runs\n");
  std::printf("median of %d repetitions, implementations interleaved; ±x%% = half the min-max spread\n", o.reps);
  std::printf("ratio = ferry / baseline for throughput and baseline / ferry for latency: > 1 means ferry is better\n");
  std::printf("every run checked: echoes and sums\n\n");
  for (const fb::Table* t : {&lat, &tput, &streams}) fb::print_table(stdout, *t, &env);
  std::printf("total %.2f s\n", total_s);
  std::fflush(stdout);

  if (!o.json.empty()) {
    std::map<std::string, std::string> settings{{"quick", o.quick ? "true" : "false"},
                                                {"loaded", loaded ? "true" : "false"},
                                                {"reps", std::to_string(o.reps)},
                                                {"target_ms", std::to_string(static_cast<int>(o.target_s * 1000))},
                                                {"total_seconds", std::to_string(total_s)}};
    fb::write_file(o.json, fb::to_json(env, settings, {lat, tput, streams}));
  }
  return 0;
}
