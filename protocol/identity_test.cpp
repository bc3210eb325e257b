#include "protocol/identity.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sparrow::protocol {
namespace {

TEST(IdentityTest, AcceptsUserIdsOfThreeToThirtyTwoAllowedCharacters) {
  EXPECT_TRUE(IsValidUserId("bob"));
  EXPECT_TRUE(IsValidUserId("alice"));
  EXPECT_TRUE(IsValidUserId("0xy"));
  EXPECT_TRUE(IsValidUserId("a.b_c-d"));
  EXPECT_TRUE(IsValidUserId("a--"));
  EXPECT_TRUE(IsValidUserId(std::string(32, 'a')));
}

TEST(IdentityTest, RejectsUserIdsOutsideThePattern) {
  EXPECT_FALSE(IsValidUserId(""));
  EXPECT_FALSE(IsValidUserId("ab"));                  // too short
  EXPECT_FALSE(IsValidUserId(std::string(33, 'a')));  // too long
  EXPECT_FALSE(IsValidUserId("Bob"));                 // uppercase
  EXPECT_FALSE(IsValidUserId("_bob"));                // must start with [a-z0-9]
  EXPECT_FALSE(IsValidUserId(".bob"));
  EXPECT_FALSE(IsValidUserId("-bob"));
  EXPECT_FALSE(IsValidUserId("bo b"));
  EXPECT_FALSE(IsValidUserId("bob/x"));
  EXPECT_FALSE(IsValidUserId("bob+"));
  EXPECT_FALSE(IsValidUserId("bob#"));
  EXPECT_FALSE(IsValidUserId("bob:x"));
  EXPECT_FALSE(IsValidUserId(std::string("bo\0b", 4)));
  EXPECT_FALSE(
      IsValidUserId("b\xc3\xa9"
                    "b"));  // non-ASCII
}

TEST(IdentityTest, AcceptsDeviceIdsOfOneToSixtyFourAllowedCharacters) {
  EXPECT_TRUE(IsValidDeviceId("p"));
  EXPECT_TRUE(IsValidDeviceId("Phone_2-X"));
  EXPECT_TRUE(IsValidDeviceId("_"));
  EXPECT_TRUE(IsValidDeviceId("-"));
  EXPECT_TRUE(IsValidDeviceId(std::string(64, 'Z')));
}

TEST(IdentityTest, RejectsDeviceIdsOutsideThePattern) {
  EXPECT_FALSE(IsValidDeviceId(""));
  EXPECT_FALSE(IsValidDeviceId(std::string(65, 'a')));
  EXPECT_FALSE(IsValidDeviceId("a.b"));
  EXPECT_FALSE(IsValidDeviceId("a:b"));
  EXPECT_FALSE(IsValidDeviceId("a/b"));
  EXPECT_FALSE(IsValidDeviceId("+"));
  EXPECT_FALSE(IsValidDeviceId("#"));
  EXPECT_FALSE(IsValidDeviceId("a b"));
  EXPECT_FALSE(IsValidDeviceId(std::string("a\0", 2)));
  EXPECT_FALSE(IsValidDeviceId("\xff"));
}

TEST(IdentityTest, ParsesClientIdIntoUserAndDevice) {
  const auto address = ParseClientId("alice:phone-1");
  ASSERT_TRUE(address.has_value());
  EXPECT_EQ(address->user, "alice");
  EXPECT_EQ(address->device, "phone-1");
  EXPECT_EQ(*address, (DeviceAddress{"alice", "phone-1"}));
}

TEST(IdentityTest, RejectsClientIdsThatAreNotExactlyUserColonDevice) {
  EXPECT_FALSE(ParseClientId("").has_value());
  EXPECT_FALSE(ParseClientId("alice").has_value());
  EXPECT_FALSE(ParseClientId("alice:").has_value());
  EXPECT_FALSE(ParseClientId(":phone").has_value());
  EXPECT_FALSE(ParseClientId(":").has_value());
  EXPECT_FALSE(ParseClientId("alice:phone:2").has_value());
  EXPECT_FALSE(ParseClientId("alice::phone").has_value());
  EXPECT_FALSE(ParseClientId("Alice:phone").has_value());
  EXPECT_FALSE(ParseClientId("al:phone").has_value());
  EXPECT_FALSE(ParseClientId("alice:ph.one").has_value());
  EXPECT_FALSE(ParseClientId("alice:" + std::string(65, 'a')).has_value());
  EXPECT_FALSE(ParseClientId(" alice:phone").has_value());
  EXPECT_FALSE(ParseClientId("alice:phone ").has_value());
  EXPECT_FALSE(ParseClientId(std::string("alice:phone\0", 12)).has_value());
}

TEST(IdentityTest, ClientIdRoundTripsThroughParseClientId) {
  const DeviceAddress address{"bob.smith", "Tablet_9"};
  EXPECT_EQ(ClientId(address), "bob.smith:Tablet_9");
  EXPECT_EQ(ParseClientId(ClientId(address)), address);
}

}  // namespace
}  // namespace sparrow::protocol
