// ferry workers: Task<T>, the one coroutine type.
//
// A Task is lazy: it starts when awaited (or spawned on an Executor). Awaiting
// a task resumes it by symmetric transfer, and a finished task transfers back
// to its awaiter, so chains of any depth never grow the stack (cppcoro's
// design). An exception thrown inside propagates to the awaiter; at the
// executor's spawn boundary it becomes an Error (TaskFailed).
#pragma once

#include "../core/coro.hpp"
#include "../core/error.hpp"
#include "crash.hpp"

#include <cassert>
#include <exception>
#include <optional>
#include <string>
#include <utility>

namespace ferry {

template <class T = void>
class Task;

namespace detail {

struct TaskPromiseBase {
  coro::coroutine_handle<> continuation;
  std::exception_ptr exception;

  coro::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    coro::coroutine_handle<> await_suspend(coro::coroutine_handle<P> h) noexcept {
      auto next = h.promise().continuation;
      return next ? next : coro::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
};

template <class T>
struct TaskPromise : TaskPromiseBase {
  std::optional<T> value;
  Task<T> get_return_object() noexcept;
  template <class U>
  void return_value(U&& v) { value.emplace(std::forward<U>(v)); }
  T take() {
    if (exception) std::rethrow_exception(exception);
    assert(value && "task finished without a value");
    return std::move(*value);
  }
};

template <>
struct TaskPromise<void> : TaskPromiseBase {
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take() {
    if (exception) std::rethrow_exception(exception);
  }
};

}  // namespace detail

template <class T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::TaskPromise<T>;
  using value_type = T;

  Task() = default;
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~Task() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }

  auto operator co_await() && noexcept {
    struct Awaiter {
      coro::coroutine_handle<promise_type> h;
      bool await_ready() const noexcept { return !h || h.done(); }
      coro::coroutine_handle<> await_suspend(coro::coroutine_handle<> awaiting) noexcept {
        h.promise().continuation = awaiting;
        return h;  // symmetric transfer: start the task
      }
      T await_resume() { return h.promise().take(); }
    };
    return Awaiter{h_};
  }

  // For executors: hand over the frame (the caller destroys it when done).
  coro::coroutine_handle<promise_type> release() noexcept { return std::exchange(h_, {}); }

 private:
  friend promise_type;
  explicit Task(coro::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  coro::coroutine_handle<promise_type> h_;
};

namespace detail {
template <class T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(coro::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}
inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>(coro::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}
}  // namespace detail

// Runs `task` to completion and turns the outcome into a Result: an exception
// becomes TaskFailed (or the Error itself if an Error was thrown), and a
// Task<Result<U>> is flattened into Result<U>.
template <class T>
struct TaskOutcome {
  using type = Result<T>;
};
template <class U>
struct TaskOutcome<Result<U>> {
  using type = Result<U>;
};

template <class T>
Task<typename TaskOutcome<T>::type> catch_errors(Task<T> task, std::string origin) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(task);
      co_return Result<void>{};
    } else {
      co_return typename TaskOutcome<T>::type(co_await std::move(task));
    }
  } catch (const WorkerCrash&) {
    throw;
  } catch (const Error& e) {
    co_return e;
  } catch (const std::exception& e) {
    co_return Error::make(ErrorKind::TaskFailed, e.what(), std::move(origin));
  } catch (...) {
    co_return Error::make(ErrorKind::TaskFailed, "task threw a non-std::exception value", std::move(origin));
  }
}

}  // namespace ferry
