// ferry core: the wire codec — typed C++ values to self-describing bytes and back.
//
// The format is written down byte for byte in core/CODEC.md, the contract
// with the TypeScript twin; tests/golden/codec.txt holds the shared vectors.
// Every value starts with a one-byte tag; numbers are little-endian and
// unaligned; containers carry counts; structs carry their name and field
// names. So JavaScript can decode without a schema, and C++ refuses a value of
// another type with TypeMismatch{expected, actual} instead of misreading it.
//
// Guarantees:
// - encode/decode report every failure as an Error in a Result; they throw
//   only what the allocator throws. Origin of codec errors: "core/codec".
// - Decoding is bounds-checked: truncated or hostile input ends in a
//   Deserialization error naming the offset, never in a read outside the
//   input. A count is checked against the bytes that remain before anything
//   is reserved, so allocation stays proportional to the input.
// - Containers nest at most kMaxDepth deep, both ways, so hostile input
//   cannot exhaust the stack.
// - A Writer over a fixed span never writes outside it: when a value does not
//   fit, encode fails with MessageTooLarge and size() says how many bytes the
//   whole encoding needs.
// - Decoding into std::string_view or std::span<const std::byte> is zero-copy:
//   the result points into the input, which must outlive it.
// - Writer and Reader are small single-threaded objects; make one per use.
//
// C++ type                                    wire (tag)
//   std::monostate                            unit (0x00)
//   bool                                      bool (0x01)
//   integers of 1/2/4/8 bytes, float, double  i8..u64, f32, f64 (0x02..0x0B)
//   std::string, std::string_view             string (0x0C), UTF-8 checked
//   std::vector<std::byte | std::uint8_t>,
//   std::span<const std::byte | std::uint8_t> bytes (0x0D)
//   std::vector<T> (T a number)               packed (0x0F)
//   std::vector<T> (other T), std::array,
//   std::tuple, std::pair                     array (0x0E)
//   std::optional<T>                          optional (0x10)
//   std::variant<Ts...>                       variant (0x11)
//   std::map, std::unordered_map              map (0x12)
//   FERRY_STRUCT types (core/codec_struct.hpp) struct (0x13)
//   ferry::Error                              error (0x14)
//   ferry::Result<T>, Result<void>            T (or unit) when ok, else error
// Decoded types must be default-constructible. decode<Error> does not exist
// (Result<Error> is ambiguous): decode a Result<T> to receive an error.
#pragma once

#include "codec_struct.hpp"
#include "error.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace ferry {

// The first byte of every encoded value (core/CODEC.md).
enum class WireTag : std::uint8_t {
  Unit = 0x00, Bool = 0x01,
  I8 = 0x02, U8 = 0x03, I16 = 0x04, U16 = 0x05, I32 = 0x06, U32 = 0x07,
  I64 = 0x08, U64 = 0x09, F32 = 0x0A, F64 = 0x0B,
  String = 0x0C, Bytes = 0x0D, Array = 0x0E, Packed = 0x0F, Optional = 0x10,
  Variant = 0x11, Map = 0x12, Struct = 0x13, Error = 0x14,
};

// Containers (array, optional, variant, map, struct) nest at most this deep.
inline constexpr int kMaxDepth = 64;

// Wire type names, as used in TypeMismatch: "unit", "i32", "struct", ...
constexpr std::string_view wire_name(WireTag tag) noexcept;
constexpr bool is_wire_tag(std::uint8_t raw) noexcept { return raw <= 0x14; }
constexpr bool is_number_tag(std::uint8_t raw) noexcept { return raw >= 0x02 && raw <= 0x0B; }

// Appends encoded values to a growable vector, or writes them into a fixed
// span (a ring slot) without ever touching a byte outside it.
class Writer {
 public:
  // Appends to `out`, keeping what it already holds. Between encode() calls
  // `out` holds exactly what was written; leave it alone while the writer lives.
  explicit Writer(std::vector<std::byte>& out) noexcept : vec_(&out), base_(out.size()) {}
  // Writes into `fixed`; once something does not fit, stops writing and only
  // counts, so that size() reports what the encoding needs.
  explicit Writer(std::span<std::byte> fixed) noexcept : fixed_(fixed) {}
  // Writes nothing and skips validation: only counts (encoded_size uses it).
  static Writer counter() noexcept { return Writer(std::span<std::byte>{}, true); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Bytes written by this writer, or needed once it has overflowed.
  std::size_t size() const noexcept { return size_; }
  // True once a fixed span was too small; stays true until reset().
  bool overflowed() const noexcept { return overflowed_; }
  // The bytes written; empty after an overflow (they are incomplete).
  std::span<const std::byte> bytes() const noexcept;
  // Forgets everything written (a vector shrinks back to where it began).
  void reset() noexcept { truncate(0); }

  // Low level, for codec implementations.
  void put(const void* data, std::size_t n);
  void put_u8(std::uint8_t value) { put(&value, 1); }
  template <class T>
  void put_le(T value) { put(&value, sizeof value); }  // host is little-endian
  bool counting() const noexcept { return counting_; }
  bool enter();                      // one container deeper; fails past kMaxDepth
  void leave() noexcept { --depth_; }
  bool fail(Error error) { error_.emplace(std::move(error)); return false; }
  // Ends one top-level value that began at size() == start.
  Result<void> finish(std::size_t start, bool ok);

 private:
  Writer(std::span<std::byte> fixed, bool counting) noexcept : fixed_(fixed), counting_(counting) {}
  void truncate(std::size_t size) noexcept;
  void grow(std::size_t n);

  std::vector<std::byte>* vec_ = nullptr;
  std::size_t base_ = 0;  // vec_->size() when the writer began
  std::span<std::byte> fixed_;
  std::size_t size_ = 0;  // bytes written (or needed, once overflowed)
  bool counting_ = false;
  bool overflowed_ = false;
  int depth_ = 0;
  std::optional<Error> error_;  // optional: an Error is four strings, built only on failure
};

// Reads encoded values from a span, front to back.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> input) noexcept : input_(input) {}

  std::span<const std::byte> input() const noexcept { return input_; }
  std::size_t position() const noexcept { return pos_; }
  std::size_t remaining() const noexcept { return input_.size() - pos_; }
  bool at_end() const noexcept { return pos_ == input_.size(); }

  // Low level, for codec implementations. take_* check nothing: need() first.
  // need() fails with "<what><suffix> at offset P needs N bytes but R remain"
  // (two parts, so that the success path builds no string).
  bool need(std::size_t n, std::string_view what, std::string_view suffix = {});
  std::uint8_t peek_u8() const noexcept { return std::to_integer<std::uint8_t>(input_[pos_]); }
  std::uint8_t take_u8() noexcept { return std::to_integer<std::uint8_t>(input_[pos_++]); }
  template <class T>
  T take_le() noexcept {
    T value;
    std::memcpy(&value, input_.data() + pos_, sizeof value);  // unaligned, little-endian
    pos_ += sizeof value;
    return value;
  }
  std::span<const std::byte> take(std::size_t n) noexcept {
    auto s = input_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  bool enter(std::size_t at);  // one container deeper; fails past kMaxDepth
  void leave() noexcept { --depth_; }
  bool fail(Error error) { error_.emplace(std::move(error)); return false; }
  // Hands over the error of a failed decode; the position is left where the
  // problem was found.
  Error take_error() {
    depth_ = 0;
    Error e = error_ ? std::move(*error_) : Error::make(ErrorKind::Deserialization, "decode failed", "core/codec");
    error_.reset();
    return e;
  }

 private:
  std::span<const std::byte> input_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  std::optional<Error> error_;
};

// Exact size encode() produces for `value` (if it succeeds). Cheap: it walks
// the value without validating or writing anything.
template <class T>
std::size_t encoded_size(const T& value);

// Appends one value. Fails with Serialization (invalid UTF-8, a count above
// 2^32-1, nesting past kMaxDepth; nothing of the value is kept) or, for a
// fixed span, MessageTooLarge ("needs N bytes ... (K more)").
template <class T>
Result<void> encode(Writer& writer, const T& value);
template <class T>
Result<std::vector<std::byte>> encode(const T& value);

// Decodes one value at the reader's position and advances past it.
template <class T>
Result<T> decode(Reader& reader);
// Decodes exactly one value: bytes left over are a Deserialization error.
template <class T>
Result<T> decode(std::span<const std::byte> bytes);

// Generic access without a C++ type: a visitor sees each part of one value,
// in order (derive from ValueVisitor and hide the callbacks you need).
// Container callbacks bracket their contents: array_begin, then item(i) and
// the element, for each element, then array_end.
struct ValueVisitor {
  void unit() {}
  void boolean(bool) {}
  void number(WireTag, std::span<const std::byte> /*little_endian*/) {}
  void string(std::string_view) {}
  void bytes(std::span<const std::byte>) {}
  void packed(WireTag, std::uint32_t /*count*/, std::span<const std::byte> /*little_endian*/) {}
  void array_begin(std::uint32_t /*count*/) {}
  void item(std::uint32_t /*index*/) {}
  void array_end() {}
  void optional_begin(bool /*present*/) {}
  void optional_end(bool /*present*/) {}
  void variant_begin(std::uint32_t /*index*/) {}
  void variant_end() {}
  void map_begin(std::uint32_t /*count*/) {}
  void map_key(std::uint32_t /*index*/) {}
  void map_value(std::uint32_t /*index*/) {}
  void map_end() {}
  void struct_begin(std::string_view /*name*/, std::uint16_t /*field_count*/) {}
  void field(std::uint16_t /*index*/, std::string_view /*name*/) {}
  void struct_end() {}
  // expected/actual: a TypeMismatch's type names, empty for other kinds.
  void error(ErrorKind, std::string_view /*message*/, std::string_view /*origin*/, std::string_view /*expected*/,
             std::string_view /*actual*/) {}
};
// Validates one value (all the checks decode makes that need no C++ type),
// calling the visitor on the way, and advances past it.
template <class Visitor>
Result<void> visit_value(Reader& reader, Visitor& visitor);
// Validates and skips one value.
Result<void> skip_value(Reader& reader);
// Exactly one value in its text form (core/CODEC.md), e.g.
// `struct Point {x: i32 1, y: i32 -2}`. The golden vectors' third column.
Result<std::string> describe_value(std::span<const std::byte> bytes);

// ---------------------------------------------------------------------------
// Internals.

static_assert(std::endian::native == std::endian::little,
              "ferry's codec copies numbers as they are: it needs a little-endian host");

constexpr std::string_view wire_name(WireTag tag) noexcept {
  constexpr std::string_view kNames[] = {
      "unit", "bool", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "f32",
      "f64", "string", "bytes", "array", "packed", "optional", "variant", "map",
      "struct", "error"};
  const auto i = static_cast<std::uint8_t>(tag);
  return i < std::size(kNames) ? kNames[i] : std::string_view("unknown");
}

namespace detail {

inline constexpr const char* kOrigin = "core/codec";
inline constexpr std::uint64_t kMaxCount = 0xFFFFFFFFu;

inline void append(std::string& s, std::string_view v) { s.append(v); }
inline void append(std::string& s, const char* v) { s.append(v); }
inline void append(std::string& s, const std::string& v) { s.append(v); }
template <class I>
  requires std::is_integral_v<I>
void append(std::string& s, I v) { s.append(std::to_string(v)); }

template <class... A>
std::string cat(const A&... parts) {
  std::string s;
  (append(s, parts), ...);
  return s;
}

inline std::string count_bytes(std::uint64_t n) { return cat(n, n == 1 ? " byte" : " bytes"); }
inline std::string hex_byte(std::uint8_t b) {
  constexpr char kHex[] = "0123456789abcdef";
  return {'0', 'x', kHex[b >> 4], kHex[b & 15]};
}

inline bool deser(Reader& r, std::string message) {
  return r.fail(Error::make(ErrorKind::Deserialization, std::move(message), kOrigin));
}
inline bool ser(Writer& w, std::string message) {
  return w.fail(Error::make(ErrorKind::Serialization, std::move(message), kOrigin));
}

// Strict UTF-8 (as JavaScript's fatal TextDecoder): no overlong forms, no
// surrogates, nothing above U+10FFFF. Returns the index where the first bad
// sequence starts, or npos.
inline std::size_t find_invalid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    if (n - i >= 8) {  // ASCII fast path, 8 bytes at a time
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ull) == 0) { i += 8; continue; }
    }
    const unsigned char c = p[i];
    if (c < 0x80) { ++i; continue; }
    std::size_t len;
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1Fu; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0Fu; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07u; }
    else return i;
    if (n - i < len) return i;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0u) != 0x80u) return i;
      cp = (cp << 6) | (p[i + k] & 0x3Fu);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return i;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

// Wire-derived text for error messages, which must stay valid UTF-8.
inline std::string printable(std::string_view s) {
  if (find_invalid_utf8(s) == std::string_view::npos) return std::string(s);
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<std::uint8_t>(ch);
    if (c < 0x80) out += ch;
    else out.append("\\x").append(hex_byte(c).substr(2));
  }
  return out;
}

inline std::string_view as_chars(std::span<const std::byte> s) noexcept {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

// Best-effort wire type name of the value at `at` ("i32[]", "struct Pt").
inline std::string actual_name(std::span<const std::byte> in, std::size_t at) {
  const auto tag = std::to_integer<std::uint8_t>(in[at]);
  if (tag == 0x0F && at + 1 < in.size()) {
    const auto elem = std::to_integer<std::uint8_t>(in[at + 1]);
    if (is_number_tag(elem)) return cat(wire_name(WireTag{elem}), "[]");
  }
  if (tag == 0x13 && at + 1 < in.size()) {
    const std::size_t n = std::to_integer<std::uint8_t>(in[at + 1]);
    if (in.size() - (at + 2) >= n) return cat("struct ", printable(as_chars(in.subspan(at + 2, n))));
  }
  return std::string(wire_name(WireTag{tag}));
}

inline bool unknown_tag(Reader& r, std::uint8_t tag, std::size_t at) {
  return deser(r, cat("unknown type tag ", hex_byte(tag), " at offset ", at));
}

inline bool mismatch(Reader& r, std::string_view expected, std::string_view actual,
                     std::size_t at, std::string_view detail = {}) {
  Error e = Error::type_mismatch(expected, actual, kOrigin);
  e.message.append(" at offset ").append(std::to_string(at));
  if (!detail.empty()) e.message.append(" (").append(detail).append(")");
  return r.fail(std::move(e));
}

// Reads the tag of the next value.
inline bool read_tag(Reader& r, std::uint8_t& tag) {
  if (r.at_end()) return deser(r, cat("input ends at offset ", r.position(), " where a value was expected"));
  tag = r.take_u8();
  return true;
}

inline bool read_u32(Reader& r, std::string_view what, std::string_view suffix, std::uint32_t& out) {
  if (!r.need(4, what, suffix)) return false;
  out = r.take_le<std::uint32_t>();
  return true;
}

// A u32 count of items that take at least `min_each` bytes each.
inline bool read_count(Reader& r, std::string_view what, std::uint64_t min_each, std::uint32_t& count) {
  const std::size_t at = r.position();
  if (!read_u32(r, what, {}, count)) return false;
  const std::uint64_t least = count * min_each;  // < 2^32 * 2^31: no overflow
  if (least > r.remaining()) {
    return deser(r, cat(what, " ", count, " at offset ", at, " needs at least ", count_bytes(least),
                        " but ", count_bytes(r.remaining()), " remain"));
  }
  return true;
}

// u32 length, then that many bytes.
inline bool read_blob(Reader& r, std::string_view what, std::span<const std::byte>& out) {
  const std::size_t at = r.position();
  std::uint32_t n;
  if (!read_u32(r, what, " length", n)) return false;
  if (n > r.remaining()) {
    return deser(r, cat(what, " length ", n, " at offset ", at, " exceeds the ", r.remaining(),
                        r.remaining() == 1 ? " remaining byte" : " remaining bytes"));
  }
  out = r.take(n);
  return true;
}

// `s` is the text of `what`, read at `at`, whose first byte sits at `data_at`.
inline bool check_utf8(Reader& r, std::string_view what, std::string_view s, std::size_t at,
                       std::size_t data_at) {
  const std::size_t bad = find_invalid_utf8(s);
  if (bad == std::string_view::npos) return true;
  const auto byte = static_cast<std::uint8_t>(s[bad]);
  return deser(r, cat(what, " at offset ", at, " is not valid UTF-8 (byte ", hex_byte(byte),
                      " at offset ", data_at + bad, ")"));
}

// u32 length, then that many bytes of UTF-8.
inline bool read_text(Reader& r, std::string_view what, std::string_view& out) {
  const std::size_t at = r.position();
  std::span<const std::byte> raw;
  if (!read_blob(r, what, raw)) return false;
  out = as_chars(raw);
  return check_utf8(r, what, out, at, at + 4);
}

// u8 length, then that many bytes (struct and field names).
inline bool read_name(Reader& r, std::string_view what, std::string_view& out) {
  if (!r.need(1, what, " length")) return false;
  const std::size_t n = r.take_u8();
  if (!r.need(n, what)) return false;
  out = as_chars(r.take(n));
  return true;
}

// One byte that must be 0 or 1.
inline bool read_flag(Reader& r, std::string_view what, bool& out) {
  if (!r.need(1, what)) return false;
  const std::size_t at = r.position();
  const std::uint8_t b = r.take_u8();
  if (b > 1) return deser(r, cat(what, " ", hex_byte(b), " at offset ", at, " is not 0 or 1"));
  out = b == 1;
  return true;
}

inline bool read_error_kind(Reader& r, ErrorKind& out) {
  if (!r.need(1, "error kind")) return false;
  const std::size_t at = r.position();
  const std::uint8_t k = r.take_u8();
  if (!is_valid_error_kind(k)) {
    return deser(r, cat("error kind ", k, " at offset ", at, " is not a known ErrorKind (1..",
                        static_cast<int>(ErrorKind::InvalidArgument), ")"));
  }
  out = static_cast<ErrorKind>(k);
  return true;
}

// The expected and actual type names that follow a TypeMismatch error's
// origin (and nothing for any other kind).
inline bool read_mismatch_types(Reader& r, ErrorKind kind, std::string_view& expected, std::string_view& actual) {
  if (kind != ErrorKind::TypeMismatch) return true;
  return read_text(r, "error expected type", expected) && read_text(r, "error actual type", actual);
}

inline bool check_count(Writer& w, std::size_t n, std::string_view what, std::string_view suffix = {}) {
  if (static_cast<std::uint64_t>(n) <= kMaxCount) return true;
  return ser(w, cat(what, suffix, " of ", n, " exceeds the u32 limit of ", kMaxCount));
}

inline bool put_text(Writer& w, std::string_view s, std::string_view what) {
  if (!check_count(w, s.size(), what, " length")) return false;
  if (!w.counting()) {
    const std::size_t bad = find_invalid_utf8(s);
    if (bad != std::string_view::npos) {
      return ser(w, cat(what, " is not valid UTF-8 (byte ", hex_byte(static_cast<std::uint8_t>(s[bad])),
                        " at index ", bad, ")"));
    }
  }
  w.put_le(static_cast<std::uint32_t>(s.size()));
  w.put(s.data(), s.size());
  return true;
}

inline void put_tag(Writer& w, WireTag tag) { w.put_u8(static_cast<std::uint8_t>(tag)); }

// --- Codecs ------------------------------------------------------------------
// Codec<T> has: name() (the wire type name decode expects), min_size() (the
// fewest bytes any encoding of T takes, to bound what a count may reserve),
// encode(Writer&, const T&) and decode(Reader&, T&), both returning false
// after recording an error in the writer or reader. Types whose every value
// encodes to the same number of bytes also have kFixedSize, so that
// encoded_size() needs no counting pass.

template <class T>
struct Codec;

template <class T>
struct IsResult : std::false_type {};
template <class T>
struct IsResult<Result<T>> : std::true_type {};

// A value to decode into: T{}, except that Result<T> has no default.
template <class T>
T make_default() {
  if constexpr (IsResult<T>::value) {
    if constexpr (!std::is_void_v<typename T::value_type>) return T(make_default<typename T::value_type>());
    else return T();
  } else {
    return T{};
  }
}

// Consumes the tag if it is `tag`; otherwise TypeMismatch naming both types
// (or Deserialization for a byte that is no tag at all).
template <class T>
bool expect_tag(Reader& r, WireTag tag) {
  if (r.at_end()) return deser(r, cat("input ends at offset ", r.position(), " where ", Codec<T>::name(), " was expected"));
  const std::uint8_t got = r.peek_u8();
  if (got == static_cast<std::uint8_t>(tag)) {
    r.take_u8();
    return true;
  }
  if (!is_wire_tag(got)) return unknown_tag(r, got, r.position());
  return mismatch(r, Codec<T>::name(), actual_name(r.input(), r.position()), r.position());
}

template <class T>
concept WireNumber =
    (std::is_integral_v<T> && !std::is_same_v<T, bool> &&
     (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8)) ||
    std::is_same_v<T, float> || std::is_same_v<T, double>;

template <WireNumber T>
constexpr WireTag number_tag() noexcept {
  static_assert(!std::is_floating_point_v<T> || std::numeric_limits<T>::is_iec559);
  if constexpr (std::is_same_v<T, float>) return WireTag::F32;
  else if constexpr (std::is_same_v<T, double>) return WireTag::F64;
  else {
    constexpr int log2 = sizeof(T) == 1 ? 0 : sizeof(T) == 2 ? 1 : sizeof(T) == 4 ? 2 : 3;
    return static_cast<WireTag>(0x02 + 2 * log2 + (std::is_signed_v<T> ? 0 : 1));
  }
}

constexpr std::size_t number_size(std::uint8_t tag) noexcept {
  switch (tag) {
    case 0x02: case 0x03: return 1;
    case 0x04: case 0x05: return 2;
    case 0x06: case 0x07: case 0x0A: return 4;
    default: return 8;
  }
}

template <>
struct Codec<std::monostate> {
  static std::string name() { return "unit"; }
  static constexpr std::size_t min_size() { return 1; }
  static constexpr std::size_t kFixedSize = 1;
  static bool encode(Writer& w, const std::monostate&) { put_tag(w, WireTag::Unit); return true; }
  static bool decode(Reader& r, std::monostate&) { return expect_tag<std::monostate>(r, WireTag::Unit); }
};

template <>
struct Codec<bool> {
  static std::string name() { return "bool"; }
  static constexpr std::size_t min_size() { return 2; }
  static constexpr std::size_t kFixedSize = 2;
  static bool encode(Writer& w, const bool& v) {
    put_tag(w, WireTag::Bool);
    w.put_u8(v ? 1 : 0);
    return true;
  }
  static bool decode(Reader& r, bool& out) {
    return expect_tag<bool>(r, WireTag::Bool) && read_flag(r, "bool byte", out);
  }
};

template <WireNumber T>
struct Codec<T> {
  static constexpr WireTag kTag = number_tag<T>();
  static std::string name() { return std::string(wire_name(kTag)); }
  static constexpr std::size_t min_size() { return 1 + sizeof(T); }
  static constexpr std::size_t kFixedSize = 1 + sizeof(T);
  static bool encode(Writer& w, const T& v) {
    put_tag(w, kTag);
    w.put_le(v);
    return true;
  }
  static bool decode(Reader& r, T& out) {
    if (!expect_tag<T>(r, kTag) || !r.need(sizeof(T), wire_name(kTag), " payload")) return false;
    out = r.take_le<T>();
    return true;
  }
};

template <class S>  // std::string or std::string_view
struct TextCodec {
  static std::string name() { return "string"; }
  static constexpr std::size_t min_size() { return 5; }
  static bool encode(Writer& w, const S& v) {
    put_tag(w, WireTag::String);
    return put_text(w, v, "string");
  }
  static bool decode(Reader& r, S& out) {
    std::string_view s;
    if (!expect_tag<S>(r, WireTag::String) || !read_text(r, "string", s)) return false;
    out = S(s);
    return true;
  }
};
template <>
struct Codec<std::string> : TextCodec<std::string> {};
template <>
struct Codec<std::string_view> : TextCodec<std::string_view> {};

template <class B>  // vector or span of std::byte / std::uint8_t
struct BytesCodec {
  using Elem = std::remove_const_t<typename B::value_type>;
  static std::string name() { return "bytes"; }
  static constexpr std::size_t min_size() { return 5; }
  static bool encode(Writer& w, const B& v) {
    if (!check_count(w, v.size(), "bytes length")) return false;
    put_tag(w, WireTag::Bytes);
    w.put_le(static_cast<std::uint32_t>(v.size()));
    w.put(v.data(), v.size());
    return true;
  }
  static bool decode(Reader& r, B& out) {
    std::span<const std::byte> raw;
    if (!expect_tag<B>(r, WireTag::Bytes) || !read_blob(r, "bytes", raw)) return false;
    const auto* first = reinterpret_cast<const Elem*>(raw.data());  // byte types may alias
    out = B(first, first + raw.size());
    return true;
  }
};
template <>
struct Codec<std::vector<std::byte>> : BytesCodec<std::vector<std::byte>> {};
template <>
struct Codec<std::vector<std::uint8_t>> : BytesCodec<std::vector<std::uint8_t>> {};
template <>
struct Codec<std::span<const std::byte>> : BytesCodec<std::span<const std::byte>> {};
template <>
struct Codec<std::span<const std::uint8_t>> : BytesCodec<std::span<const std::uint8_t>> {};

// std::vector<T>: packed when T is a number, else an array of tagged values.
template <class T>
struct Codec<std::vector<T>> {
  static constexpr bool kPacked = WireNumber<T>;
  static std::string name() {
    if constexpr (kPacked) return cat(wire_name(number_tag<T>()), "[]");
    else return "array";
  }
  static constexpr std::size_t min_size() { return kPacked ? 6 : 5; }

  static bool encode(Writer& w, const std::vector<T>& v) {
    if (!check_count(w, v.size(), kPacked ? "packed array" : "array")) return false;
    if constexpr (kPacked) {
      put_tag(w, WireTag::Packed);
      put_tag(w, number_tag<T>());
      w.put_le(static_cast<std::uint32_t>(v.size()));
      w.put(v.data(), v.size() * sizeof(T));
      return true;
    } else {
      if (!w.enter()) return false;
      put_tag(w, WireTag::Array);
      w.put_le(static_cast<std::uint32_t>(v.size()));
      for (const auto& e : v) {
        if (!Codec<T>::encode(w, e)) return false;
      }
      w.leave();
      return true;
    }
  }

  static bool decode(Reader& r, std::vector<T>& out) {
    const std::size_t at = r.position();
    if constexpr (kPacked) {
      if (!expect_tag<std::vector<T>>(r, WireTag::Packed) || !r.need(1, "packed element tag")) return false;
      const std::uint8_t elem = r.peek_u8();
      if (!is_number_tag(elem)) {
        return deser(r, cat("packed element tag ", hex_byte(elem), " at offset ", r.position(),
                            " is not a number type (0x02..0x0b)"));
      }
      if (elem != static_cast<std::uint8_t>(number_tag<T>())) return mismatch(r, name(), actual_name(r.input(), at), at);
      r.take_u8();
      std::uint32_t count;
      if (!read_count(r, "packed count", sizeof(T), count)) return false;
      out.resize(count);
      if (count != 0) std::memcpy(out.data(), r.take(count * sizeof(T)).data(), count * sizeof(T));
      return true;
    } else {
      std::uint32_t count;
      if (!expect_tag<std::vector<T>>(r, WireTag::Array) || !r.enter(at) ||
          !read_count(r, "array count", 1, count)) {
        return false;
      }
      // Counts are checked as the walker checks them (a value of another type
      // must still be a TypeMismatch); the reservation assumes valid elements.
      out.clear();
      out.reserve(std::min<std::size_t>(count, r.remaining() / Codec<T>::min_size()));
      for (std::uint32_t i = 0; i < count; ++i) {
        if constexpr (std::is_same_v<T, bool>) {  // vector<bool> has no bool&
          bool b = false;
          if (!Codec<bool>::decode(r, b)) return false;
          out.push_back(b);
        } else {
          out.push_back(make_default<T>());
          if (!Codec<T>::decode(r, out.back())) return false;
        }
      }
      r.leave();
      return true;
    }
  }
};

// Fixed-size sequences (std::array, std::tuple, std::pair): an array of exactly N.
template <class Derived, class T, std::size_t N>
struct FixedArrayCodec {
  static std::string name() { return "array"; }
  static bool encode(Writer& w, const T& v) {
    if (!w.enter()) return false;
    put_tag(w, WireTag::Array);
    w.put_le(static_cast<std::uint32_t>(N));
    if (!Derived::encode_items(w, v)) return false;
    w.leave();
    return true;
  }
  static bool decode(Reader& r, T& out) {
    const std::size_t at = r.position();
    std::uint32_t count;
    if (!expect_tag<T>(r, WireTag::Array) || !r.enter(at) || !read_u32(r, "array count", {}, count)) return false;
    if (count != N) {
      return mismatch(r, cat("array of ", N), cat("array of ", count), at,
                      cat("a fixed sequence of ", N, " decodes only from an array of ", N));
    }
    if (!Derived::decode_items(r, out)) return false;
    r.leave();
    return true;
  }
};

template <class T, std::size_t N>
struct Codec<std::array<T, N>> : FixedArrayCodec<Codec<std::array<T, N>>, std::array<T, N>, N> {
  static constexpr std::size_t min_size() { return 5 + N * Codec<T>::min_size(); }
  static bool encode_items(Writer& w, const std::array<T, N>& v) {
    for (const auto& e : v) {
      if (!Codec<T>::encode(w, e)) return false;
    }
    return true;
  }
  static bool decode_items(Reader& r, std::array<T, N>& out) {
    for (auto& e : out) {
      if (!Codec<T>::decode(r, e)) return false;
    }
    return true;
  }
};

template <class Tuple, class... Ts>
struct TupleCodec : FixedArrayCodec<TupleCodec<Tuple, Ts...>, Tuple, sizeof...(Ts)> {
  static constexpr std::size_t min_size() { return (5 + ... + Codec<Ts>::min_size()); }
  static bool encode_items(Writer& w, const Tuple& v) {
    return std::apply([&](const auto&... e) { return (Codec<Ts>::encode(w, e) && ...); }, v);
  }
  static bool decode_items(Reader& r, Tuple& out) {
    return std::apply([&](auto&... e) { return (Codec<Ts>::decode(r, e) && ...); }, out);
  }
};
template <class... Ts>
struct Codec<std::tuple<Ts...>> : TupleCodec<std::tuple<Ts...>, Ts...> {};
template <class A, class B>
struct Codec<std::pair<A, B>> : TupleCodec<std::pair<A, B>, A, B> {};

template <class T>
struct Codec<std::optional<T>> {
  static std::string name() { return "optional"; }
  static constexpr std::size_t min_size() { return 2; }
  static bool encode(Writer& w, const std::optional<T>& v) {
    if (!w.enter()) return false;
    put_tag(w, WireTag::Optional);
    w.put_u8(v ? 1 : 0);
    if (v && !Codec<T>::encode(w, *v)) return false;
    w.leave();
    return true;
  }
  static bool decode(Reader& r, std::optional<T>& out) {
    const std::size_t at = r.position();
    bool present = false;
    if (!expect_tag<std::optional<T>>(r, WireTag::Optional) || !r.enter(at) ||
        !read_flag(r, "optional flag", present)) {
      return false;
    }
    if (present) {
      out.emplace(make_default<T>());
      if (!Codec<T>::decode(r, *out)) return false;
    } else {
      out.reset();
    }
    r.leave();
    return true;
  }
};

template <class... Ts>
struct Codec<std::variant<Ts...>> {
  using V = std::variant<Ts...>;
  static std::string name() { return "variant"; }
  static constexpr std::size_t min_size() { return 5 + std::min({Codec<Ts>::min_size()...}); }

  static bool encode(Writer& w, const V& v) {
    if (v.valueless_by_exception()) return ser(w, "variant is valueless (an assignment threw)");
    if (!w.enter()) return false;
    put_tag(w, WireTag::Variant);
    w.put_le(static_cast<std::uint32_t>(v.index()));
    const bool ok = std::visit(
        [&](const auto& alt) { return Codec<std::remove_cvref_t<decltype(alt)>>::encode(w, alt); }, v);
    if (!ok) return false;
    w.leave();
    return true;
  }

  static bool decode(Reader& r, V& out) {
    const std::size_t at = r.position();
    if (!expect_tag<V>(r, WireTag::Variant) || !r.enter(at)) return false;
    const std::size_t index_at = r.position();
    std::uint32_t index;
    if (!read_u32(r, "variant index", {}, index)) return false;
    if (index >= sizeof...(Ts)) {
      return deser(r, cat("variant index ", index, " at offset ", index_at, " is out of range for ",
                          sizeof...(Ts), " alternatives"));
    }
    if (!dispatch(r, out, index, std::index_sequence_for<Ts...>{})) return false;
    r.leave();
    return true;
  }

 private:
  template <std::size_t I>
  static bool decode_alt(Reader& r, V& out) {
    using Alt = std::variant_alternative_t<I, V>;
    return Codec<Alt>::decode(r, out.template emplace<I>(make_default<Alt>()));
  }
  template <std::size_t... I>
  static bool dispatch(Reader& r, V& out, std::size_t index, std::index_sequence<I...>) {
    using Fn = bool (*)(Reader&, V&);
    static constexpr Fn kTable[] = {&decode_alt<I>...};
    return kTable[index](r, out);
  }
};

template <class M>  // std::map or std::unordered_map
struct MapCodec {
  using K = typename M::key_type;
  using V = typename M::mapped_type;
  static std::string name() { return "map"; }
  static constexpr std::size_t min_size() { return 5; }
  static bool encode(Writer& w, const M& m) {
    if (!check_count(w, m.size(), "map") || !w.enter()) return false;
    put_tag(w, WireTag::Map);
    w.put_le(static_cast<std::uint32_t>(m.size()));
    for (const auto& [k, v] : m) {
      if (!Codec<K>::encode(w, k) || !Codec<V>::encode(w, v)) return false;
    }
    w.leave();
    return true;
  }
  static bool decode(Reader& r, M& out) {
    const std::size_t at = r.position();
    std::uint32_t count;
    if (!expect_tag<M>(r, WireTag::Map) || !r.enter(at) || !read_count(r, "map count", 2, count)) {
      return false;
    }
    out.clear();
    for (std::uint32_t i = 0; i < count; ++i) {
      const std::size_t key_at = r.position();
      K k = make_default<K>();
      V v = make_default<V>();
      if (!Codec<K>::decode(r, k) || !Codec<V>::decode(r, v)) return false;
      if (!out.emplace(std::move(k), std::move(v)).second) {
        return deser(r, cat("duplicate map key at offset ", key_at));
      }
    }
    r.leave();
    return true;
  }
};
template <class K, class V, class C, class A>
struct Codec<std::map<K, V, C, A>> : MapCodec<std::map<K, V, C, A>> {};
template <class K, class V, class H, class E, class A>
struct Codec<std::unordered_map<K, V, H, E, A>> : MapCodec<std::unordered_map<K, V, H, E, A>> {};

template <DescribedStruct T>
struct Codec<T> {
  static constexpr auto kInfo = ferry_struct_info(static_cast<const T*>(nullptr));
  static constexpr std::size_t kFieldCount = std::tuple_size_v<decltype(kInfo.fields)>;
  static_assert(!kInfo.name.empty() && kInfo.name.size() <= 255, "FERRY_STRUCT: struct names take 1..255 bytes");
  static_assert(std::apply([](const auto&... f) { return ((f.name.size() <= 255) && ...); }, kInfo.fields),
                "FERRY_STRUCT: field names take at most 255 bytes");

  static std::string name() { return cat("struct ", kInfo.name); }
  static constexpr std::size_t min_size() {
    return std::apply(
        [](const auto&... f) {
          return ((4 + kInfo.name.size()) + ... +
                  (1 + f.name.size() + Codec<typename std::remove_cvref_t<decltype(f)>::member_type>::min_size()));
        },
        kInfo.fields);
  }

  static bool encode(Writer& w, const T& v) {
    if (!w.enter()) return false;
    put_tag(w, WireTag::Struct);
    put_name(w, kInfo.name);
    w.put_le(static_cast<std::uint16_t>(kFieldCount));
    const bool ok = std::apply(
        [&](const auto&... f) { return (encode_field(w, v, f) && ...); }, kInfo.fields);
    if (!ok) return false;
    w.leave();
    return true;
  }

  static bool decode(Reader& r, T& out) {
    const std::size_t at = r.position();
    if (!expect_tag<T>(r, WireTag::Struct) || !r.enter(at)) return false;
    std::string_view got;
    if (!read_name(r, "struct name", got)) return false;
    if (got != kInfo.name) return mismatch(r, name(), cat("struct ", printable(got)), at);
    const std::size_t count_at = r.position();
    if (!r.need(2, "struct field count")) return false;
    const std::uint16_t count = r.take_le<std::uint16_t>();
    if (count != kFieldCount) {
      return mismatch(r, cat(name(), " with ", kFieldCount, " fields"),
                      cat(name(), " with ", count, " fields"), count_at);
    }
    const bool ok = std::apply(
        [&](const auto&... f) { return (decode_field(r, out, f) && ...); }, kInfo.fields);
    if (!ok) return false;
    r.leave();
    return true;
  }

 private:
  static void put_name(Writer& w, std::string_view s) {
    w.put_u8(static_cast<std::uint8_t>(s.size()));
    w.put(s.data(), s.size());
  }
  template <class F>
  static bool encode_field(Writer& w, const T& v, const F& f) {
    put_name(w, f.name);
    return Codec<typename F::member_type>::encode(w, v.*(f.member));
  }
  template <class F>
  static bool decode_field(Reader& r, T& out, const F& f) {
    const std::size_t at = r.position();
    std::string_view got;
    if (!read_name(r, "field name", got)) return false;
    if (got != f.name) {
      return mismatch(r, cat(kInfo.name, ".", f.name), cat(kInfo.name, ".", printable(got)), at);
    }
    return Codec<typename F::member_type>::decode(r, out.*(f.member));
  }
};

template <>
struct Codec<Error> {
  static std::string name() { return "error"; }
  static constexpr std::size_t min_size() { return 10; }
  static bool encode(Writer& w, const Error& e) {
    if (!is_valid_error_kind(static_cast<std::uint8_t>(e.kind))) {
      return ser(w, cat("error kind ", static_cast<int>(e.kind), " is not a known ErrorKind"));
    }
    put_tag(w, WireTag::Error);
    w.put_u8(static_cast<std::uint8_t>(e.kind));
    if (!put_text(w, e.message, "error message") || !put_text(w, e.origin, "error origin")) return false;
    // Only a TypeMismatch carries its two type names (CODEC.md, error 0x14).
    return e.kind != ErrorKind::TypeMismatch ||
           (put_text(w, e.expected, "error expected type") && put_text(w, e.actual, "error actual type"));
  }
  static bool decode(Reader& r, Error& out) {
    std::string_view message, origin, expected, actual;
    if (!expect_tag<Error>(r, WireTag::Error) || !read_error_kind(r, out.kind) ||
        !read_text(r, "error message", message) || !read_text(r, "error origin", origin) ||
        !read_mismatch_types(r, out.kind, expected, actual)) {
      return false;
    }
    out.message = message;
    out.origin = origin;
    out.expected = expected;
    out.actual = actual;
    return true;
  }
};

// Result<T>: the value's own encoding when ok, an error value otherwise.
template <class T>
struct Codec<Result<T>> {
  using Value = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
  static std::string name() { return cat(Codec<Value>::name(), " or error"); }
  static constexpr std::size_t min_size() { return std::min(Codec<Value>::min_size(), Codec<Error>::min_size()); }
  static bool encode(Writer& w, const Result<T>& v) {
    if (!v.ok()) return Codec<Error>::encode(w, v.error());
    if constexpr (std::is_void_v<T>) return Codec<std::monostate>::encode(w, std::monostate{});
    else return Codec<T>::encode(w, v.value());
  }
  static bool decode(Reader& r, Result<T>& out) {
    if (!r.at_end() && r.peek_u8() == static_cast<std::uint8_t>(WireTag::Error)) {
      Error e;
      if (!Codec<Error>::decode(r, e)) return false;
      out = Result<T>(std::move(e));
      return true;
    }
    Value v = make_default<Value>();
    if (!Codec<Value>::decode(r, v)) return false;
    if constexpr (std::is_void_v<T>) out = Result<T>();
    else out = Result<T>(std::move(v));
    return true;
  }
};

// --- Generic walk ------------------------------------------------------------

template <class V>
bool walk(Reader& r, V& v) {
  const std::size_t at = r.position();
  std::uint8_t tag = 0;
  if (!read_tag(r, tag)) return false;
  switch (tag) {
    case 0x00:
      v.unit();
      return true;
    case 0x01: {
      bool b;
      if (!read_flag(r, "bool byte", b)) return false;
      v.boolean(b);
      return true;
    }
    case 0x02: case 0x03: case 0x04: case 0x05: case 0x06: case 0x07:
    case 0x08: case 0x09: case 0x0A: case 0x0B: {
      const std::size_t n = number_size(tag);
      if (!r.need(n, wire_name(WireTag{tag}), " payload")) return false;
      v.number(WireTag{tag}, r.take(n));
      return true;
    }
    case 0x0C: {
      std::string_view s;
      if (!read_text(r, "string", s)) return false;
      v.string(s);
      return true;
    }
    case 0x0D: {
      std::span<const std::byte> b;
      if (!read_blob(r, "bytes", b)) return false;
      v.bytes(b);
      return true;
    }
    case 0x0E: {
      std::uint32_t count;
      if (!r.enter(at) || !read_count(r, "array count", 1, count)) return false;
      v.array_begin(count);
      for (std::uint32_t i = 0; i < count; ++i) {
        v.item(i);
        if (!walk(r, v)) return false;
      }
      v.array_end();
      break;
    }
    case 0x0F: {
      if (!r.need(1, "packed element tag")) return false;
      const std::uint8_t elem = r.take_u8();
      if (!is_number_tag(elem)) {
        return deser(r, cat("packed element tag ", hex_byte(elem), " at offset ", r.position() - 1,
                            " is not a number type (0x02..0x0b)"));
      }
      std::uint32_t count;
      if (!read_count(r, "packed count", number_size(elem), count)) return false;
      v.packed(WireTag{elem}, count, r.take(count * number_size(elem)));
      return true;
    }
    case 0x10: {
      bool present;
      if (!r.enter(at) || !read_flag(r, "optional flag", present)) return false;
      v.optional_begin(present);
      if (present && !walk(r, v)) return false;
      v.optional_end(present);
      break;
    }
    case 0x11: {
      std::uint32_t index;
      if (!r.enter(at) || !read_u32(r, "variant index", {}, index)) return false;
      v.variant_begin(index);
      if (!walk(r, v)) return false;
      v.variant_end();
      break;
    }
    case 0x12: {
      std::uint32_t count;
      if (!r.enter(at) || !read_count(r, "map count", 2, count)) return false;
      v.map_begin(count);
      for (std::uint32_t i = 0; i < count; ++i) {
        v.map_key(i);
        if (!walk(r, v)) return false;
        v.map_value(i);
        if (!walk(r, v)) return false;
      }
      v.map_end();
      break;
    }
    case 0x13: {
      std::string_view name;
      if (!r.enter(at) || !read_name(r, "struct name", name) ||
          !check_utf8(r, "struct name", name, at + 1, at + 2)) {
        return false;
      }
      const std::size_t count_at = r.position();
      if (!r.need(2, "struct field count")) return false;
      const std::uint16_t count = r.take_le<std::uint16_t>();
      if (2u * count > r.remaining()) {
        return deser(r, cat("struct field count ", count, " at offset ", count_at, " needs at least ",
                            count_bytes(2u * count), " but ", count_bytes(r.remaining()), " remain"));
      }
      v.struct_begin(name, count);
      for (std::uint16_t i = 0; i < count; ++i) {
        const std::size_t field_at = r.position();
        std::string_view field;
        if (!read_name(r, "field name", field) || !check_utf8(r, "field name", field, field_at, field_at + 1)) {
          return false;
        }
        v.field(i, field);
        if (!walk(r, v)) return false;
      }
      v.struct_end();
      break;
    }
    case 0x14: {
      ErrorKind kind{};
      std::string_view message, origin, expected, actual;
      if (!read_error_kind(r, kind) || !read_text(r, "error message", message) ||
          !read_text(r, "error origin", origin) || !read_mismatch_types(r, kind, expected, actual)) {
        return false;
      }
      v.error(kind, message, origin, expected, actual);
      return true;
    }
    default:
      return unknown_tag(r, tag, at);
  }
  r.leave();  // the containers
  return true;
}

// --- Text form (core/CODEC.md, "Text form") ------------------------------------

// Shortest decimal that reads back as the same f64 (or f32), laid out as
// JavaScript's Number.prototype.toString does, except that -0 prints "-0".
inline std::string format_float(double v, bool is_f32) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v < 0 ? "-Infinity" : "Infinity";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  char buf[48];
  for (int p = 0; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*e", p, v);
    if (is_f32 ? std::strtof(buf, nullptr) == static_cast<float>(v) : std::strtod(buf, nullptr) == v) break;
  }
  // buf is "[-]d[.ddd]e[+-]xx": split into sign, digits and exponent.
  std::string_view s(buf);
  std::string out;
  if (s.front() == '-') { out += '-'; s.remove_prefix(1); }
  const std::size_t e = s.find('e');
  std::string digits;
  for (char c : s.substr(0, e)) {
    if (c >= '0' && c <= '9') digits += c;  // skips the (locale's) decimal point
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int n = std::atoi(std::string(s.substr(e + 1)).c_str()) + 1;  // value = 0.digits * 10^n
  const int k = static_cast<int>(digits.size());
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<std::size_t>(n)).append(".").append(digits, static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out.append("0.").append(static_cast<std::size_t>(-n), '0').append(digits);
  } else {
    out += digits[0];
    if (k > 1) out.append(".").append(digits, 1);
    out.append(n - 1 < 0 ? "e-" : "e+").append(std::to_string(std::abs(n - 1)));
  }
  return out;
}

inline void append_number(std::string& out, WireTag tag, const std::byte* p) {
  auto load = [p](auto v) { std::memcpy(&v, p, sizeof v); return v; };
  switch (tag) {
    case WireTag::I8: out += std::to_string(load(std::int8_t{})); break;
    case WireTag::U8: out += std::to_string(load(std::uint8_t{})); break;
    case WireTag::I16: out += std::to_string(load(std::int16_t{})); break;
    case WireTag::U16: out += std::to_string(load(std::uint16_t{})); break;
    case WireTag::I32: out += std::to_string(load(std::int32_t{})); break;
    case WireTag::U32: out += std::to_string(load(std::uint32_t{})); break;
    case WireTag::I64: out += std::to_string(load(std::int64_t{})); break;
    case WireTag::U64: out += std::to_string(load(std::uint64_t{})); break;
    case WireTag::F32: out += format_float(load(float{}), true); break;
    case WireTag::F64: out += format_float(load(double{}), false); break;
    default: break;
  }
}

// "\"", "\\" and everything outside printable ASCII are escaped: \" \\ \u{hex}.
inline void append_quoted(std::string& out, std::string_view s) {
  constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F) {
      if (c == '"' || c == '\\') out += '\\';
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    std::size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;  // s is valid UTF-8
    len = std::min(len, s.size() - i);
    std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
    for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
    out += "\\u{";
    bool started = false;
    for (int shift = 20; shift >= 0; shift -= 4) {
      const std::uint32_t d = (cp >> shift) & 15u;
      if (d != 0 || started || shift == 0) { out += kHex[d]; started = true; }
    }
    out += '}';
    i += len;
  }
  out += '"';
}

// Identifiers print bare, anything else quoted.
inline void append_name(std::string& out, std::string_view s) {
  auto ident = [](char c, bool first) {
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9');
  };
  bool bare = !s.empty();
  for (std::size_t i = 0; i < s.size() && bare; ++i) bare = ident(s[i], i == 0);
  if (bare) out += s;
  else append_quoted(out, s);
}

struct TextForm : ValueVisitor {
  std::string out;
  void unit() { out += "unit"; }
  void boolean(bool b) { out += b ? "bool true" : "bool false"; }
  void number(WireTag tag, std::span<const std::byte> raw) {
    out.append(wire_name(tag)).append(" ");
    append_number(out, tag, raw.data());
  }
  void string(std::string_view s) { out += "string "; append_quoted(out, s); }
  void bytes(std::span<const std::byte> b) {
    out += "bytes [";
    for (std::size_t i = 0; i < b.size(); ++i) {
      if (i) out += ' ';
      out += hex_byte(std::to_integer<std::uint8_t>(b[i])).substr(2);
    }
    out += ']';
  }
  void packed(WireTag elem, std::uint32_t count, std::span<const std::byte> raw) {
    out.append(wire_name(elem)).append("[] [");
    const std::size_t size = number_size(static_cast<std::uint8_t>(elem));
    for (std::uint32_t i = 0; i < count; ++i) {
      if (i) out += ", ";
      append_number(out, elem, raw.data() + i * size);
    }
    out += ']';
  }
  void array_begin(std::uint32_t) { out += "array ["; }
  void item(std::uint32_t i) { if (i) out += ", "; }
  void array_end() { out += ']'; }
  void optional_begin(bool present) { out += present ? "some(" : "none"; }
  void optional_end(bool present) { if (present) out += ')'; }
  void variant_begin(std::uint32_t index) { out.append("variant ").append(std::to_string(index)).append("("); }
  void variant_end() { out += ')'; }
  void map_begin(std::uint32_t) { out += "map {"; }
  void map_key(std::uint32_t i) { if (i) out += ", "; }
  void map_value(std::uint32_t) { out += ": "; }
  void map_end() { out += '}'; }
  void struct_begin(std::string_view name, std::uint16_t) {
    out += "struct ";
    append_name(out, name);
    out += " {";
  }
  void field(std::uint16_t i, std::string_view name) {
    if (i) out += ", ";
    append_name(out, name);
    out += ": ";
  }
  void struct_end() { out += '}'; }
  void error(ErrorKind kind, std::string_view message, std::string_view origin, std::string_view expected,
             std::string_view actual) {
    out.append("error ").append(to_string(kind)).append("(");
    append_quoted(out, message);
    out += ", ";
    append_quoted(out, origin);
    if (kind == ErrorKind::TypeMismatch) {
      out += ", ";
      append_quoted(out, expected);
      out += ", ";
      append_quoted(out, actual);
    }
    out += ')';
  }
};

inline Result<void> trailing_check(const Reader& r) {
  if (r.at_end()) return {};
  return Error::make(ErrorKind::Deserialization,
                     cat(r.remaining(), " trailing ", r.remaining() == 1 ? "byte" : "bytes",
                         " after value (the value ends at offset ", r.position(), ")"),
                     kOrigin);
}

}  // namespace detail

// --- Writer and Reader -------------------------------------------------------

inline std::span<const std::byte> Writer::bytes() const noexcept {
  if (vec_) return std::span<const std::byte>(*vec_).subspan(base_, size_);
  if (overflowed_) return {};
  return fixed_.first(size_);
}

inline void Writer::put(const void* data, std::size_t n) {
  if (n == 0) return;  // data may be null
  if (vec_) {
    // Within one value the vector runs ahead (grown to its capacity and
    // beyond); finish() trims it, so small puts are a compare and a memcpy.
    if (n > vec_->size() - base_ - size_) grow(n);
    std::memcpy(vec_->data() + base_ + size_, data, n);
  } else if (!overflowed_ && n <= fixed_.size() - size_) {
    std::memcpy(fixed_.data() + size_, data, n);
  } else {
    overflowed_ = true;  // from here on only count
  }
  size_ += n;
}

inline void Writer::grow(std::size_t n) {
  const std::size_t need = base_ + size_ + n;
  vec_->resize(std::max({need, vec_->capacity(), 2 * vec_->size()}));
}

inline void Writer::truncate(std::size_t size) noexcept {
  size_ = size;
  if (vec_) {
    vec_->resize(base_ + size);  // shrinking: never throws
  } else {
    overflowed_ = size > fixed_.size();  // every byte before an overflow was written
  }
  depth_ = 0;
}

inline bool Writer::enter() {
  if (depth_ >= kMaxDepth) {
    return detail::ser(*this, detail::cat("nesting depth ", depth_ + 1, " exceeds the limit of ", kMaxDepth));
  }
  ++depth_;
  return true;
}

inline Result<void> Writer::finish(std::size_t start, bool ok) {
  if (!ok) {
    truncate(start);
    Error e = error_ ? std::move(*error_) : Error::make(ErrorKind::Serialization, "encode failed", detail::kOrigin);
    error_.reset();
    return e;
  }
  if (vec_) vec_->resize(base_ + size_);
  if (overflowed_) {
    const std::size_t need = size();
    return Error::make(ErrorKind::MessageTooLarge,
                       detail::cat("encoding needs ", detail::count_bytes(need), " but the buffer holds ",
                                   fixed_.size(), " (", need - fixed_.size(), " more)"),
                       detail::kOrigin);
  }
  return {};
}

inline bool Reader::need(std::size_t n, std::string_view what, std::string_view suffix) {
  if (n <= remaining()) return true;
  return detail::deser(*this, detail::cat(what, suffix, " at offset ", pos_, " needs ", detail::count_bytes(n),
                                          " but ", detail::count_bytes(remaining()),
                                          remaining() == 1 ? " remains" : " remain"));
}

inline bool Reader::enter(std::size_t at) {
  if (depth_ >= kMaxDepth) {
    return detail::deser(*this, detail::cat("nesting depth ", depth_ + 1, " at offset ", at,
                                            " exceeds the limit of ", kMaxDepth));
  }
  ++depth_;
  return true;
}

// --- Public templates ----------------------------------------------------------

template <class T>
std::size_t encoded_size(const T& value) {
  if constexpr (requires { detail::Codec<T>::kFixedSize; }) {
    (void)value;
    return detail::Codec<T>::kFixedSize;
  } else {
    Writer w = Writer::counter();
    (void)detail::Codec<T>::encode(w, value);
    return w.size();
  }
}

template <class T>
Result<void> encode(Writer& writer, const T& value) {
  const std::size_t start = writer.size();
  const bool ok = detail::Codec<T>::encode(writer, value);
  return writer.finish(start, ok);
}

template <class T>
Result<std::vector<std::byte>> encode(const T& value) {
  std::vector<std::byte> out;
  out.reserve(encoded_size(value));
  Writer w(out);
  if (auto r = encode(w, value); !r) return std::move(r).error();
  return Result<std::vector<std::byte>>(std::move(out));
}

template <class T>
Result<T> decode(Reader& reader) {
  static_assert(!std::is_same_v<T, Error>,
                "decode<Error> would return the ambiguous Result<Error>: decode a Result<T> instead");
  T value = detail::make_default<T>();
  if (!detail::Codec<T>::decode(reader, value)) return reader.take_error();
  return Result<T>(std::move(value));
}

template <class T>
Result<T> decode(std::span<const std::byte> bytes) {
  Reader reader(bytes);
  Result<T> result = decode<T>(reader);
  if (!result) return result;
  if (auto tail = detail::trailing_check(reader); !tail) return std::move(tail).error();
  return result;
}

template <class Visitor>
Result<void> visit_value(Reader& reader, Visitor& visitor) {
  if (!detail::walk(reader, visitor)) return reader.take_error();
  return {};
}

inline Result<void> skip_value(Reader& reader) {
  ValueVisitor ignore;
  return visit_value(reader, ignore);
}

inline Result<std::string> describe_value(std::span<const std::byte> bytes) {
  Reader reader(bytes);
  detail::TextForm text;
  if (auto r = visit_value(reader, text); !r) return std::move(r).error();
  if (auto tail = detail::trailing_check(reader); !tail) return std::move(tail).error();
  return Result<std::string>(std::move(text.out));
}

}  // namespace ferry
