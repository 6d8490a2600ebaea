// ferry channel benchmark: ferry's ring, its coroutine streams and its pool
// calls against the queues and channels C++ programs use today —
// boost::lockfree::spsc_queue, moodycamel::ReaderWriterQueue,
// moodycamel::ConcurrentQueue, Asio's experimental concurrent_channel — and
// memcpy, in one run. The same source builds natively and with Emscripten
// (run the .js under Node).
//
//   channel_bench [--quick] [--json FILE] [--reps N] [--target-ms MS] [--filter TEXT]
//
// Tables:
//   messages     messages/s for 8 B, 64 B and 4 KiB values, producer thread ->
//                consumer thread; the consumer reads every byte.
//   bulk         MB/s for 64 KiB and 1 MiB buffers into a consumer that
//                checksums each one where it lies (where the API allows).
//   latency      8-byte round trips, each timed on its own: p50 and p99.
//   backpressure 4 KiB values to a consumer 10x slower than the producer:
//                delivered rate (should equal the consumer's own), peak bytes
//                in flight (should stay at the queue's capacity), and the
//                producer's CPU time while it waits.
//
// Each queue is used the way its documentation recommends for speed (its bulk
// or in-place calls where it has them); the notes under each table say how.
// Every run is checked — message counts, checksums of the known sequence,
// echoes — and a mismatch ends the program with status 1. --quick runs tiny
// sizes for the test suite: it checks that every case runs and verifies, not
// speed.
#include "core/ring.hpp"
#include "stream/stream.hpp"
#include "workers/executor.hpp"
#include "workers/pool.hpp"
#include "workers/task.hpp"

#include "bench/bench_harness.hpp"
#include "bench/runtime_harness.hpp"

#include <asio/co_spawn.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/concurrent_channel.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#include <concurrentqueue/concurrentqueue.h>
#include <readerwriterqueue/readerwriterqueue.h>

#include <bit>
#include <ctime>
#include <deque>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace fb = ferry::bench;
using fb::Contender;
using fb::Measured;
using fb::RunResult;
using fb::Spinner;
using fb::fail;
using fb::Seen;
using fb::must;

// Tasks for the pool cases.
namespace chan_bench {
std::uint64_t echo_u64(std::uint64_t v) { return v; }
FERRY_EXPORT(echo_u64);
std::uint64_t sum_bytes(std::span<const std::byte> data);
std::uint64_t checksum_bytes(std::span<const std::byte> data) { return sum_bytes(data); }
FERRY_EXPORT(checksum_bytes);
}  // namespace chan_bench

#include "bench/channel/common.hpp"
#include "bench/channel/messages.hpp"
#include "bench/channel/bulk.hpp"
#include "bench/channel/latency.hpp"
#include "bench/channel/backpressure.hpp"

using namespace chan_bench;

namespace {

// --- Driver --------------------------------------------------------------------

using fb::progress;

void usage(std::FILE* out) {
  std::fprintf(out, "usage: channel_bench [--quick] [--json FILE] [--reps N] [--target-ms MS] [--filter TEXT]\n");
  fb::print_common_options(out);
  std::fprintf(out,
               "  filter labels: \"<case>/<implementation>\", e.g. \"8 B/boost::spsc\", \"64 KiB/ferry pool call\",\n"
               "               \"backpressure/ferry stream\"\n");
}

double mb_per_s_of(std::size_t bytes, std::uint64_t n, double s) {
  return static_cast<double>(n) * static_cast<double>(bytes) / s / 1e6;
}

std::string fmt(const char* f, double v) {
  char buf[96];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

namespace chan_bench {
std::uint64_t sum_bytes(std::span<const std::byte> data) { return digest_bytes(data.data(), data.size()); }
}  // namespace chan_bench

namespace {

// One table's rows for a case measured once: a row per ferry variant, each
// against the same baseline results.
struct Variant {
  std::string impl;   // the contender's name in Measured
  std::string shown;  // how the row names it
  std::string seed;   // the seed metric the row is, if any (fb::Row::seed)
};

void add_variant_rows(fb::Table& t, const std::string& label, const std::string& unit, bool higher,
                      const Measured& m, const std::vector<Variant>& variants, const std::string& note) {
  for (const auto& [impl, shown, seed] : variants) {
    auto it = m.stats.find(impl);
    if (it == m.stats.end()) continue;
    fb::Row row{label + " · " + shown + " (" + unit + ")", unit, higher, {}, note, seed};
    row.cells[kFerry] = it->second;
    for (const auto& b : t.baselines) {
      if (auto bt = m.stats.find(b); bt != m.stats.end()) row.cells[b] = bt->second;
    }
    t.rows.push_back(std::move(row));
  }
}

template <std::size_t N>
void message_case(const fb::Options& o, fb::Table& t, fb::Running& a, fb::Running& b, AsioPair& io,
                  const std::string& label, std::uint64_t n0) {
  progress("messages " + label);
  const std::string ring = "ferry ring", s1 = "ferry stream send/recv", sb = "ferry stream send_batch/recv_batch";
  Measured m = fb::measure(o, label,
                           {{ring, [](std::uint64_t n) { return ring_tp<N>(n); }, n0},
                            {s1, [&](std::uint64_t n) { return stream_tp<N>(a, b, n, false); }, n0 / 4},
                            {sb, [&](std::uint64_t n) { return stream_tp<N>(a, b, n, true); }, n0},
                            {kBoost, [](std::uint64_t n) { return boost_tp<N>(n); }, n0},
                            {kRwq, [](std::uint64_t n) { return rwq_tp<N>(n); }, n0},
                            {kCq, [](std::uint64_t n) { return cq_tp<N>(n); }, n0},
                            {kAsio, [&](std::uint64_t n) { return asio_tp<N>(io, n); }, n0 / 4}},
                           fb::mmsg_per_s);
  add_variant_rows(t, label, "Mmsg/s", true, m,
                   {{ring, "ring, publish per 64"},
                    {s1, "stream send/recv"},
                    {sb, "stream send_batch(" + std::to_string(kStreamBatch<N>) + ")"}},
                   "every queue holds " + std::to_string(slots_for<N>()) + " msgs (ring " +
                       std::to_string(ring_capacity_for<N>() >> 10) + " KiB)");
}

template <std::size_t B>
void bulk_case(const fb::Options& o, fb::Table& t, fb::Running& a, fb::Running& b, AsioPair& io,
               const std::string& label, std::size_t source_bytes, std::uint64_t n0) {
  progress("bulk " + label);
  const Source src(B, source_bytes);
  ferry::WorkerPool pool({.workers = 1,
                          .ring_capacity = std::bit_ceil(static_cast<std::uint32_t>(kCallWindow * (B + 256)))});
  const std::string ring = "ferry ring", stream = "ferry stream", call = "ferry pool call";
  auto mbps = +[](std::uint64_t n, double s) { return mb_per_s_of(B, n, s); };
  Measured m = fb::measure(o, label,
                           {{ring, [&](std::uint64_t n) { return ring_bulk(src, n); }, n0},
                            {stream, [&](std::uint64_t n) { return stream_bulk(a, b, src, n); }, n0},
                            {call, [&](std::uint64_t n) { return call_bulk(pool, src, n); }, n0},
                            {kMemcpy, [&](std::uint64_t n) { return memcpy_bulk(src, n); }, n0},
                            {kBoost, [&](std::uint64_t n) { return boost_bulk<B>(src, n); }, n0},
                            {kRwq, [&](std::uint64_t n) { return rwq_bulk<B>(src, n); }, n0},
                            {kCq, [&](std::uint64_t n) { return cq_bulk(src, n); }, n0},
                            {kAsio, [&](std::uint64_t n) { return asio_bulk(io, src, n); }, n0}},
                           mbps);
  add_variant_rows(t, label, "MB/s", true, m,
                   {{ring, "ring (reserve, memcpy in, read in place)"},
                    {stream, "stream send / zero-copy recv"},
                    {call, "pool call, " + std::to_string(kCallWindow) + " in flight"}},
                   std::to_string(bulk_slots(B)) + " blocks in flight (ring " +
                       std::to_string(bulk_ring_bytes(B) >> 20) + " MiB); source " +
                       std::to_string(source_bytes >> 20) + " MiB, cycled");
}

// Messages, bulk buffers and round trips: the cases that share two ferry
// executors and two Asio threads.
void run_throughput_and_latency(const fb::Options& o, fb::Table& msgs, fb::Table& bulk, fb::Table& lat,
                                std::uint64_t small_n0, std::uint64_t big_n0, std::uint64_t rtt_n0) {
  fb::Running a, b;
  AsioPair io;
  message_case<8>(o, msgs, a, b, io, "8 B", small_n0);
  message_case<64>(o, msgs, a, b, io, "64 B", small_n0);
  message_case<4096>(o, msgs, a, b, io, "4 KiB", small_n0 / 10);

  const std::size_t source = o.quick ? (4u << 20) : (64u << 20);
  bulk_case<64 * 1024>(o, bulk, a, b, io, "64 KiB", source, big_n0 / 10);
  bulk_case<1024 * 1024>(o, bulk, a, b, io, "1 MiB", source, big_n0 / 100);

  progress("round-trip latency");
  ferry::WorkerPool pool({.workers = 1});
  const std::string ring = "ferry ring", stream = "ferry stream", call = "ferry pool call";
  Measured m = fb::measure(o, "round trip",
                           {{ring, ring_rtt, rtt_n0 * 10},
                            {stream, [&](std::uint64_t n) { return stream_rtt(a, b, n); }, rtt_n0},
                            {call, [&](std::uint64_t n) { return call_rtt(pool, n); }, rtt_n0 / 10},
                            {kBoost, boost_rtt, rtt_n0 * 10},
                            {kRwq, rwq_rtt, rtt_n0 * 10},
                            {kCq, cq_rtt, rtt_n0 * 10},
                            {kAsio, [&](std::uint64_t n) { return asio_rtt(io, n); }, rtt_n0}},
                           fb::ns_per_op);
  for (const auto& [p, pname] : {std::pair{50.0, "p50"}, std::pair{99.0, "p99"}}) {
    Measured q;
    for (const auto& [impl, pool_ns] : m.batch_ns) {
      q.stats[impl] = fb::single_value(fb::percentile(pool_ns, p), pool_ns.size());
    }
    add_variant_rows(lat, std::string("round trip ") + pname, "ns", false, q,
                     {{ring, "ring (spins)"},
                      {stream, "stream (suspends)"},
                      {call, "pool call get()"}},
                     "");
  }
}

// Backpressure: every contender against a consumer 10x slower than its producer.
void run_backpressure(const fb::Options& o, fb::Table& bp) {
  progress("backpressure");
  const double prod_ns = producer_ns_per_message();
  const double work_ns = std::max(10 * prod_ns, 500.0);
  const auto work =
      std::chrono::duration_cast<fb::Clock::duration>(std::chrono::duration<double, std::nano>(work_ns));
  const std::uint64_t n = o.quick ? 2'000 : static_cast<std::uint64_t>(0.4e9 / work_ns);
  const int reps = o.quick ? 1 : std::min(o.reps, 3);
  fb::Running a, b;
  AsioPair io;
  std::map<std::string, std::vector<BpResult>> runs;
  const std::string stream = "ferry stream", ring = "ferry ring";
  const std::vector<std::pair<std::string, std::function<BpResult()>>> contenders{
      {kAlone, [&] { return bp_alone(work, n); }},
      {stream, [&] { return bp_stream(a, b, work, n); }},
      {ring, [&] { return bp_ring(work, n); }},
      {kBoost, [&] { return bp_boost(work, n); }},
      {kRwq, [&] { return bp_rwq(work, n); }},
      {kCq, [&] { return bp_cq(work, n); }},
      {kAsio, [&] { return bp_asio(io, work, n); }}};
  for (int r = 0; r < reps; ++r) {
    for (const auto& [impl, fn] : contenders) {
      if (fb::selected(o, "backpressure", impl)) runs[impl].push_back(fn());
    }
  }
  Measured rate, peak, cpu;
  for (const auto& [impl, rs] : runs) {
    std::vector<double> r1, p1, c1;
    for (const auto& x : rs) {
      r1.push_back(static_cast<double>(n) / x.seconds / 1e3);
      p1.push_back(static_cast<double>(x.peak_in_flight * kBpBytes) / 1024);
      c1.push_back(100 * x.producer_cpu);
    }
    rate.stats[impl] = fb::make_stat(r1, n);
    if (impl != kAlone) {
      peak.stats[impl] = fb::make_stat(p1, n);
      if (!std::isnan(c1[0])) cpu.stats[impl] = fb::make_stat(c1, n);
    }
  }
  const std::vector<Variant> variants{{stream, "stream (send suspends)"}, {ring, "ring (producer spins)"}};
  add_variant_rows(bp, "delivered", "k msg/s", true, rate,
                   {{stream, "stream (send suspends)", "stream throughput under backpressure"},
                    {ring, "ring (producer spins)"}},
                   "should equal the consumer alone");
  add_variant_rows(bp, "peak in flight", "KiB", false, peak,
                   {{stream, "stream (send suspends)", "stream throughput under backpressure"},
                    {ring, "ring (producer spins)"}},
                   "bounded queues hold " + std::to_string(bp_slots()) + " msgs = " +
                       std::to_string(bp_slots() * kBpBytes >> 10) + " KiB");
  add_variant_rows(bp, "producer CPU", "% of its wall time", false, cpu, variants,
                   kNative ? "while it waits for room" : "no per-thread CPU clock in wasm");
  bp.notes = "producer builds a message in " + fmt("%.0f ns", prod_ns) + "; consumer reads every byte and works " +
             fmt("%.0f ns", work_ns) + " per message; " + std::to_string(n) + " msgs per run, median of " +
             std::to_string(reps) + "; CQ: enqueue (its usual call, never refuses: it allocates, no backpressure); "
             "asio: concurrent_channel, co_await async_send when full";
}

}  // namespace

int main(int argc, char** argv) {
  fb::bench_name() = "channel_bench";
  const fb::Options o = fb::parse_options(argc, argv, usage);
  const fb::Env env = fb::current_env();
  const auto t_start = fb::Clock::now();
  const std::uint64_t small_n0 = o.quick ? 4'000 : 50'000;
  const std::uint64_t big_n0 = o.quick ? 500 : 5'000;
  const std::uint64_t rtt_n0 = o.quick ? 1'000 : 5'000;
  const std::string cores = std::to_string(env.cores) + " cores";

  fb::Table msgs;
  msgs.title = "messages/s, producer thread -> consumer thread (consumer reads every byte)";
  msgs.baselines = {kBoost, kRwq, kCq, kAsio};
  msgs.notes = "ring: try_write, publish per 64, read in place, release per 64; stream: coroutines on two ferry "
               "executors (8 B as u64, larger as byte spans, zero-copy recv); boost: push / consume_all in place; "
               "RWQ: try_enqueue / peek+pop in place; CQ: tokens, try_enqueue / try_dequeue_bulk(64); asio: "
               "concurrent_channel, try_send/try_receive, co_await async_* only when full/empty, coroutines on two "
               "io_context threads; spinning sides pause, then yield";
  fb::Table bulk;
  bulk.title = "bulk buffers to a consumer that checksums each (MB/s)";
  bulk.baselines = {kMemcpy, kBoost, kRwq, kCq, kAsio};
  bulk.notes = "ring: try_reserve + memcpy + commit + publish, consumer reads in place; stream: Sender<span<const "
               "byte>> (copies in), Receiver view; pool call: 1 worker checksums its argument in its request ring "
               "and returns the sum; memcpy: one thread copies src->dst and checksums dst; boost/RWQ: blocks by "
               "value, in place; CQ/asio: std::vector moved (producer allocates + copies in, consumer frees)";
  fb::Table lat;
  lat.title = "round-trip latency, 8-byte ping-pong (ns per round trip)";
  lat.baselines = {kBoost, kRwq, kCq, kAsio};
  lat.notes = "each round trip timed on its own (steady_clock, its cost included for every contender); p50/p99 "
              "pooled over reps (" + std::to_string(kSketch) + " quantiles per rep); ring, boost, RWQ, CQ: both "
              "threads spin; stream and asio: coroutines that suspend on empty (ferry executors park on a futex, "
              "io_context threads on its scheduler); pool call: main thread get(), pool of 1 worker (caller, client "
              "and worker threads on " + cores + ")";
  fb::Table bp;
  bp.title = "stream under backpressure: 4 KiB values, consumer 10x slower than the producer";
  bp.baselines = {kAlone, kBoost, kRwq, kCq, kAsio};

  run_throughput_and_latency(o, msgs, bulk, lat, small_n0, big_n0, rtt_n0);
  run_backpressure(o, bp);

  const double total_s = fb::seconds_since(t_start);
  std::printf("ferry channel benchmark — %s, %s, %u cores (std::thread::hardware_concurrency), %s%s\n",
              env.platform.c_str(), env.compiler.c_str(), env.cores, env.build_type.c_str(),
              env.ndebug ? "" : " WITHOUT NDEBUG (assertions on: not representative)");
  if (o.quick) std::printf("--quick: tiny sizes, no calibration; these numbers only show that the harness runs\n");
  std::printf("median of %d repetitions%s, implementations interleaved; ±x%% = half the min-max spread\n", o.reps,
              o.quick ? " after a warm-up" : " (calibrated, after a warm-up)");
  std::printf("ratio = ferry / baseline for throughput and baseline / ferry for latency, bytes and CPU: > 1 means "
              "ferry is better\n");
  std::printf("every run checked: message counts and checksums of the known sequence, block sums, echoes\n\n");
  for (const fb::Table* t : {&msgs, &bulk, &lat, &bp}) fb::print_table(stdout, *t, &env);
  std::printf("total %.2f s\n", total_s);
  std::fflush(stdout);

  if (!o.json.empty()) {
    std::map<std::string, std::string> settings{{"quick", o.quick ? "true" : "false"},
                                                {"reps", std::to_string(o.reps)},
                                                {"target_ms", std::to_string(static_cast<int>(o.target_s * 1000))},
                                                {"total_seconds", std::to_string(total_s)}};
    fb::write_file(o.json, fb::to_json(env, settings, {msgs, bulk, lat, bp}));
  }
  return 0;
}
