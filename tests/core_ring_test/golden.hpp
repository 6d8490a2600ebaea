// core_ring_test, golden: the shared golden vectors replayed byte for byte, and
// abort.
// Part of tests/core_ring_test.cpp, the one translation unit of that test binary:
// it includes its parts after the helpers they share, so the cases are grouped
// by concern without another compile of GoogleTest and ferry per part.
#pragma once

// --- Golden vectors: tests/golden/ring.txt ---------------------------------
// Each line: name | capacity | ops | hex of the whole ring memory afterwards.
// ops (space separated): wT:N write a record with tag T and N payload bytes
// (byte i = (T + i) & 0xFF); eN grow the last record by N payload bytes
// (try_extend, continuing its byte pattern); p publish; r read one record;
// R release; cp producer close; cc consumer close. The TypeScript ring
// replays the same lines and must produce the same bytes.
namespace {

std::string hex_of(std::span<const std::byte> b) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (auto x : b) {
    s += digits[std::to_integer<int>(x) >> 4];
    s += digits[std::to_integer<int>(x) & 15];
  }
  return s;
}

std::string trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t"));
  s.erase(s.find_last_not_of(" \t\r") + 1);
  return s;
}

std::string replay(std::uint32_t capacity, const std::string& ops) {
  RingMemory mem(capacity);
  std::memset(mem.base() + L::kHeaderBytes, 0, capacity);
  auto tx = std::move(RingProducer::attach(mem.base()).value());
  auto rx = std::move(RingConsumer::attach(mem.base()).value());
  std::istringstream in(ops);
  std::string op;
  std::uint32_t last_tag = 0;
  std::size_t last_len = 0;
  while (in >> op) {
    if (op[0] == 'w') {
      const auto colon = op.find(':');
      const auto tag = static_cast<std::uint32_t>(std::stoul(op.substr(1, colon - 1)));
      const auto n = std::stoul(op.substr(colon + 1));
      std::vector<std::byte> payload(n);
      for (std::size_t i = 0; i < n; ++i) payload[i] = static_cast<std::byte>((tag + i) & 0xFF);
      EXPECT_TRUE(*tx.try_write(tag, payload)) << op;
      last_tag = tag;
      last_len = n;
    } else if (op[0] == 'e') {
      const auto n = std::stoul(op.substr(1));
      std::byte* at = tx.try_extend(n);
      EXPECT_NE(at, nullptr) << op;
      if (at == nullptr) continue;
      for (std::size_t i = 0; i < n; ++i) at[i] = static_cast<std::byte>((last_tag + last_len + i) & 0xFF);
      tx.commit_extend(n);
      last_len += n;
    } else if (op == "p") {
      tx.publish();
    } else if (op == "r") {
      auto rec = rx.try_read();
      EXPECT_TRUE(rec.ok() && *rec) << op;
    } else if (op == "R") {
      rx.release();
    } else if (op == "cp") {
      tx.close();
    } else if (op == "cc") {
      rx.close();
    } else {
      ADD_FAILURE() << "unknown op " << op;
    }
  }
  return hex_of({mem.base(), ring_bytes(capacity)});
}

}  // namespace

TEST(RingGolden, ReplayingTheSharedVectorsGivesTheSameBytes) {
  const std::string path = FERRY_SOURCE_DIR "/tests/golden/ring.txt";
  std::ifstream file(path);
  ASSERT_TRUE(file) << path;
  const bool update = std::getenv("FERRY_UPDATE_GOLDEN") != nullptr;
  std::ostringstream rewritten;
  std::string line;
  int checked = 0;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') {
      rewritten << line << '\n';
      continue;
    }
    std::vector<std::string> cols;
    std::istringstream fields(line);
    for (std::string col; std::getline(fields, col, '|');) cols.push_back(trim(col));
    ASSERT_GE(cols.size(), 3u) << line;
    const std::string got = replay(static_cast<std::uint32_t>(std::stoul(cols[1])), cols[2]);
    if (update) {
      rewritten << cols[0] << " | " << cols[1] << " | " << cols[2] << " | " << got << '\n';
    } else {
      ASSERT_EQ(cols.size(), 4u) << line;
      EXPECT_EQ(got, cols[3]) << "vector " << cols[0];
    }
    ++checked;
  }
  EXPECT_GE(checked, 5);
  if (update) std::ofstream(path) << rewritten.str();
}

TEST(Ring, AbortEndsBothSidesWithItsReasonAfterTheConsumerDrains) {
  Endpoints e(256);
  ASSERT_TRUE(write(e.tx, 1, "last words"));
  e.tx.publish();
  ring_abort(e.mem.base(), ErrorKind::WorkerCrashed);
  EXPECT_EQ(e.mem.word(L::kCloseReasonOffset).load(), 9u);
  EXPECT_EQ(text_of(read_one(e.rx)->payload), "last words");
  auto end = e.rx.try_read();
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.error().kind, ErrorKind::WorkerCrashed);
  auto send = e.tx.try_write(2, {});
  ASSERT_FALSE(send.ok());
  EXPECT_EQ(send.error().kind, ErrorKind::WorkerCrashed);
}
