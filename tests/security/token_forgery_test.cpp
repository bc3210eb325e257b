// Forged access tokens against the real verifiers: the broker's plugin (the token is the MQTT
// password at CONNECT, over 3.1.1 and 5) and the REST service (Bearer). Each forgery is wrong in
// exactly one way; a valid token, sent the same way, is the control that proves the refusal is
// about the forgery. Unit counterparts: TokenTest (common/token_test.cpp), AuthPolicyTest.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/base64.hpp"
#include "common/token.hpp"
#include "plugin/testing/mqtt_probe.hpp"
#include "plugin/testing/tokens.hpp"
#include "testing/stack/stack.hpp"
#include "tests/security/forged_tokens.hpp"
#include "tests/security/rest_probe.hpp"
#include "tests/security/security_support.hpp"

namespace sparrow::security {
namespace {

using common::Role;
using plugin::testing::MqttProbe;
using testing::SparrowStack;

struct Forgery {
  std::string what;
  std::string token;
  std::string username = "alice";  // the MQTT username it is presented under
};

// Every forged token for "alice", made against the stack's real signing key.
std::vector<Forgery> Forgeries(const SparrowStack& stack) {
  const common::SigningKey key = StackKey(stack);
  const common::TokenSigner signer(key);
  const std::string kid = common::KeyId(key.public_key);
  const std::int64_t now = NowMs();
  const std::string valid = signer.Issue("alice", Role::kUser, now, kHourMs);
  const TokenParts parts = SplitToken(valid);
  const common::SigningKey attacker = common::GenerateSigningKey();

  // Expired, then its exp pushed an hour into the future (signature kept).
  const std::int64_t expired_issued = now - 3 * kHourMs;
  const std::string expired = signer.Issue("alice", Role::kUser, expired_issued, kHourMs);
  const std::string old_exp = "\"exp\":" + std::to_string((expired_issued + kHourMs) / 1000);
  const std::string new_exp = "\"exp\":" + std::to_string((now + kHourMs) / 1000);

  common::TokenClaims oversized{.sub = "alice",
                                .role = Role::kUser,
                                .iat_ms = now,
                                .exp_ms = now + kHourMs,
                                .jti = std::string(5000, 'j')};
  const std::string header_none = R"({"alg":"none","typ":"JWT"})";
  const std::string header_hs256 = R"({"alg":"HS256","typ":"JWT","kid":")" + kid + "\"}";

  return {
      {"garbage", "not-a-token"},
      {"alg none, no signature", plugin::testing::AlgNoneToken("alice", now)},
      {"alg none, the real signature kept", common::Base64UrlEncode(header_none) + "." +
                                                common::Base64UrlEncode(parts.payload) + "." +
                                                parts.signature_b64},
      {"no signature", valid.substr(0, valid.rfind('.') + 1)},
      {"truncated signature", valid.substr(0, valid.size() - 4)},
      {"signed by an unknown key",
       common::TokenSigner(attacker).Issue("alice", Role::kUser, now, kHourMs)},
      {"our kid, signed by another key",
       plugin::testing::SignedByAnotherKeyUnderKid(kid, attacker, "alice", now)},
      {"attacker key embedded in the header (jwk)", EmbeddedKeyToken(attacker, "alice", now)},
      {"HS256 keyed with the raw public key (algorithm confusion)",
       Hs256Token(header_hs256, parts.payload, key.public_key)},
      {"HS256 keyed with the public key file text (algorithm confusion)",
       Hs256Token(header_hs256, parts.payload, common::Base64Encode(key.public_key))},
      {"tampered sub (bob's token made alice's)",
       plugin::testing::TamperedToken(signer.Issue("bob", Role::kUser, now, kHourMs), "alice")},
      {"tampered role user -> svc",
       ReplaceInPayload(valid, "\"role\":\"user\"", "\"role\":\"svc\"")},
      {"tampered exp", ReplaceInPayload(expired, old_exp, new_exp)},
      {"malleated signature (S + L)", MalleatedSignature(valid)},
      {"non-canonical base64url signature", NonCanonicalSignature(valid)},
      {"over 4 KiB, validly signed", signer.Sign(oversized)},
      {"expired", expired},
      {"not yet valid (iat an hour ahead)",
       signer.Issue("alice", Role::kUser, now + kHourMs, kHourMs)},
      {"another user's valid token", signer.Issue("bob", Role::kUser, now, kHourMs)},
  };
}

class SecurityTokenTest : public ::testing::TestWithParam<int> {};

INSTANTIATE_TEST_SUITE_P(Mqtt, SecurityTokenTest, ::testing::Values(4, 5), VersionParamName);

TEST_P(SecurityTokenTest, ForgedTokensAreRefusedAtConnect) {
  const int version = GetParam();
  SparrowStack stack(BrokerOnly());
  StartStack(stack, false);
  const int refused = version == 5 ? kRefusedV5 : kRefusedConnectV3;
  for (const Forgery& f : Forgeries(stack)) {
    MqttProbe probe(ProbeFor(stack, "alice:phone", f.username, f.token, version));
    EXPECT_EQ(probe.Connect(), refused) << f.what;
    EXPECT_FALSE(probe.connected()) << f.what;
  }
  // A valid token of bob under bob's own name works, but not to take alice's client id.
  MqttProbe bob_as_alice(ProbeFor(stack, "alice:phone", "bob", stack.Token("bob"), version));
  EXPECT_EQ(bob_as_alice.Connect(), refused);
  // Control: the same connection with a valid token is accepted, and the broker still works.
  MqttProbe alice(ProbeFor(stack, "alice:phone", "alice", stack.Token("alice"), version));
  ASSERT_EQ(alice.Connect(), 0) << stack.Logs();
  EXPECT_EQ(alice.Subscribe({"im/in/alice"}), std::vector<int>{1});
}

TEST(SecurityRestTokenTest, ForgedTokensAreRefusedByTheRestService) {
  SparrowStack stack(BrokerOnly(/*authsvc=*/true));
  StartStack(stack, true);
  const RestProbe rest(stack.http_port());
  ASSERT_EQ(rest.Register("alice", "alice-password-1"), 201);
  ASSERT_EQ(rest.Register("bob", "bob-password-1"), 201);

  for (const Forgery& f : Forgeries(stack)) {
    if (f.what == "another user's valid token") continue;  // valid: it is bob's, below
    const HttpReply reply = rest.Get("/api/v1/friends", f.token);
    EXPECT_EQ(reply.status, 401) << f.what << " " << reply.body;
    EXPECT_EQ(reply.Json().value("error", ""), "unauthorized") << f.what;
    EXPECT_EQ(reply.body.find(f.token), std::string::npos) << "echoed: " << f.what;
  }
  // Not a Bearer token at all.
  EXPECT_EQ(rest.Get("/api/v1/friends", "", {{"Authorization", "Basic YWxpY2U6eA=="}}).status, 401);
  EXPECT_EQ(rest.Get("/api/v1/friends").status, 401);
  // A validly signed token of another role is refused on user calls.
  EXPECT_EQ(rest.Get("/api/v1/friends", stack.Token("alice", Role::kSvc)).status, 403);
  EXPECT_EQ(rest.Get("/api/v1/friends", stack.Token("alice", Role::kOps)).status, 403);
  // A valid token for a user that does not exist.
  EXPECT_EQ(rest.Get("/api/v1/friends", stack.Token("nobody")).status, 401);

  // Bob's valid token acts as bob, never as alice: his friend request comes from him.
  const std::string bob = stack.Token("bob");
  ASSERT_EQ(rest.Post("/api/v1/friends", {{"userId", "alice"}}, bob).status, 202);
  const auto alice_token = rest.Login("alice", "alice-password-1");
  ASSERT_TRUE(alice_token.has_value());
  const nlohmann::json lists = rest.Get("/api/v1/friends", *alice_token).Json();
  EXPECT_EQ(lists["incoming"], nlohmann::json::parse(R"([{"userId":"bob"}])")) << lists.dump();
  EXPECT_EQ(lists["outgoing"], nlohmann::json::array()) << lists.dump();
}

}  // namespace
}  // namespace sparrow::security
