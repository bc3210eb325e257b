// sparrow-chaos-device: one chaos device (ChaosDevice: a real client::Client) in a process of
// its own, for the scenarios that freeze (SIGSTOP) or kill (SIGKILL) a device. It prints every
// event (history.hpp) as one JSON line on stdout, which RemoteDevice reads back.
//
//   SPARROW_CHAOS_TOKEN=... SPARROW_CHAOS_KEYS=bob=BASE64 sparrow-chaos-device
//     --user alice --device phone --port 1883 --state-dir DIR
//     [--send-to bob --send-count 100 --send-rate 50] [--incarnation N]
//
// Runs until SIGTERM/SIGINT (then disconnects cleanly, saving its state) and exits 0.
// Test builds only; not installed.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include "common/base64.hpp"
#include "tests/chaos/device.hpp"

namespace {

using namespace std::chrono_literals;
using sparrow::chaos::ChaosDevice;
using sparrow::chaos::DeviceOptions;
using sparrow::chaos::Event;

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "sparrow-chaos-device: " << why << "\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  // SIGTERM/SIGINT are waited for by the main thread; block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  DeviceOptions o;
  std::string send_to, text_prefix = "r";
  long long send_count = 0;
  double send_rate = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage("missing value for " + flag);
    const std::string value = argv[++i];
    if (flag == "--user")
      o.user = value;
    else if (flag == "--device")
      o.device = value;
    else if (flag == "--host")
      o.mqtt_host = value;
    else if (flag == "--port")
      o.mqtt_port = std::stoi(value);
    else if (flag == "--state-dir")
      o.state_dir = value;
    else if (flag == "--transport")
      o.transport = value;
    else if (flag == "--incarnation")
      o.first_incarnation = std::stoi(value);
    else if (flag == "--read-every")
      o.read_every = std::stoi(value);
    else if (flag == "--ack-timeout-ms")
      o.outbox.ack_timeout = std::chrono::milliseconds(std::stoll(value));
    else if (flag == "--display-delay-ms")
      o.display_delay = std::chrono::milliseconds(std::stoll(value));
    else if (flag == "--sync-timeout-ms")
      o.sync_timeout = std::chrono::milliseconds(std::stoll(value));
    else if (flag == "--send-to")
      send_to = value;
    else if (flag == "--send-count")
      send_count = std::stoll(value);
    else if (flag == "--send-rate")
      send_rate = std::stod(value);
    else if (flag == "--text-prefix")
      text_prefix = value;
    else
      Usage("unknown flag " + flag);
  }
  const char* token = std::getenv("SPARROW_CHAOS_TOKEN");
  if (token == nullptr) Usage("SPARROW_CHAOS_TOKEN is not set");
  o.token = token;
  // SPARROW_CHAOS_KEYS: peer=base64,peer=base64
  const char* keys = std::getenv("SPARROW_CHAOS_KEYS");
  std::string list = keys != nullptr ? keys : "";
  for (std::size_t start = 0; start < list.size();) {
    std::size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    const std::string item = list.substr(start, end - start);
    const auto eq = item.find('=');
    if (eq == std::string::npos) Usage("bad SPARROW_CHAOS_KEYS entry");
    auto key = sparrow::common::Base64Decode(item.substr(eq + 1));
    if (!key) Usage("bad key for " + item.substr(0, eq));
    o.keys[item.substr(0, eq)] = *key;
    start = end + 1;
  }

  std::mutex out_mutex;
  auto sink = [&out_mutex](Event e) {
    const std::string line = sparrow::chaos::ToJson(e).dump() + "\n";
    std::lock_guard<std::mutex> lock(out_mutex);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);  // a kill -9 must not lose what was displayed
  };
  ChaosDevice device(o, sink);
  device.Start();

  std::thread sender;
  std::atomic<bool> stop{false};
  if (!send_to.empty() && send_count > 0) {
    sender = std::thread([&] {
      if (!device.WaitSynced(60s)) return;
      const auto interval = send_rate > 0
                                ? std::chrono::nanoseconds(static_cast<long long>(1e9 / send_rate))
                                : std::chrono::nanoseconds(0);
      auto due = std::chrono::steady_clock::now();
      for (long long n = 1; n <= send_count && !stop; ++n) {
        if (interval.count() > 0) {
          std::this_thread::sleep_until(due);
          due += interval;
          const auto now = std::chrono::steady_clock::now();
          if (now - due > 1s) due = now;  // after a SIGSTOP: no burst
        }
        while (device.Pending() >= 200 && !stop) std::this_thread::sleep_for(5ms);
        device.Send(send_to, text_prefix + " " + device.name() + "/" +
                                 std::to_string(device.incarnation()) + ">" + send_to + " #" +
                                 std::to_string(n));
      }
    });
  }

  int signal = 0;
  sigwait(&stop_signals, &signal);
  stop = true;
  if (sender.joinable()) sender.join();
  device.Stop();
  return 0;
}
