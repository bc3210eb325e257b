#include "protocol/frames.hpp"

#include <ostream>

namespace sparrow::protocol {

std::string_view ToString(ChatKind kind) noexcept {
  switch (kind) {
    case ChatKind::kText:
      return "text";
    case ChatKind::kFile:
      return "file";
  }
  return "?";  // unreachable for a valid enumerator; keeps -Wreturn-type quiet
}

std::string_view ToString(AckType type) noexcept {
  switch (type) {
    case AckType::kSent:
      return "SENT";
    case AckType::kDelivered:
      return "DELIVERED";
    case AckType::kRead:
      return "READ";
  }
  return "?";
}

std::string_view ToString(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kBadFrame:
      return "bad_frame";
    case ErrorCode::kTooLarge:
      return "too_large";
    case ErrorCode::kNotFriends:
      return "not_friends";
    case ErrorCode::kSpoofedSender:
      return "spoofed_sender";
    case ErrorCode::kUnknownMessage:
      return "unknown_message";
    case ErrorCode::kOutOfOrder:
      return "out_of_order";
    case ErrorCode::kRateLimited:
      return "rate_limited";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "?";
}

std::optional<ChatKind> ParseChatKind(std::string_view text) noexcept {
  for (ChatKind kind : {ChatKind::kText, ChatKind::kFile}) {
    if (ToString(kind) == text) return kind;
  }
  return std::nullopt;
}

std::optional<AckType> ParseAckType(std::string_view text) noexcept {
  for (AckType type : {AckType::kSent, AckType::kDelivered, AckType::kRead}) {
    if (ToString(type) == text) return type;
  }
  return std::nullopt;
}

std::optional<ErrorCode> ParseErrorCode(std::string_view text) noexcept {
  for (ErrorCode code : {ErrorCode::kBadFrame, ErrorCode::kTooLarge, ErrorCode::kNotFriends,
                         ErrorCode::kSpoofedSender, ErrorCode::kUnknownMessage,
                         ErrorCode::kOutOfOrder, ErrorCode::kRateLimited, ErrorCode::kInternal}) {
    if (ToString(code) == text) return code;
  }
  return std::nullopt;
}

std::ostream& operator<<(std::ostream& os, ChatKind kind) { return os << ToString(kind); }
std::ostream& operator<<(std::ostream& os, AckType type) { return os << ToString(type); }
std::ostream& operator<<(std::ostream& os, ErrorCode code) { return os << ToString(code); }

}  // namespace sparrow::protocol
