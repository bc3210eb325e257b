#include "bridge/bridge_service.hpp"

#include "common/log.hpp"

namespace sparrow::bridge {

BridgeService::BridgeService(std::vector<transport::Transport*> brokers, BridgeCore& core,
                             Options options, BridgeMetrics* metrics)
    : core_(core), options_(options), metrics_(metrics) {
  for (std::size_t i = 0; i < brokers.size(); ++i) {
    const int broker = static_cast<int>(i);
    brokers[i]->SetMessageHandler([this, broker](transport::Message&& message) {
      Enqueue(Inbound{Inbound::Kind::kMessage, broker, std::move(message)});
    });
    brokers[i]->SetConnectionHandler([this, broker](bool connected, int reason) {
      if (connected) {
        common::Logger("bridge")->info("connected to broker index={}", broker);
        Enqueue(Inbound{Inbound::Kind::kConnected, broker, {}});
      } else {
        common::Logger("bridge")->warn("disconnected from broker index={} reason={}", broker,
                                       reason);
      }
    });
  }
}

BridgeService::~BridgeService() { Stop(); }

void BridgeService::Start() {
  thread_ = std::thread([this] { Run(); });
}

void BridgeService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BridgeService::Enqueue(Inbound&& inbound) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.size() >= options_.max_queue && inbound.kind == Inbound::Kind::kMessage) {
      if (metrics_ != nullptr) metrics_->ingress_dropped.Increment();
      return;  // the device resends what got no SENT
    }
    queue_.push_back(std::move(inbound));
  }
  wake_.notify_one();
}

void BridgeService::Run() {
  std::vector<Inbound> batch;
  batch.reserve(options_.max_batch);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      auto deadline = core_.NextDeadline();
      auto limit = common::SteadyTime::clock::now() + options_.tick;
      auto wake_at = deadline && *deadline < limit ? *deadline : limit;
      wake_.wait_until(lock, wake_at, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (metrics_ != nullptr) metrics_->ingress_queue.Set(static_cast<double>(queue_.size()));
    }
    try {
      if (!batch.empty()) core_.Process(batch);
      core_.Tick();
    } catch (const std::exception& e) {
      // A bug, not a device's doing (those are values). Keep serving the others.
      common::Logger("bridge")->error("batch failed: {}", e.what());
      core_.ResetOrdering();
    }
    batch.clear();
  }
}

}  // namespace sparrow::bridge
