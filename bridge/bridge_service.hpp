// The running bridge: a transport's network thread enqueues what arrives, one core thread
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

  // `transport` and `core` must outlive the service; the service sets the transport's message
  // handler (call before transport.Start()).
  BridgeService(transport::Transport& transport, BridgeCore& core, Options options,
                BridgeMetrics* metrics);
  ~BridgeService();

  void Start();
  // Stops the core thread after the batch in hand; idempotent.
  void Stop();

  // Called by the transport's network thread: never blocks beyond a short lock.
  void Enqueue(transport::Message&& message);

 private:
  void Run();

  transport::Transport& transport_;
  BridgeCore& core_;
  Options options_;
  BridgeMetrics* metrics_;

  std::mutex mutex_;  // guards queue_ and stopping_
  std::condition_variable wake_;
  std::deque<transport::Message> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sparrow::bridge
