#include "bridge/membership.hpp"

namespace sparrow::bridge {
namespace {

// FNV-1a over instance, a separator and the device key, then a 64-bit finaliser (splitmix),
// so that the owner is a pure function of the names: every instance computes the same answer.
std::uint64_t Score(std::string_view instance, std::string_view user, std::string_view device) {
  std::uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::string_view text) {
    for (unsigned char c : text) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  };
  mix(instance);
  mix(user);
  mix(device);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

}  // namespace

Membership::Membership(std::string self, Options options)
    : self_(std::move(self)), options_(options) {
  members_[self_] = common::SteadyTime{};
}

bool Membership::Heard(const std::string& instance, common::SteadyTime now) {
  auto [it, inserted] = members_.insert_or_assign(instance, now);
  return inserted;
}

bool Membership::Expire(common::SteadyTime now) {
  bool changed = false;
  for (auto it = members_.begin(); it != members_.end();) {
    if (it->first != self_ && now - it->second > options_.timeout) {
      it = members_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  return changed;
}

bool Membership::HeartbeatDue(common::SteadyTime now) {
  if (sent_any_ && now - last_heartbeat_ < options_.heartbeat) return false;
  sent_any_ = true;
  last_heartbeat_ = now;
  members_[self_] = now;
  return true;
}

std::string Membership::Owner(std::string_view user, std::string_view device) const {
  const std::string* best = nullptr;
  std::uint64_t best_score = 0;
  for (const auto& [instance, heard] : members_) {
    std::uint64_t score = Score(instance, user, device);
    if (best == nullptr || score > best_score) {
      best = &instance;
      best_score = score;
    }
  }
  return *best;
}

bool Membership::Owns(std::string_view user, std::string_view device) const {
  if (members_.size() == 1) return true;
  return Owner(user, device) == self_;
}

}  // namespace sparrow::bridge
