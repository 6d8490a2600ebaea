// ferry bench harness, runs: the command line every benchmark shares and the calibrated, repeated, interleaved runs.
// Part of bench/bench_harness.hpp, which includes the parts in order after the
// headers they use: include bench/bench_harness.hpp, not this file.
#pragma once

namespace ferry::bench {

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

}  // namespace ferry::bench
