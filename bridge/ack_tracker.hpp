// Retransmission of live chats: a chat published to its recipient with no DELIVERED within
// the ack timeout is published again, up to `max_tries` publishes in all; after that it waits
// in the store for the recipient's next sync.
//
// Deadlines only grow (now + timeout, with `now` monotonic), so a FIFO queue with lazy
// deletion orders them: O(1) per chat. Not thread-safe: owned by the bridge's core thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.hpp"

namespace sparrow::bridge {

class AckTracker {
 public:
  struct Options {
    std::chrono::milliseconds ack_timeout{5000};
    int max_tries = 3;                  // publishes in all, the first included
    std::size_t max_pending = 500'000;  // beyond: the oldest stop being retransmitted
  };

  struct Resend {
    std::string user;  // the recipient: published to its inbox on the brokers it is on
    std::string payload;
    std::string mid;
  };

  explicit AckTracker(Options options);

  // A chat (by mid) for `user` was just published for the first time (or could not be, the
  // user being offline: a device that comes online within the timeout still gets it live).
  void Track(const std::string& mid, std::string user, std::string payload, common::SteadyTime now);
  // The chat was DELIVERED: stop retransmitting it. Unknown mids are ignored.
  void Acked(const std::string& mid);
  // Chats whose timeout passed: to be published again now (tries counted).
  std::vector<Resend> Due(common::SteadyTime now);
  std::optional<common::SteadyTime> NextDeadline() const;

  // Whether `mid` is published and awaiting its DELIVERED (retransmitted when due).
  bool Tracking(const std::string& mid) const { return entries_.contains(mid); }
  std::size_t pending() const { return entries_.size(); }
  std::uint64_t retransmits() const { return retransmits_; }
  std::uint64_t given_up() const { return given_up_; }

 private:
  struct Entry {
    std::string user;
    std::string payload;
    int tries = 1;
    std::uint64_t generation = 0;
  };
  struct Slot {
    common::SteadyTime deadline;
    std::string mid;
    std::uint64_t generation;
  };

  Options options_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<Slot> queue_;
  std::uint64_t next_generation_ = 1;
  std::uint64_t retransmits_ = 0;
  std::uint64_t given_up_ = 0;
};

}  // namespace sparrow::bridge
