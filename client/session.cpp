#include "client/session.hpp"

#include <algorithm>
#include <utility>

#include "client/crypto.hpp"
#include "client/files.hpp"
#include "common/log.hpp"
#include "protocol/codec.hpp"
#include "protocol/identity.hpp"
#include "protocol/topics.hpp"
#include "protocol/utf8.hpp"

namespace sparrow::client {
namespace {

constexpr std::size_t kMaxTracked = 20000;
constexpr std::size_t kMaxRecentReceipts = 10000;
constexpr auto kMaxSyncWait = std::chrono::milliseconds(30000);
constexpr auto kReceiptRetry = std::chrono::milliseconds(100);

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = common::Logger("client");
  return logger;
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

int Rank(MessageStatus status) {
  switch (status) {
    case MessageStatus::kPending:
      return 0;
    case MessageStatus::kSent:
      return 1;
    case MessageStatus::kDelivered:
      return 2;
    case MessageStatus::kRead:
      return 3;
    case MessageStatus::kFailed:
      return -1;
  }
  return 0;
}

// Refusals that end a chat (topics.md): it does not use up its id.
bool IsFinalRefusal(protocol::ErrorCode code) {
  switch (code) {
    case protocol::ErrorCode::kNotFriends:
    case protocol::ErrorCode::kTooLarge:
    case protocol::ErrorCode::kSpoofedSender:
    case protocol::ErrorCode::kBadFrame:
      return true;
    default:
      return false;
  }
}

std::string CodeText(const protocol::ErrorFrame& error) {
  if (error.unknown_code) return *error.unknown_code;
  return std::string(protocol::ToString(error.code));
}

}  // namespace

Session::Session(SessionOptions options, SessionDeps deps, Callbacks callbacks,
                 std::optional<DeviceState> restored)
    : options_(std::move(options)),
      deps_(std::move(deps)),
      callbacks_(std::move(callbacks)),
      restored_(restored.has_value()),
      outbox_(deps_.clock, options_.outbox, restored ? restored->last_id : 0,
              restored ? restored->outbox : std::vector<OutgoingChat>{}),
      reorder_(deps_.clock, restored ? restored->last_seq : 0, options_.reorder),
      up_topic_(protocol::UpTopic(options_.user, options_.device)),
      inbox_topic_(protocol::InboxTopic(options_.user)),
      device_topic_(protocol::DeviceTopic(options_.user, options_.device)),
      sync_wait_(options_.sync_timeout) {
  // With state, the ids it used are known: no need to wait for `synced` to number chats.
  outbox_.SetNumberingAllowed(restored_);
  RestoreTracking();
}

void Session::RestoreTracking() {
  if (deps_.history == nullptr) return;
  std::unordered_map<std::string, bool> recorded;  // local ids in the history
  try {
    for (const auto& peer : deps_.history->Peers()) {
      for (const auto& entry : deps_.history->Conversation(peer, kMaxTracked)) {
        const Message& m = entry.message;
        if (!m.local_id.empty()) recorded[m.local_id] = true;
        if (m.outgoing && !m.mid.empty()) {
          Track(m.mid, Tracked{m.local_id, m.peer(), entry.status});
        }
      }
    }
    // A crash between persisting the outbox and recording the message in the history leaves
    // a queued chat the history does not know: record it now.
    for (const auto& chat : outbox_.chats()) {
      if (recorded.count(chat.local_id) != 0) continue;
      Message m;
      m.local_id = chat.local_id;
      m.from = options_.user;
      m.to = chat.peer;
      m.from_device = options_.device;
      m.outgoing = true;
      m.kind = chat.kind;
      m.text = chat.payload;
      if (chat.kind == protocol::ChatKind::kFile) {
        m.file = DecodeFileDescriptor(chat.payload);
        m.text = m.file ? m.file->name : "file";
      }
      m.ts = chat.created_ms;
      deps_.history->AddMessage(m, MessageStatus::kPending);
    }
  } catch (const StateError& e) {
    // In the constructor, on the app's thread: logged, not a callback (they run on the client
    // thread only). The history is a convenience; the state file is what matters.
    Log()->warn("history not restored: {}", e.what());
  }
}

std::vector<std::string> Session::Subscriptions() const {
  if (!options_.receive) return {device_topic_};
  return {inbox_topic_, device_topic_};
}

void Session::OnConnection(bool connected) {
  if (!connected) {
    if (connected_) {
      connected_ = false;
      synced_since_connect_ = false;
      sync_outstanding_ = false;
      EmitConnection(ConnectionEvent::kDisconnected);
    }
    return;
  }
  connected_ = true;
  synced_since_connect_ = false;
  outbox_.OnReconnected();
  sync_wait_ = options_.sync_timeout;
  // Receipts published shortly before the connection went may have died with it.
  const auto now = deps_.clock.Now();
  for (const auto& recent : recent_receipts_) {
    if (now - recent.at <= options_.receipt_replay) receipts_.push_back(recent.ack);
  }
  recent_receipts_.clear();
  EmitConnection(ConnectionEvent::kConnected);
  if (options_.receive || !restored_) {
    SendSync();
  } else {
    synced_since_connect_ = true;  // a sender with state needs nothing from the server
    EmitConnection(ConnectionEvent::kSynced);
  }
}

void Session::SendSync() {
  Publish(up_topic_, protocol::EncodeSyncUp(protocol::SyncUp{.after = reorder_.last_seq()}));
  sync_outstanding_ = true;
  sync_deadline_ = deps_.clock.Now() + sync_wait_;
  sync_wait_ = std::min(sync_wait_ * 2, std::chrono::milliseconds(kMaxSyncWait));
  reorder_.NoteSyncSent();
}

void Session::Publish(const std::string& topic, const std::string& payload) {
  const auto result = deps_.transport.Publish(topic, payload, 1);
  if (result != transport::PublishResult::kQueued) {
    Log()->debug("publish not queued topic={} result={}", topic, transport::ToString(result));
  }
}

void Session::OnMessage(const transport::Message& message) {
  const bool on_device = message.topic == device_topic_;
  if (!on_device && message.topic != inbox_topic_) return;
  auto frame = protocol::DecodeDown(message.payload);
  auto offer = [&](SeqFrame seq_frame) {
    if (!options_.receive) return;  // a sender leaves seq'd frames to the receiving sessions
    const auto* chat = std::get_if<protocol::ChatDown>(&seq_frame);
    const bool to_me =
        chat != nullptr && chat->dest_id == options_.user && chat->from_id != options_.user;
    const std::string mid = chat != nullptr ? chat->mid : std::string();
    std::vector<SeqFrame> released;
    const auto before = reorder_.last_seq();
    if (reorder_.Offer(std::move(seq_frame), released) == ReorderBuffer::Verdict::kDuplicate &&
        to_me) {
      QueueReceipt(protocol::AckType::kDelivered, mid);  // the server did not get our ack
    }
    for (auto& f : released) HandleReleased(std::move(f));
    if (reorder_.last_seq() != before) state_dirty_ = true;
  };
  std::visit(
      Overloaded{
          [&](protocol::ChatDown& chat) {
            if (chat.seq == 0) return;  // every stored chat has a seq
            offer(std::move(chat));
          },
          [&](protocol::AckDown& ack) {
            if (ack.msg_type == protocol::AckType::kSent) {
              if (on_device && ack.ack_device == options_.device && ack.from_id == options_.user) {
                HandleAccepted(ack.ack_msg_id, ack.mid);
              }
              return;
            }
            if (ack.seq == 0) return;
            offer(std::move(ack));
          },
          [&](protocol::Synced& synced) {
            if (on_device) HandleSynced(synced);
          },
          [&](protocol::ErrorFrame& error) {
            if (on_device) HandleError(error);
          },
          [&](protocol::DecodeError& error) {
            Log()->warn("undecodable frame topic={} code={} reason={}", message.topic,
                        protocol::ToString(error.code), error.message);
          },
      },
      frame);
}

void Session::HandleReleased(SeqFrame frame) {
  std::visit(Overloaded{
                 [&](protocol::ChatDown& chat) { HandleChat(chat); },
                 [&](protocol::AckDown& ack) { HandleReceipt(ack); },
             },
             frame);
}

std::optional<Message> Session::Decrypt(const protocol::ChatDown& chat) {
  const bool own = chat.from_id == options_.user;
  const std::string& peer = own ? chat.dest_id : chat.from_id;
  const auto key = deps_.keys.Get(peer);
  if (!key) {
    EmitError(ClientError{.kind = ClientError::Kind::kNoKey,
                          .message = "no relation key with " + peer + ": message not shown",
                          .mid = chat.mid,
                          .peer = peer});
    return std::nullopt;
  }
  auto plain = OpenBody(*key, BodyContext{chat.from_id, chat.dest_id, chat.id}, chat.msg_body);
  if (!plain) {
    EmitError(ClientError{
        .kind = ClientError::Kind::kUndecryptable,
        .message = "a message from " + chat.from_id + " does not authenticate: not shown",
        .mid = chat.mid,
        .peer = peer});
    return std::nullopt;
  }
  Message m;
  m.mid = chat.mid;
  m.from = chat.from_id;
  m.to = chat.dest_id;
  m.from_device = chat.from_device;
  m.outgoing = own;
  m.kind = chat.kind;
  m.id = chat.id;
  m.seq = chat.seq;
  m.ts = chat.ts;
  if (chat.kind == protocol::ChatKind::kFile) {
    m.file = DecodeFileDescriptor(*plain);
    if (!m.file) {
      EmitError(ClientError{
          .kind = ClientError::Kind::kUndecryptable,
          .message = "a file message from " + chat.from_id + " has no valid descriptor: not shown",
          .mid = chat.mid,
          .peer = peer});
      return std::nullopt;
    }
    m.text = m.file->name;
  } else {
    m.text = *std::move(plain);
  }
  return m;
}

void Session::HandleChat(const protocol::ChatDown& chat) {
  if (chat.from_id == options_.user) {
    if (chat.from_device == options_.device) {
      // Our own copy: the chat is stored, whether or not its SENT came yet. Never acked.
      HandleAccepted(chat.id, chat.mid);
      return;
    }
    auto m = Decrypt(chat);  // sent from another device of this user
    if (!m) return;
    Track(chat.mid, Tracked{"", chat.dest_id, MessageStatus::kSent});
    if (deps_.history != nullptr) {
      try {
        deps_.history->AddMessage(*m, MessageStatus::kSent);
      } catch (const StateError& e) {
        EmitError(ClientError{.kind = ClientError::Kind::kState, .message = e.what()});
      }
    }
    EmitMessage(*m);
    return;
  }
  if (chat.dest_id != options_.user) return;  // not on our topics by contract
  if (auto m = Decrypt(chat)) {
    if (deps_.history != nullptr) {
      try {
        deps_.history->AddMessage(*m, MessageStatus::kDelivered);
      } catch (const StateError& e) {
        EmitError(ClientError{.kind = ClientError::Kind::kState, .message = e.what()});
      }
    }
    EmitMessage(*m);
  }
  // Acked even when it could not be shown: this device received it (else it comes forever).
  QueueReceipt(protocol::AckType::kDelivered, chat.mid);
}

void Session::HandleReceipt(const protocol::AckDown& ack) {
  if (ack.dest_id != options_.user) return;
  if (ack.ack_device == options_.device) HandleAccepted(ack.ack_msg_id, ack.mid);
  Advance(
      ack.mid, ack.from_id,
      ack.msg_type == protocol::AckType::kRead ? MessageStatus::kRead : MessageStatus::kDelivered);
}

void Session::HandleAccepted(std::int64_t id, const std::string& mid) {
  auto chat = outbox_.OnSent(id);
  if (!chat) return;  // a repeated SENT, or not ours
  Track(mid, Tracked{chat->local_id, chat->peer, MessageStatus::kPending});
  if (auto it = tracked_.find(mid); it != tracked_.end()) {
    it->second.local_id = chat->local_id;
    it->second.peer = chat->peer;
  }
  if (deps_.history != nullptr) {
    try {
      deps_.history->UpdateStatus(chat->peer, chat->local_id, mid, id, MessageStatus::kSent);
    } catch (const StateError& e) {
      EmitError(ClientError{.kind = ClientError::Kind::kState, .message = e.what()});
    }
  }
  if (auto it = tracked_.find(mid); it != tracked_.end()) it->second.status = MessageStatus::kSent;
  EmitStatus(StatusUpdate{.local_id = chat->local_id,
                          .mid = mid,
                          .peer = chat->peer,
                          .status = MessageStatus::kSent,
                          .reason = ""});
}

void Session::Track(const std::string& mid, Tracked tracked) {
  auto [it, inserted] = tracked_.try_emplace(mid, std::move(tracked));
  if (!inserted) return;
  tracked_order_.push_back(mid);
  while (tracked_order_.size() > kMaxTracked) {
    tracked_.erase(tracked_order_.front());
    tracked_order_.pop_front();
  }
}

void Session::Advance(const std::string& mid, const std::string& peer, MessageStatus status) {
  auto it = tracked_.find(mid);
  if (it == tracked_.end()) {
    // Sent before our time, or from another device whose copy we did not see: report the
    // receipts from here on.
    Track(mid, Tracked{"", peer, MessageStatus::kSent});
    it = tracked_.find(mid);
    if (it == tracked_.end()) return;
  }
  Tracked& tracked = it->second;
  if (tracked.status == MessageStatus::kFailed) return;
  for (auto step : {MessageStatus::kSent, MessageStatus::kDelivered, MessageStatus::kRead}) {
    if (Rank(step) <= Rank(tracked.status) || Rank(step) > Rank(status)) continue;
    tracked.status = step;
    if (deps_.history != nullptr) {
      try {
        deps_.history->UpdateStatus(tracked.peer, tracked.local_id, mid, 0, step);
      } catch (const StateError& e) {
        EmitError(ClientError{.kind = ClientError::Kind::kState, .message = e.what()});
      }
    }
    EmitStatus(StatusUpdate{.local_id = tracked.local_id,
                            .mid = mid,
                            .peer = tracked.peer,
                            .status = step,
                            .reason = ""});
  }
}

void Session::Fail(const OutgoingChat& chat, const std::string& reason) {
  if (deps_.history != nullptr) {
    try {
      deps_.history->UpdateStatus(chat.peer, chat.local_id, "", 0, MessageStatus::kFailed);
    } catch (const StateError& e) {
      EmitError(ClientError{.kind = ClientError::Kind::kState, .message = e.what()});
    }
  }
  EmitStatus(StatusUpdate{.local_id = chat.local_id,
                          .mid = "",
                          .peer = chat.peer,
                          .status = MessageStatus::kFailed,
                          .reason = reason});
}

void Session::HandleSynced(const protocol::Synced& synced) {
  sync_outstanding_ = false;
  sync_wait_ = options_.sync_timeout;
  outbox_.OnSynced(synced.last_id);
  outbox_.SetNumberingAllowed(true);
  if (options_.receive) {
    std::vector<SeqFrame> released;
    const auto before = reorder_.last_seq();
    reorder_.OnSynced(synced.upto, released);
    for (auto& f : released) HandleReleased(std::move(f));
    if (reorder_.last_seq() != before) state_dirty_ = true;
  }
  if (!synced_since_connect_) {
    synced_since_connect_ = true;
    EmitConnection(ConnectionEvent::kSynced);
  }
}

void Session::HandleError(const protocol::ErrorFrame& error) {
  if (error.id) {
    if (error.code == protocol::ErrorCode::kOutOfOrder) {
      if (error.expected) outbox_.OnOutOfOrder(error.id, *error.expected);
      return;
    }
    if (IsFinalRefusal(error.code)) {
      if (auto chat = outbox_.OnRefused(*error.id)) Fail(*chat, CodeText(error));
      return;
    }
    // rate_limited, internal, or a code we do not know: the chat is resent after its timeout.
    Log()->info("chat not accepted yet id={} code={}", *error.id, CodeText(error));
    return;
  }
  EmitError(ClientError{.kind = ClientError::Kind::kServer,
                        .code = CodeText(error),
                        .message = error.message,
                        .mid = error.mid.value_or(""),
                        .peer = ""});
}

std::optional<std::string> Session::Send(const std::string& local_id, const std::string& peer,
                                         protocol::ChatKind kind, std::string payload,
                                         const std::optional<FileInfo>& file) {
  if (!protocol::IsValidUserId(peer)) return "'" + peer + "' is not a valid user id";
  if (peer == options_.user) return "cannot send a message to yourself";
  if (kind == protocol::ChatKind::kText && payload.empty()) return "empty message";
  if (!protocol::IsValidUtf8(payload)) return "the message is not valid UTF-8";
  if (payload.size() > MaxBodyPlaintextBytes()) {
    return "message too long (" + std::to_string(payload.size()) + " bytes; at most " +
           std::to_string(MaxBodyPlaintextBytes()) + ")";
  }
  if (!deps_.keys.Get(peer)) {
    return "no relation key with " + peer + " (not friends? see `friend add`)";
  }
  const std::int64_t now = deps_.clock.WallMillis();
  Message m;
  m.local_id = local_id;
  m.from = options_.user;
  m.to = peer;
  m.from_device = options_.device;
  m.outgoing = true;
  m.kind = kind;
  m.text = file ? file->name : payload;
  m.file = file;
  m.ts = now;
  outbox_.Add(OutgoingChat{.local_id = local_id,
                           .peer = peer,
                           .kind = kind,
                           .payload = std::move(payload),
                           .id = 0,
                           .attempts = 0,
                           .created_ms = now});
  history_pending_.push_back(std::move(m));
  return std::nullopt;
}

void Session::MarkRead(const std::string& peer, const std::string& mid) {
  if (mid.empty()) return;
  QueueReceipt(protocol::AckType::kRead, mid);
  if (deps_.history != nullptr) {
    try {
      deps_.history->UpdateStatus(peer, "", mid, 0, MessageStatus::kRead);
    } catch (const StateError& e) {
      EmitError(ClientError{.kind = ClientError::Kind::kState, .message = e.what()});
    }
  }
}

void Session::QueueReceipt(protocol::AckType type, const std::string& mid) {
  receipts_.push_back(protocol::AckUp{.msg_type = type, .mid = mid});
}

void Session::Tick() {
  if (!connected_) return;
  const auto now = deps_.clock.Now();
  if (sync_outstanding_) {
    if (now >= sync_deadline_) SendSync();  // no `synced` came: the services may be restarting
  } else if (options_.receive && reorder_.SyncNeeded()) {
    SendSync();  // a gap did not fill in time
  }
}

void Session::Flush() {
  Outbox::Due due;
  if (connected_) due = outbox_.Poll();
  for (const auto& failure : due.failed) Fail(failure.chat, failure.reason);

  // Persist before publishing anything newly numbered (outbox.hpp).
  if (deps_.persist && (outbox_.changed() || state_dirty_)) {
    try {
      deps_.persist(State());
      outbox_.ClearChanged();
      state_dirty_ = false;
    } catch (const StateError& e) {
      EmitError(ClientError{.kind = ClientError::Kind::kState, .message = e.what()});
    }
  } else if (!deps_.persist) {
    outbox_.ClearChanged();
    state_dirty_ = false;
  }
  if (deps_.history != nullptr) {
    for (const auto& m : history_pending_) {
      try {
        deps_.history->AddMessage(m, MessageStatus::kPending);
      } catch (const StateError& e) {
        EmitError(ClientError{.kind = ClientError::Kind::kState, .message = e.what()});
      }
    }
  }
  history_pending_.clear();

  for (const auto& chat : due.publish) {
    const auto key = deps_.keys.Get(chat.peer);
    if (!key) {
      // Resent after its timeout, when the key may be back; fails after the last attempt.
      EmitError(ClientError{.kind = ClientError::Kind::kNoKey,
                            .message = "no relation key with " + chat.peer + ": chat held",
                            .peer = chat.peer});
      continue;
    }
    const std::string body =
        SealBody(*key, BodyContext{options_.user, chat.peer, chat.id}, chat.payload);
    Publish(up_topic_, protocol::EncodeChatUp(protocol::ChatUp{.id = chat.id,
                                                               .dest_id = chat.peer,
                                                               .kind = chat.kind,
                                                               .msg_body = body,
                                                               .from_id = std::nullopt}));
  }

  if (connected_ && !receipts_.empty()) {
    const auto now = deps_.clock.Now();
    std::vector<protocol::AckUp> kept;
    for (auto& receipt : receipts_) {
      const auto result = deps_.transport.Publish(up_topic_, protocol::EncodeAckUp(receipt), 1);
      if (result == transport::PublishResult::kQueued) {
        recent_receipts_.push_back(RecentReceipt{now, std::move(receipt)});
      } else if (result != transport::PublishResult::kInvalid) {
        kept.push_back(std::move(receipt));  // retried at the next Flush
      }
    }
    receipts_ = std::move(kept);
    while (!recent_receipts_.empty() &&
           (recent_receipts_.size() > kMaxRecentReceipts ||
            now - recent_receipts_.front().at > options_.receipt_replay)) {
      recent_receipts_.pop_front();
    }
  }
}

std::optional<common::SteadyTime> Session::NextDeadline() const {
  if (!connected_) return std::nullopt;
  std::optional<common::SteadyTime> next = outbox_.NextDeadline();
  auto consider = [&](common::SteadyTime t) {
    if (!next || t < *next) next = t;
  };
  if (sync_outstanding_) {
    consider(sync_deadline_);
  } else if (options_.receive) {
    if (auto gap = reorder_.Deadline()) consider(*gap);
  }
  if (!receipts_.empty()) consider(deps_.clock.Now() + kReceiptRetry);
  return next;
}

DeviceState Session::State() const {
  return DeviceState{
      .last_seq = reorder_.last_seq(), .last_id = outbox_.last_id(), .outbox = outbox_.chats()};
}

void Session::EmitMessage(const Message& message) {
  if (!callbacks_.on_message) return;
  try {
    callbacks_.on_message(message);
  } catch (const std::exception& e) {
    Log()->error("on_message callback threw: {}", e.what());
  }
}

void Session::EmitStatus(const StatusUpdate& update) {
  if (!callbacks_.on_status) return;
  try {
    callbacks_.on_status(update);
  } catch (const std::exception& e) {
    Log()->error("on_status callback threw: {}", e.what());
  }
}

void Session::EmitError(ClientError error) {
  Log()->debug("client error kind={} code={}", ToString(error.kind), error.code);
  if (!callbacks_.on_error) return;
  try {
    callbacks_.on_error(error);
  } catch (const std::exception& e) {
    Log()->error("on_error callback threw: {}", e.what());
  }
}

void Session::EmitConnection(ConnectionEvent event) {
  if (!callbacks_.on_connection) return;
  try {
    callbacks_.on_connection(event);
  } catch (const std::exception& e) {
    Log()->error("on_connection callback threw: {}", e.what());
  }
}

}  // namespace sparrow::client
