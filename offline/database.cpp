#include "offline/database.hpp"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "common/error.hpp"
#include "common/log.hpp"
#include "offline/schema.hpp"
#include "offline/store_error.hpp"

namespace sparrow::offline {
namespace {

// MySQL client (CR_*) and server (ER_*) error numbers that mean the connection is gone.
bool IsConnectionLostNumber(unsigned int n) {
  switch (n) {
    case 2002:  // CR_CONNECTION_ERROR (socket)
    case 2003:  // CR_CONN_HOST_ERROR
    case 2006:  // CR_SERVER_GONE_ERROR
    case 2013:  // CR_SERVER_LOST
    case 2055:  // CR_SERVER_LOST_EXTENDED
    case 1053:  // ER_SERVER_SHUTDOWN
    case 1927:  // ER_CONNECTION_KILLED (MariaDB)
    case 4031:  // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
      return true;
    default:
      return false;
  }
}

// Exponential backoff with jitter between attempts, so that writers that collided (deadlock,
// busy) do not collide again in lockstep. At most ~50 ms: these waits are rare.
void Backoff(int attempt) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  const int ceiling_ms = std::min(50, 2 << std::min(attempt, 5));
  std::uniform_int_distribution<int> dist(1, ceiling_ms);
  std::this_thread::sleep_for(std::chrono::milliseconds(dist(rng)));
}

std::shared_ptr<spdlog::logger> Log() {
  static const auto logger = common::Logger("store");
  return logger;
}

}  // namespace

DbErrorKind ClassifyDbError(const soci::soci_error& error) {
  if (const auto* my = dynamic_cast<const soci::mysql_soci_error*>(&error)) {
    const unsigned int n = my->err_num_;
    if (IsConnectionLostNumber(n)) return DbErrorKind::kConnectionLost;
    if (n == 1213 || n == 1205) return DbErrorKind::kTransient;  // deadlock, lock wait timeout
    if (n == 1062 || n == 1586)
      return DbErrorKind::kUniqueViolation;  // ER_DUP_ENTRY(_WITH_KEY_NAME)
    return DbErrorKind::kOther;
  }
  if (const auto* lite = dynamic_cast<const soci::sqlite3_soci_error*>(&error)) {
    const int primary = lite->result() & 0xff;  // extended codes carry the primary one in 8 bits
    if (primary == 5 || primary == 6) return DbErrorKind::kTransient;  // SQLITE_BUSY, _LOCKED
    // SQLITE_CONSTRAINT covers CHECK and NOT NULL too; only a unique key is a concurrent write.
    if (primary == 19 &&
        std::string_view(error.what()).find("UNIQUE constraint failed") != std::string_view::npos) {
      return DbErrorKind::kUniqueViolation;
    }
    return DbErrorKind::kOther;
  }
  if (error.get_error_category() == soci::soci_error::connection_error) {
    return DbErrorKind::kConnectionLost;
  }
  return DbErrorKind::kOther;
}

// ---------------------------------------------------------------------------------------------
// Statement

Statement::Statement(soci::session& session, std::string sql, std::vector<SqlType> params,
                     std::vector<SqlType> columns)
    : session_(session),
      sql_(std::move(sql)),
      param_types_(std::move(params)),
      column_types_(std::move(columns)),
      params_(param_types_.size()),
      columns_(column_types_.size()) {
  Prepare();
}

void Statement::Prepare() {
  auto statement = std::make_unique<soci::statement>(session_);
  // SOCI binds positionally in the order of exchange(): intos are the result columns, uses the
  // placeholders.
  for (std::size_t i = 0; i < column_types_.size(); ++i) {
    Slot& slot = columns_[i];
    if (column_types_[i] == SqlType::kInt) {
      statement->exchange(soci::into(slot.integer, slot.indicator));
    } else {
      statement->exchange(soci::into(slot.text, slot.indicator));
    }
  }
  for (std::size_t i = 0; i < param_types_.size(); ++i) {
    Slot& slot = params_[i];
    if (param_types_[i] == SqlType::kInt) {
      statement->exchange(soci::use(slot.integer));
    } else {
      statement->exchange(soci::use(slot.text));
    }
  }
  statement->alloc();
  statement->prepare(sql_);
  statement->define_and_bind();
  statement_ = std::move(statement);
}

void Statement::ClearNullColumns() {
  for (Slot& slot : columns_) {
    if (slot.indicator == soci::i_null) {
      slot.text.clear();
      slot.integer = 0;
    }
  }
}

bool Statement::Execute() {
  if (!statement_) Prepare();
  try {
    const bool got = statement_->execute(/*withDataExchange=*/true);
    ClearNullColumns();
    return got && !columns_.empty();
  } catch (const soci::soci_error&) {
    // SOCI 4.0.3's MySQL backend formats each bound value into a buffer before executing and
    // frees it only after a successful execution; the next execution would overwrite (leak)
    // it. Destroying the statement frees the buffers; it is prepared again when next used.
    statement_.reset();
    throw;
  }
}

void Statement::ResetSqlite() {
  if (!statement_) return;
  // static_cast: libsoci_sqlite3 exports no typeinfo for its backend, and the caller knows
  // the dialect.
  auto* backend = static_cast<soci::sqlite3_statement_backend*>(statement_->get_backend());
  if (backend != nullptr && backend->stmt_ != nullptr) sqlite_api::sqlite3_reset(backend->stmt_);
}

bool Statement::Next() {
  const bool got = statement_->fetch();
  ClearNullColumns();
  return got;
}

// ---------------------------------------------------------------------------------------------
// Database

Database::Database(DbOptions options)
    : options_(std::move(options)),
      url_(ParseDbUrl(options_.url)),
      dialect_(url_.backend == DbBackend::kMySql ? Dialect::kMySql : Dialect::kSqlite) {
  if (url_.backend == DbBackend::kMySql && url_.database.empty()) {
    throw common::ConfigError("--db: a mysql URL needs a database name after the host (" +
                              RedactDbUrl(options_.url) + ")");
  }
  options_.max_attempts = std::max(1, options_.max_attempts);
  try {
    Open();
    Configure();
    Migrate(*this);
  } catch (const soci::soci_error& e) {
    const DbErrorKind kind = ClassifyDbError(e);
    throw StoreError("cannot open " + RedactDbUrl(options_.url) + ": " + e.what(),
                     kind == DbErrorKind::kConnectionLost || kind == DbErrorKind::kTransient);
  }
  Log()->info("database open url={} schema_version={}", RedactDbUrl(options_.url), kSchemaVersion);
}

Database::~Database() {
  statements_.clear();  // before the session they were prepared on
}

void Database::Open() {
  const SociTarget target = ToSociTarget(url_, options_);
  // The backends are linked in; naming them by string would make SOCI dlopen() them at run time.
  soci::backend_factory const& factory =
      dialect_ == Dialect::kMySql ? *soci::factory_mysql() : *soci::factory_sqlite3();
  session_ = std::make_unique<soci::session>(factory, target.connect_string);
}

void Database::Configure() {
  if (dialect_ == Dialect::kSqlite) {
    // busy_timeout first: the PRAGMAs below may wait for another process's lock.
    Execute("PRAGMA busy_timeout = " + std::to_string(options_.lock_timeout.count()));
    // WAL: readers never block the writer; commits append to the log (one fsync with FULL).
    // An in-memory database answers "memory" and stays as it is.
    Execute("PRAGMA journal_mode = WAL");
    Execute(options_.sqlite_sync == SqliteSync::kFull ? "PRAGMA synchronous = FULL"
                                                      : "PRAGMA synchronous = NORMAL");
    // A group commit dirties one index page per recipient and per sender (inboxes are clustered
    // by user), and checkpoints copy those pages into the database file. Checkpointing every
    // 4000 pages (a WAL of up to 16 MiB) instead of SQLite's 1000 copies a page that several
    // commits dirtied once: 5-25% more throughput in bench/store_bench.
    Execute("PRAGMA wal_autocheckpoint = 4000");
    return;
  }
  // READ COMMITTED: every statement sees the latest commits and InnoDB takes no gap locks for
  // our inserts and range deletes, which removes most lock conflicts between group commits.
  // Correctness does not depend on it: rows that must not change are locked explicitly.
  Execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  // Strict: a value that does not fit is an error, never silently truncated.
  Execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'");
  const auto lock_seconds = std::max<long long>(1, (options_.lock_timeout.count() + 999) / 1000);
  Execute("SET SESSION innodb_lock_wait_timeout = " + std::to_string(lock_seconds));
}

void Database::Execute(const std::string& sql) { *session_ << sql; }

std::int64_t Database::ConnectionId() {
  if (dialect_ != Dialect::kMySql) return 0;
  long long id = 0;
  Run([&] { *session_ << "SELECT CONNECTION_ID()", soci::into(id); });
  return id;
}

Statement& Database::Cached(const std::string& key, const std::function<StatementSpec()>& make) {
  auto it = statements_.find(key);
  if (it != statements_.end()) return *it->second;
  StatementSpec spec = make();
  auto statement = std::make_unique<Statement>(*session_, std::move(spec.sql),
                                               std::move(spec.params), std::move(spec.columns));
  return *statements_.emplace(key, std::move(statement)).first->second;
}

void Database::MarkBroken() {
  // The statements belong to the dead connection; SOCI cannot re-prepare them on a new one.
  statements_.clear();
  broken_ = true;
}

void Database::EnsureConnected() {
  if (!broken_) return;
  Log()->info("reconnecting url={}", RedactDbUrl(options_.url));
  session_->reconnect();
  Configure();
  broken_ = false;
}

void Database::RollbackQuietly() {
  if (broken_) return;
  try {
    session_->rollback();
  } catch (const soci::soci_error& e) {
    // The transaction is gone either way (a server rolls back what a lost connection left);
    // what matters is whether the connection still works.
    Log()->warn("rollback failed error={}", e.what());
    if (ClassifyDbError(e) == DbErrorKind::kConnectionLost) MarkBroken();
  }
}

void Database::WriteTransaction(const std::function<void()>& body, bool retry_on_unique) {
  Attempt(/*transaction=*/true, retry_on_unique, body);
}

void Database::Run(const std::function<void()>& body) {
  Attempt(/*transaction=*/false, /*retry_on_unique=*/false, body);
}

void Database::Attempt(bool transaction, bool retry_on_unique, const std::function<void()>& body) {
  for (int attempt = 1;; ++attempt) {
    bool began = false;
    try {
      EnsureConnected();
      if (transaction) {
        // SQLite: take the write lock now rather than at the first write, so two writers
        // cannot both hold read snapshots and then fail to upgrade (SQLITE_BUSY mid-way).
        if (dialect_ == Dialect::kSqlite) {
          Execute("BEGIN IMMEDIATE");
        } else {
          session_->begin();
        }
        began = true;
      }
      body();
      ResetStatements();
      if (transaction) session_->commit();
      return;
    } catch (const soci::soci_error& e) {
      ResetStatements();
      const DbErrorKind kind = ClassifyDbError(e);
      if (kind == DbErrorKind::kConnectionLost) {
        MarkBroken();
      } else if (began) {
        RollbackQuietly();
      }
      const bool retryable = kind == DbErrorKind::kConnectionLost ||
                             kind == DbErrorKind::kTransient ||
                             (retry_on_unique && kind == DbErrorKind::kUniqueViolation);
      if (!retryable || attempt >= options_.max_attempts) {
        // A unique violation that is not ours to retry is a bug or a conflict the caller did
        // not expect: not retryable. Transient kinds stay retryable for the caller.
        throw StoreError(std::string("database error: ") + e.what(),
                         kind == DbErrorKind::kConnectionLost || kind == DbErrorKind::kTransient);
      }
      ++retries_;
      Log()->debug("retrying transaction attempt={} error={}", attempt, e.what());
      // A lost connection is retried at once (the server is usually fine: the connection was
      // killed or timed out); if reconnecting fails too, back off like any other failure.
      if (kind != DbErrorKind::kConnectionLost || attempt > 1) Backoff(attempt);
    } catch (...) {
      ResetStatements();
      if (began) RollbackQuietly();
      throw;
    }
  }
}

void Database::ResetStatements() {
  if (dialect_ != Dialect::kSqlite) return;  // MySQL: results are read whole, nothing is held
  for (auto& [key, statement] : statements_) statement->ResetSqlite();
}

}  // namespace sparrow::offline
