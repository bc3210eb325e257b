// The production topology on loopback (issue: "Production mode and scale-out"): two brokers
// with the plugin, two bridges connected to both, the sync service, and MariaDB.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "testing/mqtt/wait.hpp"
#include "testing/stack/mariadb_server.hpp"
#include "testing/stack/stack.hpp"
#include "testing/stack/test_device.hpp"

namespace sparrow::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Sends chats 1..n from `sender` to `dest`, resending every chat without SENT (same id) until
// all are acknowledged or `deadline` passes: the device's half of "no loss".
bool SendAllUntilSent(TestDevice& sender, const std::string& dest, int n,
                      std::chrono::seconds deadline,
                      const std::function<void(int)>& after_send = nullptr) {
  auto unacked = [&] {
    std::set<std::int64_t> acked;
    for (auto& a : sender.Acks("SENT")) acked.insert(a["ackMsgId"].get<std::int64_t>());
    std::vector<int> out;
    for (int id = 1; id <= n; ++id) {
      if (!acked.count(id)) out.push_back(id);
    }
    return out;
  };
  for (int id = 1; id <= n; ++id) {
    if (!sender.SendChat(id, dest, std::to_string(id))) return false;
    if (after_send) after_send(id);
  }
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (sender.WaitFor([&](auto&) { return unacked().empty(); }, 2s)) return true;
    for (int id : unacked()) sender.SendChat(id, dest, std::to_string(id));
  }
  return unacked().empty();
}

// Every chat of `from`, once, in id order, with gapless seqs: what a fresh device of `user`
// replays from the store.
void ExpectStoredExactlyOnceInOrder(SparrowStack& stack, const std::string& user,
                                    const std::string& from, int n) {
  TestDevice check(stack, user, "checker");
  ASSERT_TRUE(check.Connect(0, 20s).has_value());
  auto chats = check.Frames([&](const ReceivedFrame& r) {
    return r.topic == "im/in/" + user + "/checker" && r.frame.value("type", "") == "chat" &&
           r.frame.value("fromId", "") == from;
  });
  ASSERT_EQ(chats.size(), static_cast<std::size_t>(n)) << stack.Logs();
  std::int64_t last_seq = 0;
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(chats[i]["id"], i + 1);
    EXPECT_GT(chats[i]["seq"].get<std::int64_t>(), last_seq);
    last_seq = chats[i]["seq"];
  }
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!MariaDbInstalled()) GTEST_SKIP() << "MariaDB is not installed";
    db_.Start();
    stack_ = std::make_unique<SparrowStack>(
        StackOptions{.brokers = 2, .bridges = 2, .db_url = db_.url()});
    stack_->Start();
  }
  MariaDbServer db_;
  std::unique_ptr<SparrowStack> stack_;
};

TEST_F(ClusterTest, UsersOnDifferentBrokersChatBothWaysWithReceipts) {
  stack_->Befriend("alice", "bob");
  TestDevice alice(*stack_, "alice", "phone", 5, /*broker=*/0);
  TestDevice bob(*stack_, "bob", "phone", 4, /*broker=*/1);
  ASSERT_TRUE(alice.Connect().has_value());
  ASSERT_TRUE(bob.Connect().has_value());

  ASSERT_TRUE(alice.SendChat(1, "bob", "to bob"));
  ASSERT_TRUE(bob.WaitFor([](auto& d) { return d.IncomingChats().size() == 1; }));
  ASSERT_TRUE(bob.SendAck("DELIVERED", bob.IncomingChats()[0]["mid"]));
  ASSERT_TRUE(bob.SendAck("READ", bob.IncomingChats()[0]["mid"]));
  ASSERT_TRUE(alice.WaitFor([](auto& d) { return d.Acks("READ").size() == 1; }));
  EXPECT_EQ(alice.Acks("SENT").size(), 1u);
  EXPECT_EQ(alice.Acks("DELIVERED").size(), 1u);

  ASSERT_TRUE(bob.SendChat(1, "alice", "to alice"));
  ASSERT_TRUE(alice.WaitFor([](auto& d) { return d.IncomingChats().size() == 1; }));
  EXPECT_EQ(alice.IncomingChats()[0]["msgBody"], "to alice");
  ASSERT_TRUE(alice.SendAck("DELIVERED", alice.IncomingChats()[0]["mid"]));
  ASSERT_TRUE(bob.WaitFor([](auto& d) { return d.Acks("DELIVERED").size() == 1; }));
}

TEST_F(ClusterTest, UserWithDevicesOnBothBrokersGetsEverythingOnBoth) {
  stack_->Befriend("alice", "bob");
  TestDevice alice_phone(*stack_, "alice", "phone", 5, 0);
  TestDevice alice_laptop(*stack_, "alice", "laptop", 5, 1);
  TestDevice bob_phone(*stack_, "bob", "phone", 5, 0);
  TestDevice bob_laptop(*stack_, "bob", "laptop", 5, 1);
  for (auto* d : {&alice_phone, &alice_laptop, &bob_phone, &bob_laptop}) {
    ASSERT_TRUE(d->Connect().has_value());
  }
  for (int id = 1; id <= 20; ++id) ASSERT_TRUE(alice_phone.SendChat(id, "bob", std::to_string(id)));
  for (auto* d : {&bob_phone, &bob_laptop}) {
    ASSERT_TRUE(d->WaitFor([](auto& x) { return x.IncomingChats().size() >= 20; }, 20s))
        << d->device() << stack_->Logs();
    auto chats = d->IncomingChats();
    for (int i = 0; i < 20; ++i) EXPECT_EQ(chats[i]["msgBody"], std::to_string(i + 1));
  }
  // Alice's other device, on the other broker, sees her copies live.
  ASSERT_TRUE(alice_laptop.WaitFor(
      [](auto& x) {
        return x.Frames([](auto& r) { return r.frame.value("fromId", "") == "alice"; }).size() >=
               20;
      },
      20s));
}

TEST_F(ClusterTest, DeviceMovingBetweenBrokersKeepsReceivingLive) {
  stack_->Befriend("alice", "bob");
  TestDevice alice(*stack_, "alice", "phone", 5, 0);
  ASSERT_TRUE(alice.Connect().has_value());
  {
    TestDevice bob(*stack_, "bob", "phone", 5, 0);
    ASSERT_TRUE(bob.Connect().has_value());
    ASSERT_TRUE(alice.SendChat(1, "bob", "on b1"));
    ASSERT_TRUE(bob.WaitFor([](auto& d) { return d.IncomingChats().size() == 1; }));
  }
  TestDevice bob_moved(*stack_, "bob", "phone", 5, 1);
  ASSERT_TRUE(bob_moved.Connect(1).has_value());
  ASSERT_TRUE(alice.SendChat(2, "bob", "on b2"));
  ASSERT_TRUE(bob_moved.WaitFor([](auto& d) { return !d.IncomingChats().empty(); }, 10s))
      << stack_->Logs();
  EXPECT_EQ(bob_moved.IncomingChats().back()["msgBody"], "on b2");
}

TEST_F(ClusterTest, KillingOneBridgeMidStreamDeliversEveryChatExactlyOnce) {
  stack_->Befriend("alice", "bob");
  // Several senders, so both bridges own some of them.
  std::vector<std::unique_ptr<TestDevice>> senders;
  for (int i = 0; i < 4; ++i) {
    senders.push_back(
        std::make_unique<TestDevice>(*stack_, "alice", "d" + std::to_string(i), 5, i % 2));
    ASSERT_TRUE(senders.back()->Connect().has_value());
  }
  constexpr int kChats = 100;
  std::vector<std::thread> threads;
  std::atomic<bool> ok{true};
  for (auto& sender : senders) {
    threads.emplace_back([&, s = sender.get()] {
      if (!SendAllUntilSent(*s, "bob", kChats, 60s)) ok = false;
    });
  }
  // Kill one bridge while the chats flow; the other takes its share over.
  ASSERT_TRUE(WaitUntil(
      [&] {
        std::size_t sent = 0;
        for (auto& s : senders) sent += s->Acks("SENT").size();
        return sent >= 60;
      },
      30s));
  stack_->bridge(0).Kill();
  for (auto& t : threads) t.join();
  ASSERT_TRUE(ok) << stack_->Logs();

  TestDevice check(*stack_, "bob", "checker", 5, 1);
  ASSERT_TRUE(check.Connect(0, 20s).has_value());
  std::map<std::string, std::vector<std::int64_t>> ids;  // per sending device, in seq order
  std::int64_t last_seq = 0;
  for (auto& f : check.Frames([](const ReceivedFrame& r) {
         return r.topic == "im/in/bob/checker" && r.frame.value("type", "") == "chat";
       })) {
    EXPECT_EQ(f["seq"].get<std::int64_t>(), last_seq + 1);  // gapless over both bridges
    last_seq = f["seq"];
    ids[f["fromDevice"]].push_back(f["id"]);
  }
  ASSERT_EQ(ids.size(), senders.size());
  for (auto& [device, list] : ids) {
    ASSERT_EQ(list.size(), static_cast<std::size_t>(kChats)) << device;
    for (int i = 0; i < kChats; ++i) EXPECT_EQ(list[i], i + 1) << device;
  }
}

TEST_F(ClusterTest, RestartingMariaDbMidStreamLosesNothingAndServicesRecover) {
  stack_->Befriend("alice", "bob");
  TestDevice alice(*stack_, "alice", "phone", 5, 0);
  ASSERT_TRUE(alice.Connect().has_value());
  constexpr int kChats = 200;
  ASSERT_TRUE(SendAllUntilSent(alice, "bob", kChats, 90s, [&](int id) {
    if (id == kChats / 3) db_.Kill();   // a crash mid-stream
    if (id == kChats / 2) db_.Start();  // and back (same port, same data)
  })) << stack_->Logs();
  ExpectStoredExactlyOnceInOrder(*stack_, "bob", "alice", kChats);
}

}  // namespace
}  // namespace sparrow::testing
