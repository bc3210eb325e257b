#include "client/reorder_buffer.hpp"

#include <utility>

namespace sparrow::client {

std::uint64_t SeqOf(const SeqFrame& frame) {
  return std::visit([](const auto& f) { return f.seq; }, frame);
}

ReorderBuffer::ReorderBuffer(const common::Clock& clock, std::uint64_t last_seq, Options options)
    : clock_(clock), options_(options), last_seq_(last_seq) {}

ReorderBuffer::Verdict ReorderBuffer::Offer(SeqFrame frame, std::vector<SeqFrame>& released) {
  const std::uint64_t seq = SeqOf(frame);
  if (seq <= last_seq_ || buffer_.count(seq) != 0) return Verdict::kDuplicate;
  if (seq == last_seq_ + 1) {
    released.push_back(std::move(frame));
    last_seq_ = seq;
    Drain(released);
    return Verdict::kReleased;
  }
  if (buffer_.size() >= options_.max_frames) {
    dropped_ = true;
    auto highest = std::prev(buffer_.end());
    if (options_.max_frames == 0 || seq > highest->first) return Verdict::kDropped;
    buffer_.erase(highest);  // keep the lower seq: it is needed first
    buffer_.emplace(seq, std::move(frame));
    return Verdict::kDropped;
  }
  if (buffer_.empty()) gap_since_ = clock_.Now();
  buffer_.emplace(seq, std::move(frame));
  return Verdict::kBuffered;
}

void ReorderBuffer::OnSynced(std::uint64_t upto, std::vector<SeqFrame>& released) {
  // Buffered frames at or below `upto` were never released: release them in order (the seqs
  // missing between them were purged on the server), then move lastSeq up to `upto`.
  while (!buffer_.empty() && buffer_.begin()->first <= upto) {
    auto node = buffer_.extract(buffer_.begin());
    last_seq_ = node.key();
    released.push_back(std::move(node.mapped()));
  }
  if (upto > last_seq_) last_seq_ = upto;
  Drain(released);
}

void ReorderBuffer::Drain(std::vector<SeqFrame>& released) {
  while (!buffer_.empty() && buffer_.begin()->first == last_seq_ + 1) {
    auto node = buffer_.extract(buffer_.begin());
    last_seq_ = node.key();
    released.push_back(std::move(node.mapped()));
  }
  // Called after a release: what is still buffered waits behind a new gap.
  if (buffer_.empty()) {
    gap_since_.reset();
  } else {
    gap_since_ = clock_.Now();
  }
}

bool ReorderBuffer::SyncNeeded() const {
  if (dropped_) return true;
  return gap_since_ && clock_.Now() >= *gap_since_ + options_.gap_timeout;
}

void ReorderBuffer::NoteSyncSent() {
  dropped_ = false;
  if (!buffer_.empty()) gap_since_ = clock_.Now();
}

std::optional<common::SteadyTime> ReorderBuffer::Deadline() const {
  if (dropped_) return clock_.Now();
  if (!gap_since_) return std::nullopt;
  return *gap_since_ + options_.gap_timeout;
}

}  // namespace sparrow::client
