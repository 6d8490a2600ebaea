#include "tasks.hpp"

#include <cctype>

namespace app {

std::uint64_t count_primes(std::uint64_t lo, std::uint64_t hi) {
  std::uint64_t n = 0;
  for (std::uint64_t v = lo < 2 ? 2 : lo; v < hi; ++v) {
    bool prime = true;
    for (std::uint64_t d = 2; d * d <= v; ++d) {
      if (v % d == 0) {
        prime = false;
        break;
      }
    }
    n += prime ? 1 : 0;
  }
  return n;
}

std::string greet(std::string name) { return "hello, " + name; }

ferry::Task<void> line_stats(ferry::Receiver<std::string> in, ferry::Sender<LineStats> out) {
  std::uint32_t line = 0;
  while (auto text = co_await in.recv()) {  // ends when the caller closes its side
    LineStats s{++line, 0, static_cast<std::uint32_t>(text->size())};
    bool in_word = false;
    for (unsigned char c : *text) {
      const bool space = std::isspace(c) != 0;
      if (!space && !in_word) ++s.words;
      in_word = !space;
    }
    if (!co_await out.send(s)) co_return;  // suspends while the caller is behind
  }
}

}  // namespace app

// Qualified names need FERRY_EXPORT_AS (FERRY_EXPORT takes a plain identifier).
FERRY_EXPORT_AS("app.count_primes", app::count_primes);
FERRY_EXPORT_AS("app.greet", app::greet);
FERRY_EXPORT_AS("app.version", [] { return std::string("1.0"); });
FERRY_EXPORT_STREAM_AS("app.line_stats", app::line_stats);
