#include "offline/sql.hpp"

#include <gtest/gtest.h>

#include <numeric>

namespace sparrow::offline {
namespace {

TEST(SqlTest, BytesPlaceholdersAreWrappedPerDialect) {
  EXPECT_EQ(Placeholder(Dialect::kSqlite, SqlType::kText, 3), ":p3");
  EXPECT_EQ(Placeholder(Dialect::kSqlite, SqlType::kBytes, 0), "CAST(:p0 AS BLOB)");
  EXPECT_EQ(Placeholder(Dialect::kMySql, SqlType::kBytes, 7), "_binary :p7");
  EXPECT_EQ(Placeholder(Dialect::kMySql, SqlType::kInt, 1), ":p1");
}

TEST(SqlTest, ValuesRowsNumberPlaceholdersRowMajor) {
  const SqlType row[] = {SqlType::kText, SqlType::kInt, SqlType::kBytes};
  EXPECT_EQ(ValuesRows(Dialect::kMySql, row, 2),
            "(:p0, :p1, _binary :p2), (:p3, :p4, _binary :p5)");
  EXPECT_EQ(ValuesRows(Dialect::kSqlite, row, 1, 10), "(:p10, :p11, CAST(:p12 AS BLOB))");
}

TEST(SqlTest, InListAndKeyMatches) {
  EXPECT_EQ(InList(Dialect::kSqlite, SqlType::kText, 3), "(:p0, :p1, :p2)");
  const std::string_view columns[] = {"a", "b"};
  const SqlType types[] = {SqlType::kText, SqlType::kInt};
  EXPECT_EQ(KeyMatches(Dialect::kMySql, columns, types, 2),
            "(a = :p0 AND b = :p1) OR (a = :p2 AND b = :p3)");
}

TEST(SqlTest, CaseWhenPairsKeysWithValues) {
  EXPECT_EQ(CaseWhen(Dialect::kMySql, "mid", SqlType::kText, SqlType::kInt, 2),
            "CASE mid WHEN :p0 THEN :p1 WHEN :p2 THEN :p3 END");
  EXPECT_EQ(CaseWhen(Dialect::kSqlite, "k", SqlType::kInt, SqlType::kBytes, 1, 4),
            "CASE k WHEN :p4 THEN CAST(:p5 AS BLOB) END");
}

TEST(SqlTest, UpsertClausesPerDialect) {
  const UpsertColumn merges[] = {{"last_seq", Merge::kAdd}, {"last_id", Merge::kMax}};
  EXPECT_EQ(UpsertClause(Dialect::kMySql, "user_id", merges),
            "ON DUPLICATE KEY UPDATE last_seq = last_seq + VALUES(last_seq), "
            "last_id = GREATEST(last_id, VALUES(last_id))");
  EXPECT_EQ(UpsertClause(Dialect::kSqlite, "user_id, device_id", merges),
            "ON CONFLICT(user_id, device_id) DO UPDATE SET last_seq = last_seq + "
            "excluded.last_seq, last_id = MAX(last_id, excluded.last_id)");
  EXPECT_EQ(ForUpdate(Dialect::kMySql), " FOR UPDATE");
  EXPECT_EQ(ForUpdate(Dialect::kSqlite), "");
}

std::vector<std::size_t> Plan(std::size_t rows, std::size_t bytes_each = 0,
                              std::size_t max = kMaxChunkBytes) {
  const std::vector<std::size_t> sizes(rows, bytes_each);
  return PlanChunks(sizes, max);
}

TEST(SqlTest, ChunksUseTheLargestSizesFirst) {
  EXPECT_EQ(Plan(0), std::vector<std::size_t>{});
  EXPECT_EQ(Plan(1), std::vector<std::size_t>{1});
  EXPECT_EQ(Plan(100), std::vector<std::size_t>{100});
  EXPECT_EQ(Plan(2), std::vector<std::size_t>{2});
  EXPECT_EQ(Plan(257), (std::vector<std::size_t>{100, 100, 10, 10, 10, 10, 10, 7}));
  EXPECT_EQ(Plan(1000).size(), 10u);
}

TEST(SqlTest, ChunksStayUnderTheByteBoundAndNeverSplitARow) {
  // Rows of 600 bytes with a 1000-byte bound: one row per statement.
  EXPECT_EQ(Plan(3, 600, 1000), (std::vector<std::size_t>{1, 1, 1}));
  // 15 rows of 100 bytes, 750-byte bound: 10 do not fit, so 7, then 7, then the last one.
  EXPECT_EQ(Plan(15, 100, 750), (std::vector<std::size_t>{7, 7, 1}));
  // 100-byte rows, 1500-byte bound: 10-row chunks (1000 bytes), not 100.
  EXPECT_EQ(Plan(20, 100, 1500), (std::vector<std::size_t>{10, 10}));
  // A row larger than the bound still goes, alone.
  EXPECT_EQ(Plan(1, 5000, 1000), std::vector<std::size_t>{1});
  const std::vector<std::size_t> mixed = {10, 10, 5000, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10};
  const auto chunks = PlanChunks(mixed, 1000);
  EXPECT_EQ(std::accumulate(chunks.begin(), chunks.end(), std::size_t{0}), mixed.size());
  EXPECT_EQ(chunks[0], 2u);  // the two small rows before the big one
  EXPECT_EQ(chunks[1], 1u);  // the big row alone
}

}  // namespace
}  // namespace sparrow::offline
