// A MariaDB server of the test's own, in a temporary data folder on a free loopback port, that
// the test may stop, kill and restart (restart and outage tests). Starting one takes about a
// second (mariadb-install-db + mariadbd). The server's URL carries a fresh database `sparrow`.
//
// Not thread-safe; stops the server and removes the folder in the destructor.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "testing/mqtt/child_process.hpp"

namespace sparrow::testing {

class MariaDbServer {
 public:
  MariaDbServer();
  ~MariaDbServer();
  MariaDbServer(const MariaDbServer&) = delete;
  MariaDbServer& operator=(const MariaDbServer&) = delete;

  // First call: initialises the data folder and creates the `sparrow` database and user.
  // Waits until the server accepts connections. Throws std::runtime_error (with its log).
  void Start();
  void Stop();   // clean shutdown
  void Kill();   // SIGKILL: a crash (InnoDB recovers at the next start)
  void Pause();  // SIGSTOP: a hung server
  void Resume();

  bool running() { return process_ && process_->running(); }
  // mysql://sparrow:PASSWORD@127.0.0.1:PORT/sparrow
  const std::string& url() const { return url_; }
  int port() const { return port_; }

 private:
  bool Accepts() const;
  std::string TmpDir() const;

  std::filesystem::path dir_;
  int port_ = 0;
  std::string url_;
  bool initialised_ = false;
  std::unique_ptr<ChildProcess> process_;
};

// True when the MariaDB server binaries are installed (tests skip otherwise).
bool MariaDbInstalled();

}  // namespace sparrow::testing
