#include "cli/terminal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <iostream>
#include <thread>

#include "cli/output.hpp"

namespace sparrow::cli {
namespace {

std::atomic<bool> g_graceful{false};
std::atomic<bool> g_stop{false};
int g_stop_pipe[2] = {-1, -1};

std::mutex g_wait_mutex;  // guards nothing but the condition below
std::condition_variable g_wait_cv;

// The terminal settings to restore if a signal arrives during a password prompt.
std::mutex g_tty_mutex;
std::optional<termios> g_saved_tty;
int g_tty_fd = -1;

void RestoreTerminal() {
  std::lock_guard<std::mutex> lock(g_tty_mutex);
  if (g_saved_tty && g_tty_fd >= 0) ::tcsetattr(g_tty_fd, TCSANOW, &*g_saved_tty);
}

void SignalThread(sigset_t set) {
  while (true) {
    int signal = 0;
    if (::sigwait(&set, &signal) != 0) continue;
    if (!g_graceful.load() || g_stop.exchange(true)) {
      RestoreTerminal();
      ::_exit(128 + signal);
    }
    const char byte = 1;
    (void)!::write(g_stop_pipe[1], &byte, 1);
    Wake();
  }
}

}  // namespace

bool IsTerminal(int fd) { return ::isatty(fd) == 1; }

std::optional<std::string> ReadPassword(const std::string& prompt) {
  const int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  (void)!::write(fd, prompt.data(), prompt.size());
  termios saved{};
  const bool have_tty = ::tcgetattr(fd, &saved) == 0;
  if (have_tty) {
    termios silent = saved;
    silent.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    {
      std::lock_guard<std::mutex> lock(g_tty_mutex);
      g_saved_tty = saved;
      g_tty_fd = fd;
    }
    ::tcsetattr(fd, TCSAFLUSH, &silent);
  }
  std::string line;
  char c = 0;
  while (::read(fd, &c, 1) == 1 && c != '\n') line += c;
  if (have_tty) {
    ::tcsetattr(fd, TCSAFLUSH, &saved);
    std::lock_guard<std::mutex> lock(g_tty_mutex);
    g_saved_tty.reset();
    g_tty_fd = -1;
  }
  (void)!::write(fd, "\n", 1);
  ::close(fd);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

void InstallSignalHandling() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);  // inherited by every thread created later
  ::signal(SIGPIPE, SIG_IGN);                   // a closed stdout is an error, not a death
  if (::pipe2(g_stop_pipe, O_CLOEXEC) != 0) return;
  std::thread(SignalThread, set).detach();
}

void SetGracefulStop(bool graceful) { g_graceful = graceful; }

bool StopRequested() { return g_stop.load(); }

int StopFd() { return g_stop_pipe[0]; }

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(g_wait_mutex);
  g_wait_cv.wait_for(lock, timeout, [&] { return g_stop.load() || done(); });
  return done();
}

void Wake() {
  { std::lock_guard<std::mutex> lock(g_wait_mutex); }
  g_wait_cv.notify_all();
}

ProgressBarPrinter::ProgressBarPrinter(std::string label)
    : label_(std::move(label)), enabled_(IsTerminal(STDERR_FILENO)) {}

ProgressBarPrinter::~ProgressBarPrinter() {
  if (enabled_ && drawn_) std::cerr << '\n' << std::flush;
}

void ProgressBarPrinter::operator()(std::uint64_t done, std::uint64_t total) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && done < total && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  drawn_ = true;
  std::cerr << "\r" << label_ << " " << ProgressBar(done, total) << "   " << std::flush;
}

}  // namespace sparrow::cli
