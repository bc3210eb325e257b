#include "tests/e2e/cli_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "testing/mqtt/child_process.hpp"
#include "testing/mqtt/wait.hpp"

namespace sparrow::testing {
namespace {

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (true) {
    const auto nl = text.find('\n', start);
    if (nl == std::string::npos) break;
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;  // a last line without '\n' is still being written
}

}  // namespace

CliProcess::CliProcess(CliOptions options) : options_(std::move(options)) {
  ::signal(SIGPIPE, SIG_IGN);  // writing to a child that died must not kill the test
  // The CLI reads SPARROW_* settings: the test's own environment must not leak into it.
  const ExecImage image(options_.binary, options_.args, options_.env, [](const std::string& name) {
    return name.rfind("SPARROW_", 0) == 0 && name != "SPARROW_KEEP_TEST_DIRS";
  });

  int in_pipe[2];
  int out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("CliProcess: pipe: ") + std::strerror(errno));
  }
  const int log_fd =
      ::open(options_.stderr_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0)
    throw std::runtime_error("CliProcess: cannot open " + options_.stderr_log.string());
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("CliProcess: fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    ::dup2(in_pipe[0], STDIN_FILENO);
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    ::execve(image.argv()[0], image.argv(), image.envp());
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  pid_ = pid;
  stdin_fd_ = in_pipe[1];
  reader_ = std::thread([this, fd = out_pipe[0]] { ReadStdout(fd); });
}

CliProcess::~CliProcess() {
  CloseStdin();
  if (running()) Kill();
  if (reader_.joinable()) reader_.join();
}

void CliProcess::ReadStdout(int fd) {
  char buffer[4096];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child (and every copy of its stdout) is gone
    std::lock_guard<std::mutex> lock(mutex_);
    out_.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
}

bool CliProcess::WriteLine(const std::string& line) {
  if (stdin_fd_ < 0) return false;
  std::string data = line + "\n";
  std::string_view rest(data);
  while (!rest.empty()) {
    const ssize_t n = ::write(stdin_fd_, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void CliProcess::CloseStdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

std::vector<std::string> CliProcess::Lines() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return SplitLines(out_);
}

std::vector<nlohmann::json> CliProcess::Events() const {
  std::vector<nlohmann::json> events;
  for (const auto& line : Lines()) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("event")) events.push_back(std::move(j));
  }
  return events;
}

std::vector<nlohmann::json> CliProcess::Events(const std::string& event) const {
  std::vector<nlohmann::json> out;
  for (auto& e : Events()) {
    if (e["event"] == event) out.push_back(std::move(e));
  }
  return out;
}

bool CliProcess::WaitForEvents(const std::function<bool(const std::vector<nlohmann::json>&)>& pred,
                               std::chrono::milliseconds timeout) const {
  return WaitUntil([&] { return pred(Events()); }, timeout, std::chrono::milliseconds(10));
}

bool CliProcess::Reap(bool block) {
  if (pid_ <= 0) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    pid_ = -1;
    return true;
  }
  return false;
}

bool CliProcess::running() { return pid_ > 0 && !Reap(false); }

std::optional<int> CliProcess::Wait(std::chrono::milliseconds timeout) {
  if (!WaitUntil([this] { return Reap(false); }, timeout)) return std::nullopt;
  if (reader_.joinable()) reader_.join();  // every line the child printed is in
  return exit_code_;
}

void CliProcess::Terminate(std::chrono::milliseconds timeout) {
  if (!running()) return;
  ::kill(pid_, SIGTERM);
  if (!Wait(timeout)) Kill();
}

void CliProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  Reap(true);
  if (reader_.joinable()) reader_.join();
}

std::string CliProcess::Stderr() const { return ReadTextFile(options_.stderr_log); }

CliResult RunCli(CliOptions options, const std::string& input, std::chrono::milliseconds timeout) {
  CliProcess process(std::move(options));
  if (!input.empty())
    process.WriteLine(input.back() == '\n' ? input.substr(0, input.size() - 1) : input);
  process.CloseStdin();
  CliResult result;
  const auto code = process.Wait(timeout);
  if (!code) process.Kill();
  result.exit_code = code.value_or(-1);
  result.lines = process.Lines();
  result.stderr_text = process.Stderr();
  return result;
}

}  // namespace sparrow::testing
