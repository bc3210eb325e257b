// Session: the protocol engine of one device (topics.md), single-threaded and without a clock
// or network of its own: the Client feeds it transport events and app commands on its one
// thread; unit tests feed it directly with a FakeTransport and a ManualClock.
//
// What it does:
//   - On every (re)connect: `sync` from lastSeq (resent if no `synced` comes within
//     sync_timeout, backing off); outgoing chats resent with their ids.
//   - Incoming frames with a seq go through the ReorderBuffer: each reaches the app once, in
//     seq order; a gap that does not fill triggers a `sync`. Chats addressed to this user are
//     decrypted and passed to on_message, then DELIVERED is sent (also for repeats: a repeat
//     means the server did not get the ack). Own copies (fromId == user) are never acked;
//     those of other devices are shown as outgoing messages.
//   - Outgoing chats go through the Outbox (ids, window, resends, renumbering); their bodies
//     are sealed at each publish under the relation key with (fromId, destId, id) bound.
//     SENT, DELIVERED and READ become on_status calls in that order; a DELIVERED or READ, or
//     the user's own copy, that overtakes its SENT counts as the SENT.
//   - State (lastSeq, lastId, outbox) is handed to `persist` whenever it changed, before
//     anything newly numbered is published; the History gets each message and status.
//
// Receive-less sessions (SessionOptions::receive = false, for one-shot senders) ignore frames
// with a seq and do not advance lastSeq, so a later receiving session of the same device still
// sees everything; they sync only when they have no state (to learn lastId).
//
// Not thread-safe: every method runs on the owner's thread. Callbacks run inside these methods.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "client/history.hpp"
#include "client/key_ring.hpp"
#include "client/message.hpp"
#include "client/outbox.hpp"
#include "client/reorder_buffer.hpp"
#include "client/state_store.hpp"
#include "common/clock.hpp"
#include "protocol/frames.hpp"
#include "transport/transport.hpp"

namespace sparrow::client {

struct SessionOptions {
  std::string user;    // a valid userId
  std::string device;  // a valid deviceId
  bool receive = true;
  Outbox::Options outbox{};
  ReorderBuffer::Options reorder{};
  std::chrono::milliseconds sync_timeout{4000};  // first wait for `synced`; doubles to 30 s
  // DELIVERED/READ receipts published within this window before a disconnect are published
  // again after the reconnect (they are idempotent; a QoS 1 publish can die with a connection).
  std::chrono::milliseconds receipt_replay{30000};
};

struct SessionDeps {
  transport::Transport& transport;
  const common::Clock& clock;
  KeyRing& keys;
  History* history = nullptr;                         // optional
  std::function<void(const DeviceState&)> persist{};  // may throw StateError; optional
};

class Session {
 public:
  // `restored`: the device's saved state, or nullopt for a new device (then nothing is
  // numbered before the first `synced`).
  Session(SessionOptions options, SessionDeps deps, Callbacks callbacks,
          std::optional<DeviceState> restored);

  // The topics to subscribe to (QoS 1) before the transport starts.
  [[nodiscard]] std::vector<std::string> Subscriptions() const;

  // Transport events.
  void OnConnection(bool connected);
  void OnMessage(const transport::Message& message);

  // Queues a chat to `peer`: the text, or for kFile the descriptor JSON (`display` is what the
  // app shows: the text, or the file's name). Returns an error text when refused at once
  // (invalid peer, no relation key, too long, not UTF-8); nothing is queued then.
  std::optional<std::string> Send(const std::string& local_id, const std::string& peer,
                                  protocol::ChatKind kind, std::string payload,
                                  const std::optional<FileInfo>& file = std::nullopt);
  // Sends READ for the chat `mid` from `peer` (once connected).
  void MarkRead(const std::string& peer, const std::string& mid);

  // Runs what is due: sync retries, gap syncs. Then call Flush().
  void Tick();
  // Persists what changed, then publishes what is queued (chats due, receipts).
  void Flush();
  // When Tick/Flush next have timed work (nullopt: nothing timed).
  [[nodiscard]] std::optional<common::SteadyTime> NextDeadline() const;

  [[nodiscard]] bool connected() const { return connected_; }
  [[nodiscard]] bool synced() const { return synced_since_connect_; }
  [[nodiscard]] std::size_t pending() const { return outbox_.size(); }
  [[nodiscard]] DeviceState State() const;

 private:
  struct Tracked {  // an outgoing message whose receipts we report
    std::string local_id;
    std::string peer;
    MessageStatus status = MessageStatus::kPending;
  };
  struct RecentReceipt {
    common::SteadyTime at;
    protocol::AckUp ack;
  };

  void SendSync();
  void Publish(const std::string& topic, const std::string& payload);
  void HandleReleased(SeqFrame frame);
  void HandleChat(const protocol::ChatDown& chat);
  void HandleReceipt(const protocol::AckDown& ack);
  void HandleSynced(const protocol::Synced& synced);
  void HandleError(const protocol::ErrorFrame& error);
  void HandleAccepted(std::int64_t id, const std::string& mid);
  void Advance(const std::string& mid, const std::string& peer, MessageStatus status);
  void Fail(const OutgoingChat& chat, const std::string& reason);
  void QueueReceipt(protocol::AckType type, const std::string& mid);
  void Track(const std::string& mid, Tracked tracked);
  std::optional<Message> Decrypt(const protocol::ChatDown& chat);
  void RestoreTracking();

  // Callback wrappers: an exception from the app is logged, never propagated.
  void EmitMessage(const Message& message);
  void EmitStatus(const StatusUpdate& update);
  void EmitError(ClientError error);
  void EmitConnection(ConnectionEvent event);

  const SessionOptions options_;
  SessionDeps deps_;
  Callbacks callbacks_;
  const bool restored_;
  Outbox outbox_;
  ReorderBuffer reorder_;
  const std::string up_topic_;
  const std::string inbox_topic_;
  const std::string device_topic_;

  bool connected_ = false;
  bool synced_since_connect_ = false;
  bool sync_outstanding_ = false;
  std::chrono::milliseconds sync_wait_{};
  common::SteadyTime sync_deadline_{};
  bool state_dirty_ = false;  // lastSeq moved since the last persist

  std::vector<protocol::AckUp> receipts_;      // to publish at the next Flush
  std::deque<RecentReceipt> recent_receipts_;  // published, replayed after a reconnect
  std::vector<Message> history_pending_;       // outgoing messages to record once persisted

  std::unordered_map<std::string, Tracked> tracked_;  // by mid
  std::deque<std::string> tracked_order_;             // oldest first, to bound tracked_
};

}  // namespace sparrow::client
