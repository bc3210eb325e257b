// AuthPlugin without a broker: per-connection state as Mosquitto 2.0.11 drives it (CONNECT,
// takeover, DISCONNECT then the will check, TICK), the options, and the log helpers.
#include "plugin/auth_plugin.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/base64.hpp"
#include "common/error.hpp"

namespace sparrow::plugin {
namespace {

using common::Role;
using Options = std::vector<std::pair<std::string, std::string>>;

constexpr std::int64_t kNow = 1764430000123;
constexpr std::int64_t kHour = std::int64_t{3600} * 1000;

// Distinct fake `struct mosquitto*` handles: only their addresses matter.
int handle_storage[8];
AuthPlugin::ClientHandle Client(int n) { return &handle_storage[n]; }

class AuthPluginTest : public ::testing::Test {
 protected:
  common::SigningKey key_ = common::GenerateSigningKey();
  common::TokenSigner signer_{key_};
  AuthPlugin plugin_{AuthPolicy(common::TokenVerifier({key_.public_key}))};

  AuthDecision Connect(int client, std::string_view user, std::string_view device,
                       Role role = Role::kUser) {
    const std::string client_id = std::string(user) + ":" + std::string(device);
    return plugin_.OnBasicAuth(Client(client), user, signer_.Issue(user, role, kNow, kHour),
                               client_id, kNow);
  }
  bool MayPublish(int client, std::string_view topic, bool retain = false) {
    return plugin_.OnAclCheck(Client(client), AclAccess::kWrite, topic, retain);
  }
};

TEST_F(AuthPluginTest, AcceptedConnectionGetsItsRules) {
  ASSERT_TRUE(Connect(0, "alice", "phone").allowed());
  ASSERT_NE(plugin_.Find(Client(0)), nullptr);
  EXPECT_EQ(*plugin_.Find(Client(0)), (Connection{"alice", "phone", Role::kUser}));
  EXPECT_TRUE(MayPublish(0, "im/up/alice/phone"));
  EXPECT_FALSE(MayPublish(0, "im/up/alice/laptop"));
  EXPECT_TRUE(plugin_.OnAclCheck(Client(0), AclAccess::kSubscribe, "im/in/alice/#", false));
  EXPECT_FALSE(plugin_.OnAclCheck(Client(0), AclAccess::kSubscribe, "im/in/bob", false));
  EXPECT_TRUE(plugin_.OnAclCheck(Client(0), AclAccess::kRead, "im/in/alice", false));
  EXPECT_FALSE(plugin_.OnAclCheck(Client(0), AclAccess::kRead, "im/in/bob", false));
  EXPECT_EQ(plugin_.stats().connects_allowed, 1u);
  EXPECT_EQ(plugin_.stats().acl_allowed, 3u);
  EXPECT_EQ(plugin_.stats().acl_denied, 3u);
}

TEST_F(AuthPluginTest, UnknownConnectionIsRefusedEverything) {
  for (AclAccess access :
       {AclAccess::kRead, AclAccess::kWrite, AclAccess::kSubscribe, AclAccess::kUnsubscribe}) {
    EXPECT_FALSE(plugin_.OnAclCheck(Client(3), access, "im/in/alice", false)) << ToString(access);
  }
}

TEST_F(AuthPluginTest, RefusedConnectLeavesNoState) {
  const AuthDecision d =
      plugin_.OnBasicAuth(Client(0), "alice", "not-a-token", "alice:phone", kNow);
  EXPECT_EQ(d.refusal, AuthRefusal::kBadToken);
  EXPECT_EQ(plugin_.Find(Client(0)), nullptr);
  EXPECT_FALSE(MayPublish(0, "im/up/alice/phone"));
  EXPECT_EQ(plugin_.stats().connects_refused, 1u);
  plugin_.OnDisconnect(Client(0));  // Mosquitto sends it for refused CONNECTs too
  EXPECT_EQ(plugin_.size(), 0u);
}

TEST_F(AuthPluginTest, UnsubscribeIsAlwaysAllowedToAKnownConnection) {
  ASSERT_TRUE(Connect(0, "alice", "phone").allowed());
  EXPECT_TRUE(plugin_.OnAclCheck(Client(0), AclAccess::kUnsubscribe, "#", false));
}

TEST_F(AuthPluginTest, TakeoverByTheSameRoleIsAllowed) {
  ASSERT_TRUE(Connect(0, "alice", "phone").allowed());
  // The same device reconnects from a new network: a new broker context.
  ASSERT_TRUE(Connect(1, "alice", "phone").allowed());
  // The broker then disconnects the old context; that must not free the new one's id.
  plugin_.OnDisconnect(Client(0));
  plugin_.OnTick();
  EXPECT_EQ(plugin_.Find(Client(0)), nullptr);
  EXPECT_TRUE(MayPublish(1, "im/up/alice/phone"));
  // A different role still cannot take the id from the new holder.
  EXPECT_EQ(Connect(2, "alice", "phone", Role::kOps).refusal, AuthRefusal::kClientIdInUse);
}

TEST_F(AuthPluginTest, TakeoverByADifferentRoleIsRefusedAndTheHolderKeepsItsRights) {
  ASSERT_TRUE(Connect(0, "bridge", "w1", Role::kSvc).allowed());
  // A user who registered the userId "bridge" reuses the service's client id.
  const AuthDecision d = Connect(1, "bridge", "w1", Role::kUser);
  EXPECT_EQ(d.refusal, AuthRefusal::kClientIdInUse);
  EXPECT_EQ(plugin_.Find(Client(1)), nullptr);
  EXPECT_TRUE(MayPublish(0, "im/in/alice"));
  // ... and so does an ops token.
  EXPECT_EQ(Connect(2, "bridge", "w1", Role::kOps).refusal, AuthRefusal::kClientIdInUse);
  // Another device id of the same name is a different client id: no conflict.
  EXPECT_TRUE(Connect(3, "bridge", "w2", Role::kUser).allowed());
}

TEST_F(AuthPluginTest, ClientIdIsFreeAfterTheHolderDisconnects) {
  ASSERT_TRUE(Connect(0, "bridge", "w1", Role::kSvc).allowed());
  plugin_.OnDisconnect(Client(0));
  EXPECT_TRUE(Connect(1, "bridge", "w1", Role::kUser).allowed());
}

TEST_F(AuthPluginTest, StateSurvivesDisconnectUntilTheNextTickForTheWillCheck) {
  ASSERT_TRUE(Connect(0, "alice", "phone").allowed());
  plugin_.OnDisconnect(Client(0));
  // Mosquitto checks the will right after the disconnect event.
  EXPECT_TRUE(MayPublish(0, "im/up/alice/phone"));
  EXPECT_FALSE(MayPublish(0, "im/up/alice/phone", /*retain=*/true));
  EXPECT_FALSE(MayPublish(0, "im/in/bob"));
  plugin_.OnTick();
  EXPECT_EQ(plugin_.size(), 0u);
  EXPECT_FALSE(MayPublish(0, "im/up/alice/phone"));  // e.g. a delayed will: refused
}

TEST_F(AuthPluginTest, ReusedHandleStartsFresh) {
  ASSERT_TRUE(Connect(0, "alice", "phone").allowed());
  plugin_.OnDisconnect(Client(0));
  // The broker reuses the address for a new connection that fails to authenticate.
  EXPECT_FALSE(plugin_.OnBasicAuth(Client(0), "bob", "bad", "bob:phone", kNow).allowed());
  EXPECT_FALSE(MayPublish(0, "im/up/alice/phone"));
  EXPECT_FALSE(MayPublish(0, "im/up/bob/phone"));
  // ... and then one that succeeds, before the tick that sweeps the departed alice.
  ASSERT_TRUE(Connect(0, "bob", "tablet").allowed());
  plugin_.OnTick();  // must not sweep bob's live state under the same handle
  EXPECT_TRUE(MayPublish(0, "im/up/bob/tablet"));
  EXPECT_FALSE(MayPublish(0, "im/up/alice/phone"));
}

TEST_F(AuthPluginTest, DisconnectTwiceIsHarmless) {
  ASSERT_TRUE(Connect(0, "alice", "phone").allowed());
  ASSERT_TRUE(Connect(1, "alice", "phone").allowed());
  plugin_.OnDisconnect(Client(0));
  plugin_.OnDisconnect(Client(0));
  plugin_.OnTick();
  plugin_.OnTick();
  EXPECT_EQ(plugin_.size(), 1u);
  EXPECT_EQ(Connect(2, "alice", "phone", Role::kSvc).refusal, AuthRefusal::kClientIdInUse);
}

TEST_F(AuthPluginTest, ReplacedPolicyAcceptsNewKeysAndKeepsLiveConnections) {
  ASSERT_TRUE(Connect(0, "alice", "phone").allowed());
  const common::SigningKey rotated = common::GenerateSigningKey();
  plugin_.ReplacePolicy(AuthPolicy(common::TokenVerifier({rotated.public_key})));
  EXPECT_TRUE(MayPublish(0, "im/up/alice/phone"));
  EXPECT_EQ(Connect(1, "bob", "phone").refusal, AuthRefusal::kBadToken);  // old key retired
  const std::string token = common::TokenSigner(rotated).Issue("bob", Role::kUser, kNow, kHour);
  EXPECT_TRUE(plugin_.OnBasicAuth(Client(1), "bob", token, "bob:phone", kNow).allowed());
}

// ---------------------------------------------------------------------------------------------
// Options.

std::string OptionError(const Options& options) {
  try {
    (void)ParsePluginOptions(options);
  } catch (const common::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST_F(AuthPluginTest, PresenceReportsUsersOnlineAndOfflineButNotServices) {
  ASSERT_TRUE(Connect(0, "alice", "phone").allowed());
  ASSERT_TRUE(Connect(1, "bridge", "w1", Role::kSvc).allowed());
  EXPECT_EQ(plugin_.TakePresenceEvents(), (std::vector<PresenceEvent>{{"alice", "phone", true}}));
  plugin_.OnDisconnect(Client(0));
  plugin_.OnDisconnect(Client(1));
  EXPECT_EQ(plugin_.TakePresenceEvents(), (std::vector<PresenceEvent>{{"alice", "phone", false}}));
  EXPECT_TRUE(plugin_.TakePresenceEvents().empty());
}

TEST_F(AuthPluginTest, TakeoverKeepsTheDeviceOnline) {
  ASSERT_TRUE(Connect(0, "alice", "phone").allowed());
  ASSERT_TRUE(Connect(1, "alice", "phone").allowed());  // the same device, a new network
  plugin_.OnDisconnect(Client(0));                      // the broker closes the old one
  EXPECT_EQ(plugin_.TakePresenceEvents(),
            (std::vector<PresenceEvent>{{"alice", "phone", true}, {"alice", "phone", true}}));
}

TEST_F(AuthPluginTest, RevokedTokensAreRefusedAndNewOnesAccepted) {
  ASSERT_TRUE(Connect(0, "alice", "phone").allowed());
  EXPECT_TRUE(plugin_.Revoke("alice", kNow + 1));
  EXPECT_FALSE(plugin_.Revoke("alice", kNow));             // older news: nothing to do
  AuthDecision old_token = Connect(1, "alice", "laptop");  // issued at kNow < kNow + 1
  EXPECT_EQ(old_token.refusal, AuthRefusal::kRevoked);
  const std::string fresh = signer_.Issue("alice", Role::kUser, kNow + 5, kHour);
  EXPECT_TRUE(plugin_.OnBasicAuth(Client(2), "alice", fresh, "alice:laptop", kNow + 5).allowed());
  EXPECT_TRUE(Connect(3, "bob", "phone").allowed());  // other users are untouched
}

TEST(PluginOptionsTest, DefaultsApplyWhenOnlyTheKeyFileIsGiven) {
  const PluginOptions o = ParsePluginOptions(Options{{"public_key_file", "/k"}});
  EXPECT_EQ(o.public_key_file, "/k");
  EXPECT_EQ(o.broker_id, "b1");
  EXPECT_EQ(o.skew_ms, 30000);
  const PluginOptions all = ParsePluginOptions(
      Options{{"public_key_file", "/k"}, {"broker_id", "eu-2"}, {"skew_ms", "0"}});
  EXPECT_EQ(all.broker_id, "eu-2");
  EXPECT_EQ(all.skew_ms, 0);
}

TEST(PluginOptionsTest, ErrorsNameTheOption) {
  EXPECT_EQ(OptionError({}).rfind("plugin_opt_public_key_file: required", 0), 0u);
  EXPECT_EQ(OptionError({{"public_key_file", ""}}).rfind("plugin_opt_public_key_file:", 0), 0u);
  EXPECT_EQ(OptionError({{"public_key_file", "/k"}, {"pubkey", "/x"}})
                .rfind("plugin_opt_pubkey: unknown option", 0),
            0u);
  EXPECT_EQ(OptionError({{"public_key_file", "/k"}, {"public_key_file", "/j"}})
                .rfind("plugin_opt_public_key_file: given more than once", 0),
            0u);
  for (const char* bad : {"", "abc", "-1", "12x", "3600001", "99999999999999999999"}) {
    EXPECT_EQ(
        OptionError({{"public_key_file", "/k"}, {"skew_ms", bad}}).rfind("plugin_opt_skew_ms:", 0),
        0u)
        << bad;
  }
  for (const std::string& bad : {std::string(), std::string("b 1"), std::string("b/1"),
                                 std::string("b+"), std::string(65, 'b')}) {
    EXPECT_EQ(OptionError({{"public_key_file", "/k"}, {"broker_id", bad}})
                  .rfind("plugin_opt_broker_id:", 0),
              0u)
        << bad;
  }
}

TEST(PluginOptionsTest, MakePolicyNamesTheKeyFileOptionOnError) {
  const auto dir = std::filesystem::temp_directory_path() / "sparrow-plugin-options-test";
  std::filesystem::create_directories(dir);
  const auto bad = dir / "bad.key";
  std::ofstream(bad) << "not base64 of a key\n";
  for (const std::string& path : {(dir / "missing.key").string(), bad.string()}) {
    try {
      (void)MakePolicy(ParsePluginOptions(Options{{"public_key_file", path}}));
      ADD_FAILURE() << "no error for " << path;
    } catch (const common::ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).rfind("plugin_opt_public_key_file: ", 0), 0u) << e.what();
    }
  }
  const auto good = dir / "good.key";
  const common::SigningKey key = common::GenerateSigningKey();
  std::ofstream(good) << common::Base64Encode(key.public_key) << "\n";
  const AuthPolicy policy =
      MakePolicy(ParsePluginOptions(Options{{"public_key_file", good.string()}}));
  const std::string token = common::TokenSigner(key).Issue("alice", Role::kUser, kNow, kHour);
  EXPECT_TRUE(policy.Authenticate("alice", token, "alice:phone", kNow).allowed());
  std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Log helpers.

TEST(LogSafeTest, ReplacesControlCharactersAndCutsLongText) {
  EXPECT_EQ(LogSafe("alice:phone"), "alice:phone");
  EXPECT_EQ(LogSafe("a\nb\rc\x01\xff"), "a?b?c??");
  EXPECT_EQ(LogSafe(std::string(200, 'x'), 10), std::string(10, 'x') + "...");
  EXPECT_EQ(LogSafe(""), "");
}

TEST(LogBudgetTest, AllowsAFewLinesPerSecondAndCountsTheRest) {
  LogBudget budget(2);
  EXPECT_TRUE(budget.Allow(1000));
  EXPECT_TRUE(budget.Allow(1500));
  EXPECT_FALSE(budget.Allow(1600));
  EXPECT_FALSE(budget.Allow(1999));
  EXPECT_TRUE(budget.Allow(2000));  // a new second
  EXPECT_EQ(budget.TakeSuppressed(), 2u);
  EXPECT_EQ(budget.TakeSuppressed(), 0u);
  EXPECT_TRUE(budget.Allow(500));  // the clock went back: start over
}

}  // namespace
}  // namespace sparrow::plugin
