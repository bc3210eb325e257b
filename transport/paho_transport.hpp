// PahoTransport: Transport over Eclipse Paho MQTT C++ 1.2.0 (`mqtt::async_client`, on Paho
// C 1.3.12). The client library uses it; services prefer MosquittoTransport, which costs
// several times less CPU (DEPENDENCIES.md).
//
// Known limits of Paho, which this adapter cannot lift:
//   - Paho C never sets TCP_NODELAY and has no option for it: with Nagle on, a
//     request/response hop can cost milliseconds. Brokers we configure set
//     `set_tcp_nodelay true` on their side; latency-critical code should use
//     MosquittoTransport.
//   - No source-address binding: a non-empty Options::bind_address is a ConfigError.
//   - Paho C runs ONE receive thread for all clients of the process: every PahoTransport's
//     handlers run on that thread, so a handler that blocks stalls every Paho client.
//
// How it runs: Paho's own threads deliver callbacks; our callbacks only convert, count and
// forward (never wait for a token: it never completes inside a callback). A supervisor
// thread of ours connects and reconnects with millisecond backoff (Paho's automatic
// reconnect counts whole seconds and does not resubscribe); the connected callback
// re-sends every remembered subscription. Publish() maps Paho's -12 ("no more messages can
// be buffered", raised once Options::max_pending publishes wait in the library, even while
// connected) to kBackpressure.
//
// Thread safety: all public methods are thread-safe (see Transport). `gate_mutex_` guards
// the callback gate (no handler runs after Stop() returns); `state_mutex_` guards the
// supervisor's state; `subs_mutex_` guards the subscriptions. No lock of ours is held while
// calling into Paho, so Paho's internal locks can never order against ours.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "transport/transport.hpp"

namespace mqtt {
class async_client;
class connect_options;
}  // namespace mqtt

namespace sparrow::transport {

class PahoTransport final : public Transport {
 public:
  // Validates `options` (ConfigError naming the option; bind_address must be empty) and
  // creates the Paho client; no network activity until Start().
  explicit PahoTransport(Options options);
  ~PahoTransport() override;

  void SetMessageHandler(MessageHandler handler) override;
  void SetConnectionHandler(ConnectionHandler handler) override;
  void Start() override;
  void Stop() override;
  bool WaitConnected(std::chrono::milliseconds timeout) override;
  bool IsConnected() const override;
  void Subscribe(std::string filter, int qos) override;
  void Unsubscribe(const std::string& filter) override;
  PublishResult Publish(std::string_view topic, std::string_view payload, int qos,
                        bool retain = false) override;
  Stats GetStats() const override;

 private:
  class SubscribeListener;

  void Supervise();  // supervisor thread
  // Paho callback thread.
  void OnConnected();
  void OnLost(int reason);
  void SendSubscribe(const std::string& filter, int qos);  // caller holds no lock of ours
  bool EnterCallback();
  void LeaveCallback();

  const Options options_;
  MessageHandler message_handler_;        // set before Start, then read-only
  ConnectionHandler connection_handler_;  // set before Start, then read-only
  std::unique_ptr<SubscribeListener> subscribe_listener_;
  std::unique_ptr<mqtt::connect_options> connect_options_;  // read by the supervisor only
  std::unique_ptr<mqtt::async_client> client_;
  std::thread supervisor_;
  std::atomic<bool> started_{false};
  std::atomic<bool> connected_{false};  // written under state_mutex_

  std::mutex state_mutex_;  // guards the three members below; state_cv_ signals changes
  std::condition_variable state_cv_;
  bool stopping_ = false;
  bool need_connect_ = true;

  std::mutex stop_mutex_;  // serializes Stop()

  std::mutex gate_mutex_;  // guards the two members below
  std::condition_variable gate_cv_;
  bool callbacks_enabled_ = true;
  int callbacks_active_ = 0;

  std::mutex subs_mutex_;
  std::map<std::string, int> subscriptions_;  // filter -> qos, re-sent on every connect

  std::atomic<std::uint64_t> messages_in_{0};
  std::atomic<std::uint64_t> messages_out_{0};
  std::atomic<std::uint64_t> connects_{0};
  std::atomic<std::uint64_t> backpressure_{0};
};

}  // namespace sparrow::transport
