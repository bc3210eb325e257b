// sparrow-bridge's settings: flags with environment fallbacks, validated once at start.
#pragma once

#include <chrono>
#include <string>

#include "bridge/bridge_core.hpp"
#include "bridge/bridge_service.hpp"
#include "common/service.hpp"
#include "offline/db_url.hpp"
#include "transport/service_flags.hpp"
#include "transport/transport.hpp"

namespace sparrow::bridge {

struct BridgeConfig {
  // One connection per broker, in this order (the Router's broker indices).
  std::vector<transport::BrokerEndpoint> brokers;
  std::vector<transport::Options> mqtt;
  std::string mqtt_library = "mosquitto";  // or "paho"
  bool presence = true;  // route by the plugin's presence reports (off: every broker)
  offline::DbOptions db{};
  BridgeOptions core{};
  BridgeService::Options service{};
  common::RuntimeFlags runtime{};  // metrics endpoint, log level
};

// Parses argv (and SPARROW_* environment variables). Prints help and exits on --help; throws
// common::ConfigError naming the option on a bad value.
BridgeConfig LoadBridgeConfig(int argc, char** argv);

}  // namespace sparrow::bridge
