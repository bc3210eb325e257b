#include "transport/paho_transport.hpp"

#include <mqtt/async_client.h>

#include <stdexcept>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/log.hpp"
#include "transport/backoff.hpp"

namespace sparrow::transport {
namespace {

// How long Stop() lets in-flight messages and the DISCONNECT complete.
constexpr auto kStopGrace = std::chrono::milliseconds(1000);
// Granularity of the supervisor's token waits, so that Stop() stays prompt.
constexpr auto kWaitSlice = std::chrono::milliseconds(20);

std::shared_ptr<spdlog::logger> Log() {
  static auto logger = common::Logger("transport");
  return logger;
}

// The PahoTransport whose callback the current thread is running, to refuse Stop() there.
thread_local const PahoTransport* tls_in_callback_of = nullptr;

}  // namespace

// Logs refused subscriptions. Runs on Paho's callback thread; stateless, so one per
// transport serves every SUBSCRIBE.
class PahoTransport::SubscribeListener final : public mqtt::iaction_listener {
 public:
  void on_failure(const mqtt::token& tok) override {
    const int rc = tok.get_return_code();
    if (rc == MQTTASYNC_OPERATION_INCOMPLETE || rc == MQTTASYNC_DISCONNECTED) {
      // Not a refusal: the connection closed (or we disconnected) before the SUBACK. The
      // subscription is sent again on the next connect.
      Log()->debug("subscription abandoned by a disconnect rc={}", rc);
      return;
    }
    Log()->warn("subscription refused rc={} reason={}", rc,
                static_cast<int>(tok.get_reason_code()));
  }
  void on_success(const mqtt::token& tok) override {
    try {
      const auto response = tok.get_subscribe_response();  // keep it alive while iterating
      for (auto code : response.get_reason_codes()) {
        if (static_cast<int>(code) >= 0x80) {
          Log()->warn("subscription refused reason={}", static_cast<int>(code));
        }
      }
    } catch (const std::exception&) {
      // Not a subscribe response (cannot happen for our tokens): nothing to check.
    }
  }
};

PahoTransport::PahoTransport(Options options) : options_(std::move(options)) {
  ValidateOptions(options_);
  if (!options_.bind_address.empty()) {
    throw common::ConfigError(
        "transport: bind_address: not supported by the paho library (use mosquitto)");
  }
  const bool v5 = options_.protocol_version == 5;

  auto opts = std::make_unique<mqtt::connect_options>();
  // The version first: set_mqtt_version() resets the clean-session/clean-start flags.
  opts->set_mqtt_version(v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
  if (v5) {
    opts->set_clean_start(options_.clean_start);
  } else {
    opts->set_clean_session(options_.clean_start);
  }
  opts->set_keep_alive_interval(options_.keepalive_s);
  opts->set_connect_timeout(10);
  opts->set_max_inflight(options_.max_inflight);
  opts->set_automatic_reconnect(false);  // our supervisor reconnects (see the header)
  if (!options_.username.empty()) {
    opts->set_user_name(options_.username);
    if (!options_.password.empty()) opts->set_password(options_.password);
  }
  if (v5) {
    mqtt::properties props;
    props.add(mqtt::property(mqtt::property::RECEIVE_MAXIMUM, options_.max_inflight));
    if (options_.session_expiry_s > 0) {
      props.add(mqtt::property(mqtt::property::SESSION_EXPIRY_INTERVAL,
                               static_cast<int>(options_.session_expiry_s)));
    }
    // Paho C++ 1.2.0 drops properties given to connect_options_builder: set them on the
    // built options.
    opts->set_properties(props);
  }
  connect_options_ = std::move(opts);

  // Without create_options(MQTTVERSION_5) an MQTT 5 connect fails with -16. The buffer
  // bound is what turns a burst into -12 (kBackpressure) instead of unbounded memory.
  mqtt::create_options create(v5 ? MQTTVERSION_5 : MQTTVERSION_DEFAULT, options_.max_pending);
  create.set_send_while_disconnected(false);
  const std::string uri = "tcp://" + options_.host + ":" + std::to_string(options_.port);
  client_ = std::make_unique<mqtt::async_client>(uri, options_.client_id, create);
  subscribe_listener_ = std::make_unique<SubscribeListener>();

  client_->set_message_callback([this](const mqtt::const_message_ptr& msg) {
    if (!EnterCallback()) return;
    ++messages_in_;
    if (message_handler_) {
      Message message{
          .topic = msg->get_topic(),
          .payload = msg->get_payload_str(),
          .qos = msg->get_qos(),
          .retain = msg->is_retained(),
      };
      try {
        message_handler_(std::move(message));
      } catch (const std::exception& e) {
        Log()->error("message handler threw: {}", e.what());
      }
    }
    LeaveCallback();
  });
  client_->set_connected_handler([this](const std::string& /*cause*/) {
    if (!EnterCallback()) return;
    OnConnected();
    LeaveCallback();
  });
  client_->set_connection_lost_handler([this](const std::string& /*cause*/) {
    if (!EnterCallback()) return;
    OnLost(MQTTASYNC_DISCONNECTED);
    LeaveCallback();
  });
  // MQTT 5: the broker sent DISCONNECT (e.g. session taken over, server shutting down).
  client_->set_disconnected_handler([this](const mqtt::properties&, mqtt::ReasonCode reason) {
    if (!EnterCallback()) return;
    OnLost(static_cast<int>(reason));
    LeaveCallback();
  });
}

PahoTransport::~PahoTransport() {
  Stop();
  client_.reset();  // before the members its callbacks use
}

void PahoTransport::SetMessageHandler(MessageHandler handler) {
  message_handler_ = std::move(handler);
}

void PahoTransport::SetConnectionHandler(ConnectionHandler handler) {
  connection_handler_ = std::move(handler);
}

void PahoTransport::Start() {
  if (started_.exchange(true)) throw std::logic_error("PahoTransport::Start called twice");
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (stopping_) return;
  }
  supervisor_ = std::thread([this] { Supervise(); });
}

void PahoTransport::Stop() {
  if (tls_in_callback_of == this) {
    throw std::logic_error("PahoTransport::Stop called from a transport handler");
  }
  std::lock_guard<std::mutex> stop_lock(stop_mutex_);
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (stopping_ && !supervisor_.joinable()) return;  // already stopped
    stopping_ = true;
  }
  state_cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  if (client_ && client_->is_connected()) {
    try {
      auto tok = client_->disconnect(kStopGrace);
      tok->wait_for(kStopGrace + std::chrono::milliseconds(500));
    } catch (const mqtt::exception& e) {
      Log()->debug("disconnect: {}", e.what());
    }
  }
  {
    // Close the gate and wait for running callbacks: none runs after Stop() returns.
    std::unique_lock<std::mutex> lock(gate_mutex_);
    callbacks_enabled_ = false;
    gate_cv_.wait(lock, [this] { return callbacks_active_ == 0; });
  }
  // No disable_callbacks(): in 1.2.0 it always throws -1 (Paho C refuses a null
  // message-arrived callback). The gate above already silences our callbacks.
  bool was_connected = false;
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    was_connected = connected_.exchange(false);
  }
  state_cv_.notify_all();
  if (was_connected) {
    Log()->info("disconnected host={} port={} client_id={}", options_.host, options_.port,
                options_.client_id);
    // Paho reports no callback for a disconnect we asked for: report it here, on this
    // thread, as the contract's final (false, 0).
    if (connection_handler_) {
      try {
        connection_handler_(false, 0);
      } catch (const std::exception& e) {
        Log()->error("connection handler threw: {}", e.what());
      }
    }
  }
}

bool PahoTransport::EnterCallback() {
  std::lock_guard<std::mutex> lock(gate_mutex_);
  if (!callbacks_enabled_) return false;
  ++callbacks_active_;
  tls_in_callback_of = this;
  return true;
}

void PahoTransport::LeaveCallback() {
  tls_in_callback_of = nullptr;
  std::lock_guard<std::mutex> lock(gate_mutex_);
  if (--callbacks_active_ == 0) gate_cv_.notify_all();
}

bool PahoTransport::WaitConnected(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(state_mutex_);
  state_cv_.wait_for(lock, timeout, [this] { return connected_.load() || stopping_; });
  return connected_.load();
}

bool PahoTransport::IsConnected() const { return connected_.load(); }

void PahoTransport::Supervise() {
  Backoff backoff(options_.reconnect_min, options_.reconnect_max);
  std::unique_lock<std::mutex> lock(state_mutex_);
  while (true) {
    state_cv_.wait(lock, [this] { return stopping_ || need_connect_; });
    if (stopping_) return;
    need_connect_ = false;
    lock.unlock();
    bool ok = false;
    try {
      auto tok = client_->connect(*connect_options_);
      // Not a callback thread: waiting on the token is allowed here.
      while (!(ok = tok->wait_for(kWaitSlice))) {
        std::lock_guard<std::mutex> check(state_mutex_);
        if (stopping_) break;
      }
    } catch (const mqtt::exception& e) {
      Log()->debug("connect failed host={} port={} rc={} reason={}", options_.host, options_.port,
                   e.get_return_code(), static_cast<int>(e.get_reason_code()));
    }
    lock.lock();
    if (stopping_) return;
    if (ok) {
      backoff.Reset();
      continue;  // need_connect_ turns true again when the connection is lost
    }
    need_connect_ = true;
    state_cv_.wait_for(lock, backoff.Next(), [this] { return stopping_; });
  }
}

void PahoTransport::OnConnected() {
  // Snapshot under subs_mutex_ with connected_ set, send outside it (we never call into
  // Paho while holding a lock of ours): a concurrent Subscribe() either lands in the
  // snapshot or sees connected_ and sends it itself.
  std::vector<std::pair<std::string, int>> snapshot;
  {
    std::lock_guard<std::mutex> lock(subs_mutex_);
    {
      std::lock_guard<std::mutex> state(state_mutex_);
      connected_ = true;
    }
    snapshot.assign(subscriptions_.begin(), subscriptions_.end());
  }
  state_cv_.notify_all();
  for (const auto& [filter, qos] : snapshot) SendSubscribe(filter, qos);
  const auto connects = ++connects_;
  Log()->info("connected host={} port={} client_id={} reconnect={}", options_.host, options_.port,
              options_.client_id, connects > 1);
  if (connection_handler_) {
    try {
      connection_handler_(true, 0);
    } catch (const std::exception& e) {
      Log()->error("connection handler threw: {}", e.what());
    }
  }
}

void PahoTransport::OnLost(int reason) {
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (!connected_.exchange(false)) return;  // already reported
    need_connect_ = true;
  }
  state_cv_.notify_all();
  Log()->warn("connection lost host={} port={} client_id={} reason={}", options_.host,
              options_.port, options_.client_id, reason);
  if (connection_handler_) {
    try {
      connection_handler_(false, reason);
    } catch (const std::exception& e) {
      Log()->error("connection handler threw: {}", e.what());
    }
  }
}

void PahoTransport::SendSubscribe(const std::string& filter, int qos) {  // no lock held
  try {
    // Never wait on this token: we may be on Paho's callback thread.
    client_->subscribe(filter, qos, nullptr, *subscribe_listener_);
  } catch (const mqtt::exception& e) {
    // Disconnected meanwhile: the next connected callback re-sends it.
    Log()->debug("subscribe deferred filter={} rc={}", filter, e.get_return_code());
  }
}

void PahoTransport::Subscribe(std::string filter, int qos) {
  bool send = false;
  {
    std::lock_guard<std::mutex> lock(subs_mutex_);
    subscriptions_[filter] = qos;
    send = connected_;
  }
  if (send) SendSubscribe(filter, qos);
}

void PahoTransport::Unsubscribe(const std::string& filter) {
  bool send = false;
  {
    std::lock_guard<std::mutex> lock(subs_mutex_);
    subscriptions_.erase(filter);
    send = connected_;
  }
  if (!send) return;
  try {
    client_->unsubscribe(filter);
  } catch (const mqtt::exception& e) {
    Log()->debug("unsubscribe not sent filter={} rc={}", filter, e.get_return_code());
  }
}

PublishResult PahoTransport::Publish(std::string_view topic, std::string_view payload, int qos,
                                     bool retain) {
  if (qos < 0 || qos > 2 || !IsValidTopicName(topic)) return PublishResult::kInvalid;
  if (!connected_) return PublishResult::kNotConnected;
  try {
    client_->publish(
        mqtt::make_message(std::string(topic), payload.data(), payload.size(), qos, retain));
    ++messages_out_;
    return PublishResult::kQueued;
  } catch (const mqtt::exception& e) {
    switch (e.get_return_code()) {
      case MQTTASYNC_MAX_BUFFERED_MESSAGES:  // -12: the trap in DEPENDENCIES.md
      case MQTTASYNC_MAX_BUFFERED:
        ++backpressure_;
        return PublishResult::kBackpressure;
      case MQTTASYNC_DISCONNECTED:
      case MQTTASYNC_FAILURE:
        return PublishResult::kNotConnected;
      default:  // bad UTF-8, bad QoS, bad topic, ...
        Log()->warn("publish refused topic={} rc={}", topic, e.get_return_code());
        return PublishResult::kInvalid;
    }
  }
}

Stats PahoTransport::GetStats() const {
  Stats stats;
  stats.messages_in = messages_in_.load();
  stats.messages_out = messages_out_.load();
  stats.connects = connects_.load();
  stats.reconnects = stats.connects > 0 ? stats.connects - 1 : 0;
  stats.backpressure = backpressure_.load();
  stats.pending = client_ ? client_->get_pending_delivery_tokens().size() : 0;
  return stats;
}

}  // namespace sparrow::transport
