// ferry bench: a small harness that builds natively and with Emscripten.
//
// Google Benchmark does not build for wasm, so the ring benchmark brings its
// own: calibrate a run to a target duration (that also warms up), repeat it,
// report the median and the spread, and print a table (case, ferry, each
// baseline, ratio, note) under a header naming the platform, compiler, cores
// and build type. Results can also be written as JSON for the report
// generator.
#pragma once

#include "core/ring.hpp"

#include "core/wait.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__EMSCRIPTEN__)
#include <emscripten.h>
#endif

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

// ---------------------------------------------------------------------------
// Environment

struct Env {
  std::string platform;
  std::string compiler;
  unsigned cores = 0;
  std::string build_type;
  bool ndebug = false;
};

inline std::string trimmed(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

inline std::string compiler_string() {
#if defined(__EMSCRIPTEN__)
  return "em++ (Emscripten " + std::to_string(__EMSCRIPTEN_major__) + "." + std::to_string(__EMSCRIPTEN_minor__) +
         "." + std::to_string(__EMSCRIPTEN_tiny__) + ", clang " + trimmed(__clang_version__) + ")";
#elif defined(__clang__)
  return "clang++ " + trimmed(__clang_version__);
#elif defined(__GNUC__)
  return "g++ " + std::string(__VERSION__);
#else
  return "unknown compiler";
#endif
}

inline Env current_env() {
  Env e;
#if defined(__EMSCRIPTEN__)
  std::string node = "Node";
  // Node's main thread: process.version names the runtime (absent in a browser).
  if (const char* v = emscripten_run_script_string(
          "typeof process === 'object' && process.version ? 'Node ' + process.version : "
          "(typeof navigator === 'object' ? navigator.userAgent : 'unknown JS engine')")) {
    node = v;
  }
  e.platform = "wasm32 (Emscripten " + std::to_string(__EMSCRIPTEN_major__) + "." +
               std::to_string(__EMSCRIPTEN_minor__) + "." + std::to_string(__EMSCRIPTEN_tiny__) + ") under " + node;
#elif defined(__x86_64__)
  e.platform = "native x86_64";
#elif defined(__aarch64__)
  e.platform = "native aarch64";
#else
  e.platform = "native";
#endif
  e.compiler = compiler_string();
  e.cores = std::thread::hardware_concurrency();
#ifdef FERRY_BUILD_TYPE
  e.build_type = FERRY_BUILD_TYPE;
#endif
  if (e.build_type.empty()) e.build_type = "(no CMAKE_BUILD_TYPE)";
#ifdef NDEBUG
  e.ndebug = true;
#endif
  return e;
}

// ---------------------------------------------------------------------------
// Tables

struct Row {
  std::string name;  // "8 B one-by-one (Mmsg/s)"
  std::string unit;  // "Mmsg/s"
  bool higher_is_better = true;
  std::map<std::string, Stat> cells;  // implementation -> result
  std::string note;
  // Names the seed metric this row measures ("async call latency p99",
  // ...), so the report generator finds it without matching case names.
  std::string seed;
};

struct Table {
  std::string title;
  std::string reference = "ferry";
  std::vector<std::string> baselines;
  std::vector<Row> rows;
  std::string notes;  // printed under the table: what every row has in common
};

// ferry / baseline for throughput, baseline / ferry for latency: > 1 means
// ferry is faster either way.
inline double ratio(const Row& r, const std::string& reference, const std::string& baseline) {
  auto a = r.cells.find(reference);
  auto b = r.cells.find(baseline);
  if (a == r.cells.end() || b == r.cells.end()) return NAN;
  if (!(a->second.median > 0) || !(b->second.median > 0)) return NAN;
  return r.higher_is_better ? a->second.median / b->second.median : b->second.median / a->second.median;
}

inline std::string format_value(double v) {
  char buf[64];
  if (std::isnan(v)) return "-";
  if (v >= 1000) std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (v >= 100) std::snprintf(buf, sizeof buf, "%.1f", v);
  else if (v >= 10) std::snprintf(buf, sizeof buf, "%.2f", v);
  else std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

// "123.4 ±3%": median, and half the min-max spread relative to it.
inline std::string format_cell(const Stat& s) {
  std::string out = format_value(s.median);
  if (s.has_spread() && s.median > 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, " ±%.0f%%", 50.0 * (s.max - s.min) / s.median);
    out += buf;
  }
  return out;
}

inline std::string format_ratio(double r) {
  if (std::isnan(r)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", r);
  return buf;
}

// With `env`, a line under the title names the cores, compiler and platform,
// so a table pasted alone still says where it was measured.
inline void print_table(std::FILE* out, const Table& t, const Env* env = nullptr) {
  std::vector<std::string> header{"case", t.reference};
  for (const auto& b : t.baselines) {
    header.push_back(b);
    header.push_back("ratio");
  }
  header.push_back("note");
  std::vector<std::vector<std::string>> lines{header};
  for (const auto& r : t.rows) {
    std::vector<std::string> line{r.name};
    auto cell = [&](const std::string& impl) {
      auto it = r.cells.find(impl);
      return it == r.cells.end() ? std::string("-") : format_cell(it->second);
    };
    line.push_back(cell(t.reference));
    for (const auto& b : t.baselines) {
      line.push_back(cell(b));
      line.push_back(format_ratio(ratio(r, t.reference, b)));
    }
    line.push_back(r.note);
    lines.push_back(std::move(line));
  }
  // Column widths in characters; "±" is two bytes of UTF-8 but one column.
  auto width = [](const std::string& s) {
    std::size_t w = 0;
    for (unsigned char c : s) w += (c & 0xC0) != 0x80;
    return w;
  };
  std::vector<std::size_t> widths(header.size(), 0);
  for (const auto& l : lines) {
    for (std::size_t i = 0; i < l.size(); ++i) widths[i] = std::max(widths[i], width(l[i]));
  }
  std::fprintf(out, "%s\n", t.title.c_str());
  if (env) {
    std::fprintf(out, "cores: %u · compiler: %s · %s\n", env->cores, env->compiler.c_str(), env->platform.c_str());
  }
  for (const auto& l : lines) {
    std::string s;
    for (std::size_t i = 0; i < l.size(); ++i) {
      s += l[i];
      if (i + 1 < l.size()) s.append(widths[i] - width(l[i]) + 2, ' ');
    }
    std::fprintf(out, "%s\n", s.c_str());
  }
  if (!t.notes.empty()) std::fprintf(out, "note: %s\n", t.notes.c_str());
  std::fprintf(out, "\n");
}

// ---------------------------------------------------------------------------
// JSON

inline std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') { o += '\\'; o += static_cast<char>(c); }
    else if (c == '\n') o += "\\n";
    else if (c < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); o += b; }
    else o += static_cast<char>(c);
  }
  return o + "\"";
}

inline std::string json_number(double v) {
  if (std::isnan(v) || std::isinf(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

inline std::string to_json(const Env& env, const std::map<std::string, std::string>& settings,
                           const std::vector<Table>& tables) {
  std::string o = "{\n  \"benchmark\": " + json_string(bench_name()) + ",\n  \"env\": {";
  o += "\"platform\": " + json_string(env.platform) + ", \"compiler\": " + json_string(env.compiler) +
       ", \"cores\": " + std::to_string(env.cores) + ", \"build_type\": " + json_string(env.build_type) +
       ", \"ndebug\": " + (env.ndebug ? "true" : "false") + "},\n  \"settings\": {";
  bool first = true;
  for (const auto& [k, v] : settings) {
    o += (first ? "" : ", ") + json_string(k) + ": " + json_string(v);
    first = false;
  }
  o += "},\n  \"tables\": [";
  for (std::size_t ti = 0; ti < tables.size(); ++ti) {
    const Table& t = tables[ti];
    o += (ti ? ",\n" : "\n") + std::string("    {\"title\": ") + json_string(t.title) +
         ", \"reference\": " + json_string(t.reference) + ", \"notes\": " + json_string(t.notes) +
         ", \"baselines\": [";
    for (std::size_t i = 0; i < t.baselines.size(); ++i) o += (i ? ", " : "") + json_string(t.baselines[i]);
    o += "], \"rows\": [";
    for (std::size_t ri = 0; ri < t.rows.size(); ++ri) {
      const Row& r = t.rows[ri];
      o += (ri ? ",\n" : "\n") + std::string("      {\"case\": ") + json_string(r.name) +
           ", \"unit\": " + json_string(r.unit) + ", \"higher_is_better\": " +
           (r.higher_is_better ? "true" : "false") + ", \"note\": " + json_string(r.note) +
           (r.seed.empty() ? std::string() : ", \"seed\": " + json_string(r.seed)) + ", \"results\": {";
      bool f = true;
      for (const auto& [impl, s] : r.cells) {
        o += (f ? "" : ", ") + json_string(impl) + ": {\"median\": " + json_number(s.median) +
             ", \"min\": " + json_number(s.min) + ", \"max\": " + json_number(s.max) +
             ", \"ops_per_rep\": " + std::to_string(s.n) + ", \"samples\": [";
        for (std::size_t i = 0; i < s.samples.size(); ++i) o += (i ? ", " : "") + json_number(s.samples[i]);
        o += "]}";
        f = false;
      }
      o += "}, \"ratios\": {";
      f = true;
      for (const auto& b : t.baselines) {
        o += (f ? "" : ", ") + json_string(b) + ": " + json_number(ratio(r, t.reference, b));
        f = false;
      }
      o += "}}";
    }
    o += "]}";
  }
  o += "\n  ]\n}\n";
  return o;
}


// Writes `text` to `path` (--json FILE), or fails the program.
inline void write_file(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f || std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fclose(f) != 0) {
    fail("cannot write " + path);
  }
}

// ---------------------------------------------------------------------------
// Command line and calibrated runs, shared by the benchmarks

struct Options {
  bool quick = false;
  std::string json;
  int reps = 5;
  double target_s = 0.2;
  std::string filter;  // run only the "case/impl" labels containing it
};

// Parses the options every benchmark takes:
//   --quick --json FILE --reps N --target-ms MS --filter TEXT --help
// `usage` prints the program's own usage line to the stream and returns.
inline Options parse_options(int argc, char** argv, void (*usage)(std::FILE*)) {
  Options o;
  bool reps_given = false;
  auto bad = [&](int status) {
    usage(status ? stderr : stdout);
    std::exit(status);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) bad(2);
      return argv[++i];
    };
    if (a == "--quick") o.quick = true;
    else if (a == "--json") o.json = next();
    else if (a == "--reps") { o.reps = std::max(1, std::atoi(next().c_str())); reps_given = true; }
    else if (a == "--target-ms") o.target_s = std::max(1.0, std::atof(next().c_str())) / 1000;
    else if (a == "--filter") o.filter = next();
    else if (a == "--help" || a == "-h") bad(0);
    else bad(2);
  }
  if (o.quick && !reps_given) o.reps = 2;
  return o;
}

inline void print_common_options(std::FILE* out) {
  std::fprintf(out,
               "  --quick      tiny sizes, no calibration: checks the harness runs and verifies\n"
               "  --json FILE  also write the results as JSON\n"
               "  --reps N     measured repetitions per case (default 5; --quick: 2)\n"
               "  --target-ms  length of one repetition (default 200)\n"
               "  --filter     run only the \"case/implementation\" pairs containing TEXT,\n"
               "               e.g. \"8 B batched/ferry\" (for profiling)\n");
}

// --filter: "case/impl", the case named without its unit ("8 B batched/ferry").
inline bool selected(const Options& o, const std::string& name, const std::string& impl) {
  const std::string label = name.substr(0, name.find(" (")) + "/" + impl;
  return o.filter.empty() || label.find(o.filter) != std::string::npos;
}

// One timed run of n operations. Latency cases also return ns per round trip
// for each batch of round trips (or for each one, with batches of 1).
struct RunResult {
  double seconds = 0;
  std::vector<double> batch_ns;
};
using RunFn = std::function<RunResult(std::uint64_t n)>;

struct Contender {
  std::string impl;
  RunFn run;
  std::uint64_t n0;  // first calibration size (and the --quick size)
};

struct Measured {
  std::map<std::string, Stat> stats;
  std::map<std::string, std::vector<double>> batch_ns;  // pooled over repetitions
};

// Calibrates each contender to ~target_s per repetition (this also warms up),
// runs one more warm-up at that size, then runs the repetitions with the
// contenders interleaved so that background noise hits all of them alike.
// `value` turns (ops, seconds) into the reported unit; calibrated sizes are
// multiples of `granule` (a latency batch).
inline Measured measure(const Options& o, const std::string& name, std::vector<Contender> cs,
                        double (*value)(std::uint64_t, double), std::uint64_t granule = 1) {
  std::erase_if(cs, [&](const Contender& c) { return !selected(o, name, c.impl); });
  std::vector<std::uint64_t> sizes;
  for (auto& c : cs) {
    std::uint64_t n = c.n0;
    if (!o.quick) {
      for (;;) {
        const double s = c.run(n).seconds;
        if (s >= o.target_s / 4 || n >= (1ull << 40)) {
          n = static_cast<std::uint64_t>(static_cast<double>(n) * o.target_s / std::max(s, 1e-9));
          break;
        }
        n *= s > 0 ? std::clamp<std::uint64_t>(static_cast<std::uint64_t>(o.target_s / 2 / s), 2, 100) : 100;
      }
      n = std::max<std::uint64_t>(n - n % granule, granule);
    }
    c.run(n);  // warm-up at the measured size
    sizes.push_back(n);
  }
  std::vector<std::vector<double>> samples(cs.size());
  Measured m;
  for (int r = 0; r < o.reps; ++r) {
    for (std::size_t k = 0; k < cs.size(); ++k) {
      RunResult rr = cs[k].run(sizes[k]);
      samples[k].push_back(value(sizes[k], rr.seconds));
      auto& pool = m.batch_ns[cs[k].impl];
      pool.insert(pool.end(), rr.batch_ns.begin(), rr.batch_ns.end());
    }
  }
  for (std::size_t k = 0; k < cs.size(); ++k) m.stats[cs[k].impl] = make_stat(samples[k], sizes[k]);
  return m;
}

inline double mmsg_per_s(std::uint64_t n, double s) { return static_cast<double>(n) / s / 1e6; }
inline double ns_per_op(std::uint64_t n, double s) { return s * 1e9 / static_cast<double>(n); }

// What a consumer saw of a known sequence of messages; check_seen() fails
// the program unless it is the whole sequence.
struct Seen {
  std::uint64_t count = 0;
  std::uint64_t checksum = kFnvBasis;
  std::uint64_t bad = 0;  // records of the wrong size or tag, wrong echoes
  void add(std::uint64_t d) {
    checksum = fold(checksum, d);
    ++count;
  }
};

inline void check_seen(const std::string& what, const Seen& s, std::uint64_t n, std::uint64_t expected) {
  if (s.count != n || s.bad != 0 || s.checksum != expected) {
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "%s: consumer saw %llu of %llu messages, %llu malformed, checksum %016llx (expected %016llx)",
                  what.c_str(), static_cast<unsigned long long>(s.count), static_cast<unsigned long long>(n),
                  static_cast<unsigned long long>(s.bad), static_cast<unsigned long long>(s.checksum),
                  static_cast<unsigned long long>(expected));
    fail(buf);
  }
}

// ---------------------------------------------------------------------------
// Raw ferry rings, shared by the benchmarks that use one as a baseline

// One 64-byte aligned, pre-faulted allocation per ring, reused by every
// repetition (ring_init() re-formats it) so page faults are never timed.
class RingMemory {
 public:
  explicit RingMemory(std::uint32_t capacity) : capacity_(capacity) {
    const std::size_t n = (ferry::ring_bytes(capacity) + 63) & ~std::size_t{63};
    mem_.reset(static_cast<std::byte*>(std::aligned_alloc(64, n)));
    if (!mem_) fail("out of memory for a ring of " + std::to_string(capacity) + " bytes");
    std::memset(mem_.get(), 0, n);
  }
  std::byte* fresh() {
    if (auto ok = ferry::ring_init(mem_.get(), capacity_); !ok) fail(ok.error().describe());
    return mem_.get();
  }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::uint32_t capacity_;
  std::unique_ptr<std::byte, Free> mem_;
};

inline RingMemory& ring_memory(std::uint32_t capacity, int which = 0) {
  static std::map<std::pair<std::uint32_t, int>, std::unique_ptr<RingMemory>> cache;  // main thread only
  auto& slot = cache[{capacity, which}];
  if (!slot) slot = std::make_unique<RingMemory>(capacity);
  return *slot;
}

// Both endpoints of a ring, attached on the main thread; each is then moved
// into the side that uses it (see run_pair). The endpoint objects hold hot
// per-record state and are not padded to a cache line: left side by side in
// this pair they would share one.
inline std::pair<ferry::RingProducer, ferry::RingConsumer> attach(std::byte* base) {
  auto p = ferry::RingProducer::attach(base);
  if (!p) fail(p.error().describe());
  auto c = ferry::RingConsumer::attach(base);
  if (!c) fail(c.error().describe());
  return {std::move(*p), std::move(*c)};
}

// Spins (Spinner) for the next record and copies out its 8-byte payload;
// false if the record has another tag or size. Does not release.
inline bool ring_read_u64(ferry::RingConsumer& c, std::uint32_t tag, std::uint64_t& v) {
  for (Spinner s;;) {
    auto r = c.try_read();
    if (!r) fail("ferry try_read: " + r.error().describe());
    if (*r) {
      const ferry::RingRecord& rec = **r;
      if (rec.tag != tag || rec.payload.size() != sizeof v) return false;
      std::memcpy(&v, rec.payload.data(), sizeof v);
      return true;
    }
    s.spin();
  }
}

// The consumer of a spinning throughput run: reads until `count` records
// were handed to on_record (a view: copy out what you keep), releasing every
// `batch` of them (1: each) and whenever the ring runs dry, so the producer
// sees the room before this side waits.
template <class OnRecord>
void ring_read_spinning(ferry::RingConsumer& c, std::uint64_t count, std::uint64_t batch, OnRecord&& on_record) {
  std::uint64_t since_release = 0;
  Spinner s;
  for (std::uint64_t got = 0; got < count;) {
    auto r = c.try_read();
    if (!r) fail("ferry try_read: " + r.error().describe());
    if (*r) {
      on_record(**r);
      ++got;
      if (++since_release == batch) {
        c.release();
        since_release = 0;
      }
      s = Spinner{};
    } else {
      c.release();  // drained: hand the room back before waiting
      since_release = 0;
      s.spin();
    }
  }
  c.release();
}

// Its producer: writes make(0) .. make(count - 1), each as one record of its
// bytes, publishing every `batch` records (1: each), whenever the ring is
// full (the consumer can only free what it can see), and at the end.
template <class Make>
void ring_write_spinning(ferry::RingProducer& p, std::uint32_t tag, std::uint64_t count, std::uint64_t batch, Make&& make) {
  std::uint64_t unpublished = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto m = make(i);
    const auto bytes = std::as_bytes(std::span<const decltype(m), 1>(&m, 1));
    for (Spinner s;;) {
      auto r = p.try_write(tag, bytes);
      if (!r) fail("ferry try_write: " + r.error().describe());
      if (*r) break;
      p.publish();
      s.spin();
    }
    if (++unpublished == batch) {
      p.publish();
      unpublished = 0;
    }
  }
  p.publish();
}

// The producer of a bulk run: `count` records of `bytes` each, reserved in
// the ring, filled with memcpy from block_of(i) and published one by one.
template <class BlockOf>
void ring_copy_in(ferry::RingProducer& p, std::uint32_t tag, std::uint64_t count, std::size_t bytes, BlockOf&& block_of) {
  for (std::uint64_t i = 0; i < count; ++i) {
    for (Spinner s;;) {
      auto r = p.try_reserve(bytes, tag);
      if (!r) fail("ferry try_reserve: " + r.error().describe());
      if (*r) {
        std::memcpy(*r, block_of(i), bytes);
        p.commit(bytes);
        p.publish();
        break;
      }
      s.spin();
    }
  }
}

// Spins until the 8-byte record fits, then publishes it.
inline void ring_write_u64(ferry::RingProducer& p, std::uint32_t tag, std::uint64_t v) {
  for (Spinner s;;) {
    auto r = p.try_write(tag, std::as_bytes(std::span<const std::uint64_t, 1>(&v, 1)));
    if (!r) fail("ferry try_write: " + r.error().describe());
    if (*r) break;
    s.spin();
  }
  p.publish();
}

// --- Round trips ----------------------------------------------------------------------

inline float ns_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<float, std::nano>(b - a).count();
}

// The value of round trip i: distinct, never 0 and never ~0.
inline std::uint64_t ping_value(std::uint64_t i) { return (i + 1) * 0x9E3779B97F4A7C15ull; }

// n timed round trips, the echoes that came back wrong, the whole run's time.
struct RoundTrips {
  std::vector<float> ns;
  std::uint64_t bad = 0;
  double seconds = 0;
};

// Two threads spinning on two 4 KiB ferry rings, one 8-byte record each way
// per round trip: the ring's round trip with no wake.
inline RoundTrips ring_round_trips(std::uint64_t n) {
  constexpr std::uint32_t kTag = 7;
  auto [ping_tx, pong_rx] = attach(ring_memory(4096, 0).fresh());
  auto [pong_tx, ping_rx] = attach(ring_memory(4096, 1).fresh());
  RoundTrips out;
  run_pair(
      [n, tx = std::move(ping_tx), rx = std::move(ping_rx), &out]() mutable {
        RoundTrips mine;
        mine.ns.reserve(n);
        const auto t0 = Clock::now();
        for (std::uint64_t i = 0; i < n; ++i) {
          const auto t = Clock::now();
          const std::uint64_t v = ping_value(i);
          ring_write_u64(tx, kTag, v);
          std::uint64_t back = 0;
          if (!ring_read_u64(rx, kTag, back) || back != v) ++mine.bad;
          rx.release();
          mine.ns.push_back(ns_between(t, Clock::now()));
        }
        mine.seconds = seconds_since(t0);
        out = std::move(mine);
      },
      [n, rx = std::move(pong_rx), tx = std::move(pong_tx)]() mutable {
        for (std::uint64_t i = 0; i < n; ++i) {
          std::uint64_t v = 0;
          if (!ring_read_u64(rx, kTag, v)) v = ~std::uint64_t{0};
          ring_write_u64(tx, kTag, v);
          rx.release();
        }
      });
  return out;
}

}  // namespace ferry::bench
