#include "common/metrics_server.hpp"

#include <httplib.h>
#include <prometheus/text_serializer.h>

#include "common/error.hpp"

namespace sparrow::common {

std::string RenderMetrics(const prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

MetricsServer::MetricsServer(std::shared_ptr<prometheus::Registry> registry, std::string bind,
                             int port)
    : registry_(std::move(registry)), bind_(std::move(bind)), port_(port) {}

MetricsServer::~MetricsServer() { Stop(); }

void MetricsServer::Start() {
  server_ = std::make_unique<httplib::Server>();
  server_->set_tcp_nodelay(true);
  auto registry = registry_;
  server_->Get("/metrics", [registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(RenderMetrics(*registry), "text/plain; version=0.0.4");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  if (port_ == 0) {
    port_ = server_->bind_to_any_port(bind_);
    if (port_ < 0) throw ConfigError("--metrics-port: cannot bind a free port on " + bind_);
  } else if (!server_->bind_to_port(bind_, port_)) {
    throw ConfigError("--metrics-port: cannot bind " + bind_ + ":" + std::to_string(port_));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

void MetricsServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sparrow::common
