#include "client/key_ring.hpp"

#include "common/log.hpp"

namespace sparrow::client {

RestKeyRing::RestKeyRing(RestClient& rest, const common::Clock& clock,
                         std::chrono::milliseconds min_refresh)
    : rest_(rest), clock_(clock), min_refresh_(min_refresh) {}

std::optional<std::string> RestKeyRing::Get(const std::string& peer) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = keys_.find(peer); it != keys_.end()) return it->second;
  const auto now = clock_.Now();
  if (last_fetch_ && now < *last_fetch_ + min_refresh_) return std::nullopt;
  last_fetch_ = now;
  auto fetched = rest_.Relations();
  if (!fetched.ok()) {
    common::Logger("client")->warn("relation keys not fetched: {}", fetched.error().ToString());
    return std::nullopt;
  }
  keys_ = std::move(fetched).value();
  if (auto it = keys_.find(peer); it != keys_.end()) return it->second;
  return std::nullopt;
}

void InMemoryKeyRing::Set(const std::string& peer, std::string key) {
  std::lock_guard<std::mutex> lock(mutex_);
  keys_[peer] = std::move(key);
}

void InMemoryKeyRing::Remove(const std::string& peer) {
  std::lock_guard<std::mutex> lock(mutex_);
  keys_.erase(peer);
}

std::optional<std::string> InMemoryKeyRing::Get(const std::string& peer) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = keys_.find(peer); it != keys_.end()) return it->second;
  return std::nullopt;
}

}  // namespace sparrow::client
