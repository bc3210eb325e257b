// sparrow-authsvc as the launcher runs it (the built binary, `serve --data-dir --port
// --token-file`, SPARROW_MQTT_HOST/PORT in the environment) against a real Mosquitto with the
// Sparrow auth plugin: friendship changes and revocations reach an MQTT subscriber. Also the
// `token` subcommand and a refused configuration.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/token.hpp"
#include "testing/mqtt/child_process.hpp"
#include "testing/mqtt/free_port.hpp"
#include "testing/mqtt/mosquitto_process.hpp"
#include "testing/mqtt/wait.hpp"
#include "testing/temp_dir.hpp"
#include "transport/transport.hpp"

namespace sparrow::authsvc {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

std::int64_t Now() { return common::SystemClock::Instance().WallMillis(); }

void WriteSecret(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text << "\n";
  ::chmod(path.c_str(), 0600);
}

// Everything received on a subscription, in order.
class Inbox {
 public:
  void Add(transport::Message&& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    messages_.push_back(std::move(message));
  }
  bool Has(const std::string& topic, const std::string& payload) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& m : messages_) {
      if (m.topic == topic && m.payload == payload) return true;
    }
    return false;
  }
  std::optional<transport::Message> Find(const std::string& topic) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& m : messages_) {
      if (m.topic == topic) return m;
    }
    return std::nullopt;
  }
  std::string Dump() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string out;
    for (const auto& m : messages_) out += m.topic + " " + m.payload + "\n";
    return out;
  }

 private:
  std::mutex mutex_;
  std::vector<transport::Message> messages_;
};

TEST(AuthsvcMqttTest, AcceptDeleteAndLogoutAreAnnouncedThroughTheBroker) {
  testing::TempDir data;
  const auto keys = data.path() / "keys";
  // The launcher mints the service tokens from the data folder's key before starting anyone.
  const common::TokenSigner signer(common::LoadOrCreateSigningKey(keys.string()));
  WriteSecret(keys / "authsvc.token",
              signer.Issue("authsvc", common::Role::kSvc, Now(), 3'600'000));

  testing::MosquittoProcess broker(
      testing::MosquittoOptions{.plugin = SPARROW_AUTH_PLUGIN,
                                .public_key_file = (keys / "token_public.key").string(),
                                .broker_id = "b1"});
  broker.Start();

  Inbox inbox;
  auto watcher = transport::MakeTransport(
      "mosquitto", transport::Options{
                       .port = broker.port(),
                       .client_id = "watcher:w1",
                       .username = "watcher",
                       .password = signer.Issue("watcher", common::Role::kOps, Now(), 3'600'000)});
  watcher->SetMessageHandler([&](transport::Message&& m) { inbox.Add(std::move(m)); });
  watcher->Subscribe("im/sys/#", 1);
  watcher->Start();
  ASSERT_TRUE(watcher->WaitConnected(10s)) << broker.ReadLog();

  const int http_port = testing::FreePort();
  testing::ChildProcess authsvc(testing::ChildOptions{
      .binary = SPARROW_AUTHSVC_BIN,
      .args = {"serve", "--data-dir", data.path().string(), "--port", std::to_string(http_port),
               "--token-file", (keys / "authsvc.token").string()},
      .env = {{"SPARROW_MQTT_HOST", "127.0.0.1"},
              {"SPARROW_MQTT_PORT", std::to_string(broker.port())},
              {"SPARROW_DB", "sqlite:" + (data.path() / "sparrow.db").string()}},
      .log_path = data.path() / "authsvc.log"});
  authsvc.Start();
  httplib::Client client("127.0.0.1", http_port);
  ASSERT_TRUE(testing::WaitUntil(
      [&] {
        auto health = client.Get("/healthz");
        return health && health->status == 200;
      },
      15s, 20ms))
      << authsvc.ReadLog();

  const auto post = [&](const std::string& path, const std::string& body,
                        const std::string& token) {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return client.Post(path, headers, body, "application/json");
  };
  const auto new_user = [&](const std::string& user) {
    const std::string credentials = json{{"userId", user}, {"password", "correct horse"}}.dump();
    EXPECT_EQ(post("/api/v1/register", credentials, "")->status, 201);
    auto login = post("/api/v1/login", credentials, "");
    EXPECT_EQ(login->status, 200);
    return json::parse(login->body)["token"].get<std::string>();
  };
  const std::string alice = new_user("alice");
  const std::string bob = new_user("bob");

  ASSERT_EQ(post("/api/v1/friends", R"({"userId":"alice"})", bob)->status, 202);
  ASSERT_EQ(post("/api/v1/friends/bob/accept", "", alice)->status, 200);
  EXPECT_TRUE(testing::WaitUntil(
      [&] { return inbox.Has("im/sys/relation/alice/bob", R"({"friends":true})"); }, 10s))
      << inbox.Dump() << authsvc.ReadLog();

  auto deleted = client.Delete("/api/v1/friends/alice", {{"Authorization", "Bearer " + bob}});
  ASSERT_EQ(deleted->status, 204);
  EXPECT_TRUE(testing::WaitUntil(
      [&] { return inbox.Has("im/sys/relation/alice/bob", R"({"friends":false})"); }, 10s))
      << inbox.Dump();

  const std::int64_t before_logout = Now();
  ASSERT_EQ(post("/api/v1/logout", "", alice)->status, 204);
  const std::int64_t after_logout = Now();
  ASSERT_TRUE(
      testing::WaitUntil([&] { return inbox.Find("im/sys/revoke/alice").has_value(); }, 10s))
      << inbox.Dump();
  const json revoke = json::parse(inbox.Find("im/sys/revoke/alice")->payload);
  ASSERT_TRUE(revoke["before"].is_number_integer());
  EXPECT_GE(revoke["before"].get<std::int64_t>(), before_logout);
  EXPECT_LE(revoke["before"].get<std::int64_t>(), after_logout);
  EXPECT_EQ(revoke.size(), 1u);

  // The revoked token is refused; the service stops cleanly on SIGTERM.
  EXPECT_EQ(client.Get("/api/v1/friends", {{"Authorization", "Bearer " + alice}})->status, 401);
  authsvc.Stop();
  EXPECT_TRUE(WIFEXITED(authsvc.last_status()) && WEXITSTATUS(authsvc.last_status()) == 0)
      << authsvc.ReadLog();
  watcher->Stop();
}

TEST(AuthsvcCliTest, TokenMintsAVerifiableTokenFromTheDataFoldersKey) {
  testing::TempDir data;
  const std::string command = std::string(SPARROW_AUTHSVC_BIN) +
                              " token --role svc --sub bridge --ttl 120 --data-dir " +
                              data.path().string();
  FILE* out = ::popen(command.c_str(), "r");
  ASSERT_NE(out, nullptr);
  std::string text;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, out) != nullptr) text += buffer;
  ASSERT_EQ(::pclose(out), 0);
  ASSERT_FALSE(text.empty());
  ASSERT_EQ(text.back(), '\n');
  text.pop_back();
  const common::TokenVerifier verifier(
      common::LoadPublicKeys((data.path() / "keys" / "token_public.key").string()));
  const auto outcome = verifier.Verify(text, Now());
  ASSERT_TRUE(outcome.ok()) << common::ToString(outcome.error);
  EXPECT_EQ(outcome.claims.sub, "bridge");
  EXPECT_EQ(outcome.claims.role, common::Role::kSvc);
  EXPECT_LE(outcome.claims.exp_ms, Now() + 120'000);
  struct stat st {};
  ASSERT_EQ(::stat((data.path() / "keys" / "token_secret.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(AuthsvcCliTest, AnInvalidSettingStopsTheServiceWithExitCode2) {
  testing::TempDir data;
  testing::ChildProcess authsvc(
      testing::ChildOptions{.binary = SPARROW_AUTHSVC_BIN,
                            .args = {"serve", "--data-dir", data.path().string(), "--port", "0",
                                     "--argon2-memory-kib", "1024"},
                            .log_path = data.path() / "authsvc.log"});
  authsvc.Start();
  ASSERT_TRUE(testing::WaitUntil([&] { return !authsvc.running(); }, 10s));
  EXPECT_TRUE(WIFEXITED(authsvc.last_status()));
  EXPECT_EQ(WEXITSTATUS(authsvc.last_status()), 2);
  EXPECT_NE(authsvc.ReadLog().find("--argon2-memory-kib"), std::string::npos) << authsvc.ReadLog();
}

}  // namespace
}  // namespace sparrow::authsvc
