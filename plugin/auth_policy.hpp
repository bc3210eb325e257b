// AuthPolicy: who may connect to the broker and what each connection may do with topics
// (PROTOCOL.md "Identities" and "Topics"; topics.md). The decisions of the Mosquitto plugin,
// in plain C++ without Mosquitto types, so that every rule has a unit test.
//
//   AuthPolicy policy(common::TokenVerifier(common::LoadPublicKeys(path)));
//   AuthDecision d = policy.Authenticate(username, password, client_id, now_ms);
//   if (!d.allowed()) refuse(ToString(d.refusal));
//   policy.MayPublish(d.connection, "im/up/alice/phone", /*retain=*/false);   // true
//
// Rules, per role of the token:
//   every role  CONNECT: username present, password = a token that verifies (EdDSA, known key,
//               not expired, not issued in the future), token sub == username, client id ==
//               `{username}:{deviceId}` with a valid deviceId. Retained publishes and every
//               topic outside `im/` (`$SYS/...`, `#`, `+/...`) are refused.
//   user        publish: `im/up/{user}/{its own deviceId}` only. subscribe: `im/in/{user}`,
//               `im/in/{user}/{deviceId}`, `im/in/{user}/+`, `im/in/{user}/#` (no `$share`).
//               read: `im/in/{user}` and `im/in/{user}/{deviceId}` (nothing deeper).
//   svc         publish, read: any topic under `im/`. subscribe: any filter under `im/`, also
//               as a shared subscription `$share/{group}/im/...`.
//   ops         subscribe, read: filters and topics under `im/` (no `$share`: joining a share
//               group would take messages away from the services). publish: nothing.
// "Under `im/`" means the first level is literally `im` and there is a second level, so no
// wildcard can make the filter reach outside the namespace.
//
// Thread-safe: immutable after construction. Nothing here throws on untrusted input (names,
// tokens, topics); allocation failure is the only exception, and the plugin's C entry points
// catch it (fail closed). No I/O, no clock: `now_ms` is passed in.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/token.hpp"

namespace sparrow::plugin {

// The identity of one authenticated MQTT connection (one device).
struct Connection {
  std::string user;    // the username, the token's sub and the client id's first part
  std::string device;  // the client id's second part
  common::Role role = common::Role::kUser;

  // `{user}:{device}`, the MQTT client id.
  [[nodiscard]] std::string client_id() const { return user + ':' + device; }
  friend bool operator==(const Connection&, const Connection&) = default;
};

// Why a CONNECT was refused; for logs and tests, never sent to the client (the client sees
// "not authorized": 0x87 over MQTT 5, return code 5 over 3.1.1).
enum class AuthRefusal {
  kNone,
  kNoUsername,       // the CONNECT carried no (or an empty) username
  kNoPassword,       // ... no password (the token)
  kBadClientId,      // not `{userId}:{deviceId}` with valid ids
  kClientIdNotUser,  // the client id names another user than the username
  kBadToken,         // the token did not verify: see AuthDecision::token_error
  kSubjectMismatch,  // the token is valid but for another user (sub != username)
  kClientIdInUse,    // the client id is held by a connection of another role (AuthPlugin)
  kRevoked,          // the token was issued before the user's revocation (logout, password)
  kInternalError,    // the plugin failed (an exception at the C boundary): fail closed
};
[[nodiscard]] std::string_view ToString(AuthRefusal refusal);

struct AuthDecision {
  AuthRefusal refusal = AuthRefusal::kInternalError;
  common::TokenError token_error = common::TokenError::kNone;  // set with kBadToken
  Connection connection;                                       // valid when allowed()
  std::int64_t token_expires_ms = 0;                           // valid when allowed()
  std::int64_t token_issued_ms = 0;                            // valid when allowed()

  [[nodiscard]] bool allowed() const { return refusal == AuthRefusal::kNone; }
};

class AuthPolicy {
 public:
  explicit AuthPolicy(common::TokenVerifier verifier) : verifier_(std::move(verifier)) {}

  // Decides a CONNECT. `username` and `password` are empty when the client sent none.
  // Cheap checks (names, client id) run before the signature check, so garbage costs
  // little. `now_ms`: wall clock, ms since the epoch.
  [[nodiscard]] AuthDecision Authenticate(std::string_view username, std::string_view password,
                                          std::string_view client_id, std::int64_t now_ms) const;

  // A PUBLISH (or the will at CONNECT/disconnect) to the topic name `topic`. Retained
  // messages are refused for every role: Sparrow never uses them.
  [[nodiscard]] bool MayPublish(const Connection& connection, std::string_view topic,
                                bool retain) const;
  // A SUBSCRIBE to `filter` as the client sent it (a shared subscription arrives raw as
  // `$share/{group}/{filter}`).
  [[nodiscard]] bool MaySubscribe(const Connection& connection, std::string_view filter) const;
  // Delivery of a message on the topic name `topic` to this connection.
  [[nodiscard]] bool MayRead(const Connection& connection, std::string_view topic) const;

 private:
  common::TokenVerifier verifier_;
};

}  // namespace sparrow::plugin
