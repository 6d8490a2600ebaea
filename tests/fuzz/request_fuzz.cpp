// libFuzzer target for a worker's request decoding: the input becomes a run
// of request records that a hostile or broken JavaScript peer writes into a
// real pool worker's request ring (external mode, web/PROTOCOL.md) — calls,
// cancels, streams and unknown tags with arbitrary payloads — followed by
// one well-formed call. The worker must answer that call: whatever came
// before it may be answered with an error or dropped, but never crash the
// worker, read outside a record (ASan) or hang it (5 s, then abort).
//
// Part records (a record too large for one ring record, in pieces) come
// well formed from the peer: a call sent in parts of a fuzzed size. Every
// record's payload also goes through a PartReader of its own, as if it were
// a part: it must refuse what does not add up without reading outside it.
//
// Block records (shared_blocks, as the wasm bridge sets it) come well formed
// too: a fuzzed record of a fuzzed tag, in a real block the worker frees.
// Every record's payload also goes through parse_block, which must refuse
// what is no block record without reading outside it.
//
// Stream records name their rings by address; a native peer's addresses are
// trusted (in wasm they are checked against the module's memory), so the
// fuzzer zeroes them here and the worker must refuse the record.
#include "workers/pool.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

namespace request_fuzz {
int fz_add(int a, int b) { return a + b; }
FERRY_EXPORT(fz_add);
ferry::Task<int> fz_later(int v) { co_return v + 1; }
FERRY_EXPORT(fz_later);
ferry::Task<void> fz_echo(ferry::Receiver<int> in, ferry::Sender<int> out) {
  while (auto v = co_await in.recv()) {
    if (!co_await out.send(*v)) co_return;
  }
}
FERRY_EXPORT_STREAM(fz_echo);
}  // namespace request_fuzz

namespace {

constexpr std::uint64_t kSentinel = 0xF0F0F0F0F0ull;

struct Peer {
  std::unique_ptr<ferry::WorkerPool> pool;
  std::optional<ferry::RingProducer> tx;
  std::optional<ferry::RingConsumer> rx;
  Peer() {
    pool = std::make_unique<ferry::WorkerPool>(ferry::WorkerPoolOptions{.workers = 1, .ring_capacity = 1u << 16, .external = true, .shared_blocks = true});
    auto rings = pool->worker_rings(0);
    tx.emplace(std::move(ferry::RingProducer::attach(rings.request).value()));
    rx.emplace(std::move(ferry::RingConsumer::attach(rings.response).value()));
  }
};

Peer& peer() {
  static Peer* p = new Peer;  // lives for the whole run
  return *p;
}

void put(std::vector<std::byte>& out, const void* p, std::size_t n) {
  const auto* b = static_cast<const std::byte*>(p);
  out.insert(out.end(), b, b + n);
}

// Writes a record, publishing and waiting for room if the ring is full.
void write(Peer& p, std::uint32_t tag, const std::vector<std::byte>& payload) {
  if (payload.size() > p.tx->max_payload()) return;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);;) {
    auto wrote = p.tx->try_write(tag, payload);
    if (!wrote) {
      std::fprintf(stderr, "request_fuzz: the request ring failed: %s\n", wrote.error().describe().c_str());
      std::abort();
    }
    if (*wrote) return;
    p.tx->publish();
    // Drain answers meanwhile: a worker blocked on a full response ring
    // would never make room in the request ring.
    while (auto rec = p.rx->try_read()) {
      if (!*rec) break;
    }
    p.rx->release();
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "request_fuzz: the worker stopped reading its request ring\n");
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Peer& p = peer();
  ferry::protocol::PartReader loose_parts{ferry::protocol::kRequestPartTag};
  // Records: [u8 kind][u16 length][length bytes], as many as the input holds.
  std::size_t at = 0;
  while (at + 3 <= size) {
    const std::uint8_t kind = data[at];
    std::uint16_t len;
    std::memcpy(&len, data + at + 1, 2);
    at += 3;
    len = static_cast<std::uint16_t>(std::min<std::size_t>(len, size - at));
    std::vector<std::byte> payload;
    put(payload, data + at, len);
    at += len;
    (void)loose_parts.add(payload);  // refused or taken, inside its bounds (ASan)
    (void)ferry::protocol::parse_block(payload, ferry::protocol::kRequestPartTag, ferry::protocol::kRequestBlockTag);
    std::uint32_t tag = ferry::protocol::kCallTag;
    switch (kind % 7) {
      case 0: tag = 7 + kind; break;  // an unknown tag
      case 1: tag = ferry::protocol::kCallTag; break;
      case 2: tag = ferry::protocol::kCancelTag; break;
      case 3:
        tag = ferry::protocol::kStreamTag;
        if (payload.size() >= 24) std::memset(payload.data() + 8, 0, 16);  // no ring at address 0
        break;
      case 5: {  // the same call sent in parts of a fuzzed size
        std::vector<std::byte> call;
        ferry::protocol::begin_call(call, kind, "fz_add");
        call.insert(call.end(), payload.begin(), payload.end());
        std::uint64_t id;
        std::memcpy(&id, call.data(), 8);
        if (id == kSentinel) std::memset(call.data(), 0, 8);
        ferry::protocol::split_parts(ferry::protocol::kCallTag, call, 96 + 4 * (kind % 64),
                                     [&](std::vector<std::byte> part) { write(p, ferry::protocol::kRequestPartTag, part); });
        continue;
      }
      case 6: {  // the fuzzed record (a call, cancel, stream or unknown tag) in a block
        const std::uint32_t inner[] = {ferry::protocol::kCallTag, ferry::protocol::kCancelTag, ferry::protocol::kStreamTag, 9};
        const std::uint32_t inner_tag = inner[(kind / 7) % 4];
        if (inner_tag == ferry::protocol::kStreamTag && payload.size() >= 24) std::memset(payload.data() + 8, 0, 16);
        if (payload.size() >= 8) {
          std::uint64_t id;
          std::memcpy(&id, payload.data(), 8);
          if (id == kSentinel) std::memset(payload.data(), 0, 8);
        }
        auto* block = static_cast<std::byte*>(ferry::shared_alloc(std::max<std::size_t>(payload.size(), 1)).value());  // the worker frees it
        if (!payload.empty()) std::memcpy(block, payload.data(), payload.size());
        write(p, ferry::protocol::kRequestBlockTag,
              ferry::protocol::block_record(inner_tag, payload.size(), reinterpret_cast<std::uintptr_t>(block)));
        continue;
      }
      default: {  // a well-formed call to a real task with the fuzzed bytes as arguments
        std::vector<std::byte> call;
        ferry::protocol::begin_call(call, kind, (kind & 8) ? "fz_later" : "fz_add");
        call.insert(call.end(), payload.begin(), payload.end());
        payload = std::move(call);
        break;
      }
    }
    if (payload.size() >= 8) {  // the sentinel's id stays the sentinel's
      std::uint64_t id;
      std::memcpy(&id, payload.data(), 8);
      if (id == kSentinel) std::memset(payload.data(), 0, 8);
    }
    write(p, tag, payload);
  }
  // The well-formed call every input ends with.
  std::vector<std::byte> sentinel;
  ferry::protocol::begin_call(sentinel, kSentinel, "fz_add");
  auto args = ferry::encode(std::tuple<int, int>{20, 22}).value();
  sentinel.insert(sentinel.end(), args.begin(), args.end());
  write(p, ferry::protocol::kCallTag, sentinel);
  p.tx->publish();
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);;) {
    auto rec = p.rx->try_read();
    if (!rec) {
      std::fprintf(stderr, "request_fuzz: the response ring failed: %s\n", rec.error().describe().c_str());
      std::abort();
    }
    if (*rec) {
      const auto& r = **rec;
      if (r.tag == ferry::protocol::kCrashTag) {
        std::fprintf(stderr, "request_fuzz: the worker crashed\n");
        std::abort();
      }
      std::uint64_t id = 0;
      if (r.payload.size() >= 8) std::memcpy(&id, r.payload.data(), 8);
      if (r.tag == ferry::protocol::kResultTag && id == kSentinel) {
        auto v = ferry::decode<int>(r.payload.subspan(8));
        if (!v || *v != 42) std::abort();
        p.rx->release();
        return 0;
      }
      continue;
    }
    p.rx->release();
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "request_fuzz: no answer to the well-formed call within 5 s\n");
      std::abort();
    }
  }
}
