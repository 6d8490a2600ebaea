// libFuzzer target for the wire codec's decoders (core/codec.hpp).
//
// Each input is walked generically (every byte the walker accepts must
// re-encode to the same bytes and print as text) and decoded as a handful of
// C++ types, in either form (whatever decodes must re-encode in both the
// tagged and the schema form and decode back: byte for byte where the
// encoding is canonical, else to an equal value). Any violation traps.
//
// Without a corpus directory on the command line, the golden vectors
// (tests/golden/codec.txt and schema_form.txt) are written to a fresh
// temporary directory and passed to libFuzzer as the seed corpus.
#include "core/codec.hpp"

#include "tests/codec_shapes.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fz = shapes;

namespace {

using Bytes = std::vector<std::byte>;

#define FUZZ_CHECK(cond)                                                     \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "codec_fuzz: check failed: %s (line %d)\n", #cond, __LINE__); \
      __builtin_trap();                                                      \
    }                                                                        \
  } while (0)

// Writes back exactly what the walker saw.
struct ReEncoder : ferry::ValueVisitor {
  Bytes out;
  void raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    out.insert(out.end(), b, b + n);
  }
  void u8(std::uint8_t v) { raw(&v, 1); }
  void u16(std::uint16_t v) { raw(&v, 2); }
  void u32(std::uint32_t v) { raw(&v, 4); }
  void tag(ferry::WireTag t) { u8(static_cast<std::uint8_t>(t)); }
  void text(std::string_view s) { u32(static_cast<std::uint32_t>(s.size())); raw(s.data(), s.size()); }
  void name(std::string_view s) { u8(static_cast<std::uint8_t>(s.size())); raw(s.data(), s.size()); }

  void unit() { tag(ferry::WireTag::Unit); }
  void boolean(bool b) { tag(ferry::WireTag::Bool); u8(b ? 1 : 0); }
  void number(ferry::WireTag t, std::span<const std::byte> le) { tag(t); raw(le.data(), le.size()); }
  void string(std::string_view s) { tag(ferry::WireTag::String); text(s); }
  void bytes(std::span<const std::byte> b) { tag(ferry::WireTag::Bytes); u32(static_cast<std::uint32_t>(b.size())); raw(b.data(), b.size()); }
  void packed(ferry::WireTag elem, std::uint32_t count, std::span<const std::byte> le) {
    tag(ferry::WireTag::Packed);
    tag(elem);
    u32(count);
    raw(le.data(), le.size());
  }
  void array_begin(std::uint32_t count) { tag(ferry::WireTag::Array); u32(count); }
  void optional_begin(bool present) { tag(ferry::WireTag::Optional); u8(present ? 1 : 0); }
  void variant_begin(std::uint32_t index) { tag(ferry::WireTag::Variant); u32(index); }
  void map_begin(std::uint32_t count) { tag(ferry::WireTag::Map); u32(count); }
  void struct_begin(std::string_view n, std::uint16_t count) { tag(ferry::WireTag::Struct); name(n); u16(count); }
  void field(std::uint16_t, std::string_view n) { name(n); }
  void error(ferry::ErrorKind kind, std::string_view message, std::string_view origin, std::string_view expected,
             std::string_view actual) {
    tag(ferry::WireTag::Error);
    u8(static_cast<std::uint8_t>(kind));
    text(message);
    text(origin);
    if (kind == ferry::ErrorKind::TypeMismatch) {
      text(expected);
      text(actual);
    }
  }
  void schema_form(std::span<const std::byte> fingerprint_and_bare) {
    tag(ferry::WireTag::Schema);
    u32(static_cast<std::uint32_t>(fingerprint_and_bare.size()));
    raw(fingerprint_and_bare.data(), fingerprint_and_bare.size());
  }
};

bool is_decode_error(ferry::ErrorKind k) {
  return k == ferry::ErrorKind::Deserialization || k == ferry::ErrorKind::TypeMismatch;
}

void check_generic(std::span<const std::byte> data) {
  ferry::Reader reader(data);
  ReEncoder re;
  auto walked = ferry::visit_value(reader, re);
  if (!walked) {
    FUZZ_CHECK(walked.error().kind == ferry::ErrorKind::Deserialization);
    FUZZ_CHECK(!ferry::describe_value(data).ok());
    return;
  }
  const auto value = data.first(reader.position());
  FUZZ_CHECK(re.out.size() == value.size() && std::equal(re.out.begin(), re.out.end(), value.begin()));
  FUZZ_CHECK(ferry::describe_value(value).ok());
  FUZZ_CHECK(ferry::describe_value(data).ok() == reader.at_end());
}

bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// kCanonical: every accepted input has exactly one encoding in each form (no
// maps inside): re-encoding in the input's form gives the input back, and in
// the other form reaches a fixed point at once. Otherwise (map order) the
// value must survive encode and decode unchanged.
template <class T, bool kCanonical = true>
void check_type(std::span<const std::byte> data) {
  ferry::Reader reader(data);
  auto decoded = ferry::decode<T>(reader);
  if (!decoded) {
    FUZZ_CHECK(is_decode_error(decoded.error().kind));
    return;
  }
  const auto value = data.first(reader.position());
  ferry::Reader walk(value);  // the typed decoder is never more lenient than the walker
  FUZZ_CHECK(ferry::skip_value(walk).ok() && walk.at_end());

  const auto input_form = value[0] == std::byte{0x15} ? ferry::Form::Schema : ferry::Form::Tagged;
  for (const ferry::Form form : {ferry::Form::Tagged, ferry::Form::Schema}) {
    auto again = ferry::encode(*decoded, form);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(ferry::encoded_size(*decoded, form) == again->size());
    auto twice = ferry::decode<T>(*again);
    FUZZ_CHECK(twice.ok());
    if constexpr (kCanonical) {
      if (form == input_form) FUZZ_CHECK(same_bytes(*again, value));
      auto thrice = ferry::encode(*twice, form);
      FUZZ_CHECK(thrice.ok() && same_bytes(*thrice, *again));
    } else {
      FUZZ_CHECK(*twice == *decoded);
    }
  }
}

std::string seed_dir;

// One seed per line of a golden file: the bytes of its column `hex_column`
// (columns split on `separator`).
void write_seeds(const std::filesystem::path& golden, std::size_t hex_column, std::string_view separator,
                 const std::filesystem::path& dir) {
  std::ifstream in(golden);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::size_t a = 0;
    for (std::size_t i = 0; i < hex_column && a != std::string::npos; ++i) {
      a = line.find(separator, a);
      if (a != std::string::npos) a += separator.size();
    }
    const auto b = a == std::string::npos ? a : line.find(separator, a);
    if (b == std::string::npos) continue;
    std::string hex;
    for (char c : line.substr(a, b - a)) {
      if (c != ' ') hex += c;
    }
    std::ofstream out(dir / (golden.stem().string() + "_" + std::to_string(n++)), std::ios::binary);
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.put(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (int i = 1; i < *argc; ++i) {
    if ((*argv)[i][0] != '-') return 0;  // the caller named a corpus
  }
  const std::filesystem::path golden = std::filesystem::path(__FILE__).parent_path().parent_path() / "golden";
  if (!std::filesystem::exists(golden / "codec.txt")) return 0;
  char templ[] = "/tmp/ferry-codec-fuzz-XXXXXX";
  if (mkdtemp(templ) == nullptr) return 0;
  seed_dir = templ;
  write_seeds(golden / "codec.txt", 1, "|", seed_dir);  // name | hex | text
  write_seeds(golden / "schema_form.txt", 2, " | ", seed_dir);  // name | schema | hex | text
  std::atexit([] { std::error_code ec; std::filesystem::remove_all(seed_dir, ec); });
  static std::vector<char*> args;
  args.assign(*argv, *argv + *argc);
  args.push_back(seed_dir.data());
  args.push_back(nullptr);
  *argc += 1;
  *argv = args.data();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = std::as_bytes(std::span(data, size));
  check_generic(input);
  check_type<std::int32_t>(input);
  check_type<double>(input);
  check_type<bool>(input);
  check_type<std::string>(input);
  check_type<std::string_view>(input);
  check_type<Bytes>(input);
  check_type<std::span<const std::byte>>(input);
  check_type<std::vector<double>>(input);
  check_type<std::vector<std::string>>(input);
  check_type<std::array<std::int16_t, 3>>(input);
  check_type<std::tuple<std::int32_t, std::string, bool>>(input);
  check_type<std::optional<fz::Point>>(input);
  check_type<std::variant<std::monostate, std::int64_t, std::string, fz::Point>>(input);
  check_type<std::vector<std::optional<std::vector<float>>>>(input);
  check_type<std::vector<fz::Rect>>(input);
  check_type<fz::Tree>(input);
  check_type<ferry::Result<std::string>>(input);
  check_type<ferry::Result<void>>(input);
  check_type<std::map<std::string, std::int32_t>, false>(input);
  check_type<std::unordered_map<std::int32_t, std::vector<std::string>>, false>(input);
  check_type<fz::Shape, false>(input);
  return 0;
}
