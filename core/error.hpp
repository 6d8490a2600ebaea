// ferry core: typed errors and Result<T>.
//
// Every run-time failure in ferry is an Error value with a kind from the
// closed list below. Errors cross the C++/JavaScript boundary as data (the
// codec encodes them), so the numeric values of ErrorKind are part of the
// wire format (core/CODEC.md) and must never be renumbered.
//
// Result<T> holds either a T or an Error. It needs no exceptions, so it works
// in builds with -fno-exceptions and on hot paths.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace ferry {

enum class ErrorKind : std::uint8_t {
  JsException = 1,      // a JavaScript task or callback threw
  Serialization = 2,    // a value could not be encoded
  Deserialization = 3,  // bytes could not be decoded (truncated, malformed)
  TypeMismatch = 4,     // decoded a value of another type than expected
  Closed = 5,           // the stream or ring was closed
  Cancelled = 6,        // the operation was cancelled
  Timeout = 7,          // the deadline passed first
  QueueFull = 8,        // a bounded queue refused the item
  WorkerCrashed = 9,    // the worker running the operation died
  MessageTooLarge = 10, // a record can never fit the ring
  CorruptRecord = 11,   // a ring record header failed validation
  UnknownTask = 12,     // no task is registered under that name
  TaskFailed = 13,      // a C++ task threw or returned an error
  InvalidArgument = 14, // an API was called with an argument it cannot use
};

constexpr std::string_view to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::JsException: return "JsException";
    case ErrorKind::Serialization: return "Serialization";
    case ErrorKind::Deserialization: return "Deserialization";
    case ErrorKind::TypeMismatch: return "TypeMismatch";
    case ErrorKind::Closed: return "Closed";
    case ErrorKind::Cancelled: return "Cancelled";
    case ErrorKind::Timeout: return "Timeout";
    case ErrorKind::QueueFull: return "QueueFull";
    case ErrorKind::WorkerCrashed: return "WorkerCrashed";
    case ErrorKind::MessageTooLarge: return "MessageTooLarge";
    case ErrorKind::CorruptRecord: return "CorruptRecord";
    case ErrorKind::UnknownTask: return "UnknownTask";
    case ErrorKind::TaskFailed: return "TaskFailed";
    case ErrorKind::InvalidArgument: return "InvalidArgument";
  }
  return "Unknown";
}

constexpr bool is_valid_error_kind(std::uint8_t raw) noexcept {
  return raw >= 1 && raw <= static_cast<std::uint8_t>(ErrorKind::InvalidArgument);
}

struct Error {
  ErrorKind kind{};
  std::string message;  // names the thing and the limit
  std::string origin;   // where it was raised: "core/ring", "worker 2", "js"
  // Only for TypeMismatch: the wire type names (core/CODEC.md).
  std::string expected;
  std::string actual;

  static Error make(ErrorKind kind, std::string message, std::string origin = {}) {
    Error e;
    e.kind = kind;
    e.message = std::move(message);
    e.origin = std::move(origin);
    return e;
  }
  static Error type_mismatch(std::string_view expected, std::string_view actual,
                             std::string origin = {}) {
    Error e;
    e.kind = ErrorKind::TypeMismatch;
    e.expected = expected;
    e.actual = actual;
    e.message = "type mismatch: expected ";
    e.message.append(expected).append(", got ").append(actual);
    e.origin = std::move(origin);
    return e;
  }

  // "Timeout: recv waited 5 ms (core/ring)"
  std::string describe() const {
    std::string s(to_string(kind));
    s.append(": ").append(message);
    if (!origin.empty()) s.append(" (").append(origin).append(")");
    return s;
  }

  friend bool operator==(const Error&, const Error&) = default;
};

template <class T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& { assert(!ok()); return std::get<1>(v_); }
  Error&& error() && { assert(!ok()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;

  // User-provided on purpose: `return {};` would otherwise zero the whole
  // optional<Error> (value-initialisation) on every success.
  Result() noexcept {}  // NOLINT(modernize-use-equals-default)
  Result(Error error) : error_(std::move(error)) {}  // NOLINT

  bool ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  void value() const { assert(ok()); }

  const Error& error() const& { assert(!ok()); return *error_; }
  Error&& error() && { assert(!ok()); return std::move(*error_); }

 private:
  // optional: success (the common case on every hot path) builds and
  // destroys no Error, which is four strings.
  std::optional<Error> error_;
};

}  // namespace ferry
