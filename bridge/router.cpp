#include "bridge/router.hpp"

namespace sparrow::bridge {

Router::Router(std::vector<transport::Transport*> brokers, std::vector<std::string> broker_ids,
               bool presence)
    : brokers_(std::move(brokers)),
      broker_ids_(std::move(broker_ids)),
      presence_(presence),
      epochs_(brokers_.size(), 0),
      per_broker_(brokers_.size(), 0) {}

void Router::Count(int broker, int delta) {
  devices_ += static_cast<std::size_t>(delta);
  per_broker_.at(static_cast<std::size_t>(broker)) += static_cast<std::size_t>(delta);
}

bool Router::Current(int broker, std::int64_t epoch) const {
  const std::int64_t current = epochs_.at(static_cast<std::size_t>(broker));
  return current == 0 || epoch == 0 || epoch == current;
}

int Router::IndexOf(std::string_view broker_id) const {
  for (std::size_t i = 0; i < broker_ids_.size(); ++i) {
    if (broker_ids_[i] == broker_id) return static_cast<int>(i);
  }
  return -1;
}

void Router::OnPresence(int broker, const std::string& user, const std::string& device, bool online,
                        std::int64_t epoch) {
  auto it = online_.find(user);
  if (it != online_.end() && it->second.erase(DeviceReport{broker, device, 0}) != 0) {
    Count(broker, -1);
  }
  if (online && Current(broker, epoch)) {
    online_[user].insert(DeviceReport{broker, device, epoch});
    Count(broker, +1);
    return;
  }
  if (it != online_.end() && it->second.empty()) online_.erase(it);
}

void Router::OnBrokerEpoch(int broker, std::int64_t epoch) {
  epochs_.at(static_cast<std::size_t>(broker)) = epoch;
  for (auto it = online_.begin(); it != online_.end();) {
    for (auto d = it->second.begin(); d != it->second.end();) {
      if (d->broker == broker && !Current(broker, d->epoch)) {
        d = it->second.erase(d);
        Count(broker, -1);
      } else {
        ++d;
      }
    }
    it = it->second.empty() ? online_.erase(it) : std::next(it);
  }
}

void Router::OnBrokerConnected(int broker) {
  for (auto it = online_.begin(); it != online_.end();) {
    for (auto d = it->second.begin(); d != it->second.end();) {
      if (d->broker == broker) {
        d = it->second.erase(d);
        Count(broker, -1);
      } else {
        ++d;
      }
    }
    it = it->second.empty() ? online_.erase(it) : std::next(it);
  }
}

std::vector<int> Router::BrokersOf(const std::string& user) const {
  std::vector<int> out;
  if (!presence_) {
    for (std::size_t i = 0; i < brokers_.size(); ++i) out.push_back(static_cast<int>(i));
    return out;
  }
  auto it = online_.find(user);
  if (it == online_.end()) return out;
  for (const auto& report : it->second) {
    if (out.empty() || out.back() != report.broker) out.push_back(report.broker);  // sorted
  }
  return out;
}

std::vector<int> Router::BrokersOfOtherDevices(const std::string& user, int broker,
                                               const std::string& device) const {
  if (!presence_) return BrokersOf(user);
  std::vector<int> out;
  auto it = online_.find(user);
  if (it == online_.end()) return out;
  for (const auto& report : it->second) {
    if (report.broker == broker && report.device == device) continue;
    if (out.empty() || out.back() != report.broker) out.push_back(report.broker);
  }
  return out;
}

transport::PublishResult Router::Publish(int broker, const std::string& topic,
                                         const std::string& payload) {
  return brokers_.at(static_cast<std::size_t>(broker))->Publish(topic, payload, 1);
}

}  // namespace sparrow::bridge
