// core_codec_test, writer: the Writer over fixed spans, the text form, and
// randomized round trips with mutations.
// Part of tests/core_codec_test.cpp, the one translation unit of that test binary:
// it includes its parts after the helpers they share, so the cases are grouped
// by concern without another compile of GoogleTest and ferry per part.
#pragma once

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
