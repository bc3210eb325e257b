#include "transport/service_flags.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>
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
  app.add_option("--brokers", brokers,
                 "Several brokers: b1=HOST:PORT,b2=HOST:PORT (ids as in the plugin's broker_id)")
      ->envname("SPARROW_BROKERS");
  app.add_option("--broker-id", broker_id, "Id of the single broker (--mqtt-host/--mqtt-port)")
      ->envname("SPARROW_BROKER_ID")
      ->capture_default_str();
}

std::vector<BrokerEndpoint> ParseBrokers(std::string_view text) {
  std::vector<BrokerEndpoint> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    auto eq = item.find('=');
    auto colon = item.rfind(':');
    if (eq == std::string_view::npos || colon == std::string_view::npos || colon < eq) {
      throw common::ConfigError("--brokers: '" + std::string(item) +
                                "' is not ID=HOST:PORT (e.g. b1=127.0.0.1:1883)");
    }
    BrokerEndpoint broker;
    broker.id = std::string(item.substr(0, eq));
    broker.host = std::string(item.substr(eq + 1, colon - eq - 1));
    const std::string port(item.substr(colon + 1));
    char* end = nullptr;
    long value = std::strtol(port.c_str(), &end, 10);
    if (broker.id.empty() || broker.host.empty() || end == port.c_str() || *end != '\0' ||
        value < 1 || value > 65535) {
      throw common::ConfigError("--brokers: '" + std::string(item) +
                                "' is not ID=HOST:PORT with a port in 1..65535");
    }
    for (char c : broker.id) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-' && c != '_') {
        throw common::ConfigError("--brokers: broker id '" + broker.id +
                                  "' may hold only letters, digits, '-' and '_'");
      }
    }
    broker.port = static_cast<int>(value);
    for (const auto& other : out) {
      if (other.id == broker.id)
        throw common::ConfigError("--brokers: id '" + broker.id + "' twice");
    }
    out.push_back(std::move(broker));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<BrokerEndpoint> ServiceFlags::Endpoints() const {
  if (brokers.empty()) return {BrokerEndpoint{broker_id, host, port}};
  return ParseBrokers(brokers);
}

Options ServiceFlags::ToOptions(const BrokerEndpoint& broker) const {
  Options options = ToOptions();
  options.host = broker.host;
  options.port = broker.port;
  return options;
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
