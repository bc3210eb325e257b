// The command-line flags every Sparrow service uses to reach the broker, in one place:
// --mqtt-host, --mqtt-port, --mqtt-library, --token-file, --instance (each with a SPARROW_*
// environment fallback). A service's MQTT username is its token's `sub` and its client id
// `{sub}:{instance}`, as the broker plugin requires.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "transport/transport.hpp"

namespace CLI {
class App;
}

namespace sparrow::transport {

// One broker of a deployment: its id (the plugin's broker_id, in presence topics) and address.
struct BrokerEndpoint {
  std::string id;
  std::string host;
  int port = 1883;

  friend bool operator==(const BrokerEndpoint&, const BrokerEndpoint&) = default;
};

// Parses `b1=host:port,b2=host:port`. Throws common::ConfigError naming --brokers.
std::vector<BrokerEndpoint> ParseBrokers(std::string_view text);

struct ServiceFlags {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string library = "mosquitto";
  std::string token_file;
  std::string instance;  // default: {hostname}-{pid}
  // Several brokers (scale-out): `b1=host:port,b2=host:port`. Empty: one broker with id
  // `broker_id` at host:port.
  std::string brokers;
  std::string broker_id = "b1";

  // Registers the flags on `app`. `service` names the env variable of the token file:
  // SPARROW_{SERVICE}_TOKEN_FILE (e.g. "bridge" -> SPARROW_BRIDGE_TOKEN_FILE).
  void AddTo(CLI::App& app, const std::string& service);

  // Reads the token and builds the transport options for the single broker (host:port).
  // Throws common::ConfigError naming the flag when the token file is missing, empty or holds
  // no token.
  Options ToOptions() const;
  // Every broker to connect to (--brokers, else host:port as `broker_id`).
  std::vector<BrokerEndpoint> Endpoints() const;
  // The transport options for one of them.
  Options ToOptions(const BrokerEndpoint& broker) const;
};

// `{hostname}-{pid}`, restricted to the deviceId alphabet.
std::string DefaultInstanceName();

}  // namespace sparrow::transport
