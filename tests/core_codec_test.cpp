#include "core/codec.hpp"  // first: the header is self-contained

#include "tests/codec_shapes.hpp"

#include <gtest/gtest.h>

#include <cfloat>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>


// Fixtures: structs described once with FERRY_STRUCT, in their own namespace.
namespace shapes {

struct Empty {
  friend bool operator==(const Empty&, const Empty&) = default;
};
FERRY_STRUCT(Empty)

struct Base {
  std::int32_t id = 0;
};
struct Derived : Base {
  std::string name;
};
FERRY_STRUCT(Derived, id, name)

// Same fields as Point under another name.
struct Pt {
  std::int32_t x = 0;
  std::int32_t y = 0;
};
FERRY_STRUCT(Pt, x, y)

}  // namespace shapes

// Structs whose wire name is also "Point" but whose fields differ.
namespace v2 {
struct Point {
  std::int32_t x = 0;
  std::int32_t y = 0;
  std::int32_t z = 0;
};
FERRY_STRUCT(Point, x, y, z)
// A Rect whose corners are of another struct type.
struct Rect {
  shapes::Pt a;
  shapes::Point b;
  std::string label;
};
FERRY_STRUCT(Rect, a, b, label)
}  // namespace v2
namespace renamed {
struct Point {
  std::int32_t x = 0;
  std::int32_t z = 0;
};
FERRY_STRUCT(Point, x, z)
}  // namespace renamed

namespace {

using ferry::ErrorKind;
using ferry::Result;
using Bytes = std::vector<std::byte>;
using shapes::Point;
using shapes::Rect;

Bytes from_hex(std::string_view hex) {
  Bytes out;
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::byte>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  }
  return out;
}

std::string to_hex(std::span<const std::byte> bytes) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (std::byte b : bytes) {
    const auto v = std::to_integer<unsigned>(b);
    s += kHex[v >> 4];
    s += kHex[v & 15];
  }
  return s;
}

template <class T>
Bytes encoded(const T& value) {
  auto r = ferry::encode(value);
  EXPECT_TRUE(r.ok()) << r.error().describe();
  return r.ok() ? std::move(r).value() : Bytes{};
}

std::string trim(std::string s) {
  const auto a = s.find_first_not_of(" \t\r");
  const auto b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// Wasm builds link with NODERAWFS, so this reads the host file under Node too.
std::optional<std::string> read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return std::nullopt;
  std::ostringstream s;
  s << file.rdbuf();
  return s.str();
}

const std::string kGoldenPath = FERRY_SOURCE_DIR "/tests/golden/codec.txt";

struct GoldenLine {
  std::string name;
  std::string hex;
  std::string text;
};

std::vector<GoldenLine> golden_lines() {
  std::vector<GoldenLine> lines;
  const auto file = read_file(kGoldenPath);
  EXPECT_TRUE(file.has_value()) << kGoldenPath;
  std::istringstream in(file.value_or(""));
  for (std::string line; std::getline(in, line);) {
    if (trim(line).empty() || line[0] == '#') continue;
    const auto bar1 = line.find('|');
    const auto bar2 = line.find('|', bar1 + 1);
    EXPECT_NE(bar2, std::string::npos) << line;
    if (bar2 == std::string::npos) continue;
    lines.push_back({trim(line.substr(0, bar1)), trim(line.substr(bar1 + 1, bar2 - bar1 - 1)),
                     trim(line.substr(bar2 + 1))});
  }
  return lines;
}

template <class T>
struct Comparable : std::bool_constant<std::equality_comparable<T>> {};
template <class T>
struct Comparable<std::vector<Result<T>>> : std::false_type {};  // Result has no ==

// One golden value, with its type erased.
struct GoldenCase {
  std::string name;
  std::function<Result<Bytes>()> encode;
  std::function<std::size_t()> size;
  // Decodes the bytes as the case's type; when that works, re-encodes.
  std::function<Result<Bytes>(std::span<const std::byte>)> decode_and_encode;
};

template <class T>
GoldenCase golden(std::string name, T value) {
  auto v = std::make_shared<T>(std::move(value));
  return {std::move(name), [v] { return ferry::encode(*v); }, [v] { return ferry::encoded_size(*v); },
          [v](std::span<const std::byte> bytes) -> Result<Bytes> {
            auto back = ferry::decode<T>(bytes);
            if (!back) return std::move(back).error();
            if constexpr (Comparable<T>::value) {
              EXPECT_TRUE(*back == *v) << "decoded value differs";
            }
            return ferry::encode(*back);
          }};
}

ferry::Error error_of(ErrorKind kind, std::string message, std::string origin) {
  return ferry::Error::make(kind, std::move(message), std::move(origin));
}

std::vector<GoldenCase> golden_cases() {
  using std::int8_t, std::int16_t, std::int32_t, std::int64_t;
  using std::uint8_t, std::uint16_t, std::uint32_t, std::uint64_t;
  return {
      golden("unit", std::monostate{}),
      golden("bool_false", false),
      golden("bool_true", true),
      golden("i8_min", std::numeric_limits<int8_t>::min()),
      golden("i8_max", std::numeric_limits<int8_t>::max()),
      golden("i8_minus_one", int8_t{-1}),
      golden("u8_max", std::numeric_limits<uint8_t>::max()),
      golden("i16_min", std::numeric_limits<int16_t>::min()),
      golden("i16_max", std::numeric_limits<int16_t>::max()),
      golden("u16_max", std::numeric_limits<uint16_t>::max()),
      golden("i32_minus_two", int32_t{-2}),
      golden("i32_min", std::numeric_limits<int32_t>::min()),
      golden("i32_max", std::numeric_limits<int32_t>::max()),
      golden("u32_max", std::numeric_limits<uint32_t>::max()),
      golden("i64_min", std::numeric_limits<int64_t>::min()),
      golden("i64_max", std::numeric_limits<int64_t>::max()),
      golden("i64_minus_one", int64_t{-1}),
      golden("u64_max", std::numeric_limits<uint64_t>::max()),
      golden("f32_one_and_a_half", 1.5f),
      golden("f32_minus_zero", -0.0f),
      golden("f32_one_tenth", 0.1f),
      golden("f32_max", FLT_MAX),
      golden("f64_one_and_a_half", 1.5),
      golden("f64_minus_zero", -0.0),
      golden("f64_one_tenth", 0.1),
      golden("f64_minus_pi", -3.141592653589793),
      golden("f64_ten_to_the_21", 1e21),
      golden("f64_ten_to_the_minus_7", 1e-7),
      golden("f64_max", DBL_MAX),
      golden("f64_min_subnormal", std::numeric_limits<double>::denorm_min()),
      golden("string_empty", std::string()),
      golden("string_ascii", std::string("hello")),
      golden("string_accented", std::string("h\xc3\xa9llo")),
      golden("string_emoji", std::string("\xf0\x9f\x98\x80")),
      golden("string_escapes", std::string("say \"hi\"\\\n\ttab")),
      golden("bytes_empty", Bytes{}),
      golden("bytes_four", Bytes{std::byte{0xde}, std::byte{0xad}, std::byte{0xbe}, std::byte{0xef}}),
      golden("packed_i32", std::vector<int32_t>{1, -2, 3}),
      golden("packed_f64", std::vector<double>{1.5, -0.25}),
      golden("packed_u16", std::vector<uint16_t>{1, 65535}),
      golden("packed_f32_empty", std::vector<float>{}),
      golden("array_strings", std::vector<std::string>{"a", "b"}),
      golden("array_empty", std::vector<std::string>{}),
      golden("array_bools", std::vector<bool>{true, false}),
      golden("array_fixed_i16", std::array<int16_t, 3>{1, 2, 3}),
      golden("tuple_mixed", std::tuple<int32_t, std::string, bool>{1, "x", true}),
      golden("pair_string_i64", std::pair<std::string, int64_t>{"k", -5}),
      golden("array_nested", std::vector<std::vector<std::string>>{{"a"}, {}}),
      golden("array_of_packed", std::vector<std::vector<int32_t>>{{1, 2}, {}}),
      golden("optional_none", std::optional<int32_t>{}),
      golden("optional_some_i32", std::optional<int32_t>{5}),
      golden("optional_some_string", std::optional<std::string>{"x"}),
      golden("optional_some_none", std::optional<std::optional<int32_t>>{std::optional<int32_t>{}}),
      golden("variant_first", std::variant<int32_t, std::string>{7}),
      golden("variant_second", std::variant<int32_t, std::string>{"x"}),
      golden("variant_unit", std::variant<std::monostate, int32_t>{}),
      golden("map_string_keys", std::map<std::string, int32_t>{{"a", 1}, {"b", 2}}),
      golden("map_u16_keys", std::map<uint16_t, std::string>{{1, "one"}, {2, "two"}}),
      golden("map_empty", std::map<std::string, int32_t>{}),
      golden("struct_point", Point{1, -2}),
      golden("struct_rect", Rect{{0, 0}, {640, 480}, "screen"}),
      golden("struct_empty", shapes::Empty{}),
      golden("struct_shape", shapes::Shape{"tri", {{0, 0}, {4, 0}, {0, 3}}, Point{1, 1}, {{"box", Rect{{0, 0}, {4, 3}, ""}}}}),
      golden("error_closed", Result<int32_t>(error_of(ErrorKind::Closed, "stream closed", "core/ring"))),
      golden("error_type_mismatch_no_origin", Result<void>(ferry::Error::type_mismatch("i32", "string"))),
      golden("array_of_results",
             std::vector<Result<int32_t>>{Result<int32_t>(5), error_of(ErrorKind::Timeout, "late", "worker 1")}),
  };
}

// --- Golden vectors ------------------------------------------------------------

TEST(CodecGolden, FileListsEveryCaseAndNothingElse) {
  const auto lines = golden_lines();
  const auto cases = golden_cases();
  std::vector<std::string> in_file, in_code;
  for (const auto& l : lines) in_file.push_back(l.name);
  for (const auto& c : cases) in_code.push_back(c.name);
  std::sort(in_file.begin(), in_file.end());
  std::sort(in_code.begin(), in_code.end());
  EXPECT_EQ(in_file, in_code);
  EXPECT_EQ(std::adjacent_find(in_file.begin(), in_file.end()), in_file.end()) << "duplicate name";
}

// FERRY_UPDATE_GOLDEN=1 rewrites the hex and text of every line from the C++
// values (comments and order stay); review the diff before committing.
TEST(CodecGolden, EncodingMatchesEveryVectorByteForByte) {
  std::map<std::string, GoldenCase> cases;
  for (auto& c : golden_cases()) cases.emplace(c.name, c);
  if (std::getenv("FERRY_UPDATE_GOLDEN") != nullptr) {
    std::istringstream in(read_file(kGoldenPath).value_or(""));
    std::ostringstream out;
    for (std::string line; std::getline(in, line);) {
      const std::string name = trim(line.substr(0, line.find('|')));
      if (line.empty() || line[0] == '#' || !cases.contains(name)) {
        out << line << '\n';
        continue;
      }
      const Bytes bytes = cases.at(name).encode().value();
      out << name << " | " << to_hex(bytes) << " | " << ferry::describe_value(bytes).value() << '\n';
    }
    std::ofstream(kGoldenPath) << out.str();
  }
  for (const auto& line : golden_lines()) {
    ASSERT_TRUE(cases.contains(line.name)) << line.name;
    auto bytes = cases.at(line.name).encode();
    ASSERT_TRUE(bytes.ok()) << line.name << ": " << bytes.error().describe();
    EXPECT_EQ(to_hex(*bytes), line.hex) << line.name;
    EXPECT_EQ(cases.at(line.name).size(), bytes->size()) << line.name << ": encoded_size";
  }
}

TEST(CodecGolden, DecodingEveryVectorGivesBackTheValue) {
  std::map<std::string, GoldenCase> cases;
  for (auto& c : golden_cases()) cases.emplace(c.name, c);
  for (const auto& line : golden_lines()) {
    if (!cases.contains(line.name)) continue;
    const Bytes bytes = from_hex(line.hex);
    auto again = cases.at(line.name).decode_and_encode(bytes);
    ASSERT_TRUE(again.ok()) << line.name << ": " << again.error().describe();
    EXPECT_EQ(to_hex(*again), line.hex) << line.name;
  }
}

TEST(CodecGolden, TextFormOfEveryVectorIsItsDescription) {
  for (const auto& line : golden_lines()) {
    auto text = ferry::describe_value(from_hex(line.hex));
    ASSERT_TRUE(text.ok()) << line.name << ": " << text.error().describe();
    EXPECT_EQ(*text, line.text) << line.name;
  }
}

TEST(CodecGolden, EveryProperPrefixFailsWithDeserialization) {
  std::map<std::string, GoldenCase> cases;
  for (auto& c : golden_cases()) cases.emplace(c.name, c);
  for (const auto& line : golden_lines()) {
    const Bytes bytes = from_hex(line.hex);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      const std::span<const std::byte> prefix(bytes.data(), n);
      auto typed = cases.at(line.name).decode_and_encode(prefix);
      ASSERT_FALSE(typed.ok()) << line.name << " prefix " << n;
      EXPECT_EQ(typed.error().kind, ErrorKind::Deserialization) << line.name << " prefix " << n << ": "
                                                                  << typed.error().describe();
      auto text = ferry::describe_value(prefix);
      ASSERT_FALSE(text.ok()) << line.name << " prefix " << n;
      EXPECT_EQ(text.error().kind, ErrorKind::Deserialization) << line.name << " prefix " << n;
    }
  }
}

TEST(CodecGolden, SkipValueStepsOverEachVectorInAStream) {
  Bytes all;
  const auto lines = golden_lines();
  for (const auto& line : lines) {
    const Bytes b = from_hex(line.hex);
    all.insert(all.end(), b.begin(), b.end());
  }
  ferry::Reader reader(all);
  for (const auto& line : lines) {
    const std::size_t before = reader.position();
    ASSERT_TRUE(ferry::skip_value(reader).ok()) << line.name;
    EXPECT_EQ(reader.position() - before, line.hex.size() / 2) << line.name;
  }
  EXPECT_TRUE(reader.at_end());
}

// --- Round trips -------------------------------------------------------------------

template <class T>
T round_trip(const T& value) {
  const Bytes bytes = encoded(value);
  EXPECT_EQ(ferry::encoded_size(value), bytes.size());
  auto back = ferry::decode<T>(bytes);
  EXPECT_TRUE(back.ok()) << back.error().describe();
  return back.ok() ? std::move(back).value() : ferry::detail::make_default<T>();
}

template <class T>
void expect_limits_round_trip() {
  EXPECT_EQ(round_trip(std::numeric_limits<T>::min()), std::numeric_limits<T>::min());
  EXPECT_EQ(round_trip(std::numeric_limits<T>::max()), std::numeric_limits<T>::max());
  EXPECT_EQ(round_trip(T{0}), T{0});
}

TEST(CodecRoundTrip, EveryIntegerTypeKeepsItsLimits) {
  expect_limits_round_trip<std::int8_t>();
  expect_limits_round_trip<std::uint8_t>();
  expect_limits_round_trip<std::int16_t>();
  expect_limits_round_trip<std::uint16_t>();
  expect_limits_round_trip<std::int32_t>();
  expect_limits_round_trip<std::uint32_t>();
  expect_limits_round_trip<std::int64_t>();
  expect_limits_round_trip<std::uint64_t>();
  expect_limits_round_trip<char>();
  expect_limits_round_trip<long>();
  expect_limits_round_trip<unsigned long long>();
}

TEST(CodecRoundTrip, FloatsKeepTheirExactBitsIncludingNaNPayloadAndMinusZero) {
  for (std::uint64_t bits : {0x8000000000000000ull, 0x7ff8000000000001ull, 0xfff0000000000000ull,
                             0x0000000000000001ull, 0x3ff8000000000000ull}) {
    double d;
    std::memcpy(&d, &bits, 8);
    const double back = round_trip(d);
    std::uint64_t back_bits;
    std::memcpy(&back_bits, &back, 8);
    EXPECT_EQ(back_bits, bits);
  }
  for (std::uint32_t bits : {0x80000000u, 0x7fc00001u, 0xff800000u, 0x00000001u}) {
    float f;
    std::memcpy(&f, &bits, 4);
    const float back = round_trip(f);
    std::uint32_t back_bits;
    std::memcpy(&back_bits, &back, 4);
    EXPECT_EQ(back_bits, bits);
  }
}

TEST(CodecRoundTrip, StringsAndBytesKeepEveryByte) {
  const std::string all_code_point_lengths = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf";
  EXPECT_EQ(round_trip(all_code_point_lengths), all_code_point_lengths);
  EXPECT_EQ(round_trip(std::string(100000, 'x')), std::string(100000, 'x'));
  EXPECT_EQ(round_trip(std::string("nul\0inside", 10)), std::string("nul\0inside", 10));
  const std::vector<std::uint8_t> raw = {0, 1, 0xff, 0x80};
  EXPECT_EQ(round_trip(raw), raw);
  EXPECT_EQ(encoded(raw), encoded(Bytes{std::byte{0}, std::byte{1}, std::byte{0xff}, std::byte{0x80}}));
}

TEST(CodecRoundTrip, ContainersOfStructsNestInEveryCombination) {
  const shapes::Shape shape{"s", {{1, 2}, {3, 4}}, Point{5, 6}, {{"r", Rect{{1, 1}, {2, 2}, "inner"}}}};
  EXPECT_EQ(round_trip(shape), shape);
  const std::vector<std::optional<Point>> holes = {Point{1, 2}, std::nullopt, Point{3, 4}};
  EXPECT_EQ(round_trip(holes), holes);
  const std::map<std::string, std::vector<Rect>> by_name = {{"a", {Rect{}, Rect{{1, 2}, {3, 4}, "b"}}}, {"c", {}}};
  EXPECT_EQ(round_trip(by_name), by_name);
  const std::variant<std::monostate, Point, std::vector<Point>> choice = std::vector<Point>{{7, 8}};
  EXPECT_EQ(round_trip(choice), choice);
  const std::tuple<Point, std::optional<std::string>, std::array<double, 2>> mixed{{1, 2}, "x", {0.5, -2}};
  EXPECT_EQ(round_trip(mixed), mixed);
  const std::vector<std::vector<std::vector<std::int64_t>>> cube = {{{1, 2}, {}}, {}, {{-3}}};
  EXPECT_EQ(round_trip(cube), cube);
  const std::unordered_map<std::int32_t, std::string> numbers = {{1, "one"}, {2, "two"}, {3, "three"}};
  EXPECT_EQ(round_trip(numbers), numbers);
  const shapes::Tree tree{{shapes::Tree{{shapes::Tree{}}}, shapes::Tree{}}};
  EXPECT_EQ(round_trip(tree), tree);
  EXPECT_EQ(round_trip(shapes::Empty{}), shapes::Empty{});
}

TEST(CodecRoundTrip, InheritedFieldsAreListedLikeOwnOnes) {
  shapes::Derived d;
  d.id = 7;
  d.name = "seven";
  const auto back = round_trip(d);
  EXPECT_EQ(back.id, 7);
  EXPECT_EQ(back.name, "seven");
  EXPECT_EQ(ferry::describe_value(encoded(d)).value(), "struct Derived {id: i32 7, name: string \"seven\"}");
}

TEST(CodecRoundTrip, ResultCarriesEitherTheValueOrTheError) {
  const auto ok = round_trip(Result<std::string>(std::string("fine")));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value(), "fine");
  EXPECT_EQ(encoded(Result<std::int32_t>(5)), encoded(std::int32_t{5}));  // no wrapper on the wire

  const auto failed = round_trip(Result<std::string>(error_of(ErrorKind::WorkerCrashed, "worker 2 died", "pool")));
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().kind, ErrorKind::WorkerCrashed);
  EXPECT_EQ(failed.error().message, "worker 2 died");
  EXPECT_EQ(failed.error().origin, "pool");

  EXPECT_TRUE(round_trip(Result<void>()).ok());
  EXPECT_EQ(encoded(Result<void>()), encoded(std::monostate{}));
  const auto void_failed = round_trip(Result<void>(error_of(ErrorKind::Cancelled, "stop", "")));
  ASSERT_FALSE(void_failed.ok());
  EXPECT_EQ(void_failed.error().kind, ErrorKind::Cancelled);

  // A TypeMismatch keeps its two type names across the wire.
  const auto mismatch = ferry::Error::type_mismatch("struct Point", "array of 2", "worker 1");
  const auto mismatch_back = round_trip(Result<void>(mismatch));
  ASSERT_FALSE(mismatch_back.ok());
  EXPECT_EQ(mismatch_back.error(), mismatch);
  EXPECT_EQ(mismatch_back.error().expected, "struct Point");
  EXPECT_EQ(mismatch_back.error().actual, "array of 2");
  // Other kinds carry none (they are not written, and decode empty).
  EXPECT_EQ(encoded(error_of(ErrorKind::Closed, "m", "o")).size(), 1u + 1 + 5 + 5);

  // An error value decodes as the outer Result's value, not as a decode failure.
  auto nested = ferry::decode<Result<std::int32_t>>(encoded(error_of(ErrorKind::Timeout, "t", "o")));
  ASSERT_TRUE(nested.ok());
  ASSERT_FALSE(nested->ok());
  EXPECT_EQ(nested->error().kind, ErrorKind::Timeout);

  // Every ErrorKind crosses.
  for (int k = 1; k <= static_cast<int>(ErrorKind::InvalidArgument); ++k) {
    const auto back = round_trip(Result<void>(error_of(static_cast<ErrorKind>(k), "m", "o")));
    ASSERT_FALSE(back.ok());
    EXPECT_EQ(static_cast<int>(back.error().kind), k);
  }
}

TEST(CodecRoundTrip, ValuesFollowOneAnotherInOneBuffer) {
  Bytes buf;
  ferry::Writer writer(buf);
  ASSERT_TRUE(ferry::encode(writer, std::int32_t{1}).ok());
  ASSERT_TRUE(ferry::encode(writer, std::string("two")).ok());
  ASSERT_TRUE(ferry::encode(writer, Point{3, 3}).ok());
  EXPECT_EQ(writer.size(), buf.size());
  ferry::Reader reader(buf);
  EXPECT_EQ(ferry::decode<std::int32_t>(reader).value(), 1);
  EXPECT_EQ(ferry::decode<std::string>(reader).value(), "two");
  EXPECT_EQ(ferry::decode<Point>(reader).value(), (Point{3, 3}));
  EXPECT_TRUE(reader.at_end());
}

// --- Type mismatches -----------------------------------------------------------------

template <class T, class V>
ferry::Error mismatch_of(const V& value) {
  auto r = ferry::decode<T>(encoded(value));
  EXPECT_FALSE(r.ok());
  if (r.ok()) return {};
  EXPECT_EQ(r.error().kind, ErrorKind::TypeMismatch) << r.error().describe();
  EXPECT_EQ(r.error().origin, "core/codec");
  return std::move(r).error();
}

template <class T, class V>
void expect_mismatch(const V& value, std::string_view expected, std::string_view actual) {
  const ferry::Error e = mismatch_of<T>(value);
  EXPECT_EQ(e.expected, expected) << e.describe();
  EXPECT_EQ(e.actual, actual) << e.describe();
  EXPECT_NE(e.message.find(" at offset "), std::string::npos) << e.message;
}

TEST(CodecTypeMismatch, ScalarsOfAnotherTypeOrWidthAreRefused) {
  expect_mismatch<std::int64_t>(std::int32_t{1}, "i64", "i32");
  expect_mismatch<std::uint32_t>(std::int32_t{1}, "u32", "i32");
  expect_mismatch<double>(1.5f, "f64", "f32");
  expect_mismatch<bool>(std::uint8_t{1}, "bool", "u8");
  expect_mismatch<std::monostate>(false, "unit", "bool");
  expect_mismatch<std::int32_t>(std::monostate{}, "i32", "unit");
  expect_mismatch<std::string>(std::int32_t{1}, "string", "i32");
  expect_mismatch<std::int32_t>(std::string("1"), "i32", "string");
  expect_mismatch<std::string>(Bytes{}, "string", "bytes");
  expect_mismatch<Bytes>(std::string(), "bytes", "string");
}

TEST(CodecTypeMismatch, MessageNamesBothTypesAndTheOffset) {
  std::vector<std::string> words = {"a", "b"};
  auto r = ferry::decode<std::vector<std::int32_t>>(encoded(std::vector<std::vector<std::string>>{words}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "type mismatch: expected i32[], got array at offset 0");
  auto nested = ferry::decode<std::tuple<std::int32_t, std::int32_t>>(
      encoded(std::tuple<std::int32_t, std::string>{1, "x"}));
  ASSERT_FALSE(nested.ok());
  EXPECT_EQ(nested.error().message, "type mismatch: expected i32, got string at offset 10");
}

TEST(CodecTypeMismatch, PackedOfAnotherElementTypeIsRefused) {
  expect_mismatch<std::vector<float>>(std::vector<std::int32_t>{1}, "f32[]", "i32[]");
  expect_mismatch<std::vector<std::int64_t>>(std::vector<std::uint64_t>{}, "i64[]", "u64[]");
  expect_mismatch<std::vector<std::int32_t>>(std::vector<std::string>{}, "i32[]", "array");
  expect_mismatch<std::vector<std::string>>(std::vector<double>{}, "array", "f64[]");
  expect_mismatch<Bytes>(std::vector<std::int8_t>{}, "bytes", "i8[]");
}

TEST(CodecTypeMismatch, FixedSequencesNameBothCounts) {
  const ferry::Error e = mismatch_of<std::tuple<std::int32_t, std::int32_t>>(std::tuple<int, int, int>{1, 2, 3});
  EXPECT_EQ(e.expected, "array of 2");
  EXPECT_EQ(e.actual, "array of 3");
  EXPECT_NE(e.message.find("at offset 0"), std::string::npos) << e.message;
  expect_mismatch<std::pair<int, int>>(std::vector<std::string>{"x"}, "array of 2", "array of 1");
  expect_mismatch<std::array<std::int16_t, 3>>((std::array<std::int16_t, 4>{}), "array of 3", "array of 4");
  expect_mismatch<std::array<std::int16_t, 3>>(std::vector<std::int16_t>{1, 2, 3}, "array", "i16[]");
}

TEST(CodecTypeMismatch, StructNameFieldCountAndFieldNamesAreChecked) {
  expect_mismatch<Point>(shapes::Pt{1, 2}, "struct Point", "struct Pt");
  expect_mismatch<Point>((v2::Point{1, 2, 3}), "struct Point with 2 fields", "struct Point with 3 fields");
  expect_mismatch<Point>((renamed::Point{1, 2}), "Point.y", "Point.z");
  expect_mismatch<Point>(std::int32_t{1}, "struct Point", "i32");
  expect_mismatch<std::int32_t>((Point{1, 2}), "i32", "struct Point");
  expect_mismatch<Rect>(shapes::Shape{}, "struct Rect", "struct Shape");
  // A field's value is type-checked too: Rect.a holds a Point.
  expect_mismatch<Rect>(v2::Rect{}, "struct Point", "struct Pt");
}

TEST(CodecTypeMismatch, ContainedValuesAreTypeChecked) {
  expect_mismatch<std::variant<std::int32_t, std::string>>((std::variant<std::int32_t, std::int32_t>{
                                                                 std::in_place_index<1>, 5}),
                  "string", "i32");
  expect_mismatch<std::optional<std::string>>(std::optional<std::int32_t>{1}, "string", "i32");
  expect_mismatch<std::map<std::string, std::int32_t>>((std::map<std::string, std::string>{{"a", "b"}}), "i32",
                  "string");
  expect_mismatch<std::map<std::int32_t, std::int32_t>>((std::map<std::string, std::int32_t>{{"a", 1}}), "i32",
                  "string");
  expect_mismatch<std::vector<Point>>(std::vector<shapes::Pt>{{1, 2}}, "struct Point", "struct Pt");
  expect_mismatch<std::vector<std::string>>(std::vector<std::monostate>(3), "string", "unit");  // 3 bytes < 3 strings
  expect_mismatch<std::optional<std::int32_t>>(std::int32_t{1}, "optional", "i32");
  expect_mismatch<std::variant<std::int32_t>>(std::int32_t{1}, "variant", "i32");
  expect_mismatch<std::map<std::int32_t, std::int32_t>>(std::vector<std::string>{}, "map", "array");
}

TEST(CodecTypeMismatch, AnErrorWhereAPlainValueIsExpectedIsAMismatch) {
  const auto err = error_of(ErrorKind::Closed, "closed", "");
  expect_mismatch<std::int32_t>(Result<std::int32_t>(err), "i32", "error");
  expect_mismatch<std::vector<std::int32_t>>(Result<std::int32_t>(err), "i32[]", "error");
  expect_mismatch<Result<std::int32_t>>(std::string("x"), "i32", "string");
}

// --- Malformed input -----------------------------------------------------------------

ferry::Error deserialization_error(std::string_view hex) {
  auto text = ferry::describe_value(from_hex(hex));
  EXPECT_FALSE(text.ok()) << hex;
  if (text.ok()) return {};
  EXPECT_EQ(text.error().kind, ErrorKind::Deserialization) << text.error().describe();
  return std::move(text).error();
}

template <class T>
ferry::Error typed_deserialization_error(std::string_view hex) {
  auto r = ferry::decode<T>(from_hex(hex));
  EXPECT_FALSE(r.ok()) << hex;
  if (r.ok()) return {};
  EXPECT_EQ(r.error().kind, ErrorKind::Deserialization) << r.error().describe();
  return std::move(r).error();
}

TEST(CodecMalformed, InvalidUtf8IsRefusedWhenEncodingAndWhenDecoding) {
  const char* bad[] = {"\xff", "\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                       "ok\xc3", "\xc3(", "\x80", "abcdefgh\xfe"};
  for (const char* s : bad) {
    auto r = ferry::encode(std::string(s));
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_EQ(r.error().kind, ErrorKind::Serialization);
  }
  auto r = ferry::encode(std::string("ab\xff"));
  EXPECT_EQ(r.error().message, "string is not valid UTF-8 (byte 0xff at index 2)");
  EXPECT_EQ(typed_deserialization_error<std::string>("0c030000006162ff").message,
            "string at offset 1 is not valid UTF-8 (byte 0xff at offset 7)");
  EXPECT_EQ(typed_deserialization_error<std::string_view>("0c02000000eda0").kind, ErrorKind::Deserialization);
  deserialization_error("0c03000000eda080");
  // Error messages and struct or field names are UTF-8 too.
  deserialization_error("140201000000ff00000000");
  deserialization_error("1301ff0000");
  deserialization_error("130150010001ff00");
  EXPECT_EQ(ferry::encode(error_of(ErrorKind::Closed, "\xff", "")).error().kind, ErrorKind::Serialization);
}

TEST(CodecMalformed, BoolAndOptionalFlagsMustBeZeroOrOne) {
  EXPECT_EQ(typed_deserialization_error<bool>("0102").message, "bool byte 0x02 at offset 1 is not 0 or 1");
  deserialization_error("0102");
  EXPECT_EQ(typed_deserialization_error<std::optional<std::int32_t>>("1002").message,
            "optional flag 0x02 at offset 1 is not 0 or 1");
  deserialization_error("1002");
}

TEST(CodecMalformed, UnknownTagNamesTheByteAndItsOffset) {
  EXPECT_EQ(deserialization_error("15").message, "unknown type tag 0x15 at offset 0");
  EXPECT_EQ(deserialization_error("0e0200000000ff").message, "unknown type tag 0xff at offset 6");
  EXPECT_EQ(typed_deserialization_error<std::int32_t>("ff").message, "unknown type tag 0xff at offset 0");
  EXPECT_EQ(typed_deserialization_error<std::tuple<std::string>>("0e0100000080").message,
            "unknown type tag 0x80 at offset 5");
  EXPECT_EQ(deserialization_error("0f0c00000000").message,
            "packed element tag 0x0c at offset 1 is not a number type (0x02..0x0b)");
  EXPECT_EQ(typed_deserialization_error<std::vector<float>>("0f0100000000").kind, ErrorKind::Deserialization);
}

TEST(CodecMalformed, VariantIndexOutOfRangeIsRefused) {
  using V = std::variant<std::int32_t, std::string>;
  EXPECT_EQ(typed_deserialization_error<V>("110200000000").message,
            "variant index 2 at offset 1 is out of range for 2 alternatives");
  EXPECT_EQ(typed_deserialization_error<V>("11ffffffff00").kind, ErrorKind::Deserialization);
  // Without a C++ type any index is fine.
  EXPECT_EQ(ferry::describe_value(from_hex("110700000000")).value(), "variant 7(unit)");
}

TEST(CodecMalformed, ErrorKindMustBeKnown) {
  EXPECT_EQ(deserialization_error("14000000000000000000").message,
            "error kind 0 at offset 1 is not a known ErrorKind (1..14)");
  typed_deserialization_error<Result<void>>("14630000000000000000");
}

TEST(CodecMalformed, HugeCountsAndLengthsFailBeforeAnyAllocation) {
  // Each claims about 4 GiB; the check comes before reserve().
  EXPECT_EQ(typed_deserialization_error<std::vector<std::string>>("0effffffff").message,
            "array count 4294967295 at offset 1 needs at least 4294967295 bytes but 0 bytes remain");
  EXPECT_EQ(deserialization_error("0effffffff0000").message,
            "array count 4294967295 at offset 1 needs at least 4294967295 bytes but 2 bytes remain");
  EXPECT_EQ(typed_deserialization_error<std::vector<double>>("0f0bffffffff").message,
            "packed count 4294967295 at offset 2 needs at least 34359738360 bytes but 0 bytes remain");
  EXPECT_EQ(typed_deserialization_error<Bytes>("0dffffffff00").message,
            "bytes length 4294967295 at offset 1 exceeds the 1 remaining byte");
  typed_deserialization_error<std::map<std::string, std::string>>("12ffffffff");
  deserialization_error("12ffffffff");
  EXPECT_EQ(deserialization_error("130141ffff").message,
            "struct field count 65535 at offset 3 needs at least 131070 bytes but 0 bytes remain");

  // The brief's example: a 70000-byte string with 30 bytes left.
  Bytes msg = from_hex("0c70110100");
  msg.resize(msg.size() + 30, std::byte{'a'});
  EXPECT_EQ(typed_deserialization_error<std::string>(to_hex(msg)).message,
            "string length 70000 at offset 1 exceeds the 30 remaining bytes");
}

TEST(CodecMalformed, TrailingBytesAreRefusedByWholeBufferDecode) {
  const auto e = typed_deserialization_error<std::int32_t>("0601000000aabbcc");
  EXPECT_EQ(e.message, "3 trailing bytes after value (the value ends at offset 5)");
  EXPECT_EQ(deserialization_error("0001").message, "1 trailing byte after value (the value ends at offset 1)");
  // A Reader stops after one value and leaves the rest.
  const Bytes two = from_hex("0601000000aa");
  ferry::Reader reader(two);
  EXPECT_EQ(ferry::decode<std::int32_t>(reader).value(), 1);
  EXPECT_EQ(reader.remaining(), 1u);
}

TEST(CodecMalformed, DuplicateMapKeysAreRefused) {
  const Bytes dup = from_hex("1202000000060100000000060100000000");
  const auto r = ferry::decode<std::map<std::int32_t, std::monostate>>(dup);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "duplicate map key at offset 11");
  EXPECT_FALSE((ferry::decode<std::unordered_map<std::int32_t, std::monostate>>(dup).ok()));
  EXPECT_TRUE(ferry::describe_value(dup).ok());  // only a typed map cares
}

Bytes nested_arrays(std::size_t depth) {
  Bytes out;
  for (std::size_t i = 0; i < depth; ++i) {
    for (auto b : from_hex("0e01000000")) out.push_back(b);
  }
  out.push_back(std::byte{0x00});
  return out;
}

TEST(CodecMalformed, NestingDeeperThan64IsRefusedWithoutExhaustingTheStack) {
  EXPECT_TRUE(ferry::describe_value(nested_arrays(64)).ok());
  auto too_deep = ferry::describe_value(nested_arrays(65));
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(too_deep.error().kind, ErrorKind::Deserialization);
  EXPECT_EQ(too_deep.error().message, "nesting depth 65 at offset 320 exceeds the limit of 64");
  EXPECT_FALSE(ferry::describe_value(nested_arrays(100000)).ok());

  // Typed: a recursive struct counts two levels per Tree (struct + array).
  shapes::Tree deep;
  shapes::Tree* leaf = &deep;
  for (int i = 0; i < 31; ++i) leaf = &leaf->kids.emplace_back();
  const Bytes ok = encoded(deep);  // 32 trees = 64 containers
  EXPECT_TRUE(ferry::decode<shapes::Tree>(ok).ok());
  leaf->kids.emplace_back();  // the 33rd tree's struct is the 65th container
  auto refused = ferry::encode(deep);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::Serialization);
  EXPECT_EQ(refused.error().message, "nesting depth 65 exceeds the limit of 64");
  // Build the too-deep bytes by hand: the decoder refuses them too.
  Bytes hostile;
  for (int i = 0; i < 40; ++i) {
    for (auto b : from_hex("1304547265650100046b6964730e01000000")) {
      hostile.push_back(b);
    }
  }
  auto r = ferry::decode<shapes::Tree>(hostile);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Deserialization);
  EXPECT_NE(r.error().message.find("nesting depth 65"), std::string::npos) << r.error().message;
}

// --- Zero copy -----------------------------------------------------------------------

bool points_into(const void* p, std::span<const std::byte> buf) {
  const auto* b = static_cast<const std::byte*>(p);
  return b >= buf.data() && b < buf.data() + buf.size();
}

TEST(CodecZeroCopy, StringViewAndByteSpanPointIntoTheInput) {
  const Bytes buf = encoded(std::tuple<std::string, Bytes>{"hello", Bytes(16, std::byte{7})});
  auto views = ferry::decode<std::tuple<std::string_view, std::span<const std::byte>>>(buf);
  ASSERT_TRUE(views.ok()) << views.error().describe();
  const auto& [text, blob] = *views;
  EXPECT_EQ(text, "hello");
  EXPECT_TRUE(points_into(text.data(), buf));
  EXPECT_EQ(blob.size(), 16u);
  EXPECT_TRUE(points_into(blob.data(), buf));
  auto copied = ferry::decode<std::string>(encoded(std::string("hello")));
  EXPECT_FALSE(points_into(copied->data(), buf));
  auto u8 = ferry::decode<std::span<const std::uint8_t>>(encoded(Bytes(4, std::byte{1})));
  ASSERT_TRUE(u8.ok());
  EXPECT_EQ(u8->size(), 4u);
  const auto words = ferry::decode<std::vector<std::string_view>>(encoded(std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(words.ok());
}

TEST(CodecZeroCopy, ViewsOfAVectorStayInsideIt) {
  const Bytes buf = encoded(std::vector<std::string>{"alpha", "beta"});
  const auto words = ferry::decode<std::vector<std::string_view>>(buf);
  ASSERT_TRUE(words.ok());
  for (auto w : *words) EXPECT_TRUE(points_into(w.data(), buf)) << w;
}

// --- Writer ----------------------------------------------------------------------------

TEST(CodecWriter, TooSmallFixedSpanFailsWithoutWritingPastIt) {
  const Rect value{{1, 2}, {3, 4}, "a label long enough"};
  const Bytes expected = encoded(value);
  for (std::size_t room = 0; room < expected.size(); ++room) {
    std::vector<std::byte> memory(room + 32, std::byte{0xab});
    std::span<std::byte> slot(memory.data() + 16, room);
    ferry::Writer writer(slot);
    auto r = ferry::encode(writer, value);
    ASSERT_FALSE(r.ok()) << room;
    EXPECT_EQ(r.error().kind, ErrorKind::MessageTooLarge);
    EXPECT_EQ(r.error().message, "encoding needs " + std::to_string(expected.size()) + " bytes but the buffer holds " +
                                     std::to_string(room) + " (" + std::to_string(expected.size() - room) +
                                     " more)");
    EXPECT_TRUE(writer.overflowed());
    EXPECT_EQ(writer.size(), expected.size());
    EXPECT_TRUE(writer.bytes().empty());
    for (std::size_t i = 0; i < 16; ++i) {
      ASSERT_EQ(memory[i], std::byte{0xab}) << "canary before, room " << room;
      ASSERT_EQ(memory[16 + room + i], std::byte{0xab}) << "canary after, room " << room;
    }
  }
}

TEST(CodecWriter, ExactFixedSpanHoldsTheSameBytesAsAVector) {
  const shapes::Shape value{"s", {{1, 2}}, std::nullopt, {}};
  const Bytes expected = encoded(value);
  std::vector<std::byte> memory(expected.size() + 2, std::byte{0xab});
  ferry::Writer writer(std::span<std::byte>(memory.data() + 1, expected.size()));
  ASSERT_TRUE(ferry::encode(writer, value).ok());
  EXPECT_FALSE(writer.overflowed());
  EXPECT_EQ(to_hex(writer.bytes()), to_hex(expected));
  EXPECT_EQ(memory.front(), std::byte{0xab});
  EXPECT_EQ(memory.back(), std::byte{0xab});
  writer.reset();
  EXPECT_EQ(writer.size(), 0u);
  EXPECT_TRUE(ferry::encode(writer, std::int8_t{1}).ok());
}

TEST(CodecWriter, FailedEncodeLeavesTheBufferAsItWas) {
  Bytes buf = from_hex("aabb");
  ferry::Writer writer(buf);
  auto r = ferry::encode(writer, std::vector<std::string>{"fine", "bad\xff"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Serialization);
  EXPECT_EQ(to_hex(buf), "aabb");
  EXPECT_EQ(writer.size(), 0u);
  ASSERT_TRUE(ferry::encode(writer, std::int8_t{1}).ok());
  EXPECT_EQ(to_hex(buf), "aabb0201");
  writer.reset();
  EXPECT_EQ(to_hex(buf), "aabb");
}

TEST(CodecWriter, EncodedSizeIsExactForEveryShape) {
  const shapes::Shape shape{"x", {{1, 2}, {3, 4}}, Point{}, {{"k", Rect{}}}};
  EXPECT_EQ(ferry::encoded_size(shape), encoded(shape).size());
  EXPECT_EQ(ferry::encoded_size(std::vector<double>(1000)), 6u + 8000u);
  EXPECT_EQ(ferry::encoded_size(std::string("abc")), 8u);
  // It skips validation, so it can size a value that encode would refuse.
  EXPECT_EQ(ferry::encoded_size(std::string("\xff")), 6u);
}

// --- Text form ------------------------------------------------------------------------

TEST(CodecTextForm, FloatsPrintLikeJavaScriptNumbers) {
  const std::pair<double, const char*> cases[] = {
      {0.0, "0"}, {-0.0, "-0"}, {1.0, "1"}, {-2.5, "-2.5"}, {0.1, "0.1"}, {100.0, "100"},
      {123456789012345680000.0, "123456789012345680000"}, {1e21, "1e+21"}, {1.5e300, "1.5e+300"},
      {0.000001, "0.000001"}, {1e-7, "1e-7"}, {1.25e-10, "1.25e-10"}, {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {std::numeric_limits<double>::infinity(), "Infinity"},
      {-std::numeric_limits<double>::infinity(), "-Infinity"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"}};
  for (const auto& [value, text] : cases) {
    EXPECT_EQ(ferry::describe_value(encoded(value)).value(), std::string("f64 ") + text) << text;
  }
  EXPECT_EQ(ferry::describe_value(encoded(0.1f)).value(), "f32 0.1");
  EXPECT_EQ(ferry::describe_value(encoded(16777216.0f)).value(), "f32 16777216");
  EXPECT_EQ(ferry::describe_value(encoded(3.14159274f)).value(), "f32 3.1415927");
  EXPECT_EQ(ferry::describe_value(encoded(std::vector<float>{0.5f, -1e-10f})).value(), "f32[] [0.5, -1e-10]");
}

TEST(CodecTextForm, StringsAndNamesAreEscapedUnambiguously) {
  EXPECT_EQ(ferry::describe_value(encoded(std::string("a\"b\\c\x01\x7f\xc3\xa9"))).value(),
            "string \"a\\\"b\\\\c\\u{1}\\u{7f}\\u{e9}\"");
  // A struct name that is not an identifier is quoted.
  EXPECT_EQ(ferry::describe_value(from_hex("13036120620000")).value(), "struct \"a b\" {}");
  EXPECT_EQ(ferry::describe_value(from_hex("1301410100013100")).value(), "struct A {\"1\": unit}");
  EXPECT_EQ(ferry::describe_value(from_hex("13000000")).value(), "struct \"\" {}");
}

// --- Randomized round trips --------------------------------------------------------------

// splitmix64: the same sequence on every platform (std distributions differ).
struct Prng {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
  template <class T>
  T bits() {
    const std::uint64_t v = next();
    T out;
    std::memcpy(&out, &v, sizeof out);
    return out;
  }
};

std::string random_utf8(Prng& rng) {
  std::string s;
  const std::size_t n = rng.below(12);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t cp;
    switch (rng.below(4)) {
      case 0: cp = static_cast<std::uint32_t>(rng.below(0x80)); break;
      case 1: cp = 0x80 + static_cast<std::uint32_t>(rng.below(0x800 - 0x80)); break;
      case 2: cp = 0x800 + static_cast<std::uint32_t>(rng.below(0x10000 - 0x800 - 0x800));
              if (cp >= 0xD800) cp += 0x800;  // skip the surrogates
              break;
      default: cp = 0x10000 + static_cast<std::uint32_t>(rng.below(0x110000 - 0x10000)); break;
    }
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return s;
}

struct Sample {
  std::int8_t a = 0;
  std::uint16_t b = 0;
  std::int64_t c = 0;
  float f = 0;
  double d = 0;
  bool flag = false;
  std::string text;
  Bytes blob;
  std::vector<std::int32_t> ints;
  std::vector<double> reals;
  std::vector<std::string> words;
  std::optional<Point> where;
  std::variant<std::monostate, std::int64_t, std::string, Point> choice;
  std::map<std::string, std::vector<float>> table;
  std::tuple<bool, std::uint64_t, std::string> trio;
  std::vector<Rect> rects;
  shapes::Tree tree;
};
FERRY_STRUCT(Sample, a, b, c, f, d, flag, text, blob, ints, reals, words, where, choice, table, trio, rects, tree)

shapes::Tree random_tree(Prng& rng, int depth) {
  shapes::Tree t;
  if (depth > 0) {
    const std::size_t n = rng.below(3);
    for (std::size_t i = 0; i < n; ++i) t.kids.push_back(random_tree(rng, depth - 1));
  }
  return t;
}

Point random_point(Prng& rng) { return {rng.bits<std::int32_t>(), rng.bits<std::int32_t>()}; }

Sample random_sample(Prng& rng) {
  Sample s;
  s.a = rng.bits<std::int8_t>();
  s.b = rng.bits<std::uint16_t>();
  s.c = rng.bits<std::int64_t>();
  s.f = rng.bits<float>();  // any bit pattern, NaNs included
  s.d = rng.bits<double>();
  s.flag = rng.below(2) == 1;
  s.text = random_utf8(rng);
  for (std::size_t i = rng.below(20); i > 0; --i) s.blob.push_back(rng.bits<std::byte>());
  for (std::size_t i = rng.below(20); i > 0; --i) s.ints.push_back(rng.bits<std::int32_t>());
  for (std::size_t i = rng.below(5); i > 0; --i) s.reals.push_back(rng.bits<double>());
  for (std::size_t i = rng.below(5); i > 0; --i) s.words.push_back(random_utf8(rng));
  if (rng.below(2)) s.where = random_point(rng);
  switch (rng.below(4)) {
    case 0: s.choice = std::monostate{}; break;
    case 1: s.choice = rng.bits<std::int64_t>(); break;
    case 2: s.choice = random_utf8(rng); break;
    default: s.choice = random_point(rng); break;
  }
  for (std::size_t i = rng.below(4); i > 0; --i) {
    auto& v = s.table[random_utf8(rng)];
    for (std::size_t j = rng.below(4); j > 0; --j) v.push_back(rng.bits<float>());
  }
  s.trio = {rng.below(2) == 1, rng.next(), random_utf8(rng)};
  for (std::size_t i = rng.below(3); i > 0; --i) {
    s.rects.push_back({random_point(rng), random_point(rng), random_utf8(rng)});
  }
  s.tree = random_tree(rng, 4);
  return s;
}

int stress_scale() {
  const char* env = std::getenv("FERRY_STRESS_SCALE");
  const int scale = env ? std::atoi(env) : 1;
  return scale > 0 ? scale : 1;
}

TEST(CodecRandom, RandomValuesSurviveEveryPathAndMutationsNeverCrash) {
  Prng rng{0xfe77u};
  const int iterations = 500 * stress_scale();
  for (int i = 0; i < iterations; ++i) {
    const Sample s = random_sample(rng);
    const Bytes bytes = encoded(s);
    ASSERT_EQ(ferry::encoded_size(s), bytes.size()) << "iteration " << i;
    auto back = ferry::decode<Sample>(bytes);
    ASSERT_TRUE(back.ok()) << "iteration " << i << ": " << back.error().describe();
    ASSERT_EQ(to_hex(encoded(*back)), to_hex(bytes)) << "iteration " << i;  // bytes: NaN != NaN
    EXPECT_EQ(back->text, s.text);
    EXPECT_EQ(back->tree, s.tree);
    ASSERT_TRUE(ferry::describe_value(bytes).ok()) << "iteration " << i;

    // The exact size fits a fixed span; one byte less does not.
    Bytes slot(bytes.size() + 1);
    ferry::Writer exact(std::span<std::byte>(slot.data(), bytes.size()));
    ASSERT_TRUE(ferry::encode(exact, s).ok());
    slot.back() = std::byte{0xab};
    ferry::Writer tight(std::span<std::byte>(slot.data(), bytes.size() - 1));
    EXPECT_EQ(ferry::encode(tight, s).error().kind, ErrorKind::MessageTooLarge);
    EXPECT_EQ(slot.back(), std::byte{0xab});

    // Corrupt a few bytes: decoding must fail cleanly or yield some value.
    Bytes mutated = bytes;
    for (std::size_t k = 1 + rng.below(3); k > 0; --k) mutated[rng.below(mutated.size())] = rng.bits<std::byte>();
    (void)ferry::decode<Sample>(mutated);
    (void)ferry::describe_value(mutated);
    const std::span<const std::byte> cut(bytes.data(), rng.below(bytes.size()));
    EXPECT_FALSE(ferry::decode<Sample>(cut).ok());
  }
}

}  // namespace
