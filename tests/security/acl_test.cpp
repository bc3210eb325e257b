// The broker's ACL, end to end, over MQTT 3.1.1 and 5: a real Mosquitto with the auth plugin
// (SparrowStack), an attacker speaking raw MQTT (RawMqtt: it sends what a client library would
// refuse to: wildcard topic names, re-pointed topic aliases, wildcard wills), a victim user and
// a service watching everything under im/. Each refusal is checked twice: by the reason code
// the broker answers (where the protocol version has one) and by what actually arrives (never
// anything refused, never a retained message).
//
// plugin/plugin_integration_test.cpp checks the basic matrix with libmosquitto; this adds the
// attacker's packets, QoS 2, the im/sys control topics, $share, topic aliases and wills, and
// (SecurityFrameTest) what the services do with frames that pass the ACL but lie.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plugin/testing/mqtt_probe.hpp"
#include "testing/stack/stack.hpp"
#include "testing/stack/test_device.hpp"
#include "tests/security/raw_mqtt.hpp"
#include "tests/security/security_support.hpp"

namespace sparrow::security {
namespace {

using namespace std::chrono_literals;
using plugin::testing::MqttProbe;
using plugin::testing::ProbeMessage;
using testing::SparrowStack;
using testing::TestDevice;

class SecurityAclTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    stack_ = std::make_unique<SparrowStack>(BrokerOnly());
    StartStack(*stack_, false);
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "logs:\n" << stack_->Logs();
  }
  int Version() const { return GetParam(); }
  int RefusedSubscribe() const { return Version() == 5 ? kRefusedV5 : kRefusedSubscribeV3; }

  // alice:{device} over raw MQTT with a valid token.
  std::unique_ptr<RawMqtt> Attacker(const std::string& device = "phone",
                                    const std::optional<RawWill>& will = std::nullopt) {
    auto raw = std::make_unique<RawMqtt>(stack_->broker().port(), Version());
    EXPECT_EQ(raw->Connect("alice:" + device, "alice", stack_->Token("alice"), will), 0);
    return raw;
  }
  // bob:phone, subscribed to everything a user may read of his own.
  std::unique_ptr<MqttProbe> Victim() {
    auto bob = std::make_unique<MqttProbe>(
        ProbeFor(*stack_, "bob:phone", "bob", stack_->Token("bob"), Version()));
    EXPECT_EQ(bob->Connect(), 0);
    EXPECT_EQ(bob->Subscribe({"im/in/bob/#", "im/in/bob"}), (std::vector<int>{1, 1}));
    return bob;
  }
  // Nothing retained under im/ (the plugin's own presence reports aside): a service that
  // subscribes now gets no retained message.
  void ExpectNothingRetained() {
    auto late = Monitor(*stack_, "late");
    auto sender = Monitor(*stack_, "sender");
    ASSERT_TRUE(Accepted(sender->Publish("im/sys/marker", "late-marker")));
    ASSERT_TRUE(late->WaitForPayload("late-marker"));
    for (const ProbeMessage& m : late->Messages()) {
      if (m.topic.rfind("im/sys/presence/", 0) == 0) continue;
      EXPECT_FALSE(m.retain) << m.topic << " " << m.payload;
    }
  }

  std::unique_ptr<SparrowStack> stack_;
};

INSTANTIATE_TEST_SUITE_P(Mqtt, SecurityAclTest, ::testing::Values(4, 5), VersionParamName);

struct SubscribeCase {
  const char* filter;
  bool allowed;
};

// For alice:phone: own / other / wildcard / $SYS / $share / service topics.
constexpr SubscribeCase kSubscribes[] = {
    {"im/in/alice", true},
    {"im/in/alice/phone", true},
    {"im/in/alice/tablet", true},
    {"im/in/alice/+", true},
    {"im/in/alice/#", true},
    {"im/in/bob", false},
    {"im/in/bob/phone", false},
    {"im/in/bob/#", false},
    {"im/in/alice2", false},
    {"im/in/alic", false},
    {"im/up/alice/phone", false},
    {"im/up/bob/phone", false},
    {"#", false},
    {"+/+/+", false},
    {"im/#", false},
    {"im/in/#", false},
    {"im/in/+", false},
    {"im/+/alice", false},
    {"+/in/alice", false},
    {"im/up/+/+", false},
    {"im/sys/#", false},
    {"im/sys/revoke/+", false},
    {"im/sys/relation/#", false},
    {"im/sys/sync/alice/phone", false},
    {"$SYS/#", false},
    {"$SYS/broker/clients/connected", false},
    {"$share/g/im/in/alice", false},
    {"$share/g/im/in/bob", false},
    {"$share/g/#", false},
    {"$share/offline/im/sys/sync/+/+", false},
    {"$share/bridge/im/up/+/+", false},
};

TEST_P(SecurityAclTest, SubscribeMatrixGrantsOnlyTheOwnInbox) {
  auto alice = Attacker();
  for (const SubscribeCase& c : kSubscribes) {
    EXPECT_EQ(alice->Subscribe(c.filter), c.allowed ? 1 : RefusedSubscribe()) << c.filter;
  }
  ASSERT_FALSE(alice->closed());
  // What the refused filters would have matched is published by a service; only the message on
  // her own inbox, sent last, reaches her.
  auto sender = Monitor(*stack_, "sender");
  for (const char* topic :
       {"im/in/bob", "im/in/bob/phone", "im/in/alice2", "im/up/alice/phone", "im/up/bob/phone",
        "im/sys/revoke/bob", "im/sys/relation/alice/bob", "im/sys/sync/alice/phone"}) {
    EXPECT_TRUE(Accepted(sender->Publish(topic, std::string("leak:") + topic))) << topic;
  }
  EXPECT_TRUE(Accepted(sender->Publish("im/in/alice/phone", "own")));
  ASSERT_TRUE(alice->WaitForMessage([](const RawMessage& m) { return m.payload == "own"; }, 5s));
  for (const RawMessage& m : alice->received()) {
    EXPECT_EQ(m.topic.rfind("im/in/alice", 0), 0u) << m.topic;
    EXPECT_NE(m.payload.rfind("leak:", 0), 0u) << m.payload;
  }
}

struct PublishCase {
  const char* topic;
  int qos;
  bool retain;
  bool allowed;
};

constexpr PublishCase kPublishes[] = {
    {"im/up/alice/phone", 0, false, true},
    {"im/up/alice/phone", 1, false, true},
    {"im/up/alice/phone", 2, false, true},
    {"im/up/alice/phone", 1, true, false},  // retained, even on her own topic
    {"im/up/alice/phone", 2, true, false},
    {"im/up/alice/tablet", 1, false, false},  // another device's topic
    {"im/up/bob/phone", 1, false, false},     // impersonating another user
    {"im/up/bob/phone", 2, false, false},
    {"im/in/bob", 1, false, false},  // injecting "server" frames into bob's inbox
    {"im/in/bob/phone", 2, false, false},
    {"im/in/bob", 0, false, false},
    {"im/in/bob", 1, true, false},
    {"im/in/alice", 1, false, false},
    {"im/sys/revoke/bob", 1, false, false},  // the services' control topics
    {"im/sys/relation/alice/bob", 1, false, false},
    {"im/sys/presence/b1/bob/phone", 1, true, false},
    {"im/sys/sync/alice/phone", 1, false, false},
    {"im/sys/bridge/t0", 1, false, false},
    {"$SYS/broker/uptime", 1, false, false},
    {"$share/g/im/up/alice/phone", 1, false, false},
    {"other/topic", 1, false, false},
};

TEST_P(SecurityAclTest, PublishMatrixAcceptsOnlyTheOwnUpTopicNeverRetained) {
  auto monitor = Monitor(*stack_);
  auto bob = Victim();
  auto alice = Attacker();
  for (const PublishCase& c : kPublishes) {
    const std::string payload = std::string(c.allowed ? "allowed:" : "refused:") + c.topic + ":q" +
                                std::to_string(c.qos) + (c.retain ? ":r" : "");
    const int code = alice->Publish(c.topic, payload, c.qos, c.retain);
    ASSERT_NE(code, RawMqtt::kClosed) << payload;
    ASSERT_NE(code, RawMqtt::kTimeout) << payload;
    if (c.qos == 0) continue;
    if (c.allowed) {
      EXPECT_TRUE(Accepted(code)) << payload << " " << code;
    } else {
      // MQTT 5 says no (PUBACK/PUBREC 0x87); 3.1.1 cannot, it drops the message silently.
      EXPECT_EQ(code, Version() == 5 ? kRefusedV5 : 0) << payload;
    }
  }
  if (Version() == 5) {
    // A topic alias set on the own topic and then re-pointed: every use is checked anew.
    EXPECT_TRUE(Accepted(alice->Publish("im/up/alice/phone", "allowed:alias-set", 1, false, 1)));
    EXPECT_TRUE(Accepted(alice->Publish("", "allowed:alias-use", 1, false, 1)));
    EXPECT_EQ(alice->Publish("im/in/bob", "refused:alias-repoint", 1, false, 1), kRefusedV5);
    const int reused = alice->Publish("", "refused:alias-reuse", 1, false, 1);
    EXPECT_FALSE(Accepted(reused)) << reused;
  }
  // A marker sent last on the same connection: once it arrives everything before it was routed.
  ASSERT_TRUE(Accepted(alice->Publish("im/up/alice/phone", "marker", 1)));
  ASSERT_TRUE(monitor->WaitForPayload("marker"));
  int allowed = 0;
  for (const ProbeMessage& m : monitor->Messages()) {
    EXPECT_NE(m.payload.rfind("refused:", 0), 0u) << m.topic << " " << m.payload;
    if (m.payload.rfind("allowed:", 0) == 0) {
      ++allowed;
      EXPECT_EQ(m.topic, "im/up/alice/phone");
      EXPECT_FALSE(m.retain);
    }
  }
  EXPECT_EQ(allowed, Version() == 5 ? 5 : 3);
  for (const ProbeMessage& m : bob->Messages()) {
    EXPECT_NE(m.payload.rfind("refused:", 0), 0u) << m.topic << " " << m.payload;
  }
  EXPECT_TRUE(bob->connected());  // the forged im/sys/revoke/bob did nothing
  ExpectNothingRetained();
}

TEST_P(SecurityAclTest, PublishToAWildcardTopicNameClosesTheConnectionAndDeliversNothing) {
  auto monitor = Monitor(*stack_);
  auto bob = Victim();
  for (const char* topic : {"im/in/#", "im/in/+", "#", "im/up/alice/+"}) {
    auto alice = Attacker("wild");
    const int code = alice->Publish(topic, std::string("refused:") + topic, 1);
    EXPECT_FALSE(Accepted(code)) << topic << " " << code;
    EXPECT_TRUE(alice->WaitClosed(5s)) << topic;
  }
  auto alice = Attacker();
  ASSERT_TRUE(Accepted(alice->Publish("im/up/alice/phone", "marker", 1)));
  ASSERT_TRUE(monitor->WaitForPayload("marker"));
  for (const ProbeMessage& m : monitor->Messages()) {
    EXPECT_NE(m.payload.rfind("refused:", 0), 0u) << m.topic << " " << m.payload;
  }
  for (const ProbeMessage& m : bob->Messages()) {
    EXPECT_NE(m.payload.rfind("refused:", 0), 0u) << m.topic << " " << m.payload;
  }
}

TEST_P(SecurityAclTest, WillIsPublishedOnlyOnTheOwnUpTopicAndNeverRetained) {
  auto monitor = Monitor(*stack_);
  auto bob = Victim();
  struct WillCase {
    const char* device;
    RawWill will;
    bool published;
  };
  const WillCase cases[] = {
      {"w1", {"im/up/alice/w1", "will:own", 1, false}, true},
      {"w2", {"im/up/alice/w2", "will:own-retained", 1, true}, false},
      {"w3", {"im/up/alice/phone", "will:other-device", 1, false}, false},
      {"w4", {"im/up/bob/phone", "will:bob-up", 1, false}, false},
      {"w5", {"im/in/bob", "will:bob-inbox", 1, false}, false},
      {"w6", {"im/sys/revoke/bob", R"({"before":99999999999999})", 1, false}, false},
      {"w7", {"$SYS/broker/x", "will:sys", 0, false}, false},
  };
  for (const WillCase& c : cases) {
    auto device = Attacker(c.device, c.will);  // a forbidden will does not refuse the CONNECT
    device->Drop();                            // an unexpected loss: the broker sends the will
  }
  // A will on a wildcard topic is a malformed CONNECT: refused or closed, never published.
  {
    RawMqtt wild(stack_->broker().port(), Version());
    EXPECT_NE(wild.Connect("alice:w8", "alice", stack_->Token("alice"),
                           RawWill{"im/in/#", "will:wildcard", 1, false}),
              0);
  }
  // A refused CONNECT's will is never published either.
  {
    RawMqtt refused(stack_->broker().port(), Version());
    EXPECT_NE(refused.Connect("alice:w9", "alice", "not-a-token",
                              RawWill{"im/up/alice/w9", "will:refused-connect", 1, false}),
              0);
    refused.Drop();
  }
  ASSERT_TRUE(monitor->WaitForPayload("will:own"));
  auto marker = Attacker("marker");
  ASSERT_TRUE(Accepted(marker->Publish("im/up/alice/marker", "marker", 1)));
  ASSERT_TRUE(monitor->WaitForPayload("marker"));
  for (const WillCase& c : cases) {
    EXPECT_EQ(monitor->WaitForPayload(c.will.payload, 0ms), c.published) << c.will.topic;
  }
  EXPECT_FALSE(monitor->WaitForPayload("will:wildcard", 0ms));
  EXPECT_FALSE(monitor->WaitForPayload("will:refused-connect", 0ms));
  for (const ProbeMessage& m : bob->Messages()) {
    EXPECT_EQ(m.payload.rfind("will:", 0), std::string::npos) << m.topic << " " << m.payload;
  }
  EXPECT_TRUE(bob->connected());
  ExpectNothingRetained();
}

// ---------------------------------------------------------------------------------------------
// Frames that pass the ACL (on the user's own up topic) but lie, through the whole stack.

TEST(SecurityFrameTest, LyingFramesAreRefusedAndReachNoOtherUser) {
  SparrowStack stack;
  stack.Start();
  stack.Befriend("carol", "bob");
  stack.CreateUser("alice");  // alice is friends with no one
  TestDevice alice(stack, "alice", "phone");
  TestDevice bob(stack, "bob", "phone");
  TestDevice carol(stack, "carol", "phone");
  ASSERT_TRUE(alice.Connect());
  ASSERT_TRUE(bob.Connect());
  ASSERT_TRUE(carol.Connect());

  // carol -> bob: a real conversation alice must not see or touch.
  ASSERT_TRUE(carol.SendChat(1, "bob", "secret-of-carol"));
  ASSERT_TRUE(bob.WaitFor([](const TestDevice& d) { return d.IncomingChats().size() == 1; }));
  const std::string carol_mid = bob.IncomingChats().front()["mid"];

  // A sender other than the connection's user.
  ASSERT_TRUE(alice.SendRaw(
      R"({"type":"chat","id":1,"fromId":"carol","destId":"bob","kind":"text","msgBody":"x"})"));
  // Forged service announcements (refused by the ACL), then a chat that would need them.
  RawMqtt raw(stack.broker().port(), 5);
  ASSERT_EQ(raw.Connect("alice:raw", "alice", stack.Token("alice")), 0);
  EXPECT_EQ(raw.Publish("im/sys/relation/alice/bob", R"({"friends":true})", 1), kRefusedV5);
  EXPECT_EQ(raw.Publish("im/sys/revoke/bob", R"({"before":99999999999999})", 1), kRefusedV5);
  EXPECT_EQ(raw.Publish("im/in/bob",
                        R"({"type":"chat","seq":99,"mid":"forged","fromId":"carol",)"
                        R"("destId":"bob","kind":"text","msgBody":"forged"})",
                        1),
            kRefusedV5);
  // A receipt for a chat that was not addressed to her.
  ASSERT_TRUE(alice.SendAck("READ", carol_mid));
  ASSERT_TRUE(alice.SendChat(1, "bob", "to-a-stranger"));
  ASSERT_TRUE(alice.WaitFor([](const TestDevice& d) { return d.Errors().size() >= 3; }))
      << alice.Received().size();
  std::vector<std::string> codes;
  for (const auto& e : alice.Errors()) codes.push_back(e.value("code", ""));
  EXPECT_NE(std::find(codes.begin(), codes.end(), "spoofed_sender"), codes.end());
  EXPECT_NE(std::find(codes.begin(), codes.end(), "unknown_message"), codes.end());
  EXPECT_NE(std::find(codes.begin(), codes.end(), "not_friends"), codes.end());

  // A full replay of alice's store holds nothing of bob's or carol's.
  alice.Clear();
  ASSERT_TRUE(alice.SendSync(0));
  ASSERT_TRUE(alice.WaitFor([](const TestDevice& d) { return !d.Synced().empty(); }));
  for (const auto& r : alice.Received()) {
    EXPECT_EQ(r.frame.dump().find("secret-of-carol"), std::string::npos) << r.frame.dump();
  }
  // Bob is still connected (no revocation), got nothing forged, and carol no READ from alice.
  ASSERT_TRUE(carol.SendChat(2, "bob", "still-here"));
  ASSERT_TRUE(bob.WaitFor([](const TestDevice& d) { return d.IncomingChats().size() == 2; }));
  for (const auto& chat : bob.IncomingChats()) {
    EXPECT_EQ(chat.value("fromId", ""), "carol");
    EXPECT_NE(chat.value("msgBody", ""), "forged");
    EXPECT_NE(chat.value("msgBody", ""), "to-a-stranger");
  }
  EXPECT_TRUE(carol.Acks("READ").empty());
}

}  // namespace
}  // namespace sparrow::security
