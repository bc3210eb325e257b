// Shared pieces of the end-to-end security tests (docs/security.md): the reason codes of
// PROTOCOL.md, stacks of real processes for each kind of test, and small waits.
//
// Every stack here is a testing::SparrowStack: real Mosquitto with the auth plugin, the
// services as processes, SQLite in a temporary folder, all stopped by its destructor.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/token.hpp"
#include "plugin/testing/mqtt_probe.hpp"
#include "testing/mqtt/wait.hpp"
#include "testing/stack/stack.hpp"
#include "tests/security/rest_probe.hpp"

namespace sparrow::security {

inline constexpr int kRefusedV5 = 0x87;           // CONNACK / SUBACK / PUBACK "not authorized"
inline constexpr int kRefusedConnectV3 = 5;       // CONNACK "not authorized"
inline constexpr int kRefusedSubscribeV3 = 0x80;  // SUBACK failure
inline constexpr std::int64_t kHourMs = 3'600'000;

// A PUBACK that accepted the message: 0, or 0x10 "no matching subscribers" over MQTT 5.
inline bool Accepted(int puback) { return puback == 0 || puback == 0x10; }

inline std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::string VersionName(int version) { return version == 5 ? "V5" : "V311"; }
// For INSTANTIATE_TEST_SUITE_P over the protocol versions 4 and 5.
inline std::string VersionParamName(const ::testing::TestParamInfo<int>& param) {
  return VersionName(param.param);
}

// Only the broker with the plugin (no bridge, no sync service), plus the REST service when
// `authsvc`: what the ACL and token tests need, and quick to start.
inline testing::StackOptions BrokerOnly(bool authsvc = false) {
  testing::StackOptions options;
  options.bridges = 0;
  options.offline = false;
  options.authsvc = authsvc;
  return options;
}

// Starts `stack` and, when it has the REST service, waits until /healthz answers.
inline void StartStack(testing::SparrowStack& stack, bool authsvc) {
  stack.Start();
  if (!authsvc) return;
  const RestProbe rest(stack.http_port());
  if (!testing::WaitUntil([&] { return rest.Get("/healthz").status == 200; },
                          std::chrono::seconds(15), std::chrono::milliseconds(20))) {
    throw std::runtime_error("authsvc did not answer /healthz; logs:\n" + stack.Logs());
  }
}

// The signing key of the stack (the REST service and the stack share dir/keys).
inline common::SigningKey StackKey(const testing::SparrowStack& stack) {
  return common::LoadOrCreateSigningKey((stack.dir() / "keys").string());
}

inline plugin::testing::ProbeOptions ProbeFor(testing::SparrowStack& stack,
                                              const std::string& client_id,
                                              const std::string& username,
                                              const std::string& password, int version) {
  plugin::testing::ProbeOptions options;
  options.port = stack.broker().port();
  options.client_id = client_id;
  options.username = username;
  options.password = password;
  options.protocol_version = version;
  return options;
}

// A service connection (role svc) that records everything published under im/.
inline std::unique_ptr<plugin::testing::MqttProbe> Monitor(testing::SparrowStack& stack,
                                                           const std::string& name = "monitor") {
  auto monitor = std::make_unique<plugin::testing::MqttProbe>(
      ProbeFor(stack, "bridge:" + name, "bridge", stack.Token("bridge", common::Role::kSvc), 5));
  if (monitor->Connect() != 0 || monitor->Subscribe({"im/#"}) != std::vector<int>{1}) {
    throw std::runtime_error("monitor could not connect/subscribe; logs:\n" + stack.Logs());
  }
  return monitor;
}

}  // namespace sparrow::security
