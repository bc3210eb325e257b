#include "testing/mqtt/mosquitto_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "testing/mqtt/free_port.hpp"
#include "testing/mqtt/wait.hpp"

extern char** environ;

namespace sparrow::testing {
namespace {

constexpr int kFirstStartTries = 3;

std::string SourceDir() {
  if (const char* env = std::getenv("SPARROW_SOURCE_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
#ifdef SPARROW_SOURCE_DIR
  return SPARROW_SOURCE_DIR;
#else
  throw std::runtime_error("MosquittoProcess: set SPARROW_SOURCE_DIR to the repository root");
#endif
}

std::string BrokerBinary(const MosquittoOptions& options) {
  if (!options.binary.empty()) return options.binary;
  if (const char* env = std::getenv("SPARROW_MOSQUITTO_BIN"); env != nullptr && *env != '\0') {
    return env;
  }
  if (::access("/usr/sbin/mosquitto", X_OK) == 0) return "/usr/sbin/mosquitto";
  return "mosquitto";
}

// argv for exec: pointers into `args`, which must outlive the call.
std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

bool AcceptsConnections(const std::string& host, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, host == "0.0.0.0" ? "127.0.0.1" : host.c_str(), &addr.sin_addr);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

MosquittoProcess::MosquittoProcess(MosquittoOptions options) : options_(std::move(options)) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sparrow-mosquitto-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("MosquittoProcess: mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  dir_ = pattern;
  std::filesystem::create_directories(dir_ / "data");
}

MosquittoProcess::~MosquittoProcess() {
  Stop();
  if (std::getenv("SPARROW_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string MosquittoProcess::ReadLog() const { return ReadTextFile(log_path()); }

void MosquittoProcess::GenerateConfig() {
  std::vector<std::string> args = {"bash",       SourceDir() + "/scripts/gen-mosquitto-conf",
                                   "--port",     std::to_string(port_),
                                   "--data-dir", (dir_ / "data").string(),
                                   "--bind",     options_.bind};
  if (options_.plugin.empty()) {
    args.emplace_back("--anonymous");
  } else {
    args.insert(args.end(), {"--plugin", options_.plugin});
    if (!options_.public_key_file.empty()) {
      args.insert(args.end(), {"--public-key", options_.public_key_file});
    }
    if (!options_.broker_id.empty()) args.insert(args.end(), {"--broker-id", options_.broker_id});
    for (const auto& [key, value] : options_.plugin_opts) {
      args.insert(args.end(), {"--plugin-opt", std::string(key).append(" ").append(value)});
    }
  }
  const auto err_path = dir_ / "gen-mosquitto-conf.err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, config_path().c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  auto argv = Argv(args);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, "bash", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    throw std::runtime_error(std::string("MosquittoProcess: cannot run gen-mosquitto-conf: ") +
                             std::strerror(rc));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("MosquittoProcess: gen-mosquitto-conf failed: " +
                             ReadTextFile(err_path));
  }
}

bool MosquittoProcess::SpawnAndWait() {
  process_ = std::make_unique<ChildProcess>(ChildOptions{
      .binary = BrokerBinary(options_),
      .args = {"-c", config_path().string()},
      .env = {},
      .log_path = log_path(),
      .stop_timeout = options_.stop_timeout,
  });
  process_->Start();
  bool exited = false;
  const bool listening = WaitUntil(
      [&] {
        if (!process_->running()) {
          exited = true;
          return true;
        }
        return AcceptsConnections(options_.bind, port_);
      },
      options_.start_timeout, std::chrono::milliseconds(10));
  if (exited) return false;
  if (!listening) {
    Kill();
    throw std::runtime_error("MosquittoProcess: broker did not listen on port " +
                             std::to_string(port_) + " in time; log:\n" + ReadLog());
  }
  return true;
}

void MosquittoProcess::Start() {
  if (running()) return;
  if (port_ != 0) {  // a restart: same port, same config and persistence
    if (!SpawnAndWait()) {
      throw std::runtime_error("MosquittoProcess: broker exited at restart on port " +
                               std::to_string(port_) + "; log:\n" + ReadLog());
    }
    return;
  }
  for (int attempt = 1; attempt <= kFirstStartTries; ++attempt) {
    port_ = FreePort();
    GenerateConfig();
    if (SpawnAndWait()) return;
  }
  const int port = port_;
  port_ = 0;
  throw std::runtime_error("MosquittoProcess: broker exited at start (last port " +
                           std::to_string(port) + "); log:\n" + ReadLog());
}

void MosquittoProcess::Stop() {
  if (process_) process_->Stop();
}

void MosquittoProcess::Kill() {
  if (process_) process_->Kill();
}

void MosquittoProcess::Pause() {
  if (process_) process_->Pause();
}

void MosquittoProcess::Resume() {
  if (process_) process_->Resume();
}

void MosquittoProcess::Restart() {
  Stop();
  Start();
}

}  // namespace sparrow::testing
