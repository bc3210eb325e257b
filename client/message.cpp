#include "client/message.hpp"

namespace sparrow::client {

std::string_view ToString(MessageStatus status) noexcept {
  switch (status) {
    case MessageStatus::kPending:
      return "pending";
    case MessageStatus::kSent:
      return "sent";
    case MessageStatus::kDelivered:
      return "delivered";
    case MessageStatus::kRead:
      return "read";
    case MessageStatus::kFailed:
      return "failed";
  }
  return "pending";
}

std::optional<MessageStatus> ParseMessageStatus(std::string_view text) noexcept {
  for (auto status : {MessageStatus::kPending, MessageStatus::kSent, MessageStatus::kDelivered,
                      MessageStatus::kRead, MessageStatus::kFailed}) {
    if (ToString(status) == text) return status;
  }
  return std::nullopt;
}

std::string_view ToString(ClientError::Kind kind) noexcept {
  switch (kind) {
    case ClientError::Kind::kUndecryptable:
      return "undecryptable";
    case ClientError::Kind::kNoKey:
      return "no_key";
    case ClientError::Kind::kServer:
      return "server";
    case ClientError::Kind::kState:
      return "state";
    case ClientError::Kind::kNetwork:
      return "network";
  }
  return "server";
}

std::string_view ToString(ConnectionEvent event) noexcept {
  switch (event) {
    case ConnectionEvent::kConnected:
      return "connected";
    case ConnectionEvent::kSynced:
      return "synced";
    case ConnectionEvent::kDisconnected:
      return "disconnected";
  }
  return "disconnected";
}

}  // namespace sparrow::client
