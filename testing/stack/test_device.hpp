// A raw Sparrow device for end-to-end tests: an MQTT connection speaking the frames of
// topics.md by hand (no client library logic), recording every frame it receives, so tests can
// send exactly what they mean (repeats, gaps, garbage) and assert on exactly what came back.
//
// Thread-safe: frames arrive on the transport's thread; accessors take a lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "transport/transport.hpp"

namespace sparrow::testing {

class SparrowStack;

struct ReceivedFrame {
  std::string topic;
  nlohmann::json frame;  // a non-JSON payload is stored as {"raw": "..."}
};

class TestDevice {
 public:
  // `broker`: which of the stack's brokers to connect to; `library`: "mosquitto" or "paho".
  TestDevice(SparrowStack& stack, std::string user, std::string device, int protocol_version = 5,
             int broker = 0, std::string library = "mosquitto");
  ~TestDevice();

  // Connects, subscribes to im/in/{user} and im/in/{user}/{device}, sends `sync` with
  // `after` and waits for its `synced` (proving the subscriptions and the services work).
  // Returns the synced frame, or nullopt on timeout.
  std::optional<nlohmann::json> Connect(
      std::uint64_t after = 0, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void Disconnect();

  // Publishing on im/up/{user}/{device} (QoS 1). Returns false if the transport refused.
  bool SendChat(std::int64_t id, const std::string& dest, const std::string& body,
                const std::string& kind = "text");
  bool SendAck(const std::string& msg_type, const std::string& mid);
  bool SendSync(std::uint64_t after);
  bool SendRaw(const std::string& payload);

  // Everything received so far, in arrival order.
  std::vector<ReceivedFrame> Received() const;
  // Frames matching `pred`.
  std::vector<nlohmann::json> Frames(const std::function<bool(const ReceivedFrame&)>& pred) const;
  // Chats received on the user's inbox topic (live), sent to this user (not own copies).
  std::vector<nlohmann::json> IncomingChats() const;
  // Acks with msgType `type` (SENT on the device topic; DELIVERED/READ on the inbox topic).
  std::vector<nlohmann::json> Acks(const std::string& type) const;
  std::vector<nlohmann::json> Errors() const;
  std::vector<nlohmann::json> Synced() const;
  void Clear();

  // Waits until `pred` holds over the received frames.
  bool WaitFor(const std::function<bool(const TestDevice&)>& pred,
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  const std::string& user() const { return user_; }
  const std::string& device() const { return device_; }
  transport::Transport& transport() { return *transport_; }

 private:
  SparrowStack& stack_;
  std::string user_;
  std::string device_;
  std::unique_ptr<transport::Transport> transport_;
  mutable std::mutex mutex_;  // guards received_
  std::vector<ReceivedFrame> received_;
};

}  // namespace sparrow::testing
