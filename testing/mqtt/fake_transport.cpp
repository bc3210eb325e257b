#include "testing/mqtt/fake_transport.hpp"

namespace sparrow::testing {

using transport::Message;
using transport::PublishResult;

void FakeTransport::SetMessageHandler(MessageHandler handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  message_handler_ = std::move(handler);
}

void FakeTransport::SetConnectionHandler(ConnectionHandler handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  connection_handler_ = std::move(handler);
}

void FakeTransport::Start() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    started_ = true;
  }
  SetConnected(true);
}

void FakeTransport::Stop() {
  bool was_connected = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    was_connected = connected_;
  }
  if (was_connected) SetConnected(false);
  std::lock_guard<std::mutex> lock(mutex_);
  started_ = false;
}

bool FakeTransport::WaitConnected(std::chrono::milliseconds /*timeout*/) { return IsConnected(); }

bool FakeTransport::IsConnected() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return connected_;
}

void FakeTransport::Subscribe(std::string filter, int qos) {
  std::lock_guard<std::mutex> lock(mutex_);
  subscriptions_[std::move(filter)] = qos;
}

void FakeTransport::Unsubscribe(const std::string& filter) {
  std::lock_guard<std::mutex> lock(mutex_);
  subscriptions_.erase(filter);
}

PublishResult FakeTransport::Publish(std::string_view topic, std::string_view payload, int qos,
                                     bool retain) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (qos < 0 || qos > 2 || topic.empty()) return PublishResult::kInvalid;
  if (!connected_) return PublishResult::kNotConnected;
  if (fail_next_ > 0) {
    --fail_next_;
    if (fail_result_ == PublishResult::kBackpressure) ++stats_.backpressure;
    return fail_result_;
  }
  published_.push_back(Message{
      .topic = std::string(topic), .payload = std::string(payload), .qos = qos, .retain = retain});
  ++stats_.messages_out;
  return PublishResult::kQueued;
}

transport::Stats FakeTransport::GetStats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void FakeTransport::Deliver(Message message) {
  MessageHandler handler;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.messages_in;
    handler = message_handler_;
  }
  if (handler) handler(std::move(message));
}

void FakeTransport::SetConnected(bool connected, int reason) {
  ConnectionHandler handler;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!started_ || connected_ == connected) return;
    connected_ = connected;
    if (connected) {
      if (++stats_.connects > 1) ++stats_.reconnects;
    }
    handler = connection_handler_;
  }
  if (handler) handler(connected, connected ? 0 : reason);
}

void FakeTransport::FailNextPublishes(int n, PublishResult result) {
  std::lock_guard<std::mutex> lock(mutex_);
  fail_next_ = n;
  fail_result_ = result;
}

std::vector<Message> FakeTransport::Published() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return published_;
}

std::vector<Message> FakeTransport::PublishedTo(const std::string& topic) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Message> out;
  for (const auto& m : published_) {
    if (m.topic == topic) out.push_back(m);
  }
  return out;
}

void FakeTransport::Clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  published_.clear();
}

std::map<std::string, int> FakeTransport::Subscriptions() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return subscriptions_;
}

}  // namespace sparrow::testing
