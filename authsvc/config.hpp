// sparrow-authsvc's settings: two subcommands (`serve`, `token`), flags with SPARROW_*
// environment fallbacks, validated once at start (common::ConfigError naming the flag).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "authsvc/passwords.hpp"
#include "common/token.hpp"
#include "offline/db_url.hpp"
#include "transport/transport.hpp"

namespace sparrow::authsvc {

struct ServeConfig {
  std::string data_dir = "data";  // keys/, files/ and the default SQLite database
  std::string bind = "127.0.0.1";
  int port = 8080;
  offline::DbOptions db{};
  // The MQTT connection for announcements; nullopt without --token-file (no announcements).
  std::vector<transport::Options> mqtt;  // one per broker; empty: no MQTT
  std::string mqtt_library = "mosquitto";
  std::int64_t token_ttl_s = 3600;
  std::uint64_t max_file_bytes = 100ull << 20;
  HasherOptions hasher{};
  int workers = 16;
  std::string log_level = "info";
};

struct TokenConfig {
  std::string data_dir = "data";
  std::string sub;
  common::Role role = common::Role::kSvc;
  std::int64_t ttl_s = 3600;
};

struct AuthsvcConfig {
  enum class Command { kServe, kToken };
  Command command = Command::kServe;
  ServeConfig serve{};
  TokenConfig token{};
};

// Parses argv (and the environment). Prints help and exits on --help or a parse error;
// throws common::ConfigError naming the flag on an invalid value.
AuthsvcConfig LoadAuthsvcConfig(int argc, char** argv);

}  // namespace sparrow::authsvc
