// ferry core (internal): Codec<T> for every C++ type the wire carries
// Part of core/codec.hpp, which includes it after its public declarations:
// include core/codec.hpp, not this file.
#pragma once

namespace ferry::detail {

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
  switch (WireTag{tag}) {
    case WireTag::I8: case WireTag::U8: return 1;
    case WireTag::I16: case WireTag::U16: return 2;
    case WireTag::I32: case WireTag::U32: case WireTag::F32: return 4;
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

}  // namespace ferry::detail
