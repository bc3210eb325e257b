// The running bridge: each broker connection's network thread enqueues what arrives, one core
// thread
// takes everything queued at once and hands it to BridgeCore as one group commit. While a
// commit runs, the next batch accumulates: under load batches grow by themselves, and an idle
// bridge commits a lone chat at once.
//
// Thread-safe: Start/Stop from the owner's thread; the transport calls Enqueue.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "bridge/bridge_core.hpp"
#include "transport/transport.hpp"

namespace sparrow::bridge {

class BridgeService {
 public:
  struct Options {
    std::size_t max_batch = 1000;        // frames handed to one group commit at most
    std::size_t max_queue = 200'000;     // beyond: frames are dropped (devices resend)
    std::chrono::milliseconds tick{50};  // upper bound between timer checks
  };

  // `brokers` (one connection per broker, in the Router's order) and `core` must outlive the
  // service; the service sets their message and connection handlers (call before Start()).
  BridgeService(std::vector<transport::Transport*> brokers, BridgeCore& core, Options options,
                BridgeMetrics* metrics);
  ~BridgeService();

  void Start();
  // Stops the core thread after the batch in hand; idempotent.
  void Stop();

  // Called by the transports' network threads: never blocks beyond a short lock.
  void Enqueue(Inbound&& inbound);

 private:
  void Run();

  BridgeCore& core_;
  Options options_;
  BridgeMetrics* metrics_;

  std::mutex mutex_;  // guards queue_ and stopping_
  std::condition_variable wake_;
  std::deque<Inbound> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sparrow::bridge
