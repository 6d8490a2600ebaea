#include "core/wait.hpp"
#include <gtest/gtest.h>
#include <thread>
TEST(Smoke, ThreadsWake) {
  std::atomic<std::uint32_t> w{0};
  std::thread t([&] { w.store(1); ferry::notify_word(w); });
  while (w.load() == 0) ferry::wait_word(w, 0);
  t.join();
  EXPECT_EQ(w.load(), 1u);
}
