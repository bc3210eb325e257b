// sparrow-bench: the benchmark harness (bench/harness.hpp). `./sparrow bench [--quick]` builds
// everything and runs it through bench/run; bench/README.md shows the latest full table.
//
//   sparrow-bench [--quick] [--mysql mysql://USER:PASS@HOST:PORT/ [--mysql-pid PID]]
//                 [--results-dir DIR] [--scenario NAME ...] [--profile]
//
// Needs: the built services and plugin (found through the build, or $SPARROW_BIN_DIR), the
// mosquitto binary, scripts/gen-mosquitto-conf; root for 127.0.0.x source addresses is not
// needed (all of 127/8 is local), but the peak-RSS reset (/proc/PID/clear_refs) needs to own
// the processes, which it does: it starts them.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "bench/harness.hpp"
#include "offline/db_url.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "sparrow-bench: Sparrow beside the raw Mosquitto relay, one table (bench/README.md)"};
  sparrow::bench::HarnessOptions o;
  app.add_flag("--quick", o.quick, "short runs and small counts (under 2 minutes)");
  app.add_option("--mysql", o.mysql_url, "MariaDB server URL: adds the MariaDB rows");
  app.add_option("--mysql-pid", o.mysql_pid, "pid of that server, for CPU/RSS");
  app.add_option("--results-dir", o.results_dir, "write <date>.md there");
  app.add_option("--payload", o.payload, "chat frame bytes")->capture_default_str();
  app.add_option("--window", o.window, "closed loop: chats in flight per sender")
      ->capture_default_str();
  app.add_option("--pairs", o.pair_counts, "pair counts of the throughput rows")
      ->capture_default_str();
  app.add_option("--threads", o.loadgen_threads, "load generator event-loop threads")
      ->capture_default_str();
  app.add_option("--seconds", o.seconds, "length of each measured run (default 2 quick, 8 full)");
  app.add_option("--repeat", o.repeat,
                 "runs per figure, in turn with its ceiling; the median is reported "
                 "(default 1 quick, 3 full)");
  app.add_option("--devices", o.connect_devices,
                 "devices held on one broker (default 3,000 quick, 15,000 full)");
  app.add_option("--cluster-devices", o.cluster_devices,
                 "devices across the 3-broker cluster (default 4,000 quick, 40,000 full)");
  app.add_option("--devices-per-process", o.devices_per_process,
                 "devices per load-generator process (default 1,500 quick, 5,000 full)");
  app.add_option("--connect-inflight", o.connect_inflight, "handshakes at once per process")
      ->capture_default_str();
  app.add_option("--sync-frames", o.sync_frames,
                 "backlog of the sync scenario (default 20,000 quick, 100,000 full)");
  app.add_flag("--profile,!--no-profile", o.profile,
               "perf record the bridge and broker during an extra 100-pair run");
  app.add_option("--bridge-arg", o.bridge_args, "extra flag for the bridge (experiments)")
      ->allow_extra_args(false);
  app.add_option("--service-env", o.service_env, "KEY=VALUE for the services (experiments)")
      ->allow_extra_args(false);
  app.add_option(
      "--scenario", o.scenarios,
      "run only these: throughput latency burst storage connect cluster scaleout sync store");
  CLI11_PARSE(app, argc, argv);
  // The command line goes into the report: never with a database password in it.
  for (int i = 0; i < argc; ++i) {
    if (i > 0) o.command_line += " ";
    const bool url = i > 0 && std::string(argv[i - 1]) == "--mysql";
    o.command_line += url ? sparrow::offline::RedactDbUrl(argv[i]) : std::string(argv[i]);
  }
  return sparrow::bench::RunHarness(o);
}
