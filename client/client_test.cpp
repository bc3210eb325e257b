#include "client/client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "client/crypto.hpp"
#include "client/state_store.hpp"
#include "protocol/codec.hpp"
#include "testing/mqtt/child_process.hpp"
#include "testing/mqtt/fake_transport.hpp"
#include "testing/mqtt/wait.hpp"
#include "testing/temp_dir.hpp"

namespace sparrow::client {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kKey(32, 'K');

// Hands the Client a transport whose other end the test holds.
class ForwardingTransport final : public transport::Transport {
 public:
  explicit ForwardingTransport(testing::FakeTransport& fake) : fake_(fake) {}
  void SetMessageHandler(MessageHandler h) override { fake_.SetMessageHandler(std::move(h)); }
  void SetConnectionHandler(ConnectionHandler h) override {
    fake_.SetConnectionHandler(std::move(h));
  }
  void Start() override { fake_.Start(); }
  void Stop() override { fake_.Stop(); }
  bool WaitConnected(std::chrono::milliseconds t) override { return fake_.WaitConnected(t); }
  bool IsConnected() const override { return fake_.IsConnected(); }
  void Subscribe(std::string f, int q) override { fake_.Subscribe(std::move(f), q); }
  void Unsubscribe(const std::string& f) override { fake_.Unsubscribe(f); }
  transport::PublishResult Publish(std::string_view t, std::string_view p, int q,
                                   bool r = false) override {
    return fake_.Publish(t, p, q, r);
  }
  transport::Stats GetStats() const override { return fake_.GetStats(); }

 private:
  testing::FakeTransport& fake_;
};

class ClientTest : public ::testing::Test {
 protected:
  ClientTest() { keys_.Set("bob", kKey); }

  Client::Options Options() {
    Client::Options options;
    options.user = "alice";
    options.device = "cli";
    options.token = "unused";
    options.state_dir = dir_.path() / "alice" / "cli";
    options.keys = &keys_;
    options.make_transport = [this](const transport::Options& o) {
      transport_options_ = o;
      return std::make_unique<ForwardingTransport>(fake_);
    };
    return options;
  }

  // Delivers from a thread of its own, as the network would.
  void DeliverFromNetworkThread(const std::string& topic, const std::string& payload) {
    std::thread network([&] {
      network_thread_ = std::this_thread::get_id();
      fake_.Deliver({.topic = topic, .payload = payload, .qos = 1});
    });
    network.join();
  }

  std::string ChatFromBob(std::uint64_t seq, std::int64_t id, const std::string& text) {
    protocol::ChatDown chat;
    chat.seq = seq;
    chat.mid = "mid-" + std::to_string(id);
    chat.id = id;
    chat.from_id = "bob";
    chat.from_device = "phone";
    chat.dest_id = "alice";
    chat.msg_body = SealBody(kKey, BodyContext{"bob", "alice", id}, text);
    chat.ts = 1;
    return protocol::EncodeChatDown(chat);
  }

  std::vector<json> Up(const std::string& type) {
    std::vector<json> out;
    for (const auto& m : fake_.PublishedTo("im/up/alice/cli")) {
      auto j = json::parse(m.payload);
      if (j["type"] == type) out.push_back(j);
    }
    return out;
  }

  testing::TempDir dir_;
  testing::FakeTransport fake_;
  InMemoryKeyRing keys_;
  transport::Options transport_options_;
  std::thread::id network_thread_;
};

TEST_F(ClientTest, ConnectsAsUserColonDeviceWithTheTokenAndSyncs) {
  Client client(Options(), {});
  client.Connect();
  ASSERT_TRUE(client.WaitConnected(5s));
  EXPECT_EQ(transport_options_.client_id, "alice:cli");
  EXPECT_EQ(transport_options_.username, "alice");
  EXPECT_EQ(transport_options_.password, "unused");
  EXPECT_TRUE(testing::WaitUntil([&] { return Up("sync").size() == 1; }, 5s));
  EXPECT_EQ(fake_.Subscriptions().size(), 2u);
}

TEST_F(ClientTest, CallbacksRunOnTheClientThreadNeverOnTheNetworkThread) {
  std::atomic<bool> got{false};
  std::thread::id callback_thread;
  Callbacks callbacks{.on_message = [&](const Message& m) {
    callback_thread = std::this_thread::get_id();
    EXPECT_EQ(m.text, "hi alice");
    got = true;
  }};
  Client client(Options(), callbacks);
  client.Connect();
  ASSERT_TRUE(client.WaitConnected(5s));
  DeliverFromNetworkThread("im/in/alice", ChatFromBob(1, 1, "hi alice"));
  ASSERT_TRUE(testing::WaitUntil([&] { return got.load(); }, 5s));
  EXPECT_NE(callback_thread, network_thread_);
  EXPECT_NE(callback_thread, std::this_thread::get_id());
  EXPECT_TRUE(testing::WaitUntil([&] { return Up("ack").size() == 1; }, 5s));
}

TEST_F(ClientTest, SendReturnsOnceTheMessageIsInTheStateFile) {
  Client client(Options(), {});
  SendResult result = client.Send("bob", "persisted first");  // not even connected
  ASSERT_TRUE(result.ok) << result.error;
  const auto state =
      DecodeState(testing::ReadTextFile(dir_.path() / "alice" / "cli" / "state.json"));
  ASSERT_TRUE(state.has_value());
  ASSERT_EQ(state->outbox.size(), 1u);
  EXPECT_EQ(state->outbox[0].local_id, result.local_id);
  EXPECT_EQ(state->outbox[0].payload, "persisted first");
  EXPECT_EQ(client.Pending(), 1u);
  EXPECT_FALSE(client.Send("carol", "no key").ok);
}

TEST_F(ClientTest, SentStatusEmptiesTheOutboxAndWaitIdleReturns) {
  std::vector<StatusUpdate> statuses;
  std::mutex mutex;
  Callbacks callbacks{.on_status = [&](const StatusUpdate& s) {
    std::lock_guard<std::mutex> lock(mutex);
    statuses.push_back(s);
  }};
  Client client(Options(), callbacks);
  client.Connect();
  DeliverFromNetworkThread("im/in/alice/cli",
                           protocol::EncodeSynced(protocol::Synced{.upto = 0, .last_id = 6}));
  ASSERT_TRUE(client.WaitSynced(5s));
  SendResult result = client.Send("bob", "hello");
  ASSERT_TRUE(result.ok);
  ASSERT_TRUE(testing::WaitUntil([&] { return Up("chat").size() == 1; }, 5s));
  EXPECT_EQ(Up("chat")[0]["id"], 7);
  EXPECT_FALSE(client.WaitIdle(10ms));
  DeliverFromNetworkThread("im/in/alice/cli", protocol::EncodeAckDown(protocol::AckDown{
                                                  .seq = 0,
                                                  .msg_type = protocol::AckType::kSent,
                                                  .from_id = "alice",
                                                  .dest_id = "bob",
                                                  .ack_msg_id = 7,
                                                  .ack_device = "cli",
                                                  .mid = "M7"}));
  ASSERT_TRUE(client.WaitIdle(5s));
  std::lock_guard<std::mutex> lock(mutex);
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0].local_id, result.local_id);
  EXPECT_EQ(statuses[0].status, MessageStatus::kSent);
}

TEST_F(ClientTest, ACallbackMaySendAndMarkReadWithoutDeadlock) {
  Client* self = nullptr;
  std::atomic<bool> replied{false};
  Callbacks callbacks{.on_message = [&](const Message& m) {
    self->MarkRead(m);
    replied = self->Send(m.from, "auto reply").ok;
  }};
  Client client(Options(), callbacks);
  self = &client;
  client.Connect();
  DeliverFromNetworkThread("im/in/alice/cli",
                           protocol::EncodeSynced(protocol::Synced{.upto = 0, .last_id = 0}));
  DeliverFromNetworkThread("im/in/alice", ChatFromBob(1, 1, "ping"));
  ASSERT_TRUE(testing::WaitUntil([&] { return replied.load(); }, 5s));
  EXPECT_TRUE(testing::WaitUntil([&] { return Up("chat").size() == 1; }, 5s));
  EXPECT_TRUE(testing::WaitUntil([&] { return Up("ack").size() == 2; }, 5s));  // DELIVERED, READ
}

TEST_F(ClientTest, OneProcessPerDeviceAndTheStateSurvivesAReopen) {
  std::string local_id;
  {
    Client client(Options(), {});
    EXPECT_THROW(Client second(Options(), {}), StateError);
    local_id = client.Send("bob", "survives").local_id;
    client.Disconnect();
    client.Disconnect();  // idempotent
  }
  Client reopened(Options(), {});
  EXPECT_EQ(reopened.Pending(), 1u);
  auto conversation = reopened.Conversation("bob");
  ASSERT_EQ(conversation.size(), 1u);
  EXPECT_EQ(conversation[0].message.local_id, local_id);
  EXPECT_EQ(conversation[0].status, MessageStatus::kPending);
}

TEST_F(ClientTest, InvalidOptionsNameTheOption) {
  auto options = Options();
  options.user = "Not Valid";
  try {
    Client client(options, {});
    FAIL() << "accepted an invalid user";
  } catch (const common::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("user"), std::string::npos);
  }
}

}  // namespace
}  // namespace sparrow::client
