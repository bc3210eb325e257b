// The bridge's logic: everything devices publish on im/up/{user}/{device} becomes stored,
// ordered, deduplicated frames with receipts (topics.md; docs/DESIGN.md "A message's way").
//
// Process() takes the frames that arrived together and handles them as one group commit:
//   1. keep only the devices this instance owns (Membership); decode; answer bad_frame /
//      too_large / spoofed_sender at once; forward `sync` to the sync service
//      (im/sys/sync/{user}/{device}, on the broker the device is on);
//   2. order each device's chats by id (ChatOrderer); decide not_friends when a chat's turn
//      comes (FriendshipCache);
//   3. resolve receipts (the chat must be addressed to the acking user, else unknown_message);
//   4. write every accepted chat and receipt in ONE store transaction;
//   5. only then publish: SENT to the sending device, the chat to the recipient's inbox, the
//      sender's copy to the sender's other devices, receipts to the chat's sender, each only
//      on the brokers where that user has devices (Router); and answer repeats with the SENT
//      of the first time.
// If the store fails, nothing is answered (no SENT): devices resend with the same ids, and the
// ordering state of the devices concerned is dropped and reloaded from the store.
// Tick() retransmits chats that got no DELIVERED in time, refuses chats that waited too long
// for a predecessor (after checking the store: another instance may have applied it), and
// sends this instance's heartbeat.
//
// Not thread-safe: one core thread owns it (BridgeService). Time comes from the Clock.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bridge/ack_tracker.hpp"
#include "bridge/bridge_metrics.hpp"
#include "bridge/chat_orderer.hpp"
#include "bridge/friendships.hpp"
#include "bridge/membership.hpp"
#include "bridge/router.hpp"
#include "common/clock.hpp"
#include "offline/message_store.hpp"
#include "protocol/frames.hpp"
#include "protocol/identity.hpp"
#include "transport/transport.hpp"

namespace sparrow::bridge {

struct BridgeOptions {
  std::string instance = "local";  // this instance's name in heartbeats (deviceId alphabet)
  ChatOrderer::Options ordering{};
  AckTracker::Options acks{};
  FriendshipCache::Options friendships{};
  Membership::Options membership{};
  // Chats whose info (sender, recipient, receipts) is remembered for receipts without a read.
  std::size_t chat_cache_entries = 200'000;
};

// What the transports deliver to the core: a message from broker `broker`, or the news that
// the connection to `broker` was (re)established.
struct Inbound {
  enum class Kind { kMessage, kConnected };
  Kind kind = Kind::kMessage;
  int broker = 0;
  transport::Message message{};
};

class BridgeCore {
 public:
  // All references must outlive the core. `metrics` may be null.
  BridgeCore(Router& router, offline::MessageStore& store, FriendshipSource& friendships,
             const common::Clock& clock, BridgeOptions options, BridgeMetrics* metrics);

  // Handles what arrived together (im/up/+/+, im/sys/relation/+/+, im/sys/presence/#,
  // im/sys/bridge/+); other topics are ignored. Never throws for anything a device sent;
  // store failures are handled as above.
  void Process(std::vector<Inbound>& inbound);

  // Retransmissions, reorder timeouts and the heartbeat that are due now.
  void Tick();
  // When Tick() next has work.
  std::optional<common::SteadyTime> NextDeadline() const;

  // Forgets all per-device ordering state (e.g. after an unexpected failure).
  void ResetOrdering() { orderer_.ForgetAll(); }

  std::size_t pending_acks() const { return tracker_.pending(); }
  std::size_t waiting_chats() const { return orderer_.waiting(); }
  const Membership& membership() const { return membership_; }

 private:
  // A device and the broker it spoke through (answers go back there).
  struct Origin {
    protocol::DeviceAddress device;
    int broker = 0;
  };
  struct AcceptedChat {
    Origin origin;
    protocol::ChatUp chat;
  };
  struct Receipt {
    Origin origin;  // the acking device (a device of the recipient)
    protocol::AckUp ack;
  };
  struct Work {
    std::vector<AcceptedChat> chats;
    std::vector<AcceptedChat> repeats;
    std::vector<Receipt> receipts;
  };
  // What the bridge remembers of a chat it stored, so that receipts need no read.
  struct ChatInfo {
    std::string from_user;
    std::string from_device;
    std::int64_t client_id = 0;
    std::string dest_user;
    bool delivered = false;
    bool read = false;
  };

  void HandleMessage(int broker, transport::Message& message, Work& work);
  void HandleUp(const Origin& origin, const std::string& payload, Work& work);
  void HandleChat(const Origin& origin, protocol::ChatUp chat, Work& work);
  void TakeTurn(const Origin& origin, protocol::ChatUp chat, Work& work);
  void HandleRelation(const std::string& topic, const std::string& payload);
  void HandlePresence(int broker, const std::string& topic, const std::string& payload);
  void HandleHeartbeat(const std::string& topic);
  void OnMembershipChanged();
  void ExpireWaitingChats(Work& work);
  void Commit(Work& work);
  void AnswerRepeats(const std::vector<AcceptedChat>& repeats);
  // A repeat named a stored chat this life did not publish: publish its stored frame again.
  void RedeliverRepeat(const std::string& mid);
  // Whether the store has a DELIVERED for `mid` (recorded by another bridge instance).
  bool DeliveredElsewhere(const std::string& mid);
  std::optional<ChatInfo> LookUpChat(const std::string& mid);
  void RememberChat(const std::string& mid, ChatInfo info);

  void SendError(const Origin& origin, const protocol::ErrorFrame& error);
  void SendSent(const Origin& origin, const protocol::ChatUp& chat, const std::string& mid);
  // Publishes `payload` on `topic` of every broker in `brokers`; true if one took it.
  bool PublishTo(const std::vector<int>& brokers, const std::string& topic,
                 const std::string& payload);
  bool Publish(int broker, const std::string& topic, const std::string& payload);

  Router& router_;
  offline::MessageStore& store_;
  const common::Clock& clock_;
  BridgeOptions options_;
  BridgeMetrics* metrics_;
  ChatOrderer orderer_;
  AckTracker tracker_;
  FriendshipCache friendships_;
  Membership membership_;
  std::unordered_map<std::string, ChatInfo> chats_;
  std::deque<std::string> chats_order_;  // FIFO eviction of chats_
};

}  // namespace sparrow::bridge
