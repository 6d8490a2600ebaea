// workers_pool_test, external: external mode: rings driven by another producer
// (JavaScript in the browser), records in parts or in shared blocks, malformed
// parts and block records, crashes.
// Part of tests/workers_pool_test.cpp, the one translation unit of that test binary:
// it includes its parts after the helpers they share, so the cases are grouped
// by concern without another compile of GoogleTest and ferry per part.
#pragma once

// External mode: another producer (in the browser, JavaScript) drives the
// rings through web/PROTOCOL.md; here a test thread plays that part
// (tests/pool_fixture.hpp).

TEST(PoolExternal, RingsWrittenByAnotherProducerAreServedAndAnswered) {
  ExternalPeer peer;
  WorkerPool pool({.workers = 2, .external = true,
                   .on_worker_started = [&](const WorkerPool& p, unsigned i) { peer.on_started(p, i); }});
  ASSERT_EQ(peer.announcements, 2u);
  auto tx = RingProducer::attach(peer.rings[1].request);
  auto rx = RingConsumer::attach(peer.rings[1].response);
  ASSERT_TRUE(tx.ok() && rx.ok());
  ASSERT_TRUE(*tx->try_write(protocol::kCallTag, call_record(7, "add", encode(std::tuple<int, int>{2, 40}).value())));
  ASSERT_TRUE(*tx->try_write(protocol::kCallTag, call_record(8, "nope", encode(std::tuple<>{}).value())));
  tx->publish();
  auto [id, value] = read_answer(*rx);
  EXPECT_EQ(id, 7u);
  EXPECT_EQ(decode<int>(value).value(), 42);
  auto [id2, value2] = read_answer(*rx);
  EXPECT_EQ(id2, 8u);
  auto unknown = decode<Result<int>>(value2).value();
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().kind, ErrorKind::UnknownTask);
  // C++ callers are refused: the rings have another producer.
  auto refused = pool.call<int>("add", 1, 2).get();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::InvalidArgument);
  EXPECT_EQ(pool.stats().workers[1].calls_completed, 2u);
  EXPECT_EQ(pool.stats().workers[1].in_flight, 0u);
}

// Values larger than a ring record, with the default 64 KiB rings: a C++
// caller's request goes by the queue (never through a ring), its answer
// straight to it; a JavaScript peer's travel in part records.
TEST(Pool, ValuesOfMegabytesNeedNoTuning) {
  WorkerPool pool({.workers = 2});
  std::vector<double> big(512 * 1024);  // 4 MiB
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<double>(i);
  auto r = pool.call<std::vector<double>>("scale", big, 2.0).get(30s);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  ASSERT_EQ(r->size(), big.size());
  for (std::size_t i = 0; i < big.size(); i += 4093) EXPECT_EQ((*r)[i], 2.0 * static_cast<double>(i));
  auto s = pool.call<std::string>("greet", std::string(100000, 'x'), 20u).get(30s);
  ASSERT_TRUE(s.ok()) << s.error().describe();
  EXPECT_EQ(s->size(), 20u * 100004u);  // "hi " + name + ";"
}

TEST(PoolExternal, RecordsLargerThanTheRingTravelInParts) {
  ExternalPeer peer;
  WorkerPool pool({.workers = 1, .external = true,
                   .on_worker_started = [&](const WorkerPool& p, unsigned i) { peer.on_started(p, i); }});
  auto tx = RingProducer::attach(peer.rings[0].request);
  auto rx = RingConsumer::attach(peer.rings[0].response);
  ASSERT_TRUE(tx.ok() && rx.ok());
  std::vector<double> big(300 * 1000);  // 2.4 MB: about 150 parts of a quarter ring each way
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<double>(i % 1000);
  const auto record = call_record(5, "scale", encode(std::tuple<std::vector<double>, double>{big, 0.5}).value());
  // The request, written part by part as the worker makes room, while this
  // thread also reads the answer's parts (both rings are smaller than either).
  std::vector<std::vector<std::byte>> parts;
  protocol::split_parts(protocol::kCallTag, record, tx->max_payload(), [&](std::vector<std::byte> p) { parts.push_back(std::move(p)); });
  ASSERT_GT(parts.size(), 30u);
  std::thread writer([&] {
    for (auto& p : parts) {
      while (!*tx->try_write(protocol::kRequestPartTag, p)) {
        tx->publish();
        std::this_thread::sleep_for(50us);
      }
    }
    tx->publish();
  });
  protocol::PartReader answer{protocol::kResponsePartTag};
  std::size_t answer_parts = 0;
  for (bool whole = false; !whole;) {
    auto rec = rx->read(10s);
    ASSERT_TRUE(rec.ok()) << rec.error().describe();
    ASSERT_EQ(rec->tag, protocol::kResponsePartTag);
    ++answer_parts;
    auto got = answer.add(rec->payload);
    ASSERT_TRUE(got.ok()) << got.error().describe();
    whole = *got;
    rx->release();
  }
  writer.join();
  EXPECT_GT(answer_parts, 30u);
  ASSERT_EQ(answer.tag(), protocol::kResultTag);
  std::uint64_t id = 0;
  std::memcpy(&id, answer.bytes().data(), 8);
  EXPECT_EQ(id, 5u);
  auto value = decode<std::vector<double>>(answer.bytes().subspan(8));
  ASSERT_TRUE(value.ok()) << value.error().describe();
  ASSERT_EQ(value->size(), big.size());
  for (std::size_t i = 0; i < big.size(); i += 997) EXPECT_EQ((*value)[i], 0.5 * static_cast<double>(i % 1000));
  // Small records after it are whole again, and the worker serves them.
  ASSERT_TRUE(*tx->try_write(protocol::kCallTag, call_record(6, "add", encode(std::tuple<int, int>{1, 2}).value())));
  tx->publish();
  auto [id2, sum] = read_answer(*rx);
  EXPECT_EQ(id2, 6u);
  EXPECT_EQ(decode<int>(sum).value(), 3);
}

// With shared_blocks (the wasm bridge's setting), a record larger than the
// ring lies in a block of shared memory that a 24-byte block record names;
// the reader frees it (web/PROTOCOL.md, "Records out of band").
TEST(PoolExternal, SharedBlocksCarryRecordsLargerThanTheRingBothWays) {
  ExternalPeer peer;
  WorkerPool pool({.workers = 1, .external = true, .shared_blocks = true,
                   .on_worker_started = [&](const WorkerPool& p, unsigned i) { peer.on_started(p, i); }});
  auto tx = RingProducer::attach(peer.rings[0].request);
  auto rx = RingConsumer::attach(peer.rings[0].response);
  ASSERT_TRUE(tx.ok() && rx.ok());
  std::vector<double> big(300 * 1000);  // 2.4 MB, with 64 KiB rings
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<double>(i % 1000);
  const auto record = call_record(5, "scale", encode(std::tuple<std::vector<double>, double>{big, 0.5}).value());
  auto* block = static_cast<std::byte*>(shared_alloc(record.size()).value());  // the worker frees it
  std::memcpy(block, record.data(), record.size());
  ASSERT_TRUE(*tx->try_write(protocol::kRequestBlockTag,
                             protocol::block_record(protocol::kCallTag, record.size(), reinterpret_cast<std::uintptr_t>(block))));
  ASSERT_TRUE(*tx->try_write(protocol::kCallTag, call_record(6, "add", encode(std::tuple<int, int>{1, 2}).value())));
  tx->publish();
  auto rec = rx->read(10s);
  ASSERT_TRUE(rec.ok()) << rec.error().describe();
  ASSERT_EQ(rec->tag, protocol::kResponseBlockTag);
  auto answer = protocol::parse_block(rec->payload, protocol::kResponsePartTag, protocol::kResponseBlockTag);
  rx->release();
  ASSERT_TRUE(answer.ok()) << answer.error().describe();
  EXPECT_EQ(answer->tag, protocol::kResultTag);
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(static_cast<std::uintptr_t>(answer->address)), answer->length);
  std::uint64_t id = 0;
  std::memcpy(&id, bytes.data(), 8);
  EXPECT_EQ(id, 5u);
  auto value = decode<std::vector<double>>(bytes.subspan(8));
  shared_free(reinterpret_cast<void*>(static_cast<std::uintptr_t>(answer->address)));
  ASSERT_TRUE(value.ok()) << value.error().describe();
  ASSERT_EQ(value->size(), big.size());
  for (std::size_t i = 0; i < big.size(); i += 997) EXPECT_EQ((*value)[i], 0.5 * static_cast<double>(i % 1000));
  // The small call behind it, and small results, stay in the ring.
  auto [id2, sum] = read_answer(*rx);
  EXPECT_EQ(id2, 6u);
  EXPECT_EQ(decode<int>(sum).value(), 3);
}

TEST(PoolExternal, AMalformedBlockRecordEndsTheWorkerWithAReason) {
  ExternalPeer peer;
  WorkerPool pool({.workers = 1, .external = true, .shared_blocks = true,
                   .on_worker_started = [&](const WorkerPool& p, unsigned i) { peer.on_started(p, i); }});
  const std::pair<std::vector<std::byte>, const char*> cases[] = {
      {std::vector<std::byte>(23), "a block record has 24 bytes"},
      {protocol::block_record(protocol::kRequestPartTag, 8, 64), "which is never a block's"},
      {protocol::block_record(protocol::kCallTag, 8, 0), "names no block"},
      {protocol::block_record(protocol::kCallTag, (std::size_t{1} << 30) + 1, 64), "more than 1 GiB"},
  };
  for (unsigned k = 0; k < std::size(cases); ++k) {
    auto rings = peer.await(1 + k, 0);
    auto tx = RingProducer::attach(rings.request);
    auto rx = RingConsumer::attach(rings.response);
    ASSERT_TRUE(*tx->try_write(protocol::kRequestBlockTag, cases[k].first));
    tx->publish();
    auto why = rx->read(10s);
    ASSERT_TRUE(why.ok()) << why.error().describe();
    EXPECT_EQ(why->tag, protocol::kCrashTag);
    const auto reason = decode<std::string>(why->payload).value();
    EXPECT_NE(reason.find(cases[k].second), std::string::npos) << reason;
    rx->release();
  }
  peer.await(1 + std::size(cases), 0);
  EXPECT_EQ(pool.stats().workers[0].restarts, std::size(cases));
}

TEST(PoolExternal, PartsDoNotNest) {
  // A first part whose record would itself be a part is refused, and the
  // reader takes the next record from its start.
  protocol::PartReader reader{protocol::kRequestPartTag};
  auto first_part = [](std::uint32_t tag, std::uint64_t length) {
    std::vector<std::byte> b(16);
    std::memcpy(b.data(), &tag, 4);
    std::memcpy(b.data() + 8, &length, 8);
    return b;
  };
  auto nested = reader.add(first_part(protocol::kRequestPartTag, 8));
  ASSERT_FALSE(nested.ok());
  EXPECT_EQ(nested.error().kind, ErrorKind::Deserialization);
  EXPECT_NE(nested.error().message.find("parts do not nest"), std::string::npos) << nested.error().message;
  auto whole = reader.add(first_part(protocol::kCallTag, 0));
  ASSERT_TRUE(whole.ok()) << whole.error().describe();
  EXPECT_TRUE(*whole);
  EXPECT_EQ(reader.tag(), protocol::kCallTag);
  // The response direction's reader refuses its own part tag the same way.
  protocol::PartReader answers{protocol::kResponsePartTag};
  EXPECT_FALSE(answers.add(first_part(protocol::kResponsePartTag, 4)).ok());
}

TEST(PoolExternal, AMalformedPartEndsTheWorkerWithAReason) {
  ExternalPeer peer;
  WorkerPool pool({.workers = 1, .external = true,
                   .on_worker_started = [&](const WorkerPool& p, unsigned i) { peer.on_started(p, i); }});
  auto tx = RingProducer::attach(peer.rings[0].request);
  auto rx = RingConsumer::attach(peer.rings[0].response);
  // A first part announcing 100 bytes, then a part of 200.
  std::vector<std::byte> first(16 + 8);
  const std::uint32_t tag = protocol::kCallTag;
  const std::uint64_t length = 100;
  std::memcpy(first.data(), &tag, 4);
  std::memcpy(first.data() + 8, &length, 8);
  ASSERT_TRUE(*tx->try_write(protocol::kRequestPartTag, first));
  ASSERT_TRUE(*tx->try_write(protocol::kRequestPartTag, std::vector<std::byte>(200)));
  tx->publish();
  auto why = rx->read(10s);
  ASSERT_TRUE(why.ok()) << why.error().describe();
  EXPECT_EQ(why->tag, protocol::kCrashTag);
  EXPECT_NE(decode<std::string>(why->payload).value().find("runs past the 100 bytes its record announced"), std::string::npos);
  rx->release();
  peer.await(2, 0);
  EXPECT_EQ(pool.stats().workers[0].restarts, 1u);
}

TEST(PoolExternal, ACrashAbortsTheWorkersRingsAndAnnouncesTheReplacement) {
  ExternalPeer peer;
  WorkerPool pool({.workers = 1, .external = true,
                   .on_worker_started = [&](const WorkerPool& p, unsigned i) { peer.on_started(p, i); }});
  auto old = peer.rings[0];
  {
    auto tx = RingProducer::attach(old.request);
    auto rx = RingConsumer::attach(old.response);
    ASSERT_TRUE(*tx->try_write(protocol::kCallTag, call_record(1, "crash", encode(std::tuple<std::string>{"boom"}).value())));
    tx->publish();
    // The dying worker's last record says why (web/PROTOCOL.md), then the ring ends.
    auto why = rx->read(std::chrono::seconds(10));
    ASSERT_TRUE(why.ok()) << why.error().message;
    EXPECT_EQ(why->tag, protocol::kCrashTag);
    EXPECT_EQ(decode<std::string>(why->payload).value(), "boom");
    rx->release();
    auto rec = rx->read(std::chrono::seconds(10));
    ASSERT_FALSE(rec.ok());
    EXPECT_EQ(rec.error().kind, ErrorKind::WorkerCrashed);
    // The old endpoints are dropped without detaching: the memory stays valid
    // until the pool is destroyed, so this is safe either way.
  }
  auto fresh = peer.await(2, 0);
  EXPECT_NE(fresh.request, old.request);
  auto tx = RingProducer::attach(fresh.request);
  auto rx = RingConsumer::attach(fresh.response);
  ASSERT_TRUE(*tx->try_write(protocol::kCallTag, call_record(2, "add", encode(std::tuple<int, int>{1, 1}).value())));
  tx->publish();
  auto [id, value] = read_answer(*rx);
  EXPECT_EQ(id, 2u);
  EXPECT_EQ(decode<int>(value).value(), 2);
  EXPECT_EQ(pool.stats().workers[0].restarts, 1u);
}
