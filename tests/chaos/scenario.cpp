#include "tests/chaos/scenario.hpp"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace sparrow::chaos {

bool FullRun() {
  const char* full = std::getenv("SPARROW_CHAOS_FULL");
  return full != nullptr && *full != '\0' && std::string(full) != "0";
}

void Report(const std::string& scenario, const Figures& figures, const std::string& extra,
            double seconds) {
  std::ostringstream line;
  line << "CHAOS scenario=" << scenario << " size=" << (FullRun() ? "full" : "short") << " "
       << figures.ToLine();
  if (!extra.empty()) line << " " << extra;
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", seconds);
  line << " seconds=" << buffer;
  std::printf("%s\n", line.str().c_str());
  std::fflush(stdout);
  if (const char* path = std::getenv("SPARROW_CHAOS_REPORT"); path != nullptr && *path != '\0') {
    std::ofstream out(path, std::ios::app);
    out << line.str() << "\n";
  }
}

int Supervisor::Tend() {
  int restarted = 0;
  auto tend = [&](testing::ChildProcess& child, const std::string& name) {
    // pid <= 0: stopped or killed by the test itself (it restarts what it kills).
    if (child.pid() <= 0 || child.running()) return;
    const int status = child.last_status();
    std::string cause = "exit" + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    if (WIFSIGNALED(status)) cause = std::string("SIG") + sigabbrev_np(WTERMSIG(status));
    ++deaths_[name + ":" + cause];
    if (disarm_after_ > 0 && ++deaths_by_service_[name] == disarm_after_) {
      child.SetEnv("SPARROW_FAILPOINTS", "");
    }
    child.Start();
    ++restarts_;
    ++restarted;
  };
  for (int i = 0; i < bridges_; ++i) tend(stack_.bridge(i), "bridge-" + std::to_string(i));
  if (offline_) tend(stack_.offline(), "offline");
  return restarted;
}

std::string Supervisor::Deaths() const {
  std::string out;
  for (const auto& [what, count] : deaths_) {
    out += (out.empty() ? "" : ",") + what + "=" + std::to_string(count);
  }
  return out;
}

}  // namespace sparrow::chaos
