#include "common/failpoint.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

namespace sparrow::common {
namespace {

// The environment is read once per process: these tests set it before first use, in a death
// test's child where it matters.
TEST(FailpointDeathTest, ArmedPointAbortsAndOthersPass) {
  EXPECT_DEATH(
      {
        ::setenv("SPARROW_FAILPOINTS", "bridge.test=1,other=0", 1);
        Failpoint("not.armed");
        Failpoint("other");
        Failpoint("bridge.test");
      },
      "failpoint hit: bridge.test");
}

TEST(FailpointDeathTest, NthPassAbortsAndNotBefore) {
  EXPECT_DEATH(
      {
        ::setenv("SPARROW_FAILPOINTS", "sync.page=#3", 1);
        if (FailpointHit("sync.page") || FailpointHit("sync.page")) std::exit(1);  // 1st, 2nd
        std::fprintf(stderr, "two passes survived\n");
        Failpoint("sync.page");  // 3rd
      },
      "two passes survived\nfailpoint hit: sync.page");
}

TEST(FailpointTest, UnarmedPointsNeverHit) {
  // This process never armed anything (the variable is unset in ctest's environment).
  if (std::getenv("SPARROW_FAILPOINTS") != nullptr) GTEST_SKIP() << "SPARROW_FAILPOINTS is set";
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(FailpointHit("bridge.after_commit_before_sent"));
}

}  // namespace
}  // namespace sparrow::common
