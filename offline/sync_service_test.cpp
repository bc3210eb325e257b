#include "offline/sync_service.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "protocol/codec.hpp"
#include "testing/in_memory_message_store.hpp"
#include "testing/manual_clock.hpp"
#include "testing/mqtt/fake_transport.hpp"
#include "testing/mqtt/wait.hpp"

namespace sparrow::offline {
namespace {

using nlohmann::json;

class SyncReplayerTest : public ::testing::Test {
 protected:
  // Stores `n` chats from alice's phone to bob (ids 1..n), one batch.
  void StoreChats(int n) {
    WriteBatch batch;
    for (int i = 1; i <= n; ++i) {
      std::string mid = "mid" + std::to_string(next_++);
      std::string content =
          R"({"type":"chat","mid":")" + mid + R"(","id":)" + std::to_string(i) +
          R"(,"fromId":"alice","fromDevice":"phone","destId":"bob","kind":"text","msgBody":"m","ts":1})";
      batch.chats.push_back(ChatWrite{mid, "alice", "phone", i, "bob", 1, content, content});
    }
    (void)store_.Commit(batch);
  }
  std::vector<json> To(const std::string& topic) {
    std::vector<json> out;
    for (auto& m : transport_.PublishedTo(topic)) out.push_back(json::parse(m.payload));
    return out;
  }

  testing::InMemoryMessageStore store_;
  testing::FakeTransport transport_;
  std::int64_t next_ = 1;
};

TEST_F(SyncReplayerTest, ReplaysEverythingAfterInSeqOrderThenSynced) {
  StoreChats(30);
  transport_.Start();
  SyncReplayer replayer(store_, transport_, {.page_size = 7}, nullptr);
  EXPECT_EQ(replayer.Replay({"bob", "tablet"}, R"({"type":"sync","after":0})"),
            ReplayOutcome::kDone);
  auto frames = To("im/in/bob/tablet");
  ASSERT_EQ(frames.size(), 31u);
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(frames[i]["seq"], i + 1);
    EXPECT_EQ(frames[i]["type"], "chat");
  }
  EXPECT_EQ(frames[30], json({{"type", "synced"}, {"upto", 30}, {"lastId", 0}}));
}

TEST_F(SyncReplayerTest, ReplaysOnlyAfterAndReportsTheDevicesLastId) {
  StoreChats(10);
  transport_.Start();
  SyncReplayer replayer(store_, transport_, {}, nullptr);
  EXPECT_EQ(replayer.Replay({"alice", "phone"}, R"({"type":"sync","after":8})"),
            ReplayOutcome::kDone);
  auto frames = To("im/in/alice/phone");
  ASSERT_EQ(frames.size(), 3u);  // the sender's copies 9 and 10
  EXPECT_EQ(frames[0]["seq"], 9);
  EXPECT_EQ(frames[1]["seq"], 10);
  EXPECT_EQ(frames[2]["upto"], 10);
  EXPECT_EQ(frames[2]["lastId"], 10);
  EXPECT_EQ(store_.SyncCursor("alice", "phone"), 8u);
}

TEST_F(SyncReplayerTest, NothingStoredAnswersSyncedWithUptoEqualToAfter) {
  transport_.Start();
  SyncReplayer replayer(store_, transport_, {}, nullptr);
  EXPECT_EQ(replayer.Replay({"carol", "phone"}, R"({"type":"sync","after":0})"),
            ReplayOutcome::kDone);
  auto frames = To("im/in/carol/phone");
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0]["upto"], 0);
}

TEST_F(SyncReplayerTest, BackpressureIsWaitedOutNotLost) {
  StoreChats(20);
  transport_.Start();
  transport_.FailNextPublishes(5);  // kBackpressure five times
  SyncReplayer replayer(store_, transport_, {}, nullptr);
  EXPECT_EQ(replayer.Replay({"bob", "tablet"}, R"({"type":"sync","after":0})"),
            ReplayOutcome::kDone);
  EXPECT_EQ(To("im/in/bob/tablet").size(), 21u);
}

TEST_F(SyncReplayerTest, LostConnectionStopsTheReplayWithoutSynced) {
  StoreChats(5);
  transport_.Start();
  transport_.SetConnected(false);
  SyncReplayer replayer(store_, transport_, {}, nullptr);
  EXPECT_EQ(replayer.Replay({"bob", "tablet"}, R"({"type":"sync","after":0})"),
            ReplayOutcome::kNotConnected);
}

TEST_F(SyncReplayerTest, NotASyncFrameIsBadFrame) {
  transport_.Start();
  SyncReplayer replayer(store_, transport_, {}, nullptr);
  EXPECT_EQ(replayer.Replay({"bob", "tablet"}, R"({"type":"sync","after":-1})"),
            ReplayOutcome::kBadRequest);
  EXPECT_EQ(To("im/in/bob/tablet")[0]["code"], "bad_frame");
}

TEST(SyncServiceTest, TwoDevicesSyncingAtOnceEachGetEverythingOnce) {
  auto shared = std::make_shared<testing::InMemoryMessageStore>();
  WriteBatch batch;
  for (int i = 1; i <= 100; ++i) {
    std::string mid = "m" + std::to_string(i);
    std::string content = R"({"type":"chat","mid":")" + mid + R"("})";
    batch.chats.push_back(ChatWrite{mid, "alice", "phone", i, "bob", 1, content, content});
  }
  (void)shared->Commit(batch);

  testing::FakeTransport transport;
  testing::ManualClock clock;
  SyncService service(
      {&transport}, [shared] { return shared; }, clock,  // thread-safe: shared by the workers
      {.workers = 2, .replay = {.page_size = 9}, .purge_interval = std::chrono::seconds(0)},
      nullptr);
  transport.Start();
  service.Start();
  transport.Deliver({"im/sys/sync/bob/phone", R"({"type":"sync","after":0})", 1, false});
  transport.Deliver({"im/sys/sync/bob/tablet", R"({"type":"sync","after":0})", 1, false});
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        return transport.PublishedTo("im/in/bob/phone").size() == 101 &&
               transport.PublishedTo("im/in/bob/tablet").size() == 101;
      },
      std::chrono::seconds(10)));
  service.Stop();
  for (const char* topic : {"im/in/bob/phone", "im/in/bob/tablet"}) {
    auto frames = transport.PublishedTo(topic);
    for (int i = 0; i < 100; ++i) {
      EXPECT_EQ(json::parse(frames[i].payload)["seq"], i + 1) << topic;
    }
    EXPECT_EQ(json::parse(frames[100].payload)["type"], "synced");
  }
}

}  // namespace
}  // namespace sparrow::offline
