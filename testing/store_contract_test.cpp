// The MessageStore contract: every behaviour the bridge and the sync service rely on, run
// against each implementation. Built twice: the in-memory fake and SQLite (store_contract_test),
// and MariaDB (store_contract_mariadb_test, compiled with SPARROW_TEST_MARIADB).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "offline/message_store.hpp"
#include "offline/soci_message_store.hpp"
#include "testing/in_memory_message_store.hpp"
#include "testing/manual_clock.hpp"
#include "testing/mariadb.hpp"
#include "testing/temp_dir.hpp"

namespace sparrow::testing {
namespace {

using offline::BatchResult;
using offline::ChatOutcome;
using offline::ChatResult;
using offline::ChatWrite;
using offline::FrameKind;
using offline::ReceiptKind;
using offline::ReceiptOutcome;
using offline::ReceiptWrite;
using offline::StoredFrame;
using offline::WriteBatch;

constexpr std::uint64_t kNoBound = ~std::uint64_t{0};
constexpr std::int64_t kT0 = 1764430000000;

enum class Backend { kInMemory, kSqlite, kMariaDb };

std::string BackendName(Backend backend) {
  switch (backend) {
    case Backend::kInMemory:
      return "InMemory";
    case Backend::kSqlite:
      return "Sqlite";
    case Backend::kMariaDb:
      return "MariaDb";
  }
  return "Unknown";
}
std::string BackendTestName(const ::testing::TestParamInfo<Backend>& info) {
  return BackendName(info.param);
}
void PrintTo(Backend backend, std::ostream* os) { *os << BackendName(backend); }

// A chat with recognizable contents: "to:<dest>:<mid>" and "copy:<from>:<mid>".
ChatWrite Chat(const std::string& mid, const std::string& from, const std::string& device,
               std::int64_t client_id, const std::string& dest, std::int64_t at = kT0) {
  return ChatWrite{
      mid, from, device, client_id, dest, at, "to:" + dest + ":" + mid, "copy:" + from + ":" + mid};
}

ReceiptWrite Receipt(const std::string& mid, ReceiptKind kind, const std::string& sender,
                     std::int64_t at = kT0 + 1) {
  return ReceiptWrite{mid, kind, at, sender,
                      std::string(kind == ReceiptKind::kDelivered ? "delivered:" : "read:") + mid};
}

class StoreContractTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    switch (GetParam()) {
      case Backend::kInMemory:
        store_ = std::make_unique<InMemoryMessageStore>();
        break;
      case Backend::kSqlite:
        store_ = std::make_unique<offline::SociMessageStore>(
            offline::DbOptions{.url = "sqlite:" + (dir_.path() / "store.db").string()}, clock_);
        break;
      case Backend::kMariaDb: {
        const auto server = MariaDbDatabase::ServerUrl();
        if (!server) GTEST_SKIP() << MariaDbDatabase::kSkipMessage;
        mariadb_ = std::make_unique<MariaDbDatabase>(*server);
        store_ = std::make_unique<offline::SociMessageStore>(
            offline::DbOptions{.url = mariadb_->url()}, clock_);
        break;
      }
    }
  }
  void TearDown() override { store_.reset(); }  // before the database is dropped

  offline::MessageStore& store() { return *store_; }

  BatchResult CommitChats(std::vector<ChatWrite> chats) {
    return store().Commit(WriteBatch{std::move(chats), {}});
  }
  BatchResult CommitReceipts(std::vector<ReceiptWrite> receipts) {
    return store().Commit(WriteBatch{{}, std::move(receipts)});
  }
  std::vector<StoredFrame> Inbox(const std::string& user) {
    return store().ReadInbox(user, 0, kNoBound, 100000);
  }
  std::vector<std::uint64_t> Seqs(const std::string& user) {
    std::vector<std::uint64_t> seqs;
    for (const StoredFrame& frame : Inbox(user)) seqs.push_back(frame.seq);
    return seqs;
  }
  static std::vector<std::uint64_t> OneTo(std::uint64_t n) {
    std::vector<std::uint64_t> seqs;
    for (std::uint64_t i = 1; i <= n; ++i) seqs.push_back(i);
    return seqs;
  }

  ManualClock clock_;
  TempDir dir_;
  std::unique_ptr<MariaDbDatabase> mariadb_;
  std::unique_ptr<offline::MessageStore> store_;
};

TEST_P(StoreContractTest, EmptyBatchWritesNothing) {
  const BatchResult result = store().Commit(WriteBatch{});
  EXPECT_TRUE(result.chats.empty());
  EXPECT_TRUE(result.receipts.empty());
  EXPECT_EQ(store().LastSeq("alice"), 0u);
}

TEST_P(StoreContractTest, SeqsAreContiguousPerUserAcrossBatches) {
  std::int64_t alice_id = 0;
  std::int64_t carol_id = 0;
  int mid = 0;
  for (int batch = 0; batch < 4; ++batch) {
    std::vector<ChatWrite> chats;
    for (int i = 0; i < batch + 1; ++i) {
      chats.push_back(Chat("m" + std::to_string(++mid), "alice", "phone", ++alice_id, "bob"));
      chats.push_back(Chat("m" + std::to_string(++mid), "carol", "web", ++carol_id, "bob"));
    }
    const BatchResult result = CommitChats(chats);
    for (const ChatResult& chat : result.chats) EXPECT_EQ(chat.outcome, ChatOutcome::kStored);
  }
  EXPECT_EQ(Seqs("bob"), OneTo(20));
  EXPECT_EQ(Seqs("alice"), OneTo(10));
  EXPECT_EQ(Seqs("carol"), OneTo(10));
  EXPECT_EQ(store().LastSeq("bob"), 20u);
  EXPECT_EQ(store().LastSeq("alice"), 10u);
  EXPECT_EQ(store().LastSeq("nobody"), 0u);
}

TEST_P(StoreContractTest, SeqsFollowBatchOrderAndSenderCopyGetsSendersSeq) {
  const BatchResult first =
      CommitChats({Chat("m1", "alice", "phone", 1, "bob"), Chat("m2", "bob", "laptop", 1, "alice"),
                   Chat("m3", "alice", "phone", 2, "bob")});
  ASSERT_EQ(first.chats.size(), 3u);
  EXPECT_EQ(first.chats[0], (ChatResult{ChatOutcome::kStored, "m1", 1, 1}));
  EXPECT_EQ(first.chats[1], (ChatResult{ChatOutcome::kStored, "m2", 2, 2}));
  EXPECT_EQ(first.chats[2], (ChatResult{ChatOutcome::kStored, "m3", 3, 3}));

  EXPECT_EQ(Inbox("bob"), (std::vector<StoredFrame>{{1, FrameKind::kChat, "m1", "to:bob:m1"},
                                                    {2, FrameKind::kChat, "m2", "copy:bob:m2"},
                                                    {3, FrameKind::kChat, "m3", "to:bob:m3"}}));
  EXPECT_EQ(Inbox("alice"),
            (std::vector<StoredFrame>{{1, FrameKind::kChat, "m1", "copy:alice:m1"},
                                      {2, FrameKind::kChat, "m2", "to:alice:m2"},
                                      {3, FrameKind::kChat, "m3", "copy:alice:m3"}}));
}

TEST_P(StoreContractTest, ChatToSelfTakesTwoSeqsRecipientFirst) {
  const BatchResult result = CommitChats({Chat("m1", "alice", "phone", 1, "alice")});
  EXPECT_EQ(result.chats[0], (ChatResult{ChatOutcome::kStored, "m1", 1, 2}));
  EXPECT_EQ(Seqs("alice"), OneTo(2));
}

TEST_P(StoreContractTest, FindChatReturnsTheStoredRecord) {
  (void)CommitChats({Chat("m1", "alice", "phone", 7, "bob", kT0 + 5)});
  const auto record = store().FindChat("m1");
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(*record, (offline::ChatRecord{"m1", "alice", "phone", 7, "bob", 1, 1, 0, 0, kT0 + 5}));
  EXPECT_FALSE(store().FindChat("m2").has_value());
  EXPECT_EQ(store().FindChatMid("alice", "phone", 7), "m1");
  EXPECT_FALSE(store().FindChatMid("alice", "phone", 8).has_value());
  EXPECT_FALSE(store().FindChatMid("alice", "tablet", 7).has_value());
}

TEST_P(StoreContractTest, RepeatInLaterBatchIsDuplicateWithFirstMidAndWritesNothing) {
  (void)CommitChats({Chat("m1", "alice", "phone", 1, "bob")});
  const BatchResult repeat = CommitChats({Chat("m2", "alice", "phone", 1, "bob")});
  EXPECT_EQ(repeat.chats[0], (ChatResult{ChatOutcome::kDuplicate, "m1", 1, 1}));
  EXPECT_EQ(Seqs("bob"), OneTo(1));
  EXPECT_EQ(Seqs("alice"), OneTo(1));
  EXPECT_FALSE(store().FindChat("m2").has_value());
}

TEST_P(StoreContractTest, RepeatInsideOneBatchIsDuplicateOfTheFirst) {
  const BatchResult result =
      CommitChats({Chat("m1", "alice", "phone", 1, "bob"), Chat("m2", "alice", "phone", 2, "bob"),
                   Chat("m3", "alice", "phone", 1, "bob")});
  EXPECT_EQ(result.chats[0], (ChatResult{ChatOutcome::kStored, "m1", 1, 1}));
  EXPECT_EQ(result.chats[1], (ChatResult{ChatOutcome::kStored, "m2", 2, 2}));
  EXPECT_EQ(result.chats[2], (ChatResult{ChatOutcome::kDuplicate, "m1", 1, 1}));
  EXPECT_EQ(Seqs("bob"), OneTo(2));
  EXPECT_FALSE(store().FindChat("m3").has_value());
}

TEST_P(StoreContractTest, RepeatOfStoredChatAndItsInBatchRepeatBothAnswerFirstMid) {
  (void)CommitChats({Chat("m1", "alice", "phone", 1, "bob")});
  const BatchResult result =
      CommitChats({Chat("m2", "alice", "phone", 1, "bob"), Chat("m3", "alice", "phone", 1, "bob"),
                   Chat("m4", "alice", "phone", 2, "bob")});
  EXPECT_EQ(result.chats[0], (ChatResult{ChatOutcome::kDuplicate, "m1", 1, 1}));
  EXPECT_EQ(result.chats[1], (ChatResult{ChatOutcome::kDuplicate, "m1", 1, 1}));
  EXPECT_EQ(result.chats[2], (ChatResult{ChatOutcome::kStored, "m4", 2, 2}));
}

TEST_P(StoreContractTest, RecommittingTheSameChatReportsItStoredWithItsSeqs) {
  // A commit whose answer was lost is retried with the same mids: nothing is written twice and
  // the caller learns the seqs it would have got.
  const std::vector<ChatWrite> chats = {Chat("m1", "alice", "phone", 1, "bob"),
                                        Chat("m2", "carol", "web", 1, "bob")};
  const BatchResult first = CommitChats(chats);
  const BatchResult again = CommitChats(chats);
  EXPECT_EQ(again.chats, first.chats);
  EXPECT_EQ(Seqs("bob"), OneTo(2));
}

TEST_P(StoreContractTest, SameIdFromAnotherDeviceOrUserIsNotADuplicate) {
  const BatchResult result =
      CommitChats({Chat("m1", "alice", "phone", 1, "bob"), Chat("m2", "alice", "laptop", 1, "bob"),
                   Chat("m3", "carol", "phone", 1, "bob")});
  for (const ChatResult& chat : result.chats) EXPECT_EQ(chat.outcome, ChatOutcome::kStored);
}

TEST_P(StoreContractTest, DeviceIdsDifferingOnlyInCaseAreDifferentDevices) {
  // Device ids are case-sensitive ([A-Za-z0-9_-]); a case-insensitive collation would merge them.
  const BatchResult result =
      CommitChats({Chat("m1", "alice", "phone", 1, "bob"), Chat("m2", "alice", "Phone", 1, "bob")});
  EXPECT_EQ(result.chats[1].outcome, ChatOutcome::kStored);
  EXPECT_EQ(store().FindChatMid("alice", "Phone", 1), "m2");
  (void)CommitChats({Chat("m3", "alice", "PHONE", 9, "bob")});
  EXPECT_EQ(store().LastChatId("alice", "phone"), 1);
  EXPECT_EQ(store().LastChatId("alice", "PHONE"), 9);
}

TEST_P(StoreContractTest, LastChatIdIsTheHighestIdStoredPerDevice) {
  EXPECT_EQ(store().LastChatId("alice", "phone"), 0);
  (void)CommitChats({Chat("m1", "alice", "phone", 1, "bob"), Chat("m2", "alice", "phone", 2, "bob"),
                     Chat("m3", "alice", "laptop", 40, "bob")});
  EXPECT_EQ(store().LastChatId("alice", "phone"), 2);
  EXPECT_EQ(store().LastChatId("alice", "laptop"), 40);
  (void)CommitChats({Chat("m4", "alice", "phone", 5, "bob")});
  (void)CommitChats({Chat("m5", "alice", "phone", 4, "bob")});  // never lowers it
  EXPECT_EQ(store().LastChatId("alice", "phone"), 5);
  (void)CommitChats({Chat("m6", "alice", "phone", 2, "bob")});  // a duplicate changes nothing
  EXPECT_EQ(store().LastChatId("alice", "phone"), 5);
  EXPECT_EQ(store().LastChatId("bob", "phone"), 0);
}

TEST_P(StoreContractTest, DeliveredIsRecordedOnceAndStoredInSendersInbox) {
  (void)CommitChats({Chat("m1", "alice", "phone", 1, "bob")});
  const BatchResult first = CommitReceipts({Receipt("m1", ReceiptKind::kDelivered, "alice")});
  EXPECT_EQ(first.receipts[0], (offline::ReceiptResult{ReceiptOutcome::kRecorded, 2}));
  EXPECT_EQ(Inbox("alice").back(), (StoredFrame{2, FrameKind::kAck, "m1", "delivered:m1"}));
  EXPECT_EQ(store().FindChat("m1")->delivered_at, kT0 + 1);

  const BatchResult second =
      CommitReceipts({Receipt("m1", ReceiptKind::kDelivered, "alice", kT0 + 9)});
  EXPECT_EQ(second.receipts[0].outcome, ReceiptOutcome::kAlreadyRecorded);
  EXPECT_EQ(store().LastSeq("alice"), 2u);
  EXPECT_EQ(store().FindChat("m1")->delivered_at, kT0 + 1);
  EXPECT_EQ(Seqs("bob"), OneTo(1));  // receipts go to the sender only
}

TEST_P(StoreContractTest, SecondReceiptOfAKindInOneBatchIsAlreadyRecorded) {
  (void)CommitChats({Chat("m1", "alice", "phone", 1, "bob")});
  const BatchResult result = CommitReceipts({Receipt("m1", ReceiptKind::kDelivered, "alice"),
                                             Receipt("m1", ReceiptKind::kDelivered, "alice"),
                                             Receipt("m1", ReceiptKind::kRead, "alice"),
                                             Receipt("m1", ReceiptKind::kRead, "alice")});
  EXPECT_EQ(result.receipts[0], (offline::ReceiptResult{ReceiptOutcome::kRecorded, 2}));
  EXPECT_EQ(result.receipts[1].outcome, ReceiptOutcome::kAlreadyRecorded);
  EXPECT_EQ(result.receipts[2], (offline::ReceiptResult{ReceiptOutcome::kRecorded, 3}));
  EXPECT_EQ(result.receipts[3].outcome, ReceiptOutcome::kAlreadyRecorded);
  EXPECT_EQ(Seqs("alice"), OneTo(3));
}

TEST_P(StoreContractTest, ManyReceiptsInOneBatchAreEachRecordedOnce) {
  // 25 of each kind: statements of 10 and 5 rows in the SQL stores.
  std::vector<ChatWrite> chats;
  for (int i = 1; i <= 25; ++i) {
    chats.push_back(Chat("m" + std::to_string(i), "alice", "phone", i, "bob", kT0));
  }
  (void)CommitChats(chats);
  std::vector<ReceiptWrite> receipts;
  for (int i = 1; i <= 25; ++i) {
    receipts.push_back(Receipt("m" + std::to_string(i), ReceiptKind::kDelivered, "alice", kT0 + i));
    receipts.push_back(
        Receipt("m" + std::to_string(i), ReceiptKind::kRead, "alice", kT0 + 100 + i));
  }
  receipts.push_back(Receipt("m7", ReceiptKind::kDelivered, "alice"));  // a repeat in the batch
  const BatchResult result = CommitReceipts(receipts);
  for (std::size_t i = 0; i < 50; ++i) {
    EXPECT_EQ(result.receipts[i], (offline::ReceiptResult{ReceiptOutcome::kRecorded, 26 + i})) << i;
  }
  EXPECT_EQ(result.receipts[50].outcome, ReceiptOutcome::kAlreadyRecorded);
  for (int i = 1; i <= 25; ++i) {
    const auto record = store().FindChat("m" + std::to_string(i));
    EXPECT_EQ(record->delivered_at, kT0 + i);
    EXPECT_EQ(record->read_at, kT0 + 100 + i);
  }
  EXPECT_EQ(Seqs("alice"), OneTo(75));
  // Every DELIVERED marked bob's frame read: all of them are purgeable now.
  EXPECT_EQ(store().PurgeDelivered(kT0 + 1, 1000), 25u);
  EXPECT_TRUE(Inbox("bob").empty());
}

TEST_P(StoreContractTest, ReadBeforeDeliveredIsRecordedAsTold) {
  // The bridge sends DELIVERED before READ when needed; the store records what it is told.
  (void)CommitChats({Chat("m1", "alice", "phone", 1, "bob")});
  const BatchResult read = CommitReceipts({Receipt("m1", ReceiptKind::kRead, "alice", kT0 + 3)});
  EXPECT_EQ(read.receipts[0].outcome, ReceiptOutcome::kRecorded);
  auto record = store().FindChat("m1");
  EXPECT_EQ(record->read_at, kT0 + 3);
  EXPECT_EQ(record->delivered_at, 0);
  const BatchResult delivered =
      CommitReceipts({Receipt("m1", ReceiptKind::kDelivered, "alice", kT0 + 4)});
  EXPECT_EQ(delivered.receipts[0].outcome, ReceiptOutcome::kRecorded);
  EXPECT_EQ(store().FindChat("m1")->delivered_at, kT0 + 4);
}

TEST_P(StoreContractTest, ReceiptForUnknownChatOrWrongSenderWritesNothing) {
  (void)CommitChats({Chat("m1", "alice", "phone", 1, "bob")});
  const BatchResult result = CommitReceipts({Receipt("nope", ReceiptKind::kDelivered, "alice"),
                                             Receipt("m1", ReceiptKind::kDelivered, "carol")});
  EXPECT_EQ(result.receipts[0].outcome, ReceiptOutcome::kUnknownChat);
  EXPECT_EQ(result.receipts[1].outcome, ReceiptOutcome::kUnknownChat);
  EXPECT_EQ(store().LastSeq("alice"), 1u);
  EXPECT_EQ(store().LastSeq("carol"), 0u);
  EXPECT_EQ(store().FindChat("m1")->delivered_at, 0);
}

TEST_P(StoreContractTest, ChatsAndReceiptsInOneBatchTakeSeqsChatsFirst) {
  (void)CommitChats({Chat("m1", "alice", "phone", 1, "bob")});
  const BatchResult result = store().Commit(
      WriteBatch{{Chat("m2", "alice", "phone", 2, "bob"), Chat("m3", "bob", "pc", 1, "alice")},
                 {Receipt("m1", ReceiptKind::kDelivered, "alice")}});
  EXPECT_EQ(result.chats[0], (ChatResult{ChatOutcome::kStored, "m2", 2, 2}));
  EXPECT_EQ(result.chats[1], (ChatResult{ChatOutcome::kStored, "m3", 3, 3}));
  EXPECT_EQ(result.receipts[0], (offline::ReceiptResult{ReceiptOutcome::kRecorded, 4}));
  EXPECT_EQ(Seqs("alice"), OneTo(4));
}

TEST_P(StoreContractTest, ReadInboxPagesWithAfterUptoAndLimit) {
  std::vector<ChatWrite> chats;
  for (int i = 1; i <= 25; ++i) {
    chats.push_back(Chat("m" + std::to_string(i), "alice", "phone", i, "bob"));
  }
  (void)CommitChats(chats);

  // The sync loop: pages of 10 from after=3 up to upto=24.
  std::vector<std::uint64_t> seen;
  std::uint64_t after = 3;
  for (;;) {
    const auto page = store().ReadInbox("bob", after, 24, 10);
    for (const StoredFrame& frame : page) seen.push_back(frame.seq);
    if (page.size() < 10) break;
    after = page.back().seq;
  }
  std::vector<std::uint64_t> expected;
  for (std::uint64_t s = 4; s <= 24; ++s) expected.push_back(s);
  EXPECT_EQ(seen, expected);

  EXPECT_EQ(store().ReadInbox("bob", 0, 3, 10).size(), 3u);
  EXPECT_EQ(store().ReadInbox("bob", 25, kNoBound, 10).size(), 0u);
  EXPECT_EQ(store().ReadInbox("bob", 5, 5, 10).size(), 0u);
  EXPECT_EQ(store().ReadInbox("bob", 0, kNoBound, 0).size(), 0u);
  EXPECT_EQ(store().ReadInbox("nobody", 0, kNoBound, 10).size(), 0u);
  const auto one = store().ReadInbox("bob", 7, kNoBound, 1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0], (StoredFrame{8, FrameKind::kChat, "m8", "to:bob:m8"}));
}

TEST_P(StoreContractTest, LargeBatchesOverManyUsersKeepEveryUsersSeqsContiguous) {
  // 257 chats = statements of 100, 10 and 7 rows in the SQL stores.
  std::vector<ChatWrite> chats;
  std::map<std::string, std::uint64_t> frames;
  std::map<std::string, std::int64_t> next_id;
  for (int i = 0; i < 257; ++i) {
    const std::string from = "user" + std::to_string(i % 13);
    const std::string to = "user" + std::to_string((i * 7 + 3) % 11 + 13);
    chats.push_back(Chat("m" + std::to_string(i), from, "d", ++next_id[from], to));
    ++frames[from];
    ++frames[to];
  }
  const BatchResult result = CommitChats(chats);
  ASSERT_EQ(result.chats.size(), 257u);
  for (const auto& [user, n] : frames) {
    EXPECT_EQ(Seqs(user), OneTo(n)) << user;
    EXPECT_EQ(store().LastSeq(user), n);
  }
  // Each chat's seqs point at its own frames.
  for (std::size_t i = 0; i < chats.size(); ++i) {
    const auto dest =
        store().ReadInbox(chats[i].dest_user, result.chats[i].dest_seq - 1, kNoBound, 1);
    ASSERT_EQ(dest.size(), 1u);
    EXPECT_EQ(dest[0].content, chats[i].dest_content);
    const auto copy =
        store().ReadInbox(chats[i].from_user, result.chats[i].sender_seq - 1, kNoBound, 1);
    ASSERT_EQ(copy.size(), 1u);
    EXPECT_EQ(copy[0].content, chats[i].sender_content);
  }
}

TEST_P(StoreContractTest, SyncCursorOnlyMovesForward) {
  EXPECT_EQ(store().SyncCursor("bob", "phone"), 0u);
  store().SetSyncCursor("bob", "phone", 5);
  EXPECT_EQ(store().SyncCursor("bob", "phone"), 5u);
  store().SetSyncCursor("bob", "phone", 3);
  EXPECT_EQ(store().SyncCursor("bob", "phone"), 5u);
  store().SetSyncCursor("bob", "phone", 9);
  EXPECT_EQ(store().SyncCursor("bob", "phone"), 9u);
  EXPECT_EQ(store().SyncCursor("bob", "laptop"), 0u);
  EXPECT_EQ(store().LastChatId("bob", "phone"), 0);  // a cursor is not a chat id
  // A device known through its cursor keeps it when it sends.
  (void)CommitChats({Chat("m1", "bob", "phone", 3, "alice")});
  EXPECT_EQ(store().SyncCursor("bob", "phone"), 9u);
  EXPECT_EQ(store().LastChatId("bob", "phone"), 3);
}

TEST_P(StoreContractTest, PurgeDeletesDeliveredFramesOlderThanTheBoundAndKeepsDedupe) {
  (void)CommitChats({Chat("m1", "alice", "phone", 1, "bob", kT0),
                     Chat("m2", "alice", "phone", 2, "bob", kT0 + 10),
                     Chat("m3", "alice", "phone", 3, "bob", kT0 + 1000)});
  (void)CommitReceipts({Receipt("m1", ReceiptKind::kDelivered, "alice", kT0 + 2000),
                        Receipt("m3", ReceiptKind::kDelivered, "alice", kT0 + 2000)});
  // bob's m1 (delivered, old) goes; m2 (not delivered) and m3 (delivered, too new) stay.
  EXPECT_EQ(store().PurgeDelivered(kT0 + 500, 100), 1u);
  EXPECT_EQ(Seqs("bob"), (std::vector<std::uint64_t>{2, 3}));
  EXPECT_EQ(Seqs("alice"), OneTo(5));  // sender copies and receipts: no device has synced
  EXPECT_EQ(store().PurgeDelivered(kT0 + 500, 100), 0u);

  // Dedupe and receipts still work for the purged chat.
  EXPECT_EQ(CommitChats({Chat("m9", "alice", "phone", 1, "bob")}).chats[0].outcome,
            ChatOutcome::kDuplicate);
  EXPECT_EQ(CommitReceipts({Receipt("m1", ReceiptKind::kRead, "alice")}).receipts[0].outcome,
            ReceiptOutcome::kRecorded);
  EXPECT_EQ(store().LastSeq("bob"), 3u);  // seqs are never reused
}

TEST_P(StoreContractTest, PurgeDeletesFramesEveryDeviceOfTheUserHasSynced) {
  std::vector<ChatWrite> chats;
  for (int i = 1; i <= 6; ++i) {
    chats.push_back(Chat("m" + std::to_string(i), "alice", "phone", i, "bob", kT0 + i));
  }
  (void)CommitChats(chats);
  store().SetSyncCursor("bob", "phone", 5);
  store().SetSyncCursor("bob", "laptop", 2);
  EXPECT_EQ(store().PurgeDelivered(kT0 + 100, 100), 2u);  // laptop holds back 3..5
  EXPECT_EQ(Seqs("bob"), (std::vector<std::uint64_t>{3, 4, 5, 6}));
  store().SetSyncCursor("bob", "laptop", 6);
  EXPECT_EQ(store().PurgeDelivered(kT0 + 4, 100), 1u);  // only frames created before the bound
  EXPECT_EQ(Seqs("bob"), (std::vector<std::uint64_t>{4, 5, 6}));
  // alice's only device ("phone" sent the chats) never synced: her copies stay.
  EXPECT_EQ(Seqs("alice"), OneTo(6));
}

TEST_P(StoreContractTest, PurgeStopsAtMaxRowsOldestFirst) {
  std::vector<ChatWrite> chats;
  for (int i = 1; i <= 5; ++i) {
    chats.push_back(Chat("m" + std::to_string(i), "alice", "phone", i, "bob", kT0 + 10 * i));
  }
  (void)CommitChats(chats);
  store().SetSyncCursor("bob", "phone", 5);
  EXPECT_EQ(store().PurgeDelivered(kT0 + 1000, 2), 2u);
  EXPECT_EQ(Seqs("bob"), (std::vector<std::uint64_t>{3, 4, 5}));
  EXPECT_EQ(store().PurgeDelivered(kT0 + 1000, 2), 2u);
  EXPECT_EQ(store().PurgeDelivered(kT0 + 1000, 2), 1u);
  EXPECT_EQ(store().PurgeDelivered(kT0 + 1000, 2), 0u);
}

TEST_P(StoreContractTest, BinaryContentRoundTripsByteForByte) {
  std::string bytes;
  for (int i = 0; i < 64 * 1024; ++i)
    bytes.push_back(static_cast<char>((i * 131 + i / 256) & 0xff));
  // NULs, invalid UTF-8 (a lone 0xff, a truncated sequence, a surrogate), quotes, backslash.
  static constexpr char kTricky[] = "\0\0\xff\xfe\xc3\x28\xa0\xa1\xed\xa0\x80'\"\\%_;";
  bytes += std::string(kTricky, sizeof(kTricky) - 1);
  ChatWrite chat = Chat("m1", "alice", "phone", 1, "bob");
  chat.dest_content = bytes;
  chat.sender_content = std::string("\0", 1) + bytes.substr(0, 1000);
  (void)CommitChats({chat});
  const auto bob = Inbox("bob");
  ASSERT_EQ(bob.size(), 1u);
  EXPECT_EQ(bob[0].content.size(), bytes.size());
  EXPECT_TRUE(bob[0].content == bytes);
  EXPECT_TRUE(Inbox("alice")[0].content == chat.sender_content);
}

TEST_P(StoreContractTest, UnicodeAndSqlLookingTextIsStoredLiterally) {
  const std::string tricky = "x'); DROP TABLE im_offline; -- \" \\ :p0 ?";
  ChatWrite chat = Chat("m'1\"", "o'hara", "ph:one", 1, "zo\xC3\xAB");  // zoë
  chat.dest_content = "{\"msgBody\":\"h\xC3\xA9llo \xF0\x9F\x8C\x8D \xE4\xB8\xAD\xE6\x96\x87\"}";
  chat.sender_content = tricky;
  const BatchResult result = CommitChats({chat});
  EXPECT_EQ(result.chats[0].outcome, ChatOutcome::kStored);
  EXPECT_EQ(Inbox("zo\xC3\xAB")[0], (StoredFrame{1, FrameKind::kChat, "m'1\"", chat.dest_content}));
  EXPECT_EQ(Inbox("o'hara")[0].content, tricky);
  EXPECT_EQ(store().FindChatMid("o'hara", "ph:one", 1), "m'1\"");
  EXPECT_EQ(store().FindChat("m'1\"")->dest_user, "zo\xC3\xAB");
  EXPECT_EQ(
      CommitReceipts({Receipt("m'1\"", ReceiptKind::kDelivered, "o'hara")}).receipts[0].outcome,
      ReceiptOutcome::kRecorded);
  EXPECT_EQ(store().LastSeq("zo\xC3\xAB"), 1u);
}

#if defined(SPARROW_TEST_MARIADB)
INSTANTIATE_TEST_SUITE_P(MariaDb, StoreContractTest, ::testing::Values(Backend::kMariaDb),
                         BackendTestName);
#else
INSTANTIATE_TEST_SUITE_P(Local, StoreContractTest,
                         ::testing::Values(Backend::kInMemory, Backend::kSqlite), BackendTestName);
#endif

}  // namespace
}  // namespace sparrow::testing
