// sparrow-bridge: the messaging core. Consumes what devices publish on im/up/{user}/{device}
// (a shared subscription, so several bridges share the load), stores chats and receipts in
// group commits, and publishes SENT, the chats, the senders' copies and the receipts.
//
//   sparrow-bridge --token-file data/keys/bridge.token --db sqlite:data/sparrow.db
//
// Needs: a broker with the Sparrow plugin, an `svc` token, the database (see deploy/README.md).
#include "bridge/bridge_core.hpp"
#include "bridge/bridge_metrics.hpp"
#include "bridge/bridge_service.hpp"
#include "bridge/config.hpp"
#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/service.hpp"
#include "offline/account_store.hpp"
#include "offline/db_url.hpp"
#include "offline/soci_message_store.hpp"
#include "protocol/topics.hpp"

namespace {

// Friendships as the bridge asks for them, from the relations table.
class AccountFriendships final : public sparrow::bridge::FriendshipSource {
 public:
  explicit AccountFriendships(sparrow::offline::AccountStore& accounts) : accounts_(accounts) {}
  bool AreFriends(const std::string& a, const std::string& b) override {
    return accounts_.AreFriends(a, b);
  }

 private:
  sparrow::offline::AccountStore& accounts_;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace sparrow;
  common::StopSignals stop;  // before any thread starts
  return common::RunService("bridge", [&] {
    auto log = common::Logger("bridge");
    bridge::BridgeConfig config = bridge::LoadBridgeConfig(argc, argv);
    auto& clock = common::SystemClock::Instance();

    offline::SociMessageStore store(config.db, clock);
    offline::AccountStore accounts(config.db, clock);
    AccountFriendships friendships(accounts);

    auto registry = std::make_shared<prometheus::Registry>();
    bridge::BridgeMetrics metrics(*registry);
    auto metrics_server = config.runtime.Start(registry);

    std::vector<std::unique_ptr<transport::Transport>> transports;
    std::vector<transport::Transport*> brokers;
    std::vector<std::string> broker_ids;
    for (std::size_t i = 0; i < config.mqtt.size(); ++i) {
      transports.push_back(transport::MakeTransport(config.mqtt_library, config.mqtt[i]));
      brokers.push_back(transports.back().get());
      broker_ids.push_back(config.brokers[i].id);
    }
    bridge::Router router(brokers, broker_ids, config.presence);
    bridge::BridgeCore core(router, store, friendships, clock, config.core, &metrics);
    bridge::BridgeService service(brokers, core, config.service, &metrics);
    for (auto* broker : brokers) {
      // Every bridge takes every device's frames and applies those it owns (membership.hpp).
      broker->Subscribe(std::string(protocol::kUpFilter), 1);
      broker->Subscribe(std::string(protocol::kRelationFilter), 1);
      broker->Subscribe(std::string(protocol::kBridgeHeartbeatFilter), 1);
      if (config.presence) broker->Subscribe(std::string(protocol::kPresenceFilter), 1);
    }
    service.Start();
    for (auto* broker : brokers) broker->Start();
    log->info("started instance={} brokers={} db={} presence={} metrics_port={}",
              config.core.instance, config.brokers.size(), offline::RedactDbUrl(config.db.url),
              config.presence, metrics_server ? metrics_server->port() : 0);

    log->info("stopping on signal {}", stop.Wait());
    for (auto* broker : brokers) broker->Stop();
    service.Stop();
  });
}
