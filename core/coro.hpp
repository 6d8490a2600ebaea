// ferry core: the one place that picks the coroutine header.
//
// g++ 12 and clang natively ship <coroutine>. Emscripten 3.1.6's libc++ only
// has <experimental/coroutine> (clang 14 accepts it under -std=c++20 with a
// deprecation warning, silenced in cmake/ferry.cmake). Everything in ferry
// says ferry::coro::coroutine_handle etc. and includes only this header.
#pragma once

#if __has_include(<coroutine>) && !defined(__EMSCRIPTEN__)
#include <coroutine>
namespace ferry::coro {
using std::coroutine_handle;
using std::noop_coroutine;
using std::suspend_always;
using std::suspend_never;
}  // namespace ferry::coro
#else
#include <experimental/coroutine>
namespace ferry::coro {
using std::experimental::coroutine_handle;
using std::experimental::noop_coroutine;
using std::experimental::suspend_always;
using std::experimental::suspend_never;
}  // namespace ferry::coro
#endif
