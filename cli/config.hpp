// The `sparrow` command's settings: global flags with environment fallbacks, and where the
// command keeps its files.
//
//   --server URL   SPARROW_SERVER   the REST service       (default http://127.0.0.1:8080)
//   --mqtt H:P     SPARROW_MQTT     the MQTT broker        (default 127.0.0.1:1883)
//   --user U       SPARROW_USER     who (default: the last user who logged in)
//   --device D     SPARROW_DEVICE   this device's id       (default cli)
//   --home DIR     SPARROW_HOME     credentials and state  (default ~/.sparrow)
//   SPARROW_PASSWORD                the password for scripts (never a flag: flags show in ps)
//
// $SPARROW_HOME/
//   current-user                 the default user (last login)
//   credentials/{user}.json      {"user","token","expiresAt","server"}, 0600
//   state/{user}/{device}/       the client library's state and history (client/README.md)
//   downloads/{user}/            received files
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sparrow::cli {

struct GlobalConfig {
  std::string server = "http://127.0.0.1:8080";
  std::string mqtt = "127.0.0.1:1883";
  std::string user;  // empty: the default user of the home folder
  std::string device = "cli";
  std::string home;  // empty: DefaultHome()
  bool json = false;
  std::string log_level = "warn";
};

struct MqttAddress {
  std::string host;
  int port = 1883;
};

// "host:port", "host" (port 1883), "tcp://host:port" or "mqtt://host:port"; nullopt otherwise.
[[nodiscard]] std::optional<MqttAddress> ParseMqttAddress(std::string_view text);

// $HOME/.sparrow (or ./.sparrow without HOME).
[[nodiscard]] std::filesystem::path DefaultHome();

// The folders of one user (and device) under `home`.
[[nodiscard]] std::filesystem::path StateDir(const std::filesystem::path& home,
                                             const std::string& user, const std::string& device);
[[nodiscard]] std::filesystem::path DownloadDir(const std::filesystem::path& home,
                                                const std::string& user);

}  // namespace sparrow::cli
