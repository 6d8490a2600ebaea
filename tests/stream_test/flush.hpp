// stream_test, flush: when batched values are published, and wrong use (another
// executor, no scheduler, blocking on an executor, bad records and values).
// Part of tests/stream_test.cpp, the one translation unit of that test binary:
// it includes its parts after the helpers they share, so the cases are grouped
// by concern without another compile of GoogleTest and ferry per part.
#pragma once

// --- flush policy -----------------------------------------------------------------

TEST(Stream, NoValueIsStrandedWhenTheSenderAwaitsSomethingElseForever) {
  StreamPair<int> s, never;
  Running a, b;
  s = must(make_stream<int>({.capacity = 64 * 1024, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  never = must(make_stream<int>({.capacity = 256, .receiver_scheduler = &a.ex}));
  auto sender = start(a, [](Sender<int>& tx, Receiver<int>& never) -> Task<Result<int>> {
    if (auto ok = co_await tx.send(42); !ok) co_return ok.error();  // one record: below every threshold
    co_return co_await never.recv();  // suspends until the test ends it
  }(s.tx, never.rx));
  auto got = get(start(b, [](Receiver<int>& rx) -> Task<Result<int>> { co_return co_await rx.recv({.timeout = 20s}); }(s.rx)));
  ASSERT_TRUE(got.ok()) << describe(got.error());
  EXPECT_EQ(*got, 42);
  never.tx.close();
  EXPECT_EQ(get(sender).error().kind, ErrorKind::Closed);
}

TEST(Stream, NoValueIsStrandedWhenAPlainHandlerSendsAndTheExecutorIdles) {
  StreamPair<std::string> s;
  Running a, b;
  s = must(make_stream<std::string>({.capacity = 64 * 1024, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  a.ex.post([&] { EXPECT_TRUE(*s.tx.try_send("from a handler")); });
  auto got = get(start(b, [](Receiver<std::string>& rx) -> Task<Result<std::string>> {
    co_return co_await rx.recv({.timeout = 20s});
  }(s.rx)));
  ASSERT_TRUE(got.ok()) << describe(got.error());
  EXPECT_EQ(*got, "from a handler");
}

TEST(Stream, SendsInOneSliceArePublishedTogetherWhenTheCoroutineSuspends) {
  Running a;
  Wired<int> s(4096, &a.ex, nullptr);
  auto done = start(a, [](Sender<int>& tx, const OwnRing& ring) -> Task<Result<std::uint32_t>> {
    for (int i = 0; i < 10; ++i) {
      if (auto ok = co_await tx.send(i); !ok) co_return ok.error();
    }
    if (ring.word(ring_layout::kTailOffset) != 0) co_return Error::make(ErrorKind::InvalidArgument, "published early");
    struct Yield {  // suspend on something unrelated; the executor resumes us next round
      bool await_ready() { return false; }
      void await_suspend(coro::coroutine_handle<> h) { Scheduler::current()->post([h]() mutable { h.resume(); }); }
      void await_resume() {}
    };
    co_await Yield{};
    co_return ring.word(ring_layout::kTailOffset);
  }(s.tx, s.ring));
  auto tail = get(done);
  ASSERT_TRUE(tail.ok()) << describe(tail.error());
  // The ten 5-byte values share one record: 8 header bytes + 50 padded to 56.
  EXPECT_EQ(*tail, ring_record_bytes(10 * 5)) << "one batch in one record, published when the coroutine suspended";
}

TEST(StreamExecutor, ASpawnedTaskIsReportedDoneOnlyAfterItsBatchedSendsArePublished) {
  // A task's outcome goes to another thread (a future, here); that thread may
  // then read the stream or destroy the sender. So the executor must publish
  // the task's batch before it reports the outcome, not after the handler.
  Running a;
  Wired<int> s(4096, &a.ex, nullptr);
  std::promise<std::uint32_t> tail_when_done;
  a.ex.spawn([](Sender<int>& tx) -> Task<Result<void>> { co_return co_await tx.send(1); }(s.tx),
             [&](Result<void>) { tail_when_done.set_value(s.ring.word(ring_layout::kTailOffset)); });
  auto f = tail_when_done.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get(), ring_record_bytes(5)) << "the send was still unpublished when the task was reported done";
}

TEST(Stream, FlushPublishesAtOnceAndReleaseHandsRoomBack) {
  Running a;
  Wired<int> s(4096, &a.ex, &a.ex);
  auto r = get(start(a, [](Wired<int>& s) -> Task<Result<std::uint32_t>> {
    if (auto ok = co_await s.tx.send(1); !ok) co_return ok.error();
    const std::uint32_t before = s.ring.word(ring_layout::kTailOffset);
    s.tx.flush();
    if (s.ring.word(ring_layout::kTailOffset) == before) co_return Error::make(ErrorKind::InvalidArgument, "not published");
    auto v = co_await s.rx.recv();
    if (!v) co_return v.error();
    s.rx.release();
    co_return s.ring.word(ring_layout::kHeadOffset);
  }(s)));
  ASSERT_TRUE(r.ok()) << describe(r.error());
  EXPECT_EQ(*r, ring_record_bytes(5));
}

// --- wrong use ------------------------------------------------------------------------

TEST(Stream, AwaitingOnAnotherExecutorFailsAndSaysHowToFixIt) {
  StreamPair<int> s, t;
  Running a, b;
  s = must(make_stream<int>({.capacity = 256, .sender_scheduler = &a.ex, .receiver_scheduler = &a.ex}));
  auto r = get(start(b, [](Receiver<int>& rx) -> Task<Result<int>> { co_return co_await rx.recv(); }(s.rx)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(r.error().message.find("stream was made for another executor: pass it as receiver_scheduler in make_stream"),
            std::string::npos)
      << r.error().message;
  auto w = get(start(b, [](Sender<int>& tx) -> Task<Result<void>> { co_return co_await tx.send(1); }(s.tx)));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(w.error().message.find("sender_scheduler"), std::string::npos) << w.error().message;
  // Made without schedulers: every awaited call fails, not just the ones that would wait.
  t = must(make_stream<int>({.capacity = 256}));
  auto x = get(start(a, [](Sender<int>& tx) -> Task<Result<void>> { co_return co_await tx.send(1); }(t.tx)));
  EXPECT_EQ(x.error().kind, ErrorKind::InvalidArgument);
  EXPECT_TRUE(drain(t.rx).empty()) << "nothing was sent";
}

TEST(Stream, AwaitingWithoutASchedulerFailsAndPointsAtTheBlockingCalls) {
  auto s = must(make_stream<int>({.capacity = 256}));
  std::optional<Result<void>> sent;
  std::optional<Result<int>> got;
  [](Sender<int>& tx, std::optional<Result<void>>& out) -> Eager { out.emplace(co_await tx.send(1)); }(s.tx, sent);
  [](Receiver<int>& rx, std::optional<Result<int>>& out) -> Eager { out.emplace(co_await rx.recv()); }(s.rx, got);
  ASSERT_TRUE(sent && got);
  ASSERT_FALSE(sent->ok());
  EXPECT_EQ(sent->error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(sent->error().message.find("send_blocking"), std::string::npos) << sent->error().message;
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->error().kind, ErrorKind::InvalidArgument);
  EXPECT_NE(got->error().message.find("recv_blocking"), std::string::npos) << got->error().message;
}

TEST(Stream, BlockingCallsOnAnExecutorThreadFail) {
  StreamPair<int> s;
  Running a;
  s = must(make_stream<int>({.capacity = 256, .sender_scheduler = &a.ex, .receiver_scheduler = &a.ex}));
  auto r = get(start(a, [](StreamPair<int>& s) -> Task<Result<int>> {
    if (auto ok = s.tx.send_blocking(1); ok || ok.error().kind != ErrorKind::InvalidArgument) {
      co_return Error::make(ErrorKind::TaskFailed, "send_blocking did not refuse");
    }
    co_return s.rx.recv_blocking(1ms);
  }(s)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidArgument) << describe(r.error());
}

TEST(Stream, DecodingAnotherTypeIsTypeMismatchAndConsumesTheRecord) {
  OwnRing ring(256);
  auto tx = Sender<std::int32_t>::over(ring.mem);
  auto rx = Receiver<std::string>::over(ring.mem);
  ASSERT_TRUE(tx.ok() && rx.ok());
  ASSERT_TRUE(*tx->try_send(5));
  ASSERT_TRUE(*tx->try_send(6));
  auto v = rx->try_recv();
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().kind, ErrorKind::TypeMismatch);
  EXPECT_EQ(v.error().expected, "string");
  EXPECT_EQ(v.error().actual, "i32");
  auto w = rx->try_recv();
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().kind, ErrorKind::TypeMismatch) << "the second record, not the first again";
  auto x = rx->try_recv();
  ASSERT_TRUE(x.ok());
  EXPECT_FALSE(x->has_value());
}

TEST(Stream, ARecordWithAnUnknownTagIsReportedAndSkipped) {
  OwnRing ring(256);
  {
    auto raw = RingProducer::attach(ring.mem);
    ASSERT_TRUE(raw.ok());
    const std::byte junk[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
    ASSERT_TRUE(*raw->try_write(7, junk));
    auto enc = encode(std::int32_t{77});
    ASSERT_TRUE(*raw->try_write(stream_tag::kValue, *enc));
  }  // detaching publishes
  auto rx = Receiver<std::int32_t>::over(ring.mem);
  ASSERT_TRUE(rx.ok());
  auto bad = rx->try_recv();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::Deserialization);
  EXPECT_NE(bad.error().message.find("tag 7"), std::string::npos) << bad.error().message;
  auto good = rx->try_recv();
  ASSERT_TRUE(good.ok() && good->has_value());
  EXPECT_EQ(**good, 77);
}

TEST(Stream, AValueLargerThanARecordGoesInPartsAndNothingElseIsLost) {
  // 300 characters encode to 305 bytes, more than the 248 one record of a
  // 256-byte ring carries: the value goes in part records between the others
  // (tests/stream_test/parts.hpp has the details; try_send still refuses it).
  StreamPair<std::string> s;
  Running a, b;
  s = must(make_stream<std::string>({.capacity = 256, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  auto got = start(b, recv_all(s.rx));
  auto r = get(start(a, [](Sender<std::string>& tx) -> Task<Result<void>> {
    if (auto ok = co_await tx.send("before"); !ok) co_return ok;
    const std::string big(300, 'x');
    if (auto ok = co_await tx.send(big); !ok) co_return ok;
    if (auto ok = co_await tx.send("after"); !ok) co_return ok;
    tx.close();
    co_return Result<void>{};
  }(s.tx)));
  ASSERT_TRUE(r.ok()) << describe(r.error());
  auto out = get(got);
  ASSERT_TRUE(out.ok()) << describe(out.error());
  EXPECT_EQ(*out, (std::vector<std::string>{"before", std::string(300, 'x'), "after"}));
  EXPECT_EQ(s.tx.try_send(std::string(300, 'x')).error().kind, ErrorKind::Closed);
  EXPECT_EQ(s.rx.stats().messages_received, 3u);
}

TEST(Stream, AnInvalidValueIsASerializationErrorAndWritesNothing) {
  auto s = must(make_stream<std::string>({.capacity = 256}));
  ASSERT_TRUE(*s.tx.try_send("ok"));
  auto bad = s.tx.try_send(std::string("\xff\xfe"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::Serialization);
  ASSERT_TRUE(*s.tx.try_send("fine"));
  std::vector<std::string> got;
  while (true) {
    auto v = s.rx.try_recv();
    ASSERT_TRUE(v.ok());
    if (!v->has_value()) break;
    got.push_back(**v);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"ok", "fine"}));
}
