#include "transport/mosquitto_transport.hpp"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/error.hpp"
#include "common/log.hpp"
#include "transport/backoff.hpp"

namespace sparrow::transport {
namespace {

// How long Stop() lets the DISCONNECT packet (and QoS 0 publishes queued before it) drain.
constexpr auto kStopGrace = std::chrono::milliseconds(1000);
// poll() timeout while connected: keepalive pings are checked at least this often.
constexpr int kPollTimeoutMs = 1000;

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = common::Logger("transport");
  return logger;
}

void LibInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

MosquittoTransport* Self(void* obj) { return static_cast<MosquittoTransport*>(obj); }

}  // namespace

MosquittoTransport::MosquittoTransport(Options options) : options_(std::move(options)) {
  ValidateOptions(options_);
  LibInitOnce();
  mosq_ = mosquitto_new(options_.client_id.empty() ? nullptr : options_.client_id.c_str(),
                        options_.clean_start, this);
  if (mosq_ == nullptr) {
    throw common::Error(std::string("transport: mosquitto_new failed: ") + std::strerror(errno));
  }
  // From here on a throw must free mosq_: the destructor does not run for a throwing ctor.
  auto fail = [this](const std::string& what, int rc) {
    mosquitto_destroy(mosq_);
    mosq_ = nullptr;
    if (wake_fd_ >= 0) ::close(wake_fd_);
    throw common::ConfigError("transport: " + what + ": " + mosquitto_strerror(rc));
  };
  int rc =
      mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION,
                           options_.protocol_version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
  if (rc != MOSQ_ERR_SUCCESS) fail("protocol_version", rc);
  // Nagle costs milliseconds per hop on a request/response pattern (DEPENDENCIES.md).
  rc = mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
  if (rc != MOSQ_ERR_SUCCESS) fail("tcp_nodelay", rc);
  rc = mosquitto_int_option(mosq_, MOSQ_OPT_RECEIVE_MAXIMUM, options_.max_inflight);
  if (rc != MOSQ_ERR_SUCCESS) fail("max_inflight (receive maximum)", rc);
  rc = mosquitto_int_option(mosq_, MOSQ_OPT_SEND_MAXIMUM, options_.max_inflight);
  if (rc != MOSQ_ERR_SUCCESS) fail("max_inflight (send maximum)", rc);
  rc = mosquitto_max_inflight_messages_set(mosq_, static_cast<unsigned>(options_.max_inflight));
  if (rc != MOSQ_ERR_SUCCESS) fail("max_inflight", rc);
  if (!options_.username.empty()) {
    rc = mosquitto_username_pw_set(mosq_, options_.username.c_str(),
                                   options_.password.empty() ? nullptr : options_.password.c_str());
    if (rc != MOSQ_ERR_SUCCESS) fail("username", rc);
  }
  // We drive the socket from our own thread: libmosquitto must only queue packets when other
  // threads publish, never write to the socket from them.
  rc = mosquitto_threaded_set(mosq_, true);
  if (rc != MOSQ_ERR_SUCCESS) fail("threaded_set", rc);

  mosquitto_connect_v5_callback_set(mosq_, &MosquittoTransport::OnConnect);
  mosquitto_disconnect_v5_callback_set(mosq_, &MosquittoTransport::OnDisconnect);
  mosquitto_message_v5_callback_set(mosq_, &MosquittoTransport::OnMessage);
  mosquitto_publish_v5_callback_set(mosq_, &MosquittoTransport::OnPublish);
  mosquitto_subscribe_v5_callback_set(mosq_, &MosquittoTransport::OnSubscribe);

  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) fail(std::string("eventfd: ") + std::strerror(errno), MOSQ_ERR_ERRNO);
}

MosquittoTransport::~MosquittoTransport() {
  Stop();
  if (mosq_ != nullptr) mosquitto_destroy(mosq_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void MosquittoTransport::SetMessageHandler(MessageHandler handler) {
  message_handler_ = std::move(handler);
}

void MosquittoTransport::SetConnectionHandler(ConnectionHandler handler) {
  connection_handler_ = std::move(handler);
}

void MosquittoTransport::Start() {
  if (started_.exchange(true)) throw std::logic_error("MosquittoTransport::Start called twice");
  if (stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void MosquittoTransport::Stop() {
  if (thread_.joinable() && std::this_thread::get_id() == thread_.get_id()) {
    throw std::logic_error("MosquittoTransport::Stop called from a transport handler");
  }
  std::lock_guard<std::mutex> stop_lock(stop_mutex_);
  stopping_ = true;
  { std::lock_guard<std::mutex> lock(state_mutex_); }
  state_cv_.notify_all();
  Wake();
  if (thread_.joinable()) thread_.join();
  SetConnected(false);
}

bool MosquittoTransport::WaitConnected(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(state_mutex_);
  state_cv_.wait_for(lock, timeout, [this] { return connected_.load() || stopping_.load(); });
  return connected_.load();
}

bool MosquittoTransport::IsConnected() const { return connected_.load(); }

void MosquittoTransport::SetConnected(bool connected) {
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    connected_ = connected;
  }
  state_cv_.notify_all();
}

void MosquittoTransport::Subscribe(std::string filter, int qos) {
  std::lock_guard<std::mutex> lock(subs_mutex_);
  subscriptions_[filter] = qos;
  if (connected_) {
    int mid = 0;
    int rc = mosquitto_subscribe(mosq_, &mid, filter.c_str(), qos);
    if (rc == MOSQ_ERR_SUCCESS) {
      subscribe_mids_[mid] = filter;
    } else {
      // Not connected any more: the next on_connect sends it.
      Log()->debug("subscribe deferred filter={} rc={}", filter, mosquitto_strerror(rc));
    }
  }
  Wake();
}

void MosquittoTransport::Unsubscribe(const std::string& filter) {
  std::lock_guard<std::mutex> lock(subs_mutex_);
  subscriptions_.erase(filter);
  if (connected_) mosquitto_unsubscribe(mosq_, nullptr, filter.c_str());
  Wake();
}

PublishResult MosquittoTransport::Publish(std::string_view topic, std::string_view payload, int qos,
                                          bool retain) {
  if (qos < 0 || qos > 2 || !IsValidTopicName(topic)) return PublishResult::kInvalid;
  if (!connected_) return PublishResult::kNotConnected;
  const std::string topic_z(topic);  // libmosquitto wants a NUL-terminated topic
  int rc = MOSQ_ERR_SUCCESS;
  {
    // Held across mosquitto_publish so that OnPublish (which takes it too) cannot see the
    // acknowledgement of a mid before we recorded it.
    std::lock_guard<std::mutex> lock(pending_mutex_);
    const auto pending = static_cast<std::int64_t>(pending_acks_.size()) +
                         std::max<std::int64_t>(0, pending_unwritten_);
    if (pending >= options_.max_pending) {
      ++backpressure_;
      return PublishResult::kBackpressure;
    }
    int mid = 0;
    rc = mosquitto_publish(mosq_, &mid, topic_z.c_str(), static_cast<int>(payload.size()),
                           payload.data(), qos, retain);
    if (rc == MOSQ_ERR_SUCCESS) {
      if (qos > 0) {
        pending_acks_.insert(mid);
      } else {
        ++pending_unwritten_;
      }
    }
  }
  switch (rc) {
    case MOSQ_ERR_SUCCESS:
      ++messages_out_;
      Wake();
      return PublishResult::kQueued;
    case MOSQ_ERR_NO_CONN:
    case MOSQ_ERR_CONN_LOST:
      return PublishResult::kNotConnected;
    case MOSQ_ERR_NOMEM:
      ++backpressure_;
      return PublishResult::kBackpressure;
    default:  // INVAL, PAYLOAD_SIZE, MALFORMED_UTF8, QOS_NOT_SUPPORTED, OVERSIZE_PACKET, ...
      Log()->warn("publish refused topic={} rc={}", topic_z, mosquitto_strerror(rc));
      return PublishResult::kInvalid;
  }
}

Stats MosquittoTransport::GetStats() const {
  Stats stats;
  stats.messages_in = messages_in_.load();
  stats.messages_out = messages_out_.load();
  stats.connects = connects_.load();
  stats.reconnects = stats.connects > 0 ? stats.connects - 1 : 0;
  stats.backpressure = backpressure_.load();
  {
    std::lock_guard<std::mutex> lock(pending_mutex_);
    stats.pending = pending_acks_.size() +
                    static_cast<std::uint64_t>(std::max<std::int64_t>(0, pending_unwritten_));
  }
  return stats;
}

void MosquittoTransport::Wake() {
  // Coalesced: one eventfd write until the network thread has taken the wake-up. No wake-up
  // is lost: a caller queues its packet BEFORE exchange(); the network thread clears the flag
  // (DrainWake) BEFORE it writes what is queued. So either the exchange saw `false` and wrote
  // (the next poll wakes), or it saw `true` and the clear (and the write after it) comes later
  // and finds the packet. A burst of publishes costs one syscall instead of one each.
  if (wake_pending_.exchange(true)) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void MosquittoTransport::DrainWake() {
  std::uint64_t value = 0;
  [[maybe_unused]] auto n = ::read(wake_fd_, &value, sizeof value);
  wake_pending_.store(false);
}

void MosquittoTransport::SleepUnlessWoken(std::chrono::milliseconds delay) {
  const auto deadline = std::chrono::steady_clock::now() + delay;
  while (!stopping_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd fd{wake_fd_, POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(left.count())) > 0) DrainWake();
  }
}

int MosquittoTransport::Connect(bool first) {
  if (!first) return mosquitto_reconnect_async(mosq_);
  const char* bind = options_.bind_address.empty() ? nullptr : options_.bind_address.c_str();
  if (options_.protocol_version == 5 && options_.session_expiry_s > 0) {
    mosquitto_property* props = nullptr;
    mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                 options_.session_expiry_s);
    // Blocking TCP connect (see the header); the properties are kept for reconnects.
    int rc = mosquitto_connect_bind_v5(mosq_, options_.host.c_str(), options_.port,
                                       options_.keepalive_s, bind, props);
    mosquitto_property_free_all(&props);
    return rc;
  }
  return mosquitto_connect_bind_async(mosq_, options_.host.c_str(), options_.port,
                                      options_.keepalive_s, bind);
}

void MosquittoTransport::Run() {
  Backoff backoff(options_.reconnect_min, options_.reconnect_max);
  bool first = true;
  while (!stopping_) {
    const int rc = Connect(first);
    first = false;
    if (rc == MOSQ_ERR_SUCCESS) {
      DriveConnection();
    } else {
      Log()->debug("connect failed host={} port={} rc={} errno={}", options_.host, options_.port,
                   mosquitto_strerror(rc), std::strerror(errno));
    }
    if (stopping_) break;
    if (connack_seen_.exchange(false)) backoff.Reset();
    SleepUnlessWoken(backoff.Next());
  }
  // A successful Connect() is always followed by DriveConnection(), which sends DISCONNECT
  // once stopping_ is set; a socket still open here (DISCONNECT not drained within
  // kStopGrace) is closed by mosquitto_destroy.
}

void MosquittoTransport::DriveConnection() {
  bool disconnect_sent = false;
  auto stop_deadline = std::chrono::steady_clock::time_point::max();
  while (true) {
    const int sock = mosquitto_socket(mosq_);
    if (sock < 0) return;  // closed: on_disconnect has run
    if (stopping_ && !disconnect_sent) {
      disconnect_sent = true;
      stop_deadline = std::chrono::steady_clock::now() + kStopGrace;
      if (mosquitto_disconnect(mosq_) != MOSQ_ERR_SUCCESS) return;
    }
    if (disconnect_sent && std::chrono::steady_clock::now() > stop_deadline) {
      Log()->warn("disconnect did not complete in time; closing");
      return;  // mosquitto_destroy closes the socket
    }
    pollfd fds[2] = {
        {sock, static_cast<short>(POLLIN | (mosquitto_want_write(mosq_) ? POLLOUT : 0)), 0},
        {wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, disconnect_sent ? 50 : kPollTimeoutMs);
    if (n < 0 && errno != EINTR) {
      Log()->error("poll failed: {}", std::strerror(errno));
    }
    if (n > 0 && (fds[1].revents & POLLIN) != 0) DrainWake();
    if (n > 0 && (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
      // Reads until EAGAIN; on an error it runs on_disconnect and closes the socket.
      if (mosquitto_loop_read(mosq_, 1) != MOSQ_ERR_SUCCESS) continue;
    }
    // Also when only woken: a publish queued a packet since the last poll.
    if (mosquitto_socket(mosq_) >= 0 && mosquitto_want_write(mosq_)) {
      if (mosquitto_loop_write(mosq_, 1) != MOSQ_ERR_SUCCESS) continue;
    }
    if (mosquitto_socket(mosq_) >= 0) mosquitto_loop_misc(mosq_);  // keepalive
  }
}

void MosquittoTransport::OnConnect(mosquitto* mosq, void* obj, int rc, int /*flags*/,
                                   const mosquitto_property* /*props*/) {
  auto* self = Self(obj);
  if (rc != 0) {
    // libmosquitto closes the connection after this; the network thread retries with
    // backoff (a refused token may become valid, a busy broker may recover).
    Log()->warn("connect refused host={} port={} client_id={} reason={} ({})", self->options_.host,
                self->options_.port, self->options_.client_id, rc,
                self->options_.protocol_version == 5 ? mosquitto_reason_string(rc)
                                                     : mosquitto_connack_string(rc));
    return;
  }
  {
    // QoS 0 packets not written before the last disconnect were dropped by libmosquitto.
    std::lock_guard<std::mutex> lock(self->pending_mutex_);
    self->pending_unwritten_ = 0;
  }
  {
    // Under subs_mutex_ with connected_ set: a concurrent Subscribe() either lands in the
    // map before this loop or sees connected_ and sends it itself.
    std::lock_guard<std::mutex> lock(self->subs_mutex_);
    self->SetConnected(true);
    self->subscribe_mids_.clear();
    for (const auto& [filter, qos] : self->subscriptions_) {
      int mid = 0;
      if (mosquitto_subscribe(mosq, &mid, filter.c_str(), qos) == MOSQ_ERR_SUCCESS) {
        self->subscribe_mids_[mid] = filter;
      }
    }
  }
  const auto connects = ++self->connects_;
  self->connack_seen_ = true;
  Log()->info("connected host={} port={} client_id={} reconnect={}", self->options_.host,
              self->options_.port, self->options_.client_id, connects > 1);
  if (self->connection_handler_) {
    try {
      self->connection_handler_(true, 0);
    } catch (const std::exception& e) {
      Log()->error("connection handler threw: {}", e.what());
    }
  }
}

void MosquittoTransport::OnDisconnect(mosquitto* /*mosq*/, void* obj, int rc,
                                      const mosquitto_property* /*props*/) {
  auto* self = Self(obj);
  if (!self->connected_) return;  // a failed connect attempt, not a lost connection
  self->SetConnected(false);
  if (rc != 0) {
    Log()->warn("connection lost host={} port={} client_id={} rc={} ({})", self->options_.host,
                self->options_.port, self->options_.client_id, rc, mosquitto_strerror(rc));
  } else {
    Log()->info("disconnected host={} port={} client_id={}", self->options_.host,
                self->options_.port, self->options_.client_id);
  }
  if (self->connection_handler_) {
    try {
      self->connection_handler_(false, rc);
    } catch (const std::exception& e) {
      Log()->error("connection handler threw: {}", e.what());
    }
  }
}

void MosquittoTransport::OnMessage(mosquitto* /*mosq*/, void* obj, const mosquitto_message* m,
                                   const mosquitto_property* /*props*/) {
  auto* self = Self(obj);
  ++self->messages_in_;
  if (!self->message_handler_) return;
  Message message{
      .topic = m->topic,
      .payload = std::string(static_cast<const char*>(m->payload),
                             static_cast<std::size_t>(m->payloadlen)),
      .qos = m->qos,
      .retain = m->retain,
  };
  try {
    self->message_handler_(std::move(message));
  } catch (const std::exception& e) {
    Log()->error("message handler threw: {}", e.what());
  }
}

void MosquittoTransport::OnPublish(mosquitto* /*mosq*/, void* obj, int mid, int reason_code,
                                   const mosquitto_property* /*props*/) {
  // QoS 0: the packet was written to the socket. QoS 1/2: the broker acknowledged it.
  auto* self = Self(obj);
  if (reason_code >= 0x80) {
    // MQTT 5 PUBACK failure (e.g. 0x87 not authorized): the broker dropped it.
    Log()->warn("publish rejected by broker mid={} reason={} ({})", mid, reason_code,
                mosquitto_reason_string(reason_code));
  }
  std::lock_guard<std::mutex> lock(self->pending_mutex_);
  if (self->pending_acks_.erase(mid) == 0 && self->pending_unwritten_ > 0) {
    --self->pending_unwritten_;
  }
}

void MosquittoTransport::OnSubscribe(mosquitto* /*mosq*/, void* obj, int mid, int qos_count,
                                     const int* granted_qos, const mosquitto_property* /*props*/) {
  auto* self = Self(obj);
  std::string filter;
  {
    std::lock_guard<std::mutex> lock(self->subs_mutex_);
    auto it = self->subscribe_mids_.find(mid);
    if (it != self->subscribe_mids_.end()) {
      filter = std::move(it->second);
      self->subscribe_mids_.erase(it);
    }
  }
  for (int i = 0; i < qos_count; ++i) {
    if (granted_qos[i] >= 0x80) {
      Log()->warn("subscription refused filter={} reason={}", filter, granted_qos[i]);
    }
  }
}

}  // namespace sparrow::transport
