#include "protocol/frames.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace sparrow::protocol {
namespace {

TEST(FramesTest, ErrorCodesUseTheProtocolsStringsBothWays) {
  const std::pair<ErrorCode, std::string_view> cases[] = {
      {ErrorCode::kBadFrame, "bad_frame"},
      {ErrorCode::kTooLarge, "too_large"},
      {ErrorCode::kNotFriends, "not_friends"},
      {ErrorCode::kSpoofedSender, "spoofed_sender"},
      {ErrorCode::kUnknownMessage, "unknown_message"},
      {ErrorCode::kOutOfOrder, "out_of_order"},
      {ErrorCode::kRateLimited, "rate_limited"},
      {ErrorCode::kInternal, "internal"},
  };
  for (const auto& [code, text] : cases) {
    EXPECT_EQ(ToString(code), text);
    EXPECT_EQ(ParseErrorCode(text), code);
  }
  EXPECT_FALSE(ParseErrorCode("BAD_FRAME").has_value());
  EXPECT_FALSE(ParseErrorCode("").has_value());
  EXPECT_FALSE(ParseErrorCode("bad_frame ").has_value());
}

TEST(FramesTest, AckTypesAndKindsUseTheProtocolsStringsBothWays) {
  EXPECT_EQ(ToString(AckType::kSent), "SENT");
  EXPECT_EQ(ToString(AckType::kDelivered), "DELIVERED");
  EXPECT_EQ(ToString(AckType::kRead), "READ");
  EXPECT_EQ(ParseAckType("SENT"), AckType::kSent);
  EXPECT_EQ(ParseAckType("DELIVERED"), AckType::kDelivered);
  EXPECT_EQ(ParseAckType("READ"), AckType::kRead);
  EXPECT_FALSE(ParseAckType("read").has_value());

  EXPECT_EQ(ToString(ChatKind::kText), "text");
  EXPECT_EQ(ToString(ChatKind::kFile), "file");
  EXPECT_EQ(ParseChatKind("text"), ChatKind::kText);
  EXPECT_EQ(ParseChatKind("file"), ChatKind::kFile);
  EXPECT_FALSE(ParseChatKind("Text").has_value());
  EXPECT_FALSE(ParseChatKind("image").has_value());
}

TEST(FramesTest, StreamsEnumsAsTheirWireStrings) {
  std::ostringstream os;
  os << ErrorCode::kOutOfOrder << ' ' << AckType::kRead << ' ' << ChatKind::kFile;
  EXPECT_EQ(os.str(), "out_of_order READ file");
}

}  // namespace
}  // namespace sparrow::protocol
