// What every Sparrow service binary shares around its own logic: the stop signals, the
// metrics and log flags, and the exit codes. main() of each service reads:
//
//   int main(int argc, char** argv) {
//     common::StopSignals stop;                      // before any thread starts
//     return common::RunService("bridge", [&] {
//       Config config = LoadConfig(argc, argv);      // uses RuntimeFlags::AddTo
//       auto metrics_server = config.runtime.Start(registry);
//       ... start ...
//       stop.Wait();
//       ... stop ...
//     });
//   }
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/metrics_server.hpp"

namespace CLI {
class App;
}

namespace sparrow::common {

// Blocks SIGINT and SIGTERM in this thread and every thread created after it, so that Wait()
// (sigwait) receives them. Create it first thing in main().
class StopSignals {
 public:
  StopSignals();
  // Returns the signal that arrived.
  int Wait();
};

// --metrics-port (env SPARROW_{SERVICE}_METRICS_PORT; 0: no endpoint), --metrics-bind,
// --log-level (env SPARROW_LOG_LEVEL).
struct RuntimeFlags {
  int metrics_port = 0;
  std::string metrics_bind = "127.0.0.1";
  std::string log_level = "info";

  void AddTo(CLI::App& app, const std::string& service);
  // Applies the log level (ConfigError on a bad one) and starts the metrics server when a port
  // is set (null otherwise).
  std::unique_ptr<MetricsServer> Start(std::shared_ptr<prometheus::Registry> registry) const;
};

// Parses the command line; on --help or a parse error prints CLI11's message and exits.
void ParseOrExit(CLI::App& app, int argc, char** argv);

// Runs `body` and maps what escapes it to an exit code, logged on the service's logger:
// 0 after a normal return, 2 for a ConfigError (a bad setting), 1 for anything else.
int RunService(const std::string& name, const std::function<void()>& body);

}  // namespace sparrow::common
