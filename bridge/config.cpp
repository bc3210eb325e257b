#include "bridge/config.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "common/error.hpp"
#include "offline/db_flags.hpp"
#include "transport/service_flags.hpp"

namespace sparrow::bridge {

BridgeConfig LoadBridgeConfig(int argc, char** argv) {
  BridgeConfig config;
  CLI::App app{
      "sparrow-bridge: stores, orders and delivers the chats and receipts devices publish on "
      "im/up/{user}/{device} (see topics.md)"};
  transport::ServiceFlags mqtt;
  offline::DbFlags db;
  int reorder_wait_ms = 2000;
  int ack_timeout_ms = 5000;
  int max_tries = 3;

  mqtt.AddTo(app, "bridge");
  app.add_option("--presence", config.presence,
                 "Publish live frames only where the user has devices (needs the Sparrow plugin)")
      ->envname("SPARROW_PRESENCE")
      ->capture_default_str();
  db.AddTo(app);
  app.add_option("--reorder-wait-ms", reorder_wait_ms,
                 "How long a chat waits for its predecessor (1000-5000)")
      ->envname("SPARROW_REORDER_WAIT_MS")
      ->capture_default_str();
  app.add_option("--ack-timeout-ms", ack_timeout_ms,
                 "Republish a chat without DELIVERED after this long")
      ->envname("SPARROW_ACK_TIMEOUT_MS")
      ->capture_default_str();
  app.add_option("--max-tries", max_tries, "Live publishes of a chat at most (then: sync)")
      ->envname("SPARROW_MAX_TRIES")
      ->capture_default_str();
  app.add_option("--max-batch", config.service.max_batch, "Frames per group commit at most")
      ->envname("SPARROW_MAX_BATCH")
      ->capture_default_str();
  config.runtime.AddTo(app, "bridge");
  common::ParseOrExit(app, argc, argv);

  if (reorder_wait_ms < 1000 || reorder_wait_ms > 5000) {
    throw common::ConfigError("--reorder-wait-ms: must be between 1000 and 5000");
  }
  if (ack_timeout_ms < 100) throw common::ConfigError("--ack-timeout-ms: must be >= 100");
  if (max_tries < 1) throw common::ConfigError("--max-tries: must be >= 1");
  if (config.service.max_batch < 1) throw common::ConfigError("--max-batch: must be >= 1");

  config.mqtt_library = mqtt.library;
  config.brokers = mqtt.Endpoints();
  for (const auto& broker : config.brokers) {
    transport::Options options = mqtt.ToOptions(broker);
    options.max_inflight = 1000;
    options.max_pending = 60000;
    config.mqtt.push_back(std::move(options));
  }
  config.core.instance = mqtt.instance;
  config.db = db.ToOptions();
  config.core.ordering.max_wait = std::chrono::milliseconds(reorder_wait_ms);
  config.core.acks.ack_timeout = std::chrono::milliseconds(ack_timeout_ms);
  config.core.acks.max_tries = max_tries;
  return config;
}

}  // namespace sparrow::bridge
