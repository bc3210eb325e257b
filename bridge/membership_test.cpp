#include "bridge/membership.hpp"

#include <gtest/gtest.h>

#include "testing/manual_clock.hpp"

namespace sparrow::bridge {
namespace {

using namespace std::chrono_literals;

TEST(MembershipTest, AloneItOwnsEveryDevice) {
  Membership m("b-1", {});
  EXPECT_TRUE(m.Owns("alice", "phone"));
  EXPECT_EQ(m.size(), 1u);
}

TEST(MembershipTest, TwoInstancesAgreeOnOwnersAndShareTheDevices) {
  testing::ManualClock clock;
  Membership a("a", {}), b("b", {});
  a.Heard("b", clock.Now());
  b.Heard("a", clock.Now());
  int owned_by_a = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string user = "user" + std::to_string(i);
    EXPECT_NE(a.Owns(user, "d"), b.Owns(user, "d")) << user;  // exactly one owner
    EXPECT_EQ(a.Owner(user, "d"), b.Owner(user, "d"));
    owned_by_a += a.Owns(user, "d") ? 1 : 0;
  }
  EXPECT_GT(owned_by_a, 400);
  EXPECT_LT(owned_by_a, 600);
}

TEST(MembershipTest, SilentInstanceExpiresAndItsShareMovesToTheRest) {
  testing::ManualClock clock;
  Membership a("a", {.heartbeat = 1000ms, .timeout = 3500ms});
  EXPECT_TRUE(a.Heard("b", clock.Now()));
  EXPECT_FALSE(a.Heard("b", clock.Now()));  // known already
  clock.Advance(3000ms);
  EXPECT_FALSE(a.Expire(clock.Now()));
  clock.Advance(501ms);
  EXPECT_TRUE(a.Expire(clock.Now()));
  EXPECT_EQ(a.size(), 1u);
  EXPECT_TRUE(a.Owns("anyone", "d"));
}

TEST(MembershipTest, OnlyTheLeavingInstancesDevicesMove) {
  testing::ManualClock clock;
  Membership three("a", {});
  three.Heard("b", clock.Now());
  three.Heard("c", clock.Now());
  Membership two("a", {});
  two.Heard("b", clock.Now());  // c left
  for (int i = 0; i < 500; ++i) {
    std::string user = "u" + std::to_string(i);
    if (three.Owner(user, "d") != "c") {
      EXPECT_EQ(three.Owner(user, "d"), two.Owner(user, "d"));
    }
  }
}

TEST(MembershipTest, HeartbeatIsDueOncePerInterval) {
  testing::ManualClock clock;
  Membership a("a", {.heartbeat = 1000ms});
  EXPECT_TRUE(a.HeartbeatDue(clock.Now()));
  EXPECT_FALSE(a.HeartbeatDue(clock.Now()));
  clock.Advance(999ms);
  EXPECT_FALSE(a.HeartbeatDue(clock.Now()));
  clock.Advance(1ms);
  EXPECT_TRUE(a.HeartbeatDue(clock.Now()));
}

}  // namespace
}  // namespace sparrow::bridge
