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

#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/service.hpp"
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
  sparrow::common::RuntimeFlags runtime;
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
  config.runtime.AddTo(app, "offline");
  sparrow::common::ParseOrExit(app, argc, argv);
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
  common::StopSignals stop;  // before any thread starts
  return common::RunService("offline", [&] {
    auto log = common::Logger("offline");
    OfflineConfig config = LoadConfig(argc, argv);
    auto& clock = common::SystemClock::Instance();
    offline::DbOptions db = config.db.ToOptions();
    { offline::SociMessageStore migrate(db, clock); }  // migrations before any worker starts

    auto registry = std::make_shared<prometheus::Registry>();
    offline::SyncMetrics metrics(*registry);
    auto metrics_server = config.runtime.Start(registry);

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
    log->info("started instance={} brokers={} db={} workers={} metrics_port={}",
              config.mqtt.instance, brokers.size(), offline::RedactDbUrl(db.url),
              config.service.workers, metrics_server ? metrics_server->port() : 0);

    log->info("stopping on signal {}", stop.Wait());
    for (auto* broker : brokers) broker->Stop();
    service.Stop();
  });
}
