// sparrow_relay_bench: raw MQTT relay throughput of each Transport adapter, the baseline
// the benchmark harness compares Sparrow's services against.
//
// A relay (the adapter under test) subscribes `up/+` and republishes every message to
// `down/<same suffix>`, the way a service does: its message handler only enqueues, a worker
// thread publishes and retries backpressure. A producer publishes N messages on `up/<k>`
// keeping at most --window in the pipeline, a consumer subscribes `down/+`; both use
// libmosquitto (the cheapest client) so that the relay's library is what differs.
//
//   sparrow_relay_bench [--library mosquitto|paho|both] [--messages 50000] [--qos 1]
//                       [--payload 200] [--window 1000] [--port P]
//
// Without --port it starts its own broker (testing/mqtt MosquittoProcess, our generated
// config). Prints one line per library: msg/s, latency percentiles, process CPU.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/log.hpp"
#include "testing/mqtt/mosquitto_process.hpp"
#include "transport/transport.hpp"

namespace {

using namespace std::chrono_literals;
using sparrow::transport::MakeTransport;
using sparrow::transport::Message;
using sparrow::transport::Options;
using sparrow::transport::PublishResult;
using sparrow::transport::Transport;
using Clock = std::chrono::steady_clock;

struct Config {
  std::vector<std::string> libraries = {"mosquitto", "paho"};
  int messages = 50000;
  int qos = 1;
  int payload = 200;
  int window = 1000;
  int port = 0;
};

Config ParseArgs(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--library") {
      const auto v = value();
      c.libraries =
          v == "both" ? std::vector<std::string>{"mosquitto", "paho"} : std::vector<std::string>{v};
    } else if (arg == "--messages") {
      c.messages = std::stoi(value());
    } else if (arg == "--qos") {
      c.qos = std::stoi(value());
    } else if (arg == "--payload") {
      c.payload = std::max(16, std::stoi(value()));
    } else if (arg == "--window") {
      c.window = std::stoi(value());
    } else if (arg == "--port") {
      c.port = std::stoi(value());
    } else {
      std::fprintf(stderr, "unknown option %s (see the comment at the top of relay_bench.cpp)\n",
                   arg.c_str());
      std::exit(2);
    }
  }
  return c;
}

// Handler -> worker queue of the relay: the callback never blocks.
class Queue {
 public:
  void Push(Message&& m) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      items_.push_back(std::move(m));
    }
    cv_.notify_one();
  }
  // Everything queued, waiting up to 50 ms; empty on timeout or close.
  std::deque<Message> PopAll() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_for(lock, 50ms, [this] { return !items_.empty() || closed_; });
    std::deque<Message> out;
    out.swap(items_);
    return out;
  }
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Message> items_;
  bool closed_ = false;
};

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto secs = [](const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; };
  return secs(usage.ru_utime) + secs(usage.ru_stime);
}

std::unique_ptr<Transport> Connect(const std::string& library, int port, const std::string& id) {
  auto t = MakeTransport(library, Options{.port = port, .client_id = id, .max_pending = 5000});
  return t;
}

bool RunOne(const Config& c, const std::string& library, int port) {
  const std::string tag = library + "-" + std::to_string(::getpid());
  // The relay under test.
  Queue queue;
  auto relay = Connect(library, port, "relay-" + tag);
  relay->SetMessageHandler([&](Message&& m) { queue.Push(std::move(m)); });
  relay->Subscribe("up/+", c.qos);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> relay_retries{0};
  std::thread worker([&] {
    while (!stop) {
      for (auto& m : queue.PopAll()) {
        const std::string down = "down/" + m.topic.substr(3);
        while (!stop) {
          const auto r = relay->Publish(down, m.payload, c.qos);
          if (r == PublishResult::kQueued || r == PublishResult::kInvalid) break;
          ++relay_retries;
          std::this_thread::sleep_for(100us);  // a bench, not a test: back off briefly
        }
      }
    }
  });

  // Consumer: counts and measures latency from the timestamp at the payload's start.
  std::mutex lat_mutex;
  std::vector<std::int64_t> latencies_us;
  latencies_us.reserve(static_cast<std::size_t>(c.messages));
  std::atomic<int> received{0};
  std::atomic<int> probes{0};
  auto consumer = Connect("mosquitto", port, "consumer-" + tag);
  consumer->SetMessageHandler([&](Message&& m) {
    if (m.payload == "probe") {
      ++probes;
      return;
    }
    std::int64_t sent_ns = 0;
    std::memcpy(&sent_ns, m.payload.data(), sizeof sent_ns);
    const auto now_ns = Clock::now().time_since_epoch().count();
    {
      std::lock_guard<std::mutex> lock(lat_mutex);
      latencies_us.push_back((now_ns - sent_ns) / 1000);
    }
    ++received;
  });
  consumer->Subscribe("down/+", c.qos);
  auto producer = Connect("mosquitto", port, "producer-" + tag);

  relay->Start();
  consumer->Start();
  producer->Start();
  if (!relay->WaitConnected(5s) || !consumer->WaitConnected(5s) || !producer->WaitConnected(5s)) {
    std::fprintf(stderr, "%s: could not connect to 127.0.0.1:%d\n", library.c_str(), port);
    stop = true;
    queue.Close();
    worker.join();
    return false;
  }
  // Both subscriptions active: a probe made the whole trip.
  const auto probe_deadline = Clock::now() + 10s;
  while (probes == 0 && Clock::now() < probe_deadline) {
    (void)producer->Publish("up/probe", "probe", 0);
    std::this_thread::sleep_for(20ms);
  }

  std::string payload(static_cast<std::size_t>(c.payload), 'x');
  const double cpu_before = CpuSeconds();
  const auto begin = Clock::now();
  std::uint64_t producer_retries = 0;
  for (int i = 0; i < c.messages; ++i) {
    while (i - received.load() >= c.window) std::this_thread::sleep_for(1ms);
    const auto now_ns = Clock::now().time_since_epoch().count();
    std::memcpy(payload.data(), &now_ns, sizeof now_ns);
    const std::string topic = "up/" + std::to_string(i % 16);
    while (producer->Publish(topic, payload, c.qos) != PublishResult::kQueued) {
      ++producer_retries;
      std::this_thread::sleep_for(100us);
    }
  }
  const auto deadline = Clock::now() + 60s;
  while (received < c.messages && Clock::now() < deadline) std::this_thread::sleep_for(1ms);
  const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
  const double cpu = CpuSeconds() - cpu_before;

  stop = true;
  queue.Close();
  worker.join();
  relay->Stop();
  consumer->Stop();
  producer->Stop();

  std::vector<std::int64_t> lat;
  {
    std::lock_guard<std::mutex> lock(lat_mutex);
    lat = latencies_us;
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) -> double {
    if (lat.empty()) return 0;
    return double(lat[std::min(lat.size() - 1, static_cast<std::size_t>(p * double(lat.size())))]) /
           1000.0;
  };
  std::printf(
      "%-10s qos=%d payload=%d window=%d received=%d/%d  %8.0f msg/s  "
      "latency ms p50=%.2f p99=%.2f max=%.2f  cpu(process)=%.0f%%  retries relay=%llu "
      "producer=%llu\n",
      library.c_str(), c.qos, c.payload, c.window, received.load(), c.messages,
      received.load() / elapsed, pct(0.50), pct(0.99), lat.empty() ? 0.0 : lat.back() / 1000.0,
      100.0 * cpu / elapsed, static_cast<unsigned long long>(relay_retries.load()),
      static_cast<unsigned long long>(producer_retries));
  std::fflush(stdout);
  return received == c.messages;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Config config = ParseArgs(argc, argv);
    sparrow::common::SetLogLevel("warn");
    std::optional<sparrow::testing::MosquittoProcess> broker;
    int port = config.port;
    if (port == 0) {
      broker.emplace();
      broker->Start();
      port = broker->port();
    }
    bool ok = true;
    for (const auto& library : config.libraries) ok = RunOne(config, library, port) && ok;
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sparrow_relay_bench: %s\n", e.what());
    return 1;
  }
}
