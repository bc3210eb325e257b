// The message store: users' inboxes (every frame stored for a user, numbered by the user's
// `seq`), the accepted chats (dedupe, receipts) and the per-device state (last chat id, sync
// cursor). See docs/DESIGN.md "Data model" and PROTOCOL.md "Sequence".
//
// Frame contents are opaque bytes here: the bridge encodes each frame's JSON without its `seq`
// and the publisher splices the seq in, so the store stores bytes and hands out seqs.
//
// Implementations: SociMessageStore (SQLite, MySQL/MariaDB) and testing::InMemoryMessageStore.
// One contract test suite (testing/store_contract_test.cpp) runs against all of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sparrow::offline {

enum class ReceiptKind { kDelivered, kRead };

// im_offline.msg_type: "chat" (a chat received, or the sender's own copy) or "ack" (a receipt).
enum class FrameKind { kChat, kAck };

// A chat to store: a frame in the recipient's inbox, the sender's own copy in the sender's
// inbox (for their other devices), and the dedupe record.
struct ChatWrite {
  std::string mid;  // unique across the deployment (common::NewMid)
  std::string from_user;
  std::string from_device;
  std::int64_t client_id = 0;  // the chat's `id` from the device, >= 1
  std::string dest_user;
  std::int64_t gmt_create = 0;  // ms since the epoch (the frame's `ts`)
  std::string dest_content;     // the frame for dest_user's inbox, without `seq`
  std::string sender_content;   // the frame for from_user's inbox, without `seq`
};

// A DELIVERED or READ receipt for a stored chat, from a device of its recipient.
struct ReceiptWrite {
  std::string mid;  // the chat's mid
  ReceiptKind kind = ReceiptKind::kDelivered;
  std::int64_t at = 0;      // ms since the epoch, > 0
  std::string sender_user;  // the chat's sender: whose inbox gets the receipt frame
  std::string content;      // the receipt frame for sender_user's inbox, without `seq`
};

// Everything one group commit writes, in one transaction. Seqs follow the batch order per
// user: first the chats, in order (each chat: the recipient's frame, then the sender's copy),
// then the receipts, in order. A receipt must name a chat committed by an earlier batch.
struct WriteBatch {
  std::vector<ChatWrite> chats;
  std::vector<ReceiptWrite> receipts;
};

enum class ChatOutcome {
  kStored,     // written now; or this very chat (same mid) was already stored by an earlier
               // commit whose answer was lost (e.g. a retried commit): seqs are the stored ones
  kDuplicate,  // (from_user, from_device, client_id) was stored before with another mid, or
               // appears earlier in this batch: nothing written; `mid` is the first one's
};
struct ChatResult {
  ChatOutcome outcome = ChatOutcome::kStored;
  std::string mid;               // the stored chat's mid (the first one's for a duplicate)
  std::uint64_t dest_seq = 0;    // the recipient's seq of the chat (also for duplicates)
  std::uint64_t sender_seq = 0;  // the sender copy's seq (also for duplicates)

  friend bool operator==(const ChatResult&, const ChatResult&) = default;
};

enum class ReceiptOutcome {
  kRecorded,         // the chat's delivered_at/read_at went from 0 to `at`; frame stored
  kAlreadyRecorded,  // that receipt was recorded before (or earlier in this batch): nothing
                     // written
  kUnknownChat,      // no chat with that mid sent by sender_user: nothing written
};
struct ReceiptResult {
  ReceiptOutcome outcome = ReceiptOutcome::kRecorded;
  std::uint64_t seq = 0;  // kRecorded: the receipt frame's seq in sender_user's inbox

  friend bool operator==(const ReceiptResult&, const ReceiptResult&) = default;
};

// One result per write, in the order of the batch.
struct [[nodiscard]] BatchResult {
  std::vector<ChatResult> chats;
  std::vector<ReceiptResult> receipts;
};

// An accepted chat (im_chat).
struct ChatRecord {
  std::string mid;
  std::string from_user;
  std::string from_device;
  std::int64_t client_id = 0;
  std::string dest_user;
  std::uint64_t dest_seq = 0;
  std::uint64_t sender_seq = 0;
  std::int64_t delivered_at = 0;  // 0: not yet
  std::int64_t read_at = 0;       // 0: not yet
  std::int64_t gmt_create = 0;

  friend bool operator==(const ChatRecord&, const ChatRecord&) = default;
};

// A frame of a user's inbox (im_offline).
struct StoredFrame {
  std::uint64_t seq = 0;
  FrameKind kind = FrameKind::kChat;
  std::string mid;      // the chat's mid (for a receipt: the chat it is about)
  std::string content;  // the bytes given to Commit

  friend bool operator==(const StoredFrame&, const StoredFrame&) = default;
};

// Threads: each implementation says. Errors: failures of the store throw StoreError
// (offline/store_error.hpp); outcomes (duplicates, unknown chats) are values, never errors.
class MessageStore {
 public:
  virtual ~MessageStore() = default;

  // Writes the batch in ONE transaction: all of it or (on StoreError) nothing.
  //   chat: kStored -> a frame in dest_user's inbox with their next seq, the sender copy in
  //     from_user's inbox with their next seq, the im_chat row, and the device's last id raised
  //     to max(last id, client_id). kDuplicate -> nothing.
  //   receipt: a compare-and-set of the chat's delivered_at/read_at from 0 to `at`. kRecorded ->
  //     the receipt frame in sender_user's inbox with their next seq; a DELIVERED also marks the
  //     recipient's inbox frame of the chat as read (has_read). A READ does not imply DELIVERED:
  //     the caller sends both when it needs both.
  // Seqs are per user, 1, 2, 3, ... with no gap and no repeat, also with several writers
  // (threads or processes) on one database.
  virtual BatchResult Commit(const WriteBatch& batch) = 0;

  // The chat with this mid, if it was stored.
  virtual std::optional<ChatRecord> FindChat(const std::string& mid) = 0;

  // The mid stored for (from_user, from_device, client_id), if any (the dedupe key).
  virtual std::optional<std::string> FindChatMid(const std::string& from_user,
                                                 const std::string& from_device,
                                                 std::int64_t client_id) = 0;

  // The highest chat id stored from this device (0 for a device never seen): `lastId`.
  virtual std::int64_t LastChatId(const std::string& user, const std::string& device) = 0;

  // The highest seq handed out for this user (0 if none).
  virtual std::uint64_t LastSeq(const std::string& user) = 0;

  // The user's frames with after_seq < seq <= upto_seq, in seq order, at most `limit` of them.
  // To read a backlog, call again with after_seq = the last seq returned until fewer than
  // `limit` frames come back. Purged frames are simply absent.
  virtual std::vector<StoredFrame> ReadInbox(const std::string& user, std::uint64_t after_seq,
                                             std::uint64_t upto_seq, std::size_t limit) = 0;

  // Raises the device's sync cursor (the highest seq it has synced) to `seq`; a lower value
  // changes nothing (the cursor never goes back).
  virtual void SetSyncCursor(const std::string& user, const std::string& device,
                             std::uint64_t seq) = 0;
  // The device's sync cursor (0 for a device never seen).
  virtual std::uint64_t SyncCursor(const std::string& user, const std::string& device) = 0;

  // Retention: deletes up to `max_rows` inbox frames created before `older_than_ms` that
  //   - are marked read (has_read: a device of the user acknowledged them), or
  //   - have a seq <= the sync cursor of every device of their user (all of them have it;
  //     a user with no device row keeps everything).
  // Oldest first. im_chat rows are kept, so dedupe and receipts keep working. Returns the number
  // deleted; call again while it returns max_rows.
  virtual std::size_t PurgeDelivered(std::int64_t older_than_ms, std::size_t max_rows) = 0;
};

}  // namespace sparrow::offline
