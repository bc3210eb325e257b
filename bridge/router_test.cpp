#include "bridge/router.hpp"

#include <gtest/gtest.h>

#include "testing/mqtt/fake_transport.hpp"

namespace sparrow::bridge {
namespace {

TEST(RouterTest, UsersAreReachedOnlyWhereTheyHaveDevices) {
  testing::FakeTransport b1, b2;
  Router router({&b1, &b2}, {"b1", "b2"}, /*presence=*/true);
  EXPECT_TRUE(router.BrokersOf("alice").empty());
  router.OnPresence(0, "alice", "phone", true);
  router.OnPresence(1, "alice", "laptop", true);
  EXPECT_EQ(router.BrokersOf("alice"), (std::vector<int>{0, 1}));
  EXPECT_EQ(router.BrokersOfOtherDevices("alice", 0, "phone"), (std::vector<int>{1}));
  router.OnPresence(1, "alice", "laptop", false);
  EXPECT_EQ(router.BrokersOf("alice"), (std::vector<int>{0}));
  EXPECT_TRUE(router.BrokersOfOtherDevices("alice", 0, "phone").empty());
  EXPECT_EQ(router.online_devices(), 1u);
}

TEST(RouterTest, ReconnectingToABrokerForgetsWhatWasKnownOfIt) {
  testing::FakeTransport b1, b2;
  Router router({&b1, &b2}, {"b1", "b2"}, true);
  router.OnPresence(0, "alice", "phone", true);
  router.OnPresence(1, "bob", "phone", true);
  router.OnBrokerConnected(0);  // retained reports follow
  EXPECT_TRUE(router.BrokersOf("alice").empty());
  EXPECT_EQ(router.BrokersOf("bob"), (std::vector<int>{1}));
  EXPECT_EQ(router.online_devices(0), 0u);
  EXPECT_EQ(router.online_devices(1), 1u);
}

TEST(RouterTest, CountsDevicesPerBroker) {
  testing::FakeTransport b1, b2;
  Router router({&b1, &b2}, {"b1", "b2"}, true);
  router.OnPresence(0, "alice", "phone", true);
  router.OnPresence(0, "alice", "phone", true);  // a repeated report counts once
  router.OnPresence(0, "bob", "phone", true);
  router.OnPresence(1, "alice", "laptop", true);
  EXPECT_EQ(router.online_devices(0), 2u);
  EXPECT_EQ(router.online_devices(1), 1u);
  EXPECT_EQ(router.broker_id(1), "b2");
  router.OnPresence(0, "bob", "phone", false);
  router.OnPresence(0, "bob", "phone", false);  // so does a repeated offline
  EXPECT_EQ(router.online_devices(0), 1u);
  EXPECT_EQ(router.online_devices(), 2u);
}

TEST(RouterTest, WithoutPresenceEveryBrokerGetsEverything) {
  testing::FakeTransport b1, b2;
  Router router({&b1, &b2}, {"b1", "b2"}, false);
  EXPECT_EQ(router.BrokersOf("nobody"), (std::vector<int>{0, 1}));
  EXPECT_EQ(router.IndexOf("b2"), 1);
  EXPECT_EQ(router.IndexOf("b9"), -1);
}

}  // namespace
}  // namespace sparrow::bridge

namespace sparrow::bridge {
namespace {

TEST(RouterEpochTest, ReportsOfAnEarlierBrokerRunDoNotCount) {
  testing::FakeTransport b1;
  Router router({&b1}, {"b1"}, true);
  // Retained reports restored from the broker's persistence arrive first (epoch 100)...
  router.OnPresence(0, "ghost", "phone", true, 100);
  router.OnPresence(0, "alice", "phone", true, 200);
  // ... then the current run's epoch: the ghost's report is stale.
  router.OnBrokerEpoch(0, 200);
  EXPECT_TRUE(router.BrokersOf("ghost").empty());
  EXPECT_EQ(router.BrokersOf("alice"), (std::vector<int>{0}));
  router.OnPresence(0, "late-ghost", "phone", true, 100);
  EXPECT_TRUE(router.BrokersOf("late-ghost").empty());
  EXPECT_EQ(router.online_devices(), 1u);
}

}  // namespace
}  // namespace sparrow::bridge
