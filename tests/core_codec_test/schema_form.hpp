// core_codec_test, schema form: the golden vectors of tests/golden/schema_form.txt,
// malformed schema forms, fixed spans, and randomized round trips (0x15,
// CODEC.md "Schema form").
// Part of tests/core_codec_test.cpp, the one translation unit of that test binary:
// it includes its parts after the helpers they share, so the cases are grouped
// by concern without another compile of GoogleTest and ferry per part.
#pragma once

// A u32 as it appears on the wire (little-endian): "0c000000" for 12.
std::string u32_hex(std::uint32_t v) { return to_hex(std::as_bytes(std::span(&v, 1))); }

// T's fingerprint on the wire: "852223ff" for Point.
template <class T>
std::string fingerprint_hex() {
  return u32_hex(ferry::schema_fingerprint<T>());
}

// --- Golden vectors ------------------------------------------------------------------

const std::string kSchemaGoldenPath = FERRY_SOURCE_DIR "/tests/golden/schema_form.txt";

struct SchemaGoldenLine {
  std::string name;
  std::string schema;
  std::string hex;
  std::string text;
};

// Columns are separated by " | ": a variant's schema holds bars without spaces.
std::vector<SchemaGoldenLine> schema_golden_lines() {
  std::vector<SchemaGoldenLine> lines;
  for (auto& row : golden_rows(kSchemaGoldenPath, 4, " | ")) lines.push_back({row[0], row[1], row[2], row[3]});
  return lines;
}

// Every value of codec.txt under its name there (so the two files can be
// compared line by line), then what only the schema form needs: a plain Error
// (schema `error`; codec.txt's errors are Results), tuples without items,
// ok Results, a recursive struct, and CODEC.md's example as `point`.
std::vector<GoldenCase> schema_form_cases() {
  std::vector<GoldenCase> cases = golden_cases();
  cases.insert(cases.end(), {
           golden("array_points", std::vector<Point>{{1, -2}, {3, 4}}),
           golden("tuple_empty", std::tuple<>{}),
           golden("array_fixed_empty", std::array<std::int32_t, 0>{}),
           golden("point", Point{1, -2}),
           golden("struct_tree", shapes::Tree{{shapes::Tree{}, shapes::Tree{{shapes::Tree{}}}}}),
           golden("plain_error_closed", error_of(ErrorKind::Closed, "stream closed", "core/ring")),
           golden("plain_error_type_mismatch", ferry::Error::type_mismatch("i32", "string", "worker 1")),
           golden("result_i32_ok", Result<std::int32_t>(5)),
           golden("result_void_ok", Result<void>()),
       });
  return cases;
}

std::map<std::string, GoldenCase> schema_form_cases_by_name() {
  std::map<std::string, GoldenCase> cases;
  for (auto& c : schema_form_cases()) cases.emplace(c.name, c);
  return cases;
}

TEST(CodecSchemaGolden, FileListsEveryCaseAndNothingElse) {
  std::vector<std::string> in_file, in_code;
  for (const auto& l : schema_golden_lines()) in_file.push_back(l.name);
  for (const auto& c : schema_form_cases()) in_code.push_back(c.name);
  std::sort(in_file.begin(), in_file.end());
  std::sort(in_code.begin(), in_code.end());
  EXPECT_EQ(in_file, in_code);
  EXPECT_EQ(std::adjacent_find(in_file.begin(), in_file.end()), in_file.end()) << "duplicate name";
}

TEST(CodecSchemaGolden, EveryTaggedVectorIsHereWithTheSameText) {
  std::map<std::string, std::string> text_of;
  for (const auto& l : schema_golden_lines()) text_of.emplace(l.name, l.text);
  for (const auto& line : golden_lines()) {
    ASSERT_TRUE(text_of.contains(line.name)) << line.name;
    EXPECT_EQ(text_of.at(line.name), line.text) << line.name;
  }
}

// FERRY_UPDATE_GOLDEN=1 rewrites schema, hex and text of every line from the
// C++ values, as for codec.txt.
TEST(CodecSchemaGolden, EncodingMatchesEveryVectorByteForByte) {
  const auto cases = schema_form_cases_by_name();
  update_golden_if_asked(kSchemaGoldenPath, [&](const std::string& name) -> std::optional<std::string> {
    if (!cases.contains(name)) return std::nullopt;
    const GoldenCase& c = cases.at(name);
    const Bytes schema_form = c.encode(ferry::Form::Schema).value();
    const Bytes tagged = c.encode(ferry::Form::Tagged).value();
    return name + " | " + c.schema + " | " + to_hex(schema_form) + " | " + ferry::describe_value(tagged).value();
  });
  for (const auto& line : schema_golden_lines()) {
    ASSERT_TRUE(cases.contains(line.name)) << line.name;
    const GoldenCase& c = cases.at(line.name);
    EXPECT_EQ(c.schema, line.schema) << line.name;
    auto bytes = c.encode(ferry::Form::Schema);
    ASSERT_TRUE(bytes.ok()) << line.name << ": " << bytes.error().describe();
    EXPECT_EQ(to_hex(*bytes), line.hex) << line.name;
    EXPECT_EQ(c.size(ferry::Form::Schema), bytes->size()) << line.name << ": encoded_size";
  }
}

TEST(CodecSchemaGolden, DecodingEveryVectorGivesBackTheValueAndItsTaggedText) {
  const auto cases = schema_form_cases_by_name();
  for (const auto& line : schema_golden_lines()) {
    if (!cases.contains(line.name)) continue;
    const Bytes bytes = from_hex(line.hex);
    auto tagged = cases.at(line.name).decode_and_encode(bytes, ferry::Form::Tagged);
    ASSERT_TRUE(tagged.ok()) << line.name << ": " << tagged.error().describe();
    EXPECT_EQ(ferry::describe_value(*tagged).value(), line.text) << line.name;
    auto again = cases.at(line.name).decode_and_encode(bytes, ferry::Form::Schema);
    ASSERT_TRUE(again.ok()) << line.name << ": " << again.error().describe();
    EXPECT_EQ(to_hex(*again), line.hex) << line.name;
    // And the tagged bytes decode to the same value.
    auto from_tagged = cases.at(line.name).decode_and_encode(*tagged, ferry::Form::Schema);
    ASSERT_TRUE(from_tagged.ok()) << line.name << ": " << from_tagged.error().describe();
    EXPECT_EQ(to_hex(*from_tagged), line.hex) << line.name;
  }
}

TEST(CodecSchemaGolden, EveryVectorCarriesTheFingerprintOfItsSchemaColumn) {
  for (const auto& line : schema_golden_lines()) {
    EXPECT_EQ(line.hex.substr(10, 8), u32_hex(ferry::schema_fingerprint(line.schema))) << line.name;
  }
}

TEST(CodecSchemaGolden, TheWalkerPrintsEveryVectorAsItsNBytes) {
  for (const auto& line : schema_golden_lines()) {
    const Bytes bytes = from_hex(line.hex);
    ASSERT_GE(bytes.size(), 9u) << line.name;
    const std::string expected =
        ferry::describe_value(encoded(std::span<const std::byte>(bytes).subspan(5))).value();  // "bytes [..]"
    EXPECT_EQ(ferry::describe_value(bytes).value(), "schema" + expected.substr(5)) << line.name;
  }
}

TEST(CodecSchemaGolden, EveryProperPrefixFailsWithDeserialization) {
  const auto cases = schema_form_cases_by_name();
  for (const auto& line : schema_golden_lines()) expect_every_prefix_fails(cases.at(line.name), line.hex);
}

// --- Fingerprints -----------------------------------------------------------------------

TEST(CodecSchemaFingerprint, IsFnv1aOfTheSchemaText) {
  static_assert(ferry::schema_fingerprint("struct Point{x:i32,y:i32}") == 0xff232285u);  // CODEC.md's example
  static_assert(ferry::schema_fingerprint("") == 2166136261u);                           // the offset basis
  EXPECT_EQ(ferry::schema_fingerprint<Point>(), 0xff232285u);
  EXPECT_EQ(fingerprint_hex<Point>(), "852223ff");
  EXPECT_EQ(ferry::schema_fingerprint<std::int32_t>(), ferry::schema_fingerprint("i32"));
  EXPECT_EQ(ferry::schema_fingerprint<std::int32_t>(), 0xcaa7f4a5u);
  EXPECT_EQ(ferry::schema_fingerprint<std::string>(), 0x17c16538u);
  // UTF-8 bytes, not chars: a byte above 0x7f is XORed in as 0..255.
  EXPECT_EQ(ferry::schema_fingerprint("\xc3\xa9"), ((2166136261u ^ 0xc3u) * 16777619u ^ 0xa9u) * 16777619u);
  // Types of the same schema text share it; another text has its own.
  EXPECT_EQ(ferry::schema_fingerprint<std::string>(), ferry::schema_fingerprint<std::string_view>());
  EXPECT_NE(ferry::schema_fingerprint<Point>(), ferry::schema_fingerprint<shapes::Pt>());
}

// A borrowing twin of shapes::Rect: the same schema text, so the same fingerprint.
namespace views {
struct Rect {
  Point a;
  Point b;
  std::string_view label;
};
FERRY_STRUCT(Rect, a, b, label)
}  // namespace views

TEST(CodecSchemaFingerprint, TypesOfTheSameSchemaTextReadEachOthersSchemaForm) {
  const Bytes text = ferry::encode(std::string("hello"), ferry::Form::Schema).value();
  EXPECT_EQ(ferry::decode<std::string_view>(text).value(), "hello");
  EXPECT_EQ(ferry::decode<std::string>(ferry::encode(std::string_view("hi"), ferry::Form::Schema).value()).value(), "hi");

  ASSERT_EQ(ferry::schema_of<views::Rect>(), ferry::schema_of<Rect>());
  const Rect owned{{1, 2}, {3, 4}, "label"};
  const Bytes bytes = ferry::encode(owned, ferry::Form::Schema).value();
  const auto borrowed = ferry::decode<views::Rect>(bytes).value();
  EXPECT_EQ(borrowed.label, "label");
  EXPECT_EQ(borrowed.b, (Point{3, 4}));
  EXPECT_EQ(ferry::decode<Rect>(ferry::encode(borrowed, ferry::Form::Schema).value()).value(), owned);
}

// `hex` holds a schema form of another type than T's.
template <class T>
ferry::Error schema_form_mismatch(std::string_view hex) {
  return typed_error<T>(hex, ErrorKind::TypeMismatch);
}

TEST(CodecSchemaFingerprint, AnotherTypesSchemaFormIsTypeMismatch) {
  const std::string point = "150c000000" "852223ff" "01000000feffffff";
  // Another name, the same fields: the tagged form's mismatch, with the fingerprint found.
  const ferry::Error pt = schema_form_mismatch<shapes::Pt>(point);
  EXPECT_EQ(pt.expected, "struct Pt");
  EXPECT_EQ(pt.actual, "schema form 0xff232285");
  EXPECT_EQ(pt.message, "type mismatch: expected struct Pt, got schema form 0xff232285 at offset 0");
  // The same name, other fields; the same 8 bytes as another type; inside a Result.
  EXPECT_EQ(schema_form_mismatch<v2::Point>(point).expected, "struct Point");
  EXPECT_EQ(schema_form_mismatch<renamed::Point>(point).expected, "struct Point");
  EXPECT_EQ(schema_form_mismatch<std::int64_t>(point).message,
            "type mismatch: expected i64, got schema form 0xff232285 at offset 0");
  EXPECT_EQ(schema_form_mismatch<Result<Point>>(point).expected, "struct Point or error");
  // One bit off is another fingerprint.
  EXPECT_EQ(schema_form_mismatch<Point>("150c000000" "842223ff" "01000000feffffff").actual, "schema form 0xff232284");
  // Checked before the value: a bool byte 0x02 is not read, nor is a short value.
  EXPECT_EQ(schema_form_mismatch<bool>("1505000000" "852223ff" "02").actual, "schema form 0xff232285");
  EXPECT_EQ(schema_form_mismatch<Point>("1504000000" "3d9594c8").actual, "schema form 0xc894953d");  // bool's
  // unit's schema form read as the empty tuple.
  EXPECT_EQ(schema_form_mismatch<std::tuple<>>("1505000000" + fingerprint_hex<std::monostate>() + "00").message,
            "type mismatch: expected array, got schema form 0xe8b51a07 at offset 0");
}

// --- Malformed schema forms ------------------------------------------------------------

TEST(CodecSchemaForm, LengthPastTheEndIsRefusedByTypedDecoderAndWalker) {
  const std::string hex = "150d000000" "852223ff" "01000000feffffff";
  EXPECT_EQ(typed_deserialization_error<Point>(hex).message, "schema form length 13 at offset 1 exceeds the 12 remaining bytes");
  EXPECT_EQ(deserialization_error(hex).message, "schema form length 13 at offset 1 exceeds the 12 remaining bytes");
  EXPECT_EQ(typed_deserialization_error<Point>("150800").message, "schema form length at offset 1 needs 4 bytes but 2 bytes remain");
}

TEST(CodecSchemaForm, LengthBelowTheFingerprintsFourBytesIsRefusedByTypedDecoderAndWalker) {
  for (std::uint32_t n = 0; n < 4; ++n) {
    // N bytes follow, then enough for a fingerprint: only N counts.
    const std::string hex = "15" + u32_hex(n) + std::string(2 * n, '0') + "852223ff";
    const std::string message = "schema form length " + std::to_string(n) + " at offset 1 is less than the 4 bytes of its fingerprint";
    EXPECT_EQ(typed_deserialization_error<Point>(hex).message, message);
    EXPECT_EQ(typed_deserialization_error<std::monostate>(hex).message, message);
    EXPECT_EQ(deserialization_error(hex).message, message);
  }
  EXPECT_EQ(ferry::describe_value(from_hex("1504000000" "852223ff")).value(), "schema [85 22 23 ff]");
}

TEST(CodecSchemaForm, BareValueMustEndExactlyAtTheLength) {
  // Shorter than N: the Point ends a byte early (N counts the fingerprint too).
  EXPECT_EQ(typed_deserialization_error<Point>("150d000000" "852223ff" "01000000feffffff" "00").message,
            "schema form of 13 bytes at offset 0 holds a value of 8 bytes");
  // Longer than N: the Point may not read past the N bytes, even with input after them.
  EXPECT_EQ(typed_deserialization_error<Point>("150b000000" "852223ff" "01000000feffffff").message,
            "i32 payload at offset 13 needs 4 bytes but 3 bytes remain");
  // Bytes after the whole schema form are trailing bytes, as after any value.
  EXPECT_EQ(typed_deserialization_error<Point>("150c000000" "852223ff" "01000000feffffff" "00").message,
            "1 trailing byte after value (the value ends at offset 17)");
}

TEST(CodecSchemaForm, ZeroBytesFlagsAndIndicesAreChecked) {
  EXPECT_EQ(typed_deserialization_error<std::monostate>("1505000000" + fingerprint_hex<std::monostate>() + "01").message,
            "unit byte 0x01 at offset 9 is not 0");
  EXPECT_EQ(typed_deserialization_error<shapes::Empty>("1505000000" + fingerprint_hex<shapes::Empty>() + "ff").message,
            "empty struct byte 0xff at offset 9 is not 0");
  EXPECT_EQ(typed_deserialization_error<std::tuple<>>("1505000000" + fingerprint_hex<std::tuple<>>() + "02").message,
            "empty tuple byte 0x02 at offset 9 is not 0");
  EXPECT_EQ(typed_deserialization_error<bool>("1505000000" + fingerprint_hex<bool>() + "02").message,
            "bool byte 0x02 at offset 9 is not 0 or 1");
  using O = std::optional<std::int8_t>;
  EXPECT_EQ(typed_deserialization_error<O>("1506000000" + fingerprint_hex<O>() + "0201").message,
            "optional flag 0x02 at offset 9 is not 0 or 1");
  using R = Result<std::int8_t>;
  EXPECT_EQ(typed_deserialization_error<R>("1506000000" + fingerprint_hex<R>() + "0201").message,
            "result flag 0x02 at offset 9 is not 0 or 1");
  using V = std::variant<std::int32_t, std::string>;
  EXPECT_EQ(typed_deserialization_error<V>("150c000000" + fingerprint_hex<V>() + "02000000" "07000000").message,
            "variant index 2 at offset 9 is out of range for 2 alternatives");
  EXPECT_EQ(typed_deserialization_error<Result<void>>("150e000000" + fingerprint_hex<Result<void>>() +
                                                      "01" "63" "00000000" "00000000").message,
            "error kind 99 at offset 10 is not a known ErrorKind (1..14)");
}

TEST(CodecSchemaForm, CountsAreCheckedAgainstWhatRemainsBeforeReserving) {
  // Every bare item takes a byte: 4 units fit in 4 bytes, 5 do not.
  using Units = std::vector<std::monostate>;
  EXPECT_TRUE(ferry::decode<Units>(from_hex("150c000000" + fingerprint_hex<Units>() + "04000000" "00000000")).ok());
  EXPECT_EQ(typed_deserialization_error<Units>("150c000000" + fingerprint_hex<Units>() + "05000000" "00000000").message,
            "array count 5 at offset 9 needs at least 5 bytes but 4 bytes remain");
  using Strings = std::vector<std::string>;
  EXPECT_EQ(typed_deserialization_error<Strings>("1508000000" + fingerprint_hex<Strings>() + "ffffffff").message,
            "array count 4294967295 at offset 9 needs at least 4294967295 bytes but 0 bytes remain");
  // A pair takes two: 2 pairs of u8 in 4 bytes, not in 3.
  using M = std::map<std::uint8_t, std::uint8_t>;
  EXPECT_EQ(ferry::decode<M>(from_hex("150c000000" + fingerprint_hex<M>() + "02000000" "01020304")).value(),
            (M{{1, 2}, {3, 4}}));
  EXPECT_EQ(typed_deserialization_error<M>("150b000000" + fingerprint_hex<M>() + "02000000" "010203").message,
            "map count 2 at offset 9 needs at least 4 bytes but 3 bytes remain");
  using Packed = std::vector<std::int32_t>;
  EXPECT_EQ(typed_deserialization_error<Packed>("150c000000" + fingerprint_hex<Packed>() + "02000000" "01000000").message,
            "packed count 2 at offset 9 needs at least 8 bytes but 4 bytes remain");
}

TEST(CodecSchemaForm, RepeatedMapKeyIsRefused) {
  using M = std::map<std::string, std::int32_t>;
  EXPECT_EQ(typed_deserialization_error<M>("151a000000" + fingerprint_hex<M>() + "02000000" "0100000061" "01000000" +
                                           "0100000061" "02000000").message,
            "duplicate map key at offset 22");
}

TEST(CodecSchemaForm, InvalidUtf8IsRefusedBothWays) {
  EXPECT_EQ(typed_deserialization_error<std::string>("1509000000" + fingerprint_hex<std::string>() + "01000000ff").message,
            "string at offset 9 is not valid UTF-8 (byte 0xff at offset 13)");
  auto r = ferry::encode(std::string("bad\xff"), ferry::Form::Schema);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Serialization);
}

// Each Tree opens two levels (its struct, then its kids' array), as tagged.
shapes::Tree tree_of_depth(int trees) {
  shapes::Tree t;
  for (int i = 1; i < trees; ++i) t = shapes::Tree{{std::move(t)}};
  return t;
}

TEST(CodecSchemaForm, DepthIsLimitedAsInTheTaggedForm) {
  const shapes::Tree deepest = tree_of_depth(32);  // levels 1..64
  const Bytes ok = encoded(deepest);
  auto bare = ferry::encode(deepest, ferry::Form::Schema);
  ASSERT_TRUE(bare.ok()) << bare.error().describe();
  EXPECT_EQ(ferry::decode<shapes::Tree>(*bare).value(), deepest);

  auto too_deep = ferry::encode(tree_of_depth(33), ferry::Form::Schema);
  ASSERT_FALSE(too_deep.ok());
  EXPECT_EQ(too_deep.error().kind, ErrorKind::Serialization);
  EXPECT_EQ(too_deep.error().message, "nesting depth 65 exceeds the limit of 64");

  // 32 trees of one kid, then one without: the 33rd struct is level 65.
  std::string hex = "1588000000" + fingerprint_hex<shapes::Tree>();
  for (int i = 0; i < 32; ++i) hex += "01000000";
  hex += "00000000";
  EXPECT_EQ(typed_deserialization_error<shapes::Tree>(hex).message, "nesting depth 65 at offset 137 exceeds the limit of 64");
}

TEST(CodecSchemaForm, TypedDecodersAcceptItOnlyAtTheTop) {
  // array [schema form of Point]: the item must be a tagged struct Point.
  auto r = ferry::decode<std::vector<Point>>(from_hex("0e01000000" "150c000000" "852223ff" "01000000feffffff"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::TypeMismatch);
  EXPECT_EQ(r.error().expected, "struct Point");
  EXPECT_EQ(r.error().actual, "schema");
  EXPECT_EQ(r.error().message, "type mismatch: expected struct Point, got schema at offset 5");
  // Nor does a schema form hold another: inside, 0x15 is just a byte.
  auto nested = ferry::decode<std::int32_t>(from_hex("1509000000" + fingerprint_hex<std::int32_t>() + "1504000000"));
  ASSERT_FALSE(nested.ok());
  EXPECT_EQ(nested.error().message, "schema form of 9 bytes at offset 0 holds a value of 4 bytes");
}

TEST(CodecSchemaForm, WalkerSkipsItAmongOtherValues) {
  Bytes all = encoded(std::int8_t{1});
  ferry::Writer writer(all);
  ASSERT_TRUE(ferry::encode(writer, Point{1, -2}, ferry::Form::Schema).ok());
  ASSERT_TRUE(ferry::encode(writer, std::string("x")).ok());
  ferry::Reader reader(all);
  struct Seen : ferry::ValueVisitor {
    std::vector<Bytes> held;
    void schema_form(std::span<const std::byte> b) { held.emplace_back(b.begin(), b.end()); }
  } seen;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ferry::visit_value(reader, seen).ok()) << i;
  EXPECT_TRUE(reader.at_end());
  ASSERT_EQ(seen.held.size(), 1u);
  EXPECT_EQ(to_hex(seen.held[0]), "852223ff" "01000000feffffff");  // the fingerprint, then the value bare
  EXPECT_EQ(ferry::describe_value(from_hex("150c000000" "852223ff" "01000000feffffff")).value(),
            "schema [85 22 23 ff 01 00 00 00 fe ff ff ff]");  // CODEC.md's example
  EXPECT_EQ(ferry::describe_value(from_hex("0e01000000" "1505000000" "071ab5e8" "00")).value(),
            "array [schema [07 1a b5 e8 00]]");
}

TEST(CodecSchemaForm, ZeroCopyViewsPointIntoTheInput) {
  const Bytes bytes = ferry::encode(std::string_view("hello"), ferry::Form::Schema).value();
  const auto view = ferry::decode<std::string_view>(bytes).value();
  EXPECT_EQ(view, "hello");
  EXPECT_EQ(static_cast<const void*>(view.data()), static_cast<const void*>(bytes.data() + 13));
  const Bytes blob = ferry::encode(Bytes{std::byte{7}}, ferry::Form::Schema).value();
  const auto span = ferry::decode<std::span<const std::byte>>(blob).value();
  EXPECT_EQ(span.data(), blob.data() + 13);
}

// --- Writer ------------------------------------------------------------------------------

TEST(CodecSchemaForm, TooSmallFixedSpanFailsWithTheWholeSizeNeeded) {
  const Rect value{{1, 2}, {3, 4}, "a label long enough"};
  const Bytes expected = ferry::encode(value, ferry::Form::Schema).value();
  ASSERT_EQ(ferry::encoded_size(value, ferry::Form::Schema), expected.size());
  for (std::size_t room = 0; room < expected.size(); ++room) {
    std::vector<std::byte> memory(room + 32, std::byte{0xab});
    ferry::Writer writer(std::span<std::byte>(memory.data() + 16, room));
    auto r = ferry::encode(writer, value, ferry::Form::Schema);
    ASSERT_FALSE(r.ok()) << room;
    EXPECT_EQ(r.error().kind, ErrorKind::MessageTooLarge);
    EXPECT_EQ(writer.size(), expected.size()) << room;
    EXPECT_TRUE(writer.bytes().empty());
    for (std::size_t i = 0; i < 16; ++i) {
      ASSERT_EQ(memory[i], std::byte{0xab}) << "canary before, room " << room;
      ASSERT_EQ(memory[16 + room + i], std::byte{0xab}) << "canary after, room " << room;
    }
  }
  Bytes exact(expected.size());
  ferry::Writer writer{std::span<std::byte>(exact)};
  ASSERT_TRUE(ferry::encode(writer, value, ferry::Form::Schema).ok());
  EXPECT_EQ(to_hex(writer.bytes()), to_hex(expected));
}

TEST(CodecSchemaForm, FailedEncodeLeavesTheBufferAsItWasAndTheLengthLandsInPlace) {
  Bytes buf = from_hex("aabb");
  ferry::Writer writer(buf);
  auto r = ferry::encode(writer, std::vector<std::string>{"fine", "bad\xff"}, ferry::Form::Schema);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Serialization);
  EXPECT_EQ(to_hex(buf), "aabb");
  EXPECT_EQ(writer.size(), 0u);
  ASSERT_TRUE(ferry::encode(writer, Point{1, -2}, ferry::Form::Schema).ok());
  ASSERT_TRUE(ferry::encode(writer, std::uint8_t{9}, ferry::Form::Schema).ok());
  EXPECT_EQ(to_hex(buf), "aabb" "150c000000852223ff01000000feffffff" "1505000000" + fingerprint_hex<std::uint8_t>() + "09");
}

TEST(CodecSchemaForm, ItIsSmallerThanTheTaggedFormForStructs) {
  const shapes::Shape shape{"tri", {{0, 0}, {4, 0}, {0, 3}}, Point{1, 1}, {}};
  EXPECT_LT(ferry::encoded_size(shape, ferry::Form::Schema), ferry::encoded_size(shape));
  EXPECT_EQ(ferry::encoded_size(Point{}, ferry::Form::Schema), 17u);  // 1 + 4 + 4 (fingerprint) + 8
  EXPECT_EQ(ferry::encoded_size(std::int64_t{}, ferry::Form::Schema), 17u);
  // Like the tagged size, it skips validation.
  EXPECT_EQ(ferry::encoded_size(std::string("\xff"), ferry::Form::Schema), 14u);
}

// --- Randomized round trips --------------------------------------------------------------

TEST(CodecSchemaRandom, RandomValuesRoundTripThroughTheSchemaForm) {
  Prng rng{0x5c4e3au};
  const int iterations = 500 * stress_scale();
  for (int i = 0; i < iterations; ++i) {
    const Sample s = random_sample(rng);
    const Bytes tagged = encoded(s);
    auto bytes = ferry::encode(s, ferry::Form::Schema);
    ASSERT_TRUE(bytes.ok()) << "iteration " << i << ": " << bytes.error().describe();
    ASSERT_EQ(ferry::encoded_size(s, ferry::Form::Schema), bytes->size()) << "iteration " << i;
    ASSERT_LT(bytes->size(), tagged.size()) << "iteration " << i;
    auto back = ferry::decode<Sample>(*bytes);
    ASSERT_TRUE(back.ok()) << "iteration " << i << ": " << back.error().describe();
    ASSERT_EQ(to_hex(encoded(*back)), to_hex(tagged)) << "iteration " << i;  // bytes: NaN != NaN
    ASSERT_EQ(to_hex(ferry::encode(*back, ferry::Form::Schema).value()), to_hex(*bytes)) << "iteration " << i;

    // Corrupt a few bare bytes (after the fingerprint): decoding must fail
    // cleanly or yield some value.
    Bytes mutated = *bytes;
    for (std::size_t k = 1 + rng.below(3); k > 0; --k) {
      mutated[9 + rng.below(mutated.size() - 9)] = rng.bits<std::byte>();
    }
    if (auto m = ferry::decode<Sample>(mutated); m.ok()) {
      EXPECT_TRUE(ferry::encode(*m, ferry::Form::Schema).ok()) << "iteration " << i;
    } else {
      EXPECT_EQ(m.error().kind, ErrorKind::Deserialization) << "iteration " << i << ": " << m.error().describe();
    }
    const std::span<const std::byte> cut(bytes->data(), rng.below(bytes->size()));
    EXPECT_FALSE(ferry::decode<Sample>(cut).ok());
  }
}
