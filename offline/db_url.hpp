// Database URLs (`--db`, env SPARROW_DB; docs/DESIGN.md "Database URLs") and the options used to
// open a database. Pure functions: thread-safe, no I/O.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace sparrow::offline {

enum class DbBackend { kSqlite, kMySql };

// A parsed `--db` URL:
//   sqlite:PATH         a file (relative or absolute); `sqlite::memory:` is a private in-memory
//                       database (gone when closed; tests only)
//   mysql://USER[:PASSWORD]@HOST[:PORT]/[DBNAME]
//                       MariaDB or MySQL; USER and PASSWORD are percent-decoded; HOST may be an
//                       IPv6 literal in brackets; PORT defaults to 3306. DBNAME may be empty here
//                       (a server URL, as tests use) but Database refuses to open without one.
struct DbUrl {
  DbBackend backend = DbBackend::kSqlite;
  std::string sqlite_path;  // sqlite: the file, or ":memory:"
  std::string user;         // mysql
  std::string password;     // mysql, decoded; never log it (see RedactDbUrl)
  std::string host;         // mysql, without brackets
  int port = 3306;          // mysql
  std::string database;     // mysql; may be empty

  friend bool operator==(const DbUrl&, const DbUrl&) = default;
};

// Parses a `--db` URL. Throws common::ConfigError (the message names `--db` and the reason, and
// never contains the password) on anything else.
DbUrl ParseDbUrl(std::string_view url);

// `url` with the password of a mysql URL replaced by `***`, for logs. Works on malformed URLs
// too (masks whatever sits between the user's ':' and the last '@'). Never throws.
std::string RedactDbUrl(std::string_view url);

// SQLite's durability setting (PRAGMA synchronous). kFull: a commit survives power loss (the
// default). kNormal: in WAL mode a commit survives a crash of the process but the last commits
// may be lost on power loss; several times faster for small transactions.
enum class SqliteSync { kFull, kNormal };

// How to open a database: the URL plus tuning that is not part of it.
struct DbOptions {
  std::string url;
  SqliteSync sqlite_sync = SqliteSync::kFull;
  // How long a statement waits for a lock held by another connection before the transaction is
  // retried (SQLite busy_timeout; MySQL innodb_lock_wait_timeout, rounded up to seconds).
  std::chrono::milliseconds lock_timeout{5000};
  // Attempts per transaction on transient failures (deadlock, busy, lost connection) before a
  // retryable StoreError reaches the caller. At least 1.
  int max_attempts = 5;
  // MySQL socket timeouts (connect; read/write of one round trip). A read timeout must exceed
  // lock_timeout, or a legitimate lock wait would look like a dead connection.
  std::chrono::seconds mysql_connect_timeout{5};
  std::chrono::seconds mysql_io_timeout{30};
};

// The SOCI backend name ("sqlite3" or "mysql") and connection string for `url`. SOCI's own
// connection-string syntax is quoted here (a password with spaces or quotes is safe).
// An empty mysql database name connects to the server without selecting one (test fixtures).
struct SociTarget {
  std::string backend;
  std::string connect_string;  // contains the password: never log it
};
SociTarget ToSociTarget(const DbUrl& url, const DbOptions& options);

}  // namespace sparrow::offline
