#include "authsvc/announcer.hpp"

#include <thread>

#include "common/log.hpp"
#include "protocol/topics.hpp"
#include "transport/transport.hpp"

namespace sparrow::authsvc {

std::string RelationPayload(bool friends) {
  return friends ? R"({"friends":true})" : R"({"friends":false})";
}

std::string RevokePayload(std::int64_t before_ms) {
  return R"({"before":)" + std::to_string(before_ms) + "}";
}

MqttAnnouncer::MqttAnnouncer(std::vector<transport::Transport*> brokers, Options options,
                             std::function<void()> on_failure)
    : brokers_(std::move(brokers)), options_(options), on_failure_(std::move(on_failure)) {}

void MqttAnnouncer::RelationChanged(std::string_view a, std::string_view b, bool friends) {
  Publish(protocol::RelationTopic(a, b), RelationPayload(friends));
}

void MqttAnnouncer::TokensRevoked(std::string_view user, std::int64_t before_ms) {
  Publish(protocol::RevokeTopic(user), RevokePayload(before_ms));
}

void MqttAnnouncer::Publish(const std::string& topic, const std::string& payload) {
  for (transport::Transport* broker : brokers_) PublishTo(*broker, topic, payload);
}

void MqttAnnouncer::PublishTo(transport::Transport& transport_, const std::string& topic,
                              const std::string& payload) {
  // The transport has no per-message acknowledgement; its `pending` gauge (QoS 1 publishes not
  // yet acknowledged) reaching zero tells that this one was. Polled briefly: announcements are
  // rare (a friendship change, a logout) and this runs on an HTTP worker, never on the
  // transport's thread.
  const auto deadline = std::chrono::steady_clock::now() + options_.confirm_timeout;
  auto log = common::Logger("authsvc");
  bool queued = false;
  while (true) {
    const auto result = transport_.Publish(topic, payload, 1, false);
    if (result == transport::PublishResult::kQueued) {
      queued = true;
      break;
    }
    if (result == transport::PublishResult::kInvalid ||
        std::chrono::steady_clock::now() >= deadline) {
      log->warn("announcement not sent topic={} result={}", topic, transport::ToString(result));
      break;
    }
    if (result == transport::PublishResult::kNotConnected) {
      transport_.WaitConnected(std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now()));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  if (!queued) {
    if (on_failure_) on_failure_();
    return;
  }
  while (transport_.GetStats().pending > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  log->debug("announced topic={}", topic);
}

}  // namespace sparrow::authsvc
