#include "bench/proc_stats.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace sparrow::bench {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::int64_t StatusField(const std::string& status, const std::string& key) {
  const auto at = status.find("\n" + key + ":");
  if (at == std::string::npos) return 0;
  return std::strtoll(status.c_str() + at + key.size() + 2, nullptr, 10);
}

}  // namespace

ProcSample ReadProc(pid_t pid) {
  ProcSample sample;
  if (pid <= 0) return sample;
  const std::string base = "/proc/" + std::to_string(pid);
  const std::string stat = ReadAll(base + "/stat");
  // The command name is in parentheses and may contain spaces: fields start after the last ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return sample;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  // Fields after the name start with field 3 (state); utime and stime are fields 14 and 15.
  std::int64_t utime = 0;
  std::int64_t stime = 0;
  for (int i = 3; i <= 15 && (fields >> field); ++i) {
    if (i == 14) utime = std::strtoll(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoll(field.c_str(), nullptr, 10);
  }
  static const double kTicks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  sample.cpu_seconds = static_cast<double>(utime + stime) / kTicks;
  const std::string status = "\n" + ReadAll(base + "/status");
  sample.rss_kb = StatusField(status, "VmRSS");
  sample.peak_kb = StatusField(status, "VmHWM");
  sample.threads = StatusField(status, "Threads");
  sample.ok = true;
  return sample;
}

bool ResetPeakRss(pid_t pid) {
  if (pid <= 0) return false;
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

std::vector<pid_t> FindProcesses(const std::string& name) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string dir = entry.path().filename().string();
    if (dir.empty() || !std::all_of(dir.begin(), dir.end(), ::isdigit)) continue;
    std::string comm = ReadAll(entry.path().string() + "/comm");
    while (!comm.empty() && (comm.back() == '\n' || comm.back() == ' ')) comm.pop_back();
    if (comm == name) pids.push_back(static_cast<pid_t>(std::stol(dir)));
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

int CountOpenFiles(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

void CpuWindow::Begin(pid_t p) {
  pid = p;
  start = ReadProc(p);
}

double CpuWindow::Seconds() const {
  if (pid <= 0 || !start.ok) return 0;
  const ProcSample now = ReadProc(pid);
  return now.ok ? std::max(0.0, now.cpu_seconds - start.cpu_seconds) : 0;
}

double LoadAverage1() {
  const std::string text = ReadAll("/proc/loadavg");
  return text.empty() ? 0 : std::strtod(text.c_str(), nullptr);
}

}  // namespace sparrow::bench
