// MessageStore on SQLite or MySQL/MariaDB through SOCI (see database.hpp for the connection).
#pragma once

#include <memory>

#include "common/clock.hpp"
#include "offline/db_url.hpp"
#include "offline/message_store.hpp"

namespace sparrow::offline {

class Database;

// Threads: NOT thread-safe (one connection). Use one instance per thread; any number of
// instances, in one process or in many, may share a database: seqs stay gapless and dedupe
// holds (rows are locked in a fixed order, and conflicting transactions are retried).
//
// Errors: StoreError after the internal retries (deadlock, busy, lost connection: the next
// call reconnects). A Commit that throws may or may not have been committed if the connection
// broke during COMMIT; committing the same batch again is then safe: chats already stored come
// back as kStored with their stored seqs (same mid), receipts as kAlreadyRecorded.
//
// Performance: Commit writes with multi-row statements (chunks of 100/10/1 rows, each
// statement prepared once), so a batch of N chats costs a handful of statements and one commit;
// see bench/README.md.
class SociMessageStore final : public MessageStore {
 public:
  // Opens (and migrates) the database. `clock` stamps devices' last-seen time; it must outlive
  // the store. Throws common::ConfigError (bad URL) or StoreError.
  SociMessageStore(const DbOptions& options, const common::Clock& clock);
  SociMessageStore(std::unique_ptr<Database> database, const common::Clock& clock);
  ~SociMessageStore() override;
  SociMessageStore(const SociMessageStore&) = delete;
  SociMessageStore& operator=(const SociMessageStore&) = delete;

  BatchResult Commit(const WriteBatch& batch) override;
  std::optional<ChatRecord> FindChat(const std::string& mid) override;
  std::optional<std::string> FindChatMid(const std::string& from_user,
                                         const std::string& from_device,
                                         std::int64_t client_id) override;
  std::int64_t LastChatId(const std::string& user, const std::string& device) override;
  std::uint64_t LastSeq(const std::string& user) override;
  std::vector<StoredFrame> ReadInbox(const std::string& user, std::uint64_t after_seq,
                                     std::uint64_t upto_seq, std::size_t limit) override;
  void SetSyncCursor(const std::string& user, const std::string& device,
                     std::uint64_t seq) override;
  std::uint64_t SyncCursor(const std::string& user, const std::string& device) override;
  std::size_t PurgeDelivered(std::int64_t older_than_ms, std::size_t max_rows) override;

  // The connection, for tests and tools (e.g. its MySQL connection id).
  Database& database() { return *db_; }

 private:
  BatchResult CommitOnce(const WriteBatch& batch, bool check_stored);

  std::unique_ptr<Database> db_;
  const common::Clock& clock_;
};

}  // namespace sparrow::offline
