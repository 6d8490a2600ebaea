// core_codec_test, mismatch: type mismatches, malformed input and zero-copy
// views.
// Part of tests/core_codec_test.cpp, the one translation unit of that test binary:
// it includes its parts after the helpers they share, so the cases are grouped
// by concern without another compile of GoogleTest and ferry per part.
#pragma once

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

// The error decode<T> gives for `hex`, which must be of `kind`.
template <class T>
ferry::Error typed_error(std::string_view hex, ErrorKind kind) {
  auto r = ferry::decode<T>(from_hex(hex));
  EXPECT_FALSE(r.ok()) << hex;
  if (r.ok()) return {};
  EXPECT_EQ(r.error().kind, kind) << r.error().describe();
  return std::move(r).error();
}

template <class T>
ferry::Error typed_deserialization_error(std::string_view hex) {
  return typed_error<T>(hex, ErrorKind::Deserialization);
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
  EXPECT_EQ(deserialization_error("16").message, "unknown type tag 0x16 at offset 0");
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
