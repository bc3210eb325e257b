#include "bridge/bridge_core.hpp"

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/failpoint.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "offline/store_error.hpp"
#include "protocol/codec.hpp"
#include "protocol/topics.hpp"

namespace sparrow::bridge {
namespace {

using protocol::AckType;
using protocol::ErrorCode;
using protocol::ErrorFrame;

ErrorFrame ChatError(std::int64_t id, ErrorCode code, std::string message,
                     std::optional<std::int64_t> expected = std::nullopt) {
  ErrorFrame error;
  error.id = id;
  error.code = code;
  error.message = std::move(message);
  error.expected = expected;
  return error;
}

ErrorFrame AckError(const std::string& mid, ErrorCode code, std::string message) {
  ErrorFrame error;
  error.mid = mid;
  error.code = code;
  error.message = std::move(message);
  return error;
}

ErrorFrame OutOfOrder(std::int64_t id, std::int64_t expected) {
  return ChatError(id, ErrorCode::kOutOfOrder,
                   "chat " + std::to_string(id) + " arrived before chat " +
                       std::to_string(expected) + "; resend from " + std::to_string(expected),
                   expected);
}

}  // namespace

BridgeCore::BridgeCore(Router& router, offline::MessageStore& store, FriendshipSource& friendships,
                       const common::Clock& clock, BridgeOptions options, BridgeMetrics* metrics)
    : router_(router),
      store_(store),
      clock_(clock),
      options_(options),
      metrics_(metrics),
      orderer_(options.ordering),
      tracker_(options.acks),
      friendships_(friendships, options.friendships),
      membership_(options.instance, options.membership) {}

void BridgeCore::Process(std::vector<Inbound>& inbound) {
  Work work;
  for (auto& item : inbound) {
    if (item.kind == Inbound::Kind::kConnected) {
      router_.OnBrokerConnected(item.broker);
      continue;
    }
    HandleMessage(item.broker, item.message, work);
  }
  Commit(work);
  if (metrics_ != nullptr) {
    metrics_->pending_acks.Set(static_cast<double>(tracker_.pending()));
    metrics_->waiting_chats.Set(static_cast<double>(orderer_.waiting()));
    metrics_->online_devices.Set(static_cast<double>(router_.online_devices()));
    for (int b = 0; b < static_cast<int>(router_.broker_count()); ++b) {
      metrics_->BrokerDevices(router_.broker_id(b))
          .Set(static_cast<double>(router_.online_devices(b)));
    }
  }
}

void BridgeCore::HandleMessage(int broker, transport::Message& message, Work& work) {
  const std::string& topic = message.topic;
  if (auto device = protocol::ParseUpTopic(topic)) {
    // Every bridge receives every device's frames; the owner applies them.
    if (!membership_.Owns(device->user, device->device)) return;
    HandleUp(Origin{std::move(*device), broker}, message.payload, work);
  } else if (topic.starts_with("im/sys/presence/")) {
    HandlePresence(broker, topic, message.payload);
  } else if (topic.starts_with("im/sys/bridge/")) {
    HandleHeartbeat(topic);
  } else if (topic.starts_with("im/sys/relation/")) {
    HandleRelation(topic, message.payload);
  } else {
    common::Logger("bridge")->debug("ignored topic={}", topic);
  }
}

void BridgeCore::HandleUp(const Origin& origin, const std::string& payload, Work& work) {
  protocol::UpFrame frame = protocol::DecodeUp(payload);
  if (auto* chat = std::get_if<protocol::ChatUp>(&frame)) {
    if (metrics_ != nullptr) metrics_->frames_in_chat.Increment();
    HandleChat(origin, std::move(*chat), work);
  } else if (auto* ack = std::get_if<protocol::AckUp>(&frame)) {
    if (metrics_ != nullptr) metrics_->frames_in_ack.Increment();
    work.receipts.push_back(Receipt{origin, std::move(*ack)});
  } else if (std::holds_alternative<protocol::SyncUp>(frame)) {
    if (metrics_ != nullptr) metrics_->frames_in_sync.Increment();
    // The sync service answers it, on the broker the device is on; forwarding keeps the
    // device's frames on one subscription.
    Publish(origin.broker, protocol::SyncTopic(origin.device), payload);
  } else {
    if (metrics_ != nullptr) metrics_->frames_in_invalid.Increment();
    SendError(origin, protocol::ToErrorFrame(std::get<protocol::DecodeError>(frame)));
  }
}

void BridgeCore::HandleChat(const Origin& origin, protocol::ChatUp chat, Work& work) {
  const protocol::DeviceAddress& device = origin.device;
  if (chat.from_id && *chat.from_id != device.user) {
    SendError(origin, ChatError(chat.id, ErrorCode::kSpoofedSender,
                                "fromId is not the user of this connection"));
    return;
  }
  auto now = clock_.Now();
  if (!orderer_.Known(device)) {
    try {
      orderer_.Load(device, store_.LastChatId(device.user, device.device), now);
    } catch (const offline::StoreError& e) {
      // No answer: the device resends, and by then the store may be back.
      if (metrics_ != nullptr) metrics_->store_failures.Increment();
      common::Logger("bridge")->warn("store unavailable, chat dropped user={} device={} err={}",
                                     device.user, device.device, e.what());
      return;
    }
  }
  switch (orderer_.Offer(device, chat, now, origin.broker)) {
    case ChatOrderer::Verdict::kRepeat:
      work.repeats.push_back(AcceptedChat{origin, std::move(chat)});
      break;
    case ChatOrderer::Verdict::kWaiting:
      break;
    case ChatOrderer::Verdict::kRefused:
      SendError(origin, OutOfOrder(chat.id, orderer_.Expected(device)));
      break;
    case ChatOrderer::Verdict::kReady:
      TakeTurn(origin, std::move(chat), work);
      break;
  }
}

void BridgeCore::TakeTurn(const Origin& first_origin, protocol::ChatUp chat, Work& work) {
  Origin origin = first_origin;
  const protocol::DeviceAddress& device = first_origin.device;
  for (;;) {
    bool friends = false;
    try {
      friends = friendships_.AreFriends(device.user, chat.dest_id, clock_.Now());
    } catch (const offline::StoreError& e) {
      if (metrics_ != nullptr) metrics_->store_failures.Increment();
      common::Logger("bridge")->warn("store unavailable, chat dropped user={} device={} err={}",
                                     device.user, device.device, e.what());
      orderer_.Forget(device);
      return;
    }
    if (!friends) {
      SendError(origin, ChatError(chat.id, ErrorCode::kNotFriends,
                                  chat.dest_id + " is not a friend of " + device.user));
      for (auto& refused : orderer_.Refuse(device, chat.id)) {
        SendError(Origin{refused.device, refused.origin},
                  OutOfOrder(refused.chat.id, refused.expected));
      }
      return;
    }
    std::int64_t id = chat.id;
    work.chats.push_back(AcceptedChat{origin, std::move(chat)});
    auto next = orderer_.Accept(device, id);
    if (!next) return;
    chat = std::move(next->chat);
    origin.broker = next->origin;
  }
}

void BridgeCore::HandleRelation(const std::string& topic, const std::string& payload) {
  auto pair = protocol::ParseRelationTopic(topic);
  if (!pair) return;
  auto json = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("friends") || !json["friends"].is_boolean()) {
    common::Logger("bridge")->warn("bad relation announcement topic={}", topic);
    return;
  }
  friendships_.Set(pair->a, pair->b, json["friends"].get<bool>(), clock_.Now());
}

namespace {

// The "epoch" of a presence payload (`{"epoch":ms,...}`), 0 when absent or malformed.
std::int64_t EpochOf(const std::string& payload) {
  if (payload.empty()) return 0;
  auto json = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return 0;
  auto it = json.find("epoch");
  return it != json.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

}  // namespace

void BridgeCore::HandlePresence(int broker, const std::string& topic, const std::string& payload) {
  // The plugin reports on the broker it runs on: the receiving connection is that broker.
  if (protocol::ParseBrokerPresenceTopic(topic)) {
    const std::int64_t epoch = EpochOf(payload);
    common::Logger("bridge")->debug("broker epoch broker={} epoch={}", broker, epoch);
    if (epoch != 0) router_.OnBrokerEpoch(broker, epoch);
    return;
  }
  auto address = protocol::ParsePresenceTopic(topic);
  if (!address) return;
  const bool online = !payload.empty();
  common::Logger("bridge")->debug("presence broker={} user={} device={} online={}", broker,
                                  address->device.user, address->device.device, online);
  router_.OnPresence(broker, address->device.user, address->device.device, online,
                     EpochOf(payload));
}

void BridgeCore::HandleHeartbeat(const std::string& topic) {
  auto instance = protocol::ParseBridgeHeartbeatTopic(topic);
  if (!instance) return;
  if (membership_.Heard(*instance, clock_.Now())) {
    common::Logger("bridge")->info("bridge joined instance={} members={}", *instance,
                                   membership_.size());
    OnMembershipChanged();
  }
}

void BridgeCore::OnMembershipChanged() {
  // Devices that moved to another instance: their state here is stale from now on. Waiting
  // chats are dropped: their devices resend them, to the new owner.
  orderer_.ForgetIf([this](const protocol::DeviceAddress& device) {
    return !membership_.Owns(device.user, device.device);
  });
  if (metrics_ != nullptr) metrics_->bridge_members.Set(static_cast<double>(membership_.size()));
}

std::optional<BridgeCore::ChatInfo> BridgeCore::LookUpChat(const std::string& mid) {
  auto it = chats_.find(mid);
  if (it != chats_.end()) return it->second;
  auto record = store_.FindChat(mid);  // may throw StoreError
  if (!record) return std::nullopt;
  ChatInfo info{record->from_user, record->from_device,       record->client_id,
                record->dest_user, record->delivered_at != 0, record->read_at != 0};
  RememberChat(mid, info);
  return info;
}

void BridgeCore::RememberChat(const std::string& mid, ChatInfo info) {
  if (options_.chat_cache_entries == 0) return;
  auto [it, inserted] = chats_.insert_or_assign(mid, std::move(info));
  if (!inserted) return;
  chats_order_.push_back(mid);
  while (chats_.size() > options_.chat_cache_entries && !chats_order_.empty()) {
    chats_.erase(chats_order_.front());
    chats_order_.pop_front();
  }
}

void BridgeCore::Commit(Work& work) {
  if (work.chats.empty() && work.receipts.empty()) {
    AnswerRepeats(work.repeats);
    return;
  }
  const std::int64_t now_ms = clock_.WallMillis();
  offline::WriteBatch batch;
  batch.chats.reserve(work.chats.size());
  for (const auto& accepted : work.chats) {
    protocol::ChatDown down;
    down.mid = common::NewMid(now_ms);
    down.id = accepted.chat.id;
    down.from_id = accepted.origin.device.user;
    down.from_device = accepted.origin.device.device;
    down.dest_id = accepted.chat.dest_id;
    down.kind = accepted.chat.kind;
    down.msg_body = accepted.chat.msg_body;
    down.ts = now_ms;
    std::string content = protocol::EncodeChatDown(down);
    batch.chats.push_back(offline::ChatWrite{down.mid, accepted.origin.device.user,
                                             accepted.origin.device.device, accepted.chat.id,
                                             accepted.chat.dest_id, now_ms, content, content});
  }

  // Receipts: resolve the chat each names; a READ of a chat not yet DELIVERED writes both.
  for (std::size_t i = 0; i < work.receipts.size(); ++i) {
    const Receipt& receipt = work.receipts[i];
    std::optional<ChatInfo> info;
    try {
      info = LookUpChat(receipt.ack.mid);
    } catch (const offline::StoreError& e) {
      if (metrics_ != nullptr) metrics_->store_failures.Increment();
      common::Logger("bridge")->warn("store unavailable, receipt dropped err={}", e.what());
      continue;  // the chat is retransmitted; the device acks it again
    }
    if (!info || info->dest_user != receipt.origin.device.user) {
      SendError(receipt.origin,
                AckError(receipt.ack.mid, ErrorCode::kUnknownMessage,
                         "no chat with this mid was sent to " + receipt.origin.device.user));
      continue;
    }
    auto add = [&](offline::ReceiptKind kind) {
      protocol::AckDown down;
      down.msg_type =
          kind == offline::ReceiptKind::kDelivered ? AckType::kDelivered : AckType::kRead;
      down.from_id = info->dest_user;
      down.dest_id = info->from_user;
      down.ack_msg_id = info->client_id;
      down.ack_device = info->from_device;
      down.mid = receipt.ack.mid;
      batch.receipts.push_back(offline::ReceiptWrite{receipt.ack.mid, kind, now_ms, info->from_user,
                                                     protocol::EncodeAckDown(down)});
    };
    if (!info->delivered) add(offline::ReceiptKind::kDelivered);
    if (receipt.ack.msg_type == AckType::kRead && !info->read) add(offline::ReceiptKind::kRead);
    if (info->delivered && (receipt.ack.msg_type == AckType::kDelivered || info->read)) {
      tracker_.Acked(receipt.ack.mid);  // already recorded: nothing to write
    }
  }

  if (batch.chats.empty() && batch.receipts.empty()) {
    AnswerRepeats(work.repeats);
    return;
  }

  SPARROW_FAILPOINT("bridge.after_receive_before_store");
  offline::BatchResult result;
  auto started = std::chrono::steady_clock::now();
  try {
    result = store_.Commit(batch);
  } catch (const offline::StoreError& e) {
    // Nothing was written and nothing is answered: devices resend with the same ids. Their
    // in-memory last ids ran ahead of the store, so forget them.
    if (metrics_ != nullptr) metrics_->store_failures.Increment();
    common::Logger("bridge")->warn("group commit failed chats={} receipts={} err={}",
                                   batch.chats.size(), batch.receipts.size(), e.what());
    for (const auto& accepted : work.chats) orderer_.Forget(accepted.origin.device);
    return;
  }
  if (metrics_ != nullptr) {
    metrics_->commit_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    metrics_->batch_frames.Observe(static_cast<double>(batch.chats.size() + batch.receipts.size()));
  }

  SPARROW_FAILPOINT("bridge.after_commit_before_sent");
  const auto now = clock_.Now();
  for (std::size_t i = 0; i < work.chats.size(); ++i) {
    const AcceptedChat& accepted = work.chats[i];
    const offline::ChatWrite& write = batch.chats[i];
    const offline::ChatResult& stored = result.chats[i];
    if (stored.outcome == offline::ChatOutcome::kDuplicate) {
      // Stored by an earlier life of a bridge, whose SENT (and maybe its publishes) died with it.
      SendSent(accepted.origin, accepted.chat, stored.mid);
      if (metrics_ != nullptr) metrics_->chats_duplicate.Increment();
      RedeliverRepeat(stored.mid);
      continue;
    }
    if (metrics_ != nullptr) metrics_->chats_stored.Increment();
    std::string dest_frame = protocol::WithSeq(write.dest_content, stored.dest_seq);
    if (PublishTo(router_.BrokersOf(write.dest_user), protocol::InboxTopic(write.dest_user),
                  dest_frame) &&
        metrics_ != nullptr) {
      metrics_->frames_out_chat.Increment();
    }
    tracker_.Track(stored.mid, write.dest_user, std::move(dest_frame), now);
    // The sender's copy is stored for every device; live, it goes only where the sender has
    // another device online (the sending device has its SENT).
    if (PublishTo(router_.BrokersOfOtherDevices(write.from_user, accepted.origin.broker,
                                                write.from_device),
                  protocol::InboxTopic(write.from_user),
                  protocol::WithSeq(write.sender_content, stored.sender_seq)) &&
        metrics_ != nullptr) {
      metrics_->frames_out_copy.Increment();
    }
    RememberChat(stored.mid, ChatInfo{write.from_user, write.from_device, write.client_id,
                                      write.dest_user, false, false});
    // SENT last: the publishes above go out first on the same connection, so a sender that has
    // its SENT knows the recipient's copy left too (a crash that loses the SENT as well makes
    // the device resend, and the repeat redelivers: RedeliverRepeat).
    SendSent(accepted.origin, accepted.chat, stored.mid);
    SPARROW_FAILPOINT("bridge.after_publish_before_ack");
  }
  for (std::size_t i = 0; i < batch.receipts.size(); ++i) {
    const offline::ReceiptWrite& write = batch.receipts[i];
    const offline::ReceiptResult& stored = result.receipts[i];
    if (write.kind == offline::ReceiptKind::kDelivered) tracker_.Acked(write.mid);
    if (auto it = chats_.find(write.mid); it != chats_.end()) {
      (write.kind == offline::ReceiptKind::kDelivered ? it->second.delivered : it->second.read) =
          true;
    }
    if (stored.outcome != offline::ReceiptOutcome::kRecorded) continue;
    if (metrics_ != nullptr) metrics_->receipts_stored.Increment();
    if (PublishTo(router_.BrokersOf(write.sender_user), protocol::InboxTopic(write.sender_user),
                  protocol::WithSeq(write.content, stored.seq)) &&
        metrics_ != nullptr) {
      metrics_->frames_out_receipt.Increment();
    }
  }
  AnswerRepeats(work.repeats);
}

void BridgeCore::AnswerRepeats(const std::vector<AcceptedChat>& repeats) {
  // After the commit, so that a repeat of a chat accepted in this very batch finds its mid.
  for (const auto& repeat : repeats) {
    std::optional<std::string> mid;
    try {
      mid = store_.FindChatMid(repeat.origin.device.user, repeat.origin.device.device,
                               repeat.chat.id);
    } catch (const offline::StoreError& e) {
      if (metrics_ != nullptr) metrics_->store_failures.Increment();
      common::Logger("bridge")->warn("store unavailable, repeat unanswered err={}", e.what());
      continue;
    }
    if (metrics_ != nullptr) metrics_->chats_duplicate.Increment();
    if (mid) {
      SendSent(repeat.origin, repeat.chat, *mid);
      RedeliverRepeat(*mid);
    } else {
      // Accepted before but not (or no longer) stored: nothing to name it by. Rare: a chat
      // still waiting for its predecessor was sent again; it is answered when its turn comes.
      common::Logger("bridge")->debug("repeat of an unknown chat user={} device={} id={}",
                                      repeat.origin.device.user, repeat.origin.device.device,
                                      repeat.chat.id);
    }
  }
}

void BridgeCore::RedeliverRepeat(const std::string& mid) {
  // Published and retransmitted by this life already: the tracker has it.
  if (tracker_.Tracking(mid)) return;
  // A repeat of a chat that this bridge life did not publish: an earlier life (or another
  // instance) stored it, and the sender never got its SENT. The SENT leaves after the
  // recipient's copy on the same connection, so the copy may have died with that bridge too.
  // Publish the stored frame again (same mid and seq: devices drop what they have and ack it),
  // so that an online device does not wait for its next sync. Even when DELIVERED is recorded:
  // one device of the recipient acknowledging it (say from a sync) says nothing of the others.
  // Retransmitted until DELIVERED only if none came yet.
  try {
    const auto record = store_.FindChat(mid);
    if (!record || record->dest_seq == 0) return;
    const auto frames =
        store_.ReadInbox(record->dest_user, record->dest_seq - 1, record->dest_seq, 1);
    if (frames.empty() || frames.front().seq != record->dest_seq) return;  // purged
    std::string frame = protocol::WithSeq(frames.front().content, record->dest_seq);
    if (PublishTo(router_.BrokersOf(record->dest_user), protocol::InboxTopic(record->dest_user),
                  frame) &&
        metrics_ != nullptr) {
      metrics_->frames_out_retransmit.Increment();
    }
    if (record->delivered_at == 0) {
      tracker_.Track(mid, record->dest_user, std::move(frame), clock_.Now());
    }
    RememberChat(mid, ChatInfo{record->from_user, record->from_device, record->client_id,
                               record->dest_user, record->delivered_at != 0, record->read_at != 0});
  } catch (const offline::StoreError& e) {
    if (metrics_ != nullptr) metrics_->store_failures.Increment();
    common::Logger("bridge")->warn("store unavailable, repeat not redelivered err={}", e.what());
  }
}

bool BridgeCore::DeliveredElsewhere(const std::string& mid) {
  // With several bridges, the recipient's DELIVERED is applied by the bridge that owns the
  // recipient's device, which may be another one: this one learns of it from the store only.
  try {
    const auto record = store_.FindChat(mid);
    return record && record->delivered_at != 0;
  } catch (const offline::StoreError&) {
    return false;  // retransmit: the device drops a repeat
  }
}

void BridgeCore::Tick() {
  auto now = clock_.Now();
  if (membership_.HeartbeatDue(now)) {
    std::vector<int> all;
    for (std::size_t i = 0; i < router_.broker_count(); ++i) all.push_back(static_cast<int>(i));
    // QoS 0 would do; QoS 1 keeps one code path. Tiny and once a second.
    // The member count lets operators (and tests) see that the instances found each other.
    PublishTo(all, protocol::BridgeHeartbeatTopic(options_.instance),
              "{\"members\":" + std::to_string(membership_.size()) + "}");
  }
  if (membership_.Expire(now)) {
    common::Logger("bridge")->info("bridge left members={}", membership_.size());
    OnMembershipChanged();
  }
  Work work;
  ExpireWaitingChats(work);
  Commit(work);
  for (auto& resend : tracker_.Due(now)) {
    if (membership_.size() > 1 && DeliveredElsewhere(resend.mid)) {
      tracker_.Acked(resend.mid);
      continue;
    }
    if (PublishTo(router_.BrokersOf(resend.user), protocol::InboxTopic(resend.user),
                  resend.payload) &&
        metrics_ != nullptr) {
      metrics_->frames_out_retransmit.Increment();
    }
  }
  if (metrics_ != nullptr) {
    metrics_->pending_acks.Set(static_cast<double>(tracker_.pending()));
    metrics_->waiting_chats.Set(static_cast<double>(orderer_.waiting()));
  }
}

void BridgeCore::ExpireWaitingChats(Work& work) {
  auto refused = orderer_.Expire(clock_.Now());
  if (refused.empty()) return;
  // Group by device (Expire returns each device's chats together, in id order).
  std::size_t i = 0;
  while (i < refused.size()) {
    std::size_t j = i;
    while (j < refused.size() && refused[j].device == refused[i].device) ++j;
    const protocol::DeviceAddress device = refused[i].device;
    // Before refusing: another instance may have applied the missing chat (ownership moved
    // while views differed). If the store is ahead, start from its last id and offer again.
    std::optional<std::int64_t> stored_last;
    try {
      stored_last = store_.LastChatId(device.user, device.device);
    } catch (const offline::StoreError& e) {
      common::Logger("bridge")->warn("store unavailable while expiring err={}", e.what());
    }
    if (stored_last && *stored_last >= refused[i].expected) {
      orderer_.Forget(device);
      orderer_.Load(device, *stored_last, clock_.Now());
      for (std::size_t k = i; k < j; ++k) {
        HandleChat(Origin{device, refused[k].origin}, std::move(refused[k].chat), work);
      }
    } else {
      for (std::size_t k = i; k < j; ++k) {
        SendError(Origin{device, refused[k].origin},
                  OutOfOrder(refused[k].chat.id, refused[k].expected));
      }
    }
    i = j;
  }
}

std::optional<common::SteadyTime> BridgeCore::NextDeadline() const {
  std::optional<common::SteadyTime> next;
  for (auto candidate : {orderer_.NextDeadline(), tracker_.NextDeadline()}) {
    if (candidate && (!next || *candidate < *next)) next = candidate;
  }
  return next;
}

void BridgeCore::SendError(const Origin& origin, const ErrorFrame& error) {
  if (metrics_ != nullptr) {
    metrics_->Error(error.code).Increment();
    metrics_->frames_out_error.Increment();
  }
  Publish(origin.broker, protocol::DeviceTopic(origin.device), protocol::EncodeError(error));
}

void BridgeCore::SendSent(const Origin& origin, const protocol::ChatUp& chat,
                          const std::string& mid) {
  protocol::AckDown sent;
  sent.msg_type = AckType::kSent;
  sent.from_id = origin.device.user;
  sent.dest_id = chat.dest_id;
  sent.ack_msg_id = chat.id;
  sent.ack_device = origin.device.device;
  sent.mid = mid;
  if (Publish(origin.broker, protocol::DeviceTopic(origin.device), protocol::EncodeAckDown(sent)) &&
      metrics_ != nullptr) {
    metrics_->frames_out_sent.Increment();
  }
}

bool BridgeCore::PublishTo(const std::vector<int>& brokers, const std::string& topic,
                           const std::string& payload) {
  bool any = false;
  for (int broker : brokers) any = Publish(broker, topic, payload) || any;
  return any;
}

bool BridgeCore::Publish(int broker, const std::string& topic, const std::string& payload) {
  // Backpressure means the transport's queue is full: wait for it to drain a little (the
  // broker is the bottleneck then, and slowing the core is the right reaction).
  for (int attempt = 0; attempt < 2000; ++attempt) {
    switch (router_.Publish(broker, topic, payload)) {
      case transport::PublishResult::kQueued:
        return true;
      case transport::PublishResult::kBackpressure:
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      case transport::PublishResult::kNotConnected:
      case transport::PublishResult::kInvalid:
        if (metrics_ != nullptr) metrics_->publish_failures.Increment();
        return false;  // devices resend / the tracker retransmits / sync recovers
    }
  }
  if (metrics_ != nullptr) metrics_->publish_failures.Increment();
  return false;
}

}  // namespace sparrow::bridge
