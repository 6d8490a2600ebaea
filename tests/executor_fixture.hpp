// Test fixtures for code that runs on executors: an Executor on its own
// thread for the length of a test, and ways to start a Task there and wait
// (bounded) for its outcome.
#pragma once

#include "workers/executor.hpp"
#include "workers/task.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <thread>
#include <type_traits>

namespace ferry::test {

// Declare what a test's coroutines refer to (streams, pools) *before* the
// Running objects, so the executors (and the frames they still hold) go first.
struct Running {
  Executor ex;
  std::thread thread{[this] { ex.run(); }};
  ~Running() {
    ex.stop();
    thread.join();
  }
  // Runs fn on the executor's thread and returns its result (bounded wait).
  template <class F>
  auto on_executor(F fn) {
    std::promise<decltype(fn())> p;
    auto f = p.get_future();
    ex.post([&] {
      if constexpr (std::is_void_v<decltype(fn())>) {
        fn();
        p.set_value();
      } else {
        p.set_value(fn());
      }
    });
    EXPECT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return f.get();
  }
};

// Spawns `task` on r; the future receives its outcome (a Result).
template <class T>
auto start(Running& r, Task<T> task) {
  using Outcome = typename TaskOutcome<T>::type;
  auto p = std::make_shared<std::promise<Outcome>>();
  auto f = p->get_future();
  r.ex.spawn(std::move(task), [p](Outcome out) { p->set_value(std::move(out)); });
  return f;
}

// The outcome, or a failed test and an abort: frames still running would
// outlive what they refer to.
template <class R>
R get(std::future<R>& f, std::chrono::seconds limit = std::chrono::seconds(30)) {
  if (f.wait_for(limit) != std::future_status::ready) {
    ADD_FAILURE() << "task did not finish within " << limit.count() << " s";
    std::abort();
  }
  return f.get();
}
template <class R>
R get(std::future<R>&& f, std::chrono::seconds limit = std::chrono::seconds(30)) {
  return get(f, limit);
}

// The value, or a failed test and an abort (setup that must work).
template <class T>
T must(Result<T> r) {
  if (!r) {
    ADD_FAILURE() << r.error().describe();
    std::abort();
  }
  return std::move(r).value();
}

template <class T>
auto run_task(Running& r, Task<T> task) {
  return get(start(r, std::move(task)), std::chrono::seconds(10));
}

}  // namespace ferry::test
