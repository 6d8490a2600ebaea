// libFuzzer target for the stream receiver over packed value records
// (stream/STREAMS.md, "Records"): the input becomes tag-0 records whose
// payloads are whatever a broken or hostile sender wrote, some of them grown
// in place (try_extend) as a batching sender grows them. A Receiver of
// several types takes values one per call until Closed: each call must give
// a value or an error, consume at least one byte or one record (so the loop
// ends), and never read outside the ring (ASan guards the allocation).
//
// Input: repeated [len u8][extend u8][len bytes]: a record of `len` bytes,
// then, when extend's low bit is set, grown by the next chunk instead of
// starting a new record for it. Bits 1-2 of extend give the tag of the next
// record: 0 a value record, 1 a first part (its first 8 bytes the announced
// length), 2 a next part (stream/STREAMS.md, "Values in parts"), 3 a tag no
// stream has.
#include "core/ring.hpp"
#include "stream/stream.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Point {
  std::int32_t x = 0;
  std::string_view label;
};
FERRY_STRUCT(Point, x, label);

constexpr std::uint32_t kCapacity = 4096;

#define FUZZ_CHECK(cond)                                                               \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "stream_fuzz: check failed: %s (line %d)\n", #cond, __LINE__); \
      __builtin_trap();                                                                \
    }                                                                                  \
  } while (0)

// Writes the input's records into a fresh ring and closes it; returns the
// payload bytes and records written.
std::pair<std::size_t, std::size_t> fill(void* ring, const std::uint8_t* data, std::size_t size) {
  auto tx = ferry::RingProducer::attach(ring);
  FUZZ_CHECK(tx.ok());
  std::size_t bytes = 0, records = 0;
  bool grow_next = false;
  std::uint32_t tag = ferry::stream_tag::kValue;
  for (std::size_t at = 0; at + 2 <= size;) {
    std::size_t len = std::min<std::size_t>(data[at], size - at - 2);
    const std::uint8_t extend = data[at + 1];
    const auto* payload = reinterpret_cast<const std::byte*>(data + at + 2);
    at += 2 + len;
    if (grow_next) {
      if (std::byte* to = tx->try_extend(len)) {
        std::memcpy(to, payload, len);
        tx->commit_extend(len);
        bytes += len;
        grow_next = (extend & 1) != 0;
        tag = (extend >> 1) & 3u;
        continue;
      }
    }
    auto wrote = tx->try_write(tag, {payload, len});
    if (!wrote || !*wrote) break;  // the ring is full: read what is there
    bytes += len;
    ++records;
    grow_next = (extend & 1) != 0;
    tag = (extend >> 1) & 3u;
  }
  tx->close();
  return {bytes, records};
}

template <class T>
void drain(const std::uint8_t* data, std::size_t size) {
  void* mem = std::aligned_alloc(64, ferry::ring_bytes(kCapacity));
  FUZZ_CHECK(ferry::ring_init(mem, kCapacity).ok());
  const auto [bytes, records] = fill(mem, data, size);
  {
    auto rx = ferry::Receiver<T>::over(mem);
    FUZZ_CHECK(rx.ok());
    std::size_t calls = 0;
    for (;;) {
      auto v = rx->try_recv();
      if (!v) {
        if (v.error().kind == ferry::ErrorKind::Closed) break;
        FUZZ_CHECK(v.error().kind == ferry::ErrorKind::Deserialization ||
                   v.error().kind == ferry::ErrorKind::TypeMismatch);
      } else {
        FUZZ_CHECK(v->has_value());  // the ring is closed: never "nothing yet"
      }
      // Every call consumes a byte or an (empty) record.
      FUZZ_CHECK(++calls <= bytes + records);
    }
    FUZZ_CHECK(rx->stats().bytes_received <= bytes);
  }
  std::free(mem);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  drain<std::int32_t>(data, size);
  drain<std::string>(data, size);
  drain<std::vector<std::optional<std::uint64_t>>>(data, size);
  drain<Point>(data, size);
  return 0;
}
