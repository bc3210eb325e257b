// What authsvc tells the other services over MQTT (svc-only topics; authsvc/README.md):
//   im/sys/relation/{a}/{b}  {"friends":true|false}   a friendship was created or deleted
//   im/sys/revoke/{userId}   {"before":<ms>}          tokens of the user issued before <ms>
//                                                     are revoked (logout, password change)
// Both QoS 1, not retained. The bridges cache friendships and drop the cached entry at once on
// an announcement; the broker plugin may kick sessions on a revocation.
//
// `Announcer` is the seam: MqttAnnouncer in the service, NullAnnouncer when no broker is
// configured, RecordingAnnouncer (authsvc/recording_announcer.hpp) in tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace sparrow::transport {
class Transport;
}

namespace sparrow::authsvc {

std::string RelationPayload(bool friends);          // {"friends":true}
std::string RevokePayload(std::int64_t before_ms);  // {"before":1764430000000}

// Implementations are thread-safe. Methods never throw: an announcement that cannot be made is
// logged and counted (the bridges' cache expires on its own as a safety net).
class Announcer {
 public:
  virtual ~Announcer() = default;
  // Called after the change is committed, before the HTTP answer. Preconditions: valid ids,
  // a != b.
  virtual void RelationChanged(std::string_view a, std::string_view b, bool friends) = 0;
  virtual void TokensRevoked(std::string_view user, std::int64_t before_ms) = 0;
};

class NullAnnouncer final : public Announcer {
 public:
  void RelationChanged(std::string_view, std::string_view, bool) override {}
  void TokensRevoked(std::string_view, std::int64_t) override {}
};

// Publishes through started Transports, one per broker (client id `{sub}:{instance}` with the
// authsvc's svc token), and waits, up to `confirm_timeout`, until each broker has acknowledged
// every publish in flight, so the bridges normally hold the news before the HTTP client does.
// Every broker gets every announcement: a revocation must reach each broker's plugin.
class MqttAnnouncer final : public Announcer {
 public:
  struct Options {
    // Bound on the wait for the connection and for the broker's PUBACK.
    std::chrono::milliseconds confirm_timeout{1000};
  };
  // `brokers` must outlive the announcer. `on_failure` (optional) is called once per
  // announcement that could not be handed to a broker.
  MqttAnnouncer(std::vector<transport::Transport*> brokers, Options options,
                std::function<void()> on_failure = nullptr);

  void RelationChanged(std::string_view a, std::string_view b, bool friends) override;
  void TokensRevoked(std::string_view user, std::int64_t before_ms) override;

 private:
  void Publish(const std::string& topic, const std::string& payload);
  void PublishTo(transport::Transport& broker, const std::string& topic,
                 const std::string& payload);

  std::vector<transport::Transport*> brokers_;
  const Options options_;
  std::function<void()> on_failure_;
};

}  // namespace sparrow::authsvc
