// ferry workers: the task registry — C++ functions callable by name.
//
//   int add(int a, int b) { return a + b; }
//   FERRY_EXPORT(add);
//   ferry::Task<std::string> slow_echo(std::string s, ferry::CancelToken stop);
//   FERRY_EXPORT(slow_echo);
//
// An exported function may return a value, a Result<T>, a Task<T> or a
// Task<Result<T>>; its arguments and result are marshalled by the codec
// (arguments travel as one array). A last parameter of type CancelToken is
// not marshalled: the worker passes the call's cancellation token, so a
// cancelled or timed-out call is visible to the running coroutine.
// Registration happens during static initialisation; lookups afterwards are
// read-only and need no lock.
#pragma once

#include "core/cancel.hpp"
#include "core/codec.hpp"
#include "core/error.hpp"
#include "workers/task.hpp"

#include <functional>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace ferry {

// Runs one call: decodes `args`, runs the function, encodes its result.
using TaskInvoker = std::function<Task<Result<std::vector<std::byte>>>(std::span<const std::byte> args, CancelToken)>;

struct TaskEntry {
  std::string name;
  std::string signature;  // for error messages: "add(i32, i32) -> i32"-ish
  TaskInvoker invoke;
};

class TaskRegistry {
 public:
  static TaskRegistry& instance() {
    static TaskRegistry registry;
    return registry;
  }
  bool add(TaskEntry entry) {
    auto name = entry.name;
    return entries_.emplace(std::move(name), std::move(entry)).second;
  }
  const TaskEntry* find(std::string_view name) const {
    auto it = entries_.find(std::string(name));
    return it == entries_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (auto& [name, entry] : entries_) out.push_back(name);
    return out;
  }

 private:
  std::map<std::string, TaskEntry> entries_;
};

namespace detail {

template <class T>
struct IsTask : std::false_type {};
template <class T>
struct IsTask<Task<T>> : std::true_type {};

template <class... Args>
constexpr bool last_is_cancel() {
  if constexpr (sizeof...(Args) == 0) {
    return false;
  } else {
    return std::is_same_v<std::decay_t<std::tuple_element_t<sizeof...(Args) - 1, std::tuple<Args...>>>, CancelToken>;
  }
}

template <std::size_t... I, class Tuple>
auto take_front(Tuple&& t, std::index_sequence<I...>) {
  return std::make_tuple(std::get<I>(std::forward<Tuple>(t))...);
}

template <class R, class... Args>
TaskInvoker make_invoker(R (*fn)(Args...), std::string name) {
  using Params = std::tuple<std::decay_t<Args>...>;
  constexpr bool kCancel = last_is_cancel<Args...>();
  constexpr std::size_t kMarshalled = sizeof...(Args) - (kCancel ? 1 : 0);
  using Marshalled = decltype(take_front(std::declval<Params>(), std::make_index_sequence<kMarshalled>{}));

  return [fn, name](std::span<const std::byte> bytes, CancelToken cancel) -> Task<Result<std::vector<std::byte>>> {
    auto args = decode<Marshalled>(bytes);
    if (!args) {
      Error e = std::move(args).error();
      e.message = "arguments of " + name + ": " + e.message;
      co_return e;
    }
    auto call = [&](auto&&... a) -> R {
      if constexpr (kCancel) {
        return fn(std::move(a)..., cancel);
      } else {
        (void)cancel;
        return fn(std::move(a)...);
      }
    };
    // encode() turns a Result holding an error into an error value (0x14),
    // which the caller decodes back into the same Error.
    if constexpr (std::is_same_v<R, void>) {
      std::apply(call, std::move(*args));
      co_return encode(std::monostate{});
    } else if constexpr (std::is_same_v<R, Task<void>>) {
      co_await std::apply(call, std::move(*args));
      co_return encode(std::monostate{});
    } else if constexpr (!IsTask<R>::value) {
      co_return encode(std::apply(call, std::move(*args)));
    } else {
      co_return encode(co_await std::apply(call, std::move(*args)));
    }
  };
}

inline bool register_task(std::string name, TaskInvoker invoker) {
  return TaskRegistry::instance().add(TaskEntry{name, name, std::move(invoker)});
}

}  // namespace detail
}  // namespace ferry

// Exports a free function under its own name (see the top of this file).
#define FERRY_EXPORT(fn)                                                                    \
  [[maybe_unused]] static const bool ferry_exported_##fn =                                  \
      ::ferry::detail::register_task(#fn, ::ferry::detail::make_invoker(&fn, #fn))
