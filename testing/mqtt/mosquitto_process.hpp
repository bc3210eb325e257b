// A real Mosquitto broker for integration tests: on a free loopback port, in a temporary
// folder of its own (config, persistence, log), with the config made by the project's one
// generator (scripts/gen-mosquitto-conf), so tests run the settings production runs.
//
//   MosquittoProcess broker;                       // anonymous broker
//   broker.Start();                                // returns once the port accepts
//   auto t = MakeTransport("mosquitto", {.port = broker.port()});
//   broker.Restart();                              // same port, same persistence
//
// Never leaves a broker behind: the destructor stops it and removes the folder, and the
// broker is killed (PR_SET_PDEATHSIG) if the thread that started it dies, the test process
// included. Note the Linux rule this implies: the signal follows the *thread* that forked,
// so call Start()/Restart() from a thread that outlives the broker (the test's own thread,
// not a short-lived helper thread).
//
// Not thread-safe: use one object from one thread. Errors (generator failure, broker that
// exits or does not listen in time) throw std::runtime_error carrying the broker's log.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "testing/mqtt/child_process.hpp"

namespace sparrow::testing {

struct MosquittoOptions {
  // Empty: an anonymous broker (`--anonymous`). Otherwise the auth plugin's shared library
  // (`--plugin`), with its `--public-key`, `--broker-id` and extra `plugin_opt_<key> <value>`
  // lines (keys of 3 characters or more: Mosquitto 2.0.11 rejects shorter ones).
  std::string plugin;
  std::string public_key_file;
  std::string broker_id;
  std::vector<std::pair<std::string, std::string>> plugin_opts;
  std::string bind = "127.0.0.1";
  // The broker binary. Empty: $SPARROW_MOSQUITTO_BIN, else /usr/sbin/mosquitto, else
  // `mosquitto` from PATH.
  std::string binary;
  std::chrono::milliseconds start_timeout{10000};
  std::chrono::milliseconds stop_timeout{5000};
};

class MosquittoProcess {
 public:
  // Creates the temporary folder (under $TMPDIR or /tmp); starts nothing.
  explicit MosquittoProcess(MosquittoOptions options = {});
  // Stop(), then removes the folder (kept if $SPARROW_KEEP_TEST_DIRS is set, for debugging).
  ~MosquittoProcess();
  MosquittoProcess(const MosquittoProcess&) = delete;
  MosquittoProcess& operator=(const MosquittoProcess&) = delete;

  // Generates the config (first call only), starts the broker and waits until its port
  // accepts TCP connections. The first start picks a free port and retries on another one
  // if the broker exits at once (the port was taken meanwhile); later starts reuse it.
  // No-op if running.
  void Start();
  // SIGTERM, then waits up to stop_timeout for a clean exit (Mosquitto then saves its
  // persistence file), then SIGKILL. Reaps the process. No-op if not running.
  void Stop();
  // SIGKILL and reap: a crash. What came since the last autosave is lost, as in production.
  void Kill();
  // Stop() if running, then Start() on the same port with the same persistence folder.
  void Restart();

  // SIGSTOP / SIGCONT: a broker that hangs.
  void Pause();
  void Resume();

  bool running() const { return process_ && process_->pid() > 0; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  int port() const { return port_; }
  const std::string& host() const { return options_.bind; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path config_path() const { return dir_ / "mosquitto.conf"; }
  std::filesystem::path log_path() const { return dir_ / "mosquitto.log"; }
  // The broker's whole log (every run of this object, appended). For failure messages and
  // debugging: tests must not assert on log text.
  std::string ReadLog() const;

 private:
  void GenerateConfig();
  bool SpawnAndWait();  // false: the broker exited before listening

  const MosquittoOptions options_;
  std::filesystem::path dir_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace sparrow::testing
