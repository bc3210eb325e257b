// Revocation end to end: the REST service (logout, password change) announces the revocation on
// im/sys/revoke/{user}; the broker's plugin kicks every live MQTT session of that user, over
// both protocol versions, within 5 s, and refuses the old token from then on, while other users
// stay connected and a fresh login works. Unit counterparts: ApiTest (logout/password),
// AuthPluginTest (revocation), plugin_integration_test RevocationKicksLiveSessions...
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "plugin/testing/mqtt_probe.hpp"
#include "testing/stack/stack.hpp"
#include "tests/security/rest_probe.hpp"
#include "tests/security/security_support.hpp"

namespace sparrow::security {
namespace {

using namespace std::chrono_literals;
using plugin::testing::MqttProbe;
using testing::SparrowStack;

class SecurityRevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_ = std::make_unique<SparrowStack>(BrokerOnly(/*authsvc=*/true));
    StartStack(*stack_, true);
    rest_ = std::make_unique<RestProbe>(stack_->http_port());
    ASSERT_EQ(rest_->Register("alice", kAlicePassword), 201);
    ASSERT_EQ(rest_->Register("bob", "bob-password-1"), 201);
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "logs:\n" << stack_->Logs();
  }

  // Connected devices of `user` with `token`: one over MQTT 3.1.1, one over MQTT 5.
  std::vector<std::unique_ptr<MqttProbe>> Devices(const std::string& user,
                                                  const std::string& token) {
    std::vector<std::unique_ptr<MqttProbe>> devices;
    for (int version : {4, 5}) {
      devices.push_back(std::make_unique<MqttProbe>(
          ProbeFor(*stack_, user + ":" + VersionName(version), user, token, version)));
      EXPECT_EQ(devices.back()->Connect(), 0) << user << " " << version;
    }
    return devices;
  }

  // After a revocation of alice's `old_token` answered at `answered`: her sessions are gone
  // within 5 s, bob's remain, the old token is refused by broker and REST.
  void ExpectRevoked(std::vector<std::unique_ptr<MqttProbe>>& alice,
                     std::vector<std::unique_ptr<MqttProbe>>& bob, const std::string& old_token,
                     std::chrono::steady_clock::time_point answered) {
    for (auto& device : alice) EXPECT_TRUE(device->WaitDisconnected(5s));
    const auto took = std::chrono::steady_clock::now() - answered;
    EXPECT_LT(took, 5s);
    std::cerr << "kicked within "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
    for (auto& device : bob) EXPECT_TRUE(device->connected());
    for (int version : {4, 5}) {
      MqttProbe again(ProbeFor(*stack_, "alice:again", "alice", old_token, version));
      EXPECT_EQ(again.Connect(), version == 5 ? kRefusedV5 : kRefusedConnectV3) << version;
    }
    EXPECT_EQ(rest_->Get("/api/v1/friends", old_token).status, 401);
  }

  static constexpr const char* kAlicePassword = "alice-password-1";
  std::unique_ptr<SparrowStack> stack_;
  std::unique_ptr<RestProbe> rest_;
};

TEST_F(SecurityRevocationTest, LogoutKicksEveryLiveSessionWithin5sAndRefusesTheOldToken) {
  const auto token = rest_->Login("alice", kAlicePassword);
  const auto bob_token = rest_->Login("bob", "bob-password-1");
  ASSERT_TRUE(token && bob_token);
  auto alice = Devices("alice", *token);
  auto bob = Devices("bob", *bob_token);

  const HttpReply logout = rest_->Post("/api/v1/logout", nlohmann::json::object(), *token);
  const auto answered = std::chrono::steady_clock::now();
  ASSERT_EQ(logout.status, 204) << logout.body;
  ExpectRevoked(alice, bob, *token, answered);

  // A fresh login works over both, REST and MQTT.
  const auto fresh = rest_->Login("alice", kAlicePassword);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(rest_->Get("/api/v1/friends", *fresh).status, 200);
  auto again = Devices("alice", *fresh);
  for (auto& device : again) EXPECT_TRUE(device->connected());
}

TEST_F(SecurityRevocationTest, PasswordChangeKicksEveryLiveSessionAndRefusesTheOldPassword) {
  const auto token = rest_->Login("alice", kAlicePassword);
  const auto bob_token = rest_->Login("bob", "bob-password-1");
  ASSERT_TRUE(token && bob_token);
  auto alice = Devices("alice", *token);
  auto bob = Devices("bob", *bob_token);

  // A wrong old password changes nothing and kicks no one.
  EXPECT_EQ(
      rest_
          ->Post("/api/v1/password",
                 {{"oldPassword", "wrong-password"}, {"newPassword", "new-password-2"}}, *token)
          .status,
      403);
  EXPECT_FALSE(alice.front()->WaitDisconnected(300ms));

  const HttpReply change =
      rest_->Post("/api/v1/password",
                  {{"oldPassword", kAlicePassword}, {"newPassword", "new-password-2"}}, *token);
  const auto answered = std::chrono::steady_clock::now();
  ASSERT_EQ(change.status, 204) << change.body;
  ExpectRevoked(alice, bob, *token, answered);

  EXPECT_EQ(rest_->Login("alice", kAlicePassword), std::nullopt);
  const auto fresh = rest_->Login("alice", "new-password-2");
  ASSERT_TRUE(fresh.has_value());
  auto again = Devices("alice", *fresh);
  for (auto& device : again) EXPECT_TRUE(device->connected());
}

}  // namespace
}  // namespace sparrow::security
