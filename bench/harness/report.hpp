// ferry bench harness, report: the environment header (platform, compiler, cores, build type), tables and their ratios, and the JSON the report generator reads.
// Part of bench/bench_harness.hpp, which includes the parts in order after the
// headers they use: include bench/bench_harness.hpp, not this file.
#pragma once

namespace ferry::bench {

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

}  // namespace ferry::bench
