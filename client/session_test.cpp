#include "client/session.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "client/crypto.hpp"
#include "protocol/codec.hpp"
#include "testing/manual_clock.hpp"
#include "testing/mqtt/fake_transport.hpp"
#include "testing/temp_dir.hpp"

namespace sparrow::client {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using protocol::AckType;

const std::string kKey(32, 'K');

// A session of alice:cli, its transport, clock and everything its callbacks reported.
class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override { keys_.Set("bob", kKey); }

  void Start(std::optional<DeviceState> restored = std::nullopt, bool receive = true) {
    SessionOptions options{.user = "alice",
                           .device = "cli",
                           .receive = receive,
                           .outbox = {.ack_timeout = 1000ms,
                                      .max_backoff = 4000ms,
                                      .max_attempts = 3,
                                      .window = 8,
                                      .quarantine = 5000ms},
                           .reorder = {.max_frames = 16, .gap_timeout = 1000ms},
                           .sync_timeout = 2000ms};
    Callbacks callbacks{
        .on_message = [this](const Message& m) { messages_.push_back(m); },
        .on_status = [this](const StatusUpdate& s) { statuses_.push_back(s); },
        .on_error = [this](const ClientError& e) { errors_.push_back(e); },
        .on_connection = [this](ConnectionEvent e) { connection_.push_back(e); },
    };
    session_ = std::make_unique<Session>(
        options,
        SessionDeps{.transport = transport_,
                    .clock = clock_,
                    .keys = keys_,
                    .history = &history_,
                    .persist =
                        [this](const DeviceState& state) {
                          saved_.push_back(state);
                          published_at_save_.push_back(transport_.Published().size());
                        }},
        callbacks, std::move(restored));
    transport_.SetMessageHandler([this](transport::Message&& m) { session_->OnMessage(m); });
    transport_.SetConnectionHandler([this](bool up, int) { session_->OnConnection(up); });
    transport_.Start();
    session_->Flush();
  }

  // Delivers a server frame on alice's inbox or device topic, then lets the session work.
  void Deliver(const std::string& payload, bool device_topic = false) {
    transport_.Deliver(
        {.topic = device_topic ? "im/in/alice/cli" : "im/in/alice", .payload = payload, .qos = 1});
    Run();
  }
  void Run() {
    session_->Tick();
    session_->Flush();
  }

  std::string ChatFromBob(std::uint64_t seq, std::int64_t id, const std::string& text) {
    protocol::ChatDown chat;
    chat.seq = seq;
    chat.mid = "mid-bob-" + std::to_string(id);
    chat.id = id;
    chat.from_id = "bob";
    chat.from_device = "phone";
    chat.dest_id = "alice";
    chat.msg_body = SealBody(kKey, BodyContext{"bob", "alice", id}, text);
    chat.ts = 1764430000000;
    return protocol::EncodeChatDown(chat);
  }
  std::string Sent(std::int64_t id, const std::string& mid) {
    return protocol::EncodeAckDown(protocol::AckDown{.seq = 0,
                                                     .msg_type = AckType::kSent,
                                                     .from_id = "alice",
                                                     .dest_id = "bob",
                                                     .ack_msg_id = id,
                                                     .ack_device = "cli",
                                                     .mid = mid});
  }
  std::string Receipt(std::uint64_t seq, AckType type, std::int64_t id, const std::string& mid,
                      const std::string& device = "cli") {
    return protocol::EncodeAckDown(protocol::AckDown{.seq = seq,
                                                     .msg_type = type,
                                                     .from_id = "bob",
                                                     .dest_id = "alice",
                                                     .ack_msg_id = id,
                                                     .ack_device = device,
                                                     .mid = mid});
  }
  std::string Synced(std::uint64_t upto, std::int64_t last_id) {
    return protocol::EncodeSynced(protocol::Synced{.upto = upto, .last_id = last_id});
  }
  std::string Error(std::int64_t id, const std::string& code,
                    std::optional<std::int64_t> expected = std::nullopt) {
    json j{{"type", "error"}, {"id", id}, {"code", code}, {"message", "m"}};
    if (expected) j["expected"] = *expected;
    return j.dump();
  }

  // Frames alice published, decoded, in order.
  std::vector<json> Up() {
    std::vector<json> out;
    for (const auto& m : transport_.PublishedTo("im/up/alice/cli"))
      out.push_back(json::parse(m.payload));
    return out;
  }
  std::vector<json> UpOfType(const std::string& type) {
    std::vector<json> out;
    for (auto& f : Up()) {
      if (f["type"] == type) out.push_back(f);
    }
    return out;
  }
  std::vector<std::string> Statuses() {
    std::vector<std::string> out;
    for (const auto& s : statuses_) out.push_back(std::string(ToString(s.status)));
    return out;
  }

  testing::ManualClock clock_;
  testing::FakeTransport transport_;
  InMemoryKeyRing keys_;
  testing::TempDir dir_;
  History history_{dir_.path() / "history"};
  std::unique_ptr<Session> session_;
  std::vector<Message> messages_;
  std::vector<StatusUpdate> statuses_;
  std::vector<ClientError> errors_;
  std::vector<ConnectionEvent> connection_;
  std::vector<DeviceState> saved_;
  std::vector<std::size_t> published_at_save_;
};

TEST_F(SessionTest, SubscribesToItsTopicsAndSyncsFromLastSeqOnConnect) {
  Start(DeviceState{.last_seq = 12, .last_id = 3, .outbox = {}});
  EXPECT_EQ(session_->Subscriptions(),
            (std::vector<std::string>{"im/in/alice", "im/in/alice/cli"}));
  auto syncs = UpOfType("sync");
  ASSERT_EQ(syncs.size(), 1u);
  EXPECT_EQ(syncs[0]["after"], 12);
  Deliver(Synced(12, 3), true);
  EXPECT_TRUE(session_->synced());
  EXPECT_EQ(connection_,
            (std::vector<ConnectionEvent>{ConnectionEvent::kConnected, ConnectionEvent::kSynced}));
}

TEST_F(SessionTest, SyncIsRepeatedWithBackoffUntilSyncedComes) {
  Start();
  clock_.Advance(2000ms);
  Run();
  EXPECT_EQ(UpOfType("sync").size(), 2u);
  clock_.Advance(2000ms);
  Run();
  EXPECT_EQ(UpOfType("sync").size(), 2u);  // now waits 4 s
  clock_.Advance(2000ms);
  Run();
  EXPECT_EQ(UpOfType("sync").size(), 3u);
}

TEST_F(SessionTest, AnIncomingChatIsDecryptedShownOnceAndAcknowledgedEveryTimeItComes) {
  Start();
  Deliver(ChatFromBob(1, 7, "hello alice"));
  ASSERT_EQ(messages_.size(), 1u);
  EXPECT_EQ(messages_[0].text, "hello alice");
  EXPECT_EQ(messages_[0].from, "bob");
  EXPECT_EQ(messages_[0].peer(), "bob");
  EXPECT_FALSE(messages_[0].outgoing);
  EXPECT_EQ(messages_[0].seq, 1u);
  auto acks = UpOfType("ack");
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0]["msgType"], "DELIVERED");
  EXPECT_EQ(acks[0]["mid"], "mid-bob-7");

  Deliver(ChatFromBob(1, 7, "hello alice"));  // a repeat: the server missed our ack
  EXPECT_EQ(messages_.size(), 1u);
  EXPECT_EQ(UpOfType("ack").size(), 2u);
  EXPECT_EQ(session_->State().last_seq, 1u);
  EXPECT_EQ(history_.Conversation("bob").size(), 1u);
}

TEST_F(SessionTest, FramesOutOfOrderReachTheAppInSeqOrder) {
  Start();
  Deliver(ChatFromBob(3, 3, "three"));
  Deliver(ChatFromBob(2, 2, "two"));
  EXPECT_TRUE(messages_.empty());
  EXPECT_TRUE(UpOfType("ack").empty());  // acked when shown
  Deliver(ChatFromBob(1, 1, "one"));
  ASSERT_EQ(messages_.size(), 3u);
  EXPECT_EQ(messages_[0].text, "one");
  EXPECT_EQ(messages_[1].text, "two");
  EXPECT_EQ(messages_[2].text, "three");
  EXPECT_EQ(UpOfType("ack").size(), 3u);
}

TEST_F(SessionTest, AGapThatDoesNotFillTriggersASyncFromLastSeq) {
  Start();
  Deliver(Synced(0, 0), true);
  Deliver(ChatFromBob(1, 1, "one"));
  Deliver(ChatFromBob(3, 3, "three"));
  EXPECT_EQ(UpOfType("sync").size(), 1u);
  clock_.Advance(1000ms);
  Run();
  auto syncs = UpOfType("sync");
  ASSERT_EQ(syncs.size(), 2u);
  EXPECT_EQ(syncs[1]["after"], 1);
  // The reply fills the gap on the device topic, then `synced`.
  Deliver(ChatFromBob(2, 2, "two"), true);
  Deliver(ChatFromBob(3, 3, "three"), true);
  Deliver(Synced(3, 0), true);
  ASSERT_EQ(messages_.size(), 3u);
  EXPECT_EQ(messages_[1].text, "two");
  EXPECT_EQ(messages_[2].text, "three");
  EXPECT_EQ(saved_.back().last_seq, 3u);
}

TEST_F(SessionTest, ANewDevicePublishesNoChatBeforeItsFirstSyncedThenNumbersFromLastId) {
  Start();
  ASSERT_FALSE(session_->Send("L1", "bob", protocol::ChatKind::kText, "hi").has_value());
  Run();
  EXPECT_TRUE(UpOfType("chat").empty());
  Deliver(Synced(0, 41), true);
  auto chats = UpOfType("chat");
  ASSERT_EQ(chats.size(), 1u);
  EXPECT_EQ(chats[0]["id"], 42);
  EXPECT_EQ(chats[0]["destId"], "bob");
  EXPECT_FALSE(chats[0].contains("fromId"));
}

TEST_F(SessionTest, TheBodyIsSealedUnderTheRelationKeyBoundToTheEnvelope) {
  Start(DeviceState{});
  ASSERT_FALSE(session_->Send("L1", "bob", protocol::ChatKind::kText, "secret").has_value());
  Run();
  auto chats = UpOfType("chat");
  ASSERT_EQ(chats.size(), 1u);
  const std::string body = chats[0]["msgBody"];
  EXPECT_EQ(body.find("secret"), std::string::npos);
  EXPECT_EQ(OpenBody(kKey, BodyContext{"alice", "bob", 1}, body), "secret");
  EXPECT_FALSE(OpenBody(kKey, BodyContext{"alice", "bob", 2}, body).has_value());
}

TEST_F(SessionTest, TheStateIsPersistedWithTheIdBeforeTheChatIsFirstPublished) {
  Start(DeviceState{});
  ASSERT_FALSE(session_->Send("L1", "bob", protocol::ChatKind::kText, "hi").has_value());
  Run();
  ASSERT_EQ(UpOfType("chat").size(), 1u);
  ASSERT_FALSE(saved_.empty());
  const std::size_t chats_before = transport_.Published().size() - 1;
  // The save that holds id 1 happened before that publish.
  bool found = false;
  for (std::size_t i = 0; i < saved_.size(); ++i) {
    if (!saved_[i].outbox.empty() && saved_[i].outbox[0].id == 1) {
      EXPECT_LE(published_at_save_[i], chats_before);
      found = true;
      break;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(SessionTest, AChatWithoutSentIsResentWithTheSameIdThenReportedFailed) {
  Start(DeviceState{});
  ASSERT_FALSE(session_->Send("L1", "bob", protocol::ChatKind::kText, "hi").has_value());
  Run();
  for (int i = 0; i < 6; ++i) {
    clock_.Advance(4000ms);
    Run();
  }
  auto chats = UpOfType("chat");
  ASSERT_EQ(chats.size(), 3u);
  for (const auto& c : chats) EXPECT_EQ(c["id"], 1);
  ASSERT_EQ(statuses_.size(), 1u);
  EXPECT_EQ(statuses_[0].status, MessageStatus::kFailed);
  EXPECT_EQ(statuses_[0].local_id, "L1");
  EXPECT_EQ(statuses_[0].reason, "timeout");
  EXPECT_EQ(session_->pending(), 0u);
  EXPECT_EQ(history_.Conversation("bob")[0].status, MessageStatus::kFailed);
}

TEST_F(SessionTest, ReceiptsAreReportedSentDeliveredReadInOrder) {
  Start(DeviceState{});
  ASSERT_FALSE(session_->Send("L1", "bob", protocol::ChatKind::kText, "hi").has_value());
  Run();
  Deliver(Sent(1, "M1"), true);
  Deliver(Receipt(1, AckType::kDelivered, 1, "M1"));
  Deliver(Receipt(2, AckType::kRead, 1, "M1"));
  EXPECT_EQ(Statuses(), (std::vector<std::string>{"sent", "delivered", "read"}));
  for (const auto& s : statuses_) {
    EXPECT_EQ(s.local_id, "L1");
    EXPECT_EQ(s.mid, "M1");
    EXPECT_EQ(s.peer, "bob");
  }
  EXPECT_EQ(session_->pending(), 0u);
  auto entries = history_.Conversation("bob");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].status, MessageStatus::kRead);
  EXPECT_EQ(entries[0].message.mid, "M1");
}

TEST_F(SessionTest, AReceiptThatOvertakesItsSentStillReportsSentFirst) {
  Start(DeviceState{});
  ASSERT_FALSE(session_->Send("L1", "bob", protocol::ChatKind::kText, "hi").has_value());
  Run();
  Deliver(Receipt(2, AckType::kRead, 1, "M1"));  // seq 1 (our copy) still missing
  Deliver(Receipt(1, AckType::kDelivered, 1, "M1"));
  Deliver(Sent(1, "M1"), true);
  EXPECT_EQ(Statuses(), (std::vector<std::string>{"sent", "delivered", "read"}));
}

TEST_F(SessionTest, OurOwnCopyIsNeverAcknowledgedAndOtherDevicesCopiesShowAsOutgoing) {
  Start();
  protocol::ChatDown own;
  own.seq = 1;
  own.mid = "M-own";
  own.id = 5;
  own.from_id = "alice";
  own.from_device = "phone";  // another device of alice
  own.dest_id = "bob";
  own.msg_body = SealBody(kKey, BodyContext{"alice", "bob", 5}, "from my phone");
  own.ts = 1;
  Deliver(protocol::EncodeChatDown(own));
  ASSERT_EQ(messages_.size(), 1u);
  EXPECT_TRUE(messages_[0].outgoing);
  EXPECT_EQ(messages_[0].peer(), "bob");
  EXPECT_EQ(messages_[0].text, "from my phone");
  EXPECT_TRUE(UpOfType("ack").empty());
  Deliver(Receipt(2, AckType::kDelivered, 5, "M-own", "phone"));
  EXPECT_EQ(Statuses(), (std::vector<std::string>{"delivered"}));
}

TEST_F(SessionTest, ATamperedBodyIsReportedNeverShownAndStillAcknowledged) {
  Start();
  json chat = json::parse(ChatFromBob(1, 7, "hello"));
  chat["id"] = 8;  // the body was sealed for id 7: replayed into another message
  Deliver(chat.dump());
  EXPECT_TRUE(messages_.empty());
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0].kind, ClientError::Kind::kUndecryptable);
  EXPECT_EQ(errors_[0].mid, "mid-bob-7");
  EXPECT_EQ(UpOfType("ack").size(), 1u);
  EXPECT_EQ(session_->State().last_seq, 1u);
}

TEST_F(SessionTest, NotFriendsFailsTheChatAndTheNextChatReusesItsId) {
  Start(DeviceState{});
  ASSERT_FALSE(session_->Send("L1", "bob", protocol::ChatKind::kText, "a").has_value());
  Run();
  Deliver(Error(1, "not_friends"), true);
  EXPECT_EQ(Statuses(), (std::vector<std::string>{"failed"}));
  EXPECT_EQ(statuses_[0].reason, "not_friends");
  ASSERT_FALSE(session_->Send("L2", "bob", protocol::ChatKind::kText, "b").has_value());
  Run();
  auto chats = UpOfType("chat");
  ASSERT_EQ(chats.size(), 2u);
  EXPECT_EQ(chats[1]["id"], 1);
  EXPECT_EQ(OpenBody(kKey, BodyContext{"alice", "bob", 1}, chats[1]["msgBody"].get<std::string>()),
            "b");
}

TEST_F(SessionTest, AnUnknownOrTransientErrorCodeKeepsTheChatForItsResend) {
  Start(DeviceState{});
  ASSERT_FALSE(session_->Send("L1", "bob", protocol::ChatKind::kText, "a").has_value());
  Run();
  Deliver(Error(1, "quota_exceeded"), true);
  Deliver(Error(1, "rate_limited"), true);
  EXPECT_TRUE(statuses_.empty());
  EXPECT_EQ(session_->pending(), 1u);
  clock_.Advance(1000ms);
  Run();
  EXPECT_EQ(UpOfType("chat").size(), 2u);
}

TEST_F(SessionTest, ARestartResendsThePendingChatsWithTheirIds) {
  Start(DeviceState{
      .last_seq = 4,
      .last_id = 9,
      .outbox = {OutgoingChat{.local_id = "L9", .peer = "bob", .payload = "nine", .id = 9}}});
  auto chats = UpOfType("chat");
  ASSERT_EQ(chats.size(), 1u);
  EXPECT_EQ(chats[0]["id"], 9);
  // The history learns about the chat even if the crash came before it was recorded.
  ASSERT_EQ(history_.Conversation("bob").size(), 1u);
  EXPECT_EQ(history_.Conversation("bob")[0].message.text, "nine");
  Deliver(Sent(9, "M9"), true);
  EXPECT_EQ(Statuses(), (std::vector<std::string>{"sent"}));
  EXPECT_TRUE(saved_.back().outbox.empty());
}

TEST_F(SessionTest, AReconnectResyncsAndResendsUnacknowledgedChats) {
  Start(DeviceState{});
  ASSERT_FALSE(session_->Send("L1", "bob", protocol::ChatKind::kText, "a").has_value());
  Run();
  Deliver(ChatFromBob(1, 1, "x"));
  transport_.SetConnected(false);
  EXPECT_EQ(connection_.back(), ConnectionEvent::kDisconnected);
  transport_.SetConnected(true);
  Run();
  EXPECT_EQ(UpOfType("chat").size(), 2u);
  auto syncs = UpOfType("sync");
  EXPECT_EQ(syncs.back()["after"], 1);
  // The receipt published just before the drop is published again.
  EXPECT_EQ(UpOfType("ack").size(), 2u);
}

TEST_F(SessionTest, ASendOnlySessionLeavesSeqFramesAloneAndDoesNotSyncWithState) {
  Start(DeviceState{.last_seq = 5, .last_id = 2, .outbox = {}}, /*receive=*/false);
  EXPECT_EQ(session_->Subscriptions(), (std::vector<std::string>{"im/in/alice/cli"}));
  EXPECT_TRUE(UpOfType("sync").empty());
  EXPECT_TRUE(session_->synced());
  Deliver(ChatFromBob(6, 1, "not for this session"), true);
  EXPECT_TRUE(messages_.empty());
  EXPECT_TRUE(UpOfType("ack").empty());
  EXPECT_EQ(session_->State().last_seq, 5u);
  ASSERT_FALSE(session_->Send("L1", "bob", protocol::ChatKind::kText, "a").has_value());
  Run();
  ASSERT_EQ(UpOfType("chat").size(), 1u);
  EXPECT_EQ(UpOfType("chat")[0]["id"], 3);
}

TEST_F(SessionTest, SendRefusesWhatCannotBeSentWithAReason) {
  Start(DeviceState{});
  EXPECT_TRUE(session_->Send("L1", "Not Valid", protocol::ChatKind::kText, "x").has_value());
  EXPECT_TRUE(session_->Send("L1", "alice", protocol::ChatKind::kText, "x").has_value());
  EXPECT_TRUE(session_->Send("L1", "carol", protocol::ChatKind::kText, "x").has_value());  // no key
  EXPECT_TRUE(session_->Send("L1", "bob", protocol::ChatKind::kText, "").has_value());
  EXPECT_TRUE(session_->Send("L1", "bob", protocol::ChatKind::kText, "\xff").has_value());
  EXPECT_TRUE(session_
                  ->Send("L1", "bob", protocol::ChatKind::kText,
                         std::string(MaxBodyPlaintextBytes() + 1, 'a'))
                  .has_value());
  EXPECT_EQ(session_->pending(), 0u);
}

TEST_F(SessionTest, MarkReadSendsRead) {
  Start();
  Deliver(ChatFromBob(1, 7, "hello"));
  session_->MarkRead("bob", messages_[0].mid);
  Run();
  auto acks = UpOfType("ack");
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(acks[1]["msgType"], "READ");
  EXPECT_EQ(history_.Conversation("bob")[0].status, MessageStatus::kRead);
}

}  // namespace
}  // namespace sparrow::client
