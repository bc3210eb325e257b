#include "offline/account_store.hpp"

#include <stdexcept>
#include <utility>

#include "offline/database.hpp"

namespace sparrow::offline {
namespace {

using Spec = Database::StatementSpec;
constexpr SqlType kText = SqlType::kText;
constexpr SqlType kInt = SqlType::kInt;

std::pair<std::string, std::string> Ordered(const std::string& a, const std::string& b) {
  return a < b ? std::pair{a, b} : std::pair{b, a};
}

// Runs an INSERT; false when it hit a unique key. Inside a transaction both dialects undo only
// the failed statement, so the transaction goes on.
bool InsertUnlessExists(Statement& insert) {
  try {
    insert.Execute();
    return true;
  } catch (const soci::soci_error& e) {
    if (ClassifyDbError(e) == DbErrorKind::kUniqueViolation) return false;
    throw;
  }
}

}  // namespace

AccountStore::AccountStore(const DbOptions& options, const common::Clock& clock)
    : AccountStore(std::make_unique<Database>(options), clock) {}

AccountStore::AccountStore(std::unique_ptr<Database> database, const common::Clock& clock)
    : db_(std::move(database)), clock_(clock) {}

AccountStore::~AccountStore() = default;

CreateUserResult AccountStore::CreateUser(const std::string& id, const std::string& password_hash) {
  const std::int64_t now = clock_.WallMillis();
  bool created = false;
  db_->WriteTransaction([&] {
    Statement& st = db_->Cached("user.create", [] {
      return Spec{
          "INSERT INTO im_user (id, password_hash, token_epoch, gmt_create) "
          "VALUES (:p0, :p1, 0, :p2)",
          {kText, kText, kInt},
          {}};
    });
    st.Bind(0, id);
    st.Bind(1, password_hash);
    st.Bind(2, now);
    created = InsertUnlessExists(st);
  });
  return created ? CreateUserResult::kCreated : CreateUserResult::kTaken;
}

std::optional<UserRecord> AccountStore::GetUser(const std::string& id) {
  std::optional<UserRecord> user;
  db_->Run([&] {
    user.reset();
    Statement& st = db_->Cached("user.get", [] {
      return Spec{"SELECT id, password_hash, token_epoch, gmt_create FROM im_user WHERE id = :p0",
                  {kText},
                  {kText, kText, kInt, kInt}};
    });
    st.Bind(0, id);
    if (st.Execute()) user = UserRecord{st.Text(0), st.Text(1), st.Int(2), st.Int(3)};
  });
  return user;
}

bool AccountStore::SetPasswordHash(const std::string& id, const std::string& password_hash) {
  bool found = false;
  db_->Run([&] {
    Statement& st = db_->Cached("user.set_password", [] {
      return Spec{"UPDATE im_user SET password_hash = :p0 WHERE id = :p1", {kText, kText}, {}};
    });
    st.Bind(0, password_hash);
    st.Bind(1, id);
    st.Execute();
    found = st.AffectedRows() > 0;  // MySQL: rows matched (CLIENT_FOUND_ROWS), even if equal
  });
  return found;
}

bool AccountStore::SetTokenEpoch(const std::string& id, std::int64_t token_epoch) {
  bool found = false;
  db_->Run([&] {
    Statement& st = db_->Cached("user.set_epoch", [] {
      return Spec{"UPDATE im_user SET token_epoch = :p0 WHERE id = :p1", {kInt, kText}, {}};
    });
    st.Bind(0, token_epoch);
    st.Bind(1, id);
    st.Execute();
    found = st.AffectedRows() > 0;
  });
  return found;
}

std::vector<std::pair<std::string, std::int64_t>> AccountStore::RevokedSince(
    std::int64_t since_ms) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  db_->Run([&] {
    out.clear();
    Statement& st = db_->Cached("user.revoked_since", [] {
      return Spec{"SELECT id, token_epoch FROM im_user WHERE token_epoch > :p0 ORDER BY id",
                  {kInt},
                  {kText, kInt}};
    });
    st.Bind(0, since_ms);
    for (bool got = st.Execute(); got; got = st.Next()) out.emplace_back(st.Text(0), st.Int(1));
  });
  return out;
}

bool AccountStore::AddFriendRequest(const std::string& from, const std::string& to) {
  if (from == to) throw std::invalid_argument("AddFriendRequest: a user cannot befriend itself");
  const std::int64_t now = clock_.WallMillis();
  bool added = false;
  db_->WriteTransaction([&] {
    Statement& st = db_->Cached("request.add", [] {
      return Spec{
          "INSERT INTO im_friend_request (from_user_id, to_user_id, gmt_create) "
          "VALUES (:p0, :p1, :p2)",
          {kText, kText, kInt},
          {}};
    });
    st.Bind(0, from);
    st.Bind(1, to);
    st.Bind(2, now);
    added = InsertUnlessExists(st);
  });
  return added;
}

bool AccountStore::FriendRequestExists(const std::string& from, const std::string& to) {
  bool exists = false;
  db_->Run([&] {
    Statement& st = db_->Cached("request.exists", [] {
      return Spec{"SELECT 1 FROM im_friend_request WHERE from_user_id = :p0 AND to_user_id = :p1",
                  {kText, kText},
                  {kInt}};
    });
    st.Bind(0, from);
    st.Bind(1, to);
    exists = st.Execute();
  });
  return exists;
}

bool AccountStore::DeleteFriendRequest(const std::string& from, const std::string& to) {
  bool deleted = false;
  db_->Run([&] {
    Statement& st = db_->Cached("request.delete", [] {
      return Spec{"DELETE FROM im_friend_request WHERE from_user_id = :p0 AND to_user_id = :p1",
                  {kText, kText},
                  {}};
    });
    st.Bind(0, from);
    st.Bind(1, to);
    st.Execute();
    deleted = st.AffectedRows() > 0;
  });
  return deleted;
}

std::vector<std::string> AccountStore::ListIds(const std::string& key, const std::string& sql,
                                               const std::string& user) {
  std::vector<std::string> ids;
  db_->Run([&] {
    ids.clear();
    Statement& st = db_->Cached(key, [&] { return Spec{sql, {kText}, {kText}}; });
    st.Bind(0, user);
    for (bool got = st.Execute(); got; got = st.Next()) ids.push_back(st.Text(0));
  });
  return ids;
}

std::vector<std::string> AccountStore::IncomingRequests(const std::string& user) {
  return ListIds("request.incoming",
                 "SELECT from_user_id FROM im_friend_request WHERE to_user_id = :p0 "
                 "ORDER BY from_user_id",
                 user);
}

std::vector<std::string> AccountStore::OutgoingRequests(const std::string& user) {
  return ListIds("request.outgoing",
                 "SELECT to_user_id FROM im_friend_request WHERE from_user_id = :p0 "
                 "ORDER BY to_user_id",
                 user);
}

CreateRelationResult AccountStore::CreateRelation(const std::string& a, const std::string& b,
                                                  const std::string& sealed_key) {
  if (a == b) throw std::invalid_argument("CreateRelation: a user cannot befriend itself");
  const auto [first, second] = Ordered(a, b);
  const std::int64_t now = clock_.WallMillis();
  bool created = false;
  db_->WriteTransaction([&] {
    Statement& insert = db_->Cached("relation.create", [] {
      return Spec{
          "INSERT INTO im_relation (user_id1, user_id2, encrypt_key, gmt_create) "
          "VALUES (:p0, :p1, :p2, :p3)",
          {kText, kText, kText, kInt},
          {}};
    });
    insert.Bind(0, first);
    insert.Bind(1, second);
    insert.Bind(2, sealed_key);
    insert.Bind(3, now);
    created = InsertUnlessExists(insert);
    Statement& clear = db_->Cached("relation.clear_requests", [] {
      return Spec{
          "DELETE FROM im_friend_request WHERE (from_user_id = :p0 AND to_user_id = :p1) "
          "OR (from_user_id = :p2 AND to_user_id = :p3)",
          {kText, kText, kText, kText},
          {}};
    });
    clear.Bind(0, a);
    clear.Bind(1, b);
    clear.Bind(2, b);
    clear.Bind(3, a);
    clear.Execute();
  });
  return created ? CreateRelationResult::kCreated : CreateRelationResult::kAlreadyFriends;
}

bool AccountStore::AreFriends(const std::string& a, const std::string& b) {
  if (a == b) return false;
  const auto [first, second] = Ordered(a, b);
  bool friends = false;
  db_->Run([&] {
    Statement& st = db_->Cached("relation.exists", [] {
      return Spec{"SELECT 1 FROM im_relation WHERE user_id1 = :p0 AND user_id2 = :p1",
                  {kText, kText},
                  {kInt}};
    });
    st.Bind(0, first);
    st.Bind(1, second);
    friends = st.Execute();
  });
  return friends;
}

bool AccountStore::DeleteRelation(const std::string& a, const std::string& b) {
  if (a == b) return false;
  const auto [first, second] = Ordered(a, b);
  bool deleted = false;
  db_->Run([&] {
    Statement& st = db_->Cached("relation.delete", [] {
      return Spec{
          "DELETE FROM im_relation WHERE user_id1 = :p0 AND user_id2 = :p1", {kText, kText}, {}};
    });
    st.Bind(0, first);
    st.Bind(1, second);
    st.Execute();
    deleted = st.AffectedRows() > 0;
  });
  return deleted;
}

std::vector<RelationRecord> AccountStore::Relations(const std::string& user) {
  std::vector<RelationRecord> relations;
  db_->Run([&] {
    relations.clear();
    // Two index lookups (user_id1 is the primary key's prefix, user_id2 has its own index).
    Statement& st = db_->Cached("relation.list", [] {
      return Spec{
          "SELECT user_id2, encrypt_key FROM im_relation WHERE user_id1 = :p0 "
          "UNION ALL "
          "SELECT user_id1, encrypt_key FROM im_relation WHERE user_id2 = :p1 "
          "ORDER BY 1",
          {kText, kText},
          {kText, kText}};
    });
    st.Bind(0, user);
    st.Bind(1, user);
    for (bool got = st.Execute(); got; got = st.Next()) {
      relations.push_back(RelationRecord{st.Text(0), st.Text(1)});
    }
  });
  return relations;
}

void AccountStore::InsertFile(const FileRecord& file) {
  db_->Run([&] {
    Statement& st = db_->Cached("file.insert", [] {
      return Spec{
          "INSERT INTO im_file (file_id, uploader, recipient, sha256, size, gmt_create) "
          "VALUES (:p0, :p1, :p2, :p3, :p4, :p5)",
          {kText, kText, kText, kText, kInt, kInt},
          {}};
    });
    st.Bind(0, file.file_id);
    st.Bind(1, file.uploader);
    st.Bind(2, file.recipient);
    st.Bind(3, file.sha256);
    st.Bind(4, file.size);
    st.Bind(5, file.gmt_create);
    st.Execute();
  });
}

std::optional<FileRecord> AccountStore::GetFile(const std::string& file_id) {
  std::optional<FileRecord> file;
  db_->Run([&] {
    file.reset();
    Statement& st = db_->Cached("file.get", [] {
      return Spec{
          "SELECT file_id, uploader, recipient, sha256, size, gmt_create FROM im_file "
          "WHERE file_id = :p0",
          {kText},
          {kText, kText, kText, kText, kInt, kInt}};
    });
    st.Bind(0, file_id);
    if (st.Execute()) {
      file = FileRecord{st.Text(0), st.Text(1), st.Text(2), st.Text(3), st.Int(4), st.Int(5)};
    }
  });
  return file;
}

}  // namespace sparrow::offline
