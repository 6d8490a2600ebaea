// ferry core (internal): the value walk without a C++ type, and the text form
// Part of core/codec.hpp, which includes it after its public declarations:
// include core/codec.hpp, not this file.
#pragma once

// walk() validates one value and calls a ValueVisitor on its parts
// (visit_value, skip_value); TextForm is the visitor behind describe_value.

namespace ferry::detail {

template <class V>
bool walk(Reader& r, V& v);

// The containers, one function each. Each is called with the container's tag
// read (it starts at `at`) and, except for packed, leaves the depth it enters.
template <class V>
bool walk_array(Reader& r, V& v, std::size_t at) {
  std::uint32_t count;
  if (!r.enter(at) || !read_count(r, "array count", 1, count)) return false;
  v.array_begin(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    v.item(i);
    if (!walk(r, v)) return false;
  }
  v.array_end();
  r.leave();
  return true;
}

template <class V>
bool walk_packed(Reader& r, V& v) {
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

template <class V>
bool walk_optional(Reader& r, V& v, std::size_t at) {
  bool present;
  if (!r.enter(at) || !read_flag(r, "optional flag", present)) return false;
  v.optional_begin(present);
  if (present && !walk(r, v)) return false;
  v.optional_end(present);
  r.leave();
  return true;
}

template <class V>
bool walk_variant(Reader& r, V& v, std::size_t at) {
  std::uint32_t index;
  if (!r.enter(at) || !read_u32(r, "variant index", {}, index)) return false;
  v.variant_begin(index);
  if (!walk(r, v)) return false;
  v.variant_end();
  r.leave();
  return true;
}

template <class V>
bool walk_map(Reader& r, V& v, std::size_t at) {
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
  r.leave();
  return true;
}

template <class V>
bool walk_struct(Reader& r, V& v, std::size_t at) {
  std::string_view name;
  if (!r.enter(at) || !read_name(r, "struct name", name) || !check_utf8(r, "struct name", name, at + 1, at + 2)) {
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
  r.leave();
  return true;
}

template <class V>
bool walk_error(Reader& r, V& v) {
  ErrorKind kind{};
  std::string_view message, origin, expected, actual;
  if (!read_error_kind(r, kind) || !read_text(r, "error message", message) ||
      !read_text(r, "error origin", origin) || !read_mismatch_types(r, kind, expected, actual)) {
    return false;
  }
  v.error(kind, message, origin, expected, actual);
  return true;
}

template <class V>
bool walk(Reader& r, V& v) {
  const std::size_t at = r.position();
  std::uint8_t tag = 0;
  if (!read_tag(r, tag)) return false;
  if (is_number_tag(tag)) {
    const std::size_t n = number_size(tag);
    if (!r.need(n, wire_name(WireTag{tag}), " payload")) return false;
    v.number(WireTag{tag}, r.take(n));
    return true;
  }
  switch (WireTag{tag}) {
    case WireTag::Unit:
      v.unit();
      return true;
    case WireTag::Bool: {
      bool b;
      if (!read_flag(r, "bool byte", b)) return false;
      v.boolean(b);
      return true;
    }
    case WireTag::String: {
      std::string_view s;
      if (!read_text(r, "string", s)) return false;
      v.string(s);
      return true;
    }
    case WireTag::Bytes: {
      std::span<const std::byte> b;
      if (!read_blob(r, "bytes", b)) return false;
      v.bytes(b);
      return true;
    }
    case WireTag::Array: return walk_array(r, v, at);
    case WireTag::Packed: return walk_packed(r, v);
    case WireTag::Optional: return walk_optional(r, v, at);
    case WireTag::Variant: return walk_variant(r, v, at);
    case WireTag::Map: return walk_map(r, v, at);
    case WireTag::Struct: return walk_struct(r, v, at);
    case WireTag::Error: return walk_error(r, v);
    case WireTag::Schema: {  // only its length is checked: the bare bytes need the type
      std::span<const std::byte> held;
      if (!read_schema_form(r, held)) return false;
      v.schema_form(held);
      return true;
    }
    default: return unknown_tag(r, tag, at);
  }
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

// "[de ad be ef]": two lowercase hex digits per byte, one space between.
inline void append_hex_list(std::string& out, std::span<const std::byte> b) {
  out += '[';
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i) out += ' ';
    out += hex_byte(std::to_integer<std::uint8_t>(b[i])).substr(2);
  }
  out += ']';
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
    out += "bytes ";
    append_hex_list(out, b);
  }
  void schema_form(std::span<const std::byte> fingerprint_and_bare) {
    out += "schema ";
    append_hex_list(out, fingerprint_and_bare);
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

}  // namespace ferry::detail
