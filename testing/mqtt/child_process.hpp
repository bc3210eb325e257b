// A child process for integration tests (a service binary, a broker): started with its output
// appended to a log file, killed if the thread that started it dies (PR_SET_PDEATHSIG), and
// stopped by the destructor, so a test never leaves a process behind.
//
// Chaos tests use Kill() (SIGKILL), Pause()/Resume() (SIGSTOP/SIGCONT) and Restart().
// Not thread-safe: one object, one thread (call Start from a thread that outlives the child:
// the death signal follows the thread that forked).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace sparrow::testing {

// The argv and envp of a program about to be exec'd, built before fork() (between fork and exec
// only async-signal-safe calls are allowed when the parent has threads). The environment is
// the parent's, less the variables `drop` names, plus `env` (added or replacing).
class ExecImage {
 public:
  ExecImage(const std::string& binary, const std::vector<std::string>& args,
            const std::vector<std::pair<std::string, std::string>>& env,
            bool (*drop)(const std::string& name) = nullptr);
  ExecImage(const ExecImage&) = delete;
  ExecImage& operator=(const ExecImage&) = delete;

  char* const* argv() const { return argv_.data(); }
  char* const* envp() const { return envp_.data(); }

 private:
  std::vector<std::string> strings_;  // the arguments, then the NAME=value entries
  std::vector<char*> argv_;
  std::vector<char*> envp_;
};

struct ChildOptions {
  std::string binary;                                    // a path, or a name looked up in PATH
  std::vector<std::string> args;                         // without argv[0]
  std::vector<std::pair<std::string, std::string>> env;  // added to (or replacing) ours
  std::filesystem::path log_path;                        // stdout and stderr, appended
  std::chrono::milliseconds stop_timeout{5000};
};

class ChildProcess {
 public:
  explicit ChildProcess(ChildOptions options);
  ~ChildProcess();  // Stop()
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Forks and execs. Throws std::runtime_error if it cannot. No-op when running.
  void Start();
  // SIGTERM, wait up to stop_timeout, then SIGKILL; reaps. No-op when not running.
  void Stop();
  // SIGKILL and reap: a crash.
  void Kill();
  void Pause();   // SIGSTOP
  void Resume();  // SIGCONT
  void Restart();

  // True while the process runs (reaps it, without blocking, if it has exited).
  bool running();
  // The exit status of the last run (waitpid status), once it has exited.
  int last_status() const { return last_status_; }
  pid_t pid() const { return pid_; }
  const ChildOptions& options() const { return options_; }
  // Sets (or replaces) one environment variable for the next Start().
  void SetEnv(const std::string& name, const std::string& value);
  std::string ReadLog() const;

 private:
  bool Reap(bool block);

  ChildOptions options_;
  pid_t pid_ = -1;
  int last_status_ = 0;
};

// Reads a whole file ("" if it cannot be read).
std::string ReadTextFile(const std::filesystem::path& path);

}  // namespace sparrow::testing
