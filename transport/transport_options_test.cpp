// Unit tests of the factory and option validation: no broker, no network.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "transport/transport.hpp"

namespace sparrow::transport {
namespace {

// The ConfigError message of `fn`, or "" if it did not throw one.
template <class Fn>
std::string ConfigErrorOf(Fn fn) {
  try {
    fn();
  } catch (const common::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(TransportOptionsTest, UnknownLibraryIsAConfigErrorNamingTheOption) {
  const auto message = ConfigErrorOf([] { (void)MakeTransport("hivemq", Options{}); });
  EXPECT_NE(message.find("transport library"), std::string::npos) << message;
  EXPECT_NE(message.find("hivemq"), std::string::npos) << message;
}

TEST(TransportOptionsTest, InvalidOptionsNameTheOption) {
  struct Case {
    Options options;
    const char* option;
  };
  const Case cases[] = {
      {Options{.port = 0}, "port"},
      {Options{.protocol_version = 3}, "protocol_version"},
      {Options{.clean_start = false}, "client_id"},
      {Options{.protocol_version = 4, .session_expiry_s = 60}, "session_expiry_s"},
      {Options{.keepalive_s = 2}, "keepalive_s"},
      {Options{.max_inflight = 0}, "max_inflight"},
      {Options{.max_pending = 70000}, "max_pending"},
      {Options{.password = "secret"}, "password"},
      {Options{.reconnect_min = std::chrono::milliseconds(0)}, "reconnect_min"},
      {Options{.reconnect_min = std::chrono::milliseconds(500),
               .reconnect_max = std::chrono::milliseconds(100)},
       "reconnect_max"},
  };
  for (const auto& c : cases) {
    for (const char* library : {"mosquitto", "paho"}) {
      const auto message = ConfigErrorOf([&] { (void)MakeTransport(library, c.options); });
      EXPECT_NE(message.find(c.option), std::string::npos)
          << library << " " << c.option << ": " << message;
      EXPECT_EQ(message.find("secret"), std::string::npos) << "a password leaked: " << message;
    }
  }
}

TEST(TransportOptionsTest, PahoRefusesBindAddress) {
  const auto message =
      ConfigErrorOf([] { (void)MakeTransport("paho", Options{.bind_address = "127.0.0.2"}); });
  EXPECT_NE(message.find("bind_address"), std::string::npos) << message;
  EXPECT_NO_THROW((void)MakeTransport("mosquitto", Options{.bind_address = "127.0.0.2"}));
}

TEST(TransportOptionsTest, PublishBeforeStartIsNotConnectedAndStopWithoutStartIsFine) {
  for (const char* library : {"mosquitto", "paho"}) {
    auto t = MakeTransport(library, Options{.client_id = "idle"});
    EXPECT_EQ(t->Publish("a/b", "p", 1), PublishResult::kNotConnected) << library;
    EXPECT_FALSE(t->IsConnected());
    t->Stop();
    t->Stop();
  }
}

TEST(TransportOptionsTest, PublishResultsHaveStableNames) {
  EXPECT_EQ(ToString(PublishResult::kQueued), "queued");
  EXPECT_EQ(ToString(PublishResult::kNotConnected), "not_connected");
  EXPECT_EQ(ToString(PublishResult::kBackpressure), "backpressure");
  EXPECT_EQ(ToString(PublishResult::kInvalid), "invalid");
}

}  // namespace
}  // namespace sparrow::transport
