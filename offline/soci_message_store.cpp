#include "offline/soci_message_store.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <span>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "offline/database.hpp"
#include "offline/store_error.hpp"

namespace sparrow::offline {
namespace {

using Spec = Database::StatementSpec;
constexpr SqlType kText = SqlType::kText;
constexpr SqlType kInt = SqlType::kInt;
constexpr SqlType kBytes = SqlType::kBytes;

std::string_view KindName(FrameKind kind) { return kind == FrameKind::kChat ? "chat" : "ack"; }

std::int64_t ToSqlSeq(std::uint64_t seq) {
  // Seqs are < 2^63 (protocol::kMaxSeq); anything above is "no bound".
  return seq > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
             ? std::numeric_limits<std::int64_t>::max()
             : static_cast<std::int64_t>(seq);
}

std::uint64_t FromSqlSeq(std::int64_t seq) { return seq < 0 ? 0 : static_cast<std::uint64_t>(seq); }

// Repeats `types` `rows` times: the parameter list of a multi-row statement.
std::vector<SqlType> Repeat(std::span<const SqlType> types, std::size_t rows) {
  std::vector<SqlType> out;
  out.reserve(types.size() * rows);
  for (std::size_t r = 0; r < rows; ++r) out.insert(out.end(), types.begin(), types.end());
  return out;
}

// Runs one statement per chunk of rows (sql.hpp: chunks of 100/10/1 rows, each statement
// prepared once per size). `make(rows)` builds the statement for a chunk size, `bind(st,
// first_param, row)` binds one row's values, and `read(st)` (optional) consumes the rows a
// query returns.
void ForEachChunk(Database& db, const std::string& key, std::span<const std::size_t> row_bytes,
                  const std::function<Spec(std::size_t rows)>& make, std::size_t params_per_row,
                  const std::function<void(Statement&, std::size_t, std::size_t)>& bind,
                  const std::function<void(Statement&)>& read = {}) {
  std::size_t row = 0;
  for (std::size_t rows : PlanChunks(row_bytes)) {
    Statement& st = db.Cached(key + std::to_string(rows), [&] { return make(rows); });
    for (std::size_t r = 0; r < rows; ++r) bind(st, r * params_per_row, row + r);
    const bool got = st.Execute();
    if (read && got) {
      do {
        read(st);
      } while (st.Next());
    }
    row += rows;
  }
}

// Same, for rows whose values are small and similar in size (ids, integers).
void ForEachChunk(Database& db, const std::string& key, std::size_t count,
                  const std::function<Spec(std::size_t rows)>& make, std::size_t params_per_row,
                  const std::function<void(Statement&, std::size_t, std::size_t)>& bind,
                  const std::function<void(Statement&)>& read = {}) {
  const std::vector<std::size_t> sizes(count, 0);
  ForEachChunk(db, key, sizes, make, params_per_row, bind, read);
}

using ChatKey = std::tuple<std::string, std::string, std::int64_t>;  // user, device, client id

ChatKey KeyOf(const ChatWrite& chat) { return {chat.from_user, chat.from_device, chat.client_id}; }

// What the receipts of a batch need to know about their chats (locked while read).
struct ChatState {
  std::string from_user;
  std::string dest_user;
  std::int64_t dest_seq = 0;
  std::int64_t delivered_at = 0;
  std::int64_t read_at = 0;
};

// A chat already in im_chat under a key of the batch.
struct StoredChat {
  std::string mid;
  std::int64_t dest_seq = 0;
  std::int64_t sender_seq = 0;
};

// One row of im_offline to insert.
struct InboxRow {
  const std::string* user;
  std::int64_t seq;
  const std::string* mid;
  FrameKind kind;
  const std::string* content;
  std::int64_t gmt_create;
};

}  // namespace

SociMessageStore::SociMessageStore(const DbOptions& options, const common::Clock& clock)
    : SociMessageStore(std::make_unique<Database>(options), clock) {}

SociMessageStore::SociMessageStore(std::unique_ptr<Database> database, const common::Clock& clock)
    : db_(std::move(database)), clock_(clock) {}

SociMessageStore::~SociMessageStore() = default;

BatchResult SociMessageStore::Commit(const WriteBatch& batch) {
  BatchResult result;
  if (batch.chats.empty() && batch.receipts.empty()) return result;
  // The first attempt is optimistic: it does not look for stored repeats, because the bridge
  // answers repeats (id <= lastId) before they reach the store, and the im_chat unique key
  // catches the rest. A unique violation (a repeat, or a concurrent writer that stored the same
  // key first) rolls the transaction back, and every later attempt looks first, so the repeat
  // comes back as kDuplicate. Retries after a lost connection look first too: that is how a
  // commit whose answer was lost is recognised (same mid: kStored).
  bool first_attempt = true;
  db_->WriteTransaction(
      [&] {
        const bool check_stored = !first_attempt;
        first_attempt = false;
        result = CommitOnce(batch, check_stored);
      },
      /*retry_on_unique=*/true);
  return result;
}

// One attempt of Commit, inside the transaction. The order of the steps is the order in which
// rows are locked, the same for every writer, and each step locks its rows in key order: two
// group commits touching the same users wait for each other instead of deadlocking.
//   1. the chats the receipts name (SELECT ... FOR UPDATE on MySQL)
//   2. im_user_seq rows of every user that gets a frame (upsert last_seq = last_seq + n)
//   3. im_device rows of the senders
//   4. new im_chat and im_offline rows (no one else can hold them)
// (SQLite needs none of this: BEGIN IMMEDIATE lets one writer in at a time.)
BatchResult SociMessageStore::CommitOnce(const WriteBatch& batch, bool check_stored) {
  Database& db = *db_;
  const Dialect dialect = db.dialect();
  BatchResult out;
  out.chats.resize(batch.chats.size());
  out.receipts.resize(batch.receipts.size());

  // ---- 1. Receipts: read and lock their chats, then compare-and-set in memory, in order.
  std::vector<std::string> receipt_mids;
  for (const ReceiptWrite& receipt : batch.receipts) receipt_mids.push_back(receipt.mid);
  std::sort(receipt_mids.begin(), receipt_mids.end());
  receipt_mids.erase(std::unique(receipt_mids.begin(), receipt_mids.end()), receipt_mids.end());

  std::unordered_map<std::string, ChatState> states;
  if (!receipt_mids.empty()) {
    ForEachChunk(
        db, "receipt.lock.", receipt_mids.size(),
        [&](std::size_t rows) {
          return Spec{
              "SELECT mid, from_user_id, dest_user_id, dest_seq, delivered_at, read_at "
              "FROM im_chat WHERE mid IN " +
                  InList(dialect, kText, rows) + std::string(ForUpdate(dialect)),
              std::vector<SqlType>(rows, kText),
              {kText, kText, kText, kInt, kInt, kInt}};
        },
        1, [&](Statement& st, std::size_t p, std::size_t row) { st.Bind(p, receipt_mids[row]); },
        [&](Statement& st) {
          states[st.Text(0)] = ChatState{st.Text(1), st.Text(2), st.Int(3), st.Int(4), st.Int(5)};
        });
  }

  struct RecordedReceipt {
    std::size_t index;
    const ChatState* chat;
  };
  std::vector<RecordedReceipt> recorded;
  for (std::size_t i = 0; i < batch.receipts.size(); ++i) {
    const ReceiptWrite& receipt = batch.receipts[i];
    auto it = states.find(receipt.mid);
    if (it == states.end() || it->second.from_user != receipt.sender_user) {
      out.receipts[i].outcome = ReceiptOutcome::kUnknownChat;
      continue;
    }
    std::int64_t& field =
        receipt.kind == ReceiptKind::kDelivered ? it->second.delivered_at : it->second.read_at;
    if (field != 0) {
      out.receipts[i].outcome = ReceiptOutcome::kAlreadyRecorded;
      continue;
    }
    field = std::max<std::int64_t>(receipt.at, 1);  // 0 means "not yet"
    out.receipts[i].outcome = ReceiptOutcome::kRecorded;
    recorded.push_back({i, &it->second});
  }

  // ---- Chats: dedupe inside the batch, then (check_stored) against im_chat.
  std::map<ChatKey, std::size_t> first_of_key;  // key -> index of its first chat in the batch
  std::vector<std::size_t> in_batch_repeats;    // chats repeating an earlier one of the batch
  std::vector<const ChatKey*> lookup_keys;
  for (std::size_t i = 0; i < batch.chats.size(); ++i) {
    auto [it, inserted] = first_of_key.emplace(KeyOf(batch.chats[i]), i);
    if (inserted) {
      lookup_keys.push_back(&it->first);
    } else {
      in_batch_repeats.push_back(i);
    }
  }
  std::map<ChatKey, StoredChat> stored;
  if (check_stored && !lookup_keys.empty()) {
    static constexpr std::string_view kKeyColumns[] = {"from_user_id", "from_device", "client_id"};
    static constexpr SqlType kKeyTypes[] = {kText, kText, kInt};
    ForEachChunk(
        db, "chat.dedupe.", lookup_keys.size(),
        [&](std::size_t rows) {
          return Spec{
              "SELECT mid, from_user_id, from_device, client_id, dest_seq, sender_seq "
              "FROM im_chat WHERE " +
                  KeyMatches(dialect, kKeyColumns, kKeyTypes, rows),
              Repeat(kKeyTypes, rows),
              {kText, kText, kText, kInt, kInt, kInt}};
        },
        3,
        [&](Statement& st, std::size_t p, std::size_t row) {
          const auto& [user, device, client_id] = *lookup_keys[row];
          st.Bind(p, user);
          st.Bind(p + 1, device);
          st.Bind(p + 2, client_id);
        },
        [&](Statement& st) {
          stored[ChatKey{st.Text(1), st.Text(2), st.Int(3)}] =
              StoredChat{st.Text(0), st.Int(4), st.Int(5)};
        });
  }

  std::vector<std::size_t> to_store;  // indexes of the chats written now
  for (const auto& [key, index] : first_of_key) {
    auto it = stored.find(key);
    if (it == stored.end()) {
      to_store.push_back(index);
      continue;
    }
    const StoredChat& chat = it->second;
    // The same mid means this very chat was committed before (a commit whose answer was lost):
    // report it as stored, with its seqs, so the caller publishes it as it would have.
    out.chats[index] = ChatResult{
        chat.mid == batch.chats[index].mid ? ChatOutcome::kStored : ChatOutcome::kDuplicate,
        chat.mid, FromSqlSeq(chat.dest_seq), FromSqlSeq(chat.sender_seq)};
  }
  std::sort(to_store.begin(), to_store.end());  // seqs follow the batch order

  // ---- 2. Seqs: one upsert adds each user's count to last_seq (locking the rows, in user
  // order), one read gets the new values.
  std::map<std::string, std::int64_t> count;  // user -> frames this batch adds to the inbox
  for (std::size_t i : to_store) {
    ++count[batch.chats[i].dest_user];
    ++count[batch.chats[i].from_user];
  }
  for (const RecordedReceipt& r : recorded) ++count[batch.receipts[r.index].sender_user];

  std::map<std::string, std::int64_t> next_seq;
  if (!count.empty()) {
    std::vector<std::pair<const std::string*, std::int64_t>> users;
    for (const auto& [user, n] : count) users.emplace_back(&user, n);
    static constexpr SqlType kSeqRow[] = {kText, kInt};
    static constexpr UpsertColumn kSeqMerge[] = {{"last_seq", Merge::kAdd}};
    ForEachChunk(
        db, "seq.add.", users.size(),
        [&](std::size_t rows) {
          return Spec{"INSERT INTO im_user_seq (user_id, last_seq) VALUES " +
                          ValuesRows(dialect, kSeqRow, rows) + " " +
                          UpsertClause(dialect, "user_id", kSeqMerge),
                      Repeat(kSeqRow, rows),
                      {}};
        },
        2,
        [&](Statement& st, std::size_t p, std::size_t row) {
          st.Bind(p, *users[row].first);
          st.Bind(p + 1, users[row].second);
        });
    ForEachChunk(
        db, "seq.read.", users.size(),
        [&](std::size_t rows) {
          return Spec{"SELECT user_id, last_seq FROM im_user_seq WHERE user_id IN " +
                          InList(dialect, kText, rows),
                      std::vector<SqlType>(rows, kText),
                      {kText, kInt}};
        },
        1, [&](Statement& st, std::size_t p, std::size_t row) { st.Bind(p, *users[row].first); },
        [&](Statement& st) {
          // This transaction holds the row's lock, so last_seq - count + 1 .. last_seq are ours.
          next_seq[st.Text(0)] = st.Int(1) - count[st.Text(0)] + 1;
        });
    if (next_seq.size() != count.size()) {
      throw StoreError("im_user_seq: a row written in this transaction was not read back",
                       /*retryable=*/false);
    }
  }

  // Seqs in batch order: chats (recipient, then sender copy), then receipts.
  std::vector<InboxRow> inbox;
  inbox.reserve(to_store.size() * 2 + recorded.size());
  for (std::size_t i : to_store) {
    const ChatWrite& chat = batch.chats[i];
    const std::int64_t dest_seq = next_seq[chat.dest_user]++;
    const std::int64_t sender_seq = next_seq[chat.from_user]++;
    out.chats[i] =
        ChatResult{ChatOutcome::kStored, chat.mid, FromSqlSeq(dest_seq), FromSqlSeq(sender_seq)};
    inbox.push_back({&chat.dest_user, dest_seq, &chat.mid, FrameKind::kChat, &chat.dest_content,
                     chat.gmt_create});
    inbox.push_back({&chat.from_user, sender_seq, &chat.mid, FrameKind::kChat, &chat.sender_content,
                     chat.gmt_create});
  }
  for (const RecordedReceipt& r : recorded) {
    const ReceiptWrite& receipt = batch.receipts[r.index];
    const std::int64_t seq = next_seq[receipt.sender_user]++;
    out.receipts[r.index].seq = FromSqlSeq(seq);
    inbox.push_back(
        {&receipt.sender_user, seq, &receipt.mid, FrameKind::kAck, &receipt.content, receipt.at});
  }

  // ---- 3. Devices: raise last_id (and last seen) of every sending device, in key order.
  if (!to_store.empty()) {
    struct DeviceUpdate {
      std::int64_t last_id = 0;
      std::int64_t seen = 0;
    };
    std::map<std::pair<std::string, std::string>, DeviceUpdate> devices;
    for (std::size_t i : to_store) {
      const ChatWrite& chat = batch.chats[i];
      DeviceUpdate& d = devices[{chat.from_user, chat.from_device}];
      d.last_id = std::max(d.last_id, chat.client_id);
      d.seen = std::max(d.seen, chat.gmt_create);
    }
    std::vector<std::pair<const std::pair<std::string, std::string>*, DeviceUpdate>> rows;
    for (const auto& [key, update] : devices) rows.emplace_back(&key, update);
    static constexpr SqlType kDeviceRow[] = {kText, kText, kInt, kInt, kInt};
    static constexpr UpsertColumn kDeviceMerge[] = {{"last_id", Merge::kMax},
                                                    {"gmt_seen", Merge::kMax}};
    ForEachChunk(
        db, "device.last_id.", rows.size(),
        [&](std::size_t n) {
          return Spec{
              "INSERT INTO im_device (user_id, device_id, last_id, sync_cursor, gmt_seen) "
              "VALUES " +
                  ValuesRows(dialect, kDeviceRow, n) + " " +
                  UpsertClause(dialect, "user_id, device_id", kDeviceMerge),
              Repeat(kDeviceRow, n),
              {}};
        },
        5,
        [&](Statement& st, std::size_t p, std::size_t row) {
          st.Bind(p, rows[row].first->first);
          st.Bind(p + 1, rows[row].first->second);
          st.Bind(p + 2, rows[row].second.last_id);
          st.Bind(p + 3, std::int64_t{0});
          st.Bind(p + 4, rows[row].second.seen);
        });
  }

  // ---- 4. New rows: im_chat (the dedupe key: a concurrent writer's row makes this fail with a
  // unique violation, and the transaction is retried) and im_offline.
  if (!to_store.empty()) {
    static constexpr SqlType kChatRow[] = {kText, kText, kText, kInt, kText,
                                           kInt,  kInt,  kInt,  kInt, kInt};
    ForEachChunk(
        db, "chat.insert.", to_store.size(),
        [&](std::size_t rows) {
          return Spec{
              "INSERT INTO im_chat (mid, from_user_id, from_device, client_id, "
              "dest_user_id, dest_seq, sender_seq, delivered_at, read_at, gmt_create) "
              "VALUES " +
                  ValuesRows(dialect, kChatRow, rows),
              Repeat(kChatRow, rows),
              {}};
        },
        10,
        [&](Statement& st, std::size_t p, std::size_t row) {
          const std::size_t i = to_store[row];
          const ChatWrite& chat = batch.chats[i];
          st.Bind(p, chat.mid);
          st.Bind(p + 1, chat.from_user);
          st.Bind(p + 2, chat.from_device);
          st.Bind(p + 3, chat.client_id);
          st.Bind(p + 4, chat.dest_user);
          st.Bind(p + 5, static_cast<std::int64_t>(out.chats[i].dest_seq));
          st.Bind(p + 6, static_cast<std::int64_t>(out.chats[i].sender_seq));
          st.Bind(p + 7, std::int64_t{0});
          st.Bind(p + 8, std::int64_t{0});
          st.Bind(p + 9, chat.gmt_create);
        });
  }
  if (!inbox.empty()) {
    std::vector<std::size_t> bytes;
    bytes.reserve(inbox.size());
    for (const InboxRow& row : inbox) bytes.push_back(row.content->size() + 128);
    static constexpr SqlType kInboxRow[] = {kText, kInt, kText, kText, kBytes, kInt, kInt};
    ForEachChunk(
        db, "inbox.insert.", bytes,
        [&](std::size_t rows) {
          return Spec{
              "INSERT INTO im_offline (to_user_id, seq, msg_id, msg_type, content, "
              "has_read, gmt_create) VALUES " +
                  ValuesRows(dialect, kInboxRow, rows),
              Repeat(kInboxRow, rows),
              {}};
        },
        7,
        [&](Statement& st, std::size_t p, std::size_t row) {
          const InboxRow& r = inbox[row];
          st.Bind(p, *r.user);
          st.Bind(p + 1, r.seq);
          st.Bind(p + 2, *r.mid);
          st.Bind(p + 3, KindName(r.kind));
          st.Bind(p + 4, *r.content);
          st.Bind(p + 5, std::int64_t{0});
          st.Bind(p + 6, r.gmt_create);
        });
  }

  // ---- Receipt state, one multi-row UPDATE per kind and chunk. The rows are locked (step 1)
  // and their CAS was decided above, so every row must match; if one did not, the transaction
  // fails (retryable) rather than record a receipt twice.
  for (const ReceiptKind kind : {ReceiptKind::kDelivered, ReceiptKind::kRead}) {
    std::vector<const ReceiptWrite*> rows;  // one per mid: a second one would not be recorded
    for (const RecordedReceipt& r : recorded) {
      if (batch.receipts[r.index].kind == kind) rows.push_back(&batch.receipts[r.index]);
    }
    if (rows.empty()) continue;
    const std::string column = kind == ReceiptKind::kDelivered ? "delivered_at" : "read_at";
    std::size_t row = 0;
    for (std::size_t n : PlanChunks(std::vector<std::size_t>(rows.size(), 0))) {
      // UPDATE im_chat SET c = CASE mid WHEN :p0 THEN :p1 ... END WHERE mid IN (...) AND c = 0
      Statement& st = db.Cached("receipt." + column + "." + std::to_string(n), [&] {
        std::vector<SqlType> params;
        for (std::size_t i = 0; i < n; ++i) params.insert(params.end(), {kText, kInt});
        params.insert(params.end(), n, kText);
        return Spec{"UPDATE im_chat SET " + column + " = " +
                        CaseWhen(dialect, "mid", kText, kInt, n) + " WHERE mid IN " +
                        InList(dialect, kText, n, 2 * n) + " AND " + column + " = 0",
                    std::move(params),
                    {}};
      });
      for (std::size_t i = 0; i < n; ++i) {
        const ReceiptWrite& receipt = *rows[row + i];
        st.Bind(2 * i, receipt.mid);
        st.Bind(2 * i + 1, std::max<std::int64_t>(receipt.at, 1));
        st.Bind(2 * n + i, receipt.mid);
      }
      st.Execute();
      if (st.AffectedRows() != static_cast<long long>(n)) {
        throw StoreError("im_chat: a receipt compare-and-set missed a locked row",
                         /*retryable=*/true);
      }
      row += n;
    }
  }
  // A DELIVERED marks the recipient's frame of the chat as read (0 rows if it was purged).
  std::vector<const ChatState*> delivered;
  for (const RecordedReceipt& r : recorded) {
    if (batch.receipts[r.index].kind == ReceiptKind::kDelivered) delivered.push_back(r.chat);
  }
  if (!delivered.empty()) {
    static constexpr std::string_view kFrameKey[] = {"to_user_id", "seq"};
    static constexpr SqlType kFrameKeyTypes[] = {kText, kInt};
    ForEachChunk(
        db, "receipt.has_read.", delivered.size(),
        [&](std::size_t rows) {
          return Spec{"UPDATE im_offline SET has_read = 1 WHERE " +
                          KeyMatches(dialect, kFrameKey, kFrameKeyTypes, rows),
                      Repeat(kFrameKeyTypes, rows),
                      {}};
        },
        2,
        [&](Statement& st, std::size_t p, std::size_t row) {
          st.Bind(p, delivered[row]->dest_user);
          st.Bind(p + 1, delivered[row]->dest_seq);
        });
  }

  // Repeats inside the batch answer with the first chat of their key, now resolved.
  for (std::size_t i : in_batch_repeats) {
    const ChatResult& first = out.chats[first_of_key.at(KeyOf(batch.chats[i]))];
    out.chats[i] = ChatResult{ChatOutcome::kDuplicate, first.mid, first.dest_seq, first.sender_seq};
  }
  return out;
}

std::optional<ChatRecord> SociMessageStore::FindChat(const std::string& mid) {
  std::optional<ChatRecord> record;
  db_->Run([&] {
    record.reset();
    Statement& st = db_->Cached("chat.find", [] {
      return Spec{
          "SELECT mid, from_user_id, from_device, client_id, dest_user_id, dest_seq, "
          "sender_seq, delivered_at, read_at, gmt_create FROM im_chat WHERE mid = :p0",
          {kText},
          {kText, kText, kText, kInt, kText, kInt, kInt, kInt, kInt, kInt}};
    });
    st.Bind(0, mid);
    if (st.Execute()) {
      record = ChatRecord{st.Text(0),
                          st.Text(1),
                          st.Text(2),
                          st.Int(3),
                          st.Text(4),
                          FromSqlSeq(st.Int(5)),
                          FromSqlSeq(st.Int(6)),
                          st.Int(7),
                          st.Int(8),
                          st.Int(9)};
    }
  });
  return record;
}

std::optional<std::string> SociMessageStore::FindChatMid(const std::string& from_user,
                                                         const std::string& from_device,
                                                         std::int64_t client_id) {
  std::optional<std::string> mid;
  db_->Run([&] {
    mid.reset();
    Statement& st = db_->Cached("chat.find_mid", [] {
      return Spec{
          "SELECT mid FROM im_chat WHERE from_user_id = :p0 AND from_device = :p1 AND "
          "client_id = :p2",
          {kText, kText, kInt},
          {kText}};
    });
    st.Bind(0, from_user);
    st.Bind(1, from_device);
    st.Bind(2, client_id);
    if (st.Execute()) mid = st.Text(0);
  });
  return mid;
}

std::int64_t SociMessageStore::LastChatId(const std::string& user, const std::string& device) {
  std::int64_t last_id = 0;
  db_->Run([&] {
    Statement& st = db_->Cached("device.last_id", [] {
      return Spec{"SELECT last_id FROM im_device WHERE user_id = :p0 AND device_id = :p1",
                  {kText, kText},
                  {kInt}};
    });
    st.Bind(0, user);
    st.Bind(1, device);
    last_id = st.Execute() ? st.Int(0) : 0;
  });
  return last_id;
}

std::uint64_t SociMessageStore::LastSeq(const std::string& user) {
  std::int64_t last_seq = 0;
  db_->Run([&] {
    Statement& st = db_->Cached("seq.last", [] {
      return Spec{"SELECT last_seq FROM im_user_seq WHERE user_id = :p0", {kText}, {kInt}};
    });
    st.Bind(0, user);
    last_seq = st.Execute() ? st.Int(0) : 0;
  });
  return FromSqlSeq(last_seq);
}

std::vector<StoredFrame> SociMessageStore::ReadInbox(const std::string& user,
                                                     std::uint64_t after_seq,
                                                     std::uint64_t upto_seq, std::size_t limit) {
  std::vector<StoredFrame> frames;
  if (limit == 0 || after_seq >= upto_seq) return frames;
  db_->Run([&] {
    frames.clear();
    Statement& st = db_->Cached("inbox.read", [] {
      return Spec{
          "SELECT seq, msg_type, msg_id, content FROM im_offline WHERE to_user_id = :p0 "
          "AND seq > :p1 AND seq <= :p2 ORDER BY seq LIMIT :p3",
          {kText, kInt, kInt, kInt},
          {kInt, kText, kText, kBytes}};
    });
    st.Bind(0, user);
    st.Bind(1, ToSqlSeq(after_seq));
    st.Bind(2, ToSqlSeq(upto_seq));
    st.Bind(3, static_cast<std::int64_t>(
                   std::min<std::size_t>(limit, std::numeric_limits<std::int32_t>::max())));
    for (bool got = st.Execute(); got; got = st.Next()) {
      frames.push_back(StoredFrame{FromSqlSeq(st.Int(0)),
                                   st.Text(1) == "ack" ? FrameKind::kAck : FrameKind::kChat,
                                   st.Text(2), st.Text(3)});
    }
  });
  return frames;
}

void SociMessageStore::SetSyncCursor(const std::string& user, const std::string& device,
                                     std::uint64_t seq) {
  const std::int64_t now = clock_.WallMillis();
  db_->Run([&] {
    Statement& st = db_->Cached("device.sync_cursor.set", [&] {
      static constexpr SqlType kRow[] = {kText, kText, kInt, kInt, kInt};
      static constexpr UpsertColumn kMerge[] = {{"sync_cursor", Merge::kMax},
                                                {"gmt_seen", Merge::kMax}};
      return Spec{
          "INSERT INTO im_device (user_id, device_id, last_id, sync_cursor, gmt_seen) "
          "VALUES " +
              ValuesRows(db_->dialect(), kRow, 1) + " " +
              UpsertClause(db_->dialect(), "user_id, device_id", kMerge),
          {kText, kText, kInt, kInt, kInt},
          {}};
    });
    st.Bind(0, user);
    st.Bind(1, device);
    st.Bind(2, std::int64_t{0});
    st.Bind(3, ToSqlSeq(seq));
    st.Bind(4, now);
    st.Execute();
  });
}

std::uint64_t SociMessageStore::SyncCursor(const std::string& user, const std::string& device) {
  std::int64_t cursor = 0;
  db_->Run([&] {
    Statement& st = db_->Cached("device.sync_cursor", [] {
      return Spec{"SELECT sync_cursor FROM im_device WHERE user_id = :p0 AND device_id = :p1",
                  {kText, kText},
                  {kInt}};
    });
    st.Bind(0, user);
    st.Bind(1, device);
    cursor = st.Execute() ? st.Int(0) : 0;
  });
  return FromSqlSeq(cursor);
}

std::size_t SociMessageStore::PurgeDelivered(std::int64_t older_than_ms, std::size_t max_rows) {
  std::size_t deleted = 0;
  if (max_rows == 0) return deleted;
  db_->WriteTransaction([&] {
    deleted = 0;
    // Find the victims first, then delete them by primary key: MySQL allows neither LIMIT in
    // an IN subquery nor a subquery on the table being deleted from. Both conditions only
    // ever become true over time (has_read 0 -> 1, cursors rise), so rows found stay deletable.
    Statement& find = db_->Cached("purge.find", [] {
      return Spec{
          "SELECT o.to_user_id, o.seq FROM im_offline o WHERE o.gmt_create < :p0 AND "
          "(o.has_read = 1 OR o.seq <= (SELECT MIN(d.sync_cursor) FROM im_device d "
          "WHERE d.user_id = o.to_user_id)) ORDER BY o.gmt_create LIMIT :p1",
          {kInt, kInt},
          {kText, kInt}};
    });
    find.Bind(0, older_than_ms);
    find.Bind(1, static_cast<std::int64_t>(
                     std::min<std::size_t>(max_rows, std::numeric_limits<std::int32_t>::max())));
    std::vector<std::pair<std::string, std::int64_t>> victims;
    for (bool got = find.Execute(); got; got = find.Next()) {
      victims.emplace_back(find.Text(0), find.Int(1));
    }
    static constexpr std::string_view kKeyColumns[] = {"to_user_id", "seq"};
    static constexpr SqlType kKeyTypes[] = {kText, kInt};
    const Dialect dialect = db_->dialect();
    ForEachChunk(
        *db_, "purge.delete.", victims.size(),
        [&](std::size_t rows) {
          return Spec{
              "DELETE FROM im_offline WHERE " + KeyMatches(dialect, kKeyColumns, kKeyTypes, rows),
              Repeat(kKeyTypes, rows),
              {}};
        },
        2,
        [&](Statement& st, std::size_t p, std::size_t row) {
          st.Bind(p, victims[row].first);
          st.Bind(p + 1, victims[row].second);
        });
    deleted = victims.size();
  });
  return deleted;
}

}  // namespace sparrow::offline
