// ferry ring benchmark: the SPSC byte ring (core/ring.hpp) against
// boost::lockfree::spsc_queue and moodycamel::ReaderWriterQueue, and 64 KiB
// records against a plain memcpy, in one run. The same source builds natively
// and with Emscripten (run the .js under Node).
//
//   ring_bench [--quick] [--json FILE] [--reps N] [--target-ms MS] [--filter TEXT]
//
// Every case runs a producer and a consumer thread that busy-wait (pause, then
// yield after a long run of failures) on whichever queue is measured. The
// producer writes a known sequence; the consumer folds every message into a
// checksum that is compared with the expected one, and a mismatch (or a lost
// or malformed record) ends the program with status 1. --quick runs tiny sizes
// for the test suite: it checks that every case runs and verifies, not speed.
#include "core/ring.hpp"

#include "bench/bench_harness.hpp"

#include <boost/lockfree/spsc_queue.hpp>
#include <readerwriterqueue/readerwriterqueue.h>

#include <bit>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>

namespace fb = ferry::bench;
using fb::Spinner;
using fb::fail;
using fb::Seen;
using fb::attach;
using fb::ring_memory;
using fb::RunResult;
using fb::Contender;
using fb::Measured;
using fb::mmsg_per_s;
using fb::ns_per_op;

#include "bench/ring/common.hpp"
#include "bench/ring/throughput.hpp"
#include "bench/ring/latency.hpp"
#include "bench/ring/bulk.hpp"

namespace {

// --- Driver ------------------------------------------------------------------------

Measured measure_cases(const fb::Options& o, const std::string& name, std::vector<Contender> cs,
                 double (*value)(std::uint64_t, double)) {
  return fb::measure(o, name, std::move(cs), value, kLatencyBatch);
}

double mb_per_s(std::uint64_t n, double s) { return static_cast<double>(n) * kBlockBytes / s / 1e6; }

void usage(std::FILE* out) {
  std::fprintf(out, "usage: ring_bench [--quick] [--json FILE] [--reps N] [--target-ms MS] [--filter TEXT]\n");
  fb::print_common_options(out);
}

// The round trip rows: median, p50 and p99 of 8-byte ping-pongs.
void latency_rows(const fb::Options& o, fb::Table& msgs, std::uint64_t rt_n0) {
  progress("round trip latency");
  Measured m = measure_cases(o, "round trip 8 B",
                       {{kFerry, ferry_latency, rt_n0}, {kBoost, boost_latency, rt_n0}, {kRwq, rwq_latency, rt_n0}},
                       ns_per_op);
  msgs.rows.push_back({"round trip 8 B (ns, median)", "ns", false, m.stats,
                       "ping-pong over two queues, both sides spin; median of reps"});
  std::map<std::string, fb::Stat> p50, p99;
  for (const auto& [impl, pool] : m.batch_ns) {
    p50[impl] = fb::single_value(fb::percentile(pool, 50), pool.size());
    p99[impl] = fb::single_value(fb::percentile(pool, 99), pool.size());
  }
  const std::string over = "over batches of " + std::to_string(kLatencyBatch) + " round trips, all reps";
  msgs.rows.push_back({"round trip 8 B p50 (ns)", "ns", false, std::move(p50), "p50 " + over});
  msgs.rows.push_back({"round trip 8 B p99 (ns)", "ns", false, std::move(p99), "p99 " + over});
}

// The 64 KiB rows: copy-out and in place, against memcpy and the queues.
void bulk_rows(const fb::Options& o, fb::Table& bulk, std::uint64_t bulk_n0, std::size_t bulk_blocks) {
  using fb::selected;
  progress("64 KiB records");
  const std::string copy_out = "64 KiB records, copy-out (MB/s)";
  const std::string in_place = "64 KiB records, in place (MB/s)";
  bool wanted = false;
  for (const auto& impl : {kFerry, kMemcpy, kBoost, kRwq}) {
    wanted |= selected(o, copy_out, impl) || selected(o, in_place, impl);
  }
  BulkBuffers buffers(wanted ? bulk_blocks : 1);
  g_bulk = &buffers;
  const std::string mib = std::to_string(bulk_blocks * kBlockBytes >> 20);
  auto bulk_row = [&](const std::string& name, Consume how, const std::string& note) {
    Measured m = measure_cases(o, name,
                         {{kFerry, [how](std::uint64_t n) { return ferry_bulk(n, how); }, bulk_n0},
                          {kMemcpy, [how](std::uint64_t n) { return memcpy_bulk(n, how); }, bulk_n0},
                          {kBoost, [how](std::uint64_t n) { return boost_bulk(n, how); }, bulk_n0},
                          {kRwq, [how](std::uint64_t n) { return rwq_bulk(n, how); }, bulk_n0}},
                         mb_per_s);
    bulk.rows.push_back({name, "MB/s", true, std::move(m.stats), note});
  };
  bulk_row(copy_out, Consume::CopyOut,
           "consumer memcpy's each record to dst; memcpy: the same src->dst copies, one thread");
  bulk_row(in_place, Consume::InPlace,
           "consumer checksums each record in place (boost consume_one, RWQ peek); memcpy: copy src->dst "
           "then checksum it, one thread");
  bulk.notes = "ferry: 1 MiB ring, producer memcpy's src->ring (try_reserve/commit/publish per record); "
               "boost/RWQ hold 15 blocks (push copies in); " + mib + " MiB src and dst buffers, cycled";
  g_bulk = nullptr;
}

// The header lines and both tables, on stdout.
void print_report(const fb::Options& o, const fb::Env& env, fb::Table& msgs, fb::Table& bulk) {
  char head[512];
  std::snprintf(head, sizeof head, "ferry ring benchmark — %s, %s, %u cores (std::thread::hardware_concurrency), %s%s",
                env.platform.c_str(), env.compiler.c_str(), env.cores, env.build_type.c_str(),
                env.ndebug ? "" : " WITHOUT NDEBUG (assertions on: not representative)");
  std::printf("%s\n", head);
  if (o.quick) std::printf("--quick: tiny sizes, no calibration; these numbers only show that the harness runs\n");
  if (o.quick) {
    std::printf("median of %d repetitions after a warm-up, implementations interleaved; ±x%% = half the min-max "
                "spread\n",
                o.reps);
  } else {
    std::printf("median of %d repetitions (~%.0f ms each, after calibration and a warm-up), implementations "
                "interleaved; ±x%% = half the min-max spread\n",
                o.reps, o.target_s * 1000);
  }
  std::printf("ratio = ferry / baseline for throughput (Mmsg/s, MB/s) and baseline / ferry for latency (ns): "
              "> 1 means ferry is faster\n");
  std::printf("every run checked: message count and checksum of the known sequence (64 KiB: block stamps or "
              "sums, and a full compare of the destination after copy-out)\n\n");
  msgs.title = "messages (2 threads: producer, consumer)";
  bulk.title = "64 KiB records (2 threads, except memcpy)";
  fb::print_table(stdout, msgs, &env);
  fb::print_table(stdout, bulk, &env);
}

}  // namespace

int main(int argc, char** argv) {
  const fb::Options o = fb::parse_options(argc, argv, usage);

  const fb::Env env = fb::current_env();
  const std::uint64_t small_n0 = o.quick ? 20'000 : 100'000;
  const std::uint64_t rt_n0 = o.quick ? 2 * kLatencyBatch : 10 * kLatencyBatch;
  const std::uint64_t bulk_n0 = o.quick ? 64 : 256;
  const std::size_t bulk_blocks = o.quick ? 64 : 1024;  // 4 MiB / 64 MiB per buffer
  const auto t_start = fb::Clock::now();

  fb::Table msgs;
  msgs.baselines = {kBoost, kRwq};
  fb::Table bulk;
  bulk.baselines = {kMemcpy, kBoost, kRwq};

  const std::string in_flight = "queues hold >= " + std::to_string(kInFlight) + " msgs";
  auto throughput_row = [&](const std::string& name, std::vector<Contender> cs, std::string note) {
    progress(name);
    Measured m = measure_cases(o, name, std::move(cs), mmsg_per_s);
    msgs.rows.push_back({name, "Mmsg/s", true, std::move(m.stats), std::move(note)});
  };
  throughput_row("8 B one-by-one (Mmsg/s)",
                 {{kFerry, [](std::uint64_t n) { return ferry_throughput<std::uint64_t>(n, false); }, small_n0},
                  {kBoost, [](std::uint64_t n) { return boost_throughput<std::uint64_t>(n, false); }, small_n0},
                  {kRwq, [](std::uint64_t n) { return rwq_throughput<std::uint64_t>(n); }, small_n0}},
                 "ferry: try_write+publish, try_read+release per msg; " + in_flight);
  throughput_row("8 B batched (Mmsg/s)",
                 {{kFerry, [](std::uint64_t n) { return ferry_throughput<std::uint64_t>(n, true); }, small_n0},
                  {kBoost, [](std::uint64_t n) { return boost_throughput<std::uint64_t>(n, true); }, small_n0},
                  {kRwq, [](std::uint64_t n) { return rwq_throughput<std::uint64_t>(n); }, small_n0}},
                 "ferry: publish per 64, release per 64 or when drained; boost: push/pop ranges of 64; "
                 "RWQ: no bulk API, one-by-one");
  throughput_row("8 B batched, packed records (Mmsg/s)",
                 {{kFerry, [](std::uint64_t n) { return ferry_packed_throughput<std::uint64_t>(n); }, small_n0},
                  {kBoost, [](std::uint64_t n) { return boost_throughput<std::uint64_t>(n, true); }, small_n0},
                  {kRwq, [](std::uint64_t n) { return rwq_throughput<std::uint64_t>(n); }, small_n0}},
                 "ferry: the 64 values of a batch share one record (try_extend), one publish and one release "
                 "per batch; boost: push/pop ranges of 64; RWQ: one-by-one");
  throughput_row("8 B batched, one reserve per batch (Mmsg/s)",
                 {{kFerry, [](std::uint64_t n) { return ferry_reserved_throughput<std::uint64_t>(n); }, small_n0},
                  {kBoost, [](std::uint64_t n) { return boost_throughput<std::uint64_t>(n, true); }, small_n0},
                  {kRwq, [](std::uint64_t n) { return rwq_throughput<std::uint64_t>(n); }, small_n0}},
                 "ferry: the 64 values made in an array (as for boost), one try_reserve for all, one copy in, one "
                 "commit, publish and release per batch; boost: push/pop ranges of 64; RWQ: one-by-one");
  throughput_row("64 B one-by-one (Mmsg/s)",
                 {{kFerry, [](std::uint64_t n) { return ferry_throughput<Msg64>(n, false); }, small_n0},
                  {kBoost, [](std::uint64_t n) { return boost_throughput<Msg64>(n, false); }, small_n0},
                  {kRwq, [](std::uint64_t n) { return rwq_throughput<Msg64>(n); }, small_n0}},
                 "64-byte struct for the baselines; consumer folds all 64 bytes");
  throughput_row("64 B batched (Mmsg/s)",
                 {{kFerry, [](std::uint64_t n) { return ferry_throughput<Msg64>(n, true); }, small_n0},
                  {kBoost, [](std::uint64_t n) { return boost_throughput<Msg64>(n, true); }, small_n0},
                  {kRwq, [](std::uint64_t n) { return rwq_throughput<Msg64>(n); }, small_n0}},
                 "as 8 B batched; RWQ: one-by-one");
  throughput_row("64 B batched, packed records (Mmsg/s)",
                 {{kFerry, [](std::uint64_t n) { return ferry_packed_throughput<Msg64>(n); }, small_n0},
                  {kBoost, [](std::uint64_t n) { return boost_throughput<Msg64>(n, true); }, small_n0},
                  {kRwq, [](std::uint64_t n) { return rwq_throughput<Msg64>(n); }, small_n0}},
                 "as 8 B batched, packed records");
  throughput_row("64 B batched, one reserve per batch (Mmsg/s)",
                 {{kFerry, [](std::uint64_t n) { return ferry_reserved_throughput<Msg64>(n); }, small_n0},
                  {kBoost, [](std::uint64_t n) { return boost_throughput<Msg64>(n, true); }, small_n0},
                  {kRwq, [](std::uint64_t n) { return rwq_throughput<Msg64>(n); }, small_n0}},
                 "as 8 B batched, one reserve per batch");

  latency_rows(o, msgs, rt_n0);
  bulk_rows(o, bulk, bulk_n0, bulk_blocks);

  const double total_s = fb::seconds_since(t_start);
  print_report(o, env, msgs, bulk);
  std::printf("total %.2f s\n", total_s);
  std::fflush(stdout);

  if (!o.json.empty()) {
    std::map<std::string, std::string> settings{{"quick", o.quick ? "true" : "false"},
                                                {"reps", std::to_string(o.reps)},
                                                {"target_ms", std::to_string(static_cast<int>(o.target_s * 1000))},
                                                {"batch", std::to_string(kBatch)},
                                                {"in_flight", std::to_string(kInFlight)},
                                                {"total_seconds", std::to_string(total_s)}};
    fb::write_file(o.json, fb::to_json(env, settings, {msgs, bulk}));
  }
  return 0;
}
