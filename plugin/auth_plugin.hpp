// AuthPlugin: what the Mosquitto plugin does on each broker event, without Mosquitto types:
// the per-connection state (who each connection is), the client id takeover rule, and the
// plugin's options. plugin.cpp is a thin C shim that turns broker events into these calls.
//
//   AuthPlugin plugin(MakePolicy(ParsePluginOptions(opts)));
//   plugin.OnBasicAuth(client, "alice", token, "alice:phone", now_ms);   // CONNECT
//   plugin.OnAclCheck(client, AclAccess::kWrite, "im/up/alice/phone", false);
//   plugin.OnDisconnect(client);  plugin.OnTick();
//
// Connections are keyed by an opaque handle, the broker's `struct mosquitto*`: stable for one
// network connection (a takeover creates a new one) and never dereferenced here.
//
// Lifetime of a connection's state, as Mosquitto 2.0.11 drives it:
//   - BASIC_AUTH accepted -> stored. A refused or failed CONNECT stores nothing, so every
//     ACL check for an unknown handle is refused (fail closed).
//   - DISCONNECT -> the client id is free at once, but the state stays until the next TICK,
//     because Mosquitto checks the will (an ACL write check) right AFTER the disconnect event
//     (context__disconnect: plugin disconnect event, then context__send_will). The broker
//     frees a context only at the start of its next loop iteration, after that TICK, so a
//     handle is never reused while its old state is still here; BASIC_AUTH also replaces any
//     state left under a reused handle.
//   - Takeover: a CONNECT whose client id is held by a live connection of ANOTHER role is
//     refused (a user named "bridge" cannot kick the bridge service off its client id); of
//     the same role it is accepted, and the broker then disconnects the old connection,
//     whose DISCONNECT arrives after the new BASIC_AUTH (so it must not free the id).
//
// Not thread-safe: Mosquitto 2.0 calls every plugin event on its single main thread. No I/O.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "plugin/auth_policy.hpp"

namespace sparrow::plugin {

// The `plugin_opt_<key> <value>` lines of mosquitto.conf (keys without the prefix).
struct PluginOptions {
  std::string public_key_file;   // public_key_file (required): base64 Ed25519 keys, one a line
  std::string broker_id = "b1";  // broker_id: this broker's id in presence reports
  std::int64_t skew_ms = common::TokenVerifier::kDefaultSkewMs;  // skew_ms: 0..3600000
};

// Validates the options. Throws common::ConfigError whose message starts with the option's
// full name (`plugin_opt_skew_ms: ...`) on an unknown or repeated key, a missing required
// option or an invalid value. Reads no file.
[[nodiscard]] PluginOptions ParsePluginOptions(
    std::span<const std::pair<std::string, std::string>> options);

// Loads the public keys of `options.public_key_file`. Throws common::ConfigError naming
// `plugin_opt_public_key_file` (and the file) when it cannot be read or holds no valid key.
[[nodiscard]] AuthPolicy MakePolicy(const PluginOptions& options);

enum class AclAccess { kRead, kWrite, kSubscribe, kUnsubscribe };
[[nodiscard]] std::string_view ToString(AclAccess access);

// A device of a user connected to or left this broker: reported on
// im/sys/presence/{broker_id}/{user}/{device} (retained while online; see topics.md).
struct PresenceEvent {
  std::string user;
  std::string device;
  bool online = false;

  friend bool operator==(const PresenceEvent&, const PresenceEvent&) = default;
};

// Counters, for logs and tests. Monotonic.
struct PluginStats {
  std::uint64_t connects_allowed = 0;
  std::uint64_t connects_refused = 0;
  std::uint64_t acl_allowed = 0;
  std::uint64_t acl_denied = 0;
};

class AuthPlugin {
 public:
  using ClientHandle = const void*;

  explicit AuthPlugin(AuthPolicy policy) : policy_(std::move(policy)) {}

  // MOSQ_EVT_BASIC_AUTH. Decides with AuthPolicy::Authenticate, then applies the takeover
  // rule; on success remembers the connection under `client`.
  AuthDecision OnBasicAuth(ClientHandle client, std::string_view username,
                           std::string_view password, std::string_view client_id,
                           std::int64_t now_ms);
  // MOSQ_EVT_ACL_CHECK. False for a handle without state (fail closed). Unsubscribing is
  // always allowed to a known connection (it can only narrow what it receives).
  bool OnAclCheck(ClientHandle client, AclAccess access, std::string_view topic, bool retain);
  // MOSQ_EVT_DISCONNECT (also sent for refused CONNECTs: then a no-op).
  void OnDisconnect(ClientHandle client);
  // MOSQ_EVT_TICK: forgets the connections that disconnected before it.
  void OnTick();
  // A revocation announced by the REST service (im/sys/revoke/{user}, from an `svc`
  // connection): tokens of `user` issued before `before_ms` are refused from now on. Returns
  // true when it is news (the caller then kicks the user's live connections).
  bool Revoke(std::string_view user, std::int64_t before_ms);

  // Presence changes since the last call, in order (users only; services are not reported).
  // A same-role takeover reports no offline for the old connection: the device stays online.
  [[nodiscard]] std::vector<PresenceEvent> TakePresenceEvents() {
    return std::exchange(presence_, {});
  }

  // MOSQ_EVT_RELOAD: new keys (e.g. after a rotation). Live connections keep their state.
  void ReplacePolicy(AuthPolicy policy) { policy_ = std::move(policy); }

  // The state of `client`, or nullptr. Valid until the next non-const call.
  [[nodiscard]] const Connection* Find(ClientHandle client) const;
  // Connections with state (live ones and those departed since the last tick).
  [[nodiscard]] std::size_t size() const { return connections_.size(); }
  [[nodiscard]] const PluginStats& stats() const { return stats_; }
  [[nodiscard]] const AuthPolicy& policy() const { return policy_; }

 private:
  struct Entry {
    Connection connection;
    std::string client_id;
    bool departed = false;  // DISCONNECT seen; erased at the next tick
  };
  void Forget(ClientHandle client);

  AuthPolicy policy_;
  std::unordered_map<ClientHandle, Entry> connections_;
  std::unordered_map<std::string, ClientHandle> holders_;  // client id -> live connection
  std::vector<ClientHandle> departed_;
  std::unordered_map<std::string, std::int64_t> revoked_before_;  // user -> ms
  std::vector<PresenceEvent> presence_;
  PluginStats stats_;
};

// `text` made safe for a one-line log: bytes outside printable ASCII become '?', and text
// longer than `max_bytes` is cut and ends with "...". For client ids and topics, which come
// from the network (a newline would forge log lines). Never pass a token.
[[nodiscard]] std::string LogSafe(std::string_view text, std::size_t max_bytes = 96);

// Bounds refusal log lines: at most `per_second` lines per wall-clock second; the rest are
// counted and reported with the next allowed line. Not thread-safe (the broker's thread).
class LogBudget {
 public:
  explicit LogBudget(int per_second) : per_second_(per_second) {}
  // True if a line may be written at `now_ms`.
  bool Allow(std::int64_t now_ms);
  // Lines refused since the last call; resets the count.
  std::uint64_t TakeSuppressed() { return std::exchange(suppressed_, 0); }

 private:
  int per_second_;
  std::int64_t window_start_ms_ = 0;
  int used_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace sparrow::plugin
