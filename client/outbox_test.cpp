#include "client/outbox.hpp"

#include <gtest/gtest.h>

#include "testing/manual_clock.hpp"

namespace sparrow::client {
namespace {

using namespace std::chrono_literals;

OutgoingChat Chat(const std::string& local, const std::string& peer = "bob") {
  return OutgoingChat{.local_id = local, .peer = peer, .payload = "text of " + local};
}

std::vector<std::int64_t> Ids(const std::vector<OutgoingChat>& chats) {
  std::vector<std::int64_t> out;
  for (const auto& c : chats) out.push_back(c.id);
  return out;
}

std::vector<std::string> Locals(const std::vector<OutgoingChat>& chats) {
  std::vector<std::string> out;
  for (const auto& c : chats) out.push_back(c.local_id);
  return out;
}

class OutboxTest : public ::testing::Test {
 protected:
  Outbox Make(std::int64_t last_id = 0, Outbox::Options options = DefaultOptions()) {
    Outbox outbox(clock_, options, last_id, {});
    outbox.SetNumberingAllowed(true);
    return outbox;
  }
  static Outbox::Options DefaultOptions() {
    return {.ack_timeout = 1000ms,
            .max_backoff = 4000ms,
            .max_attempts = 4,
            .window = 8,
            .quarantine = 5000ms};
  }
  testing::ManualClock clock_;
};

TEST_F(OutboxTest, NumbersChatsConsecutivelyFromLastIdInTheOrderQueued) {
  Outbox outbox = Make(41);
  outbox.Add(Chat("a"));
  outbox.Add(Chat("b", "carol"));
  outbox.Add(Chat("c"));
  auto due = outbox.Poll();
  EXPECT_EQ(Ids(due.publish), (std::vector<std::int64_t>{42, 43, 44}));
  EXPECT_EQ(Locals(due.publish), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(outbox.last_id(), 44);
  EXPECT_TRUE(outbox.changed());
  EXPECT_TRUE(outbox.Poll().publish.empty());  // nothing due until the timeout
}

TEST_F(OutboxTest, NumbersNothingBeforeNumberingIsAllowed) {
  Outbox outbox(clock_, DefaultOptions(), 0, {});
  outbox.Add(Chat("a"));
  EXPECT_TRUE(outbox.Poll().publish.empty());
  outbox.OnSynced(17);  // a device without state learns its lastId from `synced`
  outbox.SetNumberingAllowed(true);
  EXPECT_EQ(Ids(outbox.Poll().publish), (std::vector<std::int64_t>{18}));
}

TEST_F(OutboxTest, ResendsWithTheSameIdAfterTheTimeoutWithExponentialBackoff) {
  Outbox outbox = Make();
  outbox.Add(Chat("a"));
  ASSERT_EQ(outbox.Poll().publish.size(), 1u);
  EXPECT_EQ(outbox.NextDeadline(), clock_.Now() + 1000ms);
  clock_.Advance(999ms);
  EXPECT_TRUE(outbox.Poll().publish.empty());
  clock_.Advance(1ms);
  auto due = outbox.Poll();
  ASSERT_EQ(due.publish.size(), 1u);
  EXPECT_EQ(due.publish[0].id, 1);
  EXPECT_EQ(due.publish[0].attempts, 2);
  EXPECT_EQ(outbox.NextDeadline(), clock_.Now() + 2000ms);  // doubled
  clock_.Advance(2000ms);
  ASSERT_EQ(outbox.Poll().publish.size(), 1u);
  EXPECT_EQ(outbox.NextDeadline(), clock_.Now() + 4000ms);
  clock_.Advance(4000ms);
  ASSERT_EQ(outbox.Poll().publish.size(), 1u);
  EXPECT_EQ(outbox.NextDeadline(), clock_.Now() + 4000ms);  // capped at max_backoff
}

TEST_F(OutboxTest, GivesUpAfterMaxAttemptsAndReportsTheChatFailed) {
  Outbox outbox = Make();
  outbox.Add(Chat("a"));
  int publishes = 0;
  Outbox::Due due;
  for (int i = 0; i < 10 && due.failed.empty(); ++i) {
    due = outbox.Poll();
    publishes += static_cast<int>(due.publish.size());
    clock_.Advance(4000ms);
  }
  EXPECT_EQ(publishes, 4);
  ASSERT_EQ(due.failed.size(), 1u);
  EXPECT_EQ(due.failed[0].chat.local_id, "a");
  EXPECT_EQ(due.failed[0].reason, "timeout");
  EXPECT_TRUE(outbox.empty());
  EXPECT_FALSE(outbox.NextDeadline().has_value());
}

TEST_F(OutboxTest, SentRemovesTheChatAndUnknownIdsAreIgnored) {
  Outbox outbox = Make();
  outbox.Add(Chat("a"));
  outbox.Add(Chat("b"));
  (void)outbox.Poll();
  auto sent = outbox.OnSent(1);
  ASSERT_TRUE(sent.has_value());
  EXPECT_EQ(sent->local_id, "a");
  EXPECT_FALSE(outbox.OnSent(1).has_value());   // a repeated SENT
  EXPECT_FALSE(outbox.OnSent(99).has_value());  // not ours
  EXPECT_EQ(outbox.size(), 1u);
  clock_.Advance(1000ms);
  EXPECT_EQ(Ids(outbox.Poll().publish), (std::vector<std::int64_t>{2}));
}

TEST_F(OutboxTest, TheWindowBoundsChatsAwaitingTheirSent) {
  Outbox outbox = Make(0, {.ack_timeout = 1000ms, .window = 2});
  for (const char* l : {"a", "b", "c", "d"}) outbox.Add(Chat(l));
  EXPECT_EQ(Ids(outbox.Poll().publish), (std::vector<std::int64_t>{1, 2}));
  EXPECT_TRUE(outbox.Poll().publish.empty());
  (void)outbox.OnSent(1);
  EXPECT_EQ(Ids(outbox.Poll().publish), (std::vector<std::int64_t>{3}));
  (void)outbox.OnSent(2);
  (void)outbox.OnSent(3);
  EXPECT_EQ(Ids(outbox.Poll().publish), (std::vector<std::int64_t>{4}));
}

TEST_F(OutboxTest, OutOfOrderThatKeepsEveryIdResendsAtOnceWithoutCountingAnAttempt) {
  Outbox outbox = Make();
  for (const char* l : {"a", "b", "c"}) outbox.Add(Chat(l));
  (void)outbox.Poll();
  (void)outbox.OnSent(1);
  outbox.OnOutOfOrder(3, 2);  // chat 2 was lost on the way; 3 waited and was refused
  auto due = outbox.Poll();
  EXPECT_EQ(Ids(due.publish), (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(due.publish[0].attempts, 1);
  EXPECT_FALSE(outbox.quarantined());
  EXPECT_EQ(outbox.last_id(), 3);
}

TEST_F(OutboxTest, StaleOutOfOrderOlderThanASentIsIgnored) {
  Outbox outbox = Make();
  for (const char* l : {"a", "b"}) outbox.Add(Chat(l));
  (void)outbox.Poll();
  (void)outbox.OnSent(2);  // the server has 1 and 2
  outbox.OnOutOfOrder(2, 1);
  EXPECT_TRUE(outbox.Poll().publish.empty());
  EXPECT_EQ(outbox.last_id(), 2);
}

TEST_F(OutboxTest, ARefusedChatFreesItsIdAndTheOnesBehindAreRenumberedInOrder) {
  Outbox outbox = Make(4);
  for (const char* l : {"a", "b", "c", "d"}) outbox.Add(Chat(l));
  EXPECT_EQ(Ids(outbox.Poll().publish), (std::vector<std::int64_t>{5, 6, 7, 8}));
  (void)outbox.OnSent(5);
  auto refused = outbox.OnRefused(6);  // e.g. not_friends
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->local_id, "b");
  EXPECT_EQ(outbox.last_id(), 7);
  // The server still holds the old publishes of 7 and 8 until it refuses them (out_of_order,
  // expected 6): the renumbered chats wait for that.
  EXPECT_TRUE(outbox.quarantined());
  EXPECT_TRUE(outbox.Poll().publish.empty());
  outbox.OnOutOfOrder(7, 6);
  EXPECT_TRUE(outbox.Poll().publish.empty());
  outbox.OnOutOfOrder(8, 6);
  EXPECT_FALSE(outbox.quarantined());
  auto due = outbox.Poll();
  EXPECT_EQ(Ids(due.publish), (std::vector<std::int64_t>{6, 7}));
  EXPECT_EQ(Locals(due.publish), (std::vector<std::string>{"c", "d"}));
  outbox.Add(Chat("e"));
  EXPECT_EQ(Ids(outbox.Poll().publish), (std::vector<std::int64_t>{8}));
}

TEST_F(OutboxTest, QuarantineEndsAfterItsBoundWhenARefusalNeverComes) {
  Outbox outbox = Make();
  for (const char* l : {"a", "b"}) outbox.Add(Chat(l));
  (void)outbox.Poll();
  (void)outbox.OnRefused(1);
  EXPECT_TRUE(outbox.Poll().publish.empty());
  EXPECT_EQ(outbox.NextDeadline(), clock_.Now() + 5000ms);
  clock_.Advance(5000ms);
  auto due = outbox.Poll();
  EXPECT_EQ(Ids(due.publish), (std::vector<std::int64_t>{1}));
  EXPECT_EQ(Locals(due.publish), (std::vector<std::string>{"b"}));
}

TEST_F(OutboxTest, ARefusalWithNothingPublishedBehindItReusesTheIdAtOnce) {
  Outbox outbox = Make(9);
  outbox.Add(Chat("a"));
  (void)outbox.Poll();
  (void)outbox.OnRefused(10);
  EXPECT_EQ(outbox.last_id(), 9);
  EXPECT_FALSE(outbox.quarantined());
  outbox.Add(Chat("b"));
  EXPECT_EQ(Ids(outbox.Poll().publish), (std::vector<std::int64_t>{10}));
}

TEST_F(OutboxTest, NothingIsNumberedDuringQuarantine) {
  Outbox outbox = Make();
  for (const char* l : {"a", "b"}) outbox.Add(Chat(l));
  (void)outbox.Poll();
  (void)outbox.OnRefused(1);
  outbox.Add(Chat("c"));
  EXPECT_TRUE(outbox.Poll().publish.empty());
  outbox.OnOutOfOrder(2, 1);
  EXPECT_EQ(Ids(outbox.Poll().publish), (std::vector<std::int64_t>{1, 2}));
}

TEST_F(OutboxTest, AfterAReconnectPublishedChatsAreResentAtOnceWithoutCountingAnAttempt) {
  Outbox outbox = Make();
  outbox.Add(Chat("a"));
  (void)outbox.Poll();
  clock_.Advance(10ms);
  outbox.OnReconnected();
  auto due = outbox.Poll();
  ASSERT_EQ(due.publish.size(), 1u);
  EXPECT_EQ(due.publish[0].id, 1);
  EXPECT_EQ(due.publish[0].attempts, 1);
}

TEST_F(OutboxTest, SyncedRaisesLastIdWhenTheServerUsedMore) {
  Outbox outbox = Make(3);
  outbox.OnSynced(10);
  EXPECT_EQ(outbox.last_id(), 10);
  outbox.OnSynced(2);
  EXPECT_EQ(outbox.last_id(), 10);
  outbox.Add(Chat("a"));
  EXPECT_EQ(Ids(outbox.Poll().publish), (std::vector<std::int64_t>{11}));
}

TEST_F(OutboxTest, RestoredChatsAreResentWithTheirIdsAndNewOnesFollow) {
  std::vector<OutgoingChat> restored{
      OutgoingChat{.local_id = "a", .peer = "bob", .payload = "x", .id = 7, .attempts = 2},
      OutgoingChat{.local_id = "b", .peer = "bob", .payload = "y", .id = 0}};
  Outbox outbox(clock_, DefaultOptions(), 7, restored);
  outbox.SetNumberingAllowed(true);
  auto due = outbox.Poll();
  EXPECT_EQ(Ids(due.publish), (std::vector<std::int64_t>{7, 8}));
  EXPECT_EQ(due.publish[0].attempts, 3);
  EXPECT_EQ(outbox.chats().size(), 2u);
}

}  // namespace
}  // namespace sparrow::client
