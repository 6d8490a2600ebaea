// Test that the header is self-contained: it comes first.
#include "core/coro.hpp"

#include <gtest/gtest.h>

namespace {
// The smallest coroutine type: proves the compat header gives a working
// coroutine machinery on both compilers (native <coroutine>, Emscripten
// <experimental/coroutine>).
struct Counter {
  struct promise_type {
    int value = 0;
    Counter get_return_object() { return Counter{ferry::coro::coroutine_handle<promise_type>::from_promise(*this)}; }
    ferry::coro::suspend_always initial_suspend() noexcept { return {}; }
    ferry::coro::suspend_always final_suspend() noexcept { return {}; }
    ferry::coro::suspend_always yield_value(int v) noexcept { value = v; return {}; }
    void return_void() noexcept {}
    void unhandled_exception() { throw; }
  };
  ferry::coro::coroutine_handle<promise_type> h;
  ~Counter() { if (h) h.destroy(); }
};

Counter count_to(int n) {
  for (int i = 1; i <= n; ++i) co_yield i;
}
}  // namespace

TEST(Coro, CompatHeaderRunsACoroutineToCompletion) {
  Counter c = count_to(3);
  int sum = 0;
  for (c.h.resume(); !c.h.done(); c.h.resume()) sum += c.h.promise().value;
  EXPECT_EQ(sum, 6);
}
