// The checker on hand-written histories: a clean one passes, and each figure counts exactly the
// violation it names.
#include "tests/chaos/history.hpp"

#include <gtest/gtest.h>

namespace sparrow::chaos {
namespace {

// Builds histories with a running clock: alice:phone sends to bob, who has bob:tab and bob:pc;
// alice:laptop sees alice's copies.
class Builder {
 public:
  Event& Add(Event e) {
    e.t_ns = (t_ += 10);
    events_.push_back(std::move(e));
    return events_.back();
  }
  // Send + SENT of message `n` ("m<n>", mid "M<n>") from alice:phone to bob.
  void Send(int n, bool sent = true) {
    Add({.kind = EventKind::kAttempt,
         .device = "alice:phone",
         .local_id = "L" + std::to_string(n),
         .from = "alice",
         .from_device = "phone",
         .to = "bob",
         .text = "m" + std::to_string(n)});
    if (sent)
      Add({.kind = EventKind::kSent,
           .device = "alice:phone",
           .local_id = "L" + std::to_string(n),
           .mid = Mid(n)});
  }
  void Display(const std::string& device, int n, int incarnation = 1) {
    Add({.kind = EventKind::kDisplayed,
         .device = device,
         .incarnation = incarnation,
         .mid = Mid(n),
         .from = "alice",
         .from_device = "phone",
         .to = "bob",
         .text = "m" + std::to_string(n)});
  }
  void Receipt(int n, const std::string& kind, const std::string& device = "alice:phone") {
    Add({.kind = EventKind::kReceipt,
         .device = device,
         .incarnation = 1,
         .mid = Mid(n),
         .detail = kind});
  }
  // A final reconnect + sync + settle of every device.
  void Settle() {
    for (const char* d : {"bob:tab", "bob:pc", "alice:laptop", "alice:phone"}) {
      Add({.kind = EventKind::kConnected, .device = d, .incarnation = 1});
      Add({.kind = EventKind::kSynced, .device = d, .incarnation = 1});
    }
    for (const char* d : {"bob:tab", "bob:pc", "alice:laptop", "alice:phone"}) {
      Add({.kind = EventKind::kSettled, .device = d});
    }
  }
  static std::string Mid(int n) { return "M" + std::to_string(n); }
  // Everything right for messages 1..n: displayed on both of bob's devices and alice's laptop,
  // DELIVERED on alice:phone.
  void Clean(int n) {
    for (int i = 1; i <= n; ++i) {
      Send(i);
      Display("bob:tab", i);
      Display("bob:pc", i);
      Add({.kind = EventKind::kDisplayed,
           .device = "alice:laptop",
           .incarnation = 1,
           .mid = Mid(i),
           .from = "alice",
           .from_device = "phone",
           .to = "bob",
           .text = "m" + std::to_string(i)});
      Receipt(i, "delivered");
    }
  }
  Figures Run(CheckOptions options = {}) { return Check(events_, options).figures; }
  std::vector<Event> events_;
  std::int64_t t_ = 0;
};

TEST(HistoryCheckTest, CleanHistoryHasNoViolations) {
  Builder b;
  b.Clean(5);
  b.Settle();
  Figures f = b.Run();
  EXPECT_TRUE(f.Safe()) << f.ToLine();
  EXPECT_EQ(f.sent, 5);
  EXPECT_EQ(f.acked, 5);
  EXPECT_EQ(f.displayed, 15);
  EXPECT_EQ(f.receipts_missing, 0);
  EXPECT_EQ(f.unresolved, 0);
}

TEST(HistoryCheckTest, SentButNotDisplayedOnACoveredDeviceIsLost) {
  Builder b;
  b.Clean(2);
  b.Send(3);
  b.Display("bob:tab", 3);  // bob:pc never shows it
  b.Settle();
  Figures f = b.Run();
  EXPECT_EQ(f.acked_lost, 1);
  EXPECT_EQ(f.copies_lost, 1);  // alice:laptop did not show it either
  EXPECT_FALSE(f.Safe());
}

TEST(HistoryCheckTest, ADeviceThatDidNotSyncAfterTheSentIsNotJudged) {
  Builder b;
  b.Clean(1);
  for (const char* d : {"bob:tab", "bob:pc", "alice:laptop"}) {
    b.Add({.kind = EventKind::kConnected, .device = d, .incarnation = 1});
    b.Add({.kind = EventKind::kSynced, .device = d, .incarnation = 1});
  }
  b.Send(2);  // SENT after the last connection of every device, nobody displays it
  for (const char* d : {"bob:tab", "bob:pc", "alice:laptop"}) {
    b.Add({.kind = EventKind::kSettled, .device = d});
  }
  EXPECT_EQ(b.Run().acked_lost, 0);
}

TEST(HistoryCheckTest, UnackedMessageIsNeverLostButUnresolved) {
  Builder b;
  b.Send(1, /*sent=*/false);
  b.Settle();
  Figures f = b.Run();
  EXPECT_EQ(f.acked_lost, 0);
  EXPECT_EQ(f.unresolved, 1);
}

TEST(HistoryCheckTest, SameMidTwiceOnOneDeviceIsADuplicate) {
  Builder b;
  b.Clean(3);
  b.Display("bob:tab", 2);
  b.Settle();
  EXPECT_EQ(b.Run().dup_displayed, 1);
}

TEST(HistoryCheckTest, SameTextUnderAnotherMidIsADuplicate) {
  Builder b;
  b.Clean(2);
  b.Add({.kind = EventKind::kDisplayed,
         .device = "bob:tab",
         .incarnation = 1,
         .mid = "OTHER",
         .from = "alice",
         .from_device = "phone",
         .to = "bob",
         .text = "m2"});
  b.Settle();
  Figures f = b.Run();
  EXPECT_EQ(f.dup_displayed, 1);
}

TEST(HistoryCheckTest, RedisplayAfterACrashIsReportedApart) {
  Builder b;
  b.Clean(2);
  b.Add({.kind = EventKind::kCrashed, .device = "bob:tab", .incarnation = 1});
  b.Display("bob:tab", 2, /*incarnation=*/2);
  b.Settle();
  Figures f = b.Run();
  EXPECT_EQ(f.dup_displayed, 0);
  EXPECT_EQ(f.crash_redisplayed, 1);
  // After a clean restart the same redisplay is a duplicate.
  Builder c;
  c.Clean(2);
  c.Display("bob:tab", 2, /*incarnation=*/2);
  c.Settle();
  EXPECT_EQ(c.Run().dup_displayed, 1);
}

TEST(HistoryCheckTest, LaterMessageOfAStreamShownFirstIsAnOrderViolation) {
  Builder b;
  b.Send(1);
  b.Send(2);
  b.Send(3);
  b.Display("bob:tab", 1);
  b.Display("bob:tab", 3);
  b.Display("bob:tab", 2);  // after 3
  b.Display("bob:pc", 1);
  b.Display("bob:pc", 2);
  b.Display("bob:pc", 3);
  Figures f = b.Run();
  EXPECT_EQ(f.order_violations, 1);
  EXPECT_EQ(f.dup_displayed, 0);
}

TEST(HistoryCheckTest, StreamsAreIndependent) {
  Builder b;
  b.Send(1);
  b.Add({.kind = EventKind::kAttempt,
         .device = "carol:x",
         .local_id = "C1",
         .from = "carol",
         .from_device = "x",
         .to = "bob",
         .text = "c1"});
  b.Add({.kind = EventKind::kSent, .device = "carol:x", .local_id = "C1", .mid = "MC1"});
  b.Add({.kind = EventKind::kDisplayed,
         .device = "bob:tab",
         .incarnation = 1,
         .mid = "MC1",
         .from = "carol",
         .from_device = "x",
         .to = "bob",
         .text = "c1"});
  b.Display("bob:tab", 1);
  EXPECT_EQ(b.Run().order_violations, 0);
}

TEST(HistoryCheckTest, DisplaysOfWhatWasNotSentAreUnexpected) {
  Builder b;
  b.Clean(1);
  // Never sent.
  b.Add({.kind = EventKind::kDisplayed,
         .device = "bob:tab",
         .incarnation = 1,
         .mid = "X",
         .from = "alice",
         .from_device = "phone",
         .to = "bob",
         .text = "forged"});
  // Sent by alice:phone, displayed as coming from alice:other.
  b.Send(2);
  b.Add({.kind = EventKind::kDisplayed,
         .device = "bob:tab",
         .incarnation = 1,
         .mid = Builder::Mid(2),
         .from = "alice",
         .from_device = "other",
         .to = "bob",
         .text = "m2"});
  // Shown to a third user.
  b.Send(3);
  b.Add({.kind = EventKind::kDisplayed,
         .device = "eve:x",
         .incarnation = 1,
         .mid = Builder::Mid(3),
         .from = "alice",
         .from_device = "phone",
         .to = "bob",
         .text = "m3"});
  // Shown under another mid than the SENT one.
  b.Send(4);
  b.Add({.kind = EventKind::kDisplayed,
         .device = "bob:pc",
         .incarnation = 1,
         .mid = "WRONG",
         .from = "alice",
         .from_device = "phone",
         .to = "bob",
         .text = "m4"});
  EXPECT_EQ(b.Run().unexpected, 4);
}

TEST(HistoryCheckTest, FailuresAreCountedAndFailedButDeliveredIsFlagged) {
  Builder b;
  b.Send(1, /*sent=*/false);
  b.Add(
      {.kind = EventKind::kFailed, .device = "alice:phone", .local_id = "L1", .detail = "timeout"});
  b.Display("bob:tab", 1);
  b.Add({.kind = EventKind::kRefused,
         .device = "alice:phone",
         .from = "alice",
         .to = "bob",
         .text = "too long"});
  Figures f = b.Run();
  EXPECT_EQ(f.failed_shown, 2);
  EXPECT_EQ(f.failed_but_delivered, 1);
  EXPECT_EQ(f.unresolved, 0);
}

TEST(HistoryCheckTest, ReceiptMismatches) {
  Builder b;
  b.Clean(1);
  b.Send(2);
  b.Receipt(2, "delivered");  // never displayed
  b.Receipt(1, "delivered");  // shown twice on one incarnation
  b.Receipt(1, "read");       // never marked read
  b.Send(3);
  b.Display("bob:tab", 3);
  b.Add({.kind = EventKind::kMarkedRead, .device = "bob:tab", .mid = Builder::Mid(3)});
  b.Receipt(3, "read");       // READ before DELIVERED
  b.Receipt(9, "delivered");  // not a message of alice
  EXPECT_EQ(b.Run().receipt_mismatches, 5);
}

TEST(HistoryCheckTest, ReadAfterDeliveredAndMarkedIsFine) {
  Builder b;
  b.Clean(1);
  b.Add({.kind = EventKind::kMarkedRead, .device = "bob:pc", .mid = Builder::Mid(1)});
  b.Receipt(1, "read");
  b.Settle();
  Figures f = b.Run();
  EXPECT_EQ(f.receipt_mismatches, 0);
  EXPECT_EQ(f.receipts_missing, 0);
}

TEST(HistoryCheckTest, DisplayedWithoutDeliveredOnASettledSenderIsMissingReceipt) {
  Builder b;
  b.Send(1);
  b.Display("bob:tab", 1);
  b.Settle();
  EXPECT_EQ(b.Run().receipts_missing, 1);
}

TEST(HistoryCheckTest, StoreFactsBecomeFigures) {
  Builder b;
  b.Clean(3);
  StoreFacts store;
  store.chat_key_duplicates = 1;
  store.inbox_duplicates = 2;
  store.text_duplicates = 3;
  store.seq_gaps = 4;
  store.chat_mids = {"M1", "M2"};  // M3 was SENT but is not stored
  Figures f = b.Run(CheckOptions{.store = store});
  EXPECT_EQ(f.store_duplicate_rows, 6);
  EXPECT_EQ(f.store_seq_gaps, 4);
  EXPECT_EQ(f.store_lost, 1);
}

TEST(HistoryCheckTest, SentForAMessageAttemptedDuringAnOutageIsFlagged) {
  Builder b;
  b.Send(1);  // t=10 attempt, t=20 SENT
  const std::int64_t from = b.t_;
  b.Send(2);  // attempted and SENT inside the outage
  b.Send(3, /*sent=*/false);
  const std::int64_t to = b.t_ + 5;
  b.Add({.kind = EventKind::kSent, .device = "alice:phone", .local_id = "L3", .mid = "M3"});
  Figures f = b.Run(CheckOptions{.outages = {Outage{from, to}}});
  EXPECT_EQ(f.sent_while_db_down, 1);
}

TEST(HistoryCheckTest, DisplaysAfterTheFinalSyncAreLate) {
  Builder b;
  b.Send(1);
  b.Add({.kind = EventKind::kFinalSync, .device = "bob:tab"});
  b.Display("bob:tab", 1);
  EXPECT_EQ(b.Run().late, 1);
}

TEST(HistoryCheckTest, EventsRoundTripThroughJson) {
  Event e{.kind = EventKind::kDisplayed,
          .t_ns = 123,
          .device = "bob:tab",
          .incarnation = 2,
          .local_id = "L",
          .mid = "M",
          .from = "alice",
          .from_device = "phone",
          .to = "bob",
          .text = "hi \"there\"",
          .seq = 9,
          .detail = "x"};
  auto back = EventFromJson(nlohmann::json::parse(ToJson(e).dump()));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, e);
  EXPECT_FALSE(EventFromJson(nlohmann::json::parse(R"({"ev":"nope"})")).has_value());
}

TEST(HistoryTest, TracksQuiescenceIncrementally) {
  History h;
  h.Watch("bob:tab");
  h.Watch("alice:laptop");
  h.Append({.kind = EventKind::kAttempt,
            .t_ns = 1,
            .device = "alice:phone",
            .local_id = "L1",
            .from = "alice",
            .from_device = "phone",
            .to = "bob",
            .text = "m1"});
  EXPECT_EQ(h.Unresolved(), 1);
  // Displayed before its SENT arrives (possible: the SENT can be slower).
  h.Append({.kind = EventKind::kDisplayed,
            .t_ns = 2,
            .device = "bob:tab",
            .mid = "M1",
            .from = "alice",
            .from_device = "phone",
            .to = "bob",
            .text = "m1"});
  h.Append({.kind = EventKind::kSent,
            .t_ns = 3,
            .device = "alice:phone",
            .local_id = "L1",
            .mid = "M1"});
  EXPECT_EQ(h.Unresolved(), 0);
  EXPECT_EQ(h.MissingDisplays(), 1);  // alice:laptop has not shown its copy
  h.Append({.kind = EventKind::kDisplayed,
            .t_ns = 4,
            .device = "alice:laptop",
            .mid = "M1",
            .from = "alice",
            .from_device = "phone",
            .to = "bob",
            .text = "m1"});
  EXPECT_EQ(h.MissingDisplays(), 0);
  // A SENT that overtakes the logging of its attempt.
  h.Append({.kind = EventKind::kSent,
            .t_ns = 5,
            .device = "alice:phone",
            .local_id = "L2",
            .mid = "M2"});
  h.Append({.kind = EventKind::kAttempt,
            .t_ns = 4,
            .device = "alice:phone",
            .local_id = "L2",
            .from = "alice",
            .from_device = "phone",
            .to = "bob",
            .text = "m2"});
  EXPECT_EQ(h.Unresolved(), 0);
  EXPECT_EQ(h.MissingDisplays(), 2);
  h.Watch("bob:new");  // a late watcher must show everything too
  EXPECT_EQ(h.MissingDisplays(), 4);
  EXPECT_EQ(h.AckedCount(), 2);
}

}  // namespace
}  // namespace sparrow::chaos
