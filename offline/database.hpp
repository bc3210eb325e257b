// One connection to Sparrow's database (SQLite or MySQL/MariaDB, through SOCI): the dialect, the
// schema migrations run at open, a cache of prepared statements, transactions with internal
// retries, and reconnection after a lost MySQL connection.
//
// This is the SOCI adapter shared by SociMessageStore and AccountStore; nothing above offline/
// needs to include it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "offline/db_url.hpp"
#include "offline/soci_headers.hpp"
#include "offline/sql.hpp"

namespace sparrow::offline {

// A statement prepared once and executed many times. Its parameters and result columns are
// bound to buffers it owns (SOCI binds by reference), so a re-execution only writes new values
// into them. Owned by a Database (see Database::Cached); not thread-safe.
class Statement {
 public:
  // `sql` holds one placeholder per entry of `params`, in order (see sql.hpp); `columns` lists
  // the result columns of a query (empty for other statements). Throws soci::soci_error.
  Statement(soci::session& session, std::string sql, std::vector<SqlType> params,
            std::vector<SqlType> columns);
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Sets parameter `i` (kText or kBytes / kInt).
  void Bind(std::size_t i, std::string_view value) { params_[i].text.assign(value); }
  void Bind(std::size_t i, std::int64_t value) { params_[i].integer = value; }

  // Runs the statement with the bound values. For a query, loads the first row and returns
  // whether there was one; for other statements returns false. Throws soci::soci_error; the
  // statement stays usable (it is prepared again at the next Execute).
  bool Execute();
  // Loads the next row of a query; false when there are no more.
  bool Next();
  // SQLite only: ends the current execution (sqlite3_reset). A query stepped to one row and left
  // alone keeps SQLite's implicit transaction open: the connection then holds its read
  // snapshot, and any write it made in autocommit mode stays uncommitted with the write lock
  // held. Database calls it for every cached statement after each Run/WriteTransaction body.
  void ResetSqlite();

  // Columns of the current row; NULL reads as 0 / "".
  std::int64_t Int(std::size_t column) const { return columns_[column].integer; }
  const std::string& Text(std::size_t column) const { return columns_[column].text; }
  bool IsNull(std::size_t column) const { return columns_[column].indicator == soci::i_null; }

  // Rows changed by the last Execute() of an INSERT/UPDATE/DELETE. On MySQL, SOCI connects
  // with CLIENT_FOUND_ROWS, so an UPDATE counts the rows matched by its WHERE clause.
  long long AffectedRows() { return statement_->get_affected_rows(); }

  const std::string& sql() const { return sql_; }

 private:
  struct Slot {
    std::string text;
    long long integer = 0;  // SOCI's 64-bit exchange type
    soci::indicator indicator = soci::i_ok;
  };
  // Prepares statement_ and binds it to the slots.
  void Prepare();
  // SOCI leaves a variable untouched when its column is NULL: clear it, so a NULL never shows
  // the previous row's value.
  void ClearNullColumns();

  soci::session& session_;
  std::string sql_;
  std::vector<SqlType> param_types_;
  std::vector<SqlType> column_types_;
  std::vector<Slot> params_;   // sized once: SOCI keeps pointers into them
  std::vector<Slot> columns_;  // sized once
  // Declared last: destroyed before the buffers it points into. Null after a failed execution
  // until prepared again.
  std::unique_ptr<soci::statement> statement_;
};

// What a database error means for the caller; see ClassifyDbError.
enum class DbErrorKind {
  kConnectionLost,   // MySQL connection gone (2006, 2013, killed, ...): reconnect and retry
  kTransient,        // deadlock, lock wait timeout, SQLITE_BUSY/LOCKED: retry the transaction
  kUniqueViolation,  // duplicate key (MySQL 1062, SQLite UNIQUE constraint failed)
  kOther,            // everything else: a bug, a full disk, a broken schema
};
DbErrorKind ClassifyDbError(const soci::soci_error& error);

// One database connection (one soci::session) and what goes with it.
//
// Threads: NOT thread-safe. Use one Database per thread (each owns its own connection); several
// Databases, in one process or many, may share one SQLite file or MySQL database.
//
// Errors: every method throws StoreError (retryable() as documented there) for failures of the
// database, after its own retries; common::ConfigError for a bad URL; other exceptions thrown by
// a transaction body pass through unchanged (after a rollback).
class Database {
 public:
  // Opens the database at options.url, configures the connection (SQLite: WAL, busy timeout,
  // synchronous; MySQL: utf8mb4, READ COMMITTED, strict mode, lock wait timeout) and applies
  // the schema migrations (schema.hpp). Safe when several processes open one database at once.
  explicit Database(DbOptions options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  Dialect dialect() const { return dialect_; }
  const DbOptions& options() const { return options_; }

  // Runs `body` inside one write transaction and commits. On a transient failure (deadlock,
  // lock wait timeout, busy, lost connection: the connection is re-opened first) the
  // transaction is rolled back and `body` runs again, up to options.max_attempts times in all;
  // with `retry_on_unique`, a unique-key violation is retried too (a concurrent writer got
  // there first: `body` must look again). So `body` may run several times: it must not change
  // anything outside the database except its results, and must reset them at its start.
  // SQLite takes the write lock at BEGIN (BEGIN IMMEDIATE), so writers never deadlock.
  void WriteTransaction(const std::function<void()>& body, bool retry_on_unique = false);

  // Runs `body` (reads, or single auto-committed statements) outside an explicit transaction,
  // with the same reconnect-and-retry policy (unique violations are not retried).
  void Run(const std::function<void()>& body);

  // The statement cached under `key`, prepared on first use from what `make` returns (built
  // only then). References stay valid until the connection is lost (the cache is cleared
  // then, inside a failing WriteTransaction/Run), so use them only inside one body.
  struct StatementSpec {
    std::string sql;
    std::vector<SqlType> params;
    std::vector<SqlType> columns;
  };
  Statement& Cached(const std::string& key, const std::function<StatementSpec()>& make);

  // Runs one statement without parameters or results (DDL, PRAGMA, SET). Throws soci errors;
  // meant for bodies of Run/WriteTransaction and for migrations.
  void Execute(const std::string& sql);

  // The underlying session, for the schema migrations. Not for general use.
  soci::session& session() { return *session_; }

  // Transaction attempts that failed and were run again (deadlock, busy, unique violation,
  // lost connection) since the Database was opened: a health metric.
  std::uint64_t retries() const { return retries_; }

  // The server's id for this connection (MySQL CONNECTION_ID(); 0 on SQLite). For tests that
  // kill the connection from outside.
  std::int64_t ConnectionId();

 private:
  void Open();
  void Configure();
  void EnsureConnected();
  void MarkBroken();
  void RollbackQuietly();
  void Attempt(bool transaction, bool retry_on_unique, const std::function<void()>& body);

  DbOptions options_;
  DbUrl url_;
  Dialect dialect_;
  std::unique_ptr<soci::session> session_;
  bool broken_ = false;  // the connection was lost; reconnect before the next statement
  std::uint64_t retries_ = 0;
  // Declared after session_, so destroyed before it: statements must go first.
  std::unordered_map<std::string, std::unique_ptr<Statement>> statements_;
  void ResetStatements();
};

}  // namespace sparrow::offline
