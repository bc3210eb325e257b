// The sync service's logic (PROTOCOL.md "sync"): replays a user's stored frames with
// after < seq <= upto to the asking device, page by page, then `synced`.
//
// Nothing is marked delivered by a replay (a chat is delivered when a device acks it), so two
// devices syncing at once each get everything, and a device that drops mid-sync gets the rest
// on its next sync: the fix of the original design's has_read compare-and-set.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "offline/message_store.hpp"
#include "protocol/identity.hpp"
#include "transport/transport.hpp"

namespace prometheus {
class Registry;
class Counter;
class Histogram;
class Gauge;
}  // namespace prometheus

namespace sparrow::offline {

struct SyncMetrics {
  explicit SyncMetrics(prometheus::Registry& registry);
  prometheus::Counter& syncs;
  prometheus::Counter& failed_syncs;
  prometheus::Counter& frames_replayed;
  prometheus::Counter& purged_frames;
  prometheus::Histogram& sync_seconds;
  prometheus::Gauge& syncs_in_progress;
};

struct ReplayOptions {
  std::size_t page_size = 1000;  // frames read per query: memory is O(page), not O(backlog)
};

enum class [[nodiscard]] ReplayOutcome{
    kDone,          // every frame and `synced` were handed to the transport
    kBadRequest,    // not a sync frame: answered with bad_frame
    kNotConnected,  // the transport dropped: the device asks again (it got no `synced`)
};

// Replays one sync request. Not thread-safe (the store is one connection): one replayer per
// worker thread. The transport must be thread-safe (all Sparrow transports are).
class SyncReplayer {
 public:
  SyncReplayer(MessageStore& store, transport::Transport& transport, ReplayOptions options,
               SyncMetrics* metrics);

  // `payload` is the device's frame as forwarded on im/sys/sync/{user}/{device}. Throws
  // StoreError when the store fails (the device gets no `synced` and asks again).
  ReplayOutcome Replay(const protocol::DeviceAddress& device, const std::string& payload);

 private:
  bool Publish(const std::string& topic, const std::string& payload);

  MessageStore& store_;
  transport::Transport& transport_;
  ReplayOptions options_;
  SyncMetrics* metrics_;
};

}  // namespace sparrow::offline

namespace sparrow::offline {

// The running sync service: sync requests arrive on the shared subscription
// `$share/{group}/im/sys/sync/+/+` of every broker (a request is answered on the broker it came
// from: the device is there) and are replayed by `workers` threads, each with its own
// store connection, so one device's 100,000-frame backlog does not hold up the others. A
// retention thread purges delivered frames older than `retention` every `purge_interval`.
// Thread-safe: Start/Stop from the owner's thread.
class SyncService {
 public:
  struct Options {
    int workers = 2;
    std::size_t max_queue = 100'000;
    ReplayOptions replay{};
    std::chrono::hours retention{24 * 30};
    std::chrono::seconds purge_interval{600};
  };
  // Called once per worker thread: each gets its own store (connection). A thread-safe store
  // may be shared by returning the same instance.
  using StoreFactory = std::function<std::shared_ptr<MessageStore>()>;

  // `brokers` must outlive the service; the service sets their message handlers.
  SyncService(std::vector<transport::Transport*> brokers, StoreFactory make_store,
              const common::Clock& clock, Options options, SyncMetrics* metrics);
  ~SyncService();

  void Start();
  void Stop();  // idempotent
  void Enqueue(int broker, transport::Message&& message);

 private:
  void Work();
  void Retain();

  struct Request {
    int broker;
    transport::Message message;
  };
  std::vector<transport::Transport*> brokers_;
  StoreFactory make_store_;
  const common::Clock& clock_;
  Options options_;
  SyncMetrics* metrics_;

  std::mutex mutex_;                 // guards queue_ and stopping_
  std::condition_variable wake_;     // workers: a request or stopping
  std::condition_variable stopped_;  // the retention thread: stopping
  std::deque<Request> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sparrow::offline
