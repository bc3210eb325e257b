#include "bridge/ack_tracker.hpp"

#include <gtest/gtest.h>

#include "testing/manual_clock.hpp"

namespace sparrow::bridge {
namespace {

using namespace std::chrono_literals;

TEST(AckTrackerTest, RetransmitsAfterTimeoutUpToMaxTries) {
  testing::ManualClock clock;
  AckTracker tracker({.ack_timeout = 5000ms, .max_tries = 3});
  tracker.Track("m1", "bob", "frame", clock.Now());
  clock.Advance(4999ms);
  EXPECT_TRUE(tracker.Due(clock.Now()).empty());
  clock.Advance(1ms);
  auto due = tracker.Due(clock.Now());
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].user, "bob");
  EXPECT_EQ(due[0].payload, "frame");
  clock.Advance(5000ms);
  EXPECT_EQ(tracker.Due(clock.Now()).size(), 1u);  // third and last publish
  EXPECT_EQ(tracker.pending(), 0u);
  clock.Advance(60000ms);
  EXPECT_TRUE(tracker.Due(clock.Now()).empty());  // then it waits for a sync
  EXPECT_EQ(tracker.retransmits(), 2u);
  EXPECT_EQ(tracker.given_up(), 1u);
}

TEST(AckTrackerTest, DeliveredChatIsNotRetransmitted) {
  testing::ManualClock clock;
  AckTracker tracker({.ack_timeout = 1000ms, .max_tries = 3});
  tracker.Track("m1", "bob", "a", clock.Now());
  tracker.Track("m2", "bob", "b", clock.Now());
  tracker.Acked("m1");
  tracker.Acked("unknown");
  clock.Advance(1000ms);
  auto due = tracker.Due(clock.Now());
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].payload, "b");
}

TEST(AckTrackerTest, OneTryMeansNoRetransmission) {
  testing::ManualClock clock;
  AckTracker tracker({.ack_timeout = 1000ms, .max_tries = 1});
  tracker.Track("m1", "t", "p", clock.Now());
  EXPECT_EQ(tracker.pending(), 0u);
  EXPECT_FALSE(tracker.NextDeadline().has_value());
}

TEST(AckTrackerTest, BoundedPendingGivesUpTheOldest) {
  testing::ManualClock clock;
  AckTracker tracker({.ack_timeout = 1000ms, .max_tries = 3, .max_pending = 2});
  tracker.Track("m1", "t", "1", clock.Now());
  tracker.Track("m2", "t", "2", clock.Now());
  tracker.Track("m3", "t", "3", clock.Now());
  EXPECT_EQ(tracker.pending(), 2u);
  clock.Advance(1000ms);
  auto due = tracker.Due(clock.Now());
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].payload, "2");
  EXPECT_EQ(due[1].payload, "3");
}

}  // namespace
}  // namespace sparrow::bridge
