#include "client/history.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "testing/temp_dir.hpp"

namespace sparrow::client {
namespace {

Message Outgoing(const std::string& local, const std::string& text) {
  Message m;
  m.local_id = local;
  m.from = "alice";
  m.to = "bob";
  m.from_device = "cli";
  m.outgoing = true;
  m.text = text;
  return m;
}

Message Incoming(const std::string& mid, const std::string& text) {
  Message m;
  m.mid = mid;
  m.from = "bob";
  m.to = "alice";
  m.from_device = "phone";
  m.text = text;
  m.seq = 3;
  m.ts = 1764430000000;
  return m;
}

TEST(HistoryTest, RecordsAConversationInOrderWithTheLatestStatus) {
  testing::TempDir dir;
  History history(dir.path());
  history.AddMessage(Outgoing("L1", "hi bob"), MessageStatus::kPending);
  history.AddMessage(Incoming("M2", "hi alice"), MessageStatus::kDelivered);
  history.UpdateStatus("bob", "L1", "M1", 5, MessageStatus::kSent);
  history.UpdateStatus("bob", "", "M1", 0, MessageStatus::kDelivered);
  history.UpdateStatus("bob", "", "M2", 0, MessageStatus::kRead);

  auto entries = history.Conversation("bob");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].message.text, "hi bob");
  EXPECT_EQ(entries[0].message.mid, "M1");
  EXPECT_EQ(entries[0].message.id, 5);
  EXPECT_TRUE(entries[0].message.outgoing);
  EXPECT_EQ(entries[0].status, MessageStatus::kDelivered);
  EXPECT_EQ(entries[1].message.text, "hi alice");
  EXPECT_EQ(entries[1].status, MessageStatus::kRead);
  EXPECT_EQ(history.Peers(), (std::vector<std::string>{"bob"}));
}

TEST(HistoryTest, ARepeatedMessageIsShownOnce) {
  testing::TempDir dir;
  History history(dir.path());
  history.AddMessage(Incoming("M1", "once"), MessageStatus::kDelivered);
  history.AddMessage(Incoming("M1", "once"), MessageStatus::kDelivered);
  EXPECT_EQ(history.Conversation("bob").size(), 1u);
}

TEST(HistoryTest, StatusesNeverMoveBackward) {
  testing::TempDir dir;
  History history(dir.path());
  history.AddMessage(Outgoing("L1", "x"), MessageStatus::kPending);
  history.UpdateStatus("bob", "L1", "M1", 1, MessageStatus::kRead);
  history.UpdateStatus("bob", "L1", "M1", 1, MessageStatus::kSent);
  history.UpdateStatus("bob", "L1", "M1", 1, MessageStatus::kFailed);
  EXPECT_EQ(history.Conversation("bob")[0].status, MessageStatus::kRead);
  history.AddMessage(Outgoing("L2", "y"), MessageStatus::kPending);
  history.UpdateStatus("bob", "L2", "", 0, MessageStatus::kFailed);
  EXPECT_EQ(history.Conversation("bob")[1].status, MessageStatus::kFailed);
}

TEST(HistoryTest, LimitKeepsTheLatestAndATornLineIsSkipped) {
  testing::TempDir dir;
  History history(dir.path());
  for (int i = 0; i < 5; ++i) {
    history.AddMessage(Outgoing("L" + std::to_string(i), std::to_string(i)),
                       MessageStatus::kPending);
  }
  std::ofstream(dir.path() / "bob.jsonl", std::ios::app) << "{\"t\":\"msg\",\"loc";
  auto last = history.Conversation("bob", 2);
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[0].message.text, "3");
  EXPECT_EQ(last[1].message.text, "4");
  EXPECT_TRUE(history.Conversation("nobody").empty());
  EXPECT_TRUE(history.Conversation("../etc").empty());
}

}  // namespace
}  // namespace sparrow::client
