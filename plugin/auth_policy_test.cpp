// AuthPolicy without a broker: the whole decision matrix (role x operation x topic) as a
// table, and every way a CONNECT can be wrong.
#include "plugin/auth_policy.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "plugin/testing/tokens.hpp"

namespace sparrow::plugin {
namespace {

using common::Role;
using common::TokenError;

constexpr std::int64_t kNow = 1764430000123;
constexpr std::int64_t kHour = std::int64_t{3600} * 1000;

class AuthPolicyTest : public ::testing::Test {
 protected:
  common::SigningKey key_ = common::GenerateSigningKey();
  common::TokenSigner signer_{key_};
  AuthPolicy policy_{common::TokenVerifier({key_.public_key})};

  std::string Token(std::string_view sub, Role role = Role::kUser) const {
    return signer_.Issue(sub, role, kNow, kHour);
  }
  AuthDecision Auth(std::string_view username, std::string_view token,
                    std::string_view client_id) const {
    return policy_.Authenticate(username, token, client_id, kNow + 1000);
  }
};

// ---------------------------------------------------------------------------------------------
// The ACL matrix. `{u}` and `{d}` stand for the connection's own user and device. Each
// expectation string gives the answer for the roles user, svc, ops in that order.

struct AclRow {
  const char* what;
  const char* topic;
  const char* publish;    // MayPublish(topic, retain=false)
  const char* subscribe;  // MaySubscribe(topic as a filter)
  const char* read;       // MayRead(topic)
};

// {what, topic, publish, subscribe, read}
constexpr AclRow kAclMatrix[] = {
    {"own up topic", "im/up/{u}/{d}", "YYN", "NYY", "NYY"},
    {"up topic of another own device", "im/up/{u}/laptop", "NYN", "NYY", "NYY"},
    {"up topic of another user", "im/up/bob/phone", "NYN", "NYY", "NYY"},
    {"own inbox", "im/in/{u}", "NYN", "YYY", "YYY"},
    {"own device topic", "im/in/{u}/{d}", "NYN", "YYY", "YYY"},
    {"device topic of another own device", "im/in/{u}/laptop", "NYN", "YYY", "YYY"},
    {"own inbox, one level wildcard", "im/in/{u}/+", "NNN", "YYY", "NNN"},
    {"own inbox, multi level wildcard", "im/in/{u}/#", "NNN", "YYY", "NNN"},
    {"below own device topic", "im/in/{u}/{d}/x", "NYN", "NYY", "NYY"},
    {"inbox of another user", "im/in/bob", "NYN", "NYY", "NYY"},
    {"device topic of another user", "im/in/bob/phone", "NYN", "NYY", "NYY"},
    {"inbox of a user whose id extends ours", "im/in/{u}x", "NYN", "NYY", "NYY"},
    {"every inbox", "im/in/+", "NNN", "NYY", "NNN"},
    {"every inbox and below", "im/in/#", "NNN", "NYY", "NNN"},
    {"whole namespace", "im/#", "NNN", "NYY", "NNN"},
    {"every up topic", "im/up/+/+", "NNN", "NYY", "NNN"},
    {"everything", "#", "NNN", "NNN", "NNN"},
    {"wildcard first level", "+/in/{u}", "NNN", "NNN", "NNN"},
    {"wildcard second level", "im/+/{u}", "NNN", "NYY", "NNN"},
    {"$SYS tree", "$SYS/#", "NNN", "NNN", "NNN"},
    {"$SYS topic", "$SYS/broker/uptime", "NNN", "NNN", "NNN"},
    {"shared subscription of own inbox", "$share/g/im/in/{u}", "NNN", "NYN", "NNN"},
    {"shared subscription of up topics", "$share/bridge/im/up/+/+", "NNN", "NYN", "NNN"},
    {"shared subscription of everything", "$share/g/#", "NNN", "NNN", "NNN"},
    {"shared subscription of $SYS", "$share/g/$SYS/#", "NNN", "NNN", "NNN"},
    {"shared subscription with empty group", "$share//im/in/{u}", "NNN", "NNN", "NNN"},
    // Found by tests/fuzz/fuzz_acl: the group was not checked for valid UTF-8.
    {"shared subscription with a group that is not UTF-8", "$share/b\xb9/im/up/+/+", "NNN", "NNN",
     "NNN"},
    {"service sync topic", "im/sys/sync/{u}/{d}", "NYN", "NYY", "NYY"},
    {"service topics", "im/sys/#", "NNN", "NYY", "NNN"},
    {"presence topic", "im/sys/presence/b1/{u}/{d}", "NYN", "NYY", "NYY"},
    {"topic outside im/", "other/topic", "NNN", "NNN", "NNN"},
    {"bare im", "im", "NNN", "NNN", "NNN"},
    {"wildcard inside a level", "im/in/{u}/ph+", "NNN", "NNN", "NNN"},
    {"multi level wildcard not last", "im/#/x", "NNN", "NNN", "NNN"},
    {"empty", "", "NNN", "NNN", "NNN"},
    {"trailing slash on own inbox", "im/in/{u}/", "NYN", "NYY", "NYY"},
};

struct RoleCase {
  const char* user;
  const char* device;
  Role role;

  Connection connection() const { return Connection{user, device, role}; }
};

constexpr RoleCase kRoles[] = {
    {"alice", "phone", Role::kUser},
    {"bridge", "w1", Role::kSvc},
    {"oscar", "cli", Role::kOps},
};

std::string Expand(std::string text, const Connection& c) {
  for (auto [key, value] :
       {std::pair<std::string, std::string>{"{u}", c.user}, {"{d}", c.device}}) {
    for (auto at = text.find(key); at != std::string::npos; at = text.find(key)) {
      text.replace(at, key.size(), value);
    }
  }
  return text;
}

TEST_F(AuthPolicyTest, AclMatrixForEveryRoleAndOperation) {
  int checked = 0;
  for (const AclRow& row : kAclMatrix) {
    for (std::size_t r = 0; r < std::size(kRoles); ++r) {
      const Connection c = kRoles[r].connection();
      const std::string topic = Expand(row.topic, c);
      const std::string where =
          std::string(row.what) + " '" + topic + "' as " + std::string(common::ToString(c.role));
      EXPECT_EQ(policy_.MayPublish(c, topic, false), row.publish[r] == 'Y') << "publish " << where;
      EXPECT_EQ(policy_.MaySubscribe(c, topic), row.subscribe[r] == 'Y') << "subscribe " << where;
      EXPECT_EQ(policy_.MayRead(c, topic), row.read[r] == 'Y') << "read " << where;
      checked += 3;
    }
  }
  EXPECT_EQ(checked, static_cast<int>(std::size(kAclMatrix) * 9));
}

TEST_F(AuthPolicyTest, RetainedPublishIsRefusedForEveryRole) {
  for (const RoleCase& r : kRoles) {
    const std::string own_up = Expand("im/up/{u}/{d}", r.connection());
    EXPECT_FALSE(policy_.MayPublish(r.connection(), own_up, /*retain=*/true));
    EXPECT_FALSE(policy_.MayPublish(r.connection(), "im/in/bob", /*retain=*/true));
  }
  // ... while the same publishes without retain follow the matrix.
  EXPECT_TRUE(policy_.MayPublish(kRoles[0].connection(), "im/up/alice/phone", false));
  EXPECT_TRUE(policy_.MayPublish(kRoles[1].connection(), "im/in/bob", false));
}

TEST_F(AuthPolicyTest, TopicsWithNulOrInvalidUtf8AreRefused) {
  const std::string nul("im/in/alice\0x", 13);
  const std::string bad_utf8 = "im/in/alice/\xff";
  for (const RoleCase& r : kRoles) {
    EXPECT_FALSE(policy_.MayPublish(r.connection(), nul, false));
    EXPECT_FALSE(policy_.MayRead(r.connection(), nul));
    EXPECT_FALSE(policy_.MaySubscribe(r.connection(), nul));
    EXPECT_FALSE(policy_.MayRead(r.connection(), bad_utf8));
    EXPECT_FALSE(policy_.MaySubscribe(r.connection(), bad_utf8));
  }
}

TEST_F(AuthPolicyTest, UserRulesNeverLeakToAUserWhoseIdIsAPrefix) {
  const Connection ali{"ali", "phone", Role::kUser};
  EXPECT_FALSE(policy_.MayRead(ali, "im/in/alice"));
  EXPECT_FALSE(policy_.MaySubscribe(ali, "im/in/alice"));
  EXPECT_FALSE(policy_.MayPublish(ali, "im/up/alice/phone", false));
  EXPECT_TRUE(policy_.MayRead(ali, "im/in/ali"));
}

// ---------------------------------------------------------------------------------------------
// CONNECT.

TEST_F(AuthPolicyTest, ValidTokenForEachRoleIsAccepted) {
  for (Role role : {Role::kUser, Role::kSvc, Role::kOps}) {
    const AuthDecision d = Auth("bridge", Token("bridge", role), "bridge:w-1_A");
    ASSERT_TRUE(d.allowed()) << ToString(d.refusal);
    EXPECT_EQ(d.connection, (Connection{"bridge", "w-1_A", role}));
    EXPECT_EQ(d.connection.client_id(), "bridge:w-1_A");
    EXPECT_EQ(d.token_expires_ms, (kNow + kHour) / 1000 * 1000);
  }
}

TEST_F(AuthPolicyTest, ExpiredTokenIsRefused) {
  const std::string token = signer_.Issue("alice", Role::kUser, kNow - 2 * kHour, kHour);
  const AuthDecision d = Auth("alice", token, "alice:phone");
  EXPECT_EQ(d.refusal, AuthRefusal::kBadToken);
  EXPECT_EQ(d.token_error, TokenError::kExpired);
}

TEST_F(AuthPolicyTest, TokenIssuedInTheFutureIsRefused) {
  const std::string token = signer_.Issue("alice", Role::kUser, kNow + kHour, kHour);
  const AuthDecision d = Auth("alice", token, "alice:phone");
  EXPECT_EQ(d.refusal, AuthRefusal::kBadToken);
  EXPECT_EQ(d.token_error, TokenError::kNotYetValid);
}

TEST_F(AuthPolicyTest, TamperedTokenIsRefused) {
  // Bob's valid token with the sub rewritten to alice: the signature no longer matches.
  const std::string token = testing::TamperedToken(Token("bob"), "alice");
  const AuthDecision d = Auth("alice", token, "alice:phone");
  EXPECT_EQ(d.refusal, AuthRefusal::kBadToken);
  EXPECT_EQ(d.token_error, TokenError::kBadSignature);
  // Flipping one character of the signature also fails.
  std::string flipped = Token("alice");
  flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Auth("alice", flipped, "alice:phone").refusal, AuthRefusal::kBadToken);
}

TEST_F(AuthPolicyTest, AlgNoneTokenIsRefused) {
  const AuthDecision d = Auth("alice", testing::AlgNoneToken("alice", kNow), "alice:phone");
  EXPECT_EQ(d.refusal, AuthRefusal::kBadToken);
  EXPECT_EQ(d.token_error, TokenError::kBadAlgorithm);
}

TEST_F(AuthPolicyTest, TokenFromAnotherKeyIsRefused) {
  const common::SigningKey other = common::GenerateSigningKey();
  const AuthDecision unknown_kid = Auth(
      "alice", common::TokenSigner(other).Issue("alice", Role::kUser, kNow, kHour), "alice:phone");
  EXPECT_EQ(unknown_kid.refusal, AuthRefusal::kBadToken);
  EXPECT_EQ(unknown_kid.token_error, TokenError::kUnknownKey);

  const AuthDecision our_kid =
      Auth("alice", testing::SignedByAnotherKeyUnderKid(signer_.key_id(), other, "alice", kNow),
           "alice:phone");
  EXPECT_EQ(our_kid.refusal, AuthRefusal::kBadToken);
  EXPECT_EQ(our_kid.token_error, TokenError::kBadSignature);
}

TEST_F(AuthPolicyTest, GarbagePasswordIsRefusedAsMalformed) {
  for (std::string_view garbage : {"x", "a.b.c", "not a token at all", "..", "password123"}) {
    const AuthDecision d = Auth("alice", garbage, "alice:phone");
    EXPECT_EQ(d.refusal, AuthRefusal::kBadToken) << garbage;
    EXPECT_EQ(d.token_error, TokenError::kMalformed) << garbage;
  }
  EXPECT_EQ(Auth("alice", std::string(5000, 'a'), "alice:phone").refusal, AuthRefusal::kBadToken);
}

TEST_F(AuthPolicyTest, TokenOfAnotherUserIsRefused) {
  EXPECT_EQ(Auth("alice", Token("bob"), "alice:phone").refusal, AuthRefusal::kSubjectMismatch);
  // A service token is no master key: its sub must still be the username.
  EXPECT_EQ(Auth("alice", Token("bridge", Role::kSvc), "alice:phone").refusal,
            AuthRefusal::kSubjectMismatch);
}

TEST_F(AuthPolicyTest, ClientIdOfAnotherUserIsRefused) {
  // Mallory, with her own valid token, claims Alice's client id.
  EXPECT_EQ(Auth("mallory", Token("mallory"), "alice:phone").refusal,
            AuthRefusal::kClientIdNotUser);
  // ... or claims Alice's username too, with a token that is not Alice's.
  EXPECT_EQ(Auth("alice", Token("mallory"), "alice:phone").refusal, AuthRefusal::kSubjectMismatch);
}

TEST_F(AuthPolicyTest, MalformedClientIdsAreRefused) {
  const std::string token = Token("alice");
  const std::string long_device(65, 'd');
  for (const std::string& id :
       {std::string("alice"), std::string("alice:"), std::string("alice:bad id"),
        std::string("alice:phone:x"), std::string(":phone"), std::string(""),
        std::string("alice:ph/one"), std::string("alice:ph+"), std::string("alice:#"),
        std::string("Alice:phone"), "alice:" + long_device}) {
    EXPECT_EQ(Auth("alice", token, id).refusal, AuthRefusal::kBadClientId) << "'" << id << "'";
  }
  EXPECT_TRUE(Auth("alice", token, "alice:" + std::string(64, 'd')).allowed());
}

TEST_F(AuthPolicyTest, MissingUsernameOrPasswordIsRefused) {
  EXPECT_EQ(Auth("", Token("alice"), "alice:phone").refusal, AuthRefusal::kNoUsername);
  EXPECT_EQ(Auth("alice", "", "alice:phone").refusal, AuthRefusal::kNoPassword);
}

TEST_F(AuthPolicyTest, RefusalsHaveStableNamesForLogs) {
  EXPECT_EQ(ToString(AuthRefusal::kBadToken), "bad_token");
  EXPECT_EQ(ToString(AuthRefusal::kClientIdInUse), "client_id_held_by_other_role");
  EXPECT_EQ(ToString(AuthRefusal::kSubjectMismatch), "token_of_another_user");
}

}  // namespace
}  // namespace sparrow::plugin
