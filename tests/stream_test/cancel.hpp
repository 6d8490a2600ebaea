// stream_test, cancel: timeouts and cancellation: what a pending send or recv
// does when its time runs out, it is cancelled or its executor goes, and nothing
// is lost.
// Part of tests/stream_test.cpp, the one translation unit of that test binary:
// it includes its parts after the helpers they share, so the cases are grouped
// by concern without another compile of GoogleTest and ferry per part.
#pragma once

// --- timeouts and cancellation -----------------------------------------------------

namespace {
// Fills the ring with try_send; returns how many fitted.
int fill(Sender<int>& tx) {
  int n = 0;
  while (true) {
    auto ok = tx.try_send(n);
    EXPECT_TRUE(ok.ok());
    if (!ok.ok() || !*ok) return n;
    ++n;
  }
}
// Drains with try_recv on this thread; returns the values.
std::vector<int> drain(Receiver<int>& rx) {
  std::vector<int> out;
  for (;;) {
    auto v = rx.try_recv();
    if (!v.ok() || !v->has_value()) return out;
    out.push_back(**v);
  }
}
std::vector<int> iota(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}
}  // namespace

TEST(Stream, SendTimesOutOnAFullRingAndLosesNothing) {
  StreamPair<int> s;
  Running a;
  s = must(make_stream<int>({.capacity = 256, .sender_scheduler = &a.ex}));
  const int n = get(start(a, [](Sender<int>& tx) -> Task<int> { co_return fill(tx); }(s.tx))).value();
  ASSERT_GT(n, 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = get(start(a, [](Sender<int>& tx) -> Task<Result<void>> {
    co_return co_await tx.send(999, {.timeout = 5ms});
  }(s.tx)));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 5ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Timeout);
  EXPECT_NE(r.error().message.find("send timed out after 5 ms"), std::string::npos) << r.error().message;
  auto zero = get(start(a, [](Sender<int>& tx) -> Task<Result<void>> {
    co_return co_await tx.send(998, {.timeout = 0ns});
  }(s.tx)));
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().kind, ErrorKind::Timeout);
  EXPECT_EQ(drain(s.rx), iota(n)) << "exactly what was sent before; nothing of 999";
  // The stream is still consistent.
  ASSERT_TRUE(get(start(a, [](Sender<int>& tx) -> Task<Result<void>> { co_return co_await tx.send(1000); }(s.tx))).ok());
  EXPECT_EQ(drain(s.rx), std::vector<int>{1000});
  EXPECT_GT(s.tx.stats().send_blocked_ns, 4'000'000u);
}

TEST(Stream, RecvTimesOutOnAnEmptyRingAndTheStreamGoesOn) {
  StreamPair<int> s;
  Running b;
  s = must(make_stream<int>({.capacity = 256, .receiver_scheduler = &b.ex}));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = get(start(b, [](Receiver<int>& rx) -> Task<Result<int>> { co_return co_await rx.recv({.timeout = 5ms}); }(s.rx)));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 5ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::Timeout);
  EXPECT_NE(r.error().message.find("recv timed out after 5 ms"), std::string::npos) << r.error().message;
  auto zero = get(start(b, [](Receiver<int>& rx) -> Task<Result<int>> { co_return co_await rx.recv({.timeout = 0ns}); }(s.rx)));
  EXPECT_EQ(zero.error().kind, ErrorKind::Timeout);
  ASSERT_TRUE(*s.tx.try_send(5));
  auto v = get(start(b, [](Receiver<int>& rx) -> Task<Result<int>> { co_return co_await rx.recv({.timeout = 10s}); }(s.rx)));
  ASSERT_TRUE(v.ok()) << describe(v.error());
  EXPECT_EQ(*v, 5);
  EXPECT_GT(s.rx.stats().recv_waited_ns, 4'000'000u);
}

TEST(Stream, CancellingAPendingSendEndsItWithCancelledAndLosesNothing) {
  Running a;
  Wired<int> s(256, &a.ex, nullptr);
  const int n = get(start(a, [](Sender<int>& tx) -> Task<int> { co_return fill(tx); }(s.tx))).value();
  CancelSource source;
  auto r = start(a, [](Sender<int>& tx, CancelToken t) -> Task<Result<void>> {
    co_return co_await tx.send(999, {.cancel = t});
  }(s.tx, source.token()));
  ASSERT_TRUE(eventually([&] { return s.ring.producer_parked(); }));  // suspended on the full ring
  EXPECT_EQ(r.wait_for(5ms), std::future_status::timeout);
  source.cancel();
  auto out = get(r);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::Cancelled) << describe(out.error());
  EXPECT_EQ(drain(s.rx), iota(n));
  auto again = get(start(a, [](Sender<int>& tx, CancelToken t) -> Task<Result<void>> {
    co_return co_await tx.send(1, {.cancel = t});  // already cancelled: fails at once
  }(s.tx, source.token())));
  EXPECT_EQ(again.error().kind, ErrorKind::Cancelled);
  ASSERT_TRUE(get(start(a, [](Sender<int>& tx) -> Task<Result<void>> { co_return co_await tx.send(7); }(s.tx))).ok());
  EXPECT_EQ(drain(s.rx), std::vector<int>{7});
}

TEST(Stream, CancellingAPendingRecvEndsItWithCancelled) {
  Running b;
  Wired<int> s(256, nullptr, &b.ex);
  CancelSource source;
  auto r = start(b, [](Receiver<int>& rx, CancelToken t) -> Task<Result<int>> {
    co_return co_await rx.recv({.timeout = 60s, .cancel = t});
  }(s.rx, source.token()));
  ASSERT_TRUE(eventually([&] { return s.ring.consumer_parked(); }));
  std::thread canceller([&] { source.cancel(); });  // from yet another thread
  canceller.join();
  auto out = get(r);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::Cancelled) << describe(out.error());
  ASSERT_TRUE(*s.tx.try_send(3));
  auto v = get(start(b, [](Receiver<int>& rx) -> Task<Result<int>> { co_return co_await rx.recv(); }(s.rx)));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 3);
}

namespace {
// Cancels sources handed to it, on its own thread, as soon as it can. Started
// from the test's main thread: under Emscripten a thread started from a
// worker needs the (blocked) main thread to spawn it.
class Canceller {
 public:
  Canceller() : thread_([this] { loop(); }) {}
  ~Canceller() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void cancel_soon(std::shared_ptr<CancelSource> s) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(s));
    }
    cv_.notify_one();
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto s = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      s->cancel();
      lock.lock();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<CancelSource>> queue_;
  bool stop_ = false;
  std::thread thread_;
};
}  // namespace

TEST(Stream, CancellationRacingCompletionAlwaysEndsConsistently) {
  // Cancel while values flow: each operation either completes or is
  // cancelled; either way the values seen are exactly the ones sent, in order.
  StreamPair<int> s;
  Canceller canceller;
  Running a, b;
  s = must(make_stream<int>({.capacity = 64, .sender_scheduler = &a.ex, .receiver_scheduler = &b.ex}));
  constexpr int kRounds = 300;
  auto sent = start(a, [](Sender<int>& tx, Canceller& c) -> Task<Result<int>> {
    int next = 0;
    for (int round = 0; round < kRounds; ++round) {
      auto src = std::make_shared<CancelSource>();
      const CancelToken token = src->token();
      c.cancel_soon(src);
      auto ok = co_await tx.send(next, {.cancel = token});
      if (ok) {
        ++next;
      } else if (ok.error().kind != ErrorKind::Cancelled) {
        co_return ok.error();
      }
    }
    tx.close();
    co_return next;
  }(s.tx, canceller));
  auto got = start(b, [](Receiver<int>& rx, Canceller& c) -> Task<Result<int>> {
    int expect = 0;
    for (;;) {
      auto src = std::make_shared<CancelSource>();
      const CancelToken token = src->token();
      c.cancel_soon(src);
      auto v = co_await rx.recv({.cancel = token});
      if (v) {
        if (*v != expect) co_return Error::make(ErrorKind::InvalidArgument, "out of order");
        ++expect;
      } else if (v.error().kind == ErrorKind::Closed) {
        co_return expect;
      } else if (v.error().kind != ErrorKind::Cancelled) {
        co_return v.error();
      }
    }
  }(s.rx, canceller));
  auto n_sent = get(sent);
  ASSERT_TRUE(n_sent.ok()) << describe(n_sent.error());
  auto n_got = get(got);
  ASSERT_TRUE(n_got.ok()) << describe(n_got.error());
  EXPECT_EQ(*n_sent, *n_got);
}

TEST(Stream, DestroyingTheExecutorEndsAPendingRecvWithCancelled) {
  std::optional<OwnRing> ring;  // outlives the executor and the frame it destroys
  std::future<Result<int>> r;
  {
    Running b;
    ring.emplace(256, &b.ex);
    auto rx = Receiver<int>::over(ring->mem);
    ASSERT_TRUE(rx.ok());
    r = start(b, [](Receiver<int> rx) -> Task<Result<int>> { co_return co_await rx.recv(); }(std::move(*rx)));
    ASSERT_TRUE(eventually([&] { return ring->consumer_parked(); }));
  }
  auto out = get(r);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::Cancelled) << describe(out.error());
}
