// sparrow-authsvc: Sparrow's REST service: accounts (argon2id), login tokens (Ed25519 JWTs),
// friends, relation keys and files (authsvc/README.md has the API).
//
//   sparrow-authsvc serve --data-dir data --port 8080 [--token-file data/keys/authsvc.token]
//   sparrow-authsvc token --role svc --sub bridge [--ttl 3600] [--data-dir data]
//
// Needs: the data folder (keys/ is created on first start: token_secret.key, token_public.key,
// master.key, all secrets 0600), the database (--db / SPARROW_DB, default
// sqlite:{data-dir}/sparrow.db), and for announcements to the bridges a broker and an svc token
// (--token-file; SPARROW_MQTT_HOST / SPARROW_MQTT_PORT).
#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>

#include "authsvc/announcer.hpp"
#include "authsvc/api.hpp"
#include "authsvc/config.hpp"
#include "authsvc/http_server.hpp"
#include "authsvc/metrics.hpp"
#include "authsvc/passwords.hpp"
#include "authsvc/rate_limiter.hpp"
#include "authsvc/revocation_refresher.hpp"
#include "authsvc/sealed_keys.hpp"
#include "authsvc/store_pool.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/log.hpp"
#include "common/token.hpp"
#include "offline/account_store.hpp"
#include "offline/db_url.hpp"
#include "transport/transport.hpp"

namespace {

int WaitForSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

int MintToken(const sparrow::authsvc::TokenConfig& config) {
  using namespace sparrow;
  const auto keys = std::filesystem::path(config.data_dir) / "keys";
  const common::TokenSigner signer(common::LoadOrCreateSigningKey(keys.string()));
  std::cout << signer.Issue(config.sub, config.role, common::SystemClock::Instance().WallMillis(),
                            config.ttl_s * 1000)
            << '\n';
  return 0;
}

int Serve(const sparrow::authsvc::ServeConfig& config) {
  using namespace sparrow;
  using namespace sparrow::authsvc;
  auto log = common::Logger("authsvc");
  common::SetLogLevel(config.log_level);
  auto& clock = common::SystemClock::Instance();

  const std::filesystem::path data(config.data_dir);
  const std::string keys = (data / "keys").string();
  const common::TokenSigner signer(common::LoadOrCreateSigningKey(keys));
  const common::TokenVerifier verifier(
      common::LoadPublicKeys((data / "keys" / "token_public.key").string()));
  const KeySealer sealer = LoadOrCreateKeySealer(keys);
  const FileStore files(data / "files");

  auto registry = std::make_shared<prometheus::Registry>();
  AuthsvcMetrics metrics(registry);
  PasswordHasher hasher(config.hasher, &metrics.hashes_in_progress());
  LoginRateLimiter limiter(clock);
  AccountStorePool accounts(
      [&] { return std::make_unique<offline::AccountStore>(config.db, clock); },
      static_cast<std::size_t>(config.workers));
  (void)accounts.Acquire();  // open (and migrate) the database now: fail at start, not later

  std::vector<std::unique_ptr<transport::Transport>> transports;
  std::vector<transport::Transport*> brokers;
  std::unique_ptr<Announcer> announcer;
  if (!config.mqtt.empty()) {
    for (const auto& options : config.mqtt) {
      transports.push_back(transport::MakeTransport(config.mqtt_library, options));
      auto* broker = transports.back().get();
      broker->SetConnectionHandler([log, port = options.port](bool connected, int reason) {
        if (connected) {
          log->info("connected to the broker port={}", port);
        } else {
          log->warn("disconnected from the broker port={} reason={}", port, reason);
        }
      });
      broker->Start();
      brokers.push_back(broker);
    }
    announcer = std::make_unique<MqttAnnouncer>(brokers, MqttAnnouncer::Options{},
                                                [&metrics] { metrics.AnnounceFailed(); });
  } else {
    log->warn(
        "no --token-file: running without MQTT (friendship and revocation changes are "
        "not announced; bridges notice them when their cache expires)");
    announcer = std::make_unique<NullAnnouncer>();
  }

  Api api(ApiDeps{.accounts = accounts,
                  .hasher = hasher,
                  .limiter = limiter,
                  .sealer = sealer,
                  .files = files,
                  .signer = signer,
                  .verifier = verifier,
                  .announcer = *announcer,
                  .clock = clock,
                  .metrics = &metrics},
          ApiOptions{.token_ttl_ms = config.token_ttl_s * 1000,
                     .max_file_bytes = config.max_file_bytes});
  HttpServer server(
      api, metrics,
      HttpServerOptions{.bind = config.bind, .port = config.port, .workers = config.workers});
  server.Start();
  // A restarted broker forgets revocations: announce the recent ones again every minute.
  std::unique_ptr<RevocationRefresher> refresher;
  if (!brokers.empty()) {
    refresher = std::make_unique<RevocationRefresher>(
        [&accounts](std::int64_t since) { return accounts.Acquire()->RevokedSince(since); },
        *announcer, clock, std::chrono::seconds(config.token_ttl_s), std::chrono::seconds(60));
    refresher->Start();
  }
  log->info(
      "started address={}:{} db={} data_dir={} mqtt={} argon2_memory_kib={} "
      "argon2_passes={} max_concurrent_hashes={}",
      config.bind, server.port(), offline::RedactDbUrl(config.db.url), config.data_dir,
      config.mqtt.empty()
          ? std::string("off")
          : config.mqtt.front().client_id + " brokers=" + std::to_string(config.mqtt.size()),
      config.hasher.memory_kib, config.hasher.passes, config.hasher.max_concurrent);

  const int signal = WaitForSignal();
  if (refresher) refresher->Stop();
  log->info("stopping on signal {}", signal);
  server.Stop();
  for (auto* broker : brokers) broker->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sparrow;
  // Block the stop signals in every thread; the main thread waits for them in Serve.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto log = common::Logger("authsvc");
  try {
    const authsvc::AuthsvcConfig config = authsvc::LoadAuthsvcConfig(argc, argv);
    if (config.command == authsvc::AuthsvcConfig::Command::kToken) return MintToken(config.token);
    return Serve(config.serve);
  } catch (const common::ConfigError& e) {
    log->error("configuration: {}", e.what());
    return 2;
  } catch (const std::exception& e) {
    log->error("fatal: {}", e.what());
    return 1;
  }
}
