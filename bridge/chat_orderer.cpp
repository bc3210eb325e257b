#include "bridge/chat_orderer.hpp"

#include <algorithm>

namespace sparrow::bridge {

ChatOrderer::ChatOrderer(Options options) : options_(options) {}

bool ChatOrderer::Known(const protocol::DeviceAddress& device) const {
  return devices_.count(device) != 0;
}

void ChatOrderer::Load(const protocol::DeviceAddress& device, std::int64_t last_id,
                       common::SteadyTime now) {
  MaybeEvictIdle();
  DeviceState& state = devices_[device];
  state.last_id = last_id;
  state.last_used = now;
}

std::int64_t ChatOrderer::Expected(const protocol::DeviceAddress& device) const {
  return devices_.at(device).last_id + 1;
}

ChatOrderer::Verdict ChatOrderer::Offer(const protocol::DeviceAddress& device,
                                        const protocol::ChatUp& chat, common::SteadyTime now,
                                        int origin) {
  DeviceState& state = devices_.at(device);
  state.last_used = now;
  if (chat.id <= state.last_id) return Verdict::kRepeat;
  if (chat.id == state.last_id + 1) return Verdict::kReady;
  if (state.waiting.count(chat.id) != 0) return Verdict::kRepeat;
  if (state.waiting.size() >= options_.max_waiting_per_device) return Verdict::kRefused;
  state.waiting.emplace(chat.id, Waiting{chat, now, origin});
  ++waiting_total_;
  return Verdict::kWaiting;
}

std::optional<ChatOrderer::Held> ChatOrderer::Accept(const protocol::DeviceAddress& device,
                                                     std::int64_t id) {
  DeviceState& state = devices_.at(device);
  state.last_id = std::max(state.last_id, id);
  auto next = state.waiting.find(state.last_id + 1);
  if (next == state.waiting.end()) return std::nullopt;
  Held held{std::move(next->second.chat), next->second.origin};
  state.waiting.erase(next);
  --waiting_total_;
  return held;
}

std::vector<ChatOrderer::Refusal> ChatOrderer::Refuse(const protocol::DeviceAddress& device,
                                                      std::int64_t id) {
  auto it = devices_.find(device);
  if (it == devices_.end()) return {};
  return RefuseAllWaiting(device, it->second, id);
}

std::vector<ChatOrderer::Refusal> ChatOrderer::RefuseAllWaiting(
    const protocol::DeviceAddress& device, DeviceState& state, std::int64_t expected) {
  std::vector<Refusal> out;
  out.reserve(state.waiting.size());
  for (auto& [id, waiting] : state.waiting) {
    out.push_back(Refusal{device, std::move(waiting.chat), waiting.origin, expected});
  }
  waiting_total_ -= state.waiting.size();
  state.waiting.clear();
  return out;
}

std::vector<ChatOrderer::Refusal> ChatOrderer::Expire(common::SteadyTime now) {
  std::vector<Refusal> out;
  if (waiting_total_ == 0) return out;
  for (auto& [device, state] : devices_) {
    if (state.waiting.empty()) continue;
    bool overdue = std::any_of(state.waiting.begin(), state.waiting.end(), [&](const auto& w) {
      return now - w.second.arrived >= options_.max_wait;
    });
    if (!overdue) continue;
    auto refused = RefuseAllWaiting(device, state, state.last_id + 1);
    std::move(refused.begin(), refused.end(), std::back_inserter(out));
  }
  return out;
}

std::optional<common::SteadyTime> ChatOrderer::NextDeadline() const {
  if (waiting_total_ == 0) return std::nullopt;
  std::optional<common::SteadyTime> earliest;
  for (const auto& [device, state] : devices_) {
    for (const auto& [id, waiting] : state.waiting) {
      auto deadline = waiting.arrived + options_.max_wait;
      if (!earliest || deadline < *earliest) earliest = deadline;
    }
  }
  return earliest;
}

void ChatOrderer::Forget(const protocol::DeviceAddress& device) {
  auto it = devices_.find(device);
  if (it == devices_.end()) return;
  waiting_total_ -= it->second.waiting.size();
  devices_.erase(it);
}

void ChatOrderer::ForgetIf(const std::function<bool(const protocol::DeviceAddress&)>& pred) {
  for (auto it = devices_.begin(); it != devices_.end();) {
    if (pred(it->first)) {
      waiting_total_ -= it->second.waiting.size();
      it = devices_.erase(it);
    } else {
      ++it;
    }
  }
}

void ChatOrderer::ForgetAll() {
  devices_.clear();
  waiting_total_ = 0;
}

void ChatOrderer::MaybeEvictIdle() {
  if (devices_.size() < options_.max_devices) return;
  // Drop the idle half: states without waiting chats, least recently used first. Their last
  // ids are in the store, so nothing is lost; the cost is one read on their next chat.
  std::vector<std::pair<common::SteadyTime, protocol::DeviceAddress>> idle;
  for (const auto& [device, state] : devices_) {
    if (state.waiting.empty()) idle.emplace_back(state.last_used, device);
  }
  std::size_t drop = std::min(idle.size(), devices_.size() / 2 + 1);
  std::nth_element(idle.begin(), idle.begin() + static_cast<std::ptrdiff_t>(drop), idle.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (std::size_t i = 0; i < drop; ++i) devices_.erase(idle[i].second);
}

}  // namespace sparrow::bridge
