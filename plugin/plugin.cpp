// libsparrow_auth.so: Sparrow's authentication and ACL plugin for Mosquitto 2.0 (plugin API 5).
//
// What it does: refuses every CONNECT that does not carry a valid Sparrow access token for
// the username and a client id `{username}:{deviceId}`, and checks every publish, subscribe,
// delivery and will against the topic rules of each role (plugin/auth_policy.hpp). The rules
// and the state live in AuthPlugin (plugin/auth_plugin.hpp); this file is only the C shim.
//
// How to run it: mosquitto.conf (scripts/gen-mosquitto-conf writes these lines)
//   allow_anonymous false
//   plugin /path/to/build/plugin/libsparrow_auth.so
//   plugin_opt_public_key_file /path/to/data/keys/token_public.key
//   plugin_opt_broker_id b1          (optional)
//   plugin_opt_skew_ms 30000         (optional)
// See plugin/README.md for the options, the rules and the measured cost.
//
// What it needs: mosquitto 2.0.x, and the public key file (base64 Ed25519 keys, one a line).
// It runs on the broker's only thread: tokens are verified locally (no network), and SIGHUP
// (MOSQ_EVT_RELOAD) re-reads the key file, keeping the old keys if the new file is bad.
//
// Contract with the broker: only mosquitto_plugin_version/init/cleanup are exported (hidden
// visibility plus a version script); libmosquitto is not linked (the broker provides the
// mosquitto_* functions). No exception crosses into C: every entry point catches everything
// and then refuses (MOSQ_ERR_AUTH / MOSQ_ERR_ACL_DENIED). Tokens and passwords are never
// logged; client ids and topics are logged through LogSafe.
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plugin/auth_plugin.hpp"
#include "protocol/identity.hpp"
#include "protocol/topics.hpp"

#define SPARROW_PLUGIN_EXPORT __attribute__((visibility("default")))

namespace sparrow::plugin {
namespace {

constexpr int kRefusalLogLinesPerSecond = 50;

struct PluginState {
  PluginState(mosquitto_plugin_id_t* plugin_id, PluginOptions plugin_options)
      : id(plugin_id),
        options(std::move(plugin_options)),
        plugin(MakePolicy(options)),
        log_budget(kRefusalLogLinesPerSecond) {}

  mosquitto_plugin_id_t* id;
  PluginOptions options;
  AuthPlugin plugin;
  LogBudget log_budget;
  // This broker run's epoch: device presence reports carry it, so reports restored from the
  // persistence of an earlier run are recognisably stale (topics.md, "Between services").
  std::int64_t epoch = 0;
  bool epoch_announced = false;
};

std::int64_t WallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string_view View(const char* text) { return text == nullptr ? std::string_view() : text; }

// Writes a refusal line at info level, within the log budget.
void LogRefusal(PluginState& state, const std::string& line) {
  if (!state.log_budget.Allow(WallMillis())) return;
  const std::uint64_t suppressed = state.log_budget.TakeSuppressed();
  if (suppressed > 0) {
    mosquitto_log_printf(MOSQ_LOG_INFO, "sparrow_auth: %s (and %llu refusals not logged)",
                         line.c_str(), static_cast<unsigned long long>(suppressed));
  } else {
    mosquitto_log_printf(MOSQ_LOG_INFO, "sparrow_auth: %s", line.c_str());
  }
}

// Publishes the presence changes AuthPlugin collected: retained `{"online":true,"ts":..}` on
// im/sys/presence/{broker}/{user}/{device} while a device is connected, and an empty retained
// message (which clears it) when it leaves, so a bridge that (re)subscribes learns who is
// online from the retained messages at once.
void PublishPresence(PluginState& state) {
  for (const PresenceEvent& event : state.plugin.TakePresenceEvents()) {
    const std::string topic =
        protocol::PresenceTopic(state.options.broker_id, event.user, event.device);
    const std::string payload = event.online
                                    ? "{\"online\":true,\"ts\":" + std::to_string(WallMillis()) +
                                          ",\"epoch\":" + std::to_string(state.epoch) + "}"
                                    : "";
    int rc = mosquitto_broker_publish_copy(nullptr, topic.c_str(), static_cast<int>(payload.size()),
                                           payload.data(), 1, /*retain=*/true, nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      mosquitto_log_printf(MOSQ_LOG_WARNING, "sparrow_auth: presence publish failed rc=%d", rc);
    }
  }
}

constexpr std::string_view kRevokePrefix = "im/sys/revoke/";

// MOSQ_EVT_MESSAGE: every publish passes here. Only revocations announced by a service
// (im/sys/revoke/{user} {"before":ms}) are acted on: later CONNECTs with older tokens are
// refused and the user's live connections are kicked at once.
int OnMessage(int /*event*/, void* event_data, void* userdata) noexcept {
  try {
    auto& state = *static_cast<PluginState*>(userdata);
    auto& event = *static_cast<mosquitto_evt_message*>(event_data);
    const std::string_view topic = View(event.topic);
    if (!topic.starts_with(kRevokePrefix)) return MOSQ_ERR_SUCCESS;
    const Connection* sender = state.plugin.Find(event.client);
    if (sender == nullptr || sender->role != common::Role::kSvc) return MOSQ_ERR_SUCCESS;
    const std::string user(topic.substr(kRevokePrefix.size()));
    if (!protocol::IsValidUserId(user)) return MOSQ_ERR_SUCCESS;
    auto json = nlohmann::json::parse(
        std::string_view(static_cast<const char*>(event.payload), event.payloadlen), nullptr,
        /*allow_exceptions=*/false);
    if (!json.is_object() || !json.contains("before") || !json["before"].is_number_integer()) {
      return MOSQ_ERR_SUCCESS;
    }
    if (state.plugin.Revoke(user, json["before"].get<std::int64_t>())) {
      mosquitto_kick_client_by_username(user.c_str(), false);
      mosquitto_log_printf(MOSQ_LOG_NOTICE, "sparrow_auth: revoked tokens of user=%s",
                           user.c_str());
    }
    return MOSQ_ERR_SUCCESS;
  } catch (...) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "sparrow_auth: internal error in MESSAGE");
    return MOSQ_ERR_SUCCESS;  // the message itself is not ours to refuse
  }
}

int OnBasicAuth(int /*event*/, void* event_data, void* userdata) noexcept {
  try {
    auto& state = *static_cast<PluginState*>(userdata);
    auto& event = *static_cast<mosquitto_evt_basic_auth*>(event_data);
    const std::string_view client_id = View(mosquitto_client_id(event.client));
    const AuthDecision decision = state.plugin.OnBasicAuth(
        event.client, View(event.username), View(event.password), client_id, WallMillis());
    if (decision.allowed()) {
      PublishPresence(state);
      return MOSQ_ERR_SUCCESS;
    }
    // A username that is no userId is not echoed: a client that misplaced its token there
    // must not get it written to the log.
    const std::string_view username = View(event.username);
    std::string line = "refused CONNECT client_id=" + LogSafe(client_id) + " username=" +
                       (protocol::IsValidUserId(username)
                            ? std::string(username)
                            : "(not a userId, " + std::to_string(username.size()) + " bytes)") +
                       " address=" + LogSafe(View(mosquitto_client_address(event.client))) +
                       " reason=" + std::string(ToString(decision.refusal));
    if (decision.refusal == AuthRefusal::kBadToken) {
      line += " token_error=" + std::string(common::ToString(decision.token_error));
    }
    LogRefusal(state, line);
    return MOSQ_ERR_AUTH;
  } catch (...) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "sparrow_auth: internal error in BASIC_AUTH: refused");
    return MOSQ_ERR_AUTH;
  }
}

int OnAclCheck(int /*event*/, void* event_data, void* userdata) noexcept {
  try {
    auto& state = *static_cast<PluginState*>(userdata);
    auto& event = *static_cast<mosquitto_evt_acl_check*>(event_data);
    AclAccess access;
    switch (event.access) {
      case MOSQ_ACL_READ:
        access = AclAccess::kRead;
        break;
      case MOSQ_ACL_WRITE:
        access = AclAccess::kWrite;
        break;
      case MOSQ_ACL_SUBSCRIBE:
        access = AclAccess::kSubscribe;
        break;
      case MOSQ_ACL_UNSUBSCRIBE:
        access = AclAccess::kUnsubscribe;
        break;
      default:
        return MOSQ_ERR_ACL_DENIED;
    }
    const std::string_view topic = View(event.topic);
    if (state.plugin.OnAclCheck(event.client, access, topic, event.retain)) {
      return MOSQ_ERR_SUCCESS;
    }
    LogRefusal(state, "denied " + std::string(ToString(access)) +
                          " client_id=" + LogSafe(View(mosquitto_client_id(event.client))) +
                          " topic=" + LogSafe(topic) + (event.retain ? " retain=1" : ""));
    return MOSQ_ERR_ACL_DENIED;
  } catch (...) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "sparrow_auth: internal error in ACL_CHECK: denied");
    return MOSQ_ERR_ACL_DENIED;
  }
}

int OnDisconnect(int /*event*/, void* event_data, void* userdata) noexcept {
  try {
    auto& state = *static_cast<PluginState*>(userdata);
    state.plugin.OnDisconnect(static_cast<mosquitto_evt_disconnect*>(event_data)->client);
    PublishPresence(state);
  } catch (...) {  // OnDisconnect does not allocate; kept as the boundary rule
    mosquitto_log_printf(MOSQ_LOG_ERR, "sparrow_auth: internal error in DISCONNECT");
  }
  return MOSQ_ERR_SUCCESS;
}

// Publishes this run's epoch on im/sys/presence/{broker} (retained), once, at the first tick:
// the broker takes publishes from plugins only once it runs.
void AnnounceEpoch(PluginState& state) {
  if (state.epoch_announced) return;
  const std::string topic = protocol::BrokerPresenceTopic(state.options.broker_id);
  const std::string payload = "{\"epoch\":" + std::to_string(state.epoch) + "}";
  int rc = mosquitto_broker_publish_copy(nullptr, topic.c_str(), static_cast<int>(payload.size()),
                                         payload.data(), 1, /*retain=*/true, nullptr);
  state.epoch_announced = rc == MOSQ_ERR_SUCCESS;
}

int OnTick(int /*event*/, void* /*event_data*/, void* userdata) noexcept {
  try {
    AnnounceEpoch(*static_cast<PluginState*>(userdata));
    static_cast<PluginState*>(userdata)->plugin.OnTick();
  } catch (...) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "sparrow_auth: internal error in TICK");
  }
  return MOSQ_ERR_SUCCESS;
}

int OnReload(int /*event*/, void* /*event_data*/, void* userdata) noexcept {
  auto& state = *static_cast<PluginState*>(userdata);
  try {
    state.plugin.ReplacePolicy(MakePolicy(state.options));
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "sparrow_auth: reloaded public keys from %s",
                         state.options.public_key_file.c_str());
  } catch (const std::exception& e) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "sparrow_auth: reload failed, keeping the old keys: %s",
                         e.what());
  } catch (...) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "sparrow_auth: reload failed, keeping the old keys");
  }
  return MOSQ_ERR_SUCCESS;
}

struct Registration {
  int event;
  MOSQ_FUNC_generic_callback callback;
};
constexpr Registration kRegistrations[] = {
    {MOSQ_EVT_BASIC_AUTH, OnBasicAuth},  {MOSQ_EVT_ACL_CHECK, OnAclCheck},
    {MOSQ_EVT_DISCONNECT, OnDisconnect}, {MOSQ_EVT_TICK, OnTick},
    {MOSQ_EVT_RELOAD, OnReload},         {MOSQ_EVT_MESSAGE, OnMessage},
};

void UnregisterAll(mosquitto_plugin_id_t* id, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    mosquitto_callback_unregister(id, kRegistrations[i].event, kRegistrations[i].callback, nullptr);
  }
}

}  // namespace
}  // namespace sparrow::plugin

extern "C" {

SPARROW_PLUGIN_EXPORT int mosquitto_plugin_version(int supported_version_count,
                                                   const int* supported_versions) {
  for (int i = 0; i < supported_version_count; ++i) {
    if (supported_versions[i] == MOSQ_PLUGIN_VERSION) return MOSQ_PLUGIN_VERSION;
  }
  return -1;
}

SPARROW_PLUGIN_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void** userdata,
                                                struct mosquitto_opt* options, int option_count) {
  using namespace sparrow::plugin;
  try {
    std::vector<std::pair<std::string, std::string>> pairs;
    pairs.reserve(static_cast<std::size_t>(option_count > 0 ? option_count : 0));
    for (int i = 0; i < option_count; ++i) {
      pairs.emplace_back(View(options[i].key), View(options[i].value));
    }
    auto state = std::make_unique<PluginState>(identifier, ParsePluginOptions(pairs));
    state->epoch = WallMillis();
    std::size_t registered = 0;
    for (const Registration& r : kRegistrations) {
      const int rc =
          mosquitto_callback_register(identifier, r.event, r.callback, nullptr, state.get());
      if (rc != MOSQ_ERR_SUCCESS) {
        UnregisterAll(identifier, registered);
        mosquitto_log_printf(MOSQ_LOG_ERR, "sparrow_auth: cannot register event %d: error %d",
                             r.event, rc);
        return rc;
      }
      ++registered;
    }
    mosquitto_log_printf(MOSQ_LOG_NOTICE,
                         "sparrow_auth: loaded (public_key_file=%s broker_id=%s skew_ms=%lld)",
                         state->options.public_key_file.c_str(), state->options.broker_id.c_str(),
                         static_cast<long long>(state->options.skew_ms));
    *userdata = state.release();
    return MOSQ_ERR_SUCCESS;
  } catch (const std::exception& e) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "sparrow_auth: %s", e.what());
    return MOSQ_ERR_INVAL;
  } catch (...) {
    mosquitto_log_printf(MOSQ_LOG_ERR, "sparrow_auth: initialisation failed");
    return MOSQ_ERR_INVAL;
  }
}

SPARROW_PLUGIN_EXPORT int mosquitto_plugin_cleanup(void* userdata,
                                                   struct mosquitto_opt* /*options*/,
                                                   int /*option_count*/) {
  using namespace sparrow::plugin;
  auto* state = static_cast<PluginState*>(userdata);
  if (state == nullptr) return MOSQ_ERR_SUCCESS;
  UnregisterAll(state->id, std::size(kRegistrations));
  delete state;  // destructors do not throw
  return MOSQ_ERR_SUCCESS;
}

}  // extern "C"
