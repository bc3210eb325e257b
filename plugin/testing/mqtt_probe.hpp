// MqttProbe: a small libmosquitto client for the plugin's integration tests and benchmark,
// which reports what a broker answered, packet by packet: the CONNACK reason code, each
// SUBACK code, each PUBACK code. (The Transport adapters hide these on purpose: services
// only need to know they are connected.) One connection, never reconnects.
//
//   MqttProbe alice({.port = broker.port(), .client_id = "alice:phone", .username = "alice",
//                    .password = token, .protocol_version = 5});
//   ASSERT_EQ(alice.Connect(), 0);
//   EXPECT_EQ(alice.Subscribe({"im/in/bob"}), std::vector<int>{0x87});
//   EXPECT_EQ(alice.Publish("im/in/bob", "x"), 0x87);
//
// Threads: a network thread runs mosquitto_loop(); every public method may be called from
// one test thread while it runs. Waits are bounded (the timeout arguments).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

struct mosquitto;

namespace sparrow::plugin::testing {

struct ProbeWill {
  std::string topic{};
  std::string payload{};
  int qos = 0;
  bool retain = false;
  std::uint32_t delay_s = 0;  // MQTT 5 Will Delay Interval (0: none)
};

struct ProbeOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string client_id{};
  std::string username{};    // empty: none sent
  std::string password{};    // empty: none sent
  int protocol_version = 5;  // 5 or 4 (3.1.1)
  std::optional<ProbeWill> will{};
};

struct ProbeMessage {
  std::string topic{};
  std::string payload{};
  int qos = 0;
  bool retain = false;
};

class MqttProbe {
 public:
  static constexpr std::chrono::milliseconds kTimeout{5000};
  // Result of a wait that timed out or a connection that went away.
  static constexpr int kNoAnswer = -1;

  explicit MqttProbe(ProbeOptions options);
  ~MqttProbe();  // Disconnect()
  MqttProbe(const MqttProbe&) = delete;
  MqttProbe& operator=(const MqttProbe&) = delete;

  // Opens the TCP connection, sends CONNECT and waits for the CONNACK. Returns its reason
  // code: 0 accepted; refused: 5 over 3.1.1, 0x87 over MQTT 5 for "not authorized". kNoAnswer
  // if the broker closed the connection or nothing came in time. Call once.
  int Connect(std::chrono::milliseconds timeout = kTimeout);
  // One SUBSCRIBE with every filter at `qos`; returns the SUBACK codes in order (granted QoS,
  // or >= 0x80 refused), or an empty vector on no answer.
  std::vector<int> Subscribe(const std::vector<std::string>& filters, int qos = 1,
                             std::chrono::milliseconds timeout = kTimeout);
  // Publishes at QoS 1 and waits for the PUBACK: its reason code over MQTT 5 (0 or 0x10 "no
  // subscribers" accepted, 0x87 refused); 0 over 3.1.1 whatever happened. kNoAnswer if the
  // connection went away or nothing came in time.
  int Publish(const std::string& topic, const std::string& payload, bool retain = false,
              std::chrono::milliseconds timeout = kTimeout);
  // QoS 0, no wait; false if the library refused it at once.
  bool PublishQos0(const std::string& topic, const std::string& payload);

  // Messages received so far (copies), in order.
  std::vector<ProbeMessage> Messages() const;
  // Waits until a received message satisfies `pred`.
  bool WaitForMessage(const std::function<bool(const ProbeMessage&)>& pred,
                      std::chrono::milliseconds timeout = kTimeout) const;
  bool WaitForPayload(const std::string& payload,
                      std::chrono::milliseconds timeout = kTimeout) const;

  // True between an accepted CONNACK and the end of the connection.
  bool connected() const { return connected_.load(); }
  // Waits until the connection has ended (e.g. the broker closed it after a takeover).
  bool WaitDisconnected(std::chrono::milliseconds timeout = kTimeout) const;

  // Closes the socket without a DISCONNECT packet: to the broker an unexpected loss, so it
  // publishes the will.
  void DropConnection();
  // Sends DISCONNECT (no will), stops the network thread. Idempotent.
  void Disconnect();

 private:
  void Run();
  bool Wait(const std::function<bool()>& done, std::chrono::milliseconds timeout) const;

  ProbeOptions options_;
  mosquitto* mosq_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::atomic<bool> ended_{false};

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  int connack_ = kNoAnswer;                  // guarded by mutex_
  std::map<int, std::vector<int>> subacks_;  // mid -> codes; guarded by mutex_
  std::map<int, int> pubacks_;               // mid -> reason; guarded by mutex_
  std::vector<ProbeMessage> messages_;       // guarded by mutex_

  friend struct ProbeCallbacks;
};

}  // namespace sparrow::plugin::testing
