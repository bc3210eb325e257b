// The frame model: one struct per JSON frame of PROTOCOL.md ("Frames"), independent of JSON.
// codec.hpp converts between these structs and bytes.
//
// Plain value types (copyable, comparable, no invariants enforced by the type): a frame made by
// the decoder satisfies every rule stated on its fields; a frame built by our own code must
// satisfy them before it is encoded. Thread-compatible.
//
// Numeric fields keep distinct, documented meanings:
//   chat id   (`id`, `ackMsgId`, `lastId`, `expected`): std::int64_t, chosen by the sending
//             device, 1..kMaxChatId (`lastId` may be 0: nothing accepted yet);
//   seq       (`seq`, `after`, `upto`): std::uint64_t, the per-user sequence, 0..kMaxSeq,
//             where a `seq` of 0 means "none" (the field is not written);
//   timestamp (`ts`): std::int64_t, ms since the Unix epoch.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/limits.hpp"

namespace sparrow::protocol {

// `kind` of a chat.
enum class ChatKind {
  kText,  // "text"
  kFile,  // "file": msgBody carries the (encrypted) descriptor of an uploaded file
};

// `msgType` of an ack.
enum class AckType {
  kSent,       // "SENT": server -> sender only; the chat is durably stored
  kDelivered,  // "DELIVERED"
  kRead,       // "READ"
};

// `code` of an error frame.
enum class ErrorCode {
  kBadFrame,        // "bad_frame"
  kTooLarge,        // "too_large"
  kNotFriends,      // "not_friends"
  kSpoofedSender,   // "spoofed_sender"
  kUnknownMessage,  // "unknown_message"
  kOutOfOrder,      // "out_of_order"
  kRateLimited,     // "rate_limited"
  kInternal,        // "internal"
};

// The exact wire strings above. Parsers are case-sensitive and return nullopt on anything else.
[[nodiscard]] std::string_view ToString(ChatKind kind) noexcept;
[[nodiscard]] std::string_view ToString(AckType type) noexcept;
[[nodiscard]] std::string_view ToString(ErrorCode code) noexcept;
[[nodiscard]] std::optional<ChatKind> ParseChatKind(std::string_view text) noexcept;
[[nodiscard]] std::optional<AckType> ParseAckType(std::string_view text) noexcept;
[[nodiscard]] std::optional<ErrorCode> ParseErrorCode(std::string_view text) noexcept;

// Print the wire string (for test failure messages and logs).
std::ostream& operator<<(std::ostream& os, ChatKind kind);
std::ostream& operator<<(std::ostream& os, AckType type);
std::ostream& operator<<(std::ostream& os, ErrorCode code);

// ---- Client -> server, on im/up/{userId}/{deviceId} ----

// {"type":"chat","id":42,"destId":"bob","kind":"text","msgBody":"...","fromId":"alice"?}
struct ChatUp {
  std::int64_t id = 0;  // chat id, 1..kMaxChatId, consecutive per device
  std::string dest_id;  // a valid userId
  ChatKind kind = ChatKind::kText;
  std::string msg_body;  // UTF-8, at most kMaxBodyBytes bytes; opaque to the server
  // Any string when decoded; the bridge refuses it with spoofed_sender unless it equals the
  // topic's userId.
  std::optional<std::string> from_id;

  friend bool operator==(const ChatUp&, const ChatUp&) = default;
};

// {"type":"ack","msgType":"DELIVERED","mid":"..."}
struct AckUp {
  AckType msg_type = AckType::kDelivered;  // kDelivered or kRead only (never kSent)
  std::string mid;                         // 1..kMaxMidBytes bytes

  friend bool operator==(const AckUp&, const AckUp&) = default;
};

// {"type":"sync","after":17}
struct SyncUp {
  std::uint64_t after = 0;  // seq, 0..kMaxSeq; 0 = everything

  friend bool operator==(const SyncUp&, const SyncUp&) = default;
};

// ---- Server -> client, on im/in/{userId} (live, with seq) or im/in/{userId}/{deviceId} ----

// {"seq":18,"type":"chat","mid":"...","id":42,"fromId":"alice","fromDevice":"phone",
//  "destId":"bob","kind":"text","msgBody":"...","ts":1764430000000}
struct ChatDown {
  std::uint64_t seq = 0;    // seq, 0 = none (not written: the stored form)
  std::string mid;          // 1..kMaxMidBytes bytes, unique across the deployment
  std::int64_t id = 0;      // the sender's chat id, 1..kMaxChatId
  std::string from_id;      // valid userId: the sender
  std::string from_device;  // valid deviceId: the sending device
  std::string dest_id;      // valid userId: the recipient
  ChatKind kind = ChatKind::kText;
  std::string msg_body;  // UTF-8, at most kMaxBodyBytes bytes
  std::int64_t ts = 0;   // timestamp: when the server stored it, ms since the epoch

  friend bool operator==(const ChatDown&, const ChatDown&) = default;
};

// {"seq":9,"type":"ack","msgType":"READ","fromId":"bob","destId":"alice","ackMsgId":42,
//  "ackDevice":"phone","mid":"..."}
struct AckDown {
  std::uint64_t seq = 0;  // seq, 0 = none (always 0 for kSent: an answer, not stored)
  AckType msg_type = AckType::kSent;
  std::string from_id;  // valid userId: SENT: the chat's sender; DELIVERED/READ: the recipient
  std::string dest_id;  // valid userId: SENT: the chat's recipient; DELIVERED/READ: its sender
  std::int64_t ack_msg_id = 0;  // the chat's id, 1..kMaxChatId
  std::string ack_device;       // valid deviceId: the chat's fromDevice
  std::string mid;              // the chat's mid

  friend bool operator==(const AckDown&, const AckDown&) = default;
};

// {"type":"synced","upto":31,"lastId":41}
struct Synced {
  std::uint64_t upto = 0;    // seq, 0..kMaxSeq: highest seq stored when the replay was read
  std::int64_t last_id = 0;  // chat id, 0..kMaxChatId: highest accepted from this device

  friend bool operator==(const Synced&, const Synced&) = default;
};

// {"type":"error","id":42,"code":"out_of_order","message":"...","mid":"...","expected":41}
struct ErrorFrame {
  std::optional<std::int64_t> id;  // the refused chat's id (1..kMaxChatId), if it had one
  ErrorCode code = ErrorCode::kInternal;
  std::string message;                   // human-readable UTF-8; never contains a message body
  std::optional<std::string> mid;        // the refused ack's mid
  std::optional<std::int64_t> expected;  // out_of_order: the chat id the server waits for
  // Decoded frames only: the `code` exactly as received when it is not one this build knows
  // (a newer server's code); `code` is then kInternal. Never written by EncodeError.
  std::optional<std::string> unknown_code;

  friend bool operator==(const ErrorFrame&, const ErrorFrame&) = default;
};

}  // namespace sparrow::protocol
