// Every MQTT topic Sparrow uses, built and parsed in one place (PROTOCOL.md, "Topics"; the
// service topics in docs/DESIGN.md), plus the MQTT wildcard rules and the per-user ACL that the
// broker plugin enforces.
//
//   im/up/{userId}/{deviceId}                       client -> server
//   im/in/{userId}                                  server -> every device of the user (seq)
//   im/in/{userId}/{deviceId}                       server -> one device (SENT, error, sync)
//   im/sys/sync/{userId}/{deviceId}                 bridge -> offline: a device's sync frame
//   im/sys/presence/{brokerId}/{userId}/{deviceId}  plugin -> services: connect/disconnect
//   im/sys/relation/{userId}/{userId}               authsvc -> bridges: friendship changed
//   im/sys/revoke/{userId}                          authsvc -> broker plugins: tokens revoked
//   im/sys/bridge/{instance}                        bridge -> bridges: heartbeat (membership)
//
// All functions are pure and thread-safe. Builders take ids that are already valid (they come
// from an authenticated connection or a parser below) and assert it in debug builds. Parsers
// take untrusted topics, validate every id, never throw and return nullopt on any mismatch.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "protocol/identity.hpp"

namespace sparrow::protocol {

// Subscription filters of the services.
inline constexpr std::string_view kUpFilter = "im/up/+/+";
inline constexpr std::string_view kSyncFilter = "im/sys/sync/+/+";
inline constexpr std::string_view kPresenceFilter = "im/sys/presence/#";
inline constexpr std::string_view kRelationFilter = "im/sys/relation/+/+";
inline constexpr std::string_view kBridgeHeartbeatFilter = "im/sys/bridge/+";

// A broker id (one Mosquitto instance, in presence topics) uses the deviceId alphabet:
// `^[A-Za-z0-9_-]{1,64}$`.
[[nodiscard]] bool IsValidBrokerId(std::string_view id) noexcept;

// Builders. Preconditions: `user` a valid userId, `device` a valid deviceId, `broker_id` a
// valid broker id.
[[nodiscard]] std::string UpTopic(std::string_view user, std::string_view device);
[[nodiscard]] std::string InboxTopic(std::string_view user);
[[nodiscard]] std::string DeviceTopic(std::string_view user, std::string_view device);
[[nodiscard]] std::string SyncTopic(std::string_view user, std::string_view device);
[[nodiscard]] std::string PresenceTopic(std::string_view broker_id, std::string_view user,
                                        std::string_view device);
// `im/sys/relation/{a}/{b}` with the pair in sorted order (a relation has no direction).
// Precondition: both valid userIds, a != b.
[[nodiscard]] std::string RelationTopic(std::string_view a, std::string_view b);
[[nodiscard]] std::string UpTopic(const DeviceAddress& address);
[[nodiscard]] std::string DeviceTopic(const DeviceAddress& address);
[[nodiscard]] std::string SyncTopic(const DeviceAddress& address);

// Parsers: the exact shape above with valid ids, else nullopt (no trailing slash, no extra or
// empty level, no wildcard).
[[nodiscard]] std::optional<DeviceAddress> ParseUpTopic(std::string_view topic);
[[nodiscard]] std::optional<DeviceAddress> ParseDeviceTopic(std::string_view topic);
[[nodiscard]] std::optional<DeviceAddress> ParseSyncTopic(std::string_view topic);
// Returns the userId of `im/in/{userId}`.
[[nodiscard]] std::optional<std::string> ParseInboxTopic(std::string_view topic);

// `im/sys/revoke/{user}`. Precondition: a valid userId.
[[nodiscard]] std::string RevokeTopic(std::string_view user);
// `im/sys/bridge/{instance}`; the instance uses the deviceId alphabet.
[[nodiscard]] std::string BridgeHeartbeatTopic(std::string_view instance);
// The instance of a heartbeat topic, else nullopt.
[[nodiscard]] std::optional<std::string> ParseBridgeHeartbeatTopic(std::string_view topic);

// The two userIds of a relation topic (any order accepted), else nullopt.
struct RelationPair {
  std::string a;
  std::string b;

  friend bool operator==(const RelationPair&, const RelationPair&) = default;
};
[[nodiscard]] std::optional<RelationPair> ParseRelationTopic(std::string_view topic);

struct PresenceAddress {
  std::string broker_id;
  DeviceAddress device;

  friend bool operator==(const PresenceAddress&, const PresenceAddress&) = default;
};
[[nodiscard]] std::optional<PresenceAddress> ParsePresenceTopic(std::string_view topic);
// `im/sys/presence/{brokerId}`: the broker's epoch (retained, {"epoch":ms} set at its start);
// device reports carry the epoch of the broker run that made them, so reports left over from
// an earlier run (restored from persistence) can be told apart.
[[nodiscard]] std::string BrokerPresenceTopic(std::string_view broker_id);
[[nodiscard]] std::optional<std::string> ParseBrokerPresenceTopic(std::string_view topic);

// MQTT (3.1.1 section 4.7, 5.0 section 4.7) topic rules.
// A topic name is 1..65535 bytes of UTF-8 without NUL, `+` or `#`.
[[nodiscard]] bool IsValidTopicName(std::string_view topic) noexcept;
// A topic filter is 1..65535 bytes of UTF-8 without NUL, where `+` occupies a whole level and
// `#` a whole level that is the last one.
[[nodiscard]] bool IsValidTopicFilter(std::string_view filter) noexcept;

// True iff `topic` matches `filter` under MQTT rules: `+` matches exactly one level (possibly
// empty), `#` matches the parent level and any number of levels below it, and a topic starting
// with `$` is never matched by a filter whose first level is a wildcard. False when either is
// invalid (a topic containing a wildcard matches nothing). A `$share/...` filter is treated
// literally: strip it first with ParseSharedSubscription.
[[nodiscard]] bool TopicMatchesFilter(std::string_view filter, std::string_view topic) noexcept;

// A shared subscription `$share/{group}/{filter}` (MQTT 5; Mosquitto also accepts it over
// 3.1.1). Views into the argument.
struct SharedSubscription {
  std::string_view group;
  std::string_view filter;
};
// nullopt when `filter` does not start with `$share/`, is not a valid topic filter as a whole
// (NUL, invalid UTF-8, over 65535 bytes), or the group is empty or contains a wildcard, or the
// inner filter is missing or invalid.
[[nodiscard]] std::optional<SharedSubscription> ParseSharedSubscription(
    std::string_view filter) noexcept;

// The per-user ACL (PROTOCOL.md, "Topics"). A user's connection may subscribe only to
// `im/in/{user}`, `im/in/{user}/+`, `im/in/{user}/#` and `im/in/{user}/{any valid deviceId}`:
// no other user's topics, no wildcard above its own inbox, no `$SYS`, no `$share`.
[[nodiscard]] bool UserMaySubscribe(std::string_view user, std::string_view filter);
// ... and publish only to `im/up/{user}/{its own device}`.
[[nodiscard]] bool UserMayPublish(const DeviceAddress& connection, std::string_view topic);

}  // namespace sparrow::protocol
