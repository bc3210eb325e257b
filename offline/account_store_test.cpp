// AccountStore on SQLite (offline_sqlite_test) and MariaDB (offline_mariadb_test).
#include "offline/account_store.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

#include "offline/store_error.hpp"
#include "testing/manual_clock.hpp"
#include "testing/mariadb.hpp"
#include "testing/temp_dir.hpp"

namespace sparrow::offline {
namespace {

class AccountStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
#if defined(SPARROW_TEST_MARIADB)
    const auto server = testing::MariaDbDatabase::ServerUrl();
    if (!server) GTEST_SKIP() << testing::MariaDbDatabase::kSkipMessage;
    mariadb_ = std::make_unique<testing::MariaDbDatabase>(*server);
    const std::string url = mariadb_->url();
#else
    const std::string url = "sqlite:" + (dir_.path() / "accounts.db").string();
#endif
    store_ = std::make_unique<AccountStore>(DbOptions{.url = url}, clock_);
  }
  void TearDown() override { store_.reset(); }

  AccountStore& store() { return *store_; }

  testing::ManualClock clock_{1764430000000};
  testing::TempDir dir_;
  std::unique_ptr<testing::MariaDbDatabase> mariadb_;
  std::unique_ptr<AccountStore> store_;
};

TEST_F(AccountStoreTest, CreateUserOnceThenTaken) {
  EXPECT_EQ(store().CreateUser("alice", "$argon2id$hash1"), CreateUserResult::kCreated);
  EXPECT_EQ(store().CreateUser("alice", "$argon2id$other"), CreateUserResult::kTaken);
  EXPECT_EQ(store().GetUser("alice"), (UserRecord{"alice", "$argon2id$hash1", 0, 1764430000000}));
  EXPECT_FALSE(store().GetUser("bob").has_value());
}

TEST_F(AccountStoreTest, PasswordHashAndTokenEpochUpdateExistingUsersOnly) {
  (void)store().CreateUser("alice", "h1");
  EXPECT_TRUE(store().SetPasswordHash("alice", "h2"));
  EXPECT_TRUE(store().SetPasswordHash("alice", "h2"));  // same value: still found
  EXPECT_TRUE(store().SetTokenEpoch("alice", 1764430005000));
  EXPECT_EQ(store().GetUser("alice")->password_hash, "h2");
  EXPECT_EQ(store().GetUser("alice")->token_epoch, 1764430005000);
  EXPECT_FALSE(store().SetPasswordHash("bob", "h"));
  EXPECT_FALSE(store().SetTokenEpoch("bob", 1));
}

TEST_F(AccountStoreTest, RevokedSinceListsUsersWithARecentTokenEpoch) {
  (void)store().CreateUser("alice", "h");
  (void)store().CreateUser("bob", "h");
  (void)store().CreateUser("carol", "h");
  EXPECT_TRUE(store().SetTokenEpoch("alice", 1000));
  EXPECT_TRUE(store().SetTokenEpoch("carol", 3000));
  EXPECT_EQ(store().RevokedSince(500),
            (std::vector<std::pair<std::string, std::int64_t>>{{"alice", 1000}, {"carol", 3000}}));
  EXPECT_EQ(store().RevokedSince(1000),
            (std::vector<std::pair<std::string, std::int64_t>>{{"carol", 3000}}));
}

TEST_F(AccountStoreTest, FriendRequestsAreDirected) {
  EXPECT_TRUE(store().AddFriendRequest("alice", "bob"));
  EXPECT_FALSE(store().AddFriendRequest("alice", "bob"));
  EXPECT_TRUE(store().AddFriendRequest("carol", "bob"));
  EXPECT_TRUE(store().FriendRequestExists("alice", "bob"));
  EXPECT_FALSE(store().FriendRequestExists("bob", "alice"));
  EXPECT_EQ(store().IncomingRequests("bob"), (std::vector<std::string>{"alice", "carol"}));
  EXPECT_EQ(store().OutgoingRequests("alice"), (std::vector<std::string>{"bob"}));
  EXPECT_TRUE(store().DeleteFriendRequest("carol", "bob"));
  EXPECT_FALSE(store().DeleteFriendRequest("carol", "bob"));
  EXPECT_EQ(store().IncomingRequests("bob"), (std::vector<std::string>{"alice"}));
  EXPECT_THROW((void)store().AddFriendRequest("alice", "alice"), std::invalid_argument);
}

TEST_F(AccountStoreTest, CreateRelationOrdersThePairAndClearsRequestsBothWays) {
  (void)store().AddFriendRequest("zed", "amy");
  (void)store().AddFriendRequest("amy", "zed");
  EXPECT_EQ(store().CreateRelation("zed", "amy", "sealed-key"), CreateRelationResult::kCreated);
  EXPECT_EQ(store().CreateRelation("amy", "zed", "other"), CreateRelationResult::kAlreadyFriends);
  EXPECT_TRUE(store().AreFriends("amy", "zed"));
  EXPECT_TRUE(store().AreFriends("zed", "amy"));
  EXPECT_FALSE(store().AreFriends("amy", "bob"));
  EXPECT_FALSE(store().AreFriends("amy", "amy"));
  EXPECT_FALSE(store().FriendRequestExists("zed", "amy"));
  EXPECT_FALSE(store().FriendRequestExists("amy", "zed"));
  EXPECT_EQ(store().Relations("zed"), (std::vector<RelationRecord>{{"amy", "sealed-key"}}));
  EXPECT_EQ(store().Relations("amy"), (std::vector<RelationRecord>{{"zed", "sealed-key"}}));
  EXPECT_THROW((void)store().CreateRelation("amy", "amy", "k"), std::invalid_argument);
}

TEST_F(AccountStoreTest, RelationsListsEveryFriendSortedWithKeys) {
  (void)store().CreateRelation("mia", "ann", "k-ann");
  (void)store().CreateRelation("mia", "zoe", "k-zoe");
  (void)store().CreateRelation("bob", "mia", "k-bob");
  (void)store().CreateRelation("ann", "zoe", "k-other");
  EXPECT_EQ(store().Relations("mia"),
            (std::vector<RelationRecord>{{"ann", "k-ann"}, {"bob", "k-bob"}, {"zoe", "k-zoe"}}));
  EXPECT_TRUE(store().Relations("nobody").empty());
}

TEST_F(AccountStoreTest, DeleteRelationInEitherOrder) {
  (void)store().CreateRelation("amy", "bob", "k");
  EXPECT_TRUE(store().DeleteRelation("bob", "amy"));
  EXPECT_FALSE(store().DeleteRelation("amy", "bob"));
  EXPECT_FALSE(store().AreFriends("amy", "bob"));
}

TEST_F(AccountStoreTest, FilesRoundTripAndIdsAreUnique) {
  const FileRecord file{"f0123456789abcdefghijklmnopqrstu",
                        "alice",
                        "bob",
                        std::string(64, 'a'),
                        104857600,
                        1764430000123};
  store().InsertFile(file);
  EXPECT_EQ(store().GetFile(file.file_id), file);
  EXPECT_FALSE(store().GetFile("missing").has_value());
  try {
    store().InsertFile(file);
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_FALSE(e.retryable());
  }
}

TEST_F(AccountStoreTest, TextIsStoredLiterally) {
  const std::string hash = "$argon2id$v=19$m=65536,t=2,p=1$'; DROP TABLE im_user; --";
  EXPECT_EQ(store().CreateUser("o'brien", hash), CreateUserResult::kCreated);
  EXPECT_EQ(store().GetUser("o'brien")->password_hash, hash);
}

}  // namespace
}  // namespace sparrow::offline
