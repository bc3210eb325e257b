// RawMqtt: a hand-written MQTT 3.1.1 / 5 client over a blocking TCP socket, for the packets a
// real client library refuses to send: a PUBLISH to a topic name with wildcards, a will on a
// wildcard topic, a topic alias re-pointed at another topic. What an attacker sends, byte by
// byte; the tests then observe what the broker does with it.
//
//   RawMqtt raw(port, 5);
//   ASSERT_EQ(raw.Connect("alice:phone", "alice", token), 0);
//   EXPECT_EQ(raw.Publish("im/#", "x", 1), RawMqtt::kClosed);   // malformed: connection closed
//
// Not thread-safe. Every read waits at most `timeout` (default 5 s).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sparrow::security {

struct RawMessage {
  std::string topic;
  std::string payload;
  bool retain = false;
};

struct RawWill {
  std::string topic;
  std::string payload;
  int qos = 1;
  bool retain = false;
};

class RawMqtt {
 public:
  static constexpr int kClosed = -1;   // the broker closed the connection (or sent DISCONNECT)
  static constexpr int kTimeout = -2;  // nothing came in time

  // Connects the TCP socket to 127.0.0.1:port. `version`: 4 (3.1.1) or 5. Throws
  // std::runtime_error if the TCP connection fails.
  RawMqtt(int port, int version, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~RawMqtt();
  RawMqtt(const RawMqtt&) = delete;
  RawMqtt& operator=(const RawMqtt&) = delete;

  // CONNECT (clean session); returns the CONNACK return/reason code, or kClosed/kTimeout.
  int Connect(const std::string& client_id, const std::string& username,
              const std::string& password, const std::optional<RawWill>& will = std::nullopt);
  // PUBLISH; for QoS 1 waits for the PUBACK and returns its reason code (0 over 3.1.1); for
  // QoS 2 returns the PUBREC's code after completing the flow (PUBREL, PUBCOMP) when it
  // accepted; for QoS 0 returns 0 once written. `topic_alias` > 0 adds the MQTT 5 Topic Alias
  // property (an empty `topic` then uses the alias alone). kClosed if the broker hung up.
  int Publish(const std::string& topic, const std::string& payload, int qos, bool retain = false,
              std::uint16_t topic_alias = 0);
  // SUBSCRIBE with one filter; the SUBACK code, or kClosed/kTimeout.
  int Subscribe(const std::string& filter, int qos = 1);
  // DISCONNECT (normal: no will) and close. Idempotent.
  void Disconnect();
  // Closes the socket without DISCONNECT (the broker then publishes the will).
  void Drop();
  // True if the broker closes the connection within `timeout` (reading any packets
  // meanwhile).
  bool WaitClosed(std::chrono::milliseconds timeout);
  // Reads packets until a received PUBLISH satisfies `pred` (true), or `timeout` passes or the
  // connection ends (false). Checks the messages already received first.
  bool WaitForMessage(const std::function<bool(const RawMessage&)>& pred,
                      std::chrono::milliseconds timeout);
  // Every PUBLISH received so far (while waiting for acks or in WaitForMessage), in order.
  const std::vector<RawMessage>& received() const { return received_; }
  bool closed() const { return closed_; }

 private:
  void Send(std::uint8_t header, const std::string& body);
  // Reads one packet: the fixed header's first byte and the body. nullopt: closed or timeout
  // (`closed_` says which).
  std::optional<std::pair<std::uint8_t, std::string>> Read(std::chrono::milliseconds timeout);
  // Reads packets until one whose type is `type` (others are skipped; incoming PUBLISHes are
  // recorded in received_, those of QoS 1 acknowledged).
  std::optional<std::string> ReadUntil(std::uint8_t type);
  // Records an incoming PUBLISH (and acknowledges it at QoS 1).
  void OnPublish(std::uint8_t first, const std::string& body);
  bool ReadExact(char* out, std::size_t n, std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  int version_;
  std::chrono::milliseconds timeout_;
  std::uint16_t next_packet_id_ = 1;
  bool closed_ = false;
  std::vector<RawMessage> received_;
};

}  // namespace sparrow::security
