// Database on a private in-memory SQLite database: statements, the transaction retry policy and
// error classification. (Lost connections are tested against MariaDB in
// soci_message_store_test.cpp.)
#include "offline/database.hpp"

#include <gtest/gtest.h>

#include "offline/schema.hpp"
#include "offline/store_error.hpp"

namespace sparrow::offline {
namespace {

class DatabaseTest : public ::testing::Test {
 protected:
  DatabaseTest() : db_(DbOptions{.url = "sqlite::memory:", .max_attempts = 3}) {
    db_.Execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
  }
  long long Count() {
    long long n = 0;
    db_.session() << "SELECT COUNT(*) FROM t", soci::into(n);
    return n;
  }
  void Insert(long long k) {
    Statement& st = db_.Cached("insert", [] {
      return Database::StatementSpec{"INSERT INTO t (k, v) VALUES (:p0, 'x')", {SqlType::kInt}, {}};
    });
    st.Bind(0, std::int64_t{k});
    st.Execute();
  }
  Database db_;
};

TEST_F(DatabaseTest, OpensWithTheCurrentSchema) {
  EXPECT_EQ(SchemaVersion(db_), kSchemaVersion);
  EXPECT_EQ(db_.dialect(), Dialect::kSqlite);
  EXPECT_EQ(db_.ConnectionId(), 0);
}

TEST_F(DatabaseTest, CachedStatementsAreReusedWithNewValuesAndNullsReadAsEmpty) {
  for (int k = 1; k <= 3; ++k) Insert(k);
  db_.Execute("INSERT INTO t (k, v) VALUES (4, NULL)");
  Statement& query = db_.Cached("query", [] {
    return Database::StatementSpec{"SELECT k, v FROM t WHERE k >= :p0 ORDER BY k",
                                   {SqlType::kInt},
                                   {SqlType::kInt, SqlType::kText}};
  });
  EXPECT_EQ(&query, &db_.Cached("query", [] { return Database::StatementSpec{}; }));
  query.Bind(0, std::int64_t{3});
  ASSERT_TRUE(query.Execute());
  EXPECT_EQ(query.Int(0), 3);
  EXPECT_EQ(query.Text(1), "x");
  ASSERT_TRUE(query.Next());
  EXPECT_EQ(query.Int(0), 4);
  EXPECT_TRUE(query.IsNull(1));
  EXPECT_EQ(query.Text(1), "");
  EXPECT_FALSE(query.Next());
  query.Bind(0, std::int64_t{10});
  EXPECT_FALSE(query.Execute());
}

TEST_F(DatabaseTest, TransientErrorsRerunTheWholeTransaction) {
  int runs = 0;
  db_.WriteTransaction([&] {
    ++runs;
    Insert(runs);
    if (runs == 1) throw soci::sqlite3_soci_error("database is locked", 5);
  });
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(Count(), 1);  // the first attempt was rolled back
}

TEST_F(DatabaseTest, UniqueViolationsAreRetriedOnlyWhenAsked) {
  Insert(1);
  int runs = 0;
  try {
    db_.WriteTransaction([&] {
      ++runs;
      Insert(1);
    });
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_FALSE(e.retryable());
  }
  EXPECT_EQ(runs, 1);

  runs = 0;
  db_.WriteTransaction(
      [&] {
        ++runs;
        Insert(runs == 1 ? 1 : 2);  // the second attempt "looks again" and avoids the key
      },
      /*retry_on_unique=*/true);
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(Count(), 2);
}

TEST_F(DatabaseTest, GivesUpAfterMaxAttemptsWithARetryableError) {
  int runs = 0;
  try {
    db_.WriteTransaction([&] {
      ++runs;
      throw soci::sqlite3_soci_error("database is locked", 5);
    });
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_TRUE(e.retryable());
  }
  EXPECT_EQ(runs, 3);
}

TEST_F(DatabaseTest, OtherExceptionsRollBackAndPassThrough) {
  EXPECT_THROW(db_.WriteTransaction([&] {
    Insert(7);
    throw std::logic_error("bug");
  }),
               std::logic_error);
  EXPECT_EQ(Count(), 0);
  db_.WriteTransaction([&] { Insert(8); });  // the connection is still usable
  EXPECT_EQ(Count(), 1);
}

TEST(ClassifyDbErrorTest, MapsBackendErrorNumbers) {
  EXPECT_EQ(ClassifyDbError(soci::mysql_soci_error("gone", 2006)), DbErrorKind::kConnectionLost);
  EXPECT_EQ(ClassifyDbError(soci::mysql_soci_error("lost", 2013)), DbErrorKind::kConnectionLost);
  EXPECT_EQ(ClassifyDbError(soci::mysql_soci_error("killed", 1927)), DbErrorKind::kConnectionLost);
  EXPECT_EQ(ClassifyDbError(soci::mysql_soci_error("deadlock", 1213)), DbErrorKind::kTransient);
  EXPECT_EQ(ClassifyDbError(soci::mysql_soci_error("lock wait", 1205)), DbErrorKind::kTransient);
  EXPECT_EQ(ClassifyDbError(soci::mysql_soci_error("dup", 1062)), DbErrorKind::kUniqueViolation);
  EXPECT_EQ(ClassifyDbError(soci::mysql_soci_error("syntax", 1064)), DbErrorKind::kOther);
  EXPECT_EQ(ClassifyDbError(soci::sqlite3_soci_error("busy", 5)), DbErrorKind::kTransient);
  EXPECT_EQ(ClassifyDbError(soci::sqlite3_soci_error("UNIQUE constraint failed: t.k", 19)),
            DbErrorKind::kUniqueViolation);
  EXPECT_EQ(ClassifyDbError(soci::sqlite3_soci_error("CHECK constraint failed: x", 19)),
            DbErrorKind::kOther);
  EXPECT_EQ(ClassifyDbError(soci::soci_error("other")), DbErrorKind::kOther);
}

TEST(DatabaseOpenTest, RefusesAMySqlUrlWithoutDatabase) {
  EXPECT_THROW(Database(DbOptions{.url = "mysql://root@127.0.0.1:1/"}), common::ConfigError);
}

TEST(DatabaseOpenTest, UnreachableServerIsARetryableStoreError) {
  try {
    Database db(DbOptions{.url = "mysql://root@127.0.0.1:1/db"});
    FAIL() << "expected StoreError";
  } catch (const StoreError& e) {
    EXPECT_TRUE(e.retryable()) << e.what();
  }
}

}  // namespace
}  // namespace sparrow::offline
