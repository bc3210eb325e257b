// sparrow-offline: the sync service. Answers each device's `sync` (forwarded by the bridge on
// im/sys/sync/{user}/{device}) with the frames stored for its user since `after`, in seq
// order, then `synced`; and purges delivered frames past the retention period.
//
//   sparrow-offline --token-file data/keys/offline.token --db sqlite:data/sparrow.db
//
// Needs: a broker with the Sparrow plugin, an `svc` token, the database. Several instances
// share the requests (shared subscription `$share/offline/im/sys/sync/+/+`).
#include <prometheus/registry.h>

#include <CLI/CLI.hpp>
#include <csignal>

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/metrics_server.hpp"
#include "offline/db_flags.hpp"
#include "offline/soci_message_store.hpp"
#include "offline/sync_service.hpp"
#include "protocol/topics.hpp"
#include "transport/service_flags.hpp"

namespace {

struct OfflineConfig {
  sparrow::transport::ServiceFlags mqtt;
  sparrow::offline::DbFlags db;
  sparrow::offline::SyncService::Options service;
  std::string share_group = "offline";
  int retention_days = 30;
  int metrics_port = 0;
  std::string metrics_bind = "127.0.0.1";
  std::string log_level = "info";
};

OfflineConfig LoadConfig(int argc, char** argv) {
  OfflineConfig config;
  CLI::App app{"sparrow-offline: replays stored frames to syncing devices (see topics.md)"};
  config.mqtt.AddTo(app, "offline");
  config.db.AddTo(app);
  app.add_option("--workers", config.service.workers, "Syncs replayed at once")
      ->envname("SPARROW_OFFLINE_WORKERS")
      ->capture_default_str();
  app.add_option("--page-size", config.service.replay.page_size, "Frames read per query")
      ->capture_default_str();
  app.add_option("--retention-days", config.retention_days,
                 "Delivered frames older than this are purged (0: keep everything)")
      ->envname("SPARROW_RETENTION_DAYS")
      ->capture_default_str();
  app.add_option("--share-group", config.share_group, "Shared-subscription group")
      ->capture_default_str();
  app.add_option("--metrics-port", config.metrics_port, "Port of /metrics (0: none)")
      ->envname("SPARROW_OFFLINE_METRICS_PORT")
      ->capture_default_str();
  app.add_option("--metrics-bind", config.metrics_bind, "Address of /metrics")
      ->capture_default_str();
  app.add_option("--log-level", config.log_level, "trace|debug|info|warn|error")
      ->envname("SPARROW_LOG_LEVEL")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }
  if (config.service.workers < 1 || config.service.workers > 64) {
    throw sparrow::common::ConfigError("--workers: must be between 1 and 64");
  }
  if (config.service.replay.page_size < 1) {
    throw sparrow::common::ConfigError("--page-size: must be >= 1");
  }
  if (config.retention_days < 0)
    throw sparrow::common::ConfigError("--retention-days: must be >= 0");
  if (config.retention_days == 0) {
    config.service.purge_interval = std::chrono::seconds(0);
  } else {
    config.service.retention = std::chrono::hours(24 * config.retention_days);
  }
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sparrow;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto log = common::Logger("offline");
  try {
    OfflineConfig config = LoadConfig(argc, argv);
    common::SetLogLevel(config.log_level);
    auto& clock = common::SystemClock::Instance();
    offline::DbOptions db = config.db.ToOptions();
    { offline::SociMessageStore migrate(db, clock); }  // migrations before any worker starts

    auto registry = std::make_shared<prometheus::Registry>();
    offline::SyncMetrics metrics(*registry);
    std::unique_ptr<common::MetricsServer> metrics_server;
    if (config.metrics_port != 0) {
      metrics_server = std::make_unique<common::MetricsServer>(registry, config.metrics_bind,
                                                               config.metrics_port);
      metrics_server->Start();
    }

    std::vector<std::unique_ptr<transport::Transport>> transports;
    std::vector<transport::Transport*> brokers;
    for (const auto& endpoint : config.mqtt.Endpoints()) {
      transport::Options mqtt = config.mqtt.ToOptions(endpoint);
      mqtt.max_pending = 20000;
      transports.push_back(transport::MakeTransport(config.mqtt.library, mqtt));
      brokers.push_back(transports.back().get());
    }
    offline::SyncService service(
        brokers, [db, &clock] { return std::make_shared<offline::SociMessageStore>(db, clock); },
        clock, config.service, &metrics);
    for (std::size_t i = 0; i < brokers.size(); ++i) {
      brokers[i]->SetConnectionHandler([log, i](bool connected, int reason) {
        if (connected) {
          log->info("connected to broker index={}", i);
        } else {
          log->warn("disconnected from broker index={} reason={}", i, reason);
        }
      });
      brokers[i]->Subscribe(
          "$share/" + config.share_group + "/" + std::string(protocol::kSyncFilter), 1);
    }
    service.Start();
    for (auto* broker : brokers) broker->Start();
    log->info("started instance={} brokers={} db={} workers={}", config.mqtt.instance,
              brokers.size(), offline::RedactDbUrl(db.url), config.service.workers);

    int signal = 0;
    sigwait(&set, &signal);
    log->info("stopping on signal {}", signal);
    for (auto* broker : brokers) broker->Stop();
    service.Stop();
    if (metrics_server) metrics_server->Stop();
    return 0;
  } catch (const common::ConfigError& e) {
    log->error("configuration: {}", e.what());
    return 2;
  } catch (const std::exception& e) {
    log->error("fatal: {}", e.what());
    return 1;
  }
}
