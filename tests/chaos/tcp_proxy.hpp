// TcpProxy: a loopback TCP relay in front of a broker, so that a test can cut every device's
// connection at once (the reconnect storm) without touching the broker or the services.
//
//   TcpProxy proxy(broker.port());       // listens on a free port of 127.0.0.1
//   ... devices connect to proxy.port() ...
//   proxy.CutAll();                      // RST on both sides of every relayed connection
//
// One thread relays with epoll; connections are accepted again at once after a cut (the devices
// come back by themselves). Thread-safe: CutAll/connections may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>

namespace sparrow::chaos {

class TcpProxy {
 public:
  // Starts listening and relaying. Throws std::runtime_error when it cannot.
  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  // Resets every relayed connection (both sides). Returns how many were cut. Waits until the
  // relay thread did it.
  int CutAll();
  // Connections being relayed now.
  int connections() const { return connections_.load(); }
  std::uint64_t accepted() const { return accepted_.load(); }

 private:
  void Run();

  int target_port_;
  int port_ = 0;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop or cut
  std::atomic<bool> stop_{false};
  std::mutex cut_mutex_;  // one CutAll at a time
  std::atomic<int> cut_requests_{0};
  std::atomic<int> cut_done_{0};
  std::atomic<int> last_cut_{0};
  std::atomic<int> connections_{0};
  std::atomic<std::uint64_t> accepted_{0};
  std::thread thread_;
};

}  // namespace sparrow::chaos
