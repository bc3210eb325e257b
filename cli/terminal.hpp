// The terminal side of the `sparrow` command: password prompts without echo, progress bars
// (stderr, only when it is a terminal), and Ctrl-C / SIGTERM handling.
//
// Signals: InstallSignalHandling() (first thing in main, before any thread) blocks SIGINT and
// SIGTERM in every thread and handles them on a thread of its own. A command that can stop
// cleanly (listen, chat, send) calls SetGracefulStop(true) and watches StopRequested() /
// StopFd(); otherwise a signal restores the terminal and ends the process at once (exit 130).
// A second signal always ends it at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

namespace sparrow::cli {

[[nodiscard]] bool IsTerminal(int fd);

// Reads a line from the controlling terminal with echo off; nullopt without a terminal.
[[nodiscard]] std::optional<std::string> ReadPassword(const std::string& prompt);

void InstallSignalHandling();
void SetGracefulStop(bool graceful);
[[nodiscard]] bool StopRequested();
// Readable once a stop was requested (for poll() next to stdin).
[[nodiscard]] int StopFd();

// Waits until `done()` holds, a stop is requested, or `timeout` passes; `done` is re-checked
// whenever Wake() is called (from callbacks) and when a stop comes. True iff `done()` held.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);
void Wake();

// A progress bar on stderr for one transfer, redrawn at most 10 times a second; nothing when
// stderr is not a terminal. Callable from the transfer's thread.
class ProgressBarPrinter {
 public:
  explicit ProgressBarPrinter(std::string label);
  ~ProgressBarPrinter();  // ends the bar's line
  void operator()(std::uint64_t done, std::uint64_t total);

 private:
  const std::string label_;
  const bool enabled_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point last_{};
  bool drawn_ = false;
};

}  // namespace sparrow::cli
