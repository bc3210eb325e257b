// The command-line flags every Sparrow service uses to reach the broker, in one place:
// --mqtt-host, --mqtt-port, --mqtt-library, --token-file, --instance (each with a SPARROW_*
// environment fallback). A service's MQTT username is its token's `sub` and its client id
// `{sub}:{instance}`, as the broker plugin requires.
#pragma once

#include <string>

#include "transport/transport.hpp"

namespace CLI {
class App;
}

namespace sparrow::transport {

struct ServiceFlags {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string library = "mosquitto";
  std::string token_file;
  std::string instance;  // default: {hostname}-{pid}

  // Registers the flags on `app`. `service` names the env variable of the token file:
  // SPARROW_{SERVICE}_TOKEN_FILE (e.g. "bridge" -> SPARROW_BRIDGE_TOKEN_FILE).
  void AddTo(CLI::App& app, const std::string& service);

  // Reads the token and builds the transport options. Throws common::ConfigError naming the
  // flag when the token file is missing, empty or holds no token.
  Options ToOptions() const;
};

// `{hostname}-{pid}`, restricted to the deviceId alphabet.
std::string DefaultInstanceName();

}  // namespace sparrow::transport
