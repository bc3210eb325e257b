#include "transport/service_flags.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "common/token.hpp"

namespace sparrow::transport {

std::string DefaultInstanceName() {
  char host[64] = {0};
  ::gethostname(host, sizeof host - 1);
  std::string id;
  for (char c : std::string(host)) {
    id.push_back((std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-') ? c : '-');
  }
  if (id.empty()) id = "host";
  return id.substr(0, 40) + "-" + std::to_string(::getpid());
}

void ServiceFlags::AddTo(CLI::App& app, const std::string& service) {
  std::string upper = service;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (instance.empty()) instance = DefaultInstanceName();
  app.add_option("--mqtt-host", host, "Broker host")
      ->envname("SPARROW_MQTT_HOST")
      ->capture_default_str();
  app.add_option("--mqtt-port", port, "Broker port")
      ->envname("SPARROW_MQTT_PORT")
      ->capture_default_str();
  app.add_option("--mqtt-library", library, "MQTT client library: mosquitto|paho")
      ->envname("SPARROW_MQTT_LIBRARY")
      ->capture_default_str();
  app.add_option("--token-file", token_file,
                 "File holding this service's svc token (its sub is the MQTT username)")
      ->envname("SPARROW_" + upper + "_TOKEN_FILE")
      ->required();
  app.add_option("--instance", instance, "Instance name: the MQTT client id is {sub}:{instance}")
      ->envname("SPARROW_" + upper + "_INSTANCE")
      ->capture_default_str();
}

Options ServiceFlags::ToOptions() const {
  std::ifstream in(token_file);
  if (!in) throw common::ConfigError("--token-file: cannot read " + token_file);
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back())) != 0) {
    token.pop_back();
  }
  auto sub = common::PeekSubject(token);
  if (!sub) throw common::ConfigError("--token-file: " + token_file + " does not hold a token");
  Options options;
  options.host = host;
  options.port = port;
  options.username = *sub;
  options.password = token;
  options.client_id = *sub + ":" + instance;
  ValidateOptions(options);
  return options;
}

}  // namespace sparrow::transport
