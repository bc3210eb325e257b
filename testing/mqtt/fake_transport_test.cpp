#include "testing/mqtt/fake_transport.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace sparrow::testing {
namespace {

using transport::Message;
using transport::PublishResult;

TEST(FakeTransportTest, RecordsPublishesOnlyWhileConnected) {
  FakeTransport t;
  EXPECT_EQ(t.Publish("a/b", "x", 1), PublishResult::kNotConnected);
  t.Start();
  EXPECT_TRUE(t.IsConnected());
  EXPECT_EQ(t.Publish("a/b", "one", 1), PublishResult::kQueued);
  EXPECT_EQ(t.Publish("a/c", "two", 0, true), PublishResult::kQueued);
  EXPECT_EQ(t.Publish("a/b", "three", 1), PublishResult::kQueued);

  ASSERT_EQ(t.Published().size(), 3u);
  const auto to_b = t.PublishedTo("a/b");
  ASSERT_EQ(to_b.size(), 2u);
  EXPECT_EQ(to_b[0].payload, "one");
  EXPECT_EQ(to_b[1].payload, "three");
  const auto to_c = t.PublishedTo("a/c");
  ASSERT_EQ(to_c.size(), 1u);
  EXPECT_TRUE(to_c[0].retain);
  EXPECT_EQ(to_c[0].qos, 0);
  EXPECT_EQ(t.GetStats().messages_out, 3u);

  t.Clear();
  EXPECT_TRUE(t.Published().empty());
}

TEST(FakeTransportTest, FailsTheNextNPublishesWithTheInjectedResult) {
  FakeTransport t;
  t.Start();
  t.FailNextPublishes(2);
  EXPECT_EQ(t.Publish("a", "1", 1), PublishResult::kBackpressure);
  EXPECT_EQ(t.Publish("a", "2", 1), PublishResult::kBackpressure);
  EXPECT_EQ(t.Publish("a", "3", 1), PublishResult::kQueued);
  EXPECT_EQ(t.GetStats().backpressure, 2u);
  t.FailNextPublishes(1, PublishResult::kNotConnected);
  EXPECT_EQ(t.Publish("a", "4", 1), PublishResult::kNotConnected);
  ASSERT_EQ(t.Published().size(), 1u);
  EXPECT_EQ(t.Published()[0].payload, "3");
}

TEST(FakeTransportTest, DeliversSynchronouslyAndAllowsPublishingFromTheHandler) {
  FakeTransport t;
  t.SetMessageHandler([&t](Message&& m) { (void)t.Publish("echo/" + m.topic, m.payload, m.qos); });
  t.Start();
  t.Deliver(Message{.topic = "in", .payload = "hello", .qos = 1});
  const auto echoed = t.PublishedTo("echo/in");
  ASSERT_EQ(echoed.size(), 1u);  // already there: Deliver ran the handler on this thread
  EXPECT_EQ(echoed[0].payload, "hello");
  EXPECT_EQ(t.GetStats().messages_in, 1u);
}

TEST(FakeTransportTest, ReportsSubscriptionsAndConnectionChanges) {
  FakeTransport t;
  std::vector<std::pair<bool, int>> events;
  t.SetConnectionHandler(
      [&](bool connected, int reason) { events.emplace_back(connected, reason); });
  t.Subscribe("im/up/#", 1);
  t.Subscribe("im/sys/#", 0);
  t.Subscribe("im/up/#", 0);  // replaces the QoS
  t.Unsubscribe("im/sys/#");
  EXPECT_EQ(t.Subscriptions(), (std::map<std::string, int>{{"im/up/#", 0}}));

  t.Start();
  t.SetConnected(false, 7);
  EXPECT_EQ(t.Publish("a", "b", 0), PublishResult::kNotConnected);
  t.SetConnected(true);
  t.Stop();
  t.Stop();
  EXPECT_EQ(events,
            (std::vector<std::pair<bool, int>>{{true, 0}, {false, 7}, {true, 0}, {false, 0}}));
  EXPECT_EQ(t.GetStats().reconnects, 1u);
}

}  // namespace
}  // namespace sparrow::testing
