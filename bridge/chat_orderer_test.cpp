#include "bridge/chat_orderer.hpp"

#include <gtest/gtest.h>

#include "testing/manual_clock.hpp"

namespace sparrow::bridge {
namespace {

using namespace std::chrono_literals;
using Verdict = ChatOrderer::Verdict;

protocol::ChatUp Chat(std::int64_t id) {
  protocol::ChatUp chat;
  chat.id = id;
  chat.dest_id = "bob";
  return chat;
}

class ChatOrdererTest : public ::testing::Test {
 protected:
  testing::ManualClock clock_;
  ChatOrderer orderer_{{.max_wait = 2000ms, .max_waiting_per_device = 3}};
  protocol::DeviceAddress phone_{"alice", "phone"};
};

TEST_F(ChatOrdererTest, NextIdIsReadyAndLowerIdsAreRepeats) {
  EXPECT_FALSE(orderer_.Known(phone_));
  orderer_.Load(phone_, 5, clock_.Now());
  EXPECT_EQ(orderer_.Offer(phone_, Chat(6), clock_.Now()), Verdict::kReady);
  EXPECT_FALSE(orderer_.Accept(phone_, 6).has_value());
  EXPECT_EQ(orderer_.Offer(phone_, Chat(6), clock_.Now()), Verdict::kRepeat);
  EXPECT_EQ(orderer_.Offer(phone_, Chat(1), clock_.Now()), Verdict::kRepeat);
  EXPECT_EQ(orderer_.Expected(phone_), 7);
}

TEST_F(ChatOrdererTest, EarlyChatWaitsForItsPredecessorThenFollows) {
  orderer_.Load(phone_, 0, clock_.Now());
  EXPECT_EQ(orderer_.Offer(phone_, Chat(3), clock_.Now()), Verdict::kWaiting);
  EXPECT_EQ(orderer_.Offer(phone_, Chat(2), clock_.Now()), Verdict::kWaiting);
  EXPECT_EQ(orderer_.Offer(phone_, Chat(3), clock_.Now()), Verdict::kRepeat);  // already waits
  EXPECT_EQ(orderer_.waiting(), 2u);
  EXPECT_EQ(orderer_.Offer(phone_, Chat(1), clock_.Now()), Verdict::kReady);
  auto next = orderer_.Accept(phone_, 1);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->chat.id, 2);
  next = orderer_.Accept(phone_, 2);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->chat.id, 3);
  EXPECT_FALSE(orderer_.Accept(phone_, 3).has_value());
  EXPECT_EQ(orderer_.waiting(), 0u);
}

TEST_F(ChatOrdererTest, WaitingChatsAreRefusedAfterTheBoundWithExpected) {
  orderer_.Load(phone_, 10, clock_.Now());
  EXPECT_EQ(orderer_.Offer(phone_, Chat(12), clock_.Now()), Verdict::kWaiting);
  clock_.Advance(1000ms);
  EXPECT_EQ(orderer_.Offer(phone_, Chat(13), clock_.Now()), Verdict::kWaiting);
  ASSERT_TRUE(orderer_.NextDeadline().has_value());
  EXPECT_EQ(*orderer_.NextDeadline(), clock_.Now() + 1000ms);
  clock_.Advance(999ms);
  EXPECT_TRUE(orderer_.Expire(clock_.Now()).empty());
  clock_.Advance(1ms);
  auto refused = orderer_.Expire(clock_.Now());
  ASSERT_EQ(refused.size(), 2u);  // the whole device's queue, not only the overdue chat
  EXPECT_EQ(refused[0].chat.id, 12);
  EXPECT_EQ(refused[1].chat.id, 13);
  EXPECT_EQ(refused[0].expected, 11);
  EXPECT_FALSE(orderer_.NextDeadline().has_value());
}

TEST_F(ChatOrdererTest, WaitingQueueIsBoundedPerDevice) {
  orderer_.Load(phone_, 0, clock_.Now());
  for (int id = 2; id <= 4; ++id)
    EXPECT_EQ(orderer_.Offer(phone_, Chat(id), clock_.Now()), Verdict::kWaiting);
  EXPECT_EQ(orderer_.Offer(phone_, Chat(5), clock_.Now()), Verdict::kRefused);
}

TEST_F(ChatOrdererTest, RefusedChatDoesNotUseItsIdAndRefusesThoseWaitingBehind) {
  orderer_.Load(phone_, 0, clock_.Now());
  EXPECT_EQ(orderer_.Offer(phone_, Chat(2), clock_.Now()), Verdict::kWaiting);
  EXPECT_EQ(orderer_.Offer(phone_, Chat(1), clock_.Now()), Verdict::kReady);
  auto refused = orderer_.Refuse(phone_, 1);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].chat.id, 2);
  EXPECT_EQ(refused[0].expected, 1);
  EXPECT_EQ(orderer_.Expected(phone_), 1);
  EXPECT_EQ(orderer_.Offer(phone_, Chat(1), clock_.Now()), Verdict::kReady);  // renumbered
}

TEST_F(ChatOrdererTest, DevicesAreIndependent) {
  protocol::DeviceAddress laptop{"alice", "laptop"};
  orderer_.Load(phone_, 0, clock_.Now());
  orderer_.Load(laptop, 7, clock_.Now());
  EXPECT_EQ(orderer_.Offer(phone_, Chat(1), clock_.Now()), Verdict::kReady);
  EXPECT_EQ(orderer_.Offer(laptop, Chat(1), clock_.Now()), Verdict::kRepeat);
  EXPECT_EQ(orderer_.Offer(laptop, Chat(8), clock_.Now()), Verdict::kReady);
}

TEST_F(ChatOrdererTest, ForgetDropsStateSoItIsReloaded) {
  orderer_.Load(phone_, 3, clock_.Now());
  EXPECT_EQ(orderer_.Offer(phone_, Chat(5), clock_.Now()), Verdict::kWaiting);
  orderer_.Forget(phone_);
  EXPECT_FALSE(orderer_.Known(phone_));
  EXPECT_EQ(orderer_.waiting(), 0u);
}

TEST(ChatOrdererEvictionTest, IdleDevicesAreDroppedBeyondTheCapButNotWaitingOnes) {
  testing::ManualClock clock;
  ChatOrderer orderer({.max_devices = 4});
  protocol::DeviceAddress busy{"busy", "d"};
  orderer.Load(busy, 0, clock.Now());
  EXPECT_EQ(orderer.Offer(busy, Chat(5), clock.Now()), Verdict::kWaiting);
  for (int i = 0; i < 10; ++i) {
    clock.Advance(std::chrono::milliseconds(1));
    orderer.Load({"user" + std::to_string(i), "d"}, 0, clock.Now());
  }
  EXPECT_LE(orderer.devices(), 5u);
  EXPECT_TRUE(orderer.Known(busy));
  EXPECT_TRUE(orderer.Known({"user9", "d"}));
}

}  // namespace
}  // namespace sparrow::bridge
