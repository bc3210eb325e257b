// The real `sparrow` binary as a child process for end-to-end tests: stdin is a pipe the test
// writes to (so `chat` and `send -` can be fed), stdout is read by a thread of ours into lines
// (JSON events with --json), stderr goes to a log file for failure messages.
//
// Never leaves a process behind: the destructor kills (SIGKILL) and reaps a child still
// running, and the child dies with the thread that started it (PR_SET_PDEATHSIG): start it
// from the test's own thread.
//
// Thread-safe for the accessors (lines arrive on the reader thread); start/stop from one thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sparrow::testing {

struct CliOptions {
  std::string binary;
  std::vector<std::string> args;  // without argv[0]
  std::vector<std::pair<std::string, std::string>>
      env;  // added to ours (SPARROW_* of ours dropped)
  std::filesystem::path stderr_log;
};

class CliProcess {
 public:
  // Starts the process. Throws std::runtime_error if it cannot.
  explicit CliProcess(CliOptions options);
  ~CliProcess();
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  // Writes `line` and a newline to the child's stdin (false once it is closed or gone).
  bool WriteLine(const std::string& line);
  void CloseStdin();

  // Everything the child printed on stdout so far, as lines.
  std::vector<std::string> Lines() const;
  // The stdout lines that are JSON objects with an "event" field.
  std::vector<nlohmann::json> Events() const;
  std::vector<nlohmann::json> Events(const std::string& event) const;
  // Waits until `pred` holds over Events(), at most `timeout`.
  bool WaitForEvents(const std::function<bool(const std::vector<nlohmann::json>&)>& pred,
                     std::chrono::milliseconds timeout) const;

  // Waits for the exit, at most `timeout`; the exit code (128 + signal when killed).
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  void Terminate(std::chrono::milliseconds timeout = std::chrono::seconds(10));  // SIGTERM
  void Kill();                                                                   // SIGKILL
  bool running();
  pid_t pid() const { return pid_; }
  std::string Stderr() const;

 private:
  bool Reap(bool block);
  void ReadStdout(int fd);

  CliOptions options_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  int stdin_fd_ = -1;
  std::thread reader_;
  mutable std::mutex mutex_;  // guards out_
  std::string out_;
};

// Runs the binary to completion with `input` on stdin (then closed).
struct CliResult {
  int exit_code = -1;  // -1: did not end within the timeout (then killed)
  std::vector<std::string> lines;
  std::string stderr_text;
};
CliResult RunCli(CliOptions options, const std::string& input = "",
                 std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace sparrow::testing
