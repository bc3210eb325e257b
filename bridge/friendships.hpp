// Who may chat with whom, as the bridge sees it: a cache over the relations in the store.
//
// The REST service announces every change on `im/sys/relation/{a}/{b}` (see topics.md), which
// updates the cache at once; entries also expire after `ttl`, so a missed announcement costs at
// most that long. Not thread-safe: owned by the bridge's core thread.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <unordered_map>

#include "common/clock.hpp"

namespace sparrow::bridge {

// The seam to the relations table (AccountStore in production, a lambda in tests).
class FriendshipSource {
 public:
  virtual ~FriendshipSource() = default;
  // Throws StoreError when the store is unavailable.
  virtual bool AreFriends(const std::string& a, const std::string& b) = 0;
};

class FriendshipCache {
 public:
  struct Options {
    std::chrono::milliseconds ttl{10'000};
    std::size_t max_entries = 1'000'000;
  };

  FriendshipCache(FriendshipSource& source, Options options);

  // Cached answer, else asks the source (which may throw StoreError).
  bool AreFriends(const std::string& a, const std::string& b, common::SteadyTime now);
  // An announced change: takes effect now.
  void Set(const std::string& a, const std::string& b, bool friends, common::SteadyTime now);
  void Clear() { entries_.clear(); }

  std::uint64_t hits() const { return hits_; }
  std::uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    bool friends = false;
    common::SteadyTime expires;
  };
  static std::string Key(const std::string& a, const std::string& b);

  FriendshipSource& source_;
  Options options_;
  std::unordered_map<std::string, Entry> entries_;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

}  // namespace sparrow::bridge
