#include "testing/stack/mariadb_server.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "common/base64.hpp"
#include "common/ids.hpp"
#include "testing/mqtt/free_port.hpp"
#include "testing/mqtt/wait.hpp"

namespace sparrow::testing {
namespace {

std::string User() {
  const char* user = std::getenv("USER");
  return getuid() == 0 ? "root" : (user != nullptr ? user : "root");
}

int RunQuiet(const std::vector<std::string>& args, const std::filesystem::path& log) {
  ChildProcess child(ChildOptions{.binary = args.front(),
                                  .args = std::vector<std::string>(args.begin() + 1, args.end()),
                                  .log_path = log});
  child.Start();
  WaitUntil([&] { return !child.running(); }, std::chrono::seconds(60));
  if (child.running()) {
    child.Kill();
    return -1;
  }
  return WIFEXITED(child.last_status()) ? WEXITSTATUS(child.last_status()) : -1;
}

}  // namespace

bool MariaDbInstalled() {
  return std::filesystem::exists("/usr/sbin/mariadbd") &&
         std::filesystem::exists("/usr/bin/mariadb-install-db");
}

MariaDbServer::MariaDbServer() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sparrow-mariadb-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("MariaDbServer: mkdtemp");
  dir_ = pattern;
}

MariaDbServer::~MariaDbServer() {
  Stop();
  if (std::getenv("SPARROW_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

bool MariaDbServer::Accepts() const {
  return RunQuiet({"/usr/bin/mariadb", "--no-defaults", "--socket=" + (dir_ / "sock").string(),
                   "-uroot", "-e", "SELECT 1"},
                  dir_ / "probe.log") == 0;
}

// Every server gets its own tmpdir: mariadbd deletes any `#sql*` file in its tmpdir when it
// starts, so servers sharing /tmp destroy each other's temporary tables (a parallel test run
// saw mariadb-install-db fail with "Unknown table 'mysql.tmp_user_sys'").
std::string MariaDbServer::TmpDir() const {
  const std::filesystem::path tmp = dir_ / "tmp";
  std::filesystem::create_directories(tmp);
  return tmp.string();
}

void MariaDbServer::Start() {
  if (running()) return;
  if (!initialised_) {
    if (RunQuiet({"/usr/bin/mariadb-install-db", "--no-defaults",
                  "--datadir=" + (dir_ / "data").string(), "--tmpdir=" + TmpDir(),
                  "--user=" + User(), "--auth-root-authentication-method=socket"},
                 dir_ / "install.log") != 0) {
      throw std::runtime_error("MariaDbServer: mariadb-install-db failed:\n" +
                               ReadTextFile(dir_ / "install.log"));
    }
    port_ = FreePort();
  }
  process_ = std::make_unique<ChildProcess>(ChildOptions{
      .binary = "/usr/sbin/mariadbd",
      .args = {"--no-defaults", "--datadir=" + (dir_ / "data").string(), "--tmpdir=" + TmpDir(),
               "--socket=" + (dir_ / "sock").string(), "--port=" + std::to_string(port_),
               "--bind-address=127.0.0.1", "--user=" + User(), "--skip-name-resolve",
               "--innodb-flush-log-at-trx-commit=1", "--pid-file=" + (dir_ / "pid").string()},
      .log_path = dir_ / "mariadbd.log",
      .stop_timeout = std::chrono::milliseconds(20000)});
  process_->Start();
  if (!WaitUntil([&] { return !process_->running() || Accepts(); }, std::chrono::seconds(30),
                 std::chrono::milliseconds(100)) ||
      !process_->running()) {
    throw std::runtime_error("MariaDbServer: mariadbd did not start:\n" +
                             ReadTextFile(dir_ / "mariadbd.log"));
  }
  if (!initialised_) {
    const std::string password = common::HexEncode(common::RandomBytes(12));
    if (RunQuiet({"/usr/bin/mariadb", "--no-defaults", "--socket=" + (dir_ / "sock").string(),
                  "-uroot", "-e",
                  "CREATE DATABASE sparrow CHARACTER SET utf8mb4 COLLATE utf8mb4_bin; "
                  "CREATE USER 'sparrow'@'127.0.0.1' IDENTIFIED BY '" +
                      password +
                      "'; "
                      "GRANT ALL PRIVILEGES ON *.* TO 'sparrow'@'127.0.0.1';"},
                 dir_ / "setup.log") != 0) {
      throw std::runtime_error("MariaDbServer: setup failed:\n" + ReadTextFile(dir_ / "setup.log"));
    }
    url_ = "mysql://sparrow:" + password + "@127.0.0.1:" + std::to_string(port_) + "/sparrow";
    initialised_ = true;
  }
}

void MariaDbServer::Stop() {
  if (process_) process_->Stop();
}
void MariaDbServer::Kill() {
  if (process_) process_->Kill();
}
void MariaDbServer::Pause() {
  if (process_) process_->Pause();
}
void MariaDbServer::Resume() {
  if (process_) process_->Resume();
}

}  // namespace sparrow::testing
