// SQL text building for the two dialects Sparrow runs on (SQLite, MySQL/MariaDB), and the
// chunking of multi-row statements. Pure functions: thread-safe, no I/O.
//
// Every value reaches the database as a bound parameter: these helpers only write placeholders
// (`:p0`, `:p1`, ... numbered in the order the values are bound), never values.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sparrow::offline {

enum class Dialect { kSqlite, kMySql };

// What a bound parameter or a result column holds.
enum class SqlType {
  kText,   // UTF-8 text (ids), bound as std::string
  kInt,    // a signed 64-bit integer
  kBytes,  // opaque bytes, bound as std::string; see Placeholder()
};

// The placeholder for parameter number `n`. Bytes are wrapped so that they are stored exactly:
// SQLite `CAST(:pN AS BLOB)` (SOCI binds std::string as TEXT), MySQL `_binary :pN` (SOCI's
// MySQL backend sends values inside the statement text, in the connection's utf8mb4 charset,
// which would reject or alter invalid UTF-8).
std::string Placeholder(Dialect dialect, SqlType type, std::size_t n);

// `rows` row constructors of `columns`: "(:p0, :p1), (:p2, :p3)" for two rows of two columns,
// numbered from `first` in row-major order (the order in which values must be bound).
std::string ValuesRows(Dialect dialect, std::span<const SqlType> columns, std::size_t rows,
                       std::size_t first = 0);

// "(:p0, :p1, :p2)": an IN list of `n` parameters of one type, numbered from `first`.
std::string InList(Dialect dialect, SqlType type, std::size_t n, std::size_t first = 0);

// "(a = :p0 AND b = :p1) OR (a = :p2 AND b = :p3)": `rows` matches of a composite key, for
// lookups by several keys in one statement (both dialects use the index for each term).
std::string KeyMatches(Dialect dialect, std::span<const std::string_view> columns,
                       std::span<const SqlType> types, std::size_t rows, std::size_t first = 0);

// "CASE key WHEN :p0 THEN :p1 WHEN :p2 THEN :p3 END": a per-row value for a multi-row UPDATE,
// `rows` (key, value) pairs numbered from `first`.
std::string CaseWhen(Dialect dialect, std::string_view key_column, SqlType key_type,
                     SqlType value_type, std::size_t rows, std::size_t first = 0);

// How an upsert merges the new value of a column into the existing row.
enum class Merge { kAdd, kMax };
struct UpsertColumn {
  std::string_view column;
  Merge merge;
};
// The conflict clause of `INSERT ... VALUES ...` that turns it into an upsert on `key_columns`
// (the primary key): MySQL `ON DUPLICATE KEY UPDATE c = c + VALUES(c)` / `GREATEST(...)`,
// SQLite `ON CONFLICT(key) DO UPDATE SET c = c + excluded.c` / `MAX(...)`.
std::string UpsertClause(Dialect dialect, std::string_view key_columns,
                         std::span<const UpsertColumn> merges);

// " FOR UPDATE" on MySQL (lock the rows read, inside a transaction); "" on SQLite, whose
// writers are already serialized by BEGIN IMMEDIATE.
std::string_view ForUpdate(Dialect dialect);

// Multi-row statements are prepared for a few row counts only, so that a handful of statements
// covers every batch and each is prepared once per connection: 100 and 10 rows, and every
// count below 10 (a remainder goes out as one statement of its exact size: a commit of one
// chat sends one statement per table, not one per row).
inline constexpr std::size_t kChunkRows[] = {100, 10};
inline constexpr std::size_t kMaxRemainderRows = 9;

// The largest statement we send, in bytes of values: stays well under MySQL's default
// max_allowed_packet (16 MiB) even when escaping doubles the bytes.
inline constexpr std::size_t kMaxChunkBytes = 4 * 1024 * 1024;

// Splits rows into chunks: 100-row chunks while at least 100 rows remain, then 10-row chunks,
// then the remainder (1..9 rows) as one chunk. A chunk of more than one row never exceeds
// `max_bytes` of values (`row_bytes[i]` is row i's size): it shrinks to the next size that fits,
// down to a single row (a row is never split). Returns the chunk sizes, in order; they sum to
// row_bytes.size().
std::vector<std::size_t> PlanChunks(std::span<const std::size_t> row_bytes,
                                    std::size_t max_bytes = kMaxChunkBytes);

}  // namespace sparrow::offline
