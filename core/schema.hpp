// ferry core: a C++ type's wire shape as text (core/CODEC.md, "Schemas").
//
//   ferry::schema_of<std::vector<Point>>()   // "[struct Point{x:i32,y:i32}]"
//   ferry::schema_of<std::optional<float>>() // "?f32"
//
// A schema tells a dynamically typed peer (the JavaScript WorkerPool) which
// wire type each argument of an exported task must have, so that it can turn
// a plain JavaScript number into the i32 a C++ `int` parameter decodes: C++
// decoders never convert. Covers exactly the types core/codec.hpp encodes; a
// struct's body is written once per schema, later uses say `struct Name`
// (which is also how recursive structs end).
#pragma once

#include "codec.hpp"

#include <array>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace ferry {

template <class T>
std::string schema_of();

namespace detail {

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

}  // namespace detail

// The schema of one type.
template <class T>
std::string schema_of() {
  detail::SchemaWriter s;
  detail::write_schema<T>(s);
  return std::move(s.out);
}

// "(A,B)": the schemas of a parameter list, sharing struct definitions.
template <class... Ts>
std::string schema_of_list() {
  detail::SchemaWriter s;
  detail::write_list<Ts...>(s, '(', ',', ')');
  return std::move(s.out);
}

}  // namespace ferry
