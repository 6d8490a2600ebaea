// workers_pool_test, streams: stream tasks: order, unknown tasks, crashes, and a
// million messages through a pipeline.
// Part of tests/workers_pool_test.cpp, the one translation unit of that test binary:
// it includes its parts after the helpers they share, so the cases are grouped
// by concern without another compile of GoogleTest and ferry per part.
#pragma once

namespace pool_test {

Task<void> shout(Receiver<std::string> in, Sender<std::string> out, std::string suffix) {
  while (auto v = co_await in.recv()) {
    std::string loud = *v;
    for (auto& c : loud) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    loud += suffix;
    if (!co_await out.send(loud)) co_return;
  }
}
FERRY_EXPORT_STREAM(shout);

Task<void> plus_one(Receiver<std::uint64_t> in, Sender<std::uint64_t> out) {
  while (auto v = co_await in.recv()) {
    const std::uint64_t next = *v + 1;
    if (!co_await out.send(next)) co_return;
  }
}
FERRY_EXPORT_STREAM(plus_one);

Task<void> dies_on_zero(Receiver<int> in, Sender<int> out) {
  while (auto v = co_await in.recv()) {
    if (*v == 0) crash_worker("zero received");
    if (!co_await out.send(*v)) co_return;
  }
}
FERRY_EXPORT_STREAM(dies_on_zero);

}  // namespace pool_test

TEST(PoolStream, AStreamTaskTransformsEverythingSentInOrder) {
  WorkerPool pool({.workers = 2});
  auto s = pool.stream<std::string, std::string>("shout", std::string("!"));
  ASSERT_TRUE(s.ok()) << s.error().describe();
  const int n = 20000;
  std::thread producer([&] {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(s->tx.send_blocking("msg " + std::to_string(i), 10s).ok());
    s->tx.close();
  });
  for (int i = 0; i < n; ++i) {
    auto v = s->rx.recv_blocking(10s);
    ASSERT_TRUE(v.ok()) << v.error().describe();
    ASSERT_EQ(*v, "MSG " + std::to_string(i) + "!");
  }
  auto end = s->rx.recv_blocking(10s);
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.error().kind, ErrorKind::Closed);
  producer.join();
  EXPECT_TRUE(s->done.get(10s).ok());
}

TEST(PoolStream, UnknownStreamTaskEndsTheStreamAndItsCompletionWithUnknownTask) {
  WorkerPool pool({.workers = 1});
  auto s = pool.stream<int, int>("no_such_stream");
  ASSERT_TRUE(s.ok());
  auto done = s->done.get(10s);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, ErrorKind::UnknownTask);
  auto v = s->rx.recv_blocking(10s);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().kind, ErrorKind::UnknownTask);
  auto wrong = pool.call<int>("shout", std::string("x"));
  EXPECT_EQ(wrong.get(10s).error().kind, ErrorKind::InvalidArgument);
}

TEST(PoolStream, ACrashedWorkerEndsItsStreamsWithWorkerCrashed) {
  WorkerPool pool({.workers = 2});
  auto s = pool.stream_with<int, int>({.affinity = 1}, "dies_on_zero");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s->tx.send_blocking(5, 10s).ok());
  EXPECT_EQ(*s->rx.recv_blocking(10s), 5);
  ASSERT_TRUE(s->tx.send_blocking(0, 10s).ok());
  auto v = s->rx.recv_blocking(10s);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().kind, ErrorKind::WorkerCrashed);
  auto done = s->done.get(10s);
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.error().kind, ErrorKind::WorkerCrashed);
  auto send = s->tx.send_blocking(1, 10s);
  ASSERT_FALSE(send.ok());
  EXPECT_EQ(send.error().kind, ErrorKind::WorkerCrashed);
  EXPECT_EQ(*pool.call_with<int>({.affinity = 1}, "add", 2, 3).get(10s), 5) << "the worker was replaced";
}

TEST(PoolStress, AMillionMessagesThroughAPipelineAcrossEveryWorker) {
  // caller -> worker 0 -> relay -> worker 1 -> relay ... -> caller; each stage
  // adds one. The relays are coroutines on one client executor, so every hop
  // suspends on backpressure instead of blocking.
  const unsigned workers = 2;
  WorkerPool pool({.workers = workers});
  Executor ex;
  std::thread ex_thread([&] { ex.run(); });
  // At least a million even where FERRY_STRESS_SCALE shrinks other stress
  // tests (TSan): this is the pipeline the runtime is judged on.
  const std::uint64_t n = std::max<std::uint64_t>(1'000'000, ferry::test::scaled(1'000'000));
  std::promise<Result<std::uint64_t>> out;
  ex.spawn([](WorkerPool& p, unsigned stages, std::uint64_t count) -> Task<std::uint64_t> {
    std::vector<Stream<std::uint64_t, std::uint64_t>> s;
    for (unsigned i = 0; i < stages; ++i) {
      auto opened = p.stream_with<std::uint64_t, std::uint64_t>({.capacity = 4096, .affinity = i}, "plus_one");
      if (!opened) throw std::runtime_error(opened.error().describe());
      s.push_back(std::move(*opened));
    }
    auto relay = [](Receiver<std::uint64_t>& from, Sender<std::uint64_t>& to) -> Task<void> {
      while (auto v = co_await from.recv()) {
        if (!co_await to.send(*v)) co_return;
      }
      to.close();
    };
    auto* sched = dynamic_cast<Executor*>(Scheduler::current());
    for (unsigned i = 0; i + 1 < stages; ++i) sched->spawn(relay(s[i].rx, s[i + 1].tx));
    auto feed = [](Sender<std::uint64_t>& to, std::uint64_t count) -> Task<void> {
      for (std::uint64_t i = 0; i < count; ++i) {
        if (!co_await to.send(i)) co_return;
      }
      to.close();
    };
    sched->spawn(feed(s[0].tx, count));
    std::uint64_t expected = stages, received = 0;
    while (auto v = co_await s[stages - 1].rx.recv()) {
      if (*v != expected) throw std::runtime_error("out of order: got " + std::to_string(*v));
      ++expected;
      ++received;
    }
    co_return received;
  }(pool, workers, n), [&](Result<std::uint64_t> r) { out.set_value(std::move(r)); });
  auto f = out.get_future();
  ASSERT_EQ(f.wait_for(300s), std::future_status::ready);
  auto received = f.get();
  ASSERT_TRUE(received.ok()) << received.error().describe();
  EXPECT_EQ(*received, n);
  ex.stop();
  ex_thread.join();
}
