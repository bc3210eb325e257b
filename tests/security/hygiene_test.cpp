// Observability hygiene: a stack at debug log level, a registration and logins with known
// passwords (right and wrong), a chat with a known body sent with the login's token, a file
// upload; then every service log, the broker's log and the /metrics output of every service
// must hold none of the passwords, the token (nor its signature) and the body.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/base64.hpp"
#include "plugin/testing/mqtt_probe.hpp"
#include "testing/mqtt/child_process.hpp"
#include "testing/mqtt/free_port.hpp"
#include "testing/stack/stack.hpp"
#include "tests/security/rest_probe.hpp"
#include "tests/security/security_support.hpp"

namespace sparrow::security {
namespace {

using namespace std::chrono_literals;
using plugin::testing::MqttProbe;
using testing::SparrowStack;

TEST(SecurityHygieneTest, LogsAndMetricsHoldNoPasswordTokenOrBody) {
  const int bridge_metrics = testing::FreePort();
  const int offline_metrics = testing::FreePort();
  testing::StackOptions options;
  options.authsvc = true;
  options.bridge_args = {"--metrics-port", std::to_string(bridge_metrics)};
  options.offline_args = {"--metrics-port", std::to_string(offline_metrics)};
  options.service_env = {{"SPARROW_LOG_LEVEL", "debug"}};
  SparrowStack stack(options);
  StartStack(stack, true);

  // Unique strings that can only be in a log if something logged them.
  const std::string password = "pw-Hygiene-" + std::to_string(NowMs()) + "-secret";
  const std::string wrong_password = "wrong-Hygiene-" + std::to_string(NowMs()) + "-secret";
  const std::string body = "body-Hygiene-" + std::to_string(NowMs()) + "-the-chat-text";
  const std::string file_bytes = "file-Hygiene-" + std::to_string(NowMs()) + "-the-file-bytes";

  const RestProbe rest(stack.http_port());
  ASSERT_EQ(rest.Register("alice", password), 201);
  ASSERT_EQ(rest.Register("bob", "bob-password-1"), 201);
  EXPECT_EQ(rest.Post("/api/v1/login", {{"userId", "alice"}, {"password", wrong_password}}).status,
            401);
  const auto token = rest.Login("alice", password);
  const auto bob_token = rest.Login("bob", "bob-password-1");
  ASSERT_TRUE(token && bob_token);
  ASSERT_TRUE(rest.Befriend(*token, "alice", *bob_token, "bob"));
  EXPECT_EQ(
      rest.PostBytes("/api/v1/files?to=bob", file_bytes, "application/octet-stream", *token).status,
      201);
  const HttpReply relations = rest.Get("/api/v1/relations", *token);
  ASSERT_EQ(relations.status, 200);
  const std::string relation_key = relations.Json()["relations"][0]["encryptKey"];

  // The chat, over MQTT with the login's token as password, to a connected bob.
  MqttProbe bob(ProbeFor(stack, "bob:phone", "bob", *bob_token, 5));
  ASSERT_EQ(bob.Connect(), 0);
  ASSERT_EQ(bob.Subscribe({"im/in/bob"}), std::vector<int>{1});
  MqttProbe alice(ProbeFor(stack, "alice:phone", "alice", *token, 5));
  ASSERT_EQ(alice.Connect(), 0);
  ASSERT_EQ(alice.Subscribe({"im/in/alice/phone"}), std::vector<int>{1});
  ASSERT_TRUE(Accepted(alice.Publish("im/up/alice/phone", R"({"type":"sync","after":0})")));
  ASSERT_TRUE(alice.WaitForMessage(
      [](const auto& m) { return m.payload.find("\"synced\"") != std::string::npos; }, 10s));
  ASSERT_TRUE(Accepted(alice.Publish(
      "im/up/alice/phone",
      R"({"type":"chat","id":1,"destId":"bob","kind":"text","msgBody":")" + body + "\"}")));
  ASSERT_TRUE(bob.WaitForMessage(
      [&](const auto& m) { return m.payload.find(body) != std::string::npos; }, 10s))
      << stack.Logs();
  // A bad frame too: error paths log as well.
  ASSERT_TRUE(Accepted(alice.Publish(
      "im/up/alice/phone", "{\"type\":\"chat\",\"msgBody\":\"" + body + "\",\"id\":\"x\"}")));
  ASSERT_TRUE(alice.WaitForMessage(
      [](const auto& m) { return m.payload.find("bad_frame") != std::string::npos; }, 10s));
  // Logging out announces the revocation (and logs it).
  ASSERT_EQ(rest.Post("/api/v1/logout", nlohmann::json::object(), *token).status, 204);
  ASSERT_TRUE(alice.WaitDisconnected(5s));

  // What an operator sees: every log and every /metrics.
  std::vector<std::pair<std::string, std::string>> outputs;
  outputs.emplace_back("authsvc /metrics", rest.Get("/metrics").body);
  outputs.emplace_back("bridge /metrics", RestProbe(bridge_metrics).Get("/metrics").body);
  outputs.emplace_back("offline /metrics", RestProbe(offline_metrics).Get("/metrics").body);
  for (const auto& [name, text] : outputs) {
    ASSERT_NE(text.find("# TYPE"), std::string::npos) << name << ": " << text.substr(0, 200);
  }
  for (const auto& entry : std::filesystem::directory_iterator(stack.dir() / "log")) {
    outputs.emplace_back(entry.path().filename().string(), testing::ReadTextFile(entry.path()));
  }
  outputs.emplace_back("broker log", stack.broker().ReadLog());
  ASSERT_GE(outputs.size(), 7u);  // 3 metrics, bridge, offline, authsvc, broker

  const std::string signature = token->substr(token->rfind('.') + 1);
  const std::vector<std::pair<std::string, std::string>> secrets = {
      {"password", password},
      {"wrong password", wrong_password},
      {"password (JSON-escaped form)", nlohmann::json(password).dump()},
      {"token", *token},
      {"token signature", signature},
      {"bob's token", *bob_token},
      {"message body", body},
      {"file bytes", file_bytes},
      {"relation key", relation_key},
  };
  for (const auto& [name, text] : outputs) {
    ASSERT_FALSE(text.empty()) << name;
    for (const auto& [what, secret] : secrets) {
      EXPECT_EQ(text.find(secret), std::string::npos) << what << " found in " << name;
    }
  }
}

}  // namespace
}  // namespace sparrow::security
