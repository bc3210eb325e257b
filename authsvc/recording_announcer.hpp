// A fake Announcer for tests: records every announcement, in order. Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "authsvc/announcer.hpp"
#include "protocol/topics.hpp"

namespace sparrow::authsvc {

class RecordingAnnouncer final : public Announcer {
 public:
  struct Announcement {
    std::string topic;
    std::string payload;
    friend bool operator==(const Announcement&, const Announcement&) = default;
  };

  void RelationChanged(std::string_view a, std::string_view b, bool friends) override {
    Add({protocol::RelationTopic(a, b), RelationPayload(friends)});
  }
  void TokensRevoked(std::string_view user, std::int64_t before_ms) override {
    Add({protocol::RevokeTopic(user), RevokePayload(before_ms)});
  }

  std::vector<Announcement> Take() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(announcements_, {});
  }

 private:
  void Add(Announcement announcement) {
    std::lock_guard<std::mutex> lock(mutex_);
    announcements_.push_back(std::move(announcement));
  }

  std::mutex mutex_;
  std::vector<Announcement> announcements_;
};

}  // namespace sparrow::authsvc
