// BenchRelay: the ceiling the benchmark compares Sparrow against. A minimal MQTT relay with
// the cheapest client library here (libmosquitto, driven from its own poll loop, TCP_NODELAY,
// no wake pipe): it subscribes `{prefix}up/+` at QoS 1 and republishes every message, bytes
// unchanged, to `{prefix}down/{the same last level}` at QoS 1, from inside the message
// callback (the packet goes out with the next write of the same loop iteration). No store, no
// checks, no queue, no second thread: the most any bridge can do on this broker.
//
// With `connections` > 1 it opens that many connections on the same thread, subscribed with
// `$share/{group}/{prefix}up/+`, so the broker spreads the messages over them.
//
// Thread safety: Run() on one thread; Stop() from any thread or a signal handler.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sparrow::bench {

struct RelayOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string username;  // a `svc` token's subject on a broker with the Sparrow plugin
  std::string password;  // the token
  std::string client_id_prefix = "benchrelay:r";  // client k is {prefix}{k}
  std::string topic_prefix = "im/sys/bench/";
  int connections = 1;
  std::string share_group = "relay";
  int protocol_version = 5;
  int max_inflight = 1000;  // as the bridge's transport
  // Called on the relay's thread once every connection is subscribed (after each reconnect).
  std::function<void()> on_ready;
};

class BenchRelay {
 public:
  explicit BenchRelay(RelayOptions options);
  ~BenchRelay();
  BenchRelay(const BenchRelay&) = delete;
  BenchRelay& operator=(const BenchRelay&) = delete;

  // Connects (retrying every 100 ms until Stop), relays until Stop(). Throws
  // std::runtime_error if libmosquitto cannot create a client.
  void Run();
  void Stop() { stop_.store(true); }

  std::uint64_t relayed() const { return relayed_.load(std::memory_order_relaxed); }
  bool subscribed() const { return subscribed_.load() >= options_.connections; }

  struct Connection;  // internal: one libmosquitto client

 private:
  friend struct Connection;
  RelayOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> relayed_{0};
  std::atomic<int> subscribed_{0};
  std::vector<std::unique_ptr<Connection>> connections_;
};

}  // namespace sparrow::bench
