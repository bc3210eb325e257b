// What only a real database shows: several writers (each with its own connection) on one
// database, migrations run twice or at once, and a MySQL connection killed under the store.
// The behavioural contract itself is testing/store_contract_test.cpp.
//
// Built twice: on SQLite (offline_sqlite_test) and on MariaDB (offline_mariadb_test, compiled
// with SPARROW_TEST_MARIADB; skipped without SPARROW_TEST_MYSQL_URL).
#include "offline/soci_message_store.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <thread>

#include "offline/database.hpp"
#include "offline/schema.hpp"
#include "offline/store_error.hpp"
#include "testing/manual_clock.hpp"
#include "testing/mariadb.hpp"
#include "testing/temp_dir.hpp"

namespace sparrow::offline {
namespace {

constexpr std::uint64_t kNoBound = ~std::uint64_t{0};

// One database shared by every store a test opens.
class SociStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
#if defined(SPARROW_TEST_MARIADB)
    const auto server = testing::MariaDbDatabase::ServerUrl();
    if (!server) GTEST_SKIP() << testing::MariaDbDatabase::kSkipMessage;
    mariadb_ = std::make_unique<testing::MariaDbDatabase>(*server);
    url_ = mariadb_->url();
#else
    url_ = "sqlite:" + (dir_.path() / "store.db").string();
#endif
  }

  DbOptions Options() const { return DbOptions{.url = url_}; }
  std::unique_ptr<SociMessageStore> OpenStore() {
    return std::make_unique<SociMessageStore>(Options(), clock_);
  }

  static ChatWrite Chat(const std::string& mid, const std::string& from, const std::string& device,
                        std::int64_t id, const std::string& dest) {
    return ChatWrite{mid, from, device, id, dest, 1764430000000, "to:" + mid, "copy:" + mid};
  }

  // Kills the store's connection from another session, as a server restart or a network failure
  // would. The next call either succeeds after reconnecting or throws a retryable StoreError,
  // and the one after succeeds.
  template <typename Call>
  void ExpectRecoversAfterKill(SociMessageStore& store, Call call) {
    ASSERT_NE(mariadb_, nullptr);
    const std::int64_t id = store.database().ConnectionId();
    ASSERT_GT(id, 0);
    mariadb_->AdminExecute("KILL " + std::to_string(id));
    try {
      call();
    } catch (const StoreError& e) {
      EXPECT_TRUE(e.retryable()) << e.what();
      call();
    }
    EXPECT_NE(store.database().ConnectionId(), id);
  }

  testing::ManualClock clock_;
  testing::TempDir dir_;
  std::unique_ptr<testing::MariaDbDatabase> mariadb_;
  std::string url_;
};

TEST_F(SociStoreTest, ConcurrentWritersKeepEveryUsersSeqsGaplessAndUnique) {
  // Four writers, each with its own connection, commit batches between six users who all
  // overlap, as bridge processes do. Every user must end with seqs exactly 1..N.
  constexpr int kWriters = 4;
  constexpr int kBatches = 25;
  constexpr int kBatchSize = 12;
  const std::vector<std::string> users = {"u0", "u1", "u2", "u3", "u4", "u5"};
  std::vector<std::unique_ptr<SociMessageStore>> stores;
  for (int w = 0; w < kWriters; ++w) stores.push_back(OpenStore());

  std::vector<std::map<std::string, std::uint64_t>> frames(kWriters);  // per writer: user -> n
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(static_cast<unsigned>(w));
      std::int64_t next_id = 0;
      try {
        for (int b = 0; b < kBatches; ++b) {
          WriteBatch batch;
          for (int i = 0; i < kBatchSize; ++i) {
            const std::size_t f = rng() % users.size();
            const std::size_t t = (f + 1 + rng() % (users.size() - 1)) % users.size();
            const std::string& from = users[f];
            const std::string& to = users[t];
            ++next_id;
            batch.chats.push_back(Chat("w" + std::to_string(w) + "-" + std::to_string(next_id),
                                       from, "writer" + std::to_string(w), next_id, to));
            ++frames[w][from];
            ++frames[w][to];
          }
          const BatchResult result = stores[w]->Commit(batch);
          for (const ChatResult& chat : result.chats) {
            if (chat.outcome != ChatOutcome::kStored) ++failures;
          }
        }
      } catch (const std::exception& e) {
        ADD_FAILURE() << "writer " << w << ": " << e.what();
        ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  std::uint64_t retries = 0;
  for (const auto& store : stores) retries += store->database().retries();
  RecordProperty("transaction_retries", static_cast<int>(retries));

  auto reader = OpenStore();
  for (const std::string& user : users) {
    std::uint64_t expected = 0;
    for (const auto& per_writer : frames) {
      auto it = per_writer.find(user);
      if (it != per_writer.end()) expected += it->second;
    }
    std::vector<std::uint64_t> seqs;
    std::set<std::string> seen_frames;
    for (const StoredFrame& frame : reader->ReadInbox(user, 0, kNoBound, 1000000)) {
      seqs.push_back(frame.seq);
      EXPECT_TRUE(seen_frames.insert(frame.content).second) << "stored twice: " << frame.content;
    }
    ASSERT_EQ(seqs.size(), expected) << user;
    for (std::size_t i = 0; i < seqs.size(); ++i) ASSERT_EQ(seqs[i], i + 1) << user;
    EXPECT_EQ(reader->LastSeq(user), expected);
  }
}

TEST_F(SociStoreTest, ConcurrentRepeatsOfOneChatAreStoredOnce) {
  // Two writers race to store the same (user, device, id) under different mids (a chat and its
  // retransmission reaching two bridges). Exactly one wins; the other answers with its mid.
  constexpr int kChats = 60;
  auto a = OpenStore();
  auto b = OpenStore();
  std::vector<BatchResult> results_a;
  std::vector<BatchResult> results_b;
  auto run = [&](SociMessageStore& store, const std::string& tag,
                 std::vector<BatchResult>& results) {
    try {
      for (int i = 1; i <= kChats; i += 3) {
        WriteBatch batch;
        for (int k = i; k < i + 3; ++k) {
          batch.chats.push_back(Chat(tag + std::to_string(k), "alice", "phone", k, "bob"));
        }
        results.push_back(store.Commit(batch));
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << tag << ": " << e.what();
    }
  };
  std::thread ta([&] { run(*a, "a", results_a); });
  std::thread tb([&] { run(*b, "b", results_b); });
  ta.join();
  tb.join();
  ASSERT_EQ(results_a.size(), results_b.size());
  RecordProperty("transaction_retries",
                 static_cast<int>(a->database().retries() + b->database().retries()));

  for (std::size_t r = 0; r < results_a.size(); ++r) {
    for (std::size_t c = 0; c < 3; ++c) {
      const ChatResult& x = results_a[r].chats[c];
      const ChatResult& y = results_b[r].chats[c];
      EXPECT_NE(x.outcome == ChatOutcome::kStored, y.outcome == ChatOutcome::kStored);
      EXPECT_EQ(x.mid, y.mid);
      EXPECT_EQ(x.dest_seq, y.dest_seq);
    }
  }
  EXPECT_EQ(a->LastSeq("bob"), static_cast<std::uint64_t>(kChats));
  EXPECT_EQ(a->LastChatId("alice", "phone"), kChats);
}

TEST_F(SociStoreTest, ReopeningKeepsDataAndAppliesNoMigrationTwice) {
  {
    auto store = OpenStore();
    (void)store->Commit(WriteBatch{{Chat("m1", "alice", "phone", 1, "bob")}, {}});
  }
  auto store = OpenStore();
  EXPECT_EQ(SchemaVersion(store->database()), kSchemaVersion);
  EXPECT_EQ(store->LastSeq("bob"), 1u);
  long long rows = 0;
  store->database().session() << "SELECT COUNT(*) FROM sparrow_schema", soci::into(rows);
  EXPECT_EQ(rows, static_cast<long long>(Migrations().size()));
}

TEST_F(SociStoreTest, ProcessesStartingTogetherMigrateOnce) {
  constexpr int kOpeners = 4;
  std::vector<std::thread> threads;
  std::atomic<int> opened{0};
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&] {
      try {
        auto store = OpenStore();
        if (store->LastSeq("nobody") == 0) ++opened;
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(opened.load(), kOpeners);
  auto store = OpenStore();
  long long rows = 0;
  store->database().session() << "SELECT COUNT(*) FROM sparrow_schema", soci::into(rows);
  EXPECT_EQ(rows, static_cast<long long>(Migrations().size()));
}

TEST_F(SociStoreTest, NewerSchemaIsRefusedWithANonRetryableError) {
  {
    auto store = OpenStore();
    store->database().Execute(
        "INSERT INTO sparrow_schema (version, description, applied_at) VALUES (999, 'future', 0)");
  }
  try {
    auto store = OpenStore();
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_FALSE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("999"), std::string::npos) << e.what();
  }
}

#if defined(SPARROW_TEST_MARIADB)  // a SQLite file has no connection to lose
TEST_F(SociStoreTest, KilledMySqlConnectionIsReopenedByTheNextCalls) {
  auto store = OpenStore();
  (void)store->Commit(WriteBatch{{Chat("m1", "alice", "phone", 1, "bob")}, {}});

  ExpectRecoversAfterKill(*store, [&] { EXPECT_EQ(store->LastSeq("bob"), 1u); });
  ExpectRecoversAfterKill(*store, [&] {
    const BatchResult result =
        store->Commit(WriteBatch{{Chat("m2", "alice", "phone", 2, "bob")}, {}});
    EXPECT_EQ(result.chats[0].dest_seq, 2u);
  });
  ExpectRecoversAfterKill(*store,
                          [&] { EXPECT_EQ(store->ReadInbox("bob", 0, kNoBound, 10).size(), 2u); });
  // Nothing was lost or written twice.
  EXPECT_EQ(store->LastSeq("bob"), 2u);
  EXPECT_EQ(store->LastChatId("alice", "phone"), 2);
}
#endif

}  // namespace
}  // namespace sparrow::offline
