#include "bridge/bridge_core.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "offline/store_error.hpp"
#include "testing/in_memory_message_store.hpp"
#include "testing/manual_clock.hpp"
#include "testing/mqtt/fake_transport.hpp"

namespace sparrow::bridge {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class FakeFriendships final : public FriendshipSource {
 public:
  bool AreFriends(const std::string& a, const std::string& b) override {
    ++calls;
    if (fail) throw offline::StoreError("database down", true);
    return pairs.count(a < b ? a + ":" + b : b + ":" + a) != 0;
  }
  void Befriend(const std::string& a, const std::string& b) {
    pairs.insert(a < b ? a + ":" + b : b + ":" + a);
  }
  std::set<std::string> pairs;
  bool fail = false;
  int calls = 0;
};

class BridgeCoreTest : public ::testing::Test {
 protected:
  BridgeCoreTest() {
    friendships_.Befriend("alice", "bob");
    options_.acks.ack_timeout = 5000ms;
    options_.acks.max_tries = 3;
    options_.ordering.max_wait = 2000ms;
    router_ = std::make_unique<Router>(std::vector<transport::Transport*>{&transport_},
                                       std::vector<std::string>{"b1"}, presence_);
    core_ = std::make_unique<BridgeCore>(*router_, store_, friendships_, clock_, options_, nullptr);
    transport_.Start();
  }

  void Send(const std::string& user, const std::string& device, const std::string& payload) {
    SendMany({{"im/up/" + user + "/" + device, payload, 1, false}});
  }
  void SendMany(std::vector<transport::Message> messages) {
    std::vector<Inbound> batch;
    for (auto& m : messages) batch.push_back(Inbound{Inbound::Kind::kMessage, 0, std::move(m)});
    core_->Process(batch);
  }

  static std::string Chat(std::int64_t id, const std::string& dest = "bob",
                          const std::string& body = "hi") {
    return json{{"type", "chat"}, {"id", id}, {"destId", dest}, {"kind", "text"}, {"msgBody", body}}
        .dump();
  }
  static std::string Ack(const std::string& type, const std::string& mid) {
    return json{{"type", "ack"}, {"msgType", type}, {"mid", mid}}.dump();
  }
  std::vector<json> On(const std::string& topic) {
    std::vector<json> out;
    for (auto& m : transport_.PublishedTo(topic)) out.push_back(json::parse(m.payload));
    return out;
  }

  testing::FakeTransport transport_;
  testing::InMemoryMessageStore store_;
  FakeFriendships friendships_;
  testing::ManualClock clock_;
  BridgeOptions options_;
  bool presence_ = false;  // every live frame goes to the one broker (see PresenceTest below)
  std::unique_ptr<Router> router_;
  std::unique_ptr<BridgeCore> core_;
};

TEST_F(BridgeCoreTest, ChatIsStoredThenSentToSenderDeliveredToRecipientAndCopied) {
  Send("alice", "phone", Chat(1));
  auto sent = On("im/in/alice/phone");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["type"], "ack");
  EXPECT_EQ(sent[0]["msgType"], "SENT");
  EXPECT_FALSE(sent[0].contains("seq"));
  EXPECT_EQ(sent[0]["fromId"], "alice");
  EXPECT_EQ(sent[0]["destId"], "bob");
  EXPECT_EQ(sent[0]["ackMsgId"], 1);
  EXPECT_EQ(sent[0]["ackDevice"], "phone");
  std::string mid = sent[0]["mid"];

  auto chat = On("im/in/bob");
  ASSERT_EQ(chat.size(), 1u);
  EXPECT_EQ(chat[0]["seq"], 1);
  EXPECT_EQ(chat[0]["type"], "chat");
  EXPECT_EQ(chat[0]["mid"], mid);
  EXPECT_EQ(chat[0]["id"], 1);
  EXPECT_EQ(chat[0]["fromId"], "alice");
  EXPECT_EQ(chat[0]["fromDevice"], "phone");
  EXPECT_EQ(chat[0]["destId"], "bob");
  EXPECT_EQ(chat[0]["kind"], "text");
  EXPECT_EQ(chat[0]["msgBody"], "hi");
  EXPECT_EQ(chat[0]["ts"], clock_.WallMillis());

  auto copy = On("im/in/alice");
  ASSERT_EQ(copy.size(), 1u);
  EXPECT_EQ(copy[0]["seq"], 1);
  EXPECT_EQ(copy[0]["mid"], mid);
  EXPECT_EQ(store_.LastSeq("bob"), 1u);
  EXPECT_EQ(store_.LastChatId("alice", "phone"), 1);
}

TEST_F(BridgeCoreTest, ChatsArrivingTogetherShareOneCommitWithContiguousSeqs) {
  std::vector<transport::Message> batch;
  for (int id = 1; id <= 50; ++id) batch.push_back({"im/up/alice/phone", Chat(id), 1, false});
  SendMany(batch);
  EXPECT_EQ(store_.successful_commits(), 1);
  auto chats = On("im/in/bob");
  ASSERT_EQ(chats.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(chats[i]["seq"], i + 1);
    EXPECT_EQ(chats[i]["id"], i + 1);
  }
}

TEST_F(BridgeCoreTest, NothingIsAnsweredWhenTheCommitFailsAndTheResendIsStoredOnce) {
  store_.FailNextCommits(1);
  Send("alice", "phone", Chat(1));
  EXPECT_TRUE(transport_.Published().empty());  // no SENT without a commit
  Send("alice", "phone", Chat(1));              // the device resends the same id
  EXPECT_EQ(On("im/in/alice/phone").size(), 1u);
  EXPECT_EQ(On("im/in/bob").size(), 1u);
  EXPECT_EQ(store_.LastSeq("bob"), 1u);
}

TEST_F(BridgeCoreTest, RepeatGetsTheSameSentAndNothingElse) {
  Send("alice", "phone", Chat(1));
  std::string mid = On("im/in/alice/phone")[0]["mid"];
  Send("alice", "phone", Chat(1));
  Send("alice", "phone", Chat(1));
  auto sent = On("im/in/alice/phone");
  ASSERT_EQ(sent.size(), 3u);
  for (auto& s : sent) {
    EXPECT_EQ(s["msgType"], "SENT");
    EXPECT_EQ(s["mid"], mid);
  }
  EXPECT_EQ(On("im/in/bob").size(), 1u);
  EXPECT_EQ(store_.LastSeq("bob"), 1u);
}

// A bridge that stored a chat and died before its publishes left (kill -9, a failpoint): the
// device resends, and the next life answers SENT and publishes the stored frame again, once,
// since the recipient never acknowledged it. Then it retransmits it like any chat.
TEST_F(BridgeCoreTest, RepeatOfAChatStoredByAnEarlierLifeIsPublishedAgain) {
  Send("alice", "phone", Chat(1));
  std::string mid = On("im/in/alice/phone")[0]["mid"];
  ASSERT_EQ(On("im/in/bob").size(), 1u);
  // The next life: same store, nothing in memory, the publishes of the first life lost.
  transport_.Clear();
  core_ = std::make_unique<BridgeCore>(*router_, store_, friendships_, clock_, options_, nullptr);
  Send("alice", "phone", Chat(1));
  auto sent = On("im/in/alice/phone");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0]["mid"], mid);
  auto again = On("im/in/bob");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0]["mid"], mid);
  EXPECT_EQ(again[0]["seq"], 1);
  EXPECT_EQ(again[0]["msgBody"], "hi");
  // A second repeat while it is tracked: SENT only.
  Send("alice", "phone", Chat(1));
  EXPECT_EQ(On("im/in/bob").size(), 1u);
  // Retransmitted on timeout, and no longer once DELIVERED.
  clock_.Advance(5001ms);
  core_->Tick();
  EXPECT_EQ(On("im/in/bob").size(), 2u);
  Send("bob", "phone", Ack("DELIVERED", mid));
  clock_.Advance(5001ms);
  core_->Tick();
  EXPECT_EQ(On("im/in/bob").size(), 2u);
  // Delivered (maybe to another device of bob's, from a sync): a repeat in a later life
  // publishes the frame once more for the devices that may have missed it, without tracking.
  core_ = std::make_unique<BridgeCore>(*router_, store_, friendships_, clock_, options_, nullptr);
  Send("alice", "phone", Chat(1));
  EXPECT_EQ(On("im/in/bob").size(), 3u);
  clock_.Advance(5001ms);
  core_->Tick();
  EXPECT_EQ(On("im/in/bob").size(), 3u);
  // Within one life, a repeat of a chat it published is answered with SENT only.
  Send("alice", "phone", Chat(2));
  Send("alice", "phone", Chat(2));
  EXPECT_EQ(On("im/in/bob").size(), 4u);
}

TEST_F(BridgeCoreTest, SentComesAfterTheRecipientsCopyOnTheConnection) {
  Send("alice", "phone", Chat(1));
  const auto published = transport_.Published();
  ASSERT_EQ(published.size(), 3u);
  EXPECT_EQ(published[0].topic, "im/in/bob");
  EXPECT_EQ(published[2].topic, "im/in/alice/phone");
}

TEST_F(BridgeCoreTest, RepeatInsideOneBatchIsAnsweredWithTheFirstMid) {
  SendMany({{"im/up/alice/phone", Chat(1), 1, false}, {"im/up/alice/phone", Chat(1), 1, false}});
  auto sent = On("im/in/alice/phone");
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0]["mid"], sent[1]["mid"]);
  EXPECT_EQ(On("im/in/bob").size(), 1u);
}

TEST_F(BridgeCoreTest, BadFramesAreAnsweredAndTheNextGoodFrameGoesThrough) {
  SendMany(
      {{"im/up/alice/phone", "{not json", 1, false},
       {"im/up/alice/phone", "\xff\xfe", 1, false},
       {"im/up/alice/phone", R"({"type":"poke"})", 1, false},
       {"im/up/alice/phone", Chat(7, "bob", std::string(70 * 1024, 'x')), 1, false},
       {"im/up/alice/phone",
        R"({"type":"chat","id":1,"destId":"bob","kind":"text","msgBody":"x","fromId":"mallory"})",
        1, false},
       {"im/up/alice/phone", Chat(1), 1, false}});
  auto replies = On("im/in/alice/phone");
  ASSERT_EQ(replies.size(), 6u);
  EXPECT_EQ(replies[0]["code"], "bad_frame");
  EXPECT_EQ(replies[1]["code"], "bad_frame");
  EXPECT_EQ(replies[2]["code"], "bad_frame");
  EXPECT_EQ(replies[3]["code"], "too_large");
  EXPECT_EQ(replies[3]["id"], 7);
  EXPECT_EQ(replies[4]["code"], "spoofed_sender");
  EXPECT_EQ(replies[4]["id"], 1);
  EXPECT_EQ(replies[5]["msgType"], "SENT");
  EXPECT_EQ(On("im/in/bob").size(), 1u);
}

TEST_F(BridgeCoreTest, ChatToStrangerIsRefusedWithoutUsingItsId) {
  Send("alice", "phone", Chat(1, "carol"));
  auto replies = On("im/in/alice/phone");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0]["type"], "error");
  EXPECT_EQ(replies[0]["code"], "not_friends");
  EXPECT_EQ(replies[0]["id"], 1);
  Send("alice", "phone", Chat(1, "bob"));  // the id is still free
  EXPECT_EQ(On("im/in/alice/phone")[1]["msgType"], "SENT");
}

TEST_F(BridgeCoreTest, RefusedChatRefusesTheChatsWaitingBehindIt) {
  Send("alice", "phone", Chat(2, "bob"));
  Send("alice", "phone", Chat(3, "bob"));
  Send("alice", "phone", Chat(1, "carol"));
  auto replies = On("im/in/alice/phone");
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0]["code"], "not_friends");
  EXPECT_EQ(replies[1]["code"], "out_of_order");
  EXPECT_EQ(replies[1]["id"], 2);
  EXPECT_EQ(replies[1]["expected"], 1);
  EXPECT_EQ(replies[2]["id"], 3);
  EXPECT_TRUE(On("im/in/bob").empty());
}

TEST_F(BridgeCoreTest, EarlyChatWaitsForItsPredecessorAndKeepsOrder) {
  Send("alice", "phone", Chat(2, "bob", "second"));
  EXPECT_TRUE(transport_.Published().empty());
  Send("alice", "phone", Chat(1, "bob", "first"));
  auto chats = On("im/in/bob");
  ASSERT_EQ(chats.size(), 2u);
  EXPECT_EQ(chats[0]["msgBody"], "first");
  EXPECT_EQ(chats[0]["seq"], 1);
  EXPECT_EQ(chats[1]["msgBody"], "second");
  EXPECT_EQ(chats[1]["seq"], 2);
}

TEST_F(BridgeCoreTest, ChatWaitingTooLongIsRefusedOutOfOrder) {
  Send("alice", "phone", Chat(2));
  clock_.Advance(1999ms);
  core_->Tick();
  EXPECT_TRUE(On("im/in/alice/phone").empty());
  clock_.Advance(1ms);
  core_->Tick();
  auto replies = On("im/in/alice/phone");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0]["code"], "out_of_order");
  EXPECT_EQ(replies[0]["id"], 2);
  EXPECT_EQ(replies[0]["expected"], 1);
}

TEST_F(BridgeCoreTest, DeliveredAndReadBecomeStoredReceiptsForTheSender) {
  Send("alice", "phone", Chat(1));
  std::string mid = On("im/in/alice/phone")[0]["mid"];
  Send("bob", "tablet", Ack("DELIVERED", mid));
  Send("bob", "laptop", Ack("DELIVERED", mid));  // another device: changes nothing
  Send("bob", "tablet", Ack("READ", mid));
  auto inbox = On("im/in/alice");
  ASSERT_EQ(inbox.size(), 3u);  // copy, DELIVERED, READ
  EXPECT_EQ(inbox[1]["msgType"], "DELIVERED");
  EXPECT_EQ(inbox[1]["seq"], 2);
  EXPECT_EQ(inbox[1]["fromId"], "bob");
  EXPECT_EQ(inbox[1]["destId"], "alice");
  EXPECT_EQ(inbox[1]["ackMsgId"], 1);
  EXPECT_EQ(inbox[1]["ackDevice"], "phone");
  EXPECT_EQ(inbox[1]["mid"], mid);
  EXPECT_EQ(inbox[2]["msgType"], "READ");
  EXPECT_EQ(inbox[2]["seq"], 3);
  EXPECT_TRUE(On("im/in/bob/tablet").empty());
}

TEST_F(BridgeCoreTest, ReadBeforeDeliveredRecordsBothInOrder) {
  Send("alice", "phone", Chat(1));
  std::string mid = On("im/in/alice/phone")[0]["mid"];
  Send("bob", "tablet", Ack("READ", mid));
  auto inbox = On("im/in/alice");
  ASSERT_EQ(inbox.size(), 3u);
  EXPECT_EQ(inbox[1]["msgType"], "DELIVERED");
  EXPECT_EQ(inbox[2]["msgType"], "READ");
}

TEST_F(BridgeCoreTest, ReceiptForSomeoneElsesChatIsUnknownMessage) {
  Send("alice", "phone", Chat(1));
  std::string mid = On("im/in/alice/phone")[0]["mid"];
  Send("alice", "laptop", Ack("DELIVERED", mid));  // the sender's own copy
  Send("bob", "tablet", Ack("DELIVERED", "01JDXXXXXXXXXXXXXXXXXXXXXX"));
  auto alice_errors = On("im/in/alice/laptop");
  ASSERT_EQ(alice_errors.size(), 1u);
  EXPECT_EQ(alice_errors[0]["code"], "unknown_message");
  EXPECT_EQ(alice_errors[0]["mid"], mid);
  EXPECT_EQ(On("im/in/bob/tablet")[0]["code"], "unknown_message");
  EXPECT_EQ(On("im/in/alice").size(), 1u);  // only the copy: no receipt stored
}

TEST_F(BridgeCoreTest, UndeliveredChatIsRetransmittedUntilDelivered) {
  Send("alice", "phone", Chat(1));
  std::string mid = On("im/in/alice/phone")[0]["mid"];
  clock_.Advance(5000ms);
  core_->Tick();
  auto chats = transport_.PublishedTo("im/in/bob");
  ASSERT_EQ(chats.size(), 2u);
  EXPECT_EQ(chats[0].payload, chats[1].payload);  // same frame, same seq
  Send("bob", "tablet", Ack("DELIVERED", mid));
  clock_.Advance(10000ms);
  core_->Tick();
  EXPECT_EQ(transport_.PublishedTo("im/in/bob").size(), 2u);
}

TEST_F(BridgeCoreTest, SyncIsForwardedToTheSyncService) {
  Send("alice", "phone", R"({"type":"sync","after":17})");
  auto forwarded = transport_.PublishedTo("im/sys/sync/alice/phone");
  ASSERT_EQ(forwarded.size(), 1u);
  EXPECT_EQ(json::parse(forwarded[0].payload)["after"], 17);
}

TEST_F(BridgeCoreTest, RelationAnnouncementsTakeEffectAtOnce) {
  Send("alice", "phone", Chat(1));  // caches alice:bob as friends
  SendMany({{"im/sys/relation/alice/bob", R"({"friends":false})", 1, false}});
  Send("alice", "phone", Chat(2));
  EXPECT_EQ(On("im/in/alice/phone")[1]["code"], "not_friends");
  SendMany({{"im/sys/relation/alice/carol", R"({"friends":true})", 1, false}});
  Send("alice", "phone", Chat(2, "carol"));
  EXPECT_EQ(On("im/in/alice/phone")[2]["msgType"], "SENT");
}

TEST_F(BridgeCoreTest, StoreOutageDropsChatsSilentlyAndRecovers) {
  friendships_.fail = true;
  Send("alice", "phone", Chat(1));
  EXPECT_TRUE(transport_.Published().empty());
  friendships_.fail = false;
  Send("alice", "phone", Chat(1));
  EXPECT_EQ(On("im/in/alice/phone")[0]["msgType"], "SENT");
}

TEST_F(BridgeCoreTest, UnknownTopicsAreIgnored) {
  SendMany({{"im/up/alice", Chat(1), 1, false}, {"elsewhere", Chat(1), 1, false}});
  EXPECT_TRUE(transport_.Published().empty());
}

// With presence on (the plugin's reports), live frames go only where users have devices.
class PresenceTest : public BridgeCoreTest {
 protected:
  void SetUp() override {
    presence_ = true;
    router_ = std::make_unique<Router>(std::vector<transport::Transport*>{&transport_},
                                       std::vector<std::string>{"b1"}, true);
    core_ = std::make_unique<BridgeCore>(*router_, store_, friendships_, clock_, options_, nullptr);
  }
  void Online(const std::string& user, const std::string& device) {
    SendMany({{"im/sys/presence/b1/" + user + "/" + device, R"({"online":true})", 1, true}});
  }
  void Offline(const std::string& user, const std::string& device) {
    SendMany({{"im/sys/presence/b1/" + user + "/" + device, "", 1, true}});
  }
};

TEST_F(PresenceTest, OfflineRecipientGetsNothingLiveButTheChatIsStored) {
  Online("alice", "phone");
  Send("alice", "phone", Chat(1));
  EXPECT_EQ(On("im/in/alice/phone")[0]["msgType"], "SENT");
  EXPECT_TRUE(On("im/in/bob").empty());
  EXPECT_EQ(store_.LastSeq("bob"), 1u);
}

TEST_F(PresenceTest, SenderCopyGoesLiveOnlyWhenTheSenderHasAnotherDeviceOnline) {
  Online("alice", "phone");
  Online("bob", "tablet");
  Send("alice", "phone", Chat(1));
  EXPECT_EQ(On("im/in/bob").size(), 1u);
  EXPECT_TRUE(On("im/in/alice").empty());  // stored (seq 1), not published: nobody to see it
  Online("alice", "laptop");
  Send("alice", "phone", Chat(2));
  ASSERT_EQ(On("im/in/alice").size(), 1u);
  EXPECT_EQ(On("im/in/alice")[0]["seq"], 2);
}

TEST_F(PresenceTest, ChatStoredWhileOfflineIsRetransmittedOnceTheDeviceIsOnline) {
  Online("alice", "phone");
  Send("alice", "phone", Chat(1));
  Online("bob", "tablet");
  clock_.Advance(5000ms);
  core_->Tick();
  EXPECT_EQ(On("im/in/bob").size(), 1u);
  Offline("bob", "tablet");
  clock_.Advance(5000ms);
  core_->Tick();
  EXPECT_EQ(On("im/in/bob").size(), 1u);
}

TEST_F(PresenceTest, AnotherBridgeTakesHalfTheDevices) {
  Online("alice", "phone");
  Online("bob", "tablet");
  SendMany({{"im/sys/bridge/other", R"({"members":2})", 1, false}});
  EXPECT_EQ(core_->membership().size(), 2u);
  int applied = 0;
  for (int i = 0; i < 40; ++i) {
    std::string device = "d" + std::to_string(i);
    transport_.Clear();
    Send("alice", device, Chat(1));
    applied += On("im/in/alice/" + device).empty() ? 0 : 1;
    EXPECT_EQ(!On("im/in/alice/" + device).empty(), core_->membership().Owns("alice", device));
  }
  EXPECT_GT(applied, 5);
  EXPECT_LT(applied, 35);
}

TEST_F(PresenceTest, ChatDeliveredThroughAnotherBridgeIsNotRetransmitted) {
  Online("bob", "tablet");
  SendMany({{"im/sys/bridge/other", R"({"members":2})", 1, false}});
  // A device of alice's this bridge owns.
  std::string device;
  for (int i = 0; i < 100 && device.empty(); ++i) {
    if (core_->membership().Owns("alice", "d" + std::to_string(i)))
      device = "d" + std::to_string(i);
  }
  ASSERT_FALSE(device.empty());
  Online("alice", device);
  Send("alice", device, Chat(1));
  ASSERT_EQ(On("im/in/bob").size(), 1u);
  std::string mid = On("im/in/bob")[0]["mid"];
  // bob's DELIVERED went to the other bridge (it owns bob's tablet), which recorded it.
  offline::WriteBatch batch;
  batch.receipts.push_back(offline::ReceiptWrite{mid, offline::ReceiptKind::kDelivered, 1, "alice",
                                                 R"({"type":"ack","msgType":"DELIVERED"})"});
  (void)store_.Commit(batch);
  const auto pending = core_->pending_acks();
  clock_.Advance(5001ms);
  SendMany({{"im/sys/bridge/other", R"({"members":2})", 1, false}});  // still alive
  core_->Tick();
  ASSERT_EQ(core_->membership().size(), 2u);
  EXPECT_EQ(On("im/in/bob").size(), 1u);  // not published again
  EXPECT_EQ(core_->pending_acks(), pending - 1);
}

TEST_F(PresenceTest, ChatWaitingForAPredecessorAppliedByAnotherBridgeIsNotRefused) {
  Online("alice", "phone");
  Online("bob", "tablet");
  Send("alice", "phone", Chat(2));  // waits for 1 ...
  // ... which another instance stored meanwhile (ownership moved while views differed).
  offline::WriteBatch batch;
  batch.chats.push_back(
      offline::ChatWrite{"01JDOTHERBRIDGEXXXXXXXXXXX", "alice", "phone", 1, "bob", 1, "{}", "{}"});
  (void)store_.Commit(batch);
  clock_.Advance(2000ms);
  core_->Tick();
  auto replies = On("im/in/alice/phone");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0]["msgType"], "SENT");
  EXPECT_EQ(replies[0]["ackMsgId"], 2);
}

}  // namespace
}  // namespace sparrow::bridge
