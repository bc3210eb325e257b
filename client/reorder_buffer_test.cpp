#include "client/reorder_buffer.hpp"

#include <gtest/gtest.h>

#include "testing/manual_clock.hpp"

namespace sparrow::client {
namespace {

using namespace std::chrono_literals;
using Verdict = ReorderBuffer::Verdict;

SeqFrame Chat(std::uint64_t seq) {
  protocol::ChatDown chat;
  chat.seq = seq;
  chat.mid = "m" + std::to_string(seq);
  return chat;
}

SeqFrame Receipt(std::uint64_t seq) {
  protocol::AckDown ack;
  ack.seq = seq;
  ack.msg_type = protocol::AckType::kDelivered;
  return ack;
}

std::vector<std::uint64_t> Seqs(const std::vector<SeqFrame>& frames) {
  std::vector<std::uint64_t> out;
  for (const auto& f : frames) out.push_back(SeqOf(f));
  return out;
}

class ReorderBufferTest : public ::testing::Test {
 protected:
  testing::ManualClock clock_;
  ReorderBuffer buffer_{clock_, 0, {.max_frames = 4, .gap_timeout = 1000ms}};
  std::vector<SeqFrame> released_;
};

TEST_F(ReorderBufferTest, ReleasesFramesInOrderAtOnce) {
  EXPECT_EQ(buffer_.Offer(Chat(1), released_), Verdict::kReleased);
  EXPECT_EQ(buffer_.Offer(Receipt(2), released_), Verdict::kReleased);
  EXPECT_EQ(Seqs(released_), (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(buffer_.last_seq(), 2u);
  EXPECT_FALSE(buffer_.SyncNeeded());
  EXPECT_FALSE(buffer_.Deadline().has_value());
}

TEST_F(ReorderBufferTest, AFrameAtOrBelowLastSeqIsADuplicate) {
  (void)buffer_.Offer(Chat(1), released_);
  (void)buffer_.Offer(Chat(2), released_);
  EXPECT_EQ(buffer_.Offer(Chat(2), released_), Verdict::kDuplicate);
  EXPECT_EQ(buffer_.Offer(Chat(1), released_), Verdict::kDuplicate);
  EXPECT_EQ(released_.size(), 2u);
}

TEST_F(ReorderBufferTest, AFrameAfterAGapWaitsUntilTheGapFills) {
  EXPECT_EQ(buffer_.Offer(Chat(3), released_), Verdict::kBuffered);
  EXPECT_EQ(buffer_.Offer(Chat(2), released_), Verdict::kBuffered);
  EXPECT_EQ(buffer_.Offer(Chat(3), released_), Verdict::kDuplicate);  // already waiting
  EXPECT_TRUE(released_.empty());
  EXPECT_EQ(buffer_.buffered(), 2u);
  EXPECT_EQ(buffer_.Offer(Chat(1), released_), Verdict::kReleased);
  EXPECT_EQ(Seqs(released_), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(buffer_.buffered(), 0u);
  EXPECT_FALSE(buffer_.Deadline().has_value());
}

TEST_F(ReorderBufferTest, AGapThatDoesNotFillInTimeAsksForASync) {
  (void)buffer_.Offer(Chat(2), released_);
  EXPECT_EQ(buffer_.Deadline(), clock_.Now() + 1000ms);
  clock_.Advance(999ms);
  EXPECT_FALSE(buffer_.SyncNeeded());
  clock_.Advance(1ms);
  EXPECT_TRUE(buffer_.SyncNeeded());
  buffer_.NoteSyncSent();  // the client sent `sync` from last_seq(): wait again
  EXPECT_FALSE(buffer_.SyncNeeded());
  EXPECT_EQ(buffer_.last_seq(), 0u);
  clock_.Advance(1000ms);
  EXPECT_TRUE(buffer_.SyncNeeded());
}

TEST_F(ReorderBufferTest, ANewGapBehindReleasedFramesGetsItsOwnTimer) {
  (void)buffer_.Offer(Chat(2), released_);
  (void)buffer_.Offer(Chat(4), released_);
  clock_.Advance(800ms);
  (void)buffer_.Offer(Chat(1), released_);  // releases 1, 2; 4 still waits for 3
  EXPECT_EQ(Seqs(released_), (std::vector<std::uint64_t>{1, 2}));
  clock_.Advance(800ms);
  EXPECT_FALSE(buffer_.SyncNeeded());
  clock_.Advance(200ms);
  EXPECT_TRUE(buffer_.SyncNeeded());
}

TEST_F(ReorderBufferTest, SyncedCountsEverySeqUpToUptoAsReceivedSincePurgedOnesAreSkipped) {
  (void)buffer_.Offer(Chat(1), released_);
  // The sync reply skips the purged seqs 2..4 and carries 5; 7 arrived live.
  (void)buffer_.Offer(Chat(5), released_);
  (void)buffer_.Offer(Chat(7), released_);
  released_.clear();
  buffer_.OnSynced(6, released_);
  EXPECT_EQ(Seqs(released_), (std::vector<std::uint64_t>{5, 7}));
  EXPECT_EQ(buffer_.last_seq(), 7u);
  EXPECT_EQ(buffer_.buffered(), 0u);
  EXPECT_FALSE(buffer_.SyncNeeded());
}

TEST_F(ReorderBufferTest, SyncedKeepsWaitingForAGapAboveUpto) {
  (void)buffer_.Offer(Chat(9), released_);
  buffer_.OnSynced(5, released_);
  EXPECT_TRUE(released_.empty());
  EXPECT_EQ(buffer_.last_seq(), 5u);
  EXPECT_EQ(buffer_.buffered(), 1u);
  EXPECT_EQ(buffer_.Offer(Chat(3), released_), Verdict::kDuplicate);
  (void)buffer_.Offer(Chat(6), released_);
  (void)buffer_.Offer(Chat(7), released_);
  (void)buffer_.Offer(Chat(8), released_);
  EXPECT_EQ(Seqs(released_), (std::vector<std::uint64_t>{6, 7, 8, 9}));
}

TEST_F(ReorderBufferTest, SyncedBelowLastSeqChangesNothing) {
  (void)buffer_.Offer(Chat(1), released_);
  (void)buffer_.Offer(Chat(2), released_);
  buffer_.OnSynced(1, released_);
  EXPECT_EQ(buffer_.last_seq(), 2u);
  EXPECT_EQ(released_.size(), 2u);
}

TEST_F(ReorderBufferTest, AFullBufferDropsTheHighestSeqAndAsksForASyncAtOnce) {
  for (std::uint64_t seq : {3, 4, 5, 6}) {
    EXPECT_EQ(buffer_.Offer(Chat(seq), released_), Verdict::kBuffered);
  }
  EXPECT_FALSE(buffer_.SyncNeeded());
  EXPECT_EQ(buffer_.Offer(Chat(9), released_), Verdict::kDropped);  // the newcomer is highest
  EXPECT_TRUE(buffer_.SyncNeeded());
  EXPECT_EQ(buffer_.Deadline(), clock_.Now());
  EXPECT_EQ(buffer_.Offer(Chat(2), released_), Verdict::kDropped);  // evicts 6, keeps 2
  EXPECT_EQ(buffer_.buffered(), 4u);
  buffer_.NoteSyncSent();
  EXPECT_FALSE(buffer_.SyncNeeded());
  (void)buffer_.Offer(Chat(1), released_);
  EXPECT_EQ(Seqs(released_), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
}

TEST(ReorderBufferRestoreTest, StartsFromTheRestoredLastSeq) {
  testing::ManualClock clock;
  ReorderBuffer buffer(clock, 41, {});
  std::vector<SeqFrame> released;
  EXPECT_EQ(buffer.Offer(Chat(41), released), Verdict::kDuplicate);
  EXPECT_EQ(buffer.Offer(Chat(42), released), Verdict::kReleased);
  EXPECT_EQ(buffer.last_seq(), 42u);
}

}  // namespace
}  // namespace sparrow::client
