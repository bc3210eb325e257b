// Profiling a running service with Linux perf: record CPU samples of one process (with call
// graphs) for the length of a scenario, then summarize where the time went: the functions
// with the most self time, and the same time grouped into categories (SQLite, JSON codec,
// libmosquitto, malloc, locks, kernel...), plus the inclusive time of our own entry points.
//
// Uses the software clock event (cpu-clock), which works in VMs without hardware counters.
// Not thread-safe; one recorder per process profiled.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace sparrow::bench {

// True when `perf record` can sample here (a short probe); else `why` says what failed.
bool PerfAvailable(std::string* why);

class PerfRecorder {
 public:
  PerfRecorder() = default;
  ~PerfRecorder();  // Stop()
  PerfRecorder(const PerfRecorder&) = delete;
  PerfRecorder& operator=(const PerfRecorder&) = delete;

  // Starts `perf record` on `pid` writing `data_file`; `dwarf` selects DWARF call graphs
  // (needed for inclusive times in our -O2 code built without frame pointers).
  bool Start(pid_t pid, const std::string& data_file, bool dwarf, std::string* error);
  // Stops recording (SIGINT) and waits for perf to write its file.
  void Stop();

 private:
  pid_t perf_pid_ = -1;
};

struct ProfileSummary {
  bool ok = false;
  std::string error;
  double cpu_seconds = 0;  // CPU time covered by the samples
  // (name, percent of the process's samples), largest first.
  std::vector<std::pair<std::string, double>> top_self;    // "symbol (dso)"
  std::vector<std::pair<std::string, double>> categories;  // self time by category
  std::vector<std::pair<std::string, double>> inclusive;   // our functions, with callees
  std::string Markdown(const std::string& title) const;
};

// Runs `perf report` on `data_file` and summarizes it. `inclusive_filter`: substrings of
// symbol names whose inclusive time is listed (e.g. "sparrow::").
ProfileSummary SummarizeProfile(const std::string& data_file, int top_n,
                                const std::vector<std::string>& inclusive_filter);

}  // namespace sparrow::bench
