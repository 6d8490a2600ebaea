#include "core/codec.hpp"  // first: the header is self-contained

#include "core/schema.hpp"
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

// The lines of a golden file split on the first `columns - 1` separators
// (the last column, a text form, may hold them), each column trimmed.
std::vector<std::vector<std::string>> golden_rows(const std::string& path, std::size_t columns,
                                                  std::string_view separator = "|") {
  std::vector<std::vector<std::string>> rows;
  const auto file = read_file(path);
  EXPECT_TRUE(file.has_value()) << path;
  std::istringstream in(file.value_or(""));
  for (std::string line; std::getline(in, line);) {
    if (trim(line).empty() || line[0] == '#') continue;
    std::vector<std::string> row;
    std::size_t from = 0;
    for (std::size_t at; row.size() + 1 < columns && (at = line.find(separator, from)) != std::string::npos;
         from = at + separator.size()) {
      row.push_back(trim(line.substr(from, at - from)));
    }
    row.push_back(trim(line.substr(from)));
    EXPECT_EQ(row.size(), columns) << line;
    if (row.size() == columns) rows.push_back(std::move(row));
  }
  return rows;
}

// FERRY_UPDATE_GOLDEN=1: rewrites each line of `path` whose name `line_of`
// knows (comments, order and other lines stay); review the diff.
void update_golden_if_asked(const std::string& path,
                            const std::function<std::optional<std::string>(const std::string& name)>& line_of) {
  if (std::getenv("FERRY_UPDATE_GOLDEN") == nullptr) return;
  std::istringstream in(read_file(path).value_or(""));
  std::ostringstream out;
  for (std::string line; std::getline(in, line);) {
    const auto fresh = line.empty() || line[0] == '#' ? std::nullopt : line_of(trim(line.substr(0, line.find('|'))));
    out << fresh.value_or(line) << '\n';
  }
  std::ofstream(path) << out.str();
}

struct GoldenLine {
  std::string name;
  std::string hex;
  std::string text;
};

std::vector<GoldenLine> golden_lines() {
  std::vector<GoldenLine> lines;
  for (auto& row : golden_rows(kGoldenPath, 3)) lines.push_back({row[0], row[1], row[2]});
  return lines;
}

template <class T>
struct Comparable : std::bool_constant<std::equality_comparable<T>> {};
template <class T>
struct Comparable<std::vector<Result<T>>> : std::false_type {};  // Result has no ==

// One golden value, with its type erased.
struct GoldenCase {
  std::string name;
  std::string schema;  // ferry::schema_of<T>()
  std::function<Result<Bytes>(ferry::Form)> encode;
  std::function<std::size_t(ferry::Form)> size;
  // Decodes the bytes (either form) as the case's type; when that works,
  // re-encodes in the given form.
  std::function<Result<Bytes>(std::span<const std::byte>, ferry::Form)> decode_and_encode;
};

// decode<T>, also for a plain Error: decode<Error> does not exist (its
// Result<Error> would be ambiguous), but the codec beneath it does.
template <class T>
Result<Bytes> decode_and_encode_as(std::span<const std::byte> bytes, const T& original, ferry::Form form) {
  if constexpr (std::is_same_v<T, ferry::Error>) {
    ferry::Reader reader(bytes);
    ferry::Error back;
    if (!ferry::detail::decode_top(reader, back)) return reader.take_error();
    if (auto tail = ferry::detail::trailing_check(reader); !tail) return std::move(tail).error();
    EXPECT_EQ(back, original);
    return ferry::encode(back, form);
  } else {
    auto back = ferry::decode<T>(bytes);
    if (!back) return std::move(back).error();
    if constexpr (Comparable<T>::value) {
      EXPECT_TRUE(*back == original) << "decoded value differs";
    }
    return ferry::encode(*back, form);
  }
}

template <class T>
GoldenCase golden(std::string name, T value) {
  auto v = std::make_shared<T>(std::move(value));
  return {std::move(name), ferry::schema_of<T>(), [v](ferry::Form form) { return ferry::encode(*v, form); },
          [v](ferry::Form form) { return ferry::encoded_size(*v, form); },
          [v](std::span<const std::byte> bytes, ferry::Form form) { return decode_and_encode_as(bytes, *v, form); }};
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
  update_golden_if_asked(kGoldenPath, [&](const std::string& name) -> std::optional<std::string> {
    if (!cases.contains(name)) return std::nullopt;
    const Bytes bytes = cases.at(name).encode(ferry::Form::Tagged).value();
    return name + " | " + to_hex(bytes) + " | " + ferry::describe_value(bytes).value();
  });
  for (const auto& line : golden_lines()) {
    ASSERT_TRUE(cases.contains(line.name)) << line.name;
    auto bytes = cases.at(line.name).encode(ferry::Form::Tagged);
    ASSERT_TRUE(bytes.ok()) << line.name << ": " << bytes.error().describe();
    EXPECT_EQ(to_hex(*bytes), line.hex) << line.name;
    EXPECT_EQ(cases.at(line.name).size(ferry::Form::Tagged), bytes->size()) << line.name << ": encoded_size";
  }
}

TEST(CodecGolden, DecodingEveryVectorGivesBackTheValue) {
  std::map<std::string, GoldenCase> cases;
  for (auto& c : golden_cases()) cases.emplace(c.name, c);
  for (const auto& line : golden_lines()) {
    if (!cases.contains(line.name)) continue;
    const Bytes bytes = from_hex(line.hex);
    auto again = cases.at(line.name).decode_and_encode(bytes, ferry::Form::Tagged);
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

// Both the typed decoder and the walker refuse every proper prefix of `hex`.
void expect_every_prefix_fails(const GoldenCase& c, const std::string& hex) {
  const Bytes bytes = from_hex(hex);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const std::span<const std::byte> prefix(bytes.data(), n);
    auto typed = c.decode_and_encode(prefix, ferry::Form::Tagged);
    ASSERT_FALSE(typed.ok()) << c.name << " prefix " << n;
    EXPECT_EQ(typed.error().kind, ErrorKind::Deserialization) << c.name << " prefix " << n << ": "
                                                                << typed.error().describe();
    auto text = ferry::describe_value(prefix);
    ASSERT_FALSE(text.ok()) << c.name << " prefix " << n;
    EXPECT_EQ(text.error().kind, ErrorKind::Deserialization) << c.name << " prefix " << n;
  }
}

TEST(CodecGolden, EveryProperPrefixFailsWithDeserialization) {
  std::map<std::string, GoldenCase> cases;
  for (auto& c : golden_cases()) cases.emplace(c.name, c);
  for (const auto& line : golden_lines()) expect_every_prefix_fails(cases.at(line.name), line.hex);
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

// The cases by concern (one translation unit; see each part's header).
#include "tests/core_codec_test/mismatch.hpp"
#include "tests/core_codec_test/writer.hpp"
#include "tests/core_codec_test/schema_form.hpp"

}  // namespace
