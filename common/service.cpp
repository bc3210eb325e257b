#include "common/service.hpp"

#include <pthread.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdlib>

#include "common/error.hpp"
#include "common/log.hpp"

namespace sparrow::common {
namespace {

sigset_t StopSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

StopSignals::StopSignals() {
  sigset_t set = StopSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int StopSignals::Wait() {
  sigset_t set = StopSet();
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

void RuntimeFlags::AddTo(CLI::App& app, const std::string& service) {
  std::string upper = service;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  app.add_option("--metrics-port", metrics_port, "Port of /metrics and /healthz (0: none)")
      ->envname("SPARROW_" + upper + "_METRICS_PORT")
      ->capture_default_str();
  app.add_option("--metrics-bind", metrics_bind, "Address of /metrics")->capture_default_str();
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
      ->envname("SPARROW_LOG_LEVEL")
      ->capture_default_str();
}

std::unique_ptr<MetricsServer> RuntimeFlags::Start(
    std::shared_ptr<prometheus::Registry> registry) const {
  SetLogLevel(log_level);
  if (metrics_port == 0) return nullptr;
  if (metrics_port < 0 || metrics_port > 65535) {
    throw ConfigError("--metrics-port: must be between 0 and 65535");
  }
  auto server = std::make_unique<MetricsServer>(std::move(registry), metrics_bind, metrics_port);
  server->Start();
  return server;
}

void ParseOrExit(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
}

int RunService(const std::string& name, const std::function<void()>& body) {
  auto log = Logger(name);
  try {
    body();
    return 0;
  } catch (const ConfigError& e) {
    log->error("configuration: {}", e.what());
    return 2;
  } catch (const std::exception& e) {
    log->error("fatal: {}", e.what());
    return 1;
  }
}

}  // namespace sparrow::common
