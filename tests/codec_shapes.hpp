// Structs shared by the codec test and the codec fuzz target, described
// once with FERRY_STRUCT.
#pragma once

#include "core/codec.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace shapes {

struct Point {
  std::int32_t x = 0;
  std::int32_t y = 0;
  friend bool operator==(const Point&, const Point&) = default;
};
FERRY_STRUCT(Point, x, y)

struct Rect {
  Point a;
  Point b;
  std::string label;
  friend bool operator==(const Rect&, const Rect&) = default;
};
FERRY_STRUCT(Rect, a, b, label)

struct Shape {
  std::string name;
  std::vector<Point> points;
  std::optional<Point> anchor;
  std::map<std::string, Rect> boxes;
  friend bool operator==(const Shape&, const Shape&) = default;
};
FERRY_STRUCT(Shape, name, points, anchor, boxes)

// Recursive through a vector: the only way a C++ type nests without bound.
struct Tree {
  std::vector<Tree> kids;
  friend bool operator==(const Tree&, const Tree&) = default;
};
FERRY_STRUCT(Tree, kids)

}  // namespace shapes
