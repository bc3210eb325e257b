// ReorderBuffer: the receiver side of the original design. Every frame stored for a user has
// a `seq` (1, 2, 3, ... with no gaps; topics.md "Sequence"); the buffer turns the frames as
// they arrive (live ones and sync replies, repeated, out of order) into each frame exactly
// once, in seq order.
//
//   - lastSeq: every seq <= lastSeq has been released. A frame at or below it is a repeat.
//   - A frame right after lastSeq is released at once, with the buffered frames that follow it.
//   - A frame after a gap waits in a bounded buffer. When the gap has not filled within
//     `gap_timeout` (from an injected Clock), SyncNeeded() turns true: the client sends
//     `sync` from last_seq() and calls NoteSyncSent().
//   - A full buffer drops the highest seq it holds (the newcomer or a buffered one) and asks
//     for a sync at once: the sync replays what was dropped.
//   - After `synced` (OnSynced): every seq <= upto counts as received, since sync replies may
//     skip purged seqs. Buffered frames <= upto (never released yet) are released in order,
//     lastSeq = max(lastSeq, upto), then the frames that follow are released too.
//
// Not thread-safe: owned by the client thread. Time comes from the Clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include "common/clock.hpp"
#include "protocol/frames.hpp"

namespace sparrow::client {

// A server frame that carries a seq.
using SeqFrame = std::variant<protocol::ChatDown, protocol::AckDown>;
[[nodiscard]] std::uint64_t SeqOf(const SeqFrame& frame);

class ReorderBuffer {
 public:
  struct Options {
    std::size_t max_frames = 1024;  // frames held after a gap
    std::chrono::milliseconds gap_timeout{1500};
  };

  enum class Verdict {
    kReleased,   // released now (with any buffered successors)
    kDuplicate,  // seq <= lastSeq, or already buffered
    kBuffered,   // waits for the gap before it
    kDropped,    // the buffer was full: dropped (or it evicted a higher one); sync needed
  };

  ReorderBuffer(const common::Clock& clock, std::uint64_t last_seq, Options options);

  // Offers a frame. Precondition: SeqOf(frame) > 0. Frames released by it are appended to
  // `released` in seq order.
  Verdict Offer(SeqFrame frame, std::vector<SeqFrame>& released);

  // `synced` with `upto`: see the header comment. Appends released frames to `released`.
  void OnSynced(std::uint64_t upto, std::vector<SeqFrame>& released);

  // True when a gap waited longer than gap_timeout (since it opened or since the last
  // NoteSyncSent), or a frame was dropped since the last NoteSyncSent.
  [[nodiscard]] bool SyncNeeded() const;
  // A sync from last_seq() was sent: restarts the gap timer, clears the drop flag.
  void NoteSyncSent();
  // When SyncNeeded() turns true (nullopt: no gap).
  [[nodiscard]] std::optional<common::SteadyTime> Deadline() const;

  [[nodiscard]] std::uint64_t last_seq() const { return last_seq_; }
  [[nodiscard]] std::size_t buffered() const { return buffer_.size(); }

 private:
  void Drain(std::vector<SeqFrame>& released);

  const common::Clock& clock_;
  const Options options_;
  std::uint64_t last_seq_;
  std::map<std::uint64_t, SeqFrame> buffer_;  // seq > last_seq_ + 1 only
  std::optional<common::SteadyTime> gap_since_;
  bool dropped_ = false;
};

}  // namespace sparrow::client
