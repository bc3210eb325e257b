#include "plugin/auth_plugin.hpp"

#include <charconv>
#include <set>

#include "common/error.hpp"
#include "protocol/topics.hpp"

namespace sparrow::plugin {
namespace {

constexpr std::string_view kOptPrefix = "plugin_opt_";
constexpr std::int64_t kMaxSkewMs = 3'600'000;

[[noreturn]] void Fail(std::string_view key, const std::string& message) {
  throw common::ConfigError(std::string(kOptPrefix) + std::string(key) + ": " + message);
}

}  // namespace

PluginOptions ParsePluginOptions(std::span<const std::pair<std::string, std::string>> options) {
  PluginOptions parsed;
  std::set<std::string, std::less<>> seen;
  for (const auto& [key, value] : options) {
    if (!seen.insert(key).second) Fail(key, "given more than once");
    if (key == "public_key_file") {
      if (value.empty()) Fail(key, "empty path");
      parsed.public_key_file = value;
    } else if (key == "broker_id") {
      if (!protocol::IsValidBrokerId(value)) {
        Fail(key, "'" + LogSafe(value) + "' is not 1-64 characters of [A-Za-z0-9_-]");
      }
      parsed.broker_id = value;
    } else if (key == "skew_ms") {
      std::int64_t skew = -1;
      const char* end = value.data() + value.size();
      const auto [ptr, ec] = std::from_chars(value.data(), end, skew);
      if (value.empty() || ec != std::errc() || ptr != end || skew < 0 || skew > kMaxSkewMs) {
        Fail(key, "'" + LogSafe(value) + "' is not an integer in 0.." + std::to_string(kMaxSkewMs));
      }
      parsed.skew_ms = skew;
    } else {
      Fail(key, "unknown option (known: public_key_file, broker_id, skew_ms)");
    }
  }
  if (parsed.public_key_file.empty()) Fail("public_key_file", "required, not set");
  return parsed;
}

AuthPolicy MakePolicy(const PluginOptions& options) {
  try {
    return AuthPolicy(
        common::TokenVerifier(common::LoadPublicKeys(options.public_key_file), options.skew_ms));
  } catch (const common::ConfigError& e) {
    Fail("public_key_file", e.what());
  }
}

std::string_view ToString(AclAccess access) {
  switch (access) {
    case AclAccess::kRead:
      return "read";
    case AclAccess::kWrite:
      return "write";
    case AclAccess::kSubscribe:
      return "subscribe";
    case AclAccess::kUnsubscribe:
      return "unsubscribe";
  }
  return "unknown";
}

AuthDecision AuthPlugin::OnBasicAuth(ClientHandle client, std::string_view username,
                                     std::string_view password, std::string_view client_id,
                                     std::int64_t now_ms) {
  Forget(client);  // a handle the broker reuses for a new connection starts with no state
  AuthDecision decision = policy_.Authenticate(username, password, client_id, now_ms);
  std::string id;
  if (decision.allowed()) {
    if (auto revoked = revoked_before_.find(decision.connection.user);
        revoked != revoked_before_.end() && decision.token_issued_ms < revoked->second) {
      decision.refusal = AuthRefusal::kRevoked;
      decision.connection = {};
    }
  }
  if (decision.allowed()) {
    id = client_id;
    if (auto held = holders_.find(id); held != holders_.end()) {
      auto holder = connections_.find(held->second);
      if (holder != connections_.end() &&
          holder->second.connection.role != decision.connection.role) {
        decision.refusal = AuthRefusal::kClientIdInUse;
        decision.connection = {};
      }
    }
  }
  if (!decision.allowed()) {
    ++stats_.connects_refused;
    return decision;
  }
  ++stats_.connects_allowed;
  holders_[id] = client;  // a same-role takeover: the old connection's DISCONNECT comes later
  if (decision.connection.role == common::Role::kUser) {
    presence_.push_back(PresenceEvent{decision.connection.user, decision.connection.device, true});
  }
  connections_[client] = Entry{decision.connection, std::move(id), false};
  return decision;
}

bool AuthPlugin::OnAclCheck(ClientHandle client, AclAccess access, std::string_view topic,
                            bool retain) {
  bool allowed = false;
  if (auto it = connections_.find(client); it != connections_.end()) {
    const Connection& connection = it->second.connection;
    switch (access) {
      case AclAccess::kWrite:
        allowed = policy_.MayPublish(connection, topic, retain);
        break;
      case AclAccess::kSubscribe:
        allowed = policy_.MaySubscribe(connection, topic);
        break;
      case AclAccess::kRead:
        allowed = policy_.MayRead(connection, topic);
        break;
      case AclAccess::kUnsubscribe:
        allowed = true;
        break;
    }
  }
  ++(allowed ? stats_.acl_allowed : stats_.acl_denied);
  return allowed;
}

void AuthPlugin::OnDisconnect(ClientHandle client) {
  auto it = connections_.find(client);
  if (it == connections_.end() || it->second.departed) return;
  if (auto held = holders_.find(it->second.client_id);
      held != holders_.end() && held->second == client) {
    holders_.erase(held);
    const Connection& gone = it->second.connection;
    if (gone.role == common::Role::kUser) {
      presence_.push_back(PresenceEvent{gone.user, gone.device, false});
    }
  }
  it->second.departed = true;
  departed_.push_back(client);
}

bool AuthPlugin::Revoke(std::string_view user, std::int64_t before_ms) {
  auto [it, inserted] = revoked_before_.try_emplace(std::string(user), before_ms);
  if (!inserted) {
    if (it->second >= before_ms) return false;
    it->second = before_ms;
  }
  return true;
}

void AuthPlugin::OnTick() {
  for (ClientHandle client : departed_) {
    auto it = connections_.find(client);
    if (it != connections_.end() && it->second.departed) connections_.erase(it);
  }
  departed_.clear();
}

const Connection* AuthPlugin::Find(ClientHandle client) const {
  auto it = connections_.find(client);
  return it == connections_.end() ? nullptr : &it->second.connection;
}

void AuthPlugin::Forget(ClientHandle client) {
  auto it = connections_.find(client);
  if (it == connections_.end()) return;
  if (auto held = holders_.find(it->second.client_id);
      held != holders_.end() && held->second == client) {
    holders_.erase(held);
  }
  connections_.erase(it);
}

std::string LogSafe(std::string_view text, std::size_t max_bytes) {
  const bool cut = text.size() > max_bytes;
  if (cut) text = text.substr(0, max_bytes);
  std::string out;
  out.reserve(text.size() + 3);
  for (char c : text) out += (c >= 0x20 && c <= 0x7e) ? c : '?';
  if (cut) out += "...";
  return out;
}

bool LogBudget::Allow(std::int64_t now_ms) {
  if (now_ms - window_start_ms_ >= 1000 || now_ms < window_start_ms_) {
    window_start_ms_ = now_ms;
    used_ = 0;
  }
  if (used_ < per_second_) {
    ++used_;
    return true;
  }
  ++suppressed_;
  return false;
}

}  // namespace sparrow::plugin
