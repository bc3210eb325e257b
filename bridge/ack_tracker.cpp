#include "bridge/ack_tracker.hpp"

namespace sparrow::bridge {

AckTracker::AckTracker(Options options) : options_(options) {}

void AckTracker::Track(const std::string& mid, std::string user, std::string payload,
                       common::SteadyTime now) {
  if (options_.max_tries <= 1) return;
  while (entries_.size() >= options_.max_pending && !queue_.empty()) {
    // Full: the oldest pending chat stops being retransmitted (it stays in the store).
    Slot oldest = std::move(queue_.front());
    queue_.pop_front();
    auto it = entries_.find(oldest.mid);
    if (it != entries_.end() && it->second.generation == oldest.generation) {
      entries_.erase(it);
      ++given_up_;
    }
  }
  std::uint64_t generation = next_generation_++;
  entries_[mid] = Entry{std::move(user), std::move(payload), 1, generation};
  queue_.push_back(Slot{now + options_.ack_timeout, mid, generation});
}

void AckTracker::Acked(const std::string& mid) { entries_.erase(mid); }

std::vector<AckTracker::Resend> AckTracker::Due(common::SteadyTime now) {
  std::vector<Resend> out;
  while (!queue_.empty() && queue_.front().deadline <= now) {
    Slot slot = std::move(queue_.front());
    queue_.pop_front();
    auto it = entries_.find(slot.mid);
    if (it == entries_.end() || it->second.generation != slot.generation) continue;  // acked
    Entry& entry = it->second;
    out.push_back(Resend{entry.user, entry.payload, slot.mid});
    ++retransmits_;
    if (++entry.tries >= options_.max_tries) {
      entries_.erase(it);  // that was the last try: the store keeps it for the next sync
      ++given_up_;
      continue;
    }
    entry.generation = next_generation_++;
    queue_.push_back(Slot{now + options_.ack_timeout, slot.mid, entry.generation});
  }
  return out;
}

std::optional<common::SteadyTime> AckTracker::NextDeadline() const {
  // Stale slots (acked chats) may head the queue: the deadline is then early, never late.
  if (queue_.empty()) return std::nullopt;
  return queue_.front().deadline;
}

}  // namespace sparrow::bridge
