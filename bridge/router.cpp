#include "bridge/router.hpp"

namespace sparrow::bridge {

Router::Router(std::vector<transport::Transport*> brokers, std::vector<std::string> broker_ids,
               bool presence)
    : brokers_(std::move(brokers)), broker_ids_(std::move(broker_ids)), presence_(presence) {}

int Router::IndexOf(std::string_view broker_id) const {
  for (std::size_t i = 0; i < broker_ids_.size(); ++i) {
    if (broker_ids_[i] == broker_id) return static_cast<int>(i);
  }
  return -1;
}

void Router::OnPresence(int broker, const std::string& user, const std::string& device,
                        bool online) {
  if (online) {
    if (online_[user].emplace(broker, device).second) ++devices_;
    return;
  }
  auto it = online_.find(user);
  if (it == online_.end()) return;
  if (it->second.erase({broker, device}) != 0) --devices_;
  if (it->second.empty()) online_.erase(it);
}

void Router::OnBrokerConnected(int broker) {
  for (auto it = online_.begin(); it != online_.end();) {
    for (auto d = it->second.begin(); d != it->second.end();) {
      if (d->first == broker) {
        d = it->second.erase(d);
        --devices_;
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
  for (const auto& [broker, device] : it->second) {
    if (out.empty() || out.back() != broker) out.push_back(broker);  // the set is sorted
  }
  return out;
}

std::vector<int> Router::BrokersOfOtherDevices(const std::string& user, int broker,
                                               const std::string& device) const {
  if (!presence_) return BrokersOf(user);
  std::vector<int> out;
  auto it = online_.find(user);
  if (it == online_.end()) return out;
  for (const auto& [b, d] : it->second) {
    if (b == broker && d == device) continue;
    if (out.empty() || out.back() != b) out.push_back(b);
  }
  return out;
}

transport::PublishResult Router::Publish(int broker, const std::string& topic,
                                         const std::string& payload) {
  return brokers_.at(static_cast<std::size_t>(broker))->Publish(topic, payload, 1);
}

}  // namespace sparrow::bridge
