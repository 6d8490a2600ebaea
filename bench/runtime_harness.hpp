// ferry bench: helpers for the benchmarks that run ferry's runtime (executors,
// coroutine tasks, the pool) — shared by runtime_bench and channel_bench.
#pragma once

#include "workers/executor.hpp"
#include "workers/task.hpp"

#include "bench/bench_harness.hpp"

#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>

namespace ferry::bench {

// An executor looping on its own thread for the length of the benchmark.
struct Running {
  ferry::Executor ex;
  std::thread thread{[this] { ex.run(); }};
  ~Running() {
    ex.stop();
    thread.join();
  }
};

// Spawns `task` on r's executor; the future gets its outcome.
template <class T>
std::future<ferry::Result<T>> start(Running& r, ferry::Task<ferry::Result<T>> task) {
  auto p = std::make_shared<std::promise<ferry::Result<T>>>();
  auto f = p->get_future();
  r.ex.spawn(std::move(task), [p](ferry::Result<T> out) { p->set_value(std::move(out)); });
  return f;
}

// The value, or the program fails naming `what` and the error.
template <class T>
T must(const std::string& what, ferry::Result<T> r) {
  if (!r) fail(what + ": " + r.error().describe());
  return std::move(*r);
}

}  // namespace ferry::bench
