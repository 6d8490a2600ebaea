// ferry workers: the pool protocol — every record that crosses a worker's
// request and response rings, in one place (web/PROTOCOL.md is its
// specification; web/src/protocol.ts its TypeScript twin).
//
// Request ring (callers -> worker):
//   kCallTag    u64 id, u16 name length n, n bytes name, arguments (one codec array)
//   kCancelTag  u64 id
//   kStreamTag  u64 id, u64 in ring, u64 out ring, u64 keepalive, u16 n, name, arguments
// Response ring (worker -> JavaScript caller):
//   kResultTag  u64 id, one codec value (the result, or an error value)
//   kCrashTag   one codec string: why the worker died
//
// Ids: JavaScript numbers its calls. A C++ caller in the same process puts
// the address of its call's state in the id field instead, so the worker
// finishes the call without looking anything up (workers/detail/call_state.hpp);
// a pool serves one kind of caller or the other (PoolOptions::external).
//
// Parsing never trusts a record: a JavaScript peer (or a bug) may write
// anything, and every malformed record is a Deserialization error naming
// what was wrong, never a read past its end.
#pragma once

#include "../core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::protocol {

inline constexpr std::uint32_t kCallTag = 1;
inline constexpr std::uint32_t kCancelTag = 2;
inline constexpr std::uint32_t kStreamTag = 3;
inline constexpr std::uint32_t kResultTag = 1;
inline constexpr std::uint32_t kCrashTag = 2;

inline constexpr std::size_t kCallHeaderBytes = 10;    // id, name length
inline constexpr std::size_t kStreamHeaderBytes = 34;  // id, in, out, keepalive, name length
inline constexpr std::size_t kMaxNameBytes = 0xFFFF;

// A call or stream request, as views into the record.
struct Request {
  std::uint64_t id = 0;
  std::uint64_t in = 0, out = 0, keepalive = 0;  // streams only
  std::string_view name;
  std::span<const std::byte> args;
};

namespace detail {
inline std::uint64_t get_u64(const std::byte* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline std::uint16_t get_u16(const std::byte* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
template <class T>
void put(std::vector<std::byte>& out, T v) {
  const auto at = out.size();
  out.resize(at + sizeof v);
  std::memcpy(out.data() + at, &v, sizeof v);
}
inline Error malformed(const char* what, std::size_t size, const std::string& detail) {
  return Error::make(ErrorKind::Deserialization,
                     std::string(what) + " record of " + std::to_string(size) + " bytes: " + detail, "workers/protocol");
}
}  // namespace detail

// The id of a call, cancel or stream record (its first 8 bytes), if it has one.
inline Result<std::uint64_t> parse_id(std::span<const std::byte> record, const char* what) {
  if (record.size() < 8) return detail::malformed(what, record.size(), "shorter than its 8-byte id");
  return detail::get_u64(record.data());
}

inline Result<Request> parse_call(std::span<const std::byte> record) {
  if (record.size() < kCallHeaderBytes) return detail::malformed("call", record.size(), "shorter than its 10-byte header");
  Request r;
  r.id = detail::get_u64(record.data());
  const std::size_t n = detail::get_u16(record.data() + 8);
  if (record.size() < kCallHeaderBytes + n) {
    return detail::malformed("call", record.size(), "task name of " + std::to_string(n) + " bytes runs past its end");
  }
  r.name = std::string_view(reinterpret_cast<const char*>(record.data()) + kCallHeaderBytes, n);
  r.args = record.subspan(kCallHeaderBytes + n);
  return r;
}

inline Result<Request> parse_stream(std::span<const std::byte> record) {
  if (record.size() < kStreamHeaderBytes) {
    return detail::malformed("stream", record.size(), "shorter than its 34-byte header");
  }
  Request r;
  r.id = detail::get_u64(record.data());
  r.in = detail::get_u64(record.data() + 8);
  r.out = detail::get_u64(record.data() + 16);
  r.keepalive = detail::get_u64(record.data() + 24);
  const std::size_t n = detail::get_u16(record.data() + 32);
  if (record.size() < kStreamHeaderBytes + n) {
    return detail::malformed("stream", record.size(), "task name of " + std::to_string(n) + " bytes runs past its end");
  }
  r.name = std::string_view(reinterpret_cast<const char*>(record.data()) + kStreamHeaderBytes, n);
  r.args = record.subspan(kStreamHeaderBytes + n);
  return r;
}

// Starts a call record in `out` (cleared first); the caller appends the arguments.
inline void begin_call(std::vector<std::byte>& out, std::uint64_t id, std::string_view name) {
  out.clear();
  detail::put(out, id);
  detail::put(out, static_cast<std::uint16_t>(name.size()));
  const auto* p = reinterpret_cast<const std::byte*>(name.data());
  out.insert(out.end(), p, p + name.size());
}

// Starts a stream record in `out` (cleared first); the caller appends the arguments.
inline void begin_stream(std::vector<std::byte>& out, std::uint64_t id, std::uint64_t in, std::uint64_t out_ring,
                         std::uint64_t keepalive, std::string_view name) {
  out.clear();
  detail::put(out, id);
  detail::put(out, in);
  detail::put(out, out_ring);
  detail::put(out, keepalive);
  detail::put(out, static_cast<std::uint16_t>(name.size()));
  const auto* p = reinterpret_cast<const std::byte*>(name.data());
  out.insert(out.end(), p, p + name.size());
}

// The payload of a result record: the id, then the encoded value.
inline void begin_result(std::vector<std::byte>& out, std::uint64_t id) {
  out.clear();
  detail::put(out, id);
}

}  // namespace ferry::protocol
