#include "testing/stack/test_device.hpp"

#include "testing/mqtt/wait.hpp"
#include "testing/stack/stack.hpp"

namespace sparrow::testing {

using nlohmann::json;

TestDevice::TestDevice(SparrowStack& stack, std::string user, std::string device,
                       int protocol_version, int broker, std::string library)
    : stack_(stack), user_(std::move(user)), device_(std::move(device)) {
  transport::Options options;
  options.port = stack_.broker(broker).port();
  options.client_id = user_ + ":" + device_;
  options.username = user_;
  options.password = stack_.Token(user_);
  options.protocol_version = protocol_version;
  transport_ = transport::MakeTransport(library, options);
  transport_->SetMessageHandler([this](transport::Message&& message) {
    json frame = json::parse(message.payload, nullptr, /*allow_exceptions=*/false);
    if (frame.is_discarded()) frame = json{{"raw", message.payload}};
    std::lock_guard<std::mutex> lock(mutex_);
    received_.push_back(ReceivedFrame{std::move(message.topic), std::move(frame)});
  });
  transport_->Subscribe("im/in/" + user_, 1);
  transport_->Subscribe("im/in/" + user_ + "/" + device_, 1);
}

TestDevice::~TestDevice() { Disconnect(); }

std::optional<json> TestDevice::Connect(std::uint64_t after, std::chrono::milliseconds timeout) {
  transport_->Start();
  if (!transport_->WaitConnected(timeout)) return std::nullopt;
  // The services may not be subscribed yet (just started, or restarting): ask again until the
  // answer comes. Extra `synced` frames are harmless.
  std::size_t before = Synced().size();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    SendSync(after);
    if (WaitUntil([&] { return Synced().size() > before; }, std::chrono::milliseconds(500))) {
      return Synced().back();
    }
  }
  return std::nullopt;
}

void TestDevice::Disconnect() { transport_->Stop(); }

bool TestDevice::SendRaw(const std::string& payload) {
  return WaitUntil(
      [&] {
        return transport_->Publish("im/up/" + user_ + "/" + device_, payload, 1) ==
               transport::PublishResult::kQueued;
      },
      std::chrono::seconds(5), std::chrono::milliseconds(1));
}

bool TestDevice::SendChat(std::int64_t id, const std::string& dest, const std::string& body,
                          const std::string& kind) {
  return SendRaw(
      json{{"type", "chat"}, {"id", id}, {"destId", dest}, {"kind", kind}, {"msgBody", body}}
          .dump());
}

bool TestDevice::SendAck(const std::string& msg_type, const std::string& mid) {
  return SendRaw(json{{"type", "ack"}, {"msgType", msg_type}, {"mid", mid}}.dump());
}

bool TestDevice::SendSync(std::uint64_t after) {
  return SendRaw(json{{"type", "sync"}, {"after", after}}.dump());
}

std::vector<ReceivedFrame> TestDevice::Received() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return received_;
}

std::vector<json> TestDevice::Frames(const std::function<bool(const ReceivedFrame&)>& pred) const {
  std::vector<json> out;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& r : received_) {
    if (pred(r)) out.push_back(r.frame);
  }
  return out;
}

std::vector<json> TestDevice::IncomingChats() const {
  const std::string inbox = "im/in/" + user_;
  return Frames([&](const ReceivedFrame& r) {
    return r.topic == inbox && r.frame.value("type", "") == "chat" &&
           r.frame.value("destId", "") == user_;
  });
}

std::vector<json> TestDevice::Acks(const std::string& type) const {
  return Frames([&](const ReceivedFrame& r) {
    return r.frame.value("type", "") == "ack" && r.frame.value("msgType", "") == type;
  });
}

std::vector<json> TestDevice::Errors() const {
  return Frames([](const ReceivedFrame& r) { return r.frame.value("type", "") == "error"; });
}

std::vector<json> TestDevice::Synced() const {
  return Frames([](const ReceivedFrame& r) { return r.frame.value("type", "") == "synced"; });
}

void TestDevice::Clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  received_.clear();
}

bool TestDevice::WaitFor(const std::function<bool(const TestDevice&)>& pred,
                         std::chrono::milliseconds timeout) const {
  return WaitUntil([&] { return pred(*this); }, timeout);
}

}  // namespace sparrow::testing
