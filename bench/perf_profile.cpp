#include "bench/perf_profile.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <map>
#include <sstream>

#include "bench/report.hpp"

extern char** environ;

namespace sparrow::bench {
namespace {

std::string RunCapture(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[8192];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  ::pclose(pipe);
  return out;
}

pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

bool Contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

std::string Category(const std::string& dso, const std::string& sym) {
  if (Contains(dso, "libsqlite3")) return "SQLite (libsqlite3)";
  if (Contains(dso, "libsoci") || Contains(sym, "soci::")) return "SOCI";
  if (Contains(dso, "libmariadb") || Contains(dso, "libmysql")) return "MariaDB client library";
  if (Contains(dso, "libmosquitto")) return "libmosquitto (MQTT client library)";
  if (Contains(dso, "kernel")) {
    if (Contains(sym, "tcp") || Contains(sym, "sock") || Contains(sym, "skb") ||
        Contains(sym, "net_") || Contains(sym, "ip_") || Contains(sym, "__dev_") ||
        Contains(sym, "loopback") || Contains(sym, "inet")) {
      return "kernel: network (TCP over loopback)";
    }
    if (Contains(sym, "ext4") || Contains(sym, "jbd2") || Contains(sym, "blk") ||
        Contains(sym, "fsync") || Contains(sym, "filemap") || Contains(sym, "iomap") ||
        Contains(sym, "virtio")) {
      return "kernel: files and disk";
    }
    if (Contains(sym, "futex")) return "kernel: futex (lock waits, wake-ups)";
    if (Contains(sym, "switch") || Contains(sym, "schedule") || Contains(sym, "wake") ||
        Contains(sym, "_raw_spin") || Contains(sym, "enqueue") || Contains(sym, "dequeue")) {
      return "kernel: scheduling and wake-ups";
    }
    if (Contains(sym, "poll")) return "kernel: poll/epoll";
    if (Contains(sym, "syscall") || Contains(sym, "entry_") || Contains(sym, "exit_to_user")) {
      return "kernel: syscall entry/exit";
    }
    if (Contains(sym, "copy")) return "kernel: data copies (read/write)";
    return "kernel: other (vfs, memory, timers)";
  }
  if (Contains(sym, "malloc") || Contains(sym, "free") || Contains(sym, "_int_") ||
      Contains(sym, "operator new") || Contains(sym, "operator delete") ||
      Contains(sym, "realloc") || Contains(sym, "calloc") || Contains(sym, "tcache")) {
    return "malloc/free";
  }
  if (Contains(sym, "pthread_mutex") || Contains(sym, "__lll_lock") ||
      Contains(sym, "pthread_cond") || Contains(sym, "futex")) {
    return "locks (user side)";
  }
  if (Contains(sym, "nlohmann") || Contains(sym, "sparrow::protocol")) {
    return "JSON decode/encode (protocol)";
  }
  if (Contains(sym, "prometheus")) return "metrics (prometheus-cpp)";
  if (Contains(sym, "spdlog") || Contains(sym, "fmt::")) return "logging";
  if (Contains(sym, "sparrow::")) return "Sparrow logic (bridge, store adapter, transport)";
  if (Contains(dso, "libc")) {
    if (Contains(sym, "mem") || Contains(sym, "str")) return "libc memcpy/strings";
    return "libc other (syscall wrappers, ...)";
  }
  if (Contains(dso, "libstdc++")) return "libstdc++";
  if (Contains(dso, "libcrypto") || Contains(dso, "libsodium")) return "crypto";
  return "other";
}

// One "  12.34%  dso  [.] symbol" (or "[k] symbol") line of perf report --sort dso,sym.
bool ParseLine(const std::string& line, double* percent, std::string* dso, std::string* sym) {
  std::istringstream in(line);
  std::string pct;
  if (!(in >> pct) || pct.empty() || pct.back() != '%') return false;
  try {
    *percent = std::stod(pct.substr(0, pct.size() - 1));
  } catch (...) {
    return false;
  }
  std::string rest;
  std::getline(in, rest);
  auto tag = rest.find(" [.] ");
  if (tag == std::string::npos) tag = rest.find(" [k] ");
  if (tag == std::string::npos) return false;
  *dso = rest.substr(0, tag);
  while (!dso->empty() && dso->front() == ' ') dso->erase(dso->begin());
  while (!dso->empty() && dso->back() == ' ') dso->pop_back();
  *sym = rest.substr(tag + 5);
  while (!sym->empty() && (sym->back() == ' ' || sym->back() == '\n')) sym->pop_back();
  return true;
}

}  // namespace

bool PerfAvailable(std::string* why) {
  const std::string out =
      RunCapture("perf record -q -e cpu-clock -o /dev/null -- true 2>&1; echo rc=$?");
  if (Contains(out, "rc=0")) return true;
  if (why != nullptr) *why = out;
  return false;
}

PerfRecorder::~PerfRecorder() { Stop(); }

bool PerfRecorder::Start(pid_t pid, const std::string& data_file, bool dwarf, std::string* error) {
  std::vector<std::string> args = {"perf",
                                   "record",
                                   "-q",
                                   "-e",
                                   "cpu-clock",
                                   "-F",
                                   dwarf ? "499" : "999",
                                   "-p",
                                   std::to_string(pid),
                                   "-o",
                                   data_file};
  if (dwarf) {
    args.insert(args.end(), {"--call-graph", "dwarf,16384"});
  } else {
    args.emplace_back("-g");
  }
  perf_pid_ = Spawn(args, data_file + ".log");
  if (perf_pid_ < 0) {
    if (error != nullptr) *error = "could not start perf";
    return false;
  }
  ::usleep(300'000);  // perf attaches to the threads before the run starts
  return true;
}

void PerfRecorder::Stop() {
  if (perf_pid_ <= 0) return;
  ::kill(perf_pid_, SIGINT);
  int status = 0;
  ::waitpid(perf_pid_, &status, 0);
  perf_pid_ = -1;
}

ProfileSummary SummarizeProfile(const std::string& data_file, int top_n,
                                const std::vector<std::string>& inclusive_filter) {
  ProfileSummary s;
  const std::string self = RunCapture("perf report -i '" + data_file +
                                      "' --stdio --no-children --sort dso,sym -g none "
                                      "--percent-limit 0.05 2>/dev/null");
  std::map<std::string, double> categories;
  std::istringstream lines(self);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("# Event count (approx.):")) {
      // cpu-clock counts nanoseconds of CPU: the event count is the CPU time sampled.
      try {
        s.cpu_seconds = std::stod(line.substr(24)) / 1e9;
      } catch (...) {
      }
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    double percent = 0;
    std::string dso;
    std::string sym;
    if (!ParseLine(line, &percent, &dso, &sym)) continue;
    categories[Category(dso, sym)] += percent;
    if (static_cast<int>(s.top_self.size()) < top_n) {
      std::string name = sym.size() > 110 ? sym.substr(0, 107) + "..." : sym;
      s.top_self.emplace_back(name + " (" + dso + ")", percent);
    }
  }
  if (s.top_self.empty()) {
    s.error = "perf report gave nothing (see " + data_file + ".log)";
    return s;
  }
  for (const auto& [name, pct] : categories) s.categories.emplace_back(name, pct);
  std::sort(s.categories.begin(), s.categories.end(),
            [](const auto& a, const auto& b) { return a.second > b.second; });

  if (!inclusive_filter.empty()) {
    const std::string children = RunCapture("perf report -i '" + data_file +
                                            "' --stdio --children --sort sym -g none "
                                            "--percent-limit 0.5 2>/dev/null");
    std::istringstream in(children);
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream fields(line);
      std::string total;
      std::string self_pct;
      if (!(fields >> total >> self_pct) || total.back() != '%') continue;
      std::string rest;
      std::getline(fields, rest);
      auto tag = rest.find("[.] ");
      if (tag == std::string::npos) tag = rest.find("[k] ");
      if (tag == std::string::npos) continue;
      const std::string sym = rest.substr(tag + 4);
      bool wanted = false;
      for (const auto& f : inclusive_filter) wanted = wanted || Contains(sym, f.c_str());
      if (!wanted) continue;
      try {
        s.inclusive.emplace_back(sym.size() > 120 ? sym.substr(0, 117) + "..." : sym,
                                 std::stod(total.substr(0, total.size() - 1)));
      } catch (...) {
      }
      if (s.inclusive.size() >= 40) break;
    }
  }
  s.ok = true;
  return s;
}

std::string ProfileSummary::Markdown(const std::string& title) const {
  std::ostringstream out;
  if (!ok) {
    out << title << ": no profile (" << error << ")\n";
    return out.str();
  }
  out << title << " (" << Fixed(cpu_seconds, 2) << " CPU seconds sampled)\n\n";
  out << "| where the time goes (self time, by category) | % of the process's CPU |\n|---|---:|\n";
  for (const auto& [name, pct] : categories) {
    if (pct >= 0.5) out << "| " << name << " | " << Fixed(pct, 1) << " |\n";
  }
  out << "\n| top functions (self time) | % |\n|---|---:|\n";
  for (const auto& [name, pct] : top_self) {
    std::string cell;
    for (char c : name) cell += c == '|' ? '/' : c;
    out << "| `" << cell << "` | " << Fixed(pct, 1) << " |\n";
  }
  if (!inclusive.empty()) {
    out << "\n| our functions, inclusive of what they call | % |\n|---|---:|\n";
    for (const auto& [name, pct] : inclusive) {
      std::string cell;
      for (char c : name) cell += c == '|' ? '/' : c;
      out << "| `" << cell << "` | " << Fixed(pct, 1) << " |\n";
    }
  }
  return out.str();
}

}  // namespace sparrow::bench
