// A MessageStore in memory, for unit tests of the bridge and the sync service. It passes the
// same contract suite as SociMessageStore (testing/store_contract_test.cpp), and can be told to
// fail commits, to test the callers' error paths.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "offline/message_store.hpp"

namespace sparrow::testing {

// Thread-safe: every method takes one mutex (mu_ guards all members).
class InMemoryMessageStore final : public offline::MessageStore {
 public:
  InMemoryMessageStore() = default;

  offline::BatchResult Commit(const offline::WriteBatch& batch) override;
  std::optional<offline::ChatRecord> FindChat(const std::string& mid) override;
  std::optional<std::string> FindChatMid(const std::string& from_user,
                                         const std::string& from_device,
                                         std::int64_t client_id) override;
  std::int64_t LastChatId(const std::string& user, const std::string& device) override;
  std::uint64_t LastSeq(const std::string& user) override;
  std::vector<offline::StoredFrame> ReadInbox(const std::string& user, std::uint64_t after_seq,
                                              std::uint64_t upto_seq, std::size_t limit) override;
  void SetSyncCursor(const std::string& user, const std::string& device,
                     std::uint64_t seq) override;
  std::uint64_t SyncCursor(const std::string& user, const std::string& device) override;
  std::size_t PurgeDelivered(std::int64_t older_than_ms, std::size_t max_rows) override;

  // Fault injection: the next `count` Commit calls throw offline::StoreError(retryable).
  // kBeforeWrite: nothing is written (a failed transaction). kAfterWrite: the batch IS written,
  // then the call throws (a commit whose answer was lost, e.g. the connection broke during
  // COMMIT); committing the same batch again then reports its chats as kStored.
  enum class FailMode { kBeforeWrite, kAfterWrite };
  void FailNextCommits(int count, FailMode mode = FailMode::kBeforeWrite, bool retryable = true);

  // Commit calls that returned normally (not counting injected failures).
  int successful_commits() const;

 private:
  struct Row {
    offline::FrameKind kind;
    std::string mid;
    std::string content;
    bool has_read = false;
    std::int64_t gmt_create = 0;
  };
  struct Device {
    std::int64_t last_id = 0;
    std::uint64_t sync_cursor = 0;
  };
  using ChatKey = std::tuple<std::string, std::string, std::int64_t>;
  using DeviceKey = std::pair<std::string, std::string>;

  offline::BatchResult CommitLocked(const offline::WriteBatch& batch);

  mutable std::mutex mu_;
  std::map<std::string, std::map<std::uint64_t, Row>> inbox_;  // user -> seq -> frame
  std::map<std::string, std::uint64_t> last_seq_;
  std::map<std::string, offline::ChatRecord> chats_;  // by mid
  std::map<ChatKey, std::string> mid_of_key_;
  std::map<DeviceKey, Device> devices_;
  int fail_count_ = 0;
  FailMode fail_mode_ = FailMode::kBeforeWrite;
  bool fail_retryable_ = true;
  int successful_commits_ = 0;
};

}  // namespace sparrow::testing
