// ferry core: the wire codec — typed C++ values to self-describing bytes and back.
//
// The format is written down byte for byte in core/CODEC.md, the contract
// with the TypeScript twin; tests/golden/codec.txt holds the shared vectors.
// Every value starts with a one-byte tag; numbers are little-endian and
// unaligned; containers carry counts; structs carry their name and field
// names. So JavaScript can decode without a schema, and C++ refuses a value of
// another type with TypeMismatch{expected, actual} instead of misreading it.
// Where both ends know the type, encode(value, Form::Schema) writes the schema
// form instead: 0x15, a u32 length, a u32 fingerprint of the type's schema
// text (schema_fingerprint), then the value bare (no tags or names inside).
// decode<T> accepts either form at the top; a schema form of another type is
// TypeMismatch by its fingerprint, before any of the value is read.
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
//   any of these in Form::Schema              schema form (0x15), top level only
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
  Variant = 0x11, Map = 0x12, Struct = 0x13, Error = 0x14, Schema = 0x15,
};

// How encode writes a value: Tagged is self-describing (every value carries
// its tag, structs their names). Schema is 0x15, a u32 length N, the u32
// fingerprint of the value's schema text and the value bare (no tags or names
// inside, CODEC.md "Schema form"): smaller, and only for a reader that knows
// the type, as decode<T> does.
enum class Form : std::uint8_t { Tagged, Schema };

// Containers (array, optional, variant, map, struct) nest at most this deep.
inline constexpr int kMaxDepth = 64;

// Wire type names, as used in TypeMismatch: "unit", "i32", "struct", ...
constexpr std::string_view wire_name(WireTag tag) noexcept;
constexpr bool is_wire_tag(std::uint8_t raw) noexcept { return raw <= 0x15; }
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
  // Overwrites n bytes put earlier at size() == at (a length known only after
  // what follows it); nothing when only counting or overflowed.
  void put_at(std::size_t at, const void* data, std::size_t n) noexcept;
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
std::size_t encoded_size(const T& value, Form form = Form::Tagged);

// Appends one value. Fails with Serialization (invalid UTF-8, a count above
// 2^32-1, nesting past kMaxDepth; nothing of the value is kept) or, for a
// fixed span, MessageTooLarge ("needs N bytes ... (K more)").
template <class T>
Result<void> encode(Writer& writer, const T& value, Form form = Form::Tagged);
template <class T>
Result<std::vector<std::byte>> encode(const T& value, Form form = Form::Tagged);

// The form ferry's own encoders choose for a value whose reader knows its
// type (task results, stream values): Schema where it pays, that is when T
// holds a FERRY_STRUCT, whose names it saves; Tagged otherwise (a number or
// a string takes one tag byte, the wrapper five). web/src/schema/compile.ts
// (prefersSchemaForm) makes the same choice.
template <class T>
constexpr Form preferred_form() noexcept;

// Decodes one value at the reader's position and advances past it. It may be
// in either form: T's tagged encoding, or T's schema form (only here at the
// top: nothing tagged holds a schema form).
template <class T>
Result<T> decode(Reader& reader);
// Decodes exactly one value: bytes left over are a Deserialization error.
template <class T>
Result<T> decode(std::span<const std::byte> bytes);

// A type's schema: its wire shape as text (core/CODEC.md, "Schemas"), e.g.
//   ferry::schema_of<std::vector<Point>>()   // "[struct Point{x:i32,y:i32}]"
//   ferry::schema_of<std::optional<float>>() // "?f32"
// It tells a dynamically typed peer (the JavaScript WorkerPool) which wire
// type each argument of an exported task must have, so that it can turn a
// plain JavaScript number into the i32 a C++ `int` parameter decodes: C++
// decoders never convert. Covers exactly the types this codec encodes; a
// struct's body is written once per schema, later uses say `struct Name`
// (which is also how recursive structs end).
template <class T>
std::string schema_of();
// "(A,B)": the schemas of a parameter list, sharing struct definitions.
template <class... Ts>
std::string schema_of_list();

// The fingerprint a schema form carries (CODEC.md "Schema form"): 32-bit
// FNV-1a of a schema text's UTF-8 bytes (offset basis 2166136261, prime
// 16777619, modulo 2^32). "struct Point{x:i32,y:i32}" gives 0xff232285.
constexpr std::uint32_t schema_fingerprint(std::string_view schema_text) noexcept;
// schema_fingerprint(schema_of<T>()), computed on the first call for each T.
// Types of the same schema text (std::string and std::string_view) share it.
template <class T>
std::uint32_t schema_fingerprint();

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
  // A schema form's N bytes (its fingerprint, then the value bare), unread:
  // without a type they mean nothing.
  void schema_form(std::span<const std::byte> /*fingerprint_and_bare*/) {}
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
      "struct", "error", "schema"};
  const auto i = static_cast<std::uint8_t>(tag);
  return i < std::size(kNames) ? kNames[i] : std::string_view("unknown");
}

constexpr std::uint32_t schema_fingerprint(std::string_view schema_text) noexcept {
  std::uint32_t hash = 2166136261u;
  for (const char c : schema_text) {
    hash ^= static_cast<std::uint8_t>(c);
    hash *= 16777619u;  // unsigned: wraps modulo 2^32
  }
  return hash;
}

}  // namespace ferry

// The implementation, by concern (core/detail/): building blocks, then the
// codec of each C++ type, schema text, then the type-free walk and the text form.
#include "detail/codec_base.hpp"
#include "detail/codec_types.hpp"
#include "detail/codec_schema.hpp"
#include "detail/codec_walk.hpp"

namespace ferry {

// --- Public templates ----------------------------------------------------------

template <class T>
std::size_t encoded_size(const T& value, Form form) {
  if (form == Form::Schema) return detail::schema_form_size(value);
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
constexpr Form preferred_form() noexcept {
  return detail::HoldsStruct<T>::value ? Form::Schema : Form::Tagged;
}

template <class T>
Result<void> encode(Writer& writer, const T& value, Form form) {
  const std::size_t start = writer.size();
  const bool ok = form == Form::Schema ? detail::encode_schema_form(writer, value)
                                       : detail::Codec<T>::encode(writer, value);
  return writer.finish(start, ok);
}

template <class T>
Result<std::vector<std::byte>> encode(const T& value, Form form) {
  std::vector<std::byte> out;
  out.reserve(encoded_size(value, form));
  Writer w(out);
  if (auto r = encode(w, value, form); !r) return std::move(r).error();
  return Result<std::vector<std::byte>>(std::move(out));
}

template <class T>
Result<T> decode(Reader& reader) {
  static_assert(!std::is_same_v<T, Error>,
                "decode<Error> would return the ambiguous Result<Error>: decode a Result<T> instead");
  T value = detail::make_default<T>();
  if (!detail::decode_top(reader, value)) return reader.take_error();
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

template <class T>
std::string schema_of() {
  detail::SchemaWriter s;
  detail::write_schema<T>(s);
  return std::move(s.out);
}

template <class... Ts>
std::string schema_of_list() {
  detail::SchemaWriter s;
  detail::write_list<Ts...>(s, '(', ',', ')');
  return std::move(s.out);
}

template <class T>
std::uint32_t schema_fingerprint() {
  static const std::uint32_t fingerprint = schema_fingerprint(schema_of<T>());
  return fingerprint;
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
