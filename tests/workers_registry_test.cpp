// Test that the header is self-contained: it comes first.
#include "workers/registry.hpp"

#include "workers/pool.hpp"

#include <gtest/gtest.h>

#include <string>

// Two tasks exported under one name (from two namespaces): neither may win
// silently. The registry keeps the first and names the clash, and a pool
// refuses to start with an error that says which name and how to fix it.
// (A binary of its own: every pool in it refuses to start.)

namespace registry_test::images {
int scale(int v) { return v * 2; }
FERRY_EXPORT(scale);
}  // namespace registry_test::images

namespace registry_test::audio {
int scale(int v) { return v * 3; }
FERRY_EXPORT(scale);
}  // namespace registry_test::audio

namespace registry_test {
int twice(int v) { return 2 * v; }
double twice(double v) { return 2 * v; }
FERRY_EXPORT_AS("audio.scale", audio::scale);
FERRY_EXPORT_AS("twice_int", static_cast<int (*)(int)>(&twice));
FERRY_EXPORT_AS("square", [](int v) { return v * v; });
}  // namespace registry_test

using namespace ferry;

TEST(Registry, ExportsUnderExplicitNamesQualifiedOverloadedAndLambdas) {
  auto& r = TaskRegistry::instance();
  for (const char* name : {"audio.scale", "twice_int", "square"}) {
    const TaskEntry* e = r.find(name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_EQ(e->signature, "(i32) -> i32") << name;
  }
  // They run: the square of 7 through the sync invoker.
  const TaskEntry* sq = r.find("square");
  std::vector<std::byte> out;
  ASSERT_TRUE(sq->invoke_sync(encode(std::tuple<int>{7}).value(), CancelToken{}, out).ok());
  EXPECT_EQ(decode<int>(out).value(), 49);
}

TEST(Registry, FindsATaskByNameWithoutAllocating) {
  const std::string_view name = "scale";
  const TaskEntry* e = TaskRegistry::instance().find(name);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->name, "scale");
  EXPECT_TRUE(static_cast<bool>(e->invoke_sync)) << "a plain function runs inline";
  EXPECT_EQ(TaskRegistry::instance().find("no such task"), nullptr);
}

TEST(Registry, ASecondExportUnderATakenNameIsRememberedNotRegistered) {
  EXPECT_EQ(TaskRegistry::instance().duplicates(), "\"scale\"");
}

TEST(Registry, APoolRefusesToStartWhenTwoTasksShareAName) {
  try {
    WorkerPool pool({.workers = 1});
    FAIL() << "the pool started";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind, ErrorKind::InvalidArgument);
    EXPECT_NE(e.message.find("\"scale\""), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("FERRY_EXPORT_AS"), std::string::npos) << e.message;
  }
}
