// ferry ring benchmark, throughput: messages/s of 8 B and 64 B values, one by one, batched and packed, producer thread -> consumer.
// Part of bench/ring_bench.cpp, the one translation unit that includes it
// (after its includes, the `fb` alias and its using-declarations, and after bench/ring/common.hpp).
#pragma once

namespace {

// --- Throughput: producer on a thread, consumer (and clock) on main ------------
//
// Every side below captures its inputs by value and writes its results back
// once, after its timed loop: fb::run_pair moves each side onto the stack of
// the thread that runs it, so nothing one side touches per message can share
// a cache line with the other side.

template <class T>
RunResult ferry_throughput(std::uint64_t n, bool batched) {
  auto [prod, cons] = attach(ring_memory(ring_capacity_for<T>()).fresh());
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, batched, cons = std::move(cons), &out, &seen]() mutable {
        Seen local;
        const auto t0 = fb::Clock::now();
        fb::ring_read_spinning(cons, n, batched ? kBatch : 1, [&](const ferry::RingRecord& rec) {
          if (rec.tag != kTag || rec.payload.size() != sizeof(T)) {
            ++local.bad;
          } else {
            T m;
            std::memcpy(&m, rec.payload.data(), sizeof m);
            local.checksum = fold(local.checksum, digest(m));
          }
          ++local.count;
        });
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, batched, prod = std::move(prod)]() mutable {
        fb::ring_write_spinning(prod, kTag, n, batched ? kBatch : 1, [](std::uint64_t i) { return make<T>(i); });
      });
  fb::check_seen("ferry", seen, n, expected_checksum<T>(n));
  return out;
}

// Records that each hold a batch of values back to back (core/RING.md,
// "Growing the last record"): one header and one padding per batch of 64
// values, not per value. `produce(prod, n)` writes them; the consumer reads
// each record's values in place and releases it.
template <class T, class Produce>
RunResult ferry_packed_run(std::uint64_t n, const char* name, Produce produce) {
  auto [prod, cons] = attach(ring_memory(ring_capacity_for<T>()).fresh());
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, cons = std::move(cons), &out, &seen]() mutable {
        Seen local;
        const auto t0 = fb::Clock::now();
        fb::Spinner spin;
        while (local.count < n) {
          auto r = cons.try_read();
          if (!r) fb::fail("ferry try_read: " + r.error().describe());
          if (!*r) {
            cons.release();
            spin.spin();
            continue;
          }
          const auto payload = (*r)->payload;
          if ((*r)->tag != kTag || payload.size() % sizeof(T) != 0) ++local.bad;
          for (std::size_t at = 0; at + sizeof(T) <= payload.size(); at += sizeof(T)) {
            T m;
            std::memcpy(&m, payload.data() + at, sizeof m);
            local.checksum = fold(local.checksum, digest(m));
            ++local.count;
          }
          cons.release();  // one record is one batch
          spin = fb::Spinner{};
        }
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, prod = std::move(prod), produce]() mutable { produce(prod, n); });
  fb::check_seen(name, seen, n, expected_checksum<T>(n));
  return out;
}

// Values one at a time, as a stream sends them: each grows the batch's
// record (try_extend), the first of a batch starts it; one publish per batch.
template <class T>
RunResult ferry_packed_throughput(std::uint64_t n) {
  return ferry_packed_run<T>(n, "ferry packed", [](ferry::RingProducer& prod, std::uint64_t n) {
    for (std::uint64_t i = 0; i < n; ++i) {
      const T m = make<T>(i);
      std::byte* at = i % kBatch == 0 ? nullptr : prod.try_extend(sizeof m);
      if (at != nullptr) {
        std::memcpy(at, &m, sizeof m);
        prod.commit_extend(sizeof m);
      } else {
        for (fb::Spinner spin;;) {
          auto r = prod.try_write(kTag, std::as_bytes(std::span<const T, 1>(&m, 1)));
          if (!r) fb::fail("ferry try_write: " + r.error().describe());
          if (*r) break;
          prod.publish();
          spin.spin();
        }
      }
      if ((i + 1) % kBatch == 0) prod.publish();
    }
    prod.publish();
  });
}

// A batch of values in an array, as boost's range push takes it: one
// try_reserve for all of them, one copy in, one commit and one publish.
// (Made in an array first, as for boost: making 64-byte values straight into
// the ring measured half as fast on 2 cores, 28 vs 63 Mmsg/s.)
template <class T>
RunResult ferry_reserved_throughput(std::uint64_t n) {
  return ferry_packed_run<T>(n, "ferry reserved", [](ferry::RingProducer& prod, std::uint64_t n) {
    T buf[kBatch];
    for (std::uint64_t i = 0; i < n; i += kBatch) {
      const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, n - i));
      for (std::size_t j = 0; j < k; ++j) buf[j] = make<T>(i + j);
      std::byte* at = nullptr;
      for (fb::Spinner spin;;) {
        auto r = prod.try_reserve(k * sizeof(T), kTag);
        if (!r) fb::fail("ferry try_reserve: " + r.error().describe());
        if ((at = *r) != nullptr) break;
        spin.spin();
      }
      std::memcpy(at, buf, k * sizeof(T));
      prod.commit(k * sizeof(T));
      prod.publish();
    }
  });
}

template <class T>
RunResult boost_throughput(std::uint64_t n, bool batched) {
  auto queue = std::make_unique<boost::lockfree::spsc_queue<T>>(kInFlight);
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, batched, q = queue.get(), &out, &seen] {
        Seen local;
        Spinner s;
        const auto t0 = fb::Clock::now();
        if (batched) {
          T buf[kBatch];
          while (local.count < n) {
            const std::size_t k = q->pop(buf, kBatch);
            if (k == 0) { s.spin(); continue; }
            for (std::size_t j = 0; j < k; ++j) local.checksum = fold(local.checksum, digest(buf[j]));
            local.count += k;
            s = Spinner{};
          }
        } else {
          T m;
          while (local.count < n) {
            if (!q->pop(m)) { s.spin(); continue; }
            local.checksum = fold(local.checksum, digest(m));
            ++local.count;
            s = Spinner{};
          }
        }
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, batched, q = queue.get()] {
        if (batched) {
          T buf[kBatch];
          for (std::uint64_t i = 0; i < n; i += kBatch) {
            const std::size_t k = static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, n - i));
            for (std::size_t j = 0; j < k; ++j) buf[j] = make<T>(i + j);
            std::size_t done = 0;
            for (Spinner s; done < k;) {
              const std::size_t pushed = q->push(buf + done, k - done);
              done += pushed;
              if (pushed == 0) s.spin();
            }
          }
        } else {
          for (std::uint64_t i = 0; i < n; ++i) {
            const T m = make<T>(i);
            for (Spinner s; !q->push(m);) s.spin();
          }
        }
      });
  fb::check_seen("boost::spsc", seen, n, expected_checksum<T>(n));
  return out;
}

// ReaderWriterQueue has no bulk API: the batched cases use this one-by-one run.
template <class T>
RunResult rwq_throughput(std::uint64_t n) {
  auto queue = std::make_unique<moodycamel::ReaderWriterQueue<T>>(kInFlight);
  RunResult out;
  Seen seen;
  fb::run_pair(
      [n, q = queue.get(), &out, &seen] {
        Seen local;
        Spinner s;
        T m;
        const auto t0 = fb::Clock::now();
        while (local.count < n) {
          if (!q->try_dequeue(m)) { s.spin(); continue; }
          local.checksum = fold(local.checksum, digest(m));
          ++local.count;
          s = Spinner{};
        }
        out.seconds = fb::seconds_since(t0);
        seen = local;
      },
      [n, q = queue.get()] {
        for (std::uint64_t i = 0; i < n; ++i) {
          const T m = make<T>(i);
          // try_enqueue never allocates: the queue stays at its initial size.
          for (Spinner s; !q->try_enqueue(m);) s.spin();
        }
      });
  fb::check_seen("moodycamel::RWQ", seen, n, expected_checksum<T>(n));
  return out;
}

}  // namespace
