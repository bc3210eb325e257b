// sparrow-bench-relay: the benchmark's ceiling as a process of its own (so that its CPU is
// measured from /proc like the bridge's): a minimal libmosquitto relay, `{prefix}up/+` ->
// `{prefix}down/+`, QoS 1 both ways, no store, no checks (bench/relay.hpp).
//
//   sparrow-bench-relay --port P --username benchrelay --token-file F [--connections 1]
//                       [--prefix im/sys/bench/]
//
// Needs: a broker; on a broker with the Sparrow plugin, an `svc` token (`im/sys/...` topics).
// Prints "relay: subscribed" once every connection is subscribed, and the count at exit
// (SIGTERM or SIGINT).
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>

#include "bench/relay.hpp"

namespace {
sparrow::bench::BenchRelay* g_relay = nullptr;
void OnSignal(int) {
  if (g_relay != nullptr) g_relay->Stop();
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sparrow-bench-relay: the raw MQTT relay the benchmarks compare Sparrow against"};
  sparrow::bench::RelayOptions options;
  std::string token_file;
  app.add_option("--host", options.host)->capture_default_str();
  app.add_option("--port", options.port)->required();
  app.add_option("--username", options.username, "MQTT username (the token's subject)");
  app.add_option("--token-file", token_file, "file holding the MQTT password (a svc token)");
  app.add_option("--client-id-prefix", options.client_id_prefix)->capture_default_str();
  app.add_option("--prefix", options.topic_prefix, "topic prefix")->capture_default_str();
  app.add_option("--connections", options.connections, "connections (shared subscription)")
      ->capture_default_str();
  app.add_option("--protocol", options.protocol_version, "MQTT version: 5 or 4")
      ->capture_default_str();
  app.add_option("--max-inflight", options.max_inflight,
                 "QoS 1 publishes in flight (MQTT 3.1.1: ours; MQTT 5: the broker's receive "
                 "maximum wins)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    if (!token_file.empty()) {
      std::ifstream in(token_file);
      std::getline(in, options.password);
      if (options.password.empty()) {
        std::fprintf(stderr, "sparrow-bench-relay: --token-file %s is empty\n", token_file.c_str());
        return 2;
      }
    }
    options.on_ready = [] {
      std::printf("relay: subscribed\n");
      std::fflush(stdout);
    };
    sparrow::bench::BenchRelay relay(options);
    g_relay = &relay;
    std::signal(SIGTERM, OnSignal);
    std::signal(SIGINT, OnSignal);
    relay.Run();
    std::printf("relay: relayed %llu messages\n", static_cast<unsigned long long>(relay.relayed()));
    g_relay = nullptr;
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sparrow-bench-relay: %s\n", e.what());
    return 1;
  }
}
