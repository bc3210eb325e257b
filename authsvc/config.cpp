#include "authsvc/config.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>

#include "common/error.hpp"
#include "offline/db_flags.hpp"
#include "protocol/identity.hpp"
#include "transport/service_flags.hpp"

namespace sparrow::authsvc {

AuthsvcConfig LoadAuthsvcConfig(int argc, char** argv) {
  AuthsvcConfig config;
  CLI::App app{
      "sparrow-authsvc: Sparrow's REST service (accounts, login tokens, friends, relation keys, "
      "files; see authsvc/README.md)"};
  app.require_subcommand(1);

  // serve
  ServeConfig& serve = config.serve;
  CLI::App* serve_cmd = app.add_subcommand("serve", "Run the REST service");
  transport::ServiceFlags mqtt;
  offline::DbFlags db;
  db.url.clear();  // default: sqlite:{data-dir}/sparrow.db, decided after parsing
  std::int64_t argon2_memory_kib = static_cast<std::int64_t>(serve.hasher.memory_kib);
  int argon2_passes = static_cast<int>(serve.hasher.passes);
  serve_cmd->add_option("--data-dir", serve.data_dir, "Folder of keys/, files/ and sparrow.db")
      ->envname("SPARROW_DATA_DIR")
      ->capture_default_str();
  serve_cmd->add_option("--port", serve.port, "HTTP port")
      ->envname("SPARROW_HTTP_PORT")
      ->capture_default_str();
  serve_cmd->add_option("--bind", serve.bind, "HTTP address")
      ->envname("SPARROW_HTTP_BIND")
      ->capture_default_str();
  db.AddTo(*serve_cmd);
  mqtt.AddTo(*serve_cmd, "authsvc");
  // Optional here: without it the service runs without MQTT announcements.
  serve_cmd->get_option("--token-file")->required(false);
  serve_cmd->add_option("--token-ttl", serve.token_ttl_s, "Lifetime of user tokens, seconds")
      ->envname("SPARROW_TOKEN_TTL")
      ->capture_default_str();
  serve_cmd->add_option("--max-file-bytes", serve.max_file_bytes, "Largest file upload, bytes")
      ->envname("SPARROW_MAX_FILE_BYTES")
      ->capture_default_str();
  serve_cmd
      ->add_option("--argon2-memory-kib", argon2_memory_kib,
                   "argon2id memory per hash, KiB (at least 19456)")
      ->envname("SPARROW_ARGON2_MEMORY_KIB")
      ->capture_default_str();
  serve_cmd->add_option("--argon2-passes", argon2_passes, "argon2id passes (at least 2)")
      ->envname("SPARROW_ARGON2_PASSES")
      ->capture_default_str();
  serve_cmd
      ->add_option("--max-concurrent-hashes", serve.hasher.max_concurrent,
                   "argon2id hashes running at once, at most")
      ->envname("SPARROW_MAX_CONCURRENT_HASHES")
      ->capture_default_str();
  serve_cmd->add_option("--workers", serve.workers, "HTTP worker threads")
      ->envname("SPARROW_HTTP_WORKERS")
      ->capture_default_str();
  serve_cmd->add_option("--log-level", serve.log_level, "trace|debug|info|warn|error")
      ->envname("SPARROW_LOG_LEVEL")
      ->capture_default_str();

  // token
  TokenConfig& token = config.token;
  std::string role = "svc";
  CLI::App* token_cmd =
      app.add_subcommand("token", "Print a token signed with the data folder's key");
  token_cmd->add_option("--role", role, "user, svc or ops")
      ->check(CLI::IsMember({"user", "svc", "ops"}))
      ->capture_default_str();
  token_cmd->add_option("--sub", token.sub, "Subject: a userId or a service name")->required();
  token_cmd->add_option("--ttl", token.ttl_s, "Lifetime, seconds")->capture_default_str();
  token_cmd->add_option("--data-dir", token.data_dir, "Folder holding keys/")
      ->envname("SPARROW_DATA_DIR")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));
  }

  if (token_cmd->parsed()) {
    config.command = AuthsvcConfig::Command::kToken;
    if (!protocol::IsValidUserId(token.sub)) {
      throw common::ConfigError("--sub: must match ^[a-z0-9][a-z0-9_.-]{2,31}$");
    }
    if (token.ttl_s < 1 || token.ttl_s > 10ll * 365 * 86400) {
      throw common::ConfigError("--ttl: must be 1..315360000 seconds");
    }
    token.role = *common::ParseRole(role);
    return config;
  }

  config.command = AuthsvcConfig::Command::kServe;
  if (serve.port < 0 || serve.port > 65535) throw common::ConfigError("--port: must be 0..65535");
  if (serve.token_ttl_s < 60 || serve.token_ttl_s > 30ll * 86400) {
    throw common::ConfigError("--token-ttl: must be 60..2592000 seconds");
  }
  if (serve.max_file_bytes < 1 || serve.max_file_bytes > (1ull << 40)) {
    throw common::ConfigError("--max-file-bytes: must be 1..1099511627776");
  }
  if (serve.workers < 1 || serve.workers > 1024) {
    throw common::ConfigError("--workers: must be 1..1024");
  }
  if (argon2_memory_kib < 0 || argon2_passes < 0) {
    throw common::ConfigError("--argon2-memory-kib / --argon2-passes: must be positive");
  }
  serve.hasher.memory_kib = static_cast<std::size_t>(argon2_memory_kib);
  serve.hasher.passes = static_cast<unsigned>(argon2_passes);
  serve.hasher.max_waiting = std::max(1, serve.workers / 2);
  serve.hasher.Validate();
  if (db.url.empty())
    db.url = "sqlite:" + (std::filesystem::path(serve.data_dir) / "sparrow.db").string();
  serve.db = db.ToOptions();
  if (!mqtt.token_file.empty()) {
    for (const auto& broker : mqtt.Endpoints()) serve.mqtt.push_back(mqtt.ToOptions(broker));
    serve.mqtt_library = mqtt.library;
  }
  return config;
}

}  // namespace sparrow::authsvc
