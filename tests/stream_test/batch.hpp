// stream_test, batch: zero-copy views, try/blocking/batch calls, values inside
// packed records, topologies, stats and foreign rings.
// Part of tests/stream_test.cpp, the one translation unit of that test binary:
// it includes its parts after the helpers they share, so the cases are grouped
// by concern without another compile of GoogleTest and ferry per part.
#pragma once

// --- zero copy ----------------------------------------------------------------------

TEST(Stream, StringViewsPointIntoTheRingAndStayValidUntilTheNextRecv) {
  OwnRing ring(256);
  auto tx = Sender<std::string>::over(ring.mem);
  auto rx = Receiver<std::string_view>::over(ring.mem);
  ASSERT_TRUE(tx.ok() && rx.ok());
  ASSERT_TRUE(*tx->try_send("alpha"));
  ASSERT_TRUE(*tx->try_send("beta"));
  auto a = rx->try_recv();
  ASSERT_TRUE(a.ok() && a->has_value());
  const std::string_view view = **a;
  EXPECT_EQ(view, "alpha");
  EXPECT_GE(reinterpret_cast<const std::byte*>(view.data()), ring.data());
  EXPECT_LT(reinterpret_cast<const std::byte*>(view.data()), ring.data() + ring.capacity);
  // The sender fills every byte it may; the view's record is still held.
  int more = 0;
  while (*tx->try_send("filler" + std::to_string(more))) ++more;
  EXPECT_GT(more, 0);
  EXPECT_EQ(view, "alpha") << "not overwritten before the next recv";
  auto b = rx->try_recv();
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ(**b, "beta");
  for (int i = 0; i < more; ++i) {
    auto f = rx->try_recv();
    ASSERT_TRUE(f.ok() && f->has_value());
    EXPECT_EQ(**f, "filler" + std::to_string(i));
  }
}

TEST(Stream, ByteSpansAndBorrowingBatchesOnAnExecutor) {
  Running b;
  OwnRing ring(1024, &b.ex);
  auto tx = Sender<std::vector<std::byte>>::over(ring.mem);
  auto rx = Receiver<std::span<const std::byte>>::over(ring.mem);
  ASSERT_TRUE(tx.ok() && rx.ok());
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(*tx->try_send(std::vector<std::byte>(static_cast<std::size_t>(i + 1), std::byte(i))));
  tx->close();
  auto r = get(start(b, [](Receiver<std::span<const std::byte>>& rx, std::byte* lo, std::byte* hi) -> Task<Result<int>> {
    auto batch = co_await rx.recv_batch(100);
    if (!batch) co_return batch.error();
    // Every view of the batch is valid until the next receive call, even
    // across a suspension on something else.
    co_await [] {
      struct Yield {
        bool await_ready() { return false; }
        void await_suspend(coro::coroutine_handle<> h) { Scheduler::current()->post([h]() mutable { h.resume(); }); }
        void await_resume() {}
      };
      return Yield{};
    }();
    int checked = 0;
    for (std::size_t i = 0; i < batch->size(); ++i) {
      auto v = (*batch)[i];
      if (v.size() != i + 1 || v.data() < lo || v.data() >= hi) co_return Error::make(ErrorKind::InvalidArgument, "bad view");
      for (auto byte : v) {
        if (byte != std::byte(i)) co_return Error::make(ErrorKind::InvalidArgument, "bad byte");
      }
      ++checked;
    }
    auto end = co_await rx.recv();
    if (end.ok() || end.error().kind != ErrorKind::Closed) co_return Error::make(ErrorKind::InvalidArgument, "not Closed");
    co_return checked;
  }(*rx, ring.data(), ring.data() + ring.capacity)));
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(*r, 8);
}

// --- try / blocking / batch ------------------------------------------------------------

TEST(Stream, TrySendReportsAFullRingAndTryRecvAnEmptyOne) {
  auto s = must(make_stream<std::int64_t>({.capacity = 128}));
  auto none = s.rx.try_recv();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  int n = 0;
  while (true) {
    auto ok = s.tx.try_send(n);
    ASSERT_TRUE(ok.ok());
    if (!*ok) break;
    ++n;
  }
  EXPECT_EQ(n, 128 / 24);  // i64: 9 encoded bytes, 24 ring bytes per record
  // 5 records and the 8-byte skip record the sixth wrote before finding no room.
  EXPECT_EQ(s.tx.stats().queue_bytes, 128u) << "a failed try_send publishes";
  for (int i = 0; i < n; ++i) {
    auto v = s.rx.try_recv();
    ASSERT_TRUE(v.ok() && v->has_value());
    EXPECT_EQ(**v, i);
  }
  auto empty = s.rx.try_recv();
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has_value());
  EXPECT_EQ(s.rx.stats().queue_bytes, 0u) << "an empty try_recv releases";
  EXPECT_TRUE(*s.tx.try_send(99));
}

TEST(Stream, BlockingSendAndRecvBetweenPlainThreads) {
  constexpr int kCount = 20000;
  auto s = must(make_stream<std::string>({.capacity = 512}));
  std::thread producer([&] {
    for (int i = 0; i < kCount; ++i) ASSERT_TRUE(s.tx.send_blocking(std::to_string(i), 20s).ok());
    s.tx.close();
  });
  int expect = 0;
  for (;;) {
    auto v = s.rx.recv_blocking(20s);
    if (!v) {
      EXPECT_EQ(v.error().kind, ErrorKind::Closed) << describe(v.error());
      break;
    }
    ASSERT_EQ(*v, std::to_string(expect));
    ++expect;
  }
  producer.join();
  EXPECT_EQ(expect, kCount);
  auto late = s.rx.recv_blocking(1ms);
  EXPECT_EQ(late.error().kind, ErrorKind::Closed);
}

TEST(Stream, BlockingCallsTimeOut) {
  auto s = must(make_stream<int>({.capacity = 64}));
  auto r = s.rx.recv_blocking(2ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Timeout);
  EXPECT_NE(r.error().message.find("recv_blocking timed out after 2 ms"), std::string::npos) << r.error().message;
  while (*s.tx.try_send(1)) {
  }
  auto w = s.tx.send_blocking(2, 2ms);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::Timeout);
  EXPECT_EQ(drain(s.rx), std::vector<int>(4, 1)) << "nothing of the timed-out value";
}

TEST(Stream, SendBatchAndRecvBatchMoveManyValuesPerSuspension) {
  constexpr int kCount = 5000;
  StreamPair<std::int32_t> s;
  Running a, b;
  s = must(make_stream<std::int32_t>({.capacity = 1024, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  std::vector<std::int32_t> values(kCount);
  for (int i = 0; i < kCount; ++i) values[static_cast<std::size_t>(i)] = i * 3;
  auto sent = start(a, [](Sender<std::int32_t>& tx, const std::vector<std::int32_t>& v) -> Task<Result<void>> {
    if (auto ok = co_await tx.send_batch(std::span<const std::int32_t>(v).first(10)); !ok) co_return ok;
    if (auto ok = co_await tx.send_batch(std::span<const std::int32_t>(v).subspan(10)); !ok) co_return ok;
    tx.close();
    co_return Result<void>{};
  }(s.tx, values));
  auto got = start(b, [](Receiver<std::int32_t>& rx) -> Task<Result<std::pair<std::vector<std::int32_t>, std::size_t>>> {
    std::vector<std::int32_t> out;
    std::size_t largest = 0;
    for (;;) {
      auto batch = co_await rx.recv_batch(100);
      if (!batch) {
        if (batch.error().kind == ErrorKind::Closed) break;
        co_return batch.error();
      }
      if (batch->empty() || batch->size() > 100) co_return Error::make(ErrorKind::InvalidArgument, "bad batch size");
      largest = std::max(largest, batch->size());
      out.insert(out.end(), batch->begin(), batch->end());
    }
    co_return std::make_pair(std::move(out), largest);
  }(s.rx));
  ASSERT_TRUE(get(sent).ok());
  auto out = get(got);
  ASSERT_TRUE(out.ok()) << describe(out.error());
  EXPECT_EQ(out->first, values);
  EXPECT_GT(out->second, 1u) << "batches carry more than one value";
  EXPECT_LE(s.tx.stats().queue_bytes_high_water, 1024u);
}

TEST(Stream, ABatchOnTheWrongExecutorSendsNothingAndAValueLargerThanARecordInItGoesInParts) {
  auto s = must(make_stream<std::string>({.capacity = 128}));
  StreamPair<std::string> t;
  Running a, b;
  const std::vector<std::string> v{"a", std::string(200, 'b'), "c"};  // 205 bytes: more than the 120 of a record
  auto r = get(start(a, [](Sender<std::string>& tx, const std::vector<std::string>& v) -> Task<Result<void>> {
    co_return co_await tx.send_batch(v);
  }(s.tx, v)));
  // Made without sender_scheduler: InvalidArgument, before anything is sent.
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidArgument);
  auto none = s.rx.try_recv();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  // A matching stream sends the large value in parts (a value over 1 GiB
  // fails the batch before anything is sent: tests/stream_test/parts.hpp).
  t = must(make_stream<std::string>({.capacity = 128, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  auto got = start(b, recv_all(t.rx));
  auto sent = get(start(a, [](Sender<std::string>& tx, const std::vector<std::string>& v) -> Task<Result<void>> {
    if (auto ok = co_await tx.send_batch(v); !ok) co_return ok;
    tx.close();
    co_return Result<void>{};
  }(t.tx, v)));
  ASSERT_TRUE(sent.ok()) << describe(sent.error());
  auto out = get(got);
  ASSERT_TRUE(out.ok()) << describe(out.error());
  EXPECT_EQ(*out, v);
}

TEST(Stream, ARecvBatchStopsAtABadRecordAndReportsItNext) {
  Running b;
  OwnRing ring(1024, &b.ex);
  {
    auto raw = RingProducer::attach(ring.mem);
    ASSERT_TRUE(raw.ok());
    for (std::int32_t v : {1, 2}) ASSERT_TRUE(*raw->try_write(stream_tag::kValue, *encode(v)));
    ASSERT_TRUE(*raw->try_write(stream_tag::kValue, *encode(std::string("oops"))));
    ASSERT_TRUE(*raw->try_write(stream_tag::kValue, *encode(std::int32_t{3})));
    raw->close();
  }
  auto rx = Receiver<std::int32_t>::over(ring.mem);
  ASSERT_TRUE(rx.ok());
  auto r = get(start(b, [](Receiver<std::int32_t>& rx) -> Task<Result<std::vector<std::int32_t>>> {
    std::vector<std::int32_t> seen;
    auto first = co_await rx.recv_batch(10);
    if (!first) co_return first.error();
    seen = *first;
    auto second = co_await rx.recv_batch(10);
    if (second.ok() || second.error().kind != ErrorKind::TypeMismatch) co_return Error::make(ErrorKind::InvalidArgument, "expected TypeMismatch");
    auto third = co_await rx.recv_batch(10);
    if (!third) co_return third.error();
    seen.insert(seen.end(), third->begin(), third->end());
    auto end = co_await rx.recv_batch(10);
    if (end.ok() || end.error().kind != ErrorKind::Closed) co_return Error::make(ErrorKind::InvalidArgument, "expected Closed");
    co_return seen;
  }(*rx)));
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(*r, (std::vector<std::int32_t>{1, 2, 3}));
}

// One tag-0 record holding the concatenation of `parts` (each an encoded value, or junk).
void write_packed(void* ring, std::initializer_list<std::vector<std::byte>> parts) {
  auto raw = RingProducer::attach(ring);
  ASSERT_TRUE(raw.ok());
  std::vector<std::byte> payload;
  for (const auto& p : parts) payload.insert(payload.end(), p.begin(), p.end());
  ASSERT_TRUE(*raw->try_write(stream_tag::kValue, payload));
  raw->publish();
}

TEST(Stream, AValueOfAnotherTypeInsideARecordIsSkippedAndTheValuesAfterItArrive) {
  OwnRing ring(1024, nullptr);
  write_packed(ring.mem, {*encode(std::int32_t{1}), *encode(std::string("oops")), *encode(std::int32_t{2})});
  auto rx = Receiver<std::int32_t>::over(ring.mem);
  ASSERT_TRUE(rx.ok());
  auto first = rx->try_recv();
  ASSERT_TRUE(first.ok() && *first);
  EXPECT_EQ(**first, 1);
  auto bad = rx->try_recv();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::TypeMismatch);
  EXPECT_EQ(bad.error().actual, "string");
  auto second = rx->try_recv();
  ASSERT_TRUE(second.ok() && *second) << "the value after the mismatch is read";
  EXPECT_EQ(**second, 2);
  EXPECT_EQ(rx->stats().messages_received, 2u);
}

TEST(Stream, BytesThatAreNoValueEndTheirRecordButNotTheStream) {
  OwnRing ring(1024, nullptr);
  {
    auto raw = RingProducer::attach(ring.mem);
    ASSERT_TRUE(raw.ok());
    std::vector<std::byte> first = *encode(std::int32_t{1});
    first.push_back(std::byte{0xEE});  // no wire tag
    first.push_back(std::byte{0x06});
    ASSERT_TRUE(*raw->try_write(stream_tag::kValue, first));
    ASSERT_TRUE(*raw->try_write(stream_tag::kValue, *encode(std::int32_t{3})));
    ASSERT_TRUE(*raw->try_write(stream_tag::kValue, {}));  // a value record carries at least one value
    ASSERT_TRUE(*raw->try_write(stream_tag::kValue, *encode(std::int32_t{4})));
    raw->close();
  }
  auto rx = Receiver<std::int32_t>::over(ring.mem);
  ASSERT_TRUE(rx.ok());
  auto one = rx->recv_blocking();
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, 1);
  auto junk = rx->recv_blocking();
  ASSERT_FALSE(junk.ok());
  EXPECT_EQ(junk.error().kind, ErrorKind::Deserialization);
  auto three = rx->recv_blocking();
  ASSERT_TRUE(three.ok()) << "the junk took only the rest of its record";
  EXPECT_EQ(*three, 3);
  auto empty = rx->recv_blocking();
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("empty stream record"), std::string::npos) << empty.error().message;
  auto four = rx->recv_blocking();
  ASSERT_TRUE(four.ok());
  EXPECT_EQ(*four, 4);
  EXPECT_EQ(rx->recv_blocking().error().kind, ErrorKind::Closed);
}

TEST(Stream, AReceiverHandsBackRoomWhileItIsStillReadingARecordsValues) {
  // A 128-byte ring: the sender's batches fill it, and it can only go on if
  // the receiver releases what it finished while it takes the values of a
  // record one by one (release_to keeps that record).
  constexpr int kCount = 5000;
  Running a, b;
  auto s = must(make_stream<std::int64_t>({.capacity = 128, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  std::vector<std::int64_t> values(kCount);
  for (int i = 0; i < kCount; ++i) values[static_cast<std::size_t>(i)] = i * 7919;
  auto sent = start(a, [](Sender<std::int64_t>& tx, const std::vector<std::int64_t>& v) -> Task<Result<void>> {
    if (auto ok = co_await tx.send_batch(v); !ok) co_return ok.error();
    tx.close();
    co_return Result<void>{};
  }(s.tx, values));
  auto got = get(start(b, recv_all(s.rx)));
  ASSERT_TRUE(get(sent).ok());
  ASSERT_TRUE(got.ok()) << describe(got.error());
  EXPECT_EQ(*got, values);
}

// --- topologies and stats ----------------------------------------------------------------

TEST(Stream, SenderAndReceiverOnOneExecutor) {
  constexpr int kCount = 20000;
  StreamPair<std::int64_t> s;
  Running a;
  s = must(make_stream<std::int64_t>({.capacity = 128, .sender_scheduler = &a.ex, .receiver_scheduler = &a.ex}));
  std::vector<std::int64_t> values(kCount);
  for (int i = 0; i < kCount; ++i) values[static_cast<std::size_t>(i)] = i;
  auto got = start(a, recv_all(s.rx));
  auto sent = start(a, send_all(s.tx, values));
  ASSERT_TRUE(get(sent).ok());
  auto out = get(got);
  ASSERT_TRUE(out.ok()) << describe(out.error());
  EXPECT_EQ(*out, values);
}

TEST(Stream, StatsCountMessagesBytesAndQueueDepth) {
  constexpr int kCount = 1000;
  StreamPair<std::string> s;
  Running a, b;
  s = must(make_stream<std::string>({.capacity = 1024, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  std::vector<std::string> values;
  std::uint64_t bytes = 0;
  for (int i = 0; i < kCount; ++i) {
    values.push_back(std::string(static_cast<std::size_t>(i % 50), 'z'));
    bytes += 5 + static_cast<std::uint64_t>(i % 50);
  }
  auto sent = start(a, send_all(s.tx, values));
  auto got = start(b, recv_all(s.rx));
  ASSERT_TRUE(get(sent).ok());
  ASSERT_TRUE(get(got).ok());
  // The receiver's last release is deferred to the end of its handler: wait for it.
  ASSERT_TRUE(eventually([&] { return s.rx.stats().queue_bytes == 0; }));
  const auto st = s.tx.stats();
  EXPECT_EQ(st.capacity, 1024u);
  EXPECT_EQ(st.messages_sent, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(st.messages_received, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(st.bytes_sent, bytes);
  EXPECT_EQ(st.bytes_received, bytes);
  EXPECT_GT(st.queue_bytes_high_water, 0u);
  EXPECT_LE(st.queue_bytes_high_water, 1024u);
}

TEST(Stream, EndpointsMadeOverAForeignRingKeepItAlive) {
  auto keep = std::make_shared<int>(0);
  void* mem = shared_alloc(ring_bytes(256)).value();
  ASSERT_TRUE(ring_init(mem, 256).ok());
  std::shared_ptr<void> owner(mem, [keep](void* p) { shared_free(p); });
  std::weak_ptr<void> watch = owner;
  {
    auto tx = Sender<int>::over(mem, owner);
    auto rx = Receiver<int>::over(mem, owner);
    owner.reset();
    ASSERT_TRUE(tx.ok() && rx.ok());
    auto second = Sender<int>::over(mem);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().kind, ErrorKind::InvalidArgument) << "single producer";
    ASSERT_TRUE(*tx->try_send(5));
    auto v = rx->try_recv();
    ASSERT_TRUE(v.ok() && v->has_value());
    EXPECT_EQ(**v, 5);
    EXPECT_FALSE(watch.expired());
  }
  EXPECT_TRUE(watch.expired());
}
