// The benchmark harness: every scenario of the benchmark issue in one run, Sparrow beside its
// ceiling on the same broker, one markdown table at the end (bench/README.md explains each
// row). `bench/run` (what `./sparrow bench` runs) calls sparrow-bench, which calls RunHarness.
//
// What runs: the real stack (testing/stack SparrowStack: Mosquitto with the auth plugin and the
// production config from scripts/gen-mosquitto-conf, sparrow-bridge, sparrow-offline, SQLite or
// MariaDB), the ceiling relay (sparrow-bench-relay) on the same broker, the load generator
// (bench/loadgen.hpp) in this process, and for the connection scenarios several
// sparrow-loadgen processes with their own source addresses. CPU and memory of each process
// come from /proc (bench/proc_stats.hpp).
//
// Not thread-safe: one harness per process.
#pragma once

#include <string>
#include <vector>

namespace sparrow::bench {

struct HarnessOptions {
  bool quick = false;       // under 2 minutes: shorter runs, smaller counts
  std::string mysql_url;    // a MariaDB server URL (mysql://USER:PASS@HOST:PORT/): adds rows
  int mysql_pid = 0;        // its mariadbd, for CPU/RSS (0: looked up by name)
  std::string results_dir;  // where <date>.md goes (empty: not written)
  int payload = 200;        // bytes of every chat frame (the relay carries the same bytes)
  int window = 20;          // closed loop: chats in flight per sender
  std::vector<int> pair_counts = {1, 10, 100};  // throughput rows; latency uses the largest
  int loadgen_threads = 1;      // event-loop threads of the in-process load generator
  double seconds = 0;           // length of each measured run (0: 2 s quick, 8 s full)
  int repeat = 0;               // runs per figure, taken in turn with its ceiling; the median is
                                // reported (0: 1 quick, 3 full)
  int connect_devices = 0;      // devices held on one broker (0: 3,000 quick, 15,000 full)
  int cluster_devices = 0;      // devices across the 3-broker cluster (0: 4,000 quick, 40,000 full)
  int devices_per_process = 0;  // 0: 1,500 quick (to exercise the split), 5,000 full
  // Handshakes at once per load-generator process. Mosquitto listens with a backlog of 100:
  // more connects in flight to one broker than that overflow its accept queue, and the
  // dropped SYNs come back a second later (a 1 s p99 that is the client's doing).
  int connect_inflight = 32;
  int sync_frames = 0;   // backlog of the sync scenario (0: 20,000 quick, 100,000 full)
  bool profile = false;  // perf-record the bridge and the broker during an extra 100-pair run
  // Experiments: extra flags for every bridge, and KEY=VALUE environment for the services
  // (e.g. SPARROW_LOG_LEVEL=debug, or an LD_PRELOAD shim).
  std::vector<std::string> bridge_args;
  std::vector<std::string> service_env;
  std::vector<std::string> scenarios;  // empty: all (throughput, latency, burst, storage,
                                       // connect, cluster, sync, store)
  std::string command_line;            // for the report
};

// Runs the scenarios, prints the table (and writes the results file). Returns 0 when every
// scenario ran (targets missed still return 0: the table says so), 1 on a failure to run.
int RunHarness(const HarnessOptions& options);

}  // namespace sparrow::bench
