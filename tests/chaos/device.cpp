#include "tests/chaos/device.hpp"

#include <mutex>
#include <thread>

#include "transport/transport.hpp"

namespace sparrow::chaos {

ChaosDevice::ChaosDevice(DeviceOptions options, EventSink sink)
    : options_(std::move(options)),
      sink_(std::move(sink)),
      name_(DeviceName(options_.user, options_.device)),
      incarnation_(options_.first_incarnation - 1) {
  for (const auto& [peer, key] : options_.keys) keys_.Set(peer, key);
}

ChaosDevice::~ChaosDevice() { Stop(); }

void ChaosDevice::Log(Event e) const {
  if (e.t_ns == 0) e.t_ns = NowNs();
  e.device = name_;
  sink_(std::move(e));
}

void ChaosDevice::Start() {
  std::unique_lock<std::shared_mutex> lock(mutex_);
  if (client_) return;
  const int incarnation = ++incarnation_;
  // The callbacks' way to the client of this incarnation (they run only while it exists).
  auto self = std::make_shared<client::Client*>(nullptr);
  client::Callbacks callbacks;
  callbacks.on_message = [this, self, incarnation](const client::Message& m) {
    if (options_.display_delay.count() > 0) std::this_thread::sleep_for(options_.display_delay);
    Log(Event{.kind = EventKind::kDisplayed,
              .incarnation = incarnation,
              .mid = m.mid,
              .from = m.from,
              .from_device = m.from_device,
              .to = m.to,
              .text = m.text,
              .seq = m.seq});
    if (!m.outgoing && options_.read_every > 0 &&
        std::hash<std::string>{}(m.mid) % static_cast<std::size_t>(options_.read_every) == 0) {
      Log(Event{.kind = EventKind::kMarkedRead, .incarnation = incarnation, .mid = m.mid});
      (*self)->MarkRead(m);
    }
  };
  callbacks.on_status = [this, incarnation](const client::StatusUpdate& s) {
    switch (s.status) {
      case client::MessageStatus::kSent:
        if (!s.local_id.empty()) {
          Log(Event{.kind = EventKind::kSent,
                    .incarnation = incarnation,
                    .local_id = s.local_id,
                    .mid = s.mid});
        }
        break;
      case client::MessageStatus::kFailed:
        Log(Event{.kind = EventKind::kFailed,
                  .incarnation = incarnation,
                  .local_id = s.local_id,
                  .detail = s.reason});
        break;
      case client::MessageStatus::kDelivered:
      case client::MessageStatus::kRead:
        Log(Event{.kind = EventKind::kReceipt,
                  .incarnation = incarnation,
                  .local_id = s.local_id,
                  .mid = s.mid,
                  .detail = s.status == client::MessageStatus::kRead ? "read" : "delivered"});
        break;
      case client::MessageStatus::kPending:
        break;
    }
  };
  callbacks.on_connection = [this, incarnation](client::ConnectionEvent event) {
    EventKind kind = EventKind::kConnected;
    if (event == client::ConnectionEvent::kSynced) kind = EventKind::kSynced;
    if (event == client::ConnectionEvent::kDisconnected) kind = EventKind::kDisconnected;
    Log(Event{.kind = kind, .incarnation = incarnation});
  };

  client::Client::Options o;
  o.user = options_.user;
  o.device = options_.device;
  o.token = options_.token;
  o.server_url = "http://127.0.0.1:1";  // never used: keys come from keys_
  o.mqtt_host = options_.mqtt_host;
  o.mqtt_port = options_.mqtt_port;
  o.state_dir = options_.state_dir;
  o.keep_history = false;
  o.outbox = options_.outbox;
  o.reorder = options_.reorder;
  o.sync_timeout = options_.sync_timeout;
  o.keys = &keys_;
  const std::string library = options_.transport;
  o.make_transport = [library](const transport::Options& t) {
    transport::Options copy = t;
    copy.reconnect_min = std::chrono::milliseconds(100);
    copy.reconnect_max = std::chrono::milliseconds(2000);
    return transport::MakeTransport(library, copy);
  };
  client_ = std::make_unique<client::Client>(std::move(o), std::move(callbacks));
  *self = client_.get();
  client_->Connect();
}

void ChaosDevice::Stop() {
  std::unique_lock<std::shared_mutex> lock(mutex_);
  if (!client_) return;
  client_->Disconnect();
  client_.reset();
}

bool ChaosDevice::Send(const std::string& peer, const std::string& text) {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  if (!client_) return false;
  const std::int64_t t = NowNs();  // before Send: the SENT may come before we log
  client::SendResult r = client_->Send(peer, text);
  if (!r.ok) {
    Log(Event{.kind = EventKind::kRefused,
              .t_ns = t,
              .incarnation = incarnation_,
              .from = options_.user,
              .from_device = options_.device,
              .to = peer,
              .text = text,
              .detail = r.error});
    return false;
  }
  Log(Event{.kind = EventKind::kAttempt,
            .t_ns = t,
            .incarnation = incarnation_,
            .local_id = r.local_id,
            .from = options_.user,
            .from_device = options_.device,
            .to = peer,
            .text = text});
  return true;
}

std::size_t ChaosDevice::Pending() const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  return client_ ? client_->Pending() : 0;
}

bool ChaosDevice::WaitSynced(std::chrono::milliseconds timeout) {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  return client_ && client_->WaitSynced(timeout);
}

bool ChaosDevice::running() const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  return client_ != nullptr;
}

}  // namespace sparrow::chaos
