// The messaging core end to end (issue: "Messaging core"): real Mosquitto with the plugin, real
// sparrow-bridge and sparrow-offline processes, SQLite, raw MQTT devices speaking topics.md.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "testing/mqtt/wait.hpp"
#include "testing/stack/stack.hpp"
#include "testing/stack/test_device.hpp"

namespace sparrow::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class MessagingTest : public ::testing::TestWithParam<int> {
 protected:
  static void SetUpTestSuite() {
    stack_ = new SparrowStack(StackOptions{.bridge_args = {"--ack-timeout-ms", "1000"}});
    stack_->Start();
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  // Fresh users per test, so tests share one stack without sharing state.
  std::string User(const std::string& name) {
    return name + std::to_string(counter_++) + "v" + std::to_string(GetParam());
  }
  std::unique_ptr<TestDevice> Device(const std::string& user, const std::string& device) {
    auto d = std::make_unique<TestDevice>(*stack_, user, device, GetParam());
    EXPECT_TRUE(d->Connect().has_value()) << stack_->Logs();
    return d;
  }

  static SparrowStack* stack_;
  static inline int counter_ = 0;
};
SparrowStack* MessagingTest::stack_ = nullptr;

TEST_P(MessagingTest, OnlineChatGetsSentDeliveredAndReadWithTheContractFields) {
  auto alice_id = User("alice"), bob_id = User("bob");
  stack_->Befriend(alice_id, bob_id);
  auto alice = Device(alice_id, "phone");
  auto bob = Device(bob_id, "tablet");

  ASSERT_TRUE(alice->SendChat(1, bob_id, "aGVsbG8="));
  ASSERT_TRUE(alice->WaitFor([](auto& d) { return d.Acks("SENT").size() == 1; }));
  json sent = alice->Acks("SENT")[0];
  EXPECT_EQ(sent["fromId"], alice_id);
  EXPECT_EQ(sent["destId"], bob_id);
  EXPECT_EQ(sent["ackMsgId"], 1);
  EXPECT_EQ(sent["ackDevice"], "phone");
  EXPECT_FALSE(sent.contains("seq"));
  const std::string mid = sent["mid"];

  ASSERT_TRUE(bob->WaitFor([](auto& d) { return d.IncomingChats().size() == 1; }));
  json chat = bob->IncomingChats()[0];
  EXPECT_EQ(chat["seq"], 1);
  EXPECT_EQ(chat["mid"], mid);
  EXPECT_EQ(chat["id"], 1);
  EXPECT_EQ(chat["fromId"], alice_id);
  EXPECT_EQ(chat["fromDevice"], "phone");
  EXPECT_EQ(chat["destId"], bob_id);
  EXPECT_EQ(chat["kind"], "text");
  EXPECT_EQ(chat["msgBody"], "aGVsbG8=");
  EXPECT_TRUE(chat["ts"].is_number_integer());

  ASSERT_TRUE(bob->SendAck("DELIVERED", mid));
  ASSERT_TRUE(alice->WaitFor([](auto& d) { return d.Acks("DELIVERED").size() == 1; }));
  json delivered = alice->Acks("DELIVERED")[0];
  EXPECT_EQ(delivered["seq"], 2);  // alice's own copy is seq 1
  EXPECT_EQ(delivered["fromId"], bob_id);
  EXPECT_EQ(delivered["destId"], alice_id);
  EXPECT_EQ(delivered["ackMsgId"], 1);
  EXPECT_EQ(delivered["ackDevice"], "phone");
  EXPECT_EQ(delivered["mid"], mid);

  ASSERT_TRUE(bob->SendAck("READ", mid));
  ASSERT_TRUE(alice->WaitFor([](auto& d) { return d.Acks("READ").size() == 1; }));
  EXPECT_EQ(alice->Acks("READ")[0]["seq"], 3);
  EXPECT_EQ(alice->Acks("READ")[0]["mid"], mid);
}

TEST_P(MessagingTest, TwoHundredChatsInARowArriveInOrderWithContiguousSeqs) {
  auto alice_id = User("alice"), bob_id = User("bob");
  stack_->Befriend(alice_id, bob_id);
  auto alice = Device(alice_id, "phone");
  auto bob = Device(bob_id, "tablet");
  for (int id = 1; id <= 200; ++id)
    ASSERT_TRUE(alice->SendChat(id, bob_id, "m" + std::to_string(id)));
  ASSERT_TRUE(bob->WaitFor([](auto& d) { return d.IncomingChats().size() >= 200; }, 30s));
  auto chats = bob->IncomingChats();
  ASSERT_EQ(chats.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(chats[i]["seq"], i + 1);
    EXPECT_EQ(chats[i]["msgBody"], "m" + std::to_string(i + 1));
  }
  EXPECT_TRUE(alice->WaitFor([](auto& d) { return d.Acks("SENT").size() == 200; }));
}

TEST_P(MessagingTest, OfflineUserGetsEverythingOnSyncInOrderOnceAndLearnsItsLastId) {
  auto alice_id = User("alice"), bob_id = User("bob");
  stack_->Befriend(alice_id, bob_id);
  auto alice = Device(alice_id, "phone");
  for (int id = 1; id <= 30; ++id) ASSERT_TRUE(alice->SendChat(id, bob_id, std::to_string(id)));
  ASSERT_TRUE(alice->WaitFor([](auto& d) { return d.Acks("SENT").size() == 30; }));

  auto bob = Device(bob_id, "tablet");  // Connect() syncs from 0
  auto replies =
      bob->Frames([&](const ReceivedFrame& r) { return r.topic == "im/in/" + bob_id + "/tablet"; });
  ASSERT_EQ(replies.size(), 31u);
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(replies[i]["type"], "chat");
    EXPECT_EQ(replies[i]["seq"], i + 1);
    EXPECT_EQ(replies[i]["msgBody"], std::to_string(i + 1));
  }
  EXPECT_EQ(replies[30]["type"], "synced");
  EXPECT_EQ(replies[30]["upto"], 30);
  EXPECT_EQ(replies[30]["lastId"], 0);

  // The sender's device restarting without state learns where it stopped.
  alice->Disconnect();
  TestDevice again(*stack_, alice_id, "phone", GetParam());
  auto synced = again.Connect(30);
  ASSERT_TRUE(synced.has_value());
  EXPECT_EQ((*synced)["lastId"], 30);
}

TEST_P(MessagingTest, SyncRacingLiveTrafficLosesAndMisplacesNothing) {
  auto alice_id = User("alice"), bob_id = User("bob");
  stack_->Befriend(alice_id, bob_id);
  auto alice = Device(alice_id, "phone");
  for (int id = 1; id <= 50; ++id) ASSERT_TRUE(alice->SendChat(id, bob_id, std::to_string(id)));
  ASSERT_TRUE(alice->WaitFor([](auto& d) { return d.Acks("SENT").size() == 50; }));

  TestDevice bob(*stack_, bob_id, "tablet", GetParam());
  bob.transport().Start();
  ASSERT_TRUE(bob.transport().WaitConnected(5s));
  ASSERT_TRUE(bob.SendSync(0));
  for (int id = 51; id <= 100; ++id) ASSERT_TRUE(alice->SendChat(id, bob_id, std::to_string(id)));
  ASSERT_TRUE(bob.WaitFor([](auto& d) { return !d.Synced().empty(); }));
  // Order everything by seq, as a client does; the live frames may come before the replay.
  ASSERT_TRUE(bob.WaitFor(
      [&](auto& d) {
        std::set<std::int64_t> seqs;
        for (auto& f : d.Frames([](auto& r) { return r.frame.value("type", "") == "chat"; })) {
          seqs.insert(f["seq"].template get<std::int64_t>());
        }
        return seqs.size() == 100;
      },
      20s));
  std::map<std::int64_t, std::string> by_seq;
  for (auto& f : bob.Frames([](auto& r) { return r.frame.value("type", "") == "chat"; })) {
    auto [it, inserted] = by_seq.emplace(f["seq"].get<std::int64_t>(), f["msgBody"]);
    if (!inserted) {
      EXPECT_EQ(it->second, f["msgBody"]);  // a repeat is the same frame
    }
  }
  ASSERT_EQ(by_seq.size(), 100u);
  std::int64_t expected = 1;
  for (auto& [seq, body] : by_seq) {
    EXPECT_EQ(seq, expected);
    EXPECT_EQ(body, std::to_string(expected));
    ++expected;
  }
}

TEST_P(MessagingTest, TwoDevicesOfOneUserBothGetLiveFramesAndBothSyncEverything) {
  auto alice_id = User("alice"), bob_id = User("bob");
  stack_->Befriend(alice_id, bob_id);
  auto alice = Device(alice_id, "phone");
  auto bob_tablet = Device(bob_id, "tablet");
  auto bob_phone = Device(bob_id, "phone");
  for (int id = 1; id <= 20; ++id) ASSERT_TRUE(alice->SendChat(id, bob_id, std::to_string(id)));
  for (auto* d : {bob_tablet.get(), bob_phone.get()}) {
    ASSERT_TRUE(d->WaitFor([](auto& x) { return x.IncomingChats().size() == 20; }));
  }
  // Both sync from 0 at the same moment: each gets all 20, once, in order.
  bob_tablet->Clear();
  bob_phone->Clear();
  ASSERT_TRUE(bob_tablet->SendSync(0));
  ASSERT_TRUE(bob_phone->SendSync(0));
  for (auto* d : {bob_tablet.get(), bob_phone.get()}) {
    ASSERT_TRUE(d->WaitFor([](auto& x) { return !x.Synced().empty(); }));
    auto replayed = d->Frames([&](const ReceivedFrame& r) {
      return r.topic == "im/in/" + bob_id + "/" + d->device() &&
             r.frame.value("type", "") == "chat";
    });
    ASSERT_EQ(replayed.size(), 20u) << d->device();
    for (int i = 0; i < 20; ++i) EXPECT_EQ(replayed[i]["seq"], i + 1);
  }
  // The sender's other device sees the conversation too (its copies).
  auto alice_laptop = Device(alice_id, "laptop");
  auto copies = alice_laptop->Frames([](auto& r) { return r.frame.value("type", "") == "chat"; });
  EXPECT_EQ(copies.size(), 20u);
}

TEST_P(MessagingTest, BadFramesGetTheirErrorsAndTheNextGoodFrameGoesThrough) {
  auto alice_id = User("alice"), bob_id = User("bob"), carol_id = User("carol");
  stack_->Befriend(alice_id, bob_id);
  stack_->CreateUser(carol_id);
  auto alice = Device(alice_id, "phone");
  auto bob = Device(bob_id, "tablet");

  // Dedupe: the same id three times is delivered once and answered with the same SENT.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(alice->SendChat(1, bob_id, "once"));
  ASSERT_TRUE(alice->WaitFor([](auto& d) { return d.Acks("SENT").size() == 3; }));
  auto sents = alice->Acks("SENT");
  EXPECT_EQ(sents[0]["mid"], sents[1]["mid"]);
  EXPECT_EQ(sents[0]["mid"], sents[2]["mid"]);
  const std::string mid = sents[0]["mid"];

  ASSERT_TRUE(alice->SendChat(2, carol_id, "stranger"));  // not_friends
  ASSERT_TRUE(alice->SendRaw(json{
      {"type", "chat"},
      {"id", 2},
      {"destId", bob_id},
      {"kind", "text"},
      {"msgBody", "x"},
      {"fromId", carol_id}}.dump()));                                           // spoofed_sender
  ASSERT_TRUE(alice->SendRaw("{\"type\":\"chat\", oops"));                      // malformed JSON
  ASSERT_TRUE(alice->SendRaw("{\"type\":\"chat\",\"msgBody\":\"\xc3\x28\"}"));  // invalid UTF-8
  ASSERT_TRUE(alice->SendRaw(R"({"type":"wave"})"));                            // unknown type
  ASSERT_TRUE(alice->SendChat(2, bob_id, std::string(70 * 1024, 'x')));         // too_large
  ASSERT_TRUE(bob->SendAck("DELIVERED", "01ZZZZZZZZZZZZZZZZZZZZZZZZ"));         // unknown chat
  ASSERT_TRUE(alice->SendAck("DELIVERED", mid));  // a forged receipt for her own chat
  ASSERT_TRUE(alice->SendChat(2, bob_id, "good"));

  ASSERT_TRUE(bob->WaitFor([](auto& d) { return d.IncomingChats().size() == 2; }));
  EXPECT_EQ(bob->IncomingChats()[0]["msgBody"], "once");
  EXPECT_EQ(bob->IncomingChats()[1]["msgBody"], "good");
  ASSERT_TRUE(alice->WaitFor([](auto& d) { return d.Errors().size() == 7; }));
  std::vector<std::string> codes;
  for (auto& e : alice->Errors()) codes.push_back(e["code"]);
  EXPECT_EQ(codes,
            (std::vector<std::string>{"not_friends", "spoofed_sender", "bad_frame", "bad_frame",
                                      "bad_frame", "too_large", "unknown_message"}));
  EXPECT_EQ(alice->Errors()[0]["id"], 2);
  EXPECT_EQ(alice->Errors()[5]["id"], 2);
  EXPECT_EQ(alice->Errors()[6]["mid"], mid);
  ASSERT_TRUE(bob->WaitFor([](auto& d) { return d.Errors().size() == 1; }));
  EXPECT_EQ(bob->Errors()[0]["code"], "unknown_message");
  EXPECT_TRUE(alice->Acks("DELIVERED").empty());
}

TEST_P(MessagingTest, UndeliveredChatIsRepublishedUntilTheRecipientAcks) {
  auto alice_id = User("alice"), bob_id = User("bob");
  stack_->Befriend(alice_id, bob_id);
  auto alice = Device(alice_id, "phone");
  auto bob = Device(bob_id, "tablet");
  ASSERT_TRUE(alice->SendChat(1, bob_id, "again"));
  // The stack runs with --ack-timeout-ms 1000: bob, who does not ack, sees it again.
  ASSERT_TRUE(bob->WaitFor([](auto& d) { return d.IncomingChats().size() >= 2; }, 5s));
  auto chats = bob->IncomingChats();
  EXPECT_EQ(chats[0], chats[1]);  // the same frame, same seq
  ASSERT_TRUE(bob->SendAck("DELIVERED", chats[0]["mid"]));
  ASSERT_TRUE(alice->WaitFor([](auto& d) { return d.Acks("DELIVERED").size() == 1; }));
  std::size_t seen = bob->IncomingChats().size();
  // No further republishing once delivered: wait past two timeouts for the proof.
  EXPECT_FALSE(bob->WaitFor([&](auto& d) { return d.IncomingChats().size() > seen; }, 2500ms));
}

INSTANTIATE_TEST_SUITE_P(Mqtt, MessagingTest, ::testing::Values(5, 4),
                         [](const auto& param) { return param.param == 5 ? "V5" : "V311"; });

TEST(MessagingCrashTest, BridgeKilledWhileClientsResendDeliversEveryChatExactlyOnce) {
  SparrowStack stack;
  stack.Start();
  stack.Befriend("alice", "bob");
  TestDevice alice(stack, "alice", "phone");
  TestDevice bob(stack, "bob", "tablet");
  ASSERT_TRUE(alice.Connect().has_value());
  ASSERT_TRUE(bob.Connect().has_value());

  // The device's part of the protocol: resend every chat without SENT, same id, until SENT.
  constexpr int kChats = 300;
  std::set<std::int64_t> sent_ids;
  auto unacked = [&] {
    std::set<std::int64_t> acked;
    for (auto& a : alice.Acks("SENT")) acked.insert(a["ackMsgId"].get<std::int64_t>());
    std::vector<std::int64_t> out;
    for (int id = 1; id <= kChats; ++id) {
      if (!acked.count(id)) out.push_back(id);
    }
    return out;
  };
  for (int id = 1; id <= kChats; ++id) {
    ASSERT_TRUE(alice.SendChat(id, "bob", std::to_string(id)));
    if (id == kChats / 3) stack.bridge().Kill();   // crash mid-stream
    if (id == kChats / 2) stack.bridge().Start();  // and come back
  }
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!unacked().empty() && std::chrono::steady_clock::now() < deadline) {
    if (alice.WaitFor([&](auto&) { return unacked().empty(); }, 1500ms)) break;
    for (auto id : unacked()) ASSERT_TRUE(alice.SendChat(id, "bob", std::to_string(id)));
  }
  ASSERT_TRUE(unacked().empty()) << stack.Logs();

  // Bob syncs from 0: every chat exactly once, in id order, seqs 1..kChats.
  TestDevice bob_again(stack, "bob", "laptop");
  ASSERT_TRUE(bob_again.Connect().has_value());
  auto replayed = bob_again.Frames([](const ReceivedFrame& r) {
    return r.topic == "im/in/bob/laptop" && r.frame.value("type", "") == "chat";
  });
  ASSERT_EQ(replayed.size(), static_cast<std::size_t>(kChats));
  for (int i = 0; i < kChats; ++i) {
    EXPECT_EQ(replayed[i]["seq"], i + 1);
    EXPECT_EQ(replayed[i]["id"], i + 1);
  }
}

}  // namespace
}  // namespace sparrow::testing
