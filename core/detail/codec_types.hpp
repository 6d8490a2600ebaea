// ferry core (internal): Codec<T> for every C++ type the wire carries
// Part of core/codec.hpp, which includes it after its public declarations:
// include core/codec.hpp, not this file.
#pragma once

namespace ferry::detail {

// Codec<T> has: name() (the wire type name decode expects), min_size() (the
// fewest bytes any tagged encoding of T takes, to bound what a count may
// reserve), encode(Writer&, const T&) and decode(Reader&, T&) for the tagged
// form, and encode_bare/decode_bare for the bare encoding inside a schema
// form (CODEC.md "Schema form"); all four return false after recording an
// error in the writer or reader. Types whose every value encodes to the same
// number of bytes also have kFixedSize (tagged) and kFixedBareSize, so that
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

// A value nested in a container takes the container's form: tagged inside
// tagged, bare inside bare.
template <class T, bool kBare>
bool encode_as(Writer& w, const T& v) {
  if constexpr (kBare) return Codec<T>::encode_bare(w, v);
  else return Codec<T>::encode(w, v);
}
template <class T, bool kBare>
bool decode_as(Reader& r, T& out) {
  if constexpr (kBare) return Codec<T>::decode_bare(r, out);
  else return Codec<T>::decode(r, out);
}

// Opens a container (one level deeper) and, unless bare, writes or checks
// its tag. The reader's container starts at `at`.
template <bool kBare>
bool open_container(Writer& w, WireTag tag) {
  if (!w.enter()) return false;
  if constexpr (!kBare) put_tag(w, tag);
  return true;
}
template <class T, bool kBare>
bool open_container(Reader& r, WireTag tag, std::size_t at) {
  if constexpr (!kBare) {
    if (!expect_tag<T>(r, tag)) return false;
  }
  return r.enter(at);
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
  static constexpr std::size_t kFixedBareSize = 1;
  static bool encode(Writer& w, const std::monostate&) { put_tag(w, WireTag::Unit); return true; }
  static bool decode(Reader& r, std::monostate&) { return expect_tag<std::monostate>(r, WireTag::Unit); }
  static bool encode_bare(Writer& w, const std::monostate&) { w.put_u8(0); return true; }
  static bool decode_bare(Reader& r, std::monostate&) { return read_zero(r, "unit byte"); }
};

template <>
struct Codec<bool> {
  static std::string name() { return "bool"; }
  static constexpr std::size_t min_size() { return 2; }
  static constexpr std::size_t kFixedSize = 2;
  static constexpr std::size_t kFixedBareSize = 1;
  static bool encode(Writer& w, const bool& v) {
    put_tag(w, WireTag::Bool);
    return encode_bare(w, v);
  }
  static bool decode(Reader& r, bool& out) { return expect_tag<bool>(r, WireTag::Bool) && decode_bare(r, out); }
  static bool encode_bare(Writer& w, const bool& v) {
    w.put_u8(v ? 1 : 0);
    return true;
  }
  static bool decode_bare(Reader& r, bool& out) { return read_flag(r, "bool byte", out); }
};

template <WireNumber T>
struct Codec<T> {
  static constexpr WireTag kTag = number_tag<T>();
  static std::string name() { return std::string(wire_name(kTag)); }
  static constexpr std::size_t min_size() { return 1 + sizeof(T); }
  static constexpr std::size_t kFixedSize = 1 + sizeof(T);
  static constexpr std::size_t kFixedBareSize = sizeof(T);
  static bool encode(Writer& w, const T& v) {
    put_tag(w, kTag);
    return encode_bare(w, v);
  }
  static bool decode(Reader& r, T& out) { return expect_tag<T>(r, kTag) && decode_bare(r, out); }
  static bool encode_bare(Writer& w, const T& v) {
    w.put_le(v);
    return true;
  }
  static bool decode_bare(Reader& r, T& out) {
    if (!r.need(sizeof(T), wire_name(kTag), " payload")) return false;
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
    return encode_bare(w, v);
  }
  static bool decode(Reader& r, S& out) { return expect_tag<S>(r, WireTag::String) && decode_bare(r, out); }
  static bool encode_bare(Writer& w, const S& v) { return put_text(w, v, "string"); }
  static bool decode_bare(Reader& r, S& out) {
    std::string_view s;
    if (!read_text(r, "string", s)) return false;
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
    put_tag(w, WireTag::Bytes);
    return encode_bare(w, v);
  }
  static bool decode(Reader& r, B& out) { return expect_tag<B>(r, WireTag::Bytes) && decode_bare(r, out); }
  static bool encode_bare(Writer& w, const B& v) {
    if (!check_count(w, v.size(), "bytes length")) return false;
    w.put_le(static_cast<std::uint32_t>(v.size()));
    w.put(v.data(), v.size());
    return true;
  }
  static bool decode_bare(Reader& r, B& out) {
    std::span<const std::byte> raw;
    if (!read_blob(r, "bytes", raw)) return false;
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
    if constexpr (kPacked) {
      put_tag(w, WireTag::Packed);
      put_tag(w, number_tag<T>());
      return encode_bare(w, v);
    } else {
      return encode_items<false>(w, v);
    }
  }

  // Bare packed: the count and the raw elements, without the element tag.
  static bool encode_bare(Writer& w, const std::vector<T>& v) {
    if constexpr (kPacked) {
      if (!check_count(w, v.size(), "packed array")) return false;
      w.put_le(static_cast<std::uint32_t>(v.size()));
      w.put(v.data(), v.size() * sizeof(T));
      return true;
    } else {
      return encode_items<true>(w, v);
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
      return decode_bare(r, out);
    } else {
      return decode_items<false>(r, out, at);
    }
  }

  static bool decode_bare(Reader& r, std::vector<T>& out) {
    if constexpr (kPacked) {
      std::uint32_t count;
      if (!read_count(r, "packed count", sizeof(T), count)) return false;
      out.resize(count);
      if (count != 0) std::memcpy(out.data(), r.take(count * sizeof(T)).data(), count * sizeof(T));
      return true;
    } else {
      return decode_items<true>(r, out, r.position());
    }
  }

 private:
  template <bool kBare>
  static bool encode_items(Writer& w, const std::vector<T>& v) {
    if (!check_count(w, v.size(), "array") || !open_container<kBare>(w, WireTag::Array)) return false;
    w.put_le(static_cast<std::uint32_t>(v.size()));
    for (const auto& e : v) {
      if (!encode_as<T, kBare>(w, e)) return false;
    }
    w.leave();
    return true;
  }

  template <bool kBare>
  static bool decode_items(Reader& r, std::vector<T>& out, std::size_t at) {
    std::uint32_t count;
    // Tagged or bare, every item takes at least one byte.
    if (!open_container<std::vector<T>, kBare>(r, WireTag::Array, at) || !read_count(r, "array count", 1, count)) {
      return false;
    }
    // Counts are checked as the walker checks them (a value of another type
    // must still be a TypeMismatch); the reservation assumes valid elements.
    out.clear();
    out.reserve(std::min<std::size_t>(count, r.remaining() / Codec<T>::min_size()));
    for (std::uint32_t i = 0; i < count; ++i) {
      if constexpr (std::is_same_v<T, bool>) {  // vector<bool> has no bool&
        bool b = false;
        if (!decode_as<bool, kBare>(r, b)) return false;
        out.push_back(b);
      } else {
        out.push_back(make_default<T>());
        if (!decode_as<T, kBare>(r, out.back())) return false;
      }
    }
    r.leave();
    return true;
  }
};

// Fixed-size sequences (std::array, std::tuple, std::pair): an array of
// exactly N; bare, the N items alone (a zero byte when N is 0, as every bare
// value takes a byte).
template <class Derived, class T, std::size_t N>
struct FixedArrayCodec {
  static std::string name() { return "array"; }
  static bool encode(Writer& w, const T& v) {
    if (!w.enter()) return false;
    put_tag(w, WireTag::Array);
    w.put_le(static_cast<std::uint32_t>(N));
    if (!Derived::template encode_items<false>(w, v)) return false;
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
    if (!Derived::template decode_items<false>(r, out)) return false;
    r.leave();
    return true;
  }
  static bool encode_bare(Writer& w, const T& v) {
    if (!w.enter()) return false;
    if constexpr (N == 0) {
      w.put_u8(0);
    } else {
      if (!Derived::template encode_items<true>(w, v)) return false;
    }
    w.leave();
    return true;
  }
  static bool decode_bare(Reader& r, T& out) {
    if (!r.enter(r.position())) return false;
    if constexpr (N == 0) {
      if (!read_zero(r, "empty tuple byte")) return false;
    } else {
      if (!Derived::template decode_items<true>(r, out)) return false;
    }
    r.leave();
    return true;
  }
};

template <class T, std::size_t N>
struct Codec<std::array<T, N>> : FixedArrayCodec<Codec<std::array<T, N>>, std::array<T, N>, N> {
  static constexpr std::size_t min_size() { return 5 + N * Codec<T>::min_size(); }
  template <bool kBare>
  static bool encode_items(Writer& w, const std::array<T, N>& v) {
    for (const auto& e : v) {
      if (!encode_as<T, kBare>(w, e)) return false;
    }
    return true;
  }
  template <bool kBare>
  static bool decode_items(Reader& r, std::array<T, N>& out) {
    for (auto& e : out) {
      if (!decode_as<T, kBare>(r, e)) return false;
    }
    return true;
  }
};

template <class Tuple, class... Ts>
struct TupleCodec : FixedArrayCodec<TupleCodec<Tuple, Ts...>, Tuple, sizeof...(Ts)> {
  static constexpr std::size_t min_size() { return (5 + ... + Codec<Ts>::min_size()); }
  template <bool kBare>
  static bool encode_items(Writer& w, const Tuple& v) {
    return std::apply([&](const auto&... e) { return (encode_as<Ts, kBare>(w, e) && ...); }, v);
  }
  template <bool kBare>
  static bool decode_items(Reader& r, Tuple& out) {
    return std::apply([&](auto&... e) { return (decode_as<Ts, kBare>(r, e) && ...); }, out);
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
  static bool encode(Writer& w, const std::optional<T>& v) { return put<false>(w, v); }
  static bool decode(Reader& r, std::optional<T>& out) { return get<false>(r, out); }
  static bool encode_bare(Writer& w, const std::optional<T>& v) { return put<true>(w, v); }
  static bool decode_bare(Reader& r, std::optional<T>& out) { return get<true>(r, out); }

 private:
  template <bool kBare>
  static bool put(Writer& w, const std::optional<T>& v) {
    if (!open_container<kBare>(w, WireTag::Optional)) return false;
    w.put_u8(v ? 1 : 0);
    if (v && !encode_as<T, kBare>(w, *v)) return false;
    w.leave();
    return true;
  }
  template <bool kBare>
  static bool get(Reader& r, std::optional<T>& out) {
    const std::size_t at = r.position();
    bool present = false;
    if (!open_container<std::optional<T>, kBare>(r, WireTag::Optional, at) ||
        !read_flag(r, "optional flag", present)) {
      return false;
    }
    if (present) {
      out.emplace(make_default<T>());
      if (!decode_as<T, kBare>(r, *out)) return false;
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
  static bool encode(Writer& w, const V& v) { return put<false>(w, v); }
  static bool decode(Reader& r, V& out) { return get<false>(r, out); }
  static bool encode_bare(Writer& w, const V& v) { return put<true>(w, v); }
  static bool decode_bare(Reader& r, V& out) { return get<true>(r, out); }

 private:
  template <bool kBare>
  static bool put(Writer& w, const V& v) {
    if (v.valueless_by_exception()) return ser(w, "variant is valueless (an assignment threw)");
    if (!open_container<kBare>(w, WireTag::Variant)) return false;
    w.put_le(static_cast<std::uint32_t>(v.index()));
    const bool ok = std::visit(
        [&](const auto& alt) { return encode_as<std::remove_cvref_t<decltype(alt)>, kBare>(w, alt); }, v);
    if (!ok) return false;
    w.leave();
    return true;
  }

  template <bool kBare>
  static bool get(Reader& r, V& out) {
    const std::size_t at = r.position();
    if (!open_container<V, kBare>(r, WireTag::Variant, at)) return false;
    const std::size_t index_at = r.position();
    std::uint32_t index;
    if (!read_u32(r, "variant index", {}, index)) return false;
    if (index >= sizeof...(Ts)) {
      return deser(r, cat("variant index ", index, " at offset ", index_at, " is out of range for ",
                          sizeof...(Ts), " alternatives"));
    }
    if (!dispatch<kBare>(r, out, index, std::index_sequence_for<Ts...>{})) return false;
    r.leave();
    return true;
  }

  template <std::size_t I, bool kBare>
  static bool decode_alt(Reader& r, V& out) {
    using Alt = std::variant_alternative_t<I, V>;
    return decode_as<Alt, kBare>(r, out.template emplace<I>(make_default<Alt>()));
  }
  template <bool kBare, std::size_t... I>
  static bool dispatch(Reader& r, V& out, std::size_t index, std::index_sequence<I...>) {
    using Fn = bool (*)(Reader&, V&);
    static constexpr Fn kTable[] = {&decode_alt<I, kBare>...};
    return kTable[index](r, out);
  }
};

template <class M>  // std::map or std::unordered_map
struct MapCodec {
  using K = typename M::key_type;
  using V = typename M::mapped_type;
  static std::string name() { return "map"; }
  static constexpr std::size_t min_size() { return 5; }
  static bool encode(Writer& w, const M& m) { return put<false>(w, m); }
  static bool decode(Reader& r, M& out) { return get<false>(r, out); }
  static bool encode_bare(Writer& w, const M& m) { return put<true>(w, m); }
  static bool decode_bare(Reader& r, M& out) { return get<true>(r, out); }

 private:
  template <bool kBare>
  static bool put(Writer& w, const M& m) {
    if (!check_count(w, m.size(), "map") || !open_container<kBare>(w, WireTag::Map)) return false;
    w.put_le(static_cast<std::uint32_t>(m.size()));
    for (const auto& [k, v] : m) {
      if (!encode_as<K, kBare>(w, k) || !encode_as<V, kBare>(w, v)) return false;
    }
    w.leave();
    return true;
  }
  template <bool kBare>
  static bool get(Reader& r, M& out) {
    const std::size_t at = r.position();
    std::uint32_t count;
    // Tagged or bare, a pair takes at least two bytes.
    if (!open_container<M, kBare>(r, WireTag::Map, at) || !read_count(r, "map count", 2, count)) return false;
    out.clear();
    for (std::uint32_t i = 0; i < count; ++i) {
      const std::size_t key_at = r.position();
      K k = make_default<K>();
      V v = make_default<V>();
      if (!decode_as<K, kBare>(r, k) || !decode_as<V, kBare>(r, v)) return false;
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

  // Bare: the fields in order, no names (a zero byte when there are none).
  static bool encode_bare(Writer& w, const T& v) {
    if (!w.enter()) return false;
    if constexpr (kFieldCount == 0) w.put_u8(0);
    const bool ok = std::apply(
        [&](const auto&... f) { return (Codec<Member<decltype(f)>>::encode_bare(w, v.*(f.member)) && ...); },
        kInfo.fields);
    if (!ok) return false;
    w.leave();
    return true;
  }

  static bool decode_bare(Reader& r, T& out) {
    if (!r.enter(r.position())) return false;
    if constexpr (kFieldCount == 0) {
      if (!read_zero(r, "empty struct byte")) return false;
    }
    const bool ok = std::apply(
        [&](const auto&... f) { return (Codec<Member<decltype(f)>>::decode_bare(r, out.*(f.member)) && ...); },
        kInfo.fields);
    if (!ok) return false;
    r.leave();
    return true;
  }

 private:
  template <class F>
  using Member = typename std::remove_cvref_t<F>::member_type;

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
    put_tag(w, WireTag::Error);
    return encode_bare(w, e);
  }
  static bool decode(Reader& r, Error& out) { return expect_tag<Error>(r, WireTag::Error) && decode_bare(r, out); }
  static bool encode_bare(Writer& w, const Error& e) {
    if (!is_valid_error_kind(static_cast<std::uint8_t>(e.kind))) {
      return ser(w, cat("error kind ", static_cast<int>(e.kind), " is not a known ErrorKind"));
    }
    w.put_u8(static_cast<std::uint8_t>(e.kind));
    if (!put_text(w, e.message, "error message") || !put_text(w, e.origin, "error origin")) return false;
    // Only a TypeMismatch carries its two type names (CODEC.md, error 0x14).
    return e.kind != ErrorKind::TypeMismatch ||
           (put_text(w, e.expected, "error expected type") && put_text(w, e.actual, "error actual type"));
  }
  static bool decode_bare(Reader& r, Error& out) {
    std::string_view message, origin, expected, actual;
    if (!read_error_kind(r, out.kind) || !read_text(r, "error message", message) ||
        !read_text(r, "error origin", origin) || !read_mismatch_types(r, out.kind, expected, actual)) {
      return false;
    }
    out.message = message;
    out.origin = origin;
    out.expected = expected;
    out.actual = actual;
    return true;
  }
};

// Result<T>: tagged, the value's own encoding when ok, an error value
// otherwise; bare, a flag byte (0 ok, 1 error) says which follows.
template <class T>
struct Codec<Result<T>> {
  using Value = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
  static std::string name() { return cat(Codec<Value>::name(), " or error"); }
  static constexpr std::size_t min_size() { return std::min(Codec<Value>::min_size(), Codec<Error>::min_size()); }
  static bool encode(Writer& w, const Result<T>& v) { return put_content<false>(w, v); }
  static bool decode(Reader& r, Result<T>& out) {
    const bool failed = !r.at_end() && r.peek_u8() == static_cast<std::uint8_t>(WireTag::Error);
    return failed ? get_error<false>(r, out) : get_value<false>(r, out);
  }
  static bool encode_bare(Writer& w, const Result<T>& v) {
    w.put_u8(v.ok() ? 0 : 1);
    return put_content<true>(w, v);
  }
  static bool decode_bare(Reader& r, Result<T>& out) {
    bool failed = false;
    if (!read_flag(r, "result flag", failed)) return false;
    return failed ? get_error<true>(r, out) : get_value<true>(r, out);
  }

 private:
  template <bool kBare>
  static bool put_content(Writer& w, const Result<T>& v) {
    if (!v.ok()) return encode_as<Error, kBare>(w, v.error());
    if constexpr (std::is_void_v<T>) return encode_as<std::monostate, kBare>(w, std::monostate{});
    else return encode_as<T, kBare>(w, v.value());
  }
  template <bool kBare>
  static bool get_error(Reader& r, Result<T>& out) {
    Error e;
    if (!decode_as<Error, kBare>(r, e)) return false;
    out = Result<T>(std::move(e));
    return true;
  }
  template <bool kBare>
  static bool get_value(Reader& r, Result<T>& out) {
    Value v = make_default<Value>();
    if (!decode_as<Value, kBare>(r, v)) return false;
    if constexpr (std::is_void_v<T>) out = Result<T>();
    else out = Result<T>(std::move(v));
    return true;
  }
};

// --- Schema form (CODEC.md "Schema form 0x15"): 0x15, u32 N, u32 fingerprint, N - 4 bytes bare

// The 4-byte length follows the tag but is known only once the bare value is
// written, so it is put as 0 and patched.
template <class T>
bool encode_schema_form(Writer& w, const T& value) {
  put_tag(w, WireTag::Schema);
  const std::size_t length_at = w.size();
  w.put_le(std::uint32_t{0});
  w.put_le(schema_fingerprint<T>());
  if (!Codec<T>::encode_bare(w, value)) return false;
  const std::size_t n = w.size() - length_at - 4;
  if (!check_count(w, n, "schema form", " length")) return false;
  const auto length = static_cast<std::uint32_t>(n);
  w.put_at(length_at, &length, sizeof length);
  return true;
}

// Tag, length and fingerprint, then the bare value.
template <class T>
std::size_t schema_form_size(const T& value) {
  if constexpr (requires { Codec<T>::kFixedBareSize; }) {
    (void)value;
    return 9 + Codec<T>::kFixedBareSize;
  } else {
    Writer w = Writer::counter();
    (void)Codec<T>::encode_bare(w, value);
    return 9 + w.size();
  }
}

// The schema form at the reader's position (its tag not yet read). Another
// type's fingerprint is TypeMismatch before any of the value is read.
template <class T>
bool decode_schema_form(Reader& r, T& out) {
  const std::size_t at = r.position();
  r.take_u8();
  std::span<const std::byte> held;  // the fingerprint, then the bare value
  if (!read_schema_form(r, held)) return false;
  std::uint32_t fingerprint;
  std::memcpy(&fingerprint, held.data(), sizeof fingerprint);
  if (fingerprint != schema_fingerprint<T>()) {
    return mismatch(r, Codec<T>::name(), cat("schema form ", hex_u32(fingerprint)), at);
  }
  // The bare value may not read past the N bytes: decode it from a reader
  // over the same input that ends there (so offsets and views stay the same).
  Reader inner(r.input().first(r.position()));
  inner.take(r.position() - held.size() + sizeof fingerprint);
  if (!Codec<T>::decode_bare(inner, out)) return r.fail(inner.take_error());
  if (!inner.at_end()) {
    const std::size_t value_size = held.size() - sizeof fingerprint - inner.remaining();
    return deser(r, cat("schema form of ", count_bytes(held.size()), " at offset ", at, " holds a value of ",
                        count_bytes(value_size)));
  }
  return true;
}

// A top-level value, in either form; nested values are always tagged.
template <class T>
bool decode_top(Reader& r, T& out) {
  if (!r.at_end() && r.peek_u8() == static_cast<std::uint8_t>(WireTag::Schema)) return decode_schema_form(r, out);
  return Codec<T>::decode(r, out);
}

// HoldsStruct<T>: T is a FERRY_STRUCT or a container that holds one
// (preferred_form). A recursive struct answers at itself, before its fields.
template <class T>
struct HoldsStruct : std::false_type {};
template <DescribedStruct T>
struct HoldsStruct<T> : std::true_type {};
template <class T>
struct HoldsStruct<std::vector<T>> : HoldsStruct<T> {};
template <class T, std::size_t N>
struct HoldsStruct<std::array<T, N>> : HoldsStruct<T> {};
template <class... Ts>
struct HoldsStruct<std::tuple<Ts...>> : std::disjunction<HoldsStruct<Ts>...> {};
template <class A, class B>
struct HoldsStruct<std::pair<A, B>> : std::disjunction<HoldsStruct<A>, HoldsStruct<B>> {};
template <class T>
struct HoldsStruct<std::optional<T>> : HoldsStruct<T> {};
template <class... Ts>
struct HoldsStruct<std::variant<Ts...>> : std::disjunction<HoldsStruct<Ts>...> {};
template <class K, class V, class C, class A>
struct HoldsStruct<std::map<K, V, C, A>> : std::disjunction<HoldsStruct<K>, HoldsStruct<V>> {};
template <class K, class V, class H, class E, class A>
struct HoldsStruct<std::unordered_map<K, V, H, E, A>> : std::disjunction<HoldsStruct<K>, HoldsStruct<V>> {};
template <class T>
struct HoldsStruct<Result<T>> : HoldsStruct<T> {};

}  // namespace ferry::detail
