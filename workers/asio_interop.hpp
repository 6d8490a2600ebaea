// ferry workers: await any Asio asynchronous operation from a ferry Task.
//
//   asio::steady_timer timer(ex.asio(), 5ms);
//   std::error_code ec = co_await timer.async_wait(ferry::use_task);
//   int v = co_await asio::co_spawn(ex.asio(), some_awaitable(), ferry::use_task);
//
// use_task is an Asio completion token (like asio::use_awaitable). The
// operation is started when the task suspends; its completion handler may run
// on any thread (Asio's service thread, an io_context) and only posts the
// resumption to the executor the task runs on, so the task always continues
// on its own executor. Completion values come back as one value, a
// std::tuple for several, or nothing for none. An exception_ptr first
// argument that is set (co_spawn's failure) is rethrown in the task.
#pragma once

#include "executor.hpp"

#include <asio/async_result.hpp>

#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace ferry {

struct UseTask {};
inline constexpr UseTask use_task{};

namespace detail {

template <class... Args>
struct AsioResult {
  using stored = std::tuple<std::decay_t<Args>...>;
  static auto unpack(stored&& t) {
    if constexpr (sizeof...(Args) == 0) {
      return;
    } else if constexpr (sizeof...(Args) == 1) {
      return std::get<0>(std::move(t));
    } else {
      return std::move(t);
    }
  }
};

// co_spawn completes with (exception_ptr, T...): rethrow, then return the rest.
template <class... Rest>
struct AsioResult<std::exception_ptr, Rest...> {
  using stored = std::tuple<std::exception_ptr, std::decay_t<Rest>...>;
  static auto unpack(stored&& t) {
    if (std::get<0>(t)) std::rethrow_exception(std::get<0>(t));
    if constexpr (sizeof...(Rest) == 0) {
      return;
    } else if constexpr (sizeof...(Rest) == 1) {
      return std::get<1>(std::move(t));
    } else {
      return std::apply([](auto&&, auto&&... rest) { return std::make_tuple(std::move(rest)...); }, std::move(t));
    }
  }
};

template <class Initiation, class InitArgs, class... Args>
class AsioAwaiter {
 public:
  AsioAwaiter(Initiation init, InitArgs args) : init_(std::move(init)), args_(std::move(args)) {}

  bool await_ready() const noexcept { return false; }
  void await_suspend(coro::coroutine_handle<> h) {
    Scheduler* sched = Scheduler::current();
    if (sched == nullptr) throw Error::make(ErrorKind::InvalidArgument, "use_task awaited outside a ferry executor", "workers/asio");
    auto handler = [this, sched, h](Args... results) {
      result_.emplace(std::move(results)...);
      sched->post([h]() mutable { h.resume(); });
    };
    std::apply([&](auto&&... a) { std::move(init_)(std::move(handler), std::move(a)...); }, std::move(args_));
  }
  auto await_resume() { return AsioResult<Args...>::unpack(std::move(*result_)); }

 private:
  Initiation init_;
  InitArgs args_;
  std::optional<typename AsioResult<Args...>::stored> result_;
};

}  // namespace detail
}  // namespace ferry

namespace asio {
template <class... Args>
class async_result<ferry::UseTask, void(Args...)> {
 public:
  template <class Initiation, class... InitArgs>
  static auto initiate(Initiation init, ferry::UseTask, InitArgs... args) {
    return ferry::detail::AsioAwaiter<Initiation, std::tuple<InitArgs...>, Args...>(std::move(init),
                                                                                     std::make_tuple(std::move(args)...));
  }
};
}  // namespace asio
