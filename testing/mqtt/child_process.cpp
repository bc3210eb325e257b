#include "testing/mqtt/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "testing/mqtt/wait.hpp"

extern char** environ;

namespace sparrow::testing {

ExecImage::ExecImage(const std::string& binary, const std::vector<std::string>& args,
                     const std::vector<std::pair<std::string, std::string>>& env,
                     bool (*drop)(const std::string& name)) {
  std::map<std::string, std::string> env_map;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    std::string name = entry.substr(0, eq);
    if (drop != nullptr && drop(name)) continue;
    env_map[std::move(name)] = entry.substr(eq + 1);
  }
  for (const auto& [name, value] : env) env_map[name] = value;
  strings_.push_back(binary);
  strings_.insert(strings_.end(), args.begin(), args.end());
  const std::size_t arg_count = strings_.size();
  for (const auto& [name, value] : env_map) strings_.push_back(name + "=" + value);
  // Pointers only now: strings_ no longer grows.
  for (std::size_t i = 0; i < strings_.size(); ++i) {
    (i < arg_count ? argv_ : envp_).push_back(strings_[i].data());
  }
  argv_.push_back(nullptr);
  envp_.push_back(nullptr);
}

std::string ReadTextFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

ChildProcess::ChildProcess(ChildOptions options) : options_(std::move(options)) {}

ChildProcess::~ChildProcess() { Stop(); }

std::string ChildProcess::ReadLog() const { return ReadTextFile(options_.log_path); }

void ChildProcess::SetEnv(const std::string& name, const std::string& value) {
  for (auto& [key, current] : options_.env) {
    if (key == name) {
      current = value;
      return;
    }
  }
  options_.env.emplace_back(name, value);
}

void ChildProcess::Start() {
  if (running()) return;
  const ExecImage image(options_.binary, options_.args, options_.env);

  int log_fd = ::open(options_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    throw std::runtime_error("ChildProcess: open " + options_.log_path.string() + ": " +
                             std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    throw std::runtime_error(std::string("ChildProcess: fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);  // the parent died before prctl
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    // Unblock the signals the parent may block (services block SIGTERM to sigwait it).
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execvpe(image.argv()[0], image.argv(), image.envp());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
}

bool ChildProcess::Reap(bool block) {
  if (pid_ <= 0) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    last_status_ = status;
    pid_ = -1;
    return true;
  }
  return false;
}

bool ChildProcess::running() { return pid_ > 0 && !Reap(false); }

void ChildProcess::Stop() {
  if (!running()) return;
  ::kill(pid_, SIGCONT);  // a paused process cannot handle SIGTERM
  ::kill(pid_, SIGTERM);
  if (!WaitUntil([this] { return Reap(false); }, options_.stop_timeout,
                 std::chrono::milliseconds(5))) {
    Kill();
  }
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  Reap(true);
}

void ChildProcess::Pause() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void ChildProcess::Resume() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

void ChildProcess::Restart() {
  Stop();
  Start();
}

}  // namespace sparrow::testing
