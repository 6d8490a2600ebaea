// ferry core: describing user structs for the wire codec (core/codec.hpp).
//
//   namespace geo {
//   struct Point { std::int32_t x = 0; std::int32_t y = 0; };
//   FERRY_STRUCT(Point, x, y)
//   }
//
// Put FERRY_STRUCT at namespace scope, in the struct's own namespace, after
// the struct's definition. It defines one constexpr function,
// `ferry_struct_info(const Point*)`, which the codec finds by argument-
// dependent lookup, so it works in any namespace, for nested structs and
// inside vectors, optionals, variants and maps of structs alike.
// - The wire name is the first argument exactly as written ("Point", not
//   "geo::Point"); field names and their order are the listed ones. Both are
//   part of the format (core/CODEC.md, tag 0x13): renaming or reordering a
//   field changes the bytes, and a C++ decoder checks every name.
// - Fields are public data members, own or inherited, listed at most once;
//   names are at most 255 bytes, and at most 256 fields per macro.
// - A decodable struct is default-constructible (decoding fills each field).
// This header only records the description; the codec lives in codec.hpp.
#pragma once

#include <cstddef>
#include <string_view>
#include <tuple>

#define FERRY_STRUCT(Type, ...)                                               \
  [[maybe_unused]] constexpr auto ferry_struct_info(const Type*) noexcept {   \
    return ::ferry::detail::make_struct_info<Type>(                           \
        #Type FERRY_DETAIL_FOR_EACH(FERRY_DETAIL_STRUCT_FIELD, Type, __VA_ARGS__)); \
  }

namespace ferry::detail {

template <class T, class M>
struct StructField {
  using member_type = M;
  std::string_view name;
  M T::*member;
};

// Takes the pointer as `M Base::*` so that inherited fields work too.
template <class T, class M, class Base>
constexpr StructField<T, M> struct_field(std::string_view name, M Base::*member) noexcept {
  return {name, static_cast<M T::*>(member)};
}

template <class T, class... M>
struct StructInfo {
  std::string_view name;
  std::tuple<StructField<T, M>...> fields;
};

template <class T, class... M>
constexpr StructInfo<T, M...> make_struct_info(std::string_view name,
                                               StructField<T, M>... fields) noexcept {
  return {name, {fields...}};
}

// True for types described with FERRY_STRUCT (found by ADL).
template <class T>
concept DescribedStruct = requires { ferry_struct_info(static_cast<const T*>(nullptr)); };

}  // namespace ferry::detail

#define FERRY_DETAIL_STRUCT_FIELD(Type, field) \
  , ::ferry::detail::struct_field<Type>(#field, &Type::field)

// FOR_EACH by deferred recursion (C++20 __VA_OPT__): each rescan of
// FERRY_DETAIL_EXPAND unrolls one more step; 4^4 rescans allow 256 fields.
#define FERRY_DETAIL_PARENS ()
#define FERRY_DETAIL_EXPAND(...) FERRY_DETAIL_EXPAND4(FERRY_DETAIL_EXPAND4(FERRY_DETAIL_EXPAND4(FERRY_DETAIL_EXPAND4(__VA_ARGS__))))
#define FERRY_DETAIL_EXPAND4(...) FERRY_DETAIL_EXPAND3(FERRY_DETAIL_EXPAND3(FERRY_DETAIL_EXPAND3(FERRY_DETAIL_EXPAND3(__VA_ARGS__))))
#define FERRY_DETAIL_EXPAND3(...) FERRY_DETAIL_EXPAND2(FERRY_DETAIL_EXPAND2(FERRY_DETAIL_EXPAND2(FERRY_DETAIL_EXPAND2(__VA_ARGS__))))
#define FERRY_DETAIL_EXPAND2(...) FERRY_DETAIL_EXPAND1(FERRY_DETAIL_EXPAND1(FERRY_DETAIL_EXPAND1(FERRY_DETAIL_EXPAND1(__VA_ARGS__))))
#define FERRY_DETAIL_EXPAND1(...) __VA_ARGS__
#define FERRY_DETAIL_FOR_EACH(macro, data, ...) \
  __VA_OPT__(FERRY_DETAIL_EXPAND(FERRY_DETAIL_FOR_EACH_STEP(macro, data, __VA_ARGS__)))
#define FERRY_DETAIL_FOR_EACH_STEP(macro, data, first, ...) \
  macro(data, first) __VA_OPT__(FERRY_DETAIL_FOR_EACH_AGAIN FERRY_DETAIL_PARENS(macro, data, __VA_ARGS__))
#define FERRY_DETAIL_FOR_EACH_AGAIN() FERRY_DETAIL_FOR_EACH_STEP
