#include "plugin/testing/mqtt_probe.hpp"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <sys/socket.h>

#include <stdexcept>

namespace sparrow::plugin::testing {

// The libmosquitto callbacks; they run on the probe's network thread.
struct ProbeCallbacks {
  static MqttProbe& Self(void* obj) { return *static_cast<MqttProbe*>(obj); }

  static void OnConnect(mosquitto*, void* obj, int rc, int /*flags*/, const mosquitto_property*) {
    MqttProbe& p = Self(obj);
    std::lock_guard<std::mutex> lock(p.mutex_);
    p.connack_ = rc;
    p.connected_ = rc == 0;
    p.changed_.notify_all();
  }
  static void OnDisconnect(mosquitto*, void* obj, int /*rc*/, const mosquitto_property*) {
    MqttProbe& p = Self(obj);
    std::lock_guard<std::mutex> lock(p.mutex_);
    p.connected_ = false;
    p.changed_.notify_all();
  }
  static void OnSubscribe(mosquitto*, void* obj, int mid, int count, const int* granted,
                          const mosquitto_property*) {
    MqttProbe& p = Self(obj);
    std::lock_guard<std::mutex> lock(p.mutex_);
    p.subacks_[mid] = std::vector<int>(granted, granted + count);
    p.changed_.notify_all();
  }
  static void OnPublish(mosquitto*, void* obj, int mid, int reason, const mosquitto_property*) {
    MqttProbe& p = Self(obj);
    std::lock_guard<std::mutex> lock(p.mutex_);
    p.pubacks_[mid] = reason;
    p.changed_.notify_all();
  }
  static void OnMessage(mosquitto*, void* obj, const mosquitto_message* m,
                        const mosquitto_property*) {
    MqttProbe& p = Self(obj);
    std::lock_guard<std::mutex> lock(p.mutex_);
    p.messages_.push_back({m->topic,
                           std::string(static_cast<const char*>(m->payload), m->payloadlen), m->qos,
                           m->retain});
    p.changed_.notify_all();
  }
};

MqttProbe::MqttProbe(ProbeOptions options) : options_(std::move(options)) {
  static const int init = mosquitto_lib_init();
  (void)init;
  mosq_ =
      mosquitto_new(options_.client_id.empty() ? nullptr : options_.client_id.c_str(), true, this);
  if (mosq_ == nullptr) throw std::runtime_error("MqttProbe: mosquitto_new failed");
  mosquitto_threaded_set(mosq_, true);
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION,
                       options_.protocol_version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
  if (!options_.username.empty()) {
    mosquitto_username_pw_set(mosq_, options_.username.c_str(),
                              options_.password.empty() ? nullptr : options_.password.c_str());
  }
  if (options_.will) {
    const ProbeWill& w = *options_.will;
    mosquitto_property* props = nullptr;
    if (w.delay_s > 0) {
      mosquitto_property_add_int32(&props, MQTT_PROP_WILL_DELAY_INTERVAL, w.delay_s);
    }
    // mosquitto_will_set_v5 takes ownership of `props` on success only.
    if (mosquitto_will_set_v5(mosq_, w.topic.c_str(), static_cast<int>(w.payload.size()),
                              w.payload.data(), w.qos, w.retain, props) != MOSQ_ERR_SUCCESS) {
      mosquitto_property_free_all(&props);
      mosquitto_destroy(mosq_);
      throw std::runtime_error("MqttProbe: invalid will");
    }
  }
  mosquitto_connect_v5_callback_set(mosq_, ProbeCallbacks::OnConnect);
  mosquitto_disconnect_v5_callback_set(mosq_, ProbeCallbacks::OnDisconnect);
  mosquitto_subscribe_v5_callback_set(mosq_, ProbeCallbacks::OnSubscribe);
  mosquitto_publish_v5_callback_set(mosq_, ProbeCallbacks::OnPublish);
  mosquitto_message_v5_callback_set(mosq_, ProbeCallbacks::OnMessage);
}

MqttProbe::~MqttProbe() {
  Disconnect();
  mosquitto_destroy(mosq_);
}

bool MqttProbe::Wait(const std::function<bool()>& done, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return done() || ended_.load(); }) && done();
}

void MqttProbe::Run() {
  while (!stop_.load()) {
    const int rc = mosquitto_loop(mosq_, 10, 1);
    if (rc != MOSQ_ERR_SUCCESS) break;  // connection refused, closed or lost: no reconnect
  }
  std::lock_guard<std::mutex> lock(mutex_);
  connected_ = false;
  ended_ = true;
  changed_.notify_all();
}

int MqttProbe::Connect(std::chrono::milliseconds timeout) {
  if (thread_.joinable()) throw std::logic_error("MqttProbe: Connect() called twice");
  if (mosquitto_connect_bind_v5(mosq_, options_.host.c_str(), options_.port, 30, nullptr,
                                nullptr) != MOSQ_ERR_SUCCESS) {
    ended_ = true;
    return kNoAnswer;
  }
  thread_ = std::thread([this] { Run(); });
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return connack_ != kNoAnswer || ended_.load(); });
  return connack_;
}

std::vector<int> MqttProbe::Subscribe(const std::vector<std::string>& filters, int qos,
                                      std::chrono::milliseconds timeout) {
  std::vector<char*> subs;
  subs.reserve(filters.size());
  for (const auto& f : filters) subs.push_back(const_cast<char*>(f.c_str()));
  int mid = 0;
  if (mosquitto_subscribe_multiple(mosq_, &mid, static_cast<int>(subs.size()), subs.data(), qos, 0,
                                   nullptr) != MOSQ_ERR_SUCCESS) {
    return {};
  }
  if (!Wait([&] { return subacks_.count(mid) > 0; }, timeout)) return {};
  std::lock_guard<std::mutex> lock(mutex_);
  return subacks_[mid];
}

int MqttProbe::Publish(const std::string& topic, const std::string& payload, bool retain,
                       std::chrono::milliseconds timeout) {
  int mid = 0;
  if (mosquitto_publish_v5(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                           payload.data(), 1, retain, nullptr) != MOSQ_ERR_SUCCESS) {
    return kNoAnswer;
  }
  if (!Wait([&] { return pubacks_.count(mid) > 0; }, timeout)) return kNoAnswer;
  std::lock_guard<std::mutex> lock(mutex_);
  return pubacks_[mid];
}

bool MqttProbe::PublishQos0(const std::string& topic, const std::string& payload) {
  return mosquitto_publish_v5(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                              payload.data(), 0, false, nullptr) == MOSQ_ERR_SUCCESS;
}

std::vector<ProbeMessage> MqttProbe::Messages() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return messages_;
}

bool MqttProbe::WaitForMessage(const std::function<bool(const ProbeMessage&)>& pred,
                               std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  const auto seen = [&] {
    for (const auto& m : messages_) {
      if (pred(m)) return true;
    }
    return false;
  };
  return changed_.wait_for(lock, timeout, seen);
}

bool MqttProbe::WaitForPayload(const std::string& payload,
                               std::chrono::milliseconds timeout) const {
  return WaitForMessage([&](const ProbeMessage& m) { return m.payload == payload; }, timeout);
}

bool MqttProbe::WaitDisconnected(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return ended_.load(); });
}

void MqttProbe::DropConnection() {
  const int fd = mosquitto_socket(mosq_);
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  WaitDisconnected();
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void MqttProbe::Disconnect() {
  if (connected_.load()) {
    mosquitto_disconnect(mosq_);
    WaitDisconnected(std::chrono::milliseconds(1000));
  }
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace sparrow::plugin::testing
