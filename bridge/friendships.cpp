#include "bridge/friendships.hpp"

namespace sparrow::bridge {

FriendshipCache::FriendshipCache(FriendshipSource& source, Options options)
    : source_(source), options_(options) {}

std::string FriendshipCache::Key(const std::string& a, const std::string& b) {
  // A relation has no direction; ':' cannot occur in a userId.
  return a < b ? a + ":" + b : b + ":" + a;
}

bool FriendshipCache::AreFriends(const std::string& a, const std::string& b,
                                 common::SteadyTime now) {
  if (a == b) return false;  // nobody is their own friend
  std::string key = Key(a, b);
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.expires > now) {
    ++hits_;
    return it->second.friends;
  }
  ++misses_;
  bool friends = source_.AreFriends(a, b);
  if (entries_.size() >= options_.max_entries) entries_.clear();
  entries_[key] = Entry{friends, now + options_.ttl};
  return friends;
}

void FriendshipCache::Set(const std::string& a, const std::string& b, bool friends,
                          common::SteadyTime now) {
  if (a == b) return;
  if (entries_.size() >= options_.max_entries) entries_.clear();
  entries_[Key(a, b)] = Entry{friends, now + options_.ttl};
}

}  // namespace sparrow::bridge
