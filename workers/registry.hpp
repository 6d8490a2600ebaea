// ferry workers: the task registry — C++ functions callable by name.
//
//   int add(int a, int b) { return a + b; }
//   FERRY_EXPORT(add);
//   ferry::Task<std::string> slow_echo(std::string s, ferry::CancelToken stop);
//   FERRY_EXPORT(slow_echo);
//   ferry::Task<void> upper(ferry::Receiver<std::string> in, ferry::Sender<std::string> out);
//   FERRY_EXPORT_STREAM(upper);   // opened with pool.stream<std::string, std::string>("upper")
//   FERRY_EXPORT_AS("images.scale", images::scale);   // an explicit name (see below)
//
// An exported function may return a value, a Result<T>, a Task<T> or a
// Task<Result<T>>; its arguments and result are marshalled by the codec
// (arguments travel as one array). A last parameter of type CancelToken is
// not marshalled: the worker passes the call's cancellation token, so a
// cancelled or timed-out call is visible to the running coroutine.
// Registration happens during static initialisation; lookups afterwards are
// read-only and need no lock.
#pragma once

#include "../core/cancel.hpp"
#include "../core/codec.hpp"
#include "../core/error.hpp"
#include "../core/schema.hpp"
#include "../stream/receiver.hpp"
#include "../stream/sender.hpp"
#include "task.hpp"

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace ferry {

// Runs one call: decodes `args`, runs the function, encodes its result.
using TaskInvoker = std::function<Task<Result<std::vector<std::byte>>>(std::span<const std::byte> args, CancelToken)>;
// The same for a plain (not coroutine) function, run inline by the worker:
// no coroutine frame, the arguments are decoded straight from the ring and
// the result is encoded into `out` (replacing what it held; a reused buffer,
// so a call allocates nothing). Exceptions pass through (the worker turns
// them into TaskFailed).
using SyncInvoker =
    std::function<Result<void>(std::span<const std::byte> args, CancelToken, std::vector<std::byte>& out)>;

// Runs one streaming task over two rings made by the caller: it receives on
// `in` and sends on `out`; `keepalive` owns the ring memory.
struct StreamRings {
  void* in;
  void* out;
  std::shared_ptr<void> keepalive;
};
// Told that a stream's task ended, before its Receiver and Sender close the
// rings: from then on the task's outcome is the call's (the pool settles it
// once the rings have ended), so the caller's `done` and the rings' end tell
// the same story. Returns the kind the rings must end with when something
// else (a cancel, a timeout, shutdown) had ended the call first; nothing if
// the task's outcome will be the call's.
using StreamEnding = std::function<std::optional<ErrorKind>()>;
using StreamInvoker = std::function<Task<Result<std::vector<std::byte>>>(
    StreamRings rings, std::span<const std::byte> args, CancelToken, StreamEnding ending)>;

struct TaskEntry {
  std::string name;
  bool takes_token = false;     // its last parameter is a CancelToken
  SyncInvoker invoke_sync;      // FERRY_EXPORT of a plain function
  TaskInvoker invoke;           // FERRY_EXPORT of a coroutine (returns Task<T>)
  StreamInvoker invoke_stream;  // FERRY_EXPORT_STREAM
  // Wire types (core/CODEC.md "Schemas"): "(i32,i32) -> i32" for a call,
  // "(ARGS) IN -> OUT" for a stream; what a JavaScript caller encodes by.
  std::string signature;
};

class TaskRegistry {
 public:
  static TaskRegistry& instance() {
    // Never destroyed: a worker thread that a pool's shutdown left behind
    // inside a task (ShutdownReport) may still look its task up while the
    // process exits and runs static destructors.
    static TaskRegistry* const registry = new TaskRegistry;
    return *registry;
  }
  // A second task under a name already taken is not registered; the name is
  // remembered, and duplicates() names it, so that a pool refuses to start
  // instead of one of the two silently winning.
  bool add(TaskEntry entry) {
    auto name = entry.name;
    if (entries_.emplace(name, std::move(entry)).second) return true;
    duplicates_.push_back(std::move(name));
    return false;
  }
  const TaskEntry* find(std::string_view name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (auto& [name, entry] : entries_) out.push_back(name);
    return out;
  }
  // Names exported more than once ("" when there are none): the error a
  // pool starts with.
  std::string duplicates() const {
    std::string out;
    for (const auto& name : duplicates_) out += (out.empty() ? "" : ", ") + ("\"" + name + "\"");
    return out;
  }

 private:
  std::map<std::string, TaskEntry, std::less<>> entries_;  // transparent: find() allocates nothing
  std::vector<std::string> duplicates_;
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

// The parameters that travel: all but a last CancelToken, as one tuple.
template <class... Args>
using MarshalledArgs =
    decltype(take_front(std::declval<std::tuple<std::decay_t<Args>...>>(),
                        std::make_index_sequence<sizeof...(Args) - (last_is_cancel<Args...>() ? 1 : 0)>{}));

// What a call's answer decodes as: the function's value (unit for void),
// unwrapping a Task.
template <class R>
struct AnswerOf {
  using type = R;
};
template <>
struct AnswerOf<void> {
  using type = std::monostate;
};
template <class T>
struct AnswerOf<Task<T>> : AnswerOf<T> {};

template <class R, class... Args>
std::string signature_of(R (*)(Args...)) {
  return schema_of<MarshalledArgs<Args...>>() + " -> " + schema_of<typename AnswerOf<R>::type>();
}
template <class R, class In, class Out, class... Args>
std::string signature_of(R (*)(Receiver<In>, Sender<Out>, Args...)) {
  return schema_of<MarshalledArgs<Args...>>() + " " + schema_of<In>() + " -> " + schema_of<Out>();
}

// Decodes the arguments of `name` from `bytes` and calls fn with them (and
// the token, if fn takes one last); an Error if the arguments do not decode.
template <class R, class... Args>
auto call_with_args(R (*fn)(Args...), const std::string& name, std::span<const std::byte> bytes, CancelToken& cancel)
    -> Result<std::optional<std::conditional_t<std::is_void_v<R>, std::monostate, R>>> {
  using Marshalled = MarshalledArgs<Args...>;
  auto args = decode<Marshalled>(bytes);
  if (!args) {
    Error e = std::move(args).error();
    e.message = "arguments of " + name + ": " + e.message;
    return e;
  }
  auto call = [&](auto&&... a) -> R {
    if constexpr (last_is_cancel<Args...>()) {
      return fn(std::move(a)..., cancel);
    } else {
      return fn(std::move(a)...);
    }
  };
  if constexpr (std::is_void_v<R>) {
    std::apply(call, std::move(*args));
    return std::optional<std::monostate>(std::monostate{});
  } else {
    return std::optional<R>(std::apply(call, std::move(*args)));
  }
}

// A plain function: runs inline on the worker (see SyncInvoker).
template <class R, class... Args>
SyncInvoker make_sync_invoker(R (*fn)(Args...), std::string name) {
  return [fn, name](std::span<const std::byte> bytes, CancelToken cancel, std::vector<std::byte>& out) -> Result<void> {
    auto value = call_with_args(fn, name, bytes, cancel);
    if (!value) return std::move(value).error();
    // encode() turns a Result holding an error into an error value (0x14),
    // which the caller decodes back into the same Error.
    out.clear();
    Writer writer(out);
    return encode(writer, **value, preferred_form<std::remove_cvref_t<decltype(**value)>>());
  };
}

// A coroutine: the worker spawns it on its executor.
template <class R, class... Args>
TaskInvoker make_invoker(R (*fn)(Args...), std::string name) {
  static_assert(IsTask<R>::value);
  return [fn, name](std::span<const std::byte> bytes, CancelToken cancel) -> Task<Result<std::vector<std::byte>>> {
    auto task = call_with_args(fn, name, bytes, cancel);
    if (!task) co_return std::move(task).error();
    if constexpr (std::is_same_v<R, Task<void>>) {
      co_await std::move(**task);
      co_return encode(std::monostate{});
    } else {
      auto answer = co_await std::move(**task);
      co_return encode(answer, preferred_form<decltype(answer)>());
    }
  };
}

template <class R, class... Args>
TaskEntry task_entry(R (*fn)(Args...), std::string name) {
  TaskEntry e;
  e.name = name;
  e.signature = signature_of(fn);
  e.takes_token = last_is_cancel<Args...>();
  if constexpr (IsTask<R>::value) {
    e.invoke = make_invoker(fn, std::move(name));
  } else {
    e.invoke_sync = make_sync_invoker(fn, std::move(name));
  }
  return e;
}

inline bool register_task(TaskEntry entry) { return TaskRegistry::instance().add(std::move(entry)); }
inline bool register_stream_task(std::string name, StreamInvoker invoker, std::string signature) {
  TaskEntry e;
  e.name = std::move(name);
  e.invoke_stream = std::move(invoker);
  e.signature = std::move(signature);
  return TaskRegistry::instance().add(std::move(e));
}

// A streaming task: Task<void> or Task<Result<void>> fn(Receiver<In>, Sender<Out>, args...[, CancelToken]).
template <class R, class In, class Out, class... Args>
StreamInvoker make_stream_invoker(R (*fn)(Receiver<In>, Sender<Out>, Args...), std::string name) {
  static_assert(IsTask<R>::value, "a streaming task is a coroutine returning Task<void> or Task<Result<void>>");
  constexpr bool kCancel = last_is_cancel<Args...>();
  using Marshalled = MarshalledArgs<Args...>;

  return [fn, name](StreamRings rings, std::span<const std::byte> bytes, CancelToken cancel,
                    StreamEnding ending) -> Task<Result<std::vector<std::byte>>> {
    auto args = decode<Marshalled>(bytes);
    auto rx = Receiver<In>::over(rings.in, rings.keepalive);
    auto tx = Sender<Out>::over(rings.out, rings.keepalive);
    if (!args || !rx || !tx) {
      Error e = !args ? std::move(args).error() : !rx ? std::move(rx).error() : std::move(tx).error();
      if (!args) e.message = "arguments of " + name + ": " + e.message;
      // The caller's ends must not wait forever for a task that never ran.
      ring_abort(rings.in, e.kind);
      ring_abort(rings.out, e.kind);
      co_return e;
    }
    auto call = [&](auto&&... a) -> R {
      if constexpr (kCancel) {
        return fn(std::move(*rx), std::move(*tx), std::move(a)..., cancel);
      } else {
        (void)cancel;
        return fn(std::move(*rx), std::move(*tx), std::move(a)...);
      }
    };
    std::optional<Error> failed;
    {
      // `task` owns the coroutine's frame, and so the task's Receiver and
      // Sender: they close their rings when it is destroyed, at the end of
      // this block, before the pool settles the call with `outcome`.
      R task = std::apply(call, std::move(*args));
      try {
        if constexpr (std::is_same_v<R, Task<void>>) {
          co_await std::move(task);
        } else if (auto r = co_await std::move(task); !r) {
          failed = std::move(r).error();
        }
      } catch (const WorkerCrash&) {
        throw;
      } catch (const Error& e) {
        failed = e;
      } catch (const std::exception& e) {
        failed = Error::make(ErrorKind::TaskFailed, e.what(), name);
      } catch (...) {
        failed = Error::make(ErrorKind::TaskFailed, "task threw a non-std::exception value", name);
      }
      // The rings end with the call's outcome: a failed task's or the early
      // end's kind, not a plain Closed, so the caller's recv() and send() tell
      // failure from a normal end (the first reason set wins).
      std::optional<ErrorKind> reason = ending();
      if (!reason && failed) reason = failed->kind;
      if (reason) {
        ring_set_close_reason(rings.in, *reason);
        ring_set_close_reason(rings.out, *reason);
      }
    }
    co_return failed ? Result<std::vector<std::byte>>(*failed) : encode(std::monostate{});
  };
}

}  // namespace detail
}  // namespace ferry

#define FERRY_DETAIL_CAT2(a, b) a##b
#define FERRY_DETAIL_CAT(a, b) FERRY_DETAIL_CAT2(a, b)

// Exports a function under an explicit name: a qualified name, one overload
// (cast it: static_cast<int (*)(int)>(&scale)) or a lambda without captures.
//   FERRY_EXPORT_AS("images.scale", images::scale);
//   FERRY_EXPORT_AS("twice", [](int v) { return 2 * v; });
#define FERRY_EXPORT_AS(name, fn)                                                           \
  [[maybe_unused]] static const bool FERRY_DETAIL_CAT(ferry_exported_as_, __COUNTER__) =   \
      ::ferry::detail::register_task(::ferry::detail::task_entry(+(fn), name))

// The same for a streaming task.
#define FERRY_EXPORT_STREAM_AS(name, fn)                                                            \
  [[maybe_unused]] static const bool FERRY_DETAIL_CAT(ferry_exported_stream_as_, __COUNTER__) =    \
      ::ferry::detail::register_stream_task(name, ::ferry::detail::make_stream_invoker(+(fn), name), \
                                            ::ferry::detail::signature_of(+(fn)))

// Exports a streaming task (see the top of this file).
#define FERRY_EXPORT_STREAM(fn)                                                             \
  [[maybe_unused]] static const bool ferry_exported_##fn =                                  \
      ::ferry::detail::register_stream_task(#fn, ::ferry::detail::make_stream_invoker(&fn, #fn), \
                                            ::ferry::detail::signature_of(&fn))

// Exports a free function under its own name (see the top of this file).
#define FERRY_EXPORT(fn)                                   \
  [[maybe_unused]] static const bool ferry_exported_##fn = \
      ::ferry::detail::register_task(::ferry::detail::task_entry(&fn, #fn))
