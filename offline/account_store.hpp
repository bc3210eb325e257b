// Accounts, friendships and files for the REST service (authsvc): im_user, im_friend_request,
// im_relation and im_file (docs/DESIGN.md "Data model"). Plain records in and out; the rules
// (who may befriend whom, what a token epoch means) live in authsvc.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "offline/db_url.hpp"

namespace sparrow::offline {

class Database;

struct UserRecord {
  std::string id;
  std::string password_hash;     // argon2id string (libsodium crypto_pwhash_str)
  std::int64_t token_epoch = 0;  // ms; tokens issued before it are revoked
  std::int64_t gmt_create = 0;

  friend bool operator==(const UserRecord&, const UserRecord&) = default;
};

// One friendship seen from one of its users.
struct RelationRecord {
  std::string friend_id;
  std::string encrypt_key;  // sealed under the server master key (base64 of nonce|ciphertext)

  friend bool operator==(const RelationRecord&, const RelationRecord&) = default;
};

struct FileRecord {
  std::string file_id;
  std::string uploader;
  std::string recipient;
  std::string sha256;  // lowercase hex
  std::int64_t size = 0;
  std::int64_t gmt_create = 0;

  friend bool operator==(const FileRecord&, const FileRecord&) = default;
};

enum class [[nodiscard]] CreateUserResult{kCreated, kTaken};
enum class [[nodiscard]] CreateRelationResult{kCreated, kAlreadyFriends};

// Threads: NOT thread-safe (one connection); one instance per thread (or a pool).
// Errors: StoreError after internal retries, as in SociMessageStore; outcomes are values.
// Pairs of users: a relation is one row (smaller id first); methods taking (a, b) accept either
// order. A user is never their own friend: a == b is std::invalid_argument where it would write.
class AccountStore {
 public:
  // Opens (and migrates) the database; `clock` stamps gmt_create and must outlive the store.
  AccountStore(const DbOptions& options, const common::Clock& clock);
  AccountStore(std::unique_ptr<Database> database, const common::Clock& clock);
  ~AccountStore();
  AccountStore(const AccountStore&) = delete;
  AccountStore& operator=(const AccountStore&) = delete;

  // Users.
  CreateUserResult CreateUser(const std::string& id, const std::string& password_hash);
  std::optional<UserRecord> GetUser(const std::string& id);
  // Both return false when there is no such user.
  bool SetPasswordHash(const std::string& id, const std::string& password_hash);
  bool SetTokenEpoch(const std::string& id, std::int64_t token_epoch);
  // Users whose token_epoch is after `since_ms` (recent revocations), with their epochs.
  std::vector<std::pair<std::string, std::int64_t>> RevokedSince(std::int64_t since_ms);

  // Friend requests, from -> to. AddFriendRequest returns false if it existed already.
  bool AddFriendRequest(const std::string& from, const std::string& to);
  bool FriendRequestExists(const std::string& from, const std::string& to);
  bool DeleteFriendRequest(const std::string& from, const std::string& to);  // false: none
  std::vector<std::string> IncomingRequests(const std::string& user);        // senders, sorted
  std::vector<std::string> OutgoingRequests(const std::string& user);        // recipients, sorted

  // Relations. CreateRelation also deletes the requests between the two (both directions),
  // in the same transaction.
  CreateRelationResult CreateRelation(const std::string& a, const std::string& b,
                                      const std::string& sealed_key);
  bool AreFriends(const std::string& a, const std::string& b);
  bool DeleteRelation(const std::string& a, const std::string& b);  // false: were not friends
  std::vector<RelationRecord> Relations(const std::string& user);   // sorted by friend_id

  // Files. InsertFile throws StoreError if file_id exists (ids are random: a bug).
  void InsertFile(const FileRecord& file);
  std::optional<FileRecord> GetFile(const std::string& file_id);

  Database& database() { return *db_; }

 private:
  std::vector<std::string> ListIds(const std::string& key, const std::string& sql,
                                   const std::string& user);

  std::unique_ptr<Database> db_;
  const common::Clock& clock_;
};

}  // namespace sparrow::offline
