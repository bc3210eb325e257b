#include "offline/schema.hpp"

#include "offline/database.hpp"
#include "offline/store_error.hpp"

namespace sparrow::offline {
namespace {

// Column types and table options that differ between the dialects. Everything else is
// written once.
struct Types {
  std::string blob;          // frame bytes: a 64 KiB body escaped in JSON exceeds BLOB's 64 KiB
  std::string table_suffix;  // MySQL: InnoDB, and a binary collation so that ids compare
                             // byte by byte ("Phone" and "phone" are two devices) as in SQLite
};

Types TypesFor(Dialect dialect) {
  if (dialect == Dialect::kMySql) {
    return {"MEDIUMBLOB", " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"};
  }
  return {"BLOB", ""};
}

// A secondary index: inline in MySQL's CREATE TABLE (MySQL has no CREATE INDEX IF NOT EXISTS),
// a separate idempotent statement in SQLite.
struct Index {
  std::string name;
  std::string columns;
};

void AddTable(std::vector<std::string>& out, Dialect dialect, const std::string& name,
              const std::string& body, const std::vector<Index>& indexes = {}) {
  const Types types = TypesFor(dialect);
  std::string sql = "CREATE TABLE IF NOT EXISTS " + name + " (\n" + body;
  if (dialect == Dialect::kMySql) {
    for (const Index& index : indexes) sql += ",\n  KEY " + index.name + " (" + index.columns + ")";
  }
  sql += "\n)" + types.table_suffix;
  out.push_back(sql);
  if (dialect == Dialect::kSqlite) {
    for (const Index& index : indexes) {
      out.push_back("CREATE INDEX IF NOT EXISTS " + index.name + " ON " + name + " (" +
                    index.columns + ")");
    }
  }
}

std::vector<std::string> Version1(Dialect dialect) {
  const Types types = TypesFor(dialect);
  std::vector<std::string> out;

  // Accounts (authsvc). token_epoch: tokens issued before it (ms) are revoked.
  AddTable(out, dialect, "im_user",
           "  id VARCHAR(32) NOT NULL,\n"
           "  password_hash VARCHAR(255) NOT NULL,\n"
           "  token_epoch BIGINT NOT NULL DEFAULT 0,\n"
           "  gmt_create BIGINT NOT NULL,\n"
           "  PRIMARY KEY (id)");

  // Friendships: one row per pair, the smaller id first; encrypt_key is the relation's key
  // sealed under the server master key.
  AddTable(out, dialect, "im_relation",
           "  user_id1 VARCHAR(32) NOT NULL,\n"
           "  user_id2 VARCHAR(32) NOT NULL,\n"
           "  encrypt_key VARCHAR(255) NOT NULL,\n"
           "  gmt_create BIGINT NOT NULL,\n"
           "  PRIMARY KEY (user_id1, user_id2),\n"
           "  CONSTRAINT im_relation_ordered CHECK (user_id1 < user_id2)",
           {{"im_relation_user2", "user_id2"}});

  AddTable(out, dialect, "im_friend_request",
           "  from_user_id VARCHAR(32) NOT NULL,\n"
           "  to_user_id VARCHAR(32) NOT NULL,\n"
           "  gmt_create BIGINT NOT NULL,\n"
           "  PRIMARY KEY (from_user_id, to_user_id)",
           {{"im_friend_request_to", "to_user_id"}});

  // Every frame stored for a user, in seq order: chats received, own chats sent (the sender
  // copy), receipts about own chats. content is the frame without its seq.
  AddTable(out, dialect, "im_offline",
           "  to_user_id VARCHAR(32) NOT NULL,\n"
           "  seq BIGINT NOT NULL,\n"
           "  msg_id VARCHAR(64) NOT NULL,\n"
           "  msg_type VARCHAR(8) NOT NULL,\n"
           "  content " +
               types.blob +
               " NOT NULL,\n"
               "  has_read SMALLINT NOT NULL DEFAULT 0,\n"
               "  gmt_create BIGINT NOT NULL,\n"
               "  PRIMARY KEY (to_user_id, seq),\n"
               "  CONSTRAINT im_offline_type CHECK (msg_type IN ('chat', 'ack'))",
           {{"im_offline_created", "gmt_create"}});

  // One row per accepted chat: the dedupe key (sender, device, client id) and the receipt
  // state (0 = not yet). Kept when im_offline rows are purged, so dedupe holds.
  AddTable(out, dialect, "im_chat",
           "  mid VARCHAR(64) NOT NULL,\n"
           "  from_user_id VARCHAR(32) NOT NULL,\n"
           "  from_device VARCHAR(64) NOT NULL,\n"
           "  client_id BIGINT NOT NULL,\n"
           "  dest_user_id VARCHAR(32) NOT NULL,\n"
           "  dest_seq BIGINT NOT NULL,\n"
           "  sender_seq BIGINT NOT NULL,\n"
           "  delivered_at BIGINT NOT NULL DEFAULT 0,\n"
           "  read_at BIGINT NOT NULL DEFAULT 0,\n"
           "  gmt_create BIGINT NOT NULL,\n"
           "  PRIMARY KEY (mid),\n"
           "  CONSTRAINT im_chat_dedupe UNIQUE (from_user_id, from_device, client_id)");

  // The per-user sequence: the last seq handed out.
  AddTable(out, dialect, "im_user_seq",
           "  user_id VARCHAR(32) NOT NULL,\n"
           "  last_seq BIGINT NOT NULL,\n"
           "  PRIMARY KEY (user_id)");

  // Per device: the highest chat id accepted from it, and the highest seq it has synced.
  AddTable(out, dialect, "im_device",
           "  user_id VARCHAR(32) NOT NULL,\n"
           "  device_id VARCHAR(64) NOT NULL,\n"
           "  last_id BIGINT NOT NULL DEFAULT 0,\n"
           "  sync_cursor BIGINT NOT NULL DEFAULT 0,\n"
           "  gmt_seen BIGINT NOT NULL DEFAULT 0,\n"
           "  PRIMARY KEY (user_id, device_id)");

  // Uploaded files (authsvc); the bytes live on disk under file_id.
  AddTable(out, dialect, "im_file",
           "  file_id VARCHAR(64) NOT NULL,\n"
           "  uploader VARCHAR(32) NOT NULL,\n"
           "  recipient VARCHAR(32) NOT NULL,\n"
           "  sha256 VARCHAR(64) NOT NULL,\n"
           "  size BIGINT NOT NULL,\n"
           "  gmt_create BIGINT NOT NULL,\n"
           "  PRIMARY KEY (file_id)");
  return out;
}

std::string SchemaTableSql(Dialect dialect) {
  return "CREATE TABLE IF NOT EXISTS sparrow_schema (\n"
         "  version INTEGER NOT NULL,\n"
         "  description VARCHAR(255) NOT NULL,\n"
         "  applied_at BIGINT NOT NULL,\n"
         "  PRIMARY KEY (version)\n"
         ")" +
         TypesFor(dialect).table_suffix;
}

// The database's clock, so that no process clock is needed to record a migration.
std::string NowMillisSql(Dialect dialect) {
  return dialect == Dialect::kMySql ? "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)"
                                    : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
}

int ReadVersion(soci::session& session) {
  long long version = 0;
  soci::indicator indicator = soci::i_ok;
  session << "SELECT MAX(version) FROM sparrow_schema", soci::into(version, indicator);
  return indicator == soci::i_null ? 0 : static_cast<int>(version);
}

// Applies the pending migrations on the current connection. The caller provides the mutual
// exclusion (a transaction on SQLite, GET_LOCK on MySQL).
void ApplyPending(Database& db) {
  soci::session& session = db.session();
  const int current = ReadVersion(session);
  if (current > kSchemaVersion) {
    throw StoreError("the database schema is version " + std::to_string(current) +
                         ", newer than this build of Sparrow understands (" +
                         std::to_string(kSchemaVersion) + "): upgrade Sparrow",
                     /*retryable=*/false);
  }
  for (const Migration& migration : Migrations()) {
    if (migration.version <= current) continue;
    for (const std::string& sql : migration.statements(db.dialect())) db.Execute(sql);
    long long version = migration.version;
    std::string description(migration.description);
    session << "INSERT INTO sparrow_schema (version, description, applied_at) VALUES (:v, :d, " +
                   NowMillisSql(db.dialect()) + ")",
        soci::use(version), soci::use(description);
  }
}

// Holds MySQL's named lock for migrations; released on every path (and by the server if the
// connection dies).
class MigrationLock {
 public:
  explicit MigrationLock(Database& db) : session_(db.session()) {
    long long timeout_s = 120;
    long long got = 0;
    soci::indicator indicator = soci::i_ok;
    session_ << "SELECT GET_LOCK(CONCAT('sparrow_migrate.', DATABASE()), :t)", soci::use(timeout_s),
        soci::into(got, indicator);
    if (indicator == soci::i_null || got != 1) {
      throw StoreError("timed out waiting for another process to finish the schema migration",
                       /*retryable=*/true);
    }
  }
  ~MigrationLock() {
    try {
      session_ << "DO RELEASE_LOCK(CONCAT('sparrow_migrate.', DATABASE()))";
    } catch (const soci::soci_error&) {
      // The connection is gone, and the server released the lock with it.
    }
  }
  MigrationLock(const MigrationLock&) = delete;
  MigrationLock& operator=(const MigrationLock&) = delete;

 private:
  soci::session& session_;
};

}  // namespace

// Version 2: the REST service re-announces recent revocations to the brokers (a restarted
// broker forgets them), finding them by token_epoch.
std::vector<std::string> Version2(Dialect /*dialect*/) {
  return {"CREATE INDEX im_user_token_epoch ON im_user (token_epoch)"};
}

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> migrations = {
      {1, "users, relations, friend requests, inboxes, chats, sequences, devices, files",
       &Version1},
      {2, "index of users by token epoch (revocation re-announcements)", &Version2},
  };
  return migrations;
}

void Migrate(Database& db) {
  db.Execute(SchemaTableSql(db.dialect()));
  if (db.dialect() == Dialect::kSqlite) {
    // DDL is transactional in SQLite: all of it, or none, under the write lock.
    db.WriteTransaction([&] { ApplyPending(db); });
    return;
  }
  MigrationLock lock(db);
  ApplyPending(db);
}

int SchemaVersion(Database& db) {
  int version = 0;
  db.Run([&] { version = ReadVersion(db.session()); });
  return version;
}

}  // namespace sparrow::offline
