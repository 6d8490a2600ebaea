// ferry stream internals: the control block both endpoints share, the
// untyped endpoint cores, and the machinery every awaited operation shares.
// Users never name anything here (stream/stream.hpp is the API).
//
// Design: a Sender<T>/Receiver<T> is a thin typed handle on a heap-allocated
// core. The core never moves, because a scheduler holds pointers to it (a
// pending defer_flush) and so does a pending operation. Cores are untyped:
// T only appears where a value is encoded or decoded (SendOp/RecvOp), so most
// of the code is compiled once. Both cores share a StreamShared holding the
// ring memory and the counters; the memory is freed with the last endpoint.
#pragma once

#include "../../core/arena.hpp"
#include "../../core/cancel.hpp"
#include "../../core/codec.hpp"
#include "../../core/coro.hpp"
#include "../../core/error.hpp"
#include "../../core/ring.hpp"
#include "../options.hpp"
#include "../scheduler.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace ferry::detail {

inline constexpr const char* kStreamOrigin = "stream";
// A batch is published (sender) or released (receiver) at the latest after
// this many records, or a quarter of the ring, whichever comes first.
inline constexpr std::uint32_t kBatchRecords = 64;
// A first part starts with the value's encoded length, a u64.
inline constexpr std::size_t kPartLengthBytes = 8;

// Counters with one writer: a plain load and store, no locked instruction.
// Readers on other threads load them relaxed (statistics only).
inline void counter_add(std::atomic<std::uint64_t>& c, std::uint64_t n) noexcept {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

inline std::uint64_t elapsed_ns(std::chrono::steady_clock::time_point since) noexcept {
  const auto d = std::chrono::steady_clock::now() - since;
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

// What is left now of a blocking call's `timeout` that began at `start`
// (a negative timeout, no limit, stays as it is).
inline std::chrono::nanoseconds time_left(std::chrono::nanoseconds timeout,
                                          std::chrono::steady_clock::time_point start) noexcept {
  if (timeout.count() < 0) return timeout;
  return std::max(timeout - (std::chrono::steady_clock::now() - start), std::chrono::nanoseconds{0});
}

inline std::string describe_duration(std::chrono::nanoseconds d) {
  const auto ns = d.count();
  if (ns % 1'000'000 == 0) return std::to_string(ns / 1'000'000) + " ms";
  if (ns % 1'000 == 0) return std::to_string(ns / 1'000) + " us";
  return std::to_string(ns) + " ns";
}

// The ring plus the counters. Sender and receiver counters sit on separate
// cache lines: each has one writer, and they must not share a line.
struct StreamShared {
  struct alignas(64) SenderCounters {
    std::atomic<std::uint64_t> messages{0}, bytes{0}, blocked_ns{0};
    std::atomic<std::uint32_t> high_water{0};
  };
  struct alignas(64) ReceiverCounters {
    std::atomic<std::uint64_t> messages{0}, bytes{0}, waited_ns{0};
  };

  StreamShared(void* ring_memory, bool owns, std::shared_ptr<void> keep) noexcept
      : ring(static_cast<std::byte*>(ring_memory)), owns_ring(owns), keepalive(std::move(keep)) {}
  ~StreamShared() {
    if (owns_ring) shared_free(ring);
  }
  StreamShared(const StreamShared&) = delete;
  StreamShared& operator=(const StreamShared&) = delete;

  std::uint32_t capacity() const noexcept {
    return ring_word(ring, ring_layout::kCapacityOffset).load(std::memory_order_relaxed);
  }
  // Published, unreleased ring bytes. relaxed: statistics; clamped because
  // the two words are not read at one instant.
  std::uint32_t in_flight() const noexcept {
    const std::uint32_t tail = ring_word(ring, ring_layout::kTailOffset).load(std::memory_order_relaxed);
    const std::uint32_t head = ring_word(ring, ring_layout::kHeadOffset).load(std::memory_order_relaxed);
    const std::uint32_t n = tail - head;
    return n > capacity() ? 0 : n;  // head read newer than tail: "wrapped" below 0
  }
  StreamStats snapshot() const noexcept {
    StreamStats s;
    s.capacity = capacity();
    s.messages_sent = tx.messages.load(std::memory_order_relaxed);
    s.bytes_sent = tx.bytes.load(std::memory_order_relaxed);
    s.send_blocked_ns = tx.blocked_ns.load(std::memory_order_relaxed);
    s.queue_bytes_high_water = tx.high_water.load(std::memory_order_relaxed);
    s.messages_received = rx.messages.load(std::memory_order_relaxed);
    s.bytes_received = rx.bytes.load(std::memory_order_relaxed);
    s.recv_waited_ns = rx.waited_ns.load(std::memory_order_relaxed);
    s.queue_bytes = in_flight();
    return s;
  }

  std::byte* ring;
  bool owns_ring;                   // made by make_stream: shared_free it
  std::shared_ptr<void> keepalive;  // a ring made elsewhere: whatever keeps it alive
  SenderCounters tx;
  ReceiverCounters rx;
};

inline Error sender_ring_error(Error e);
inline Error receiver_ring_error(Error e);
Error bad_record(const RingRecord& record);
Error bad_part(const RingRecord& record, const std::string& why);

// A value on its way in part records: its encoding lies in SenderCore::parts,
// and `done` of its `size` bytes are in the ring. size 0: none started. The
// sending operation owns it, so a send that ends early abandons its value.
struct PartsProgress {
  std::size_t size = 0;
  std::size_t done = 0;
};

// What both endpoint cores have: the ring, the bell this end waits on, the
// one-operation-at-a-time flag, and the pending operation (so close() can end it).
class EndCore : public Flushable {
 public:
  EndCore(std::shared_ptr<StreamShared> s, std::size_t bell_field)
      : shared(std::move(s)), ring(shared->ring), bell(&ring_bell(ring, bell_field)),
        capacity(shared->capacity()), batch_bytes_limit(std::max<std::uint32_t>(capacity / 4, 1)) {}

  // Ends the pending awaited operation (if any) with `why`, via its scheduler.
  void end_pending(Error why) {
    if (pending_sched != nullptr) pending_sched->cancel(pending_id, std::move(why));
  }
  // Registers a flush with the scheduler running this thread; false if none.
  bool defer_to_current() {
    Scheduler* s = Scheduler::current();
    if (s == nullptr) return false;
    if (!flush_pending) {
      s->defer_flush(*this);
      flush_sched = s;
    }
    return true;
  }
  void drop_deferred_flush() noexcept {
    if (flush_pending && flush_sched != nullptr) flush_sched->cancel_flush(*this);
  }
  // Publish/release now and forget the deferred one, so that nothing of this
  // handler touches the endpoint after it is handed to another thread.
  void flush_now() {
    flush();
    if (flush_pending && flush_sched == Scheduler::current()) flush_sched->cancel_flush(*this);
  }

  std::shared_ptr<StreamShared> shared;  // first member: outlives the endpoint below
  std::byte* ring;
  std::atomic<std::uint32_t>* bell;  // space bell (sender) or data bell (receiver)
  std::uint32_t capacity;
  std::uint32_t batch_bytes_limit;
  bool closed = false;
  bool busy = false;  // an awaited operation is in progress
  Scheduler* flush_sched = nullptr;
  Scheduler* pending_sched = nullptr;
  std::uint64_t pending_id = 0;
};

class SenderCore final : public EndCore {
 public:
  SenderCore(std::shared_ptr<StreamShared> s, RingProducer p)
      : EndCore(std::move(s), ring_layout::kSpaceBellOffset), producer(std::move(p)) {}
  ~SenderCore() override {
    drop_deferred_flush();
    close();
  }

  void flush() override { publish(); }

  // Makes every committed record visible and notes the queue depth.
  void publish() {
    producer.publish();
    batch_records = 0;
    batch_bytes = 0;
    note_depth();
  }
  // A value of `payload` bytes joined the batch, in a new record or
  // appended to the last one.
  void note_commit(std::size_t payload, bool new_record, bool in_batch_op) {
    note_sent(payload);
    note_batch(new_record ? ring_record_bytes(payload) : payload, in_batch_op);
  }
  void note_sent(std::size_t payload) {
    counter_add(shared->tx.messages, 1);
    counter_add(shared->tx.bytes, payload);
  }
  // A record (or a value grown into the last one) of `ring_bytes` joined the
  // batch: publish per the flush policy.
  void note_batch(std::size_t ring_bytes, bool in_batch_op) {
    ++batch_records;
    batch_bytes += static_cast<std::uint32_t>(ring_bytes);
    // A batch operation publishes only per quarter ring; single sends also
    // every kBatchRecords, so a receiver on another core starts early. And
    // at once when the receiver is parked: batching only helps a receiver
    // that is busy; an idle one would wait for the handler to end, which
    // for a coroutine that never suspends (its input is never empty) may
    // be long. One such publish per park: the wake clears the flag.
    if (batch_bytes >= batch_bytes_limit || (!in_batch_op && batch_records >= kBatchRecords) ||
        producer.consumer_parked()) {
      publish();
    }
  }
  // The operation is over: publish at the latest when this handler of the
  // scheduler returns, or now when no scheduler runs this thread.
  void settle() {
    if (batch_records == 0) return;
    if (!defer_to_current()) publish();
  }
  void close() {
    if (closed) return;
    closed = true;
    producer.close();  // publishes, marks the ring closed, wakes the receiver
    batch_records = 0;
    batch_bytes = 0;
    note_depth();
    end_pending(Error::make(ErrorKind::Closed, "send ended: the sender was closed", kStreamOrigin));
  }

  // Payload bytes of the next part record of `value`: a quarter of the ring
  // (the sender writes one part while the receiver copies the last), the
  // first one's u64 length included; the last part is shorter.
  std::size_t next_part_bytes(const PartsProgress& value) const noexcept {
    const std::size_t head = value.done == 0 ? kPartLengthBytes : 0;
    return head + std::min<std::size_t>(capacity / 4 - head, value.size - value.done);
  }
  // Writes the parts of `value` that fit now, each a record of its own; true
  // once its last part is in (`value` is then reset for the next one).
  Result<bool> write_parts(PartsProgress& value, bool in_batch_op) {
    while (value.done < value.size) {
      const bool first = value.done == 0;
      const std::size_t len = next_part_bytes(value);
      auto slot = producer.try_reserve(len, first ? stream_tag::kFirstPart : stream_tag::kNextPart);
      if (!slot) return sender_ring_error(std::move(slot).error());
      if (*slot == nullptr) return false;
      std::byte* at = *slot;
      if (first) {
        const std::uint64_t length = value.size;
        std::memcpy(at, &length, kPartLengthBytes);  // little-endian: the codec requires such a host
        at += kPartLengthBytes;
      }
      const std::size_t n = len - static_cast<std::size_t>(at - *slot);
      std::memcpy(at, parts.data() + value.done, n);
      producer.commit(len);
      value.done += n;
      last_is_part = true;
      note_batch(ring_record_bytes(len), in_batch_op);
    }
    note_sent(value.size);
    value = {};
    return true;
  }
  // Blocks (the ring's own wait: a short spin, then the space bell) until a
  // record of `len` payload bytes fits. The reservation only finds the room:
  // the caller writes its record with the try_ calls again.
  Result<void> wait_for_room(std::size_t len, std::chrono::nanoseconds timeout) {
    publish();  // the receiver can only make room for what it sees
    const auto t0 = std::chrono::steady_clock::now();
    auto slot = producer.reserve(len, stream_tag::kValue, timeout);
    counter_add(shared->tx.blocked_ns, elapsed_ns(t0));
    if (!slot) return sender_ring_error(std::move(slot).error());
    return {};
  }

  RingProducer producer;
  std::uint32_t batch_records = 0;  // records and grown-in values since the last publish
  std::uint32_t batch_bytes = 0;
  // The encoding of the value being sent in parts; kept for the next one,
  // and until this core goes (not freed on close: a send of another
  // coroutine may still hold a PartsProgress into it until it is resumed).
  std::vector<std::byte> parts;
  // The last record committed is a part: a value after it never grows it.
  bool last_is_part = false;

 private:
  void note_depth() noexcept {
    // relaxed: statistics. Our own tail, then head: head is at least the value
    // we last reserved against, so the difference never exceeds capacity.
    const std::uint32_t tail = ring_word(ring, ring_layout::kTailOffset).load(std::memory_order_relaxed);
    if (tail == last_tail_) return;  // nothing new was published
    last_tail_ = tail;
    const std::uint32_t head = ring_word(ring, ring_layout::kHeadOffset).load(std::memory_order_relaxed);
    const std::uint32_t depth = tail - head;
    if (depth > shared->tx.high_water.load(std::memory_order_relaxed)) {
      shared->tx.high_water.store(depth, std::memory_order_relaxed);
    }
  }
  std::uint32_t last_tail_ = ring_word(ring, ring_layout::kTailOffset).load(std::memory_order_relaxed);
};

class ReceiverCore final : public EndCore {
 public:
  ReceiverCore(std::shared_ptr<StreamShared> s, RingConsumer c, bool borrows_ring)
      : EndCore(std::move(s), ring_layout::kDataBellOffset), consumer(std::move(c)), borrows(borrows_ring) {}
  ~ReceiverCore() override {
    drop_deferred_flush();
    close();
  }

  // Views handed out since the last release die here, so a receiver whose
  // values borrow from the ring never defers it past the next receive call.
  void flush() override {
    if (!borrows) release();
  }
  // Hands back what was read, except the record whose values are still
  // being taken (its later values would be overwritten).
  void release() {
    held_bytes = 0;
    if (rest.empty()) {
      consumer.release();
      held_records = 0;
    } else {
      consumer.release_to(rest_start);
      held_records = 1;  // the kept record: settle() must come back for it
    }
  }
  bool over_threshold() const noexcept {
    return held_bytes >= batch_bytes_limit || held_records >= kBatchRecords;
  }
  // A receive call starts: views from the previous one are dead.
  void begin_call() {
    if (borrows && over_threshold()) release();
  }
  // True when the record being read has something left (values, or a part
  // not copied yet), or one more record was read into `rest`; false when
  // none is published now. Errors: the ring's (reworded; the end of the
  // stream drops an unfinished value in parts), or Deserialization for a
  // record that is no value or part record, or a malformed part (consumed).
  Result<bool> fill() {
    if (!rest.empty()) return true;
    auto next = consumer.try_read();
    if (!next) return ended(std::move(next).error());
    if (!*next) return false;
    if (auto ok = accept(**next); !ok) return std::move(ok).error();
    return true;
  }
  // The ring reported the end of the stream (or corruption): a value in parts
  // still unfinished was abandoned by its sender.
  Error ended(Error e) {
    drop_parts();
    return receiver_ring_error(std::move(e));
  }
  // Takes `record` (just read) as the one whose values or part come next.
  // Checks a part against the value in progress here, but copies nothing:
  // a batch may leave the part for the next call (see take_next).
  Result<void> accept(const RingRecord& record) {
    ++held_records;
    held_bytes += static_cast<std::uint32_t>(ring_record_bytes(record.payload.size()));
    const std::size_t size = record.payload.size();
    switch (record.tag) {
      case stream_tag::kValue:
        if (size == 0) return bad_record(record);
        drop_parts();  // abandoned by its sender, whose send reported an error
        break;
      case stream_tag::kFirstPart: {
        drop_parts();
        if (size < kPartLengthBytes) return bad_part(record, "shorter than the 8-byte value length it starts with");
        std::uint64_t length = 0;
        std::memcpy(&length, record.payload.data(), kPartLengthBytes);  // little-endian host
        if (length == 0 || length > kMaxPartedBytes) {
          return bad_part(record, "announces a value of " + std::to_string(length) +
                                      " bytes; a value in parts has 1 to 1073741824 (1 GiB)");
        }
        if (size - kPartLengthBytes > length) {
          return bad_part(record, "runs past the " + std::to_string(length) + " bytes of the value it announces");
        }
        parts_size = static_cast<std::size_t>(length);
        break;
      }
      case stream_tag::kNextPart:
        if (parts_size == 0) return bad_part(record, "no value in parts is in progress (a first part, tag 1, starts one)");
        if (size == 0) return bad_part(record, "a part carries at least one byte");
        if (size > parts_size - parts_done) {
          const std::size_t total = parts_size;
          drop_parts();
          return bad_part(record, "runs past the " + std::to_string(total) +
                                      " bytes its value announced (the value is dropped)");
        }
        break;
      default:
        return bad_record(record);
    }
    rest = record.payload;
    rest_tag = record.tag;
    rest_start = consumer.record_start();
    return {};
  }
  // Copies the part in `rest` into the value in progress and hands the
  // record (and everything read before it) back to the sender at once: the
  // value may be larger than the ring, and the sender needs the room. True
  // once the value is whole: whole_value() then has it.
  bool take_part() {
    std::span<const std::byte> bytes = rest;
    if (rest_tag == stream_tag::kFirstPart) {
      bytes = bytes.subspan(kPartLengthBytes);
      // The buffer grows with the bytes that arrive, never to what a first
      // part merely announces (up to 1 GiB from a broken sender); its
      // capacity stays for the next value. Views into the last value in
      // parts die here, in a new receive call.
      assembly.clear();
    }
    assembly.insert(assembly.end(), bytes.begin(), bytes.end());
    parts_done += bytes.size();
    rest = {};
    release();
    return parts_done == parts_size;
  }
  // The encoding of the value whose last part take_part() just copied;
  // valid until the next value in parts starts (in a later receive call).
  std::span<const std::byte> whole_value() noexcept {
    std::span<const std::byte> value(assembly.data(), parts_size);
    drop_parts();
    return value;
  }
  void drop_parts() noexcept {
    parts_size = 0;
    parts_done = 0;
  }
  void note_value(std::size_t payload) {
    counter_add(shared->rx.messages, 1);
    counter_add(shared->rx.bytes, payload);
  }
  // The receive call returns. Owning values: release per batch, and at the
  // latest when this handler of the scheduler returns.
  void settle() {
    if (borrows || held_records == 0) return;
    if (over_threshold()) {
      release();
    } else {
      (void)defer_to_current();  // off a scheduler: by threshold, and before blocking
    }
  }
  void close() {
    if (closed) return;
    closed = true;
    rest = {};
    drop_parts();
    assembly = {};
    consumer.close();  // releases, marks the ring closed, wakes the sender
    held_records = 0;
    held_bytes = 0;
    end_pending(Error::make(ErrorKind::Closed, "recv ended: the receiver was closed", kStreamOrigin));
  }

  RingConsumer consumer;
  const bool borrows;  // T holds views into the ring
  // The values of the record being read that were not taken yet (or its
  // part, not copied yet), its tag, and where that record begins (release()
  // keeps it).
  std::span<const std::byte> rest;
  std::uint32_t rest_tag = stream_tag::kValue;
  std::uint32_t rest_start = 0;
  // A value arriving in parts: its first parts_done of parts_size bytes, in
  // `assembly` (kept for the next one). parts_size 0: none in progress.
  std::vector<std::byte> assembly;
  std::size_t parts_size = 0;
  std::size_t parts_done = 0;
  std::uint32_t held_records = 0;  // read and not yet released
  std::uint32_t held_bytes = 0;
  std::optional<Error> pending_error;  // found by a batch after it had values
};

// Ring errors, reworded for the stream's user.
inline Error sender_ring_error(Error e) {
  if (e.kind == ErrorKind::Closed) {
    return Error::make(ErrorKind::Closed, "the receiver closed the stream", kStreamOrigin);
  }
  return e;
}
inline Error receiver_ring_error(Error e) {
  if (e.kind == ErrorKind::Closed) {
    return Error::make(ErrorKind::Closed, "the sender closed the stream and every value was received",
                       kStreamOrigin);
  }
  return e;
}
// MessageTooLarge for a value of `size` encoded bytes that this send cannot
// carry, else nullopt: over 1 GiB for any send; over one record for one that
// never waits (try_send), since a value in parts needs the receiver to make
// room between its parts. index/batch name the value in a batch.
inline std::optional<Error> size_error(std::size_t size, std::uint32_t capacity, bool one_record,
                                       std::size_t index = 0, bool batch = false) {
  const std::size_t record = capacity - ring_layout::kRecordHeaderBytes;
  if (size <= (one_record ? record : kMaxPartedBytes)) [[likely]] return std::nullopt;
  std::string what = (batch ? "value #" + std::to_string(index) : std::string("value")) + " encodes to " +
                     std::to_string(size) + " bytes, more than ";
  if (size > kMaxPartedBytes) {
    what += "the 1 GiB a stream value may have";
  } else {
    what += "the " + std::to_string(record) + " bytes one record of this stream can carry (ring capacity " +
            std::to_string(capacity) + " minus the 8-byte record header): try_send never waits, so it sends "
            "only values that fit one record; send() or send_blocking() send larger ones in parts";
  }
  return Error::make(ErrorKind::MessageTooLarge, what + "; nothing was sent", kStreamOrigin);
}
inline Error endpoint_closed_error(const EndCore* core, const char* op) {
  return Error::make(ErrorKind::Closed,
                     std::string(op) + (core == nullptr ? " on an empty or moved-from endpoint" : " after close()"),
                     kStreamOrigin);
}
inline Error busy_error(const char* op) {
  return Error::make(ErrorKind::InvalidArgument,
                     std::string(op) + " while another operation is pending on this endpoint "
                                       "(one operation at a time per endpoint)",
                     kStreamOrigin);
}

[[gnu::cold]] inline Error bad_record(const RingRecord& record) {
  if (record.tag != stream_tag::kValue) {
    return Error::make(ErrorKind::Deserialization,
                       "stream record with tag " + std::to_string(record.tag) +
                           ": this receiver reads tags 0 to 2 (codec values and parts of one); see "
                           "stream/STREAMS.md",
                       kStreamOrigin);
  }
  return Error::make(ErrorKind::Deserialization, "empty stream record (tag 0 carries at least one value)",
                     kStreamOrigin);
}
[[gnu::cold]] inline Error bad_part(const RingRecord& record, const std::string& why) {
  return Error::make(ErrorKind::Deserialization,
                     std::string(record.tag == stream_tag::kFirstPart ? "first" : "next") + " part record (tag " +
                         std::to_string(record.tag) + ") of " + std::to_string(record.payload.size()) +
                         " bytes: " + why,
                     kStreamOrigin);
}

// The next value of the record being read (core.rest must not be empty), or
// why not. The value is consumed either way: one of another type is skipped,
// and bytes that are no value at all end the record.
template <class T>
Result<T> take_value(ReceiverCore& core) {
  Reader reader(core.rest);
  Result<T> value = decode<T>(reader);
  if (value) [[likely]] {
    core.note_value(reader.position());
    core.rest = core.rest.subspan(reader.position());
    return value;
  }
  Reader skip(core.rest);
  core.rest = skip_value(skip) ? core.rest.subspan(skip.position()) : std::span<const std::byte>{};
  return value;
}

// The value whose parts take_part() just completed, decoded as from a record
// holding that one value: it must use every byte.
template <class T>
Result<T> take_whole_value(ReceiverCore& core) {
  const std::span<const std::byte> bytes = core.whole_value();
  Reader reader(bytes);
  Result<T> value = decode<T>(reader);
  if (!value) return value;
  if (!reader.at_end()) {
    return Error::make(ErrorKind::Deserialization,
                       "value in parts decodes from " + std::to_string(reader.position()) + " of its " +
                           std::to_string(bytes.size()) + " bytes (a value in parts is exactly one value)",
                       kStreamOrigin);
  }
  core.note_value(bytes.size());
  return value;
}

// The next value from what is published now, or nullopt while none is
// complete. A value in parts is put together from its part records, each
// handed back to the sender once copied. stop_at_part: return nullopt at a
// part instead, leaving it for the next call (a batch that holds views must
// not release the records they point into, nor reuse the buffer a value in
// parts was put together in).
template <class T>
Result<std::optional<T>> take_next(ReceiverCore& core, bool stop_at_part = false) {
  for (;;) {
    auto filled = core.fill();
    if (!filled) return std::move(filled).error();
    if (!*filled) return std::optional<T>{};
    const bool in_parts = core.rest_tag != stream_tag::kValue;
    if (in_parts) {
      if (stop_at_part) return std::optional<T>{};
      if (!core.take_part()) continue;
    }
    Result<T> value = in_parts ? take_whole_value<T>(core) : take_value<T>(core);
    if (!value) return std::move(value).error();
    return std::optional<T>(std::move(value).value());
  }
}

// What every awaited operation shares: the checks before it starts, parking
// on the scheduler with a deadline and a cancellation callback, and the
// bookkeeping when it resumes. Derived ops provide step() (do as much as the
// ring allows now; true when finished), poll() and arm().
class OpBase : public RingWait {
 public:
  OpBase(const OpBase&) = delete;
  OpBase& operator=(const OpBase&) = delete;

  void fail(Error e) override {
    error_ = e.kind == ErrorKind::Timeout ? timeout_error() : std::move(e);
  }

 protected:
  // op: "send", "recv_batch"...; why: what the wait was for, for messages.
  OpBase(EndCore* core, const StreamWaitOptions& opts, const char* op, const char* why,
         const char* scheduler_field, const char* blocking_variant) noexcept
      : core_(core), timeout_(opts.timeout), cancel_(opts.cancel.get() ? *opts.cancel.get() : CancelToken{}),
        op_(op), why_(why), field_(scheduler_field), blocking_(blocking_variant) {}
  ~OpBase() override { release_busy(); }

  // Checks before the operation touches the ring; false: error_ says why.
  bool start() {
    if (core_ == nullptr || core_->closed) {
      error_ = endpoint_closed_error(core_, op_);
      return false;
    }
    if (core_->busy) {
      error_ = busy_error(op_);
      return false;
    }
    Scheduler* s = Scheduler::current();
    if (s == nullptr) {
      error_ = Error::make(ErrorKind::InvalidArgument,
                           std::string("co_await ") + op_ +
                               " needs a scheduler on this thread (Scheduler::current() is null); on a plain "
                               "thread use " + blocking_ + " or the try_ variant",
                           kStreamOrigin);
      return false;
    }
    // Checked on every call, not only when about to suspend, so that a stream
    // wired to the wrong executor fails in the first test, not under load.
    if (&s->doorbell() != core_->bell) {
      error_ = Error::make(ErrorKind::InvalidArgument,
                           std::string("stream was made for another executor: pass it as ") + field_ +
                               " in make_stream (co_await " + op_ +
                               " runs on a scheduler whose doorbell is not this ring's bell, so it would never "
                               "be woken)",
                           kStreamOrigin);
      return false;
    }
    if (cancel_.is_cancelled()) {
      error_ = Error::make(ErrorKind::Cancelled, std::string(op_) + " cancelled before it started", kStreamOrigin);
      return false;
    }
    sched_ = s;
    core_->busy = true;
    owns_busy_ = true;
    return true;
  }
  // False (with Timeout) when the options forbid waiting at all.
  bool may_wait() {
    if (timeout_.count() != 0) return true;
    error_ = timeout_error();
    return false;
  }
  void suspend(coro::coroutine_handle<> h) {
    handle = h;
    suspended_at_ = Clock::now();
    if (timeout_.count() > 0) deadline = suspended_at_ + timeout_;
    id_ = sched_->park(*this);
    core_->pending_sched = sched_;
    core_->pending_id = id_;
    if (cancel_.can_be_cancelled()) {
      // Runs on the cancelling thread; Scheduler::cancel hands it to our
      // scheduler, which fails this wait only if it is still parked. The
      // callback lives here, so its destructor (in finish) deregisters it.
      cancel_cb_.emplace(cancel_, [s = sched_, id = id_, op = op_] {
        s->cancel(id, Error::make(ErrorKind::Cancelled, std::string(op) + " cancelled", kStreamOrigin));
      });
    }
  }
  // Resumed (or never suspended): undo what start() and suspend() did.
  void finish(std::atomic<std::uint64_t>& waited_ns) {
    if (id_ != 0) {
      cancel_cb_.reset();  // waits if the callback is running on another thread now
      counter_add(waited_ns, elapsed_ns(suspended_at_));
      core_->pending_sched = nullptr;
      core_->pending_id = 0;
      id_ = 0;
    }
    release_busy();
  }

  EndCore* core_;
  std::chrono::nanoseconds timeout_;
  CancelToken cancel_;  // a copy: the caller's token need not outlive the wait
  std::optional<Error> error_;
  Scheduler* sched_ = nullptr;

 private:
  Error timeout_error() const {
    return Error::make(ErrorKind::Timeout,
                       std::string(op_) + " timed out after " + describe_duration(timeout_) + ": " + why_,
                       kStreamOrigin);
  }
  void release_busy() noexcept {
    if (owns_busy_) {
      core_->busy = false;
      owns_busy_ = false;
    }
  }

  const char* op_;
  const char* why_;
  const char* field_;
  const char* blocking_;
  std::uint64_t id_ = 0;
  Clock::time_point suspended_at_{};
  std::optional<CancelCallback> cancel_cb_;
  bool owns_busy_ = false;
};

// Does a decoded T point into the ring (so its record must stay unreleased
// until the next receive call)? Views, and anything holding one. Depth-limited
// so recursive structs terminate (answering "yes", the safe side).
template <class T, int Depth>
struct BorrowsImpl : std::false_type {};
template <class T, int Depth>
using Borrows = std::conditional_t<(Depth <= 0), std::true_type, BorrowsImpl<std::remove_cv_t<T>, Depth>>;

template <int D>
struct BorrowsImpl<std::string_view, D> : std::true_type {};
template <int D>
struct BorrowsImpl<std::span<const std::byte>, D> : std::true_type {};
template <int D>
struct BorrowsImpl<std::span<const std::uint8_t>, D> : std::true_type {};
template <class T, int D>
struct BorrowsImpl<std::optional<T>, D> : Borrows<T, D - 1> {};
template <class T, int D>
struct BorrowsImpl<Result<T>, D> : Borrows<T, D - 1> {};
template <class T, class A, int D>
struct BorrowsImpl<std::vector<T, A>, D> : Borrows<T, D - 1> {};
template <class T, std::size_t N, int D>
struct BorrowsImpl<std::array<T, N>, D> : Borrows<T, D - 1> {};
template <class A, class B, int D>
struct BorrowsImpl<std::pair<A, B>, D> : std::disjunction<Borrows<A, D - 1>, Borrows<B, D - 1>> {};
template <class... Ts, int D>
struct BorrowsImpl<std::tuple<Ts...>, D> : std::disjunction<Borrows<Ts, D - 1>...> {};
template <class... Ts, int D>
struct BorrowsImpl<std::variant<Ts...>, D> : std::disjunction<Borrows<Ts, D - 1>...> {};
template <class K, class V, class C, class A, int D>
struct BorrowsImpl<std::map<K, V, C, A>, D> : std::disjunction<Borrows<K, D - 1>, Borrows<V, D - 1>> {};
template <class K, class V, class H, class E, class A, int D>
struct BorrowsImpl<std::unordered_map<K, V, H, E, A>, D>
    : std::disjunction<Borrows<K, D - 1>, Borrows<V, D - 1>> {};

template <class Info, int D>
struct StructBorrows;
template <class S, class... M, int D>
struct StructBorrows<StructInfo<S, M...>, D> : std::disjunction<Borrows<M, D>...> {};
template <class T, int D>
  requires DescribedStruct<T>
struct BorrowsImpl<T, D>
    : StructBorrows<std::remove_cvref_t<decltype(ferry_struct_info(static_cast<const T*>(nullptr)))>, D - 1> {};

template <class T>
inline constexpr bool kBorrowsRing = Borrows<T, 8>::value;

}  // namespace ferry::detail
