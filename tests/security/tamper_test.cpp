// AES-256-GCM tamper checks end to end: bob runs the real client library (client::Client over
// Paho) against the real stack; alice is a raw device that sends chats whose msgBody was
// altered on the way (a flipped ciphertext bit, a body moved from another chat, a body sealed
// under another key). Each must reach bob's app as an error, never as a message; the
// conversation goes on. Unit counterparts: CryptoTest and SessionTest (client/).
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "client/client.hpp"
#include "client/crypto.hpp"
#include "client/key_ring.hpp"
#include "common/base64.hpp"
#include "testing/mqtt/wait.hpp"
#include "testing/stack/stack.hpp"
#include "testing/stack/test_device.hpp"
#include "testing/temp_dir.hpp"
#include "tests/security/security_support.hpp"

namespace sparrow::security {
namespace {

using namespace std::chrono_literals;
using testing::SparrowStack;
using testing::TestDevice;

std::string FlipCiphertextBit(const std::string& body) {
  std::string bytes = common::Base64Decode(body).value();
  bytes[client::kNonceBytes] = static_cast<char>(bytes[client::kNonceBytes] ^ 0x01);
  return common::Base64Encode(bytes);
}

TEST(SecurityTamperTest, TamperedBodiesAreReportedAndNeverShown) {
  SparrowStack stack;
  stack.Start();
  stack.Befriend("alice", "bob");
  const std::string key = client::RandomBytes(client::kKeyBytes);

  std::mutex mutex;
  std::vector<std::string> shown;
  std::vector<client::ClientError> errors;
  client::InMemoryKeyRing ring;
  ring.Set("alice", key);
  sparrow::testing::TempDir state;
  client::Client bob(client::Client::Options{.user = "bob",
                                             .device = "phone",
                                             .token = stack.Token("bob"),
                                             .mqtt_port = stack.broker().port(),
                                             .state_dir = state.path() / "bob",
                                             .keys = &ring},
                     client::Callbacks{.on_message =
                                           [&](const client::Message& m) {
                                             std::lock_guard<std::mutex> lock(mutex);
                                             shown.push_back(m.text);
                                           },
                                       .on_error =
                                           [&](const client::ClientError& e) {
                                             std::lock_guard<std::mutex> lock(mutex);
                                             errors.push_back(e);
                                           }});
  bob.Connect();
  ASSERT_TRUE(bob.WaitSynced(10s)) << stack.Logs();

  TestDevice alice(stack, "alice", "phone");
  ASSERT_TRUE(alice.Connect());
  const auto seal = [&](std::int64_t id, const std::string& text) {
    return client::SealBody(key, {.from_id = "alice", .dest_id = "bob", .id = id}, text);
  };
  ASSERT_TRUE(alice.SendChat(1, "bob", seal(1, "valid-before")));
  ASSERT_TRUE(alice.SendChat(2, "bob", FlipCiphertextBit(seal(2, "tampered-bit"))));
  ASSERT_TRUE(alice.SendChat(3, "bob", seal(99, "moved-from-another-chat")));
  ASSERT_TRUE(alice.SendChat(
      4, "bob",
      client::SealBody(client::RandomBytes(client::kKeyBytes),
                       {.from_id = "alice", .dest_id = "bob", .id = 4}, "another-key")));
  ASSERT_TRUE(alice.SendChat(5, "bob", "bm90IGEgc2VhbGVkIGJvZHk="));  // base64, too short
  ASSERT_TRUE(alice.SendChat(6, "bob", seal(6, "valid-after")));

  ASSERT_TRUE(sparrow::testing::WaitUntil(
      [&] {
        std::lock_guard<std::mutex> lock(mutex);
        return !shown.empty() && shown.back() == "valid-after";
      },
      10s))
      << stack.Logs();
  std::lock_guard<std::mutex> lock(mutex);
  EXPECT_EQ(shown, (std::vector<std::string>{"valid-before", "valid-after"}));
  int undecryptable = 0;
  for (const client::ClientError& e : errors) {
    if (e.kind != client::ClientError::Kind::kUndecryptable) continue;
    ++undecryptable;
    EXPECT_EQ(e.peer, "alice");
    EXPECT_FALSE(e.mid.empty());
    EXPECT_EQ(e.message.find("tampered"), std::string::npos) << e.message;
  }
  EXPECT_EQ(undecryptable, 4);
}

}  // namespace
}  // namespace sparrow::security
