#include <gtest/gtest.h>

#include <set>

#include "common/base64.hpp"
#include "common/ids.hpp"

namespace sparrow::common {
namespace {

TEST(IdsTest, MidsAreUniqueSortableAndWellFormed) {
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 1000; ++i) {
    std::string mid = NewMid(1764430000000 + i);
    EXPECT_TRUE(LooksLikeMid(mid)) << mid;
    EXPECT_TRUE(seen.insert(mid).second);
    EXPECT_LT(previous, mid);
    previous = mid;
  }
  EXPECT_FALSE(LooksLikeMid("not-a-mid"));
  EXPECT_FALSE(LooksLikeMid("01ARZ3NDEKTSV4RRFFQ69G5FAI"));  // I is not Crockford
}

TEST(IdsTest, FileIdsAre32LowercaseBase32Characters) {
  std::string id = NewFileId();
  ASSERT_EQ(id.size(), 32u);
  for (char c : id) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) << id;
  EXPECT_NE(id, NewFileId());
}

TEST(Base64Test, RoundTripsAndRejectsGarbage) {
  std::string bytes("\x00\xff\x10hello", 8);
  EXPECT_EQ(Base64Decode(Base64Encode(bytes)), bytes);
  EXPECT_EQ(Base64Encode("hi"), "aGk=");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlDecode("-_8"), std::string("\xfb\xff"));
  EXPECT_FALSE(Base64Decode("a*b=").has_value());
  EXPECT_FALSE(Base64Decode("aGk").has_value());  // missing padding
  EXPECT_FALSE(Base64UrlDecode("aGk=").has_value());
  EXPECT_EQ(HexEncode("\x01\xab"), "01ab");
}

}  // namespace
}  // namespace sparrow::common
