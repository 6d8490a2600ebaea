// The wasm module the JavaScript WorkerPool loads in the demo, the browser
// suite and the benchmarks: the JavaScript bridge (workers/js_bridge.cpp)
// plus the C++ tasks they call. Each task is an ordinary FERRY_EXPORT; the
// bridge publishes their signatures so JavaScript encodes plain values to
// exactly these types.
#include "ferry.hpp"
#include "workers/asio_interop.hpp"
#include "workers/js_bridge.hpp"

#include <asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

namespace web {

using namespace std::chrono_literals;

// --- calls with every marshalled type ----------------------------------------
int add(int a, int b) { return a + b; }
FERRY_EXPORT(add);

#define WEB_ECHO(name, T) \
  T name(T v) { return v; } \
  FERRY_EXPORT(name)
WEB_ECHO(echo_bool, bool);
WEB_ECHO(echo_i8, std::int8_t);
WEB_ECHO(echo_u8, std::uint8_t);
WEB_ECHO(echo_i16, std::int16_t);
WEB_ECHO(echo_u16, std::uint16_t);
WEB_ECHO(echo_i32, std::int32_t);
WEB_ECHO(echo_u32, std::uint32_t);
WEB_ECHO(echo_i64, std::int64_t);
WEB_ECHO(echo_u64, std::uint64_t);
WEB_ECHO(echo_f32, float);
WEB_ECHO(echo_f64, double);
WEB_ECHO(echo_string, std::string);
WEB_ECHO(echo_bytes, std::vector<std::uint8_t>);
WEB_ECHO(echo_f32s, std::vector<float>);
WEB_ECHO(echo_i32s, std::vector<std::int32_t>);
WEB_ECHO(echo_u64s, std::vector<std::uint64_t>);
WEB_ECHO(echo_strings, std::vector<std::string>);
WEB_ECHO(echo_optional, std::optional<std::int32_t>);
using IntOrText = std::variant<std::int32_t, std::string>;
WEB_ECHO(echo_variant, IntOrText);
using Counts = std::map<std::string, std::int32_t>;
WEB_ECHO(echo_map, Counts);
using Pair = std::tuple<std::int32_t, std::string>;
WEB_ECHO(echo_tuple, Pair);

struct Point {
  std::int32_t x = 0;
  std::int32_t y = 0;
};
FERRY_STRUCT(Point, x, y)
struct Shape {
  std::string name;
  std::vector<Point> points;
  std::optional<Point> anchor;
  std::map<std::string, double> tags;
};
FERRY_STRUCT(Shape, name, points, anchor, tags)
WEB_ECHO(echo_point, Point);
WEB_ECHO(echo_shape, Shape);
#undef WEB_ECHO

Point centroid(std::vector<Point> points) {
  if (points.empty()) return {};
  std::int64_t x = 0, y = 0;
  for (const auto& p : points) x += p.x, y += p.y;
  const auto n = static_cast<std::int64_t>(points.size());
  return {static_cast<std::int32_t>(x / n), static_cast<std::int32_t>(y / n)};
}
FERRY_EXPORT(centroid);

// --- errors ----------------------------------------------------------------
std::string fail(std::string message) { throw std::runtime_error(message); }
FERRY_EXPORT(fail);

// An error as a value: arrives in JavaScript as the FerryError of its kind.
ferry::Result<std::int32_t> checked_div(std::int32_t a, std::int32_t b) {
  if (b == 0) return ferry::Error::make(ferry::ErrorKind::InvalidArgument, "division of " + std::to_string(a) + " by zero", "checked_div");
  return a / b;
}
FERRY_EXPORT(checked_div);

ferry::Result<std::string> fail_with(std::uint8_t kind, std::string message) {
  return ferry::Error::make(static_cast<ferry::ErrorKind>(kind), message, "fail_with");
}
FERRY_EXPORT(fail_with);

// Ends the worker's thread as abruptly as a dead Web Worker; the pool
// replaces it and JavaScript fails what that worker held with WorkerCrashed.
std::int32_t crash(std::string why) { ferry::crash_worker(why); }
FERRY_EXPORT(crash);

// Sleeps on the worker's executor (never blocking it); ends early, with
// Cancelled, when the caller cancels or times out. Answers the ms slept.
std::atomic<std::int32_t> naps_cancelled{0};
ferry::Task<ferry::Result<std::int32_t>> nap(std::int32_t ms, ferry::CancelToken stop) {
  auto* ex = dynamic_cast<ferry::Executor*>(ferry::Scheduler::current());
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(ms)) {
    if (stop.is_cancelled()) {
      naps_cancelled.fetch_add(1, std::memory_order_relaxed);
      co_return ferry::Error::make(ferry::ErrorKind::Cancelled, "nap saw its cancellation", "nap");
    }
    asio::steady_timer t(ex->asio(), 1ms);
    co_await t.async_wait(ferry::use_task);
  }
  co_return static_cast<std::int32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
}
FERRY_EXPORT(nap);
// How many naps saw their cancellation: the proof that a JavaScript
// AbortSignal or timeout reached the running coroutine.
std::int32_t cancelled_naps() { return naps_cancelled.load(std::memory_order_relaxed); }
FERRY_EXPORT(cancelled_naps);

// --- buffers: copied (bytes) or in place (SharedBytes from a WasmBuffer) -----
std::uint32_t checksum(const std::byte* p, std::size_t n) {
  std::uint32_t h = 2166136261u;  // FNV-1a
  for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<std::uint32_t>(p[i])) * 16777619u;
  return h;
}
// A span decodes as a view into the request record: no copy of its own.
std::uint32_t checksum_bytes(std::span<const std::uint8_t> b) { return checksum(reinterpret_cast<const std::byte*>(b.data()), b.size()); }
FERRY_EXPORT(checksum_bytes);
std::uint32_t checksum_shared(ferry::SharedBytes b) { return checksum(b.view().data(), b.size); }
FERRY_EXPORT(checksum_shared);
void fill_shared(ferry::SharedBytes b, std::uint8_t value) {
  for (auto& c : b.view()) c = static_cast<std::byte>(value);
}
FERRY_EXPORT(fill_shared);

// --- streams ---------------------------------------------------------------
ferry::Task<void> upper(ferry::Receiver<std::string> in, ferry::Sender<std::string> out) {
  while (auto s = co_await in.recv()) {
    std::string u = *s;
    for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!co_await out.send(u)) co_return;
  }
}
FERRY_EXPORT_STREAM(upper);

// Sends count numbers as fast as the ring lets it: a slow JavaScript reader
// keeps it suspended in send() (backpressure), and its memory stays flat.
ferry::Task<ferry::Result<void>> count_up(ferry::Receiver<std::monostate> in, ferry::Sender<std::uint32_t> out,
                                          std::uint32_t count) {
  (void)in;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (auto sent = co_await out.send(i); !sent) co_return std::move(sent).error();
  }
  out.close();
  co_return ferry::Result<void>{};
}
FERRY_EXPORT_STREAM(count_up);

// Sums what it receives; answers through its own stream once the input ends.
ferry::Task<void> running_sum(ferry::Receiver<std::vector<std::uint8_t>> in, ferry::Sender<std::uint64_t> out) {
  std::uint64_t total = 0;
  while (auto b = co_await in.recv()) {
    for (auto c : *b) total += c;
    if (!co_await out.send(total)) co_return;
  }
}
FERRY_EXPORT_STREAM(running_sum);

// A consumer slower than its producer: spins work_us per message (bytes
// viewed in place), reports its count every `ack` messages and at the end.
// The caller's send() waits while the ring is full (bench/browser).
ferry::Task<void> slow_sink(ferry::Receiver<std::span<const std::uint8_t>> in, ferry::Sender<std::uint32_t> out,
                            std::uint32_t work_us, std::uint32_t ack) {
  std::uint32_t n = 0;
  while (auto m = co_await in.recv()) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(work_us);
    while (std::chrono::steady_clock::now() < until) {}
    if (++n % ack == 0 && !co_await out.send(n)) co_return;
  }
  (void)co_await out.send(n);
}
FERRY_EXPORT_STREAM(slow_sink);

// Small values one way (bench/browser, "small-value streams"): a sink that
// counts what it receives, a batch of up to 4096 at a time as the JavaScript
// sink does, and answers the count once its input ends; and a source that
// sends `count` values and ends.
ferry::Task<void> sink_f64(ferry::Receiver<double> in, ferry::Sender<std::uint32_t> out) {
  std::uint32_t n = 0;
  for (auto b = co_await in.recv_batch(4096); b && !b->empty(); b = co_await in.recv_batch(4096)) n += b->size();
  (void)co_await out.send(n);
}
FERRY_EXPORT_STREAM(sink_f64);

ferry::Task<void> sink_str(ferry::Receiver<std::string_view> in, ferry::Sender<std::uint32_t> out) {
  std::uint32_t n = 0;
  for (auto b = co_await in.recv_batch(4096); b && !b->empty(); b = co_await in.recv_batch(4096)) n += b->size();
  (void)co_await out.send(n);
}
FERRY_EXPORT_STREAM(sink_str);

ferry::Task<void> source_f64(ferry::Receiver<std::monostate> in, ferry::Sender<double> out, std::uint32_t count) {
  (void)in;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (!co_await out.send(i + 0.5)) co_return;
  }
}
FERRY_EXPORT_STREAM(source_f64);

ferry::Task<void> source_str(ferry::Receiver<std::monostate> in, ferry::Sender<std::string> out, std::uint32_t count) {
  (void)in;
  std::string s = "ferry small value #0000000000000";  // 32 bytes
  for (std::uint32_t i = 0; i < count; ++i) {
    for (std::uint32_t k = i, at = 31; at > 20; --at, k /= 10) s[at] = static_cast<char>('0' + k % 10);
    if (!co_await out.send(s)) co_return;
  }
}
FERRY_EXPORT_STREAM(source_str);

// Echoes `count` numbers, then fails: the caller reads the echoes, then the
// task's own error (for await, done), and its sends fail with its kind.
ferry::Task<ferry::Result<void>> fail_after(ferry::Receiver<std::uint32_t> in, ferry::Sender<std::uint32_t> out,
                                            std::uint32_t count) {
  for (std::uint32_t i = 0; i < count; ++i) {
    auto v = co_await in.recv();
    if (!v) co_return std::move(v).error();
    if (auto sent = co_await out.send(*v); !sent) co_return std::move(sent).error();
  }
  co_return ferry::Error::make(ferry::ErrorKind::TaskFailed, "stream failed after " + std::to_string(count), "fail_after");
}
FERRY_EXPORT_STREAM(fail_after);

// Sends 0 .. count-1, publishes them, then dies: the caller still reads
// every one of them before its recv() rejects with WorkerCrashed.
ferry::Task<void> crash_after(ferry::Receiver<std::monostate> in, ferry::Sender<std::uint32_t> out, std::uint32_t count) {
  (void)in;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (!co_await out.send(i)) co_return;
  }
  out.flush();  // a batch not yet published would die with the worker
  ferry::crash_worker("crash_after sent " + std::to_string(count));
}
FERRY_EXPORT_STREAM(crash_after);

// --- the demo: Mandelbrot tiles ----------------------------------------------
struct TileRequest {
  std::uint32_t x = 0, y = 0, w = 0, h = 0, max_iter = 0;
  double cx = 0, cy = 0, scale = 0;
  std::uint32_t width = 0, height = 0;  // the whole image, for the pixel -> plane mapping
};
FERRY_STRUCT(TileRequest, x, y, w, h, max_iter, cx, cy, scale, width, height)
struct Tile {
  std::uint32_t x = 0, y = 0, w = 0, h = 0;
  std::uint64_t iterations = 0;
  std::vector<std::uint8_t> rgba;
};
FERRY_STRUCT(Tile, x, y, w, h, iterations, rgba)

Tile render_tile(TileRequest r) {
  Tile t{r.x, r.y, r.w, r.h, 0, std::vector<std::uint8_t>(std::size_t{r.w} * r.h * 4)};
  for (std::uint32_t j = 0; j < r.h; ++j) {
    for (std::uint32_t i = 0; i < r.w; ++i) {
      const double x0 = r.cx + (double(r.x + i) - r.width / 2.0) * r.scale;
      const double y0 = r.cy + (double(r.y + j) - r.height / 2.0) * r.scale;
      double x = 0, y = 0;
      std::uint32_t n = 0;
      while (n < r.max_iter && x * x + y * y <= 4.0) {
        const double xt = x * x - y * y + x0;
        y = 2 * x * y + y0;
        x = xt;
        ++n;
      }
      t.iterations += n;
      auto* px = &t.rgba[(std::size_t{j} * r.w + i) * 4];
      if (n >= r.max_iter) {
        px[0] = px[1] = px[2] = 0;
      } else {
        const double v = std::sqrt(double(n) / r.max_iter);
        px[0] = static_cast<std::uint8_t>(255 * v);
        px[1] = static_cast<std::uint8_t>(255 * v * v);
        px[2] = static_cast<std::uint8_t>(128 + 127 * std::sin(6.28 * v));
      }
      px[3] = 255;
    }
  }
  return t;
}
FERRY_EXPORT(render_tile);

// One stream per worker: tile requests in, rendered tiles out. When the page
// reads slowly, send() suspends here and the page's own send() waits in turn.
ferry::Task<void> mandelbrot(ferry::Receiver<TileRequest> in, ferry::Sender<Tile> out) {
  while (auto r = co_await in.recv()) {
    if (!co_await out.send(render_tile(*r))) co_return;
  }
}
FERRY_EXPORT_STREAM(mandelbrot);

}  // namespace web
