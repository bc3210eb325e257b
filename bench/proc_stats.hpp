// What the harness reads about the processes it measures, from /proc (Linux only): CPU time
// (utime + stime of /proc/<pid>/stat, all threads), resident memory now and at peak
// (VmRSS / VmHWM of /proc/<pid>/status), and the peak reset (/proc/<pid>/clear_refs, "5"),
// so that each scenario reports its own peak.
//
// Thread-safe (no state). Errors: a process that is gone reads as `ok == false`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sparrow::bench {

struct ProcSample {
  bool ok = false;
  double cpu_seconds = 0;    // user + system, all threads, since the process started
  std::int64_t rss_kb = 0;   // VmRSS
  std::int64_t peak_kb = 0;  // VmHWM: the peak since start or the last ResetPeakRss
  std::int64_t threads = 0;  // Threads
};

ProcSample ReadProc(pid_t pid);

// Resets VmHWM to the current RSS (needs to own the process or be root; Linux >= 4.0).
// Returns false when it could not.
bool ResetPeakRss(pid_t pid);

// The pids whose /proc/<pid>/comm equals `name` (e.g. "mariadbd"), lowest first.
std::vector<pid_t> FindProcesses(const std::string& name);

// The number of open file descriptors of `pid` (entries of /proc/<pid>/fd), -1 if unknown.
int CountOpenFiles(pid_t pid);

// CPU over an interval, for one process: the difference of two samples.
struct CpuWindow {
  pid_t pid = -1;
  ProcSample start;
  // Starts the window (reads the sample now). A pid <= 0 gives an empty window.
  void Begin(pid_t p);
  // CPU seconds used since Begin (0 if the process is gone or the pid was empty).
  double Seconds() const;
};

// The machine's load average over the last minute (from /proc/loadavg), for the report.
double LoadAverage1();

}  // namespace sparrow::bench
