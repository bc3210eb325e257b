// The whole Sparrow stack as real processes, for end-to-end tests and benchmarks: Mosquitto
// brokers with the auth plugin, sparrow-bridge, sparrow-offline (and sparrow-authsvc when asked),
// on free loopback ports, with an SQLite database in a temporary folder (or a MySQL URL).
//
//   SparrowStack stack;          // one broker, one bridge, the sync service, SQLite
//   stack.Start();               // returns once a probe device got `synced` through them all
//   stack.Befriend("alice", "bob");
//   TestDevice alice(stack, "alice", "phone");
//   alice.Connect();
//   stack.bridge().Kill();       // chaos
//
// Not thread-safe: one test thread owns it. Every process is stopped and the folder removed by
// the destructor (kept when $SPARROW_KEEP_TEST_DIRS is set).
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/token.hpp"
#include "offline/account_store.hpp"
#include "testing/mqtt/child_process.hpp"
#include "testing/mqtt/mosquitto_process.hpp"

namespace sparrow::testing {

struct StackOptions {
  int brokers = 1;
  int bridges = 1;
  bool offline = true;
  bool authsvc = false;
  // Empty: SQLite in the stack's folder. Else a mysql:// URL of an existing (empty) database.
  std::string db_url;
  std::vector<std::string> bridge_args;   // extra flags for every bridge
  std::vector<std::string> offline_args;  // extra flags for the sync service
  std::vector<std::string> authsvc_args;
  std::vector<std::pair<std::string, std::string>> service_env;  // e.g. failpoints
  std::chrono::milliseconds start_timeout{20000};
};

class SparrowStack {
 public:
  explicit SparrowStack(StackOptions options = {});
  ~SparrowStack();
  SparrowStack(const SparrowStack&) = delete;
  SparrowStack& operator=(const SparrowStack&) = delete;

  // Starts brokers, then services, and waits until a probe device's `sync` is answered through
  // the bridge and the sync service. Throws std::runtime_error (with the logs) on failure.
  void Start();
  void Stop();
  // Waits until the probe's `sync` is answered again (after killing/restarting parts).
  bool WaitReady(std::chrono::milliseconds timeout);
  // Waits until every bridge's heartbeat was seen (they then share the devices).
  bool WaitBridges(std::chrono::milliseconds timeout);

  MosquittoProcess& broker(int i = 0) { return *brokers_.at(static_cast<std::size_t>(i)); }
  ChildProcess& bridge(int i = 0) { return *bridges_.at(static_cast<std::size_t>(i)); }
  ChildProcess& offline() { return *offline_; }
  ChildProcess& authsvc() { return *authsvc_; }
  int http_port() const { return http_port_; }
  int broker_count() const { return static_cast<int>(brokers_.size()); }

  // A token for `sub`, signed with the stack's key (what the REST service would issue).
  std::string Token(const std::string& sub, common::Role role = common::Role::kUser,
                    std::int64_t ttl_ms = 3'600'000) const;
  // Direct database access from the test thread (users and friendships without REST).
  offline::AccountStore& accounts();
  void CreateUser(const std::string& user);
  void Befriend(const std::string& a, const std::string& b);
  const std::string& db_url() const { return db_url_; }
  const std::filesystem::path& dir() const { return dir_; }
  // Every log of the stack, for failure messages.
  std::string Logs() const;

 private:
  std::unique_ptr<ChildProcess> Service(const std::string& name, const std::string& binary,
                                        std::vector<std::string> args);

  StackOptions options_;
  std::filesystem::path dir_;
  std::string db_url_;
  std::unique_ptr<common::TokenSigner> signer_;
  std::vector<std::unique_ptr<MosquittoProcess>> brokers_;
  std::vector<std::unique_ptr<ChildProcess>> bridges_;
  std::unique_ptr<ChildProcess> offline_;
  std::unique_ptr<ChildProcess> authsvc_;
  std::unique_ptr<offline::AccountStore> accounts_;
  int http_port_ = 0;
};

// Paths of the built binaries (from the build; overridable with SPARROW_BIN_DIR).
std::string BridgeBinary();
std::string OfflineBinary();
std::string AuthsvcBinary();
std::string PluginLibrary();

}  // namespace sparrow::testing
