// Fuzz target: the broker's access decisions (plugin::AuthPolicy) and the topic rules under
// them (protocol/topics.hpp: TopicMatchesFilter, ParseSharedSubscription, UserMaySubscribe,
// UserMayPublish, the Parse* functions; protocol/identity.hpp: ParseClientId).
//
// Input: lines separated by '\n' (a missing line is empty):
//   0  ROLE[,retain]  user|svc|ops for a connection built directly (another text picks a role
//                     from its length); ",retain" publishes retained
//   1  USER           the MQTT username and the client id's user part
//   2  DEVICE         the client id's device part (client id = USER ':' DEVICE)
//   3  PASSWORD       a token; "@N" stands for KnownTokens()[N] (fuzz_keys.hpp)
//   4  FILTER         a subscription filter
//   5  TOPIC          a topic name
//   6+ LEVELS         replacements for the wildcards of FILTER, to build topics it may match
// Properties, beyond "no crash, no hang, no sanitizer report", checked against small
// reference implementations written here from topics.md and auth_policy.hpp, independent of
// protocol/:
//   - TopicMatchesFilter, IsValidTopicName/Filter agree with the reference MQTT matcher on
//     (FILTER, TOPIC) and on every topic built from FILTER;
//   - Authenticate admits only one of the fuzz key's valid tokens, for its own sub, with the
//     client id `{sub}:{valid deviceId}` and the token's role;
//   - for the admitted connection and for the directly built one, MayPublish, MaySubscribe and
//     MayRead are exactly the documented rules for user (im/up/{user}/{device}; im/in/{user},
//     /+, /#, /{deviceId}) and ops (no publish; im/ filters), and for svc; whatever the role,
//     nothing retained, nothing outside im/ ($SYS included) is allowed, and a filter that is
//     allowed is a valid MQTT filter matching only topics the role may receive;
//   - shared subscriptions split as documented; every Parse* result is valid and rebuilds the
//     exact topic it came from.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/token.hpp"
#include "plugin/auth_policy.hpp"
#include "protocol/identity.hpp"
#include "protocol/topics.hpp"
#include "tests/fuzz/fuzz_keys.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace sparrow::fuzz {
namespace {

using common::Role;
using plugin::AuthPolicy;
using plugin::Connection;

// ---- the reference: MQTT topic rules and Sparrow identities, written from the specs ----

// UTF-8 by decoding code points: no overlongs, no surrogates, nothing above U+10FFFF.
bool RefUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t length = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      length = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + length > s.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3F);
    }
    const std::uint32_t min_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_length[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

std::vector<std::string_view> Levels(std::string_view s) {
  std::vector<std::string_view> levels;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '/') {
      levels.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return levels;
}

bool RefTopicString(std::string_view s) {
  return !s.empty() && s.size() <= 65535 && s.find('\0') == std::string_view::npos && RefUtf8(s);
}

bool RefValidName(std::string_view topic) {
  return RefTopicString(topic) && topic.find('+') == std::string_view::npos &&
         topic.find('#') == std::string_view::npos;
}

bool RefValidFilter(std::string_view filter) {
  if (!RefTopicString(filter)) return false;
  const auto levels = Levels(filter);
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const bool has_wildcard = levels[i].find_first_of("+#") != std::string_view::npos;
    if (has_wildcard && levels[i] != "+" && levels[i] != "#") return false;
    if (levels[i] == "#" && i + 1 != levels.size()) return false;
  }
  return true;
}

bool RefMatches(std::string_view filter, std::string_view topic) {
  if (!RefValidFilter(filter) || !RefValidName(topic)) return false;
  const auto f = Levels(filter);
  const auto t = Levels(topic);
  if (topic.front() == '$' && (f[0] == "+" || f[0] == "#")) return false;
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (f[i] == "#") return true;  // also matches the parent level alone
    if (i >= t.size()) return false;
    if (f[i] != "+" && f[i] != t[i]) return false;
  }
  return f.size() == t.size();
}

bool RefUserId(std::string_view id) {  // ^[a-z0-9][a-z0-9_.-]{2,31}$
  if (id.size() < 3 || id.size() > 32) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) return false;
  }
  return true;
}

bool RefDeviceId(std::string_view id) {  // ^[A-Za-z0-9_-]{1,64}$
  if (id.empty() || id.size() > 64) return false;
  for (const char c : id) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && c != '_' && c != '-') return false;
  }
  return true;
}

bool UnderIm(std::string_view s) { return s.starts_with("im/"); }
// A topic an `im/...` filter may match: "im/#" also matches "im" itself (the parent level),
// where nobody may publish.
bool FirstLevelIsIm(std::string_view topic) { return topic == "im" || UnderIm(topic); }

// topics.md: the topics a user's connection receives on are im/in/{user} and anything below.
bool InUsersInbox(std::string_view user, std::string_view topic) {
  const std::string inbox = "im/in/" + std::string(user);
  return topic == inbox || topic.starts_with(inbox + "/");
}

// topics.md "Topics", the user's rules.
bool RefUserMayPublish(const Connection& c, std::string_view topic) {
  return RefUserId(c.user) && RefDeviceId(c.device) && topic == "im/up/" + c.user + "/" + c.device;
}
bool RefUserMaySubscribe(std::string_view user, std::string_view filter) {
  if (!RefUserId(user)) return false;
  const std::string inbox = "im/in/" + std::string(user);
  if (filter == inbox || filter == inbox + "/+" || filter == inbox + "/#") return true;
  return filter.starts_with(inbox + "/") && RefDeviceId(filter.substr(inbox.size() + 1));
}
bool RefUserMayRead(std::string_view user, std::string_view topic) {
  if (!RefUserId(user)) return false;
  const std::string inbox = "im/in/" + std::string(user);
  return topic == inbox ||
         (topic.starts_with(inbox + "/") && RefDeviceId(topic.substr(inbox.size() + 1)));
}

// ---- checks ----

void CheckMatcher(std::string_view filter, std::string_view topic) {
  const bool matches = protocol::TopicMatchesFilter(filter, topic);
  SPARROW_FUZZ_CHECK(matches == RefMatches(filter, topic));
}

// Topics FILTER may match: each '+' replaced by the next LEVELS line, and '#' by the next line
// (an empty one drops the '#' level, for the "parent level" rule). Lines may hold '/' and
// wildcards: the matcher must then say no.
std::vector<std::string> TopicsFromFilter(std::string_view filter,
                                          const std::vector<std::string_view>& replacements) {
  std::vector<std::string> topics;
  for (std::size_t round = 0; round < 2; ++round) {
    std::size_t next = round;  // the second topic starts one replacement later
    std::string topic;
    const auto levels = Levels(filter);
    for (std::size_t i = 0; i < levels.size(); ++i) {
      std::string_view level = levels[i];
      if (level == "+" || level == "#") {
        level = next < replacements.size() ? replacements[next] : std::string_view("x");
        ++next;
        if (levels[i] == "#" && level.empty()) break;  // "a/#" -> "a"
      }
      if (i > 0) topic += '/';
      topic += level;
    }
    topics.push_back(std::move(topic));
  }
  return topics;
}

void CheckSharedSubscription(std::string_view filter) {
  const auto shared = protocol::ParseSharedSubscription(filter);
  if (!shared) return;
  SPARROW_FUZZ_CHECK(filter.starts_with("$share/"));
  SPARROW_FUZZ_CHECK(shared->group.data() == filter.data() + 7);
  SPARROW_FUZZ_CHECK(!shared->group.empty());
  SPARROW_FUZZ_CHECK(shared->group.find_first_of("/+#") == std::string_view::npos);
  SPARROW_FUZZ_CHECK(shared->filter.data() == shared->group.data() + shared->group.size() + 1);
  SPARROW_FUZZ_CHECK(shared->filter.data() + shared->filter.size() ==
                     filter.data() + filter.size());
  SPARROW_FUZZ_CHECK(RefValidFilter(shared->filter));
}

void CheckParsers(std::string_view topic) {
  if (const auto up = protocol::ParseUpTopic(topic)) {
    SPARROW_FUZZ_CHECK(RefUserId(up->user) && RefDeviceId(up->device));
    SPARROW_FUZZ_CHECK(protocol::UpTopic(*up) == topic);
  }
  if (const auto device = protocol::ParseDeviceTopic(topic)) {
    SPARROW_FUZZ_CHECK(RefUserId(device->user) && RefDeviceId(device->device));
    SPARROW_FUZZ_CHECK(protocol::DeviceTopic(*device) == topic);
  }
  if (const auto sync = protocol::ParseSyncTopic(topic)) {
    SPARROW_FUZZ_CHECK(RefUserId(sync->user) && RefDeviceId(sync->device));
    SPARROW_FUZZ_CHECK(protocol::SyncTopic(*sync) == topic);
  }
  if (const auto inbox = protocol::ParseInboxTopic(topic)) {
    SPARROW_FUZZ_CHECK(RefUserId(*inbox));
    SPARROW_FUZZ_CHECK(protocol::InboxTopic(*inbox) == topic);
  }
  if (const auto instance = protocol::ParseBridgeHeartbeatTopic(topic)) {
    SPARROW_FUZZ_CHECK(RefDeviceId(*instance));
    SPARROW_FUZZ_CHECK(protocol::BridgeHeartbeatTopic(*instance) == topic);
  }
  if (const auto pair = protocol::ParseRelationTopic(topic)) {
    SPARROW_FUZZ_CHECK(RefUserId(pair->a) && RefUserId(pair->b) && pair->a != pair->b);
    SPARROW_FUZZ_CHECK("im/sys/relation/" + pair->a + "/" + pair->b == topic);
    const std::string sorted = protocol::RelationTopic(pair->a, pair->b);
    SPARROW_FUZZ_CHECK(sorted == protocol::RelationTopic(pair->b, pair->a));
    SPARROW_FUZZ_CHECK(protocol::ParseRelationTopic(sorted).has_value());
  }
  if (const auto presence = protocol::ParsePresenceTopic(topic)) {
    SPARROW_FUZZ_CHECK(RefDeviceId(presence->broker_id));
    SPARROW_FUZZ_CHECK(RefUserId(presence->device.user) && RefDeviceId(presence->device.device));
    SPARROW_FUZZ_CHECK(protocol::PresenceTopic(presence->broker_id, presence->device.user,
                                               presence->device.device) == topic);
  }
  // Every topic Sparrow parses is a valid MQTT topic name.
  const bool parsed = protocol::ParseUpTopic(topic) || protocol::ParseDeviceTopic(topic) ||
                      protocol::ParseSyncTopic(topic) || protocol::ParseInboxTopic(topic) ||
                      protocol::ParseBridgeHeartbeatTopic(topic) ||
                      protocol::ParseRelationTopic(topic) || protocol::ParsePresenceTopic(topic);
  if (parsed) SPARROW_FUZZ_CHECK(RefValidName(topic));
}

void CheckClientId(std::string_view client_id) {
  const auto address = protocol::ParseClientId(client_id);
  const auto colon = client_id.find(':');
  const bool expected = colon != std::string_view::npos && RefUserId(client_id.substr(0, colon)) &&
                        RefDeviceId(client_id.substr(colon + 1));
  SPARROW_FUZZ_CHECK(address.has_value() == expected);
  if (address) SPARROW_FUZZ_CHECK(protocol::ClientId(*address) == client_id);
}

void CheckAuthenticate(const AuthPolicy& policy, std::string_view user, std::string_view device,
                       std::string_view password, std::optional<Connection>& admitted) {
  const std::string client_id = std::string(user) + ":" + std::string(device);
  const plugin::AuthDecision decision = policy.Authenticate(user, password, client_id, kFuzzNowMs);
  if (!decision.allowed()) {
    SPARROW_FUZZ_CHECK(decision.refusal != plugin::AuthRefusal::kInternalError);
    return;
  }
  // Only a token the fuzz key signed, valid now, for this very user.
  const auto& known = KnownTokens();
  const auto it = std::find(known.begin(), known.end(), password);
  SPARROW_FUZZ_CHECK(it != known.end());
  const common::TokenClaims& claims = KnownClaims()[it - known.begin()];
  SPARROW_FUZZ_CHECK(claims.sub == user);
  SPARROW_FUZZ_CHECK(claims.iat_ms <= kFuzzNowMs && kFuzzNowMs < claims.exp_ms);
  SPARROW_FUZZ_CHECK(RefUserId(user) && RefDeviceId(device));
  const Connection& c = decision.connection;
  SPARROW_FUZZ_CHECK(c.user == user && c.device == device && c.role == claims.role);
  SPARROW_FUZZ_CHECK(c.client_id() == client_id);
  SPARROW_FUZZ_CHECK(decision.token_expires_ms == claims.exp_ms);
  SPARROW_FUZZ_CHECK(decision.token_issued_ms == claims.iat_ms);
  admitted = c;
}

void CheckPublish(const AuthPolicy& policy, const Connection& c, std::string_view topic,
                  bool retain) {
  const bool allowed = policy.MayPublish(c, topic, retain);
  SPARROW_FUZZ_CHECK(!policy.MayPublish(c, topic, /*retain=*/true));  // Sparrow never retains
  if (allowed) {
    SPARROW_FUZZ_CHECK(!retain && RefValidName(topic) && UnderIm(topic));
  }
  switch (c.role) {
    case Role::kUser:
      SPARROW_FUZZ_CHECK(allowed == (!retain && RefUserMayPublish(c, topic)));
      SPARROW_FUZZ_CHECK(protocol::UserMayPublish({c.user, c.device}, topic) ==
                         RefUserMayPublish(c, topic));
      break;
    case Role::kSvc:
      SPARROW_FUZZ_CHECK(allowed == (!retain && RefValidName(topic) && UnderIm(topic)));
      break;
    case Role::kOps:
      SPARROW_FUZZ_CHECK(!allowed);
      break;
  }
}

void CheckRead(const AuthPolicy& policy, const Connection& c, std::string_view topic) {
  const bool allowed = policy.MayRead(c, topic);
  if (allowed) SPARROW_FUZZ_CHECK(RefValidName(topic) && UnderIm(topic));
  if (c.role == Role::kUser) {
    SPARROW_FUZZ_CHECK(allowed == (RefValidName(topic) && RefUserMayRead(c.user, topic)));
  } else {
    SPARROW_FUZZ_CHECK(allowed == (RefValidName(topic) && UnderIm(topic)));
  }
}

void CheckSubscribe(const AuthPolicy& policy, const Connection& c, std::string_view filter,
                    const std::vector<std::string>& topics) {
  const bool allowed = policy.MaySubscribe(c, filter);
  if (c.role == Role::kUser) {
    SPARROW_FUZZ_CHECK(allowed == RefUserMaySubscribe(c.user, filter));
    SPARROW_FUZZ_CHECK(protocol::UserMaySubscribe(c.user, filter) ==
                       RefUserMaySubscribe(c.user, filter));
  }
  if (c.role == Role::kOps || (c.role == Role::kSvc && !filter.starts_with("$share/"))) {
    SPARROW_FUZZ_CHECK(allowed == (RefValidFilter(filter) && UnderIm(filter)));
  }
  if (!allowed) return;
  // Whatever the role: the broker only ever sees valid filters allowed, none of them $SYS or
  // otherwise outside im/.
  SPARROW_FUZZ_CHECK(RefValidFilter(filter));
  std::string_view inner = filter;
  if (filter.starts_with("$share/")) {
    SPARROW_FUZZ_CHECK(c.role == Role::kSvc);  // users and ops never join a share group
    const auto shared = protocol::ParseSharedSubscription(filter);
    SPARROW_FUZZ_CHECK(shared.has_value());
    inner = shared->filter;
  }
  SPARROW_FUZZ_CHECK(UnderIm(inner));
  // ... so every topic it matches has `im` as first level ($SYS never), and for a user lies in
  // their own inbox.
  for (const std::string& topic : topics) {
    if (!RefMatches(inner, topic)) continue;
    SPARROW_FUZZ_CHECK(FirstLevelIsIm(topic));
    if (c.role == Role::kUser) SPARROW_FUZZ_CHECK(InUsersInbox(c.user, topic));
  }
}

void CheckConnection(const AuthPolicy& policy, const Connection& c, std::string_view filter,
                     std::string_view topic, bool retain, const std::vector<std::string>& topics) {
  CheckPublish(policy, c, topic, retain);
  CheckRead(policy, c, topic);
  CheckSubscribe(policy, c, filter, topics);
  for (const std::string& other : topics) {
    CheckPublish(policy, c, other, retain);
    CheckRead(policy, c, other);
  }
}

}  // namespace
}  // namespace sparrow::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sparrow::fuzz;
  static const AuthPolicy policy(FuzzVerifier());

  const std::vector<std::string_view> lines = SplitLines(AsText(data, size));
  const auto line = [&lines](std::size_t i) {
    return i < lines.size() ? lines[i] : std::string_view();
  };
  std::string_view role_text = line(0);
  const bool retain = role_text.ends_with(",retain");
  if (retain) role_text.remove_suffix(7);
  const Role role =
      sparrow::common::ParseRole(role_text).value_or(static_cast<Role>(role_text.size() % 3));
  const std::string_view user = line(1);
  const std::string_view device = line(2);
  std::string_view password = line(3);
  const std::string_view filter = line(4);
  const std::string_view topic = line(5);
  const std::vector<std::string_view> replacements(
      lines.size() > 6 ? lines.begin() + 6 : lines.end(), lines.end());

  if (password.size() == 2 && password[0] == '@' && password[1] >= '0' &&
      static_cast<std::size_t>(password[1] - '0') < KnownTokens().size()) {
    password = KnownTokens()[password[1] - '0'];
  }

  // The topic rules on their own.
  std::vector<std::string> topics = TopicsFromFilter(filter, replacements);
  if (const auto shared = sparrow::protocol::ParseSharedSubscription(filter)) {
    for (auto& t : TopicsFromFilter(shared->filter, replacements)) topics.push_back(std::move(t));
  }
  topics.emplace_back(topic);
  for (const std::string& t : topics) {
    CheckMatcher(filter, t);
    CheckParsers(t);
    if (RefValidName(t)) SPARROW_FUZZ_CHECK(sparrow::protocol::TopicMatchesFilter(t, t));
  }
  CheckMatcher(topic, filter);  // the other way round: a filter is rarely a topic name
  SPARROW_FUZZ_CHECK(sparrow::protocol::IsValidTopicFilter(filter) == RefValidFilter(filter));
  SPARROW_FUZZ_CHECK(sparrow::protocol::IsValidTopicName(topic) == RefValidName(topic));
  CheckSharedSubscription(filter);
  CheckClientId(std::string(user) + ":" + std::string(device));

  // The policy: for the connection CONNECT admitted (if it did) and for one built directly.
  std::optional<Connection> admitted;
  CheckAuthenticate(policy, user, device, password, admitted);
  if (admitted) CheckConnection(policy, *admitted, filter, topic, retain, topics);
  const Connection direct{std::string(user), std::string(device), role};
  CheckConnection(policy, direct, filter, topic, retain, topics);
  return 0;
}
