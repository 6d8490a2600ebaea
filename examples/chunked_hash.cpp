// Compute offload with ferry: hash a large buffer in chunks on a worker pool.
//
// The main program runs as a coroutine on its own Executor. It opens one
// stream per worker to the `hash_chunks` task, feeds the chunks through
// them (each send suspends while that worker's ring is full: backpressure,
// not buffering), collects (index, hash) pairs, and asks the pool to combine
// them with one plain call. It checks the answer against a single-threaded
// run and prints both times.
#include "ferry.hpp"
#include "workers/executor.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

namespace {

std::uint64_t fnv1a(std::span<const std::byte> data, std::uint64_t h = 1469598103934665603ull) {
  for (std::byte b : data) h = (h ^ std::to_integer<std::uint64_t>(b)) * 1099511628211ull;
  return h;
}

struct ChunkHash {
  std::uint32_t index = 0;
  std::uint64_t hash = 0;
};
FERRY_STRUCT(ChunkHash, index, hash)

// Worker side: a stream of chunks in, a stream of their hashes out. The
// chunk arrives as a zero-copy view into the ring, valid until the next recv.
ferry::Task<void> hash_chunks(ferry::Receiver<std::span<const std::byte>> in, ferry::Sender<ChunkHash> out) {
  while (auto chunk = co_await in.recv()) {
    std::uint32_t at;
    std::memcpy(&at, chunk->data(), 4);  // each chunk starts with its index
    const ChunkHash h{at, fnv1a(chunk->subspan(4))};
    if (!co_await out.send(h)) co_return;
  }
}
FERRY_EXPORT_STREAM(hash_chunks);

std::uint64_t combine(std::vector<std::uint64_t> hashes) {
  std::uint64_t h = 0;
  for (auto x : hashes) h = h * 31 + x;
  return h;
}
FERRY_EXPORT(combine);

using Chunks = std::vector<std::vector<std::byte>>;

ferry::Task<std::uint64_t> offload(ferry::WorkerPool& pool, const Chunks& chunks) {
  auto& self = dynamic_cast<ferry::Executor&>(*ferry::Scheduler::current());
  std::vector<ferry::Stream<std::span<const std::byte>, ChunkHash>> streams;
  for (unsigned w = 0; w < pool.size(); ++w) {
    auto s = pool.stream_with<std::span<const std::byte>, ChunkHash>({.capacity = 256 * 1024, .affinity = w},
                                                                   "hash_chunks");
    if (!s) throw s.error();
    streams.push_back(std::move(*s));
  }
  // One feeder per worker: chunk i goes to worker i % n.
  for (unsigned w = 0; w < streams.size(); ++w) {
    self.spawn([](ferry::Sender<std::span<const std::byte>>& tx, const Chunks& all, unsigned first,
                  unsigned step) -> ferry::Task<void> {
      for (std::size_t i = first; i < all.size(); i += step) {
        if (!co_await tx.send(std::span<const std::byte>(all[i]))) co_return;
      }
      tx.close();
    }(streams[w].tx, chunks, w, static_cast<unsigned>(streams.size())));
  }
  std::vector<std::uint64_t> hashes(chunks.size());
  for (auto& s : streams) {
    while (auto h = co_await s.rx.recv()) hashes[h->index] = h->hash;
  }
  auto combined = co_await pool.call<std::uint64_t>("combine", hashes);
  if (!combined) throw combined.error();
  co_return *combined;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t chunk_bytes = 64 * 1024;
  const std::size_t total = (argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 64) << 20;  // MiB
  Chunks chunks;
  for (std::size_t at = 0, i = 0; at < total; at += chunk_bytes, ++i) {
    std::vector<std::byte> c(4 + chunk_bytes);
    const auto index = static_cast<std::uint32_t>(i);
    std::memcpy(c.data(), &index, 4);
    for (std::size_t j = 4; j < c.size(); ++j) c[j] = static_cast<std::byte>((at + j) * 2654435761u >> 24);
    chunks.push_back(std::move(c));
  }

  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  std::vector<std::uint64_t> local;
  for (auto& c : chunks) local.push_back(fnv1a(std::span<const std::byte>(c).subspan(4)));
  const std::uint64_t expected = combine(local);
  auto t1 = Clock::now();

  ferry::WorkerPool pool;  // one worker per core
  ferry::Executor main_executor;
  std::thread runner([&] { main_executor.run(); });
  std::promise<ferry::Result<std::uint64_t>> result;
  main_executor.spawn(offload(pool, chunks), [&](ferry::Result<std::uint64_t> r) { result.set_value(std::move(r)); });
  auto got = result.get_future().get();
  auto t2 = Clock::now();
  main_executor.stop();
  runner.join();

  if (!got) {
    std::fprintf(stderr, "offload failed: %s\n", got.error().describe().c_str());
    return 1;
  }
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::printf("chunked hash of %zu MiB in %zu chunks: %016llx (%s)\n", total >> 20, chunks.size(),
              static_cast<unsigned long long>(*got), *got == expected ? "matches" : "MISMATCH");
  std::printf("single thread %.1f ms, ferry pool of %u workers %.1f ms (%u cores)\n", ms(t1 - t0), pool.size(),
              ms(t2 - t1), std::thread::hardware_concurrency());
  return *got == expected ? 0 : 1;
}
