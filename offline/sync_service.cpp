#include "offline/sync_service.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <thread>
#include <variant>

#include "common/failpoint.hpp"
#include "common/log.hpp"
#include "protocol/codec.hpp"
#include "protocol/topics.hpp"

namespace sparrow::offline {

SyncMetrics::SyncMetrics(prometheus::Registry& registry)
    : syncs(prometheus::BuildCounter()
                .Name("sparrow_offline_syncs_total")
                .Help("Sync requests answered with synced")
                .Register(registry)
                .Add({})),
      failed_syncs(prometheus::BuildCounter()
                       .Name("sparrow_offline_failed_syncs_total")
                       .Help("Sync requests abandoned (store or broker unavailable)")
                       .Register(registry)
                       .Add({})),
      frames_replayed(prometheus::BuildCounter()
                          .Name("sparrow_offline_frames_replayed_total")
                          .Help("Stored frames replayed to devices")
                          .Register(registry)
                          .Add({})),
      purged_frames(prometheus::BuildCounter()
                        .Name("sparrow_offline_purged_frames_total")
                        .Help("Delivered frames deleted by retention")
                        .Register(registry)
                        .Add({})),
      sync_seconds(prometheus::BuildHistogram()
                       .Name("sparrow_offline_sync_seconds")
                       .Help("Time to replay one sync request")
                       .Register(registry)
                       .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.05,
                                                                        0.1, 0.5, 1, 5, 10, 60})),
      syncs_in_progress(prometheus::BuildGauge()
                            .Name("sparrow_offline_syncs_in_progress")
                            .Help("Sync replies being sent now (the sync backlog)")
                            .Register(registry)
                            .Add({})) {}

SyncReplayer::SyncReplayer(MessageStore& store, transport::Transport& transport,
                           ReplayOptions options, SyncMetrics* metrics)
    : store_(store), transport_(transport), options_(options), metrics_(metrics) {}

bool SyncReplayer::Publish(const std::string& topic, const std::string& payload) {
  // Backpressure: the broker takes frames as fast as it can; wait for the transport's queue to
  // drain rather than buffer a whole backlog in memory.
  for (;;) {
    switch (transport_.Publish(topic, payload, 1)) {
      case transport::PublishResult::kQueued:
        return true;
      case transport::PublishResult::kBackpressure:
        std::this_thread::sleep_for(std::chrono::microseconds(500));
        continue;
      case transport::PublishResult::kNotConnected:
      case transport::PublishResult::kInvalid:
        return false;
    }
  }
}

ReplayOutcome SyncReplayer::Replay(const protocol::DeviceAddress& device,
                                   const std::string& payload) {
  const std::string topic = protocol::DeviceTopic(device);
  protocol::UpFrame frame = protocol::DecodeUp(payload);
  auto* sync = std::get_if<protocol::SyncUp>(&frame);
  if (sync == nullptr) {
    protocol::ErrorFrame error;
    error.code = protocol::ErrorCode::kBadFrame;
    error.message = "expected a sync frame";
    Publish(topic, protocol::EncodeError(error));
    return ReplayOutcome::kBadRequest;
  }
  auto started = std::chrono::steady_clock::now();
  // Read `upto` first: frames stored while the replay runs are live frames for the device.
  const std::uint64_t upto = store_.LastSeq(device.user);
  const std::int64_t last_id = store_.LastChatId(device.user, device.device);
  std::uint64_t after = sync->after;
  std::uint64_t replayed = 0;
  while (after < upto) {
    auto frames = store_.ReadInbox(device.user, after, upto, options_.page_size);
    for (const auto& stored : frames) {
      if (!Publish(topic, protocol::WithSeq(stored.content, stored.seq))) {
        return ReplayOutcome::kNotConnected;
      }
      after = stored.seq;
      SPARROW_FAILPOINT("offline.mid_sync");
    }
    replayed += frames.size();
    if (frames.size() < options_.page_size) break;
  }
  protocol::Synced synced;
  synced.upto = std::max(upto, sync->after);
  synced.last_id = last_id;
  if (!Publish(topic, protocol::EncodeSynced(synced))) return ReplayOutcome::kNotConnected;
  // The device said it holds everything up to `after`: retention may use that.
  store_.SetSyncCursor(device.user, device.device, sync->after);
  if (metrics_ != nullptr) {
    metrics_->syncs.Increment();
    metrics_->frames_replayed.Increment(static_cast<double>(replayed));
    metrics_->sync_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  return ReplayOutcome::kDone;
}

}  // namespace sparrow::offline

namespace sparrow::offline {

SyncService::SyncService(std::vector<transport::Transport*> brokers, StoreFactory make_store,
                         const common::Clock& clock, Options options, SyncMetrics* metrics)
    : brokers_(std::move(brokers)),
      make_store_(std::move(make_store)),
      clock_(clock),
      options_(options),
      metrics_(metrics) {
  for (std::size_t i = 0; i < brokers_.size(); ++i) {
    const int broker = static_cast<int>(i);
    brokers_[i]->SetMessageHandler(
        [this, broker](transport::Message&& message) { Enqueue(broker, std::move(message)); });
  }
}

SyncService::~SyncService() { Stop(); }

void SyncService::Start() {
  for (int i = 0; i < options_.workers; ++i) threads_.emplace_back([this] { Work(); });
  if (options_.purge_interval.count() > 0) threads_.emplace_back([this] { Retain(); });
}

void SyncService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  stopped_.notify_all();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

void SyncService::Enqueue(int broker, transport::Message&& message) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.size() >= options_.max_queue) return;  // the device asks again
    queue_.push_back(Request{broker, std::move(message)});
  }
  wake_.notify_one();
}

void SyncService::Work() {
  auto log = common::Logger("offline");
  std::shared_ptr<MessageStore> store;
  for (;;) {
    Request request;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      request = std::move(queue_.front());
      queue_.pop_front();
    }
    const transport::Message& message = request.message;
    auto device = protocol::ParseSyncTopic(message.topic);
    if (!device) continue;
    if (metrics_ != nullptr) metrics_->syncs_in_progress.Increment();
    try {
      if (!store) store = make_store_();
      SyncReplayer replayer(*store, *brokers_.at(static_cast<std::size_t>(request.broker)),
                            options_.replay, metrics_);
      ReplayOutcome outcome = replayer.Replay(*device, message.payload);
      if (outcome == ReplayOutcome::kNotConnected && metrics_ != nullptr) {
        metrics_->failed_syncs.Increment();
      }
    } catch (const std::exception& e) {
      // The device got no `synced` and asks again; the store reconnects on its next use.
      if (metrics_ != nullptr) metrics_->failed_syncs.Increment();
      log->warn("sync failed user={} device={} err={}", device->user, device->device, e.what());
    }
    if (metrics_ != nullptr) metrics_->syncs_in_progress.Decrement();
  }
}

void SyncService::Retain() {
  auto log = common::Logger("offline");
  std::shared_ptr<MessageStore> store;
  for (;;) {
    try {
      if (!store) store = make_store_();
      std::int64_t bound =
          clock_.WallMillis() -
          std::chrono::duration_cast<std::chrono::milliseconds>(options_.retention).count();
      std::size_t total = 0;
      for (;;) {
        std::size_t purged = store->PurgeDelivered(bound, 10'000);
        total += purged;
        if (purged < 10'000) break;
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return;
      }
      if (metrics_ != nullptr) metrics_->purged_frames.Increment(static_cast<double>(total));
      if (total > 0) log->info("retention purged frames={}", total);
    } catch (const std::exception& e) {
      log->warn("retention run failed err={}", e.what());
    }
    std::unique_lock<std::mutex> lock(mutex_);
    if (stopped_.wait_for(lock, options_.purge_interval, [this] { return stopping_; })) return;
  }
}

}  // namespace sparrow::offline
