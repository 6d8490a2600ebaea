// ferry workers: the pool protocol — every record that crosses a worker's
// request and response rings, in one place (web/PROTOCOL.md is its
// specification; web/src/protocol.ts its TypeScript twin).
//
// Request ring (callers -> worker):
//   kCallTag    u64 id, u16 name length n, n bytes name, arguments (one codec array)
//   kCancelTag  u64 id
//   kStreamTag  u64 id, u64 in ring, u64 out ring, u64 keepalive, u16 n, name, arguments
//   kRequestPartTag   a part of a record too large for one ring record (below)
//   kCallByStateTag   u64 id: a C++ caller's call record too large for the
//                     ring, left in the call's state for the worker to read
// Response ring (worker -> JavaScript caller):
//   kResultTag  u64 id, one codec value (the result, or an error value)
//   kCrashTag   one codec string: why the worker died
//   kResponsePartTag  a part of a record too large for one ring record
//   kRequestBlockTag / kResponseBlockTag  u32 tag, u32 0, u64 length,
//               u64 address: that record, out of band (below)
//
// Blocks (web/PROTOCOL.md, "Records out of band"): between JavaScript and a
// worker of a pool with shared_blocks (the wasm bridge), a record larger
// than the ring's largest payload lies in a block of shared memory
// (ferry::shared_alloc, the module's heap) and the ring carries a block
// record naming it. Whoever reads the block record frees the block once it
// has handled the record. (Between the page and a JavaScript worker, the
// same record with address 0 means the bytes come on the worker's port.)
//
// Parts: a record larger than the ring's largest payload travels as
// consecutive part records (its producer writes nothing else in between).
// The first: u32 the whole record's tag, u32 0, u64 its length, then its
// first bytes; each later part: the next bytes. The consumer has the whole
// record once the parts add up to its length. At most kMaxPartedBytes.
//
// Ids: JavaScript numbers its calls. A C++ caller in the same process puts
// the address of its call's state in the id field instead, so the worker
// finishes the call without looking anything up (workers/detail/call_state.hpp);
// a pool serves one kind of caller or the other (WorkerPoolOptions::external).
//
// Parsing never trusts a record: a JavaScript peer (or a bug) may write
// anything, and every malformed record is a Deserialization error naming
// what was wrong, never a read past its end.
#pragma once

#include "../core/error.hpp"
#include "../stream/options.hpp"

#include <algorithm>
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
inline constexpr std::uint32_t kRequestPartTag = 4;
inline constexpr std::uint32_t kCallByStateTag = 5;  // C++ callers only
inline constexpr std::uint32_t kResponsePartTag = 3;
inline constexpr std::uint32_t kRequestBlockTag = 6;  // JavaScript callers only
inline constexpr std::uint32_t kResponseBlockTag = 4;

inline constexpr std::size_t kCallHeaderBytes = 10;    // id, name length
inline constexpr std::size_t kStreamHeaderBytes = 34;  // id, in, out, keepalive, name length
inline constexpr std::size_t kMaxNameBytes = 0xFFFF;
inline constexpr std::size_t kPartHeaderBytes = 16;          // tag, 0, length
using ::ferry::kMaxPartedBytes;  // 1 GiB (stream/options.hpp)
inline constexpr std::size_t kBlockRecordBytes = 24;                   // tag, 0, length, address

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
// The header a first part and a block record start with: u32 the whole
// record's tag, u32 0, u64 its length.
inline void put_whole_header(std::vector<std::byte>& out, std::uint32_t tag, std::uint64_t length) {
  put(out, tag);
  put(out, std::uint32_t{0});
  put(out, length);
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

// How large a part is: a quarter of the ring (record header included), so
// the producer writes the next parts while the consumer copies the last one;
// parts that filled the ring would make the two sides take turns.
inline std::size_t part_bytes(std::size_t max_payload) {
  return std::max(kPartHeaderBytes + 8, (max_payload + 8) / 4 - 8);
}

// Splits the record (tag, payload) into part records for a ring whose
// records carry at most `max_payload` bytes: emit(part_bytes) for each, in order.
template <class Emit>
void split_parts(std::uint32_t tag, std::span<const std::byte> payload, std::size_t max_payload, Emit&& emit) {
  const std::size_t max = part_bytes(max_payload);
  std::vector<std::byte> part;
  detail::put_whole_header(part, tag, payload.size());
  std::size_t at = std::min(payload.size(), max - kPartHeaderBytes);
  part.insert(part.end(), payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(at));
  emit(std::move(part));
  while (at < payload.size()) {
    const std::size_t n = std::min(payload.size() - at, max);
    emit(std::vector<std::byte>(payload.begin() + static_cast<std::ptrdiff_t>(at),
                                payload.begin() + static_cast<std::ptrdiff_t>(at + n)));
    at += n;
  }
}

// Puts a record sent in parts back together.
class PartReader {
 public:
  // Reads the parts of one direction: `part_tag` is its part record's tag
  // (kRequestPartTag or kResponsePartTag), which a whole record never has.
  explicit PartReader(std::uint32_t part_tag) noexcept : part_tag_(part_tag) {}

  // Takes the next part. True once the record is whole: tag() and bytes()
  // then say what it is, until the next add(). A part that contradicts the
  // first (longer than what is left, a length over kMaxPartedBytes, a record
  // that would itself be a part) is a Deserialization error, and the record
  // is dropped.
  Result<bool> add(std::span<const std::byte> part) {
    if (done_) {
      bytes_ = {};  // a large record's memory goes with it
      done_ = false;
      open_ = false;
    }
    if (!open_) {
      if (part.size() < kPartHeaderBytes) {
        return detail::malformed("first part", part.size(), "shorter than its 16-byte header");
      }
      std::uint32_t tag;
      std::memcpy(&tag, part.data(), 4);
      const std::uint64_t length = detail::get_u64(part.data() + 8);
      if (length > kMaxPartedBytes) {
        return detail::malformed("first part", part.size(), "announces " + std::to_string(length) + " bytes, more than 1 GiB");
      }
      if (tag == part_tag_) {
        return detail::malformed("first part", part.size(), "announces a record of parts (tag " + std::to_string(tag) +
                                                               "): parts do not nest");
      }
      tag_ = tag;
      length_ = static_cast<std::size_t>(length);
      bytes_.clear();
      // Room for all of it at once only up to 16 MiB; past that it grows
      // with the bytes that arrive, so that a broken sender's first part
      // announcing 1 GiB takes no more than it sends (web/src/protocol.ts,
      // Assembly, does the same).
      bytes_.reserve(std::min(length_, kUpFrontBytes));
      open_ = true;
      part = part.subspan(kPartHeaderBytes);
    }
    if (part.size() > length_ - bytes_.size()) {
      open_ = false;
      return detail::malformed("part", part.size(), "runs past the " + std::to_string(length_) + " bytes its record announced");
    }
    bytes_.insert(bytes_.end(), part.begin(), part.end());
    done_ = bytes_.size() == length_;
    return done_;
  }
  std::uint32_t tag() const noexcept { return tag_; }
  std::span<const std::byte> bytes() const noexcept { return bytes_; }

 private:
  static constexpr std::size_t kUpFrontBytes = std::size_t{16} << 20;
  std::vector<std::byte> bytes_;
  std::size_t length_ = 0;
  std::uint32_t part_tag_;
  std::uint32_t tag_ = 0;
  bool open_ = false, done_ = false;
};

// A block record: the record it stands for lies at `address`.
struct BlockRef {
  std::uint32_t tag = 0;
  std::size_t length = 0;
  std::uint64_t address = 0;
};

// Reads a block record of the direction whose part and block tags are given
// (a block never holds either). Its address is checked by the caller.
inline Result<BlockRef> parse_block(std::span<const std::byte> record, std::uint32_t part_tag, std::uint32_t block_tag) {
  if (record.size() != kBlockRecordBytes) return detail::malformed("block", record.size(), "a block record has 24 bytes");
  BlockRef b;
  std::memcpy(&b.tag, record.data(), 4);
  const std::uint64_t length = detail::get_u64(record.data() + 8);
  b.address = detail::get_u64(record.data() + 16);
  if (length > kMaxPartedBytes) {
    return detail::malformed("block", record.size(), "announces " + std::to_string(length) + " bytes, more than 1 GiB");
  }
  if (b.tag == part_tag || b.tag == block_tag) {
    return detail::malformed("block", record.size(), "announces a record of tag " + std::to_string(b.tag) + ", which is never a block's");
  }
  if (b.address == 0) return detail::malformed("block", record.size(), "names no block (address 0)");
  b.length = static_cast<std::size_t>(length);
  return b;
}

inline std::vector<std::byte> block_record(std::uint32_t tag, std::size_t length, std::uint64_t address) {
  std::vector<std::byte> out;
  detail::put_whole_header(out, tag, length);
  detail::put(out, address);
  return out;
}

// The payload of a result record: the id, then the encoded value.
inline void begin_result(std::vector<std::byte>& out, std::uint64_t id) {
  out.clear();
  detail::put(out, id);
}

}  // namespace ferry::protocol
