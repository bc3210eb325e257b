#include "plugin/auth_policy.hpp"

#include <optional>

#include "protocol/identity.hpp"
#include "protocol/topics.hpp"

namespace sparrow::plugin {
namespace {

using common::Role;

// Sparrow's namespace. protocol/topics.hpp has no constant for its root, only for the topics
// inside it.
constexpr std::string_view kImPrefix = "im/";

// The first level is literally `im` and a second level follows. Such a filter can only match
// topics under `im/` whatever wildcards come later; `#`, `+/...` and `$share/...` fail here.
bool IsUnderIm(std::string_view topic_or_filter) { return topic_or_filter.starts_with(kImPrefix); }

// The two topics the server sends a user on (PROTOCOL.md "Topics"): `im/in/{user}` and
// `im/in/{user}/{deviceId}` (any of the user's devices: `im/in/{user}/+` is allowed anyway).
// Nothing deeper: no Sparrow frame is ever published below a device topic.
bool IsUsersInboxTopic(std::string_view user, std::string_view topic) {
  if (const auto inbox = protocol::ParseInboxTopic(topic)) return *inbox == user;
  if (const auto device = protocol::ParseDeviceTopic(topic)) return device->user == user;
  return false;
}

}  // namespace

std::string_view ToString(AuthRefusal refusal) {
  switch (refusal) {
    case AuthRefusal::kNone:
      return "none";
    case AuthRefusal::kNoUsername:
      return "no_username";
    case AuthRefusal::kNoPassword:
      return "no_password";
    case AuthRefusal::kBadClientId:
      return "bad_client_id";
    case AuthRefusal::kClientIdNotUser:
      return "client_id_not_user";
    case AuthRefusal::kBadToken:
      return "bad_token";
    case AuthRefusal::kSubjectMismatch:
      return "token_of_another_user";
    case AuthRefusal::kClientIdInUse:
      return "client_id_held_by_other_role";
    case AuthRefusal::kRevoked:
      return "token_revoked";
    case AuthRefusal::kInternalError:
      return "internal_error";
  }
  return "internal_error";
}

AuthDecision AuthPolicy::Authenticate(std::string_view username, std::string_view password,
                                      std::string_view client_id, std::int64_t now_ms) const {
  AuthDecision decision;
  const auto refuse = [&decision](AuthRefusal why) {
    decision.refusal = why;
    return decision;
  };
  if (username.empty()) return refuse(AuthRefusal::kNoUsername);
  if (password.empty()) return refuse(AuthRefusal::kNoPassword);
  auto address = protocol::ParseClientId(client_id);
  if (!address) return refuse(AuthRefusal::kBadClientId);
  if (address->user != username) return refuse(AuthRefusal::kClientIdNotUser);

  const common::VerifyOutcome outcome = verifier_.Verify(password, now_ms);
  if (!outcome.ok()) {
    decision.token_error = outcome.error;
    return refuse(AuthRefusal::kBadToken);
  }
  if (outcome.claims.sub != username) return refuse(AuthRefusal::kSubjectMismatch);

  decision.refusal = AuthRefusal::kNone;
  decision.connection =
      Connection{std::move(address->user), std::move(address->device), outcome.claims.role};
  decision.token_expires_ms = outcome.claims.exp_ms;
  decision.token_issued_ms = outcome.claims.iat_ms;
  return decision;
}

bool AuthPolicy::MayPublish(const Connection& connection, std::string_view topic,
                            bool retain) const {
  if (retain || !protocol::IsValidTopicName(topic)) return false;
  switch (connection.role) {
    case Role::kUser:
      return protocol::UserMayPublish(protocol::DeviceAddress{connection.user, connection.device},
                                      topic);
    case Role::kSvc:
      return IsUnderIm(topic);
    case Role::kOps:
      return false;
  }
  return false;
}

bool AuthPolicy::MaySubscribe(const Connection& connection, std::string_view filter) const {
  switch (connection.role) {
    case Role::kUser:
      return protocol::UserMaySubscribe(connection.user, filter);
    case Role::kSvc:
      if (auto shared = protocol::ParseSharedSubscription(filter)) return IsUnderIm(shared->filter);
      return protocol::IsValidTopicFilter(filter) && IsUnderIm(filter);
    case Role::kOps:
      return protocol::IsValidTopicFilter(filter) && IsUnderIm(filter);
  }
  return false;
}

bool AuthPolicy::MayRead(const Connection& connection, std::string_view topic) const {
  if (!protocol::IsValidTopicName(topic)) return false;
  switch (connection.role) {
    case Role::kUser:
      return IsUsersInboxTopic(connection.user, topic);
    case Role::kSvc:
    case Role::kOps:
      return IsUnderIm(topic);
  }
  return false;
}

}  // namespace sparrow::plugin
