// FakeTransport: an in-memory Transport for unit tests of services. No network, no threads:
// Start() "connects" at once, Publish() records, Deliver() runs the message handler on the
// caller's thread, and the test can drop the connection or make publishes fail.
//
//   FakeTransport transport;
//   Service service(transport);                   // sets handlers, subscribes
//   transport.Start();
//   transport.Deliver({.topic = "im/up/alice/phone", .payload = frame, .qos = 1});
//   EXPECT_EQ(transport.PublishedTo("im/in/bob").size(), 1u);
//   transport.FailNextPublishes(3);               // the next 3 get kBackpressure
//
// Thread-safe: `mutex_` guards all state. Handlers are called without holding it, so they
// may call back into the fake (Publish from a message handler, as a relay does).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "transport/transport.hpp"

namespace sparrow::testing {

class FakeTransport final : public transport::Transport {
 public:
  FakeTransport() = default;

  void SetMessageHandler(MessageHandler handler) override;
  void SetConnectionHandler(ConnectionHandler handler) override;
  // Connects at once: the connection handler runs (true, 0) on the caller's thread.
  void Start() override;
  // Disconnects (the handler runs (false, 0) if connected). Idempotent.
  void Stop() override;
  bool WaitConnected(std::chrono::milliseconds timeout) override;
  bool IsConnected() const override;
  void Subscribe(std::string filter, int qos) override;
  void Unsubscribe(const std::string& filter) override;
  // kNotConnected when disconnected; the injected failure when FailNextPublishes is armed
  // (not recorded); otherwise records the message and returns kQueued.
  transport::PublishResult Publish(std::string_view topic, std::string_view payload, int qos,
                                   bool retain = false) override;
  transport::Stats GetStats() const override;

  // --- test controls ---
  // Runs the message handler with `message` on the caller's thread (as the network thread
  // would). Counts it in messages_in. No-op without a handler.
  void Deliver(transport::Message message);
  // Simulates a connection loss (false) or a reconnect (true) and runs the connection
  // handler; a reconnect counts in Stats::reconnects. Only after Start().
  void SetConnected(bool connected, int reason = 0);
  // The next `n` Publish() calls return `result` instead of recording the message.
  void FailNextPublishes(int n,
                         transport::PublishResult result = transport::PublishResult::kBackpressure);

  // Every message published so far, in order (copies).
  std::vector<transport::Message> Published() const;
  // The messages published to exactly `topic`, in order.
  std::vector<transport::Message> PublishedTo(const std::string& topic) const;
  // Forgets the recorded publishes (not subscriptions or counters).
  void Clear();
  // The current subscriptions: filter -> QoS.
  std::map<std::string, int> Subscriptions() const;

 private:
  mutable std::mutex mutex_;
  MessageHandler message_handler_;
  ConnectionHandler connection_handler_;
  bool started_ = false;
  bool connected_ = false;
  int fail_next_ = 0;
  transport::PublishResult fail_result_ = transport::PublishResult::kBackpressure;
  std::vector<transport::Message> published_;
  std::map<std::string, int> subscriptions_;
  transport::Stats stats_;
};

}  // namespace sparrow::testing
