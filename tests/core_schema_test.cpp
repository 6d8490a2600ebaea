// Test that the header is self-contained: it comes first.
#include "core/schema.hpp"

#include "tests/codec_shapes.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

using ferry::schema_of;

TEST(Schema, ScalarsUseTheirWireNames) {
  EXPECT_EQ(schema_of<std::monostate>(), "unit");
  EXPECT_EQ(schema_of<bool>(), "bool");
  EXPECT_EQ(schema_of<std::int8_t>(), "i8");
  EXPECT_EQ(schema_of<std::uint16_t>(), "u16");
  EXPECT_EQ(schema_of<int>(), "i32");
  EXPECT_EQ(schema_of<std::uint64_t>(), "u64");
  EXPECT_EQ(schema_of<float>(), "f32");
  EXPECT_EQ(schema_of<double>(), "f64");
  EXPECT_EQ(schema_of<std::string>(), "string");
  EXPECT_EQ(schema_of<std::string_view>(), "string");
  EXPECT_EQ(schema_of<std::vector<std::uint8_t>>(), "bytes");
  EXPECT_EQ(schema_of<std::span<const std::byte>>(), "bytes");
  EXPECT_EQ(schema_of<ferry::Error>(), "error");
}

TEST(Schema, ContainersNestTheirElementSchemas) {
  EXPECT_EQ(schema_of<std::vector<float>>(), "f32[]");
  EXPECT_EQ(schema_of<std::vector<std::string>>(), "[string]");
  EXPECT_EQ(schema_of<std::vector<std::vector<double>>>(), "[f64[]]");
  EXPECT_EQ((schema_of<std::array<int, 3>>()), "(i32,i32,i32)");
  EXPECT_EQ((schema_of<std::tuple<int, std::string, bool>>()), "(i32,string,bool)");
  EXPECT_EQ((schema_of<std::tuple<>>()), "()");
  EXPECT_EQ((schema_of<std::pair<std::int64_t, double>>()), "(i64,f64)");
  EXPECT_EQ(schema_of<std::optional<std::optional<int>>>(), "??i32");
  EXPECT_EQ((schema_of<std::variant<int, std::string>>()), "<i32|string>");
  EXPECT_EQ((schema_of<std::map<std::string, std::uint32_t>>()), "{string:u32}");
  EXPECT_EQ(schema_of<ferry::Result<int>>(), "!i32");
  EXPECT_EQ(schema_of<ferry::Result<void>>(), "!unit");
}

TEST(Schema, StructBodyIsWrittenOnceThenReferencedByName) {
  EXPECT_EQ(schema_of<shapes::Point>(), "struct Point{x:i32,y:i32}");
  EXPECT_EQ(schema_of<shapes::Rect>(), "struct Rect{a:struct Point{x:i32,y:i32},b:struct Point,label:string}");
  EXPECT_EQ(schema_of<shapes::Shape>(),
            "struct Shape{name:string,points:[struct Point{x:i32,y:i32}],anchor:?struct Point,"
            "boxes:{string:struct Rect{a:struct Point,b:struct Point,label:string}}}");
}

TEST(Schema, RecursiveStructEndsAtItsOwnName) {
  EXPECT_EQ(schema_of<shapes::Tree>(), "struct Tree{kids:[struct Tree]}");
}

TEST(Schema, ParameterListsShareStructDefinitions) {
  EXPECT_EQ((ferry::schema_of_list<shapes::Point, shapes::Point, int>()), "(struct Point{x:i32,y:i32},struct Point,i32)");
  EXPECT_EQ(ferry::schema_of_list<>(), "()");
}
