// What the app sees of messages: decrypted chats, their delivery status, errors. Plain value
// types, copyable, thread-compatible; produced by the client thread and handed to callbacks.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/frames.hpp"

namespace sparrow::client {

// Where an outgoing message stands. Only moves forward: kPending -> kSent -> kDelivered ->
// kRead, or kPending -> kFailed. A receipt that skips a step (READ before DELIVERED) is
// reported as every step in order.
enum class MessageStatus {
  kPending,    // queued in the outbox, not yet acknowledged by the server
  kSent,       // SENT: the server stored it durably
  kDelivered,  // a device of the recipient received it
  kRead,       // the recipient read it
  kFailed,     // refused by the server, or no SENT after the last try
};

// "pending", "sent", "delivered", "read", "failed".
[[nodiscard]] std::string_view ToString(MessageStatus status) noexcept;
[[nodiscard]] std::optional<MessageStatus> ParseMessageStatus(std::string_view text) noexcept;

// The decrypted descriptor of a file message. `key` is the per-file secret: keep it private.
struct FileInfo {
  std::string file_id;       // for GET /api/v1/files/{fileId}
  std::string name;          // the sender's file name (not sanitized: see SafeFileName)
  std::uint64_t size = 0;    // plaintext bytes
  std::string sha256;        // of the plaintext, lowercase hex
  std::string content_type;  // e.g. "image/png"
  std::string key;           // 32 bytes: the contents' AES-256-GCM key
  std::uint64_t chunk_bytes = 0;

  friend bool operator==(const FileInfo&, const FileInfo&) = default;
};

// A chat of a conversation, decrypted.
struct Message {
  // For messages sent from this device: the handle Send() returned. Empty otherwise.
  std::string local_id;
  std::string mid;  // the server's id; empty while an outgoing message is pending
  std::string from;
  std::string to;
  std::string from_device;
  bool outgoing = false;  // from == this user (sent from this or another of the user's devices)
  protocol::ChatKind kind = protocol::ChatKind::kText;
  std::string text;              // kText: the text; kFile: the file's name
  std::optional<FileInfo> file;  // kFile only
  std::int64_t id = 0;           // the sending device's chat id
  std::uint64_t seq = 0;         // this user's seq of the chat (0 while pending)
  std::int64_t ts = 0;           // server time of storing, ms since the epoch (0 if pending)

  // The other user of the conversation.
  [[nodiscard]] const std::string& peer() const { return outgoing ? to : from; }
};

// A status change of an outgoing message.
struct StatusUpdate {
  std::string local_id;  // the Send() handle, when the message was sent from this device
  std::string mid;       // empty only for kFailed before the server stored it
  std::string peer;
  MessageStatus status = MessageStatus::kPending;
  std::string reason;  // kFailed: why (an error code of topics.md, or "timeout")
};

// Something the app should know about but that is not a message or a status.
struct ClientError {
  enum class Kind {
    kUndecryptable,  // a chat whose body does not authenticate (never shown); `mid`, `peer`
    kNoKey,          // no relation key with `peer` (not friends any more?)
    kServer,         // an error frame not about one of our chats (e.g. unknown_message)
    kState,          // the local state file could not be written
    kNetwork,        // the REST service could not be reached
  };
  Kind kind = Kind::kServer;
  std::string code;  // the server's error code when there is one
  std::string message;
  std::string mid;
  std::string peer;
};

[[nodiscard]] std::string_view ToString(ClientError::Kind kind) noexcept;

enum class ConnectionEvent {
  kConnected,     // the MQTT connection is up (after every reconnect)
  kSynced,        // the first `synced` after a connect: everything stored so far was seen
  kDisconnected,  // the connection was lost (the client reconnects by itself) or closed
};

[[nodiscard]] std::string_view ToString(ConnectionEvent event) noexcept;

// The app's callbacks. Each may be empty. They run on the client's own thread, one at a time,
// never on a network thread (client.hpp): they may call the Client's methods, but a slow
// callback delays every other event. An exception escaping one is logged and dropped.
struct Callbacks {
  // A chat of a conversation: incoming ones (DELIVERED is sent automatically when this
  // returns) and ones sent from the user's other devices. Each exactly once, in seq order.
  std::function<void(const Message&)> on_message;
  // A status change of an outgoing message, in order: sent, delivered, read (or failed).
  std::function<void(const StatusUpdate&)> on_status;
  std::function<void(const ClientError&)> on_error;
  std::function<void(ConnectionEvent)> on_connection;
};

}  // namespace sparrow::client
