// The app's command line: the same tasks as the page, on a native pool (or,
// built with Emscripten, on pthreads under Node).
//
//   app_cli [N]   counts the primes below N (default 200000) on every worker
//                 and checks the count against one thread; greets; sends
//                 three lines through the app.line_stats stream. Exits 1 if
//                 any answer is wrong.
#include "../tasks/tasks.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

int fail(const char* what, const ferry::Error& e) {
  std::fprintf(stderr, "app_cli: %s failed: %s\n", what, e.message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  ferry::WorkerPool pool({.workers = 2});

  // One call per slice of [0, n), spread over the workers, then the sum.
  const std::uint64_t slices = 8;
  std::vector<ferry::Call<std::uint64_t>> calls;
  for (std::uint64_t i = 0; i < slices; ++i) {
    calls.push_back(pool.call<std::uint64_t>("app.count_primes", n * i / slices, n * (i + 1) / slices));
  }
  std::uint64_t primes = 0;
  for (auto& c : calls) {
    auto r = c.get();
    if (!r) return fail("app.count_primes", r.error());
    primes += *r;
  }
  const std::uint64_t expected = app::count_primes(0, n);
  std::printf("primes below %llu: %llu (one thread: %llu)\n", static_cast<unsigned long long>(n),
              static_cast<unsigned long long>(primes), static_cast<unsigned long long>(expected));

  auto hello = pool.call<std::string>("app.greet", "cli").get();  // a string literal argument
  if (!hello) return fail("app.greet", hello.error());
  auto version = pool.call<std::string>("app.version").get();
  if (!version) return fail("app.version", version.error());
  std::printf("%s (tasks %s)\n", hello->c_str(), version->c_str());

  auto s = pool.stream<std::string, app::LineStats>("app.line_stats");
  if (!s) return fail("app.line_stats", s.error());
  const char* lines[] = {"the quick brown fox", "", "  jumps  over the lazy dog "};
  for (const char* line : lines) {
    if (auto sent = s->tx.send_blocking(line); !sent) return fail("sending a line", sent.error());
  }
  s->tx.close();
  std::uint32_t words = 0, chars = 0, count = 0;
  while (auto st = s->rx.recv_blocking()) {
    std::printf("line %u: %u words, %u chars\n", st->line, st->words, st->chars);
    words += st->words;
    chars += st->chars;
    ++count;
  }
  if (auto done = s->done.get(); !done) return fail("app.line_stats", done.error());

  const bool ok = primes == expected && *hello == "hello, cli" && count == 3 && words == 9 && chars == 46;
  std::printf("%s\n", ok ? "app_cli: all answers correct" : "app_cli: WRONG ANSWER");
  return ok ? 0 : 1;
}
