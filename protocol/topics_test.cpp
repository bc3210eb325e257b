#include "protocol/topics.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace sparrow::protocol {
namespace {

TEST(TopicsTest, BuildsEveryTopicOfTheProtocol) {
  EXPECT_EQ(UpTopic("alice", "phone"), "im/up/alice/phone");
  EXPECT_EQ(InboxTopic("alice"), "im/in/alice");
  EXPECT_EQ(DeviceTopic("alice", "phone"), "im/in/alice/phone");
  EXPECT_EQ(SyncTopic("alice", "phone"), "im/sys/sync/alice/phone");
  EXPECT_EQ(PresenceTopic("b1", "alice", "phone"), "im/sys/presence/b1/alice/phone");
  const DeviceAddress address{"bob", "Tab_1"};
  EXPECT_EQ(UpTopic(address), "im/up/bob/Tab_1");
  EXPECT_EQ(DeviceTopic(address), "im/in/bob/Tab_1");
  EXPECT_EQ(SyncTopic(address), "im/sys/sync/bob/Tab_1");
}

TEST(TopicsTest, BuiltTopicsMatchTheServiceFilters) {
  EXPECT_TRUE(TopicMatchesFilter(kUpFilter, UpTopic("alice", "phone")));
  EXPECT_TRUE(TopicMatchesFilter(kSyncFilter, SyncTopic("alice", "phone")));
  EXPECT_TRUE(TopicMatchesFilter(kPresenceFilter, PresenceTopic("b1", "alice", "phone")));
  EXPECT_FALSE(TopicMatchesFilter(kUpFilter, DeviceTopic("alice", "phone")));
  EXPECT_FALSE(TopicMatchesFilter(kSyncFilter, UpTopic("alice", "phone")));
}

TEST(TopicsTest, ParsersInvertBuilders) {
  const DeviceAddress address{"alice", "phone"};
  EXPECT_EQ(ParseUpTopic(UpTopic(address)), address);
  EXPECT_EQ(ParseDeviceTopic(DeviceTopic(address)), address);
  EXPECT_EQ(ParseSyncTopic(SyncTopic(address)), address);
  EXPECT_EQ(ParseInboxTopic(InboxTopic("alice")), "alice");
  EXPECT_EQ(ParsePresenceTopic(PresenceTopic("b-1", "alice", "phone")),
            (PresenceAddress{"b-1", address}));
}

TEST(TopicsTest, ParseUpTopicRejectsAnythingButTwoValidIds) {
  EXPECT_FALSE(ParseUpTopic("im/up/alice").has_value());
  EXPECT_FALSE(ParseUpTopic("im/up/alice/").has_value());
  EXPECT_FALSE(ParseUpTopic("im/up//phone").has_value());
  EXPECT_FALSE(ParseUpTopic("im/up/alice/phone/").has_value());
  EXPECT_FALSE(ParseUpTopic("im/up/alice/phone/x").has_value());
  EXPECT_FALSE(ParseUpTopic("im/up/Alice/phone").has_value());
  EXPECT_FALSE(ParseUpTopic("im/up/alice/ph.one").has_value());
  EXPECT_FALSE(ParseUpTopic("im/up/+/+").has_value());
  EXPECT_FALSE(ParseUpTopic("im/up/alice/#").has_value());
  EXPECT_FALSE(ParseUpTopic("/im/up/alice/phone").has_value());
  EXPECT_FALSE(ParseUpTopic("im/in/alice/phone").has_value());
  EXPECT_FALSE(ParseUpTopic("IM/up/alice/phone").has_value());
  EXPECT_FALSE(ParseUpTopic("").has_value());
}

TEST(TopicsTest, ParseDeviceTopicIsNotConfusedWithTheInbox) {
  EXPECT_FALSE(ParseDeviceTopic("im/in/alice").has_value());
  EXPECT_FALSE(ParseDeviceTopic("im/in/alice/").has_value());
  EXPECT_FALSE(ParseInboxTopic("im/in/alice/phone").has_value());
  EXPECT_FALSE(ParseInboxTopic("im/in/alice/").has_value());
  EXPECT_FALSE(ParseInboxTopic("im/in/").has_value());
  EXPECT_FALSE(ParseInboxTopic("im/in/al").has_value());
  EXPECT_FALSE(ParseInboxTopic("im/in/+").has_value());
}

TEST(TopicsTest, ParseSyncAndPresenceTopicsValidateEveryLevel) {
  EXPECT_FALSE(ParseSyncTopic("im/sys/sync/alice").has_value());
  EXPECT_FALSE(ParseSyncTopic("im/sys/sync/alice/phone/x").has_value());
  EXPECT_FALSE(ParseSyncTopic("im/sys/sync/ALICE/phone").has_value());
  EXPECT_FALSE(ParsePresenceTopic("im/sys/presence/b1/alice").has_value());
  EXPECT_FALSE(ParsePresenceTopic("im/sys/presence//alice/phone").has_value());
  EXPECT_FALSE(ParsePresenceTopic("im/sys/presence/b.1/alice/phone").has_value());
  EXPECT_FALSE(ParsePresenceTopic("im/sys/presence/b1/alice/phone/x").has_value());
  EXPECT_FALSE(ParsePresenceTopic("im/sys/presence/b1/al/phone").has_value());
}

struct MatchCase {
  std::string_view filter;
  std::string_view topic;
  bool matches;
};

void PrintTo(const MatchCase& c, std::ostream* os) {
  *os << "filter=\"" << c.filter << "\" topic=\"" << c.topic << "\" -> " << c.matches;
}

class TopicMatchesFilterTest : public ::testing::TestWithParam<MatchCase> {};

TEST_P(TopicMatchesFilterTest, FollowsMqttWildcardRules) {
  const MatchCase& c = GetParam();
  EXPECT_EQ(TopicMatchesFilter(c.filter, c.topic), c.matches);
}

INSTANTIATE_TEST_SUITE_P(
    Mqtt, TopicMatchesFilterTest,
    ::testing::Values(
        // exact
        MatchCase{"a/b/c", "a/b/c", true}, MatchCase{"a/b/c", "a/b", false},
        MatchCase{"a/b", "a/b/c", false}, MatchCase{"a/b/c", "a/b/d", false},
        MatchCase{"A", "a", false},  // case-sensitive
        MatchCase{"a/", "a/", true}, MatchCase{"a/", "a", false}, MatchCase{"/a", "/a", true},
        MatchCase{"/a", "a", false},
        // single level
        MatchCase{"a/+", "a/b", true}, MatchCase{"a/+", "a/b/c", false},
        MatchCase{"a/+", "a", false}, MatchCase{"a/+", "a/", true},  // + matches an empty level
        MatchCase{"+", "a", true}, MatchCase{"+", "/a", false}, MatchCase{"+/+", "/a", true},
        MatchCase{"/+", "/a", true}, MatchCase{"+/b/+", "a/b/c", true},
        MatchCase{"+/b/+", "a/x/c", false}, MatchCase{"im/up/+/+", "im/up/alice/phone", true},
        MatchCase{"im/up/+/+", "im/up/alice", false},
        MatchCase{"im/up/+/+", "im/up/alice/phone/x", false},
        // multi level
        MatchCase{"#", "a", true}, MatchCase{"#", "a/b/c", true}, MatchCase{"#", "/", true},
        MatchCase{"a/#", "a", true},  // # includes the parent level
        MatchCase{"a/#", "a/", true}, MatchCase{"a/#", "a/b/c", true},
        MatchCase{"a/#", "ab", false}, MatchCase{"a/#", "b/a", false},
        MatchCase{"a/b/#", "a", false}, MatchCase{"+/#", "a", true}, MatchCase{"+/+/#", "a", false},
        MatchCase{"im/in/alice/#", "im/in/alice", true},
        MatchCase{"im/in/alice/#", "im/in/alice/phone", true},
        MatchCase{"im/in/alice/#", "im/in/alicex", false},
        MatchCase{"im/in/alice/#", "im/in/bob/phone", false},
        // $-topics are not reached by a leading wildcard
        MatchCase{"#", "$SYS/broker/uptime", false},
        MatchCase{"+/broker/uptime", "$SYS/broker/uptime", false},
        MatchCase{"$SYS/#", "$SYS/broker/uptime", true},
        MatchCase{"$SYS/+/uptime", "$SYS/broker/uptime", true}, MatchCase{"a/#", "a/$b", true},
        MatchCase{"$share/g/#", "$share/g/x", true},
        // invalid filters or topics match nothing
        MatchCase{"a/#/b", "a/x/b", false}, MatchCase{"a#", "a#", false},
        MatchCase{"a/b+", "a/b+", false}, MatchCase{"+a", "+a", false}, MatchCase{"", "", false},
        MatchCase{"#", "", false}, MatchCase{"a/+", "a/+", false}, MatchCase{"#", "a/#", false},
        MatchCase{"a", std::string_view("a\0", 2), false}, MatchCase{"#", "\xff", false}));

TEST(TopicsTest, ValidatesTopicNamesAndFilters) {
  EXPECT_TRUE(IsValidTopicName("a"));
  EXPECT_TRUE(IsValidTopicName("/"));
  EXPECT_TRUE(IsValidTopicName("im/in/alice"));
  EXPECT_FALSE(IsValidTopicName(""));
  EXPECT_FALSE(IsValidTopicName("a/+"));
  EXPECT_FALSE(IsValidTopicName("a/#"));
  EXPECT_FALSE(IsValidTopicName(std::string(65536, 'a')));
  EXPECT_TRUE(IsValidTopicName(std::string(65535, 'a')));

  EXPECT_TRUE(IsValidTopicFilter("#"));
  EXPECT_TRUE(IsValidTopicFilter("+"));
  EXPECT_TRUE(IsValidTopicFilter("+/+/#"));
  EXPECT_TRUE(IsValidTopicFilter("a//b"));
  EXPECT_FALSE(IsValidTopicFilter(""));
  EXPECT_FALSE(IsValidTopicFilter("#/a"));
  EXPECT_FALSE(IsValidTopicFilter("a/#/"));
  EXPECT_FALSE(IsValidTopicFilter("a/##"));
  EXPECT_FALSE(IsValidTopicFilter("a+/b"));
  EXPECT_FALSE(IsValidTopicFilter("a/b#"));
  EXPECT_FALSE(IsValidTopicFilter(std::string_view("a/\0", 3)));
  EXPECT_FALSE(IsValidTopicFilter("a/\xc0\xaf"));
}

TEST(TopicsTest, ParsesSharedSubscriptions) {
  const auto shared = ParseSharedSubscription("$share/bridge/im/up/+/+");
  ASSERT_TRUE(shared.has_value());
  EXPECT_EQ(shared->group, "bridge");
  EXPECT_EQ(shared->filter, "im/up/+/+");
  EXPECT_FALSE(ParseSharedSubscription("im/up/+/+").has_value());
  EXPECT_FALSE(ParseSharedSubscription("$share/bridge").has_value());
  EXPECT_FALSE(ParseSharedSubscription("$share/bridge/").has_value());
  EXPECT_FALSE(ParseSharedSubscription("$share//im/#").has_value());
  EXPECT_FALSE(ParseSharedSubscription("$share/+/im/#").has_value());
  EXPECT_FALSE(ParseSharedSubscription("$share/g/im/#/x").has_value());
}

// Found by tests/fuzz/fuzz_acl (crashes/acl/): only the inner filter was validated, so a group
// with invalid UTF-8 or a NUL passed, and the broker's ACL allowed an invalid filter.
TEST(TopicsTest, SharedSubscriptionRefusesAnInvalidGroup) {
  EXPECT_FALSE(ParseSharedSubscription("$share/b\xb9idges/im/up/+/+").has_value());
  EXPECT_FALSE(ParseSharedSubscription(std::string_view("$share/g\0/im/#", 14)).has_value());
  EXPECT_FALSE(ParseSharedSubscription("$share/\xed\xa0\x80/im/#").has_value());  // surrogate
  const std::string long_group(65535 - 11, 'g');  // "$share/" + group + "/im/#": 65536 bytes
  EXPECT_FALSE(ParseSharedSubscription("$share/" + long_group + "/im/#").has_value());
  EXPECT_TRUE(ParseSharedSubscription("$share/gr\xc3\xa9/im/#").has_value());  // UTF-8 is fine
}

TEST(TopicsTest, UserMaySubscribeOnlyToItsOwnInbox) {
  EXPECT_TRUE(UserMaySubscribe("alice", "im/in/alice"));
  EXPECT_TRUE(UserMaySubscribe("alice", "im/in/alice/phone"));
  EXPECT_TRUE(UserMaySubscribe("alice", "im/in/alice/other-device"));
  EXPECT_TRUE(UserMaySubscribe("alice", "im/in/alice/+"));
  EXPECT_TRUE(UserMaySubscribe("alice", "im/in/alice/#"));

  EXPECT_FALSE(UserMaySubscribe("alice", "im/in/bob"));
  EXPECT_FALSE(UserMaySubscribe("alice", "im/in/bob/#"));
  EXPECT_FALSE(UserMaySubscribe("alice", "im/in/alicex"));  // prefix of another user
  EXPECT_FALSE(UserMaySubscribe("ali", "im/in/alice"));
  EXPECT_FALSE(UserMaySubscribe("alice", "im/in/+"));
  EXPECT_FALSE(UserMaySubscribe("alice", "im/in/#"));
  EXPECT_FALSE(UserMaySubscribe("alice", "im/#"));
  EXPECT_FALSE(UserMaySubscribe("alice", "#"));
  EXPECT_FALSE(UserMaySubscribe("alice", "+/in/alice"));
  EXPECT_FALSE(UserMaySubscribe("alice", "im/+/alice"));
  EXPECT_FALSE(UserMaySubscribe("alice", "$SYS/#"));
  EXPECT_FALSE(UserMaySubscribe("alice", "$share/g/im/in/alice"));
  EXPECT_FALSE(UserMaySubscribe("alice", "im/up/alice/phone"));
  EXPECT_FALSE(UserMaySubscribe("alice", "im/in/alice/"));
  EXPECT_FALSE(UserMaySubscribe("alice", "im/in/alice/phone/x"));
  EXPECT_FALSE(UserMaySubscribe("alice", "im/in/alice/+/#"));
  EXPECT_FALSE(UserMaySubscribe("alice", "im/in/alice/ph.one"));
  EXPECT_FALSE(UserMaySubscribe("alice", "im/sys/sync/alice/phone"));
  EXPECT_FALSE(UserMaySubscribe("Bad User", "im/in/Bad User"));
}

TEST(TopicsTest, UserMayPublishOnlyToItsOwnDevicesUpTopic) {
  const DeviceAddress phone{"alice", "phone"};
  EXPECT_TRUE(UserMayPublish(phone, "im/up/alice/phone"));
  EXPECT_FALSE(UserMayPublish(phone, "im/up/alice/laptop"));  // another device of hers
  EXPECT_FALSE(UserMayPublish(phone, "im/up/bob/phone"));
  EXPECT_FALSE(UserMayPublish(phone, "im/in/alice"));
  EXPECT_FALSE(UserMayPublish(phone, "im/in/alice/phone"));
  EXPECT_FALSE(UserMayPublish(phone, "im/sys/sync/alice/phone"));
  EXPECT_FALSE(UserMayPublish(phone, "im/up/alice/phone/x"));
  EXPECT_FALSE(UserMayPublish(phone, "$SYS/x"));
  EXPECT_FALSE(UserMayPublish(DeviceAddress{"alice", "ph/one"}, "im/up/alice/ph/one"));
}

}  // namespace
}  // namespace sparrow::protocol

namespace sparrow::protocol {
namespace {

TEST(RelationTopicTest, BuildsSortedPairAndParsesEitherOrder) {
  EXPECT_EQ(RelationTopic("bob", "alice"), "im/sys/relation/alice/bob");
  EXPECT_EQ(RelationTopic("alice", "bob"), "im/sys/relation/alice/bob");
  auto pair = ParseRelationTopic("im/sys/relation/bob/alice");
  ASSERT_TRUE(pair.has_value());
  EXPECT_EQ(pair->a, "bob");
  EXPECT_EQ(pair->b, "alice");
  EXPECT_TRUE(TopicMatchesFilter(kRelationFilter, RelationTopic("al.ice", "bob")));
}

TEST(RelationTopicTest, RejectsMalformedRelationTopics) {
  for (const char* bad :
       {"im/sys/relation/alice", "im/sys/relation/alice/alice", "im/sys/relation/alice/bob/x",
        "im/sys/relation/Alice/bob", "im/sys/relation//bob", "im/sys/relations/alice/bob"}) {
    EXPECT_FALSE(ParseRelationTopic(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace sparrow::protocol

namespace sparrow::protocol {
namespace {

TEST(ServiceTopicsTest, RevokeAndBridgeHeartbeatTopics) {
  EXPECT_EQ(RevokeTopic("alice"), "im/sys/revoke/alice");
  EXPECT_EQ(BridgeHeartbeatTopic("host-1"), "im/sys/bridge/host-1");
  EXPECT_EQ(ParseBridgeHeartbeatTopic("im/sys/bridge/host-1"), "host-1");
  EXPECT_FALSE(ParseBridgeHeartbeatTopic("im/sys/bridge/a/b").has_value());
  EXPECT_FALSE(ParseBridgeHeartbeatTopic("im/sys/bridge/").has_value());
  EXPECT_TRUE(TopicMatchesFilter(kBridgeHeartbeatFilter, BridgeHeartbeatTopic("x")));
}

}  // namespace
}  // namespace sparrow::protocol

namespace sparrow::protocol {
namespace {

TEST(BrokerPresenceTopicTest, BuildsAndParsesOnlyTheBrokerLevel) {
  EXPECT_EQ(BrokerPresenceTopic("b1"), "im/sys/presence/b1");
  EXPECT_EQ(ParseBrokerPresenceTopic("im/sys/presence/b1"), "b1");
  EXPECT_FALSE(ParseBrokerPresenceTopic("im/sys/presence/b1/alice/phone").has_value());
  EXPECT_FALSE(ParseBrokerPresenceTopic("im/sys/presence/").has_value());
  EXPECT_FALSE(ParsePresenceTopic("im/sys/presence/b1").has_value());
}

}  // namespace
}  // namespace sparrow::protocol
