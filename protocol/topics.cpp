#include "protocol/topics.hpp"

#include <array>
#include <cassert>
#include <cstddef>
#include <initializer_list>

#include "protocol/utf8.hpp"

namespace sparrow::protocol {
namespace {

constexpr std::string_view kUpPrefix = "im/up/";
constexpr std::string_view kInPrefix = "im/in/";
constexpr std::string_view kSyncPrefix = "im/sys/sync/";
constexpr std::string_view kPresencePrefix = "im/sys/presence/";
constexpr std::string_view kRelationPrefix = "im/sys/relation/";
constexpr std::string_view kRevokePrefix = "im/sys/revoke/";
constexpr std::string_view kBridgePrefix = "im/sys/bridge/";
constexpr std::string_view kSharePrefix = "$share/";
constexpr std::size_t kMaxTopicBytes = 65535;  // MQTT's two-byte length prefix

std::string Join(std::string_view prefix, std::initializer_list<std::string_view> levels) {
  std::size_t size = prefix.size();
  for (std::string_view level : levels) size += level.size() + 1;
  std::string topic;
  topic.reserve(size);
  topic += prefix;
  bool first = true;
  for (std::string_view level : levels) {
    if (!first) topic += '/';
    topic += level;
    first = false;
  }
  return topic;
}

// Splits `rest` into exactly N '/'-separated levels; false if there are more or fewer.
template <std::size_t N>
bool SplitLevels(std::string_view rest, std::array<std::string_view, N>& levels) {
  for (std::size_t i = 0; i < N; ++i) {
    const auto slash = rest.find('/');
    if (i + 1 == N) {
      if (slash != std::string_view::npos) return false;
      levels[i] = rest;
    } else {
      if (slash == std::string_view::npos) return false;
      levels[i] = rest.substr(0, slash);
      rest.remove_prefix(slash + 1);
    }
  }
  return true;
}

std::optional<DeviceAddress> ParseUserDevice(std::string_view topic, std::string_view prefix) {
  if (!topic.starts_with(prefix)) return std::nullopt;
  std::array<std::string_view, 2> levels;
  if (!SplitLevels(topic.substr(prefix.size()), levels)) return std::nullopt;
  if (!IsValidUserId(levels[0]) || !IsValidDeviceId(levels[1])) return std::nullopt;
  return DeviceAddress{std::string(levels[0]), std::string(levels[1])};
}

// Common to topic names and filters: length, no NUL, UTF-8.
bool IsValidTopicString(std::string_view s) noexcept {
  return !s.empty() && s.size() <= kMaxTopicBytes && s.find('\0') == std::string_view::npos &&
         IsValidUtf8(s);
}

}  // namespace

bool IsValidBrokerId(std::string_view id) noexcept { return IsValidDeviceId(id); }

std::string UpTopic(std::string_view user, std::string_view device) {
  assert(IsValidUserId(user) && IsValidDeviceId(device));
  return Join(kUpPrefix, {user, device});
}

std::string InboxTopic(std::string_view user) {
  assert(IsValidUserId(user));
  return Join(kInPrefix, {user});
}

std::string DeviceTopic(std::string_view user, std::string_view device) {
  assert(IsValidUserId(user) && IsValidDeviceId(device));
  return Join(kInPrefix, {user, device});
}

std::string SyncTopic(std::string_view user, std::string_view device) {
  assert(IsValidUserId(user) && IsValidDeviceId(device));
  return Join(kSyncPrefix, {user, device});
}

std::string PresenceTopic(std::string_view broker_id, std::string_view user,
                          std::string_view device) {
  assert(IsValidBrokerId(broker_id) && IsValidUserId(user) && IsValidDeviceId(device));
  return Join(kPresencePrefix, {broker_id, user, device});
}

std::string RelationTopic(std::string_view a, std::string_view b) {
  assert(IsValidUserId(a) && IsValidUserId(b) && a != b);
  if (b < a) std::swap(a, b);
  return Join(kRelationPrefix, {a, b});
}

std::string RevokeTopic(std::string_view user) {
  assert(IsValidUserId(user));
  return std::string(kRevokePrefix) + std::string(user);
}

std::string BridgeHeartbeatTopic(std::string_view instance) {
  assert(IsValidDeviceId(instance));
  return std::string(kBridgePrefix) + std::string(instance);
}

std::optional<std::string> ParseBridgeHeartbeatTopic(std::string_view topic) {
  if (!topic.starts_with(kBridgePrefix)) return std::nullopt;
  std::string_view instance = topic.substr(kBridgePrefix.size());
  if (!IsValidDeviceId(instance)) return std::nullopt;
  return std::string(instance);
}

std::optional<RelationPair> ParseRelationTopic(std::string_view topic) {
  if (!topic.starts_with(kRelationPrefix)) return std::nullopt;
  std::string_view rest = topic.substr(kRelationPrefix.size());
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view a = rest.substr(0, slash);
  std::string_view b = rest.substr(slash + 1);
  if (!IsValidUserId(a) || !IsValidUserId(b) || a == b) return std::nullopt;
  return RelationPair{std::string(a), std::string(b)};
}

std::string UpTopic(const DeviceAddress& address) { return UpTopic(address.user, address.device); }
std::string DeviceTopic(const DeviceAddress& address) {
  return DeviceTopic(address.user, address.device);
}
std::string SyncTopic(const DeviceAddress& address) {
  return SyncTopic(address.user, address.device);
}

std::optional<DeviceAddress> ParseUpTopic(std::string_view topic) {
  return ParseUserDevice(topic, kUpPrefix);
}

std::optional<DeviceAddress> ParseDeviceTopic(std::string_view topic) {
  return ParseUserDevice(topic, kInPrefix);
}

std::optional<DeviceAddress> ParseSyncTopic(std::string_view topic) {
  return ParseUserDevice(topic, kSyncPrefix);
}

std::optional<std::string> ParseInboxTopic(std::string_view topic) {
  if (!topic.starts_with(kInPrefix)) return std::nullopt;
  const std::string_view user = topic.substr(kInPrefix.size());
  if (!IsValidUserId(user)) return std::nullopt;  // also rejects any further '/'
  return std::string(user);
}

std::string BrokerPresenceTopic(std::string_view broker_id) {
  assert(IsValidBrokerId(broker_id));
  return std::string(kPresencePrefix) + std::string(broker_id);
}

std::optional<std::string> ParseBrokerPresenceTopic(std::string_view topic) {
  if (!topic.starts_with(kPresencePrefix)) return std::nullopt;
  std::string_view id = topic.substr(kPresencePrefix.size());
  if (!IsValidBrokerId(id)) return std::nullopt;  // also rejects any further '/'
  return std::string(id);
}

std::optional<PresenceAddress> ParsePresenceTopic(std::string_view topic) {
  if (!topic.starts_with(kPresencePrefix)) return std::nullopt;
  std::array<std::string_view, 3> levels;
  if (!SplitLevels(topic.substr(kPresencePrefix.size()), levels)) return std::nullopt;
  if (!IsValidBrokerId(levels[0]) || !IsValidUserId(levels[1]) || !IsValidDeviceId(levels[2])) {
    return std::nullopt;
  }
  return PresenceAddress{std::string(levels[0]),
                         DeviceAddress{std::string(levels[1]), std::string(levels[2])}};
}

bool IsValidTopicName(std::string_view topic) noexcept {
  return IsValidTopicString(topic) && topic.find_first_of("+#") == std::string_view::npos;
}

bool IsValidTopicFilter(std::string_view filter) noexcept {
  if (!IsValidTopicString(filter)) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = filter.find('/', start);
    const bool last = slash == std::string_view::npos;
    const std::string_view level =
        filter.substr(start, last ? std::string_view::npos : slash - start);
    if (level.find_first_of("+#") != std::string_view::npos) {
      // A wildcard must be the whole level; `#` only as the last level.
      if (level.size() != 1) return false;
      if (level == "#" && !last) return false;
    }
    if (last) return true;
    start = slash + 1;
  }
}

bool TopicMatchesFilter(std::string_view filter, std::string_view topic) noexcept {
  if (!IsValidTopicFilter(filter) || !IsValidTopicName(topic)) return false;
  // $-topics ($SYS, ...) are for the broker: wildcards at the first level never reach them.
  if (topic.front() == '$' && (filter.front() == '+' || filter.front() == '#')) return false;

  std::size_t f = 0;  // start of the current filter level
  std::size_t t = 0;  // start of the current topic level
  bool topic_done = false;
  while (true) {
    const std::size_t f_end = filter.find('/', f);
    const std::string_view f_level =
        filter.substr(f, f_end == std::string_view::npos ? std::string_view::npos : f_end - f);
    // `#` also matches the parent level alone: "a/#" matches "a".
    if (f_level == "#") return true;
    if (topic_done) return false;
    const std::size_t t_end = topic.find('/', t);
    const std::string_view t_level =
        topic.substr(t, t_end == std::string_view::npos ? std::string_view::npos : t_end - t);
    if (f_level != "+" && f_level != t_level) return false;
    const bool f_last = f_end == std::string_view::npos;
    const bool t_last = t_end == std::string_view::npos;
    if (f_last) return t_last;
    f = f_end + 1;
    if (t_last) {
      topic_done = true;
    } else {
      t = t_end + 1;
    }
  }
}

std::optional<SharedSubscription> ParseSharedSubscription(std::string_view filter) noexcept {
  if (!filter.starts_with(kSharePrefix)) return std::nullopt;
  // The whole filter too, not only its inner part: the group must not carry a NUL or invalid
  // UTF-8, and the total length stays within MQTT's limit (found by tests/fuzz/fuzz_acl).
  if (!IsValidTopicFilter(filter)) return std::nullopt;
  const std::string_view rest = filter.substr(kSharePrefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  const std::string_view group = rest.substr(0, slash);
  const std::string_view inner = rest.substr(slash + 1);
  if (group.find_first_of("+#") != std::string_view::npos) return std::nullopt;
  if (!IsValidTopicFilter(inner)) return std::nullopt;
  return SharedSubscription{group, inner};
}

bool UserMaySubscribe(std::string_view user, std::string_view filter) {
  if (!IsValidUserId(user) || !filter.starts_with(kInPrefix)) return false;
  std::string_view rest = filter.substr(kInPrefix.size());
  if (!rest.starts_with(user)) return false;
  rest.remove_prefix(user.size());
  if (rest.empty()) return true;  // im/in/{user}
  if (rest.front() != '/') return false;
  rest.remove_prefix(1);
  return rest == "+" || rest == "#" || IsValidDeviceId(rest);
}

bool UserMayPublish(const DeviceAddress& connection, std::string_view topic) {
  if (!IsValidUserId(connection.user) || !IsValidDeviceId(connection.device)) return false;
  const auto target = ParseUpTopic(topic);
  return target.has_value() && *target == connection;
}

}  // namespace sparrow::protocol
