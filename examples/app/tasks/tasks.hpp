// The app's compute tasks: what runs on ferry's workers, natively (cli/) and
// in the page (the wasm module of CMakeLists.txt, web/). tasks.cpp exports
// them to the pool:
//   app.count_primes (lo, hi) -> u64          primes in [lo, hi)
//   app.greet        (name) -> string
//   app.version      () -> string             (a lambda)
//   app.line_stats   stream: lines in, LineStats out
#pragma once

#include <ferry/ferry.hpp>

#include <cstdint>
#include <string>

namespace app {

std::uint64_t count_primes(std::uint64_t lo, std::uint64_t hi);
std::string greet(std::string name);

struct LineStats {
  std::uint32_t line = 0;   // 1-based, in the order the lines were sent
  std::uint32_t words = 0;  // runs of non-space characters
  std::uint32_t chars = 0;  // bytes
};
FERRY_STRUCT(LineStats, line, words, chars)

ferry::Task<void> line_stats(ferry::Receiver<std::string> in, ferry::Sender<LineStats> out);

}  // namespace app
