// ferry core (internal): schema text, the wire shape of a C++ type as written
// by schema_of<T>() (core/CODEC.md, "Schemas").
// Part of core/codec.hpp, which includes it after the Codec<T> of every type:
// include core/codec.hpp (or core/schema.hpp), not this file.
#pragma once

namespace ferry::detail {

struct SchemaWriter {
  std::string out;
  std::vector<std::string_view> structs;  // bodies already written
};

template <class T>
struct Schema;

template <class T>
void write_schema(SchemaWriter& s) {
  Schema<std::remove_cvref_t<T>>::write(s);
}

template <class... Ts>
void write_list(SchemaWriter& s, char open, [[maybe_unused]] char sep, char close) {
  s.out += open;
  bool first = true;
  ((s.out += first ? "" : std::string(1, sep), first = false, write_schema<Ts>(s)), ...);
  s.out += close;
}

template <class T>
struct Named {
  static void write(SchemaWriter& s) { s.out += Codec<T>::name(); }
};

template <>
struct Schema<std::monostate> : Named<std::monostate> {};
template <>
struct Schema<bool> : Named<bool> {};
template <WireNumber T>
struct Schema<T> : Named<T> {};
template <>
struct Schema<std::string> : Named<std::string> {};
template <>
struct Schema<std::string_view> : Named<std::string_view> {};
template <>
struct Schema<std::vector<std::byte>> : Named<std::vector<std::byte>> {};
template <>
struct Schema<std::vector<std::uint8_t>> : Named<std::vector<std::uint8_t>> {};
template <>
struct Schema<std::span<const std::byte>> : Named<std::span<const std::byte>> {};
template <>
struct Schema<std::span<const std::uint8_t>> : Named<std::span<const std::uint8_t>> {};
template <>
struct Schema<Error> : Named<Error> {};

template <class T>
struct Schema<std::vector<T>> {
  static void write(SchemaWriter& s) {
    if constexpr (WireNumber<T>) {
      s.out += Codec<std::vector<T>>::name();  // "f32[]"
    } else {
      s.out += '[';
      write_schema<T>(s);
      s.out += ']';
    }
  }
};

template <class T, std::size_t N>
struct Schema<std::array<T, N>> {
  static void write(SchemaWriter& s) {
    s.out += '(';
    for (std::size_t i = 0; i < N; ++i) {
      if (i) s.out += ',';
      write_schema<T>(s);
    }
    s.out += ')';
  }
};

template <class... Ts>
struct Schema<std::tuple<Ts...>> {
  static void write(SchemaWriter& s) { write_list<Ts...>(s, '(', ',', ')'); }
};
template <class A, class B>
struct Schema<std::pair<A, B>> {
  static void write(SchemaWriter& s) { write_list<A, B>(s, '(', ',', ')'); }
};
template <class... Ts>
struct Schema<std::variant<Ts...>> {
  static void write(SchemaWriter& s) { write_list<Ts...>(s, '<', '|', '>'); }
};

template <class T>
struct Schema<std::optional<T>> {
  static void write(SchemaWriter& s) {
    s.out += '?';
    write_schema<T>(s);
  }
};

template <class M>
struct MapSchema {
  static void write(SchemaWriter& s) {
    s.out += '{';
    write_schema<typename M::key_type>(s);
    s.out += ':';
    write_schema<typename M::mapped_type>(s);
    s.out += '}';
  }
};
template <class K, class V, class C, class A>
struct Schema<std::map<K, V, C, A>> : MapSchema<std::map<K, V, C, A>> {};
template <class K, class V, class H, class E, class A>
struct Schema<std::unordered_map<K, V, H, E, A>> : MapSchema<std::unordered_map<K, V, H, E, A>> {};

template <class T>
struct Schema<Result<T>> {
  static void write(SchemaWriter& s) {
    s.out += '!';
    if constexpr (std::is_void_v<T>) write_schema<std::monostate>(s);
    else write_schema<T>(s);
  }
};

template <DescribedStruct T>
struct Schema<T> {
  static void write(SchemaWriter& s) {
    constexpr auto info = ferry_struct_info(static_cast<const T*>(nullptr));
    s.out += "struct ";
    s.out += info.name;
    for (auto seen : s.structs) {
      if (seen == info.name) return;  // defined earlier in this schema
    }
    s.structs.push_back(info.name);
    s.out += '{';
    bool first = true;
    std::apply(
        [&](const auto&... f) {
          ((s.out += first ? "" : ",", first = false, s.out += f.name, s.out += ':',
            write_schema<typename std::remove_cvref_t<decltype(f)>::member_type>(s)),
           ...);
        },
        info.fields);
    s.out += '}';
  }
};

}  // namespace ferry::detail
