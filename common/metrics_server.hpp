// Prometheus metrics over HTTP for services that have no HTTP server of their own (the bridge,
// the sync service). Metrics themselves are prometheus-cpp families registered on a shared
// prometheus::Registry; this serves `GET /metrics` (text format 0.0.4) and `GET /healthz`.
#pragma once

#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace sparrow::common {

// The registry's metrics in the Prometheus text format.
std::string RenderMetrics(const prometheus::Registry& registry);

// Serves /metrics and /healthz on `bind:port` from its own thread. Port 0 picks a free port
// (see port()). Thread-safe; Stop() is idempotent and the destructor calls it.
class MetricsServer {
 public:
  MetricsServer(std::shared_ptr<prometheus::Registry> registry, std::string bind, int port);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds and starts serving. Throws ConfigError naming the port when it cannot bind.
  void Start();
  void Stop();
  int port() const { return port_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::string bind_;
  int port_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace sparrow::common
