// ferry bench harness, basics: the clock, the running benchmark's name, threads started together, fail(), and the statistics (Stat, medians, spreads, percentiles).
// Part of bench/bench_harness.hpp, which includes the parts in order after the
// headers they use: include bench/bench_harness.hpp, not this file.
#pragma once

namespace ferry::bench {

using Clock = std::chrono::steady_clock;

// The running benchmark's name, for fail() and to_json(); main() sets it.
inline std::string& bench_name() {
  static std::string name = "ring_bench";
  return name;
}

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One line on stderr saying which part is running.
inline void progress(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", bench_name().c_str(), what.c_str());
  std::fflush(stderr);
}

// Every run checks what it moved against a known sequence: an FNV-style
// fold of one digest per message.
inline constexpr std::uint64_t kFnvBasis = 0xcbf29ce484222325ull;
inline constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;
inline std::uint64_t fold(std::uint64_t h, std::uint64_t v) { return (h ^ v) * kFnvPrime; }

// The fold of digest_of(i) for i < n, memoised per Message type (and call
// site): the checksum a consumer of n messages must have seen. Main thread only.
template <class Message, class DigestOf>
std::uint64_t expected_checksum(std::uint64_t n, DigestOf digest_of) {
  static std::map<std::uint64_t, std::uint64_t> memo;
  if (auto it = memo.find(n); it != memo.end()) return it->second;
  std::uint64_t h = kFnvBasis;
  for (std::uint64_t i = 0; i < n; ++i) h = fold(h, digest_of(i));
  memo[n] = h;
  return h;
}

using ferry::detail::cpu_relax;  // the pause the ring itself spins with (core/wait.hpp)

// Busy-wait step for every queue alike: pause, and after a long run of
// failures yield (wasm: sleep 20 µs), so that a benchmark sharing two cores
// with other work (or the test suite running in parallel) still makes progress.
class Spinner {
 public:
  void spin() noexcept {
    if (++n_ < 4096) {
      cpu_relax();
    } else {
      n_ = 0;
#if defined(__EMSCRIPTEN__)
      // In wasm sched_yield does not yield (it only runs queued calls), so a
      // spinner whose partner was preempted would spin out its whole time
      // slice: wait for real instead (an Atomics.wait with a timeout).
      std::this_thread::sleep_for(std::chrono::microseconds(20));
#else
      std::this_thread::yield();
#endif
    }
  }

 private:
  unsigned n_ = 0;
};

// Runs `thread_side` on a new thread and `main_side` on this one. Each side is
// first moved onto the stack of the thread that runs it, so the state it
// captured by value (endpoints, counters, pointers) shares no cache line with
// the other side's; sides should write shared results only once, at the end.
// A start barrier keeps thread start-up out of the timed loops. Timestamps
// belong on one thread only (wasm workers have their own clock origins).
template <class MainSide, class ThreadSide>
void run_pair(MainSide main_side, ThreadSide thread_side) {
  std::atomic<int> ready{0};
  auto barrier = [&ready] {
    ready.fetch_add(1, std::memory_order_acq_rel);
    Spinner s;
    while (ready.load(std::memory_order_acquire) < 2) s.spin();
  };
  std::thread t([&] {
    ThreadSide mine = std::move(thread_side);
    barrier();
    mine();
  });
  {
    MainSide mine = std::move(main_side);
    barrier();
    mine();
  }
  t.join();
}

// ---------------------------------------------------------------------------
// Failing loudly

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "%s: FAILED: %s\n", bench_name().c_str(), what.c_str());
  std::fflush(stderr);
  std::exit(1);
}

// ---------------------------------------------------------------------------
// Statistics

struct Stat {
  double median = NAN;
  double min = NAN;
  double max = NAN;
  std::vector<double> samples;  // one per repetition (empty for derived values)
  std::uint64_t n = 0;          // operations per repetition
  bool has_spread() const { return samples.size() > 1; }
};

inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  // Nearest rank.
  std::size_t rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  if (rank < 1) rank = 1;
  return v[rank - 1];
}

inline double median_of(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

inline Stat make_stat(const std::vector<double>& samples, std::uint64_t n) {
  Stat s;
  s.samples = samples;
  s.n = n;
  s.median = median_of(samples);
  s.min = *std::min_element(samples.begin(), samples.end());
  s.max = *std::max_element(samples.begin(), samples.end());
  return s;
}

inline Stat single_value(double v, std::uint64_t n = 0) {
  Stat s;
  s.median = s.min = s.max = v;
  s.n = n;
  return s;
}

}  // namespace ferry::bench
