// ferry core (internal): the codec's building blocks
// Part of core/codec.hpp, which includes it after its public declarations:
// include core/codec.hpp, not this file.
//
// The codec's error messages, the checked reads (tags, counts, UTF-8 text,
// names) every Codec<T> is made of, and Writer's and Reader's members.
#pragma once

namespace ferry {

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
// "0xff232285": a schema form's fingerprint.
inline std::string hex_u32(std::uint32_t v) {
  std::string s = "0x";
  for (int shift = 24; shift >= 0; shift -= 8) s += hex_byte(static_cast<std::uint8_t>(v >> shift)).substr(2);
  return s;
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

// A schema form's u32 N, then its N bytes: the u32 fingerprint and the bare
// value (CODEC.md "Schema form"). Typed decoders and the walker both read it
// here, so they refuse the same lengths.
inline bool read_schema_form(Reader& r, std::span<const std::byte>& out) {
  const std::size_t at = r.position();
  if (!read_blob(r, "schema form", out)) return false;
  if (out.size() >= 4) return true;
  return deser(r, cat("schema form length ", out.size(), " at offset ", at,
                      " is less than the 4 bytes of its fingerprint"));
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

// One byte that must be at most `max` (1 for a flag, 0 for a bare unit).
inline bool read_small(Reader& r, std::string_view what, std::uint8_t max, std::uint8_t& out) {
  if (!r.need(1, what)) return false;
  const std::size_t at = r.position();
  out = r.take_u8();
  if (out <= max) return true;
  return deser(r, cat(what, " ", hex_byte(out), " at offset ", at, max == 0 ? " is not 0" : " is not 0 or 1"));
}

// One byte that must be 0 or 1.
inline bool read_flag(Reader& r, std::string_view what, bool& out) {
  std::uint8_t b;
  if (!read_small(r, what, 1, b)) return false;
  out = b == 1;
  return true;
}

// One byte that must be 0: the bare unit, empty tuple and empty struct
// (every bare value takes at least a byte, CODEC.md "Schema form").
inline bool read_zero(Reader& r, std::string_view what) {
  std::uint8_t b;
  return read_small(r, what, 0, b);
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

}  // namespace detail

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

inline void Writer::put_at(std::size_t at, const void* data, std::size_t n) noexcept {
  if (vec_) std::memcpy(vec_->data() + base_ + at, data, n);
  else if (!overflowed_ && !counting_) std::memcpy(fixed_.data() + at, data, n);  // else nothing is kept
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

}  // namespace ferry
