// ferry channel benchmark, common: values of a known sequence and their check, ring and queue sizes, the Asio threads and channels: what every case uses.
// Part of bench/channel_bench.cpp, the one translation unit that includes it
// (in namespace chan_bench, named so that its coroutine frames have linkage;
// after the includes, the `fb` alias and the using-declarations).
#pragma once

namespace chan_bench {

constexpr std::uint32_t kTag = 7;
constexpr std::uint64_t kBatch = 64;          // ring publish / release, CQ bulk dequeue
// send_batch / recv_batch size: 256 values, fewer for big ones so that a
// batch stays well inside the ring (and the cache).
template <std::size_t N>
constexpr std::size_t kStreamBatch = std::min<std::size_t>(256, 64 * 1024 / N);
constexpr unsigned kCallWindow = 4;           // pool calls in flight in the bulk case
constexpr std::size_t kSketch = 1000;         // quantiles kept per latency run

const std::string kFerry = "ferry";
const std::string kBoost = "boost::spsc";
const std::string kRwq = "moodycamel::RWQ";
const std::string kCq = "moodycamel::CQ";
const std::string kAsio = "asio channel";
const std::string kMemcpy = "memcpy (1 thread)";
const std::string kAlone = "consumer alone";

#if defined(__EMSCRIPTEN__)
constexpr bool kNative = false;
#else
constexpr bool kNative = true;
#endif

// --- Values, the known sequence and its check -----------------------------------

using fb::fold;
using fb::kFnvBasis;

template <std::size_t N>
struct Msg {
  static_assert(N % 8 == 0);
  std::uint64_t w[N / 8];
};

template <std::size_t N>
inline Msg<N> make(std::uint64_t i) {
  const std::uint64_t v = (i + 1) * 0x9E3779B97F4A7C15ull;
  Msg<N> m;
  for (std::size_t k = 0; k < N / 8; ++k) m.w[k] = v + k * 0xD6E8FEB86659FD93ull;
  return m;
}

// Reads every byte: a wrapping sum and an xor of the words, four lanes each.
inline std::uint64_t digest_bytes(const std::byte* p, std::size_t len) {
  std::uint64_t s[4] = {0, 0, 0, 0}, x[4] = {0, 0, 0, 0};
  std::size_t k = 0;
  for (; k + 32 <= len; k += 32) {
    std::uint64_t w[4];
    std::memcpy(w, p + k, sizeof w);
    for (int j = 0; j < 4; ++j) {
      s[j] += w[j];
      x[j] ^= w[j];
    }
  }
  for (; k + 8 <= len; k += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + k, 8);
    s[0] += w;
    x[0] ^= w;
  }
  return (s[0] + s[1] + s[2] + s[3]) ^ std::rotl(x[0] ^ x[1] ^ x[2] ^ x[3], 32);
}

template <std::size_t N>
inline std::uint64_t digest(const Msg<N>& m) {
  return digest_bytes(reinterpret_cast<const std::byte*>(m.w), N);
}

template <std::size_t N>
std::uint64_t expected_checksum(std::uint64_t n) {
  return fb::expected_checksum<Msg<N>>(n, [](std::uint64_t i) { return digest(make<N>(i)); });
}


template <std::size_t N>
void check_seq(const std::string& what, const Seen& s, std::uint64_t n) {
  fb::check_seen(what, s, n, expected_checksum<N>(n));
}

// Every contender holds as many messages as the ferry ring of the case does:
// the ring's capacity in bytes is the one knob, the others get its count.
template <std::size_t N>
constexpr std::uint32_t ring_capacity_for() {
  return N <= 8 ? 64 * 1024 : N <= 64 ? 256 * 1024 : 1024 * 1024;
}
template <std::size_t N>
constexpr std::size_t slots_for() {
  return ring_capacity_for<N>() / ferry::ring_record_bytes(N);
}

inline double thread_cpu_seconds() {
#if defined(__EMSCRIPTEN__)
  return NAN;  // no per-thread CPU clock in Emscripten's libc
#else
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return NAN;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
#endif
}

// Quantiles of one latency run: kSketch evenly spaced ranks of its samples, so
// repetitions can be pooled (each weighs the same) without keeping millions
// of samples.
std::vector<double> sketch(std::vector<float>& ns) {
  std::vector<double> q;
  if (ns.empty()) return q;
  std::sort(ns.begin(), ns.end());
  q.reserve(kSketch);
  for (std::size_t k = 0; k < kSketch; ++k) {
    q.push_back(ns[std::min(ns.size() - 1, (k * ns.size() + ns.size() / 2) / kSketch)]);
  }
  return q;
}

// --- Asio: io_contexts on their own threads -------------------------------------

struct AsioThread {
  asio::io_context ctx;
  asio::executor_work_guard<asio::io_context::executor_type> guard{ctx.get_executor()};
  std::thread thread{[this] { ctx.run(); }};
  ~AsioThread() {
    guard.reset();
    ctx.stop();
    thread.join();
  }
};

// asio::experimental::channel is not thread-safe; concurrent_channel is its
// thread-safe twin (a mutex inside), the one that crosses threads.
template <class T>
using AsioChannel = asio::experimental::concurrent_channel<void(asio::error_code, T)>;

// Sends with try_send, and awaits async_send only when the channel is full.
template <class T>
asio::awaitable<void> asio_send(AsioChannel<T>& ch, T&& v) {
  if (!ch.try_send(asio::error_code{}, std::move(v))) {
    co_await ch.async_send(asio::error_code{}, std::move(v), asio::use_awaitable);
  }
}

// Receives with try_receive, and awaits async_receive only when it is empty.
template <class T, class Fn>
asio::awaitable<void> asio_recv(AsioChannel<T>& ch, Fn&& fn) {
  if (!ch.try_receive([&](asio::error_code, T v) { fn(v); })) {
    T v = co_await ch.async_receive(asio::use_awaitable);
    fn(v);
  }
}

struct AsioPair {
  AsioThread a, b;  // a: producer / ping side, b: consumer / echo side
};

}  // namespace chan_bench
