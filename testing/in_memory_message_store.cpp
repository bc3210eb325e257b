#include "testing/in_memory_message_store.hpp"

#include <algorithm>

#include "offline/store_error.hpp"

namespace sparrow::testing {

using offline::BatchResult;
using offline::ChatOutcome;
using offline::ChatRecord;
using offline::ChatResult;
using offline::FrameKind;
using offline::ReceiptKind;
using offline::ReceiptOutcome;
using offline::StoredFrame;
using offline::WriteBatch;

BatchResult InMemoryMessageStore::Commit(const WriteBatch& batch) {
  std::lock_guard lock(mu_);
  if (fail_count_ > 0) {
    --fail_count_;
    if (fail_mode_ == FailMode::kAfterWrite) (void)CommitLocked(batch);
    throw offline::StoreError("injected commit failure", fail_retryable_);
  }
  BatchResult result = CommitLocked(batch);
  ++successful_commits_;
  return result;
}

// Mirrors SociMessageStore::CommitOnce step by step (see there), so both pass one contract.
BatchResult InMemoryMessageStore::CommitLocked(const WriteBatch& batch) {
  BatchResult out;
  out.chats.resize(batch.chats.size());
  out.receipts.resize(batch.receipts.size());

  // Receipts: compare-and-set against the chats as they were before this batch.
  std::map<std::string, ChatRecord> touched;  // mid -> state after this batch's receipts
  std::vector<std::size_t> recorded;
  for (std::size_t i = 0; i < batch.receipts.size(); ++i) {
    const offline::ReceiptWrite& receipt = batch.receipts[i];
    auto it = touched.find(receipt.mid);
    if (it == touched.end()) {
      auto chat = chats_.find(receipt.mid);
      if (chat != chats_.end()) it = touched.emplace(receipt.mid, chat->second).first;
    }
    if (it == touched.end() || it->second.from_user != receipt.sender_user) {
      out.receipts[i].outcome = ReceiptOutcome::kUnknownChat;
      continue;
    }
    std::int64_t& field =
        receipt.kind == ReceiptKind::kDelivered ? it->second.delivered_at : it->second.read_at;
    if (field != 0) {
      out.receipts[i].outcome = ReceiptOutcome::kAlreadyRecorded;
      continue;
    }
    field = std::max<std::int64_t>(receipt.at, 1);
    out.receipts[i].outcome = ReceiptOutcome::kRecorded;
    recorded.push_back(i);
  }

  // Chats: dedupe inside the batch, then against what is stored.
  std::map<ChatKey, std::size_t> first_of_key;
  std::vector<std::size_t> to_store;
  std::vector<std::size_t> repeats;
  for (std::size_t i = 0; i < batch.chats.size(); ++i) {
    const offline::ChatWrite& chat = batch.chats[i];
    const ChatKey key{chat.from_user, chat.from_device, chat.client_id};
    if (!first_of_key.emplace(key, i).second) {
      repeats.push_back(i);
      continue;
    }
    auto stored = mid_of_key_.find(key);
    if (stored == mid_of_key_.end()) {
      to_store.push_back(i);
      continue;
    }
    const ChatRecord& record = chats_.at(stored->second);
    out.chats[i] =
        ChatResult{record.mid == chat.mid ? ChatOutcome::kStored : ChatOutcome::kDuplicate,
                   record.mid, record.dest_seq, record.sender_seq};
  }

  // Seqs in batch order: chats (recipient, then sender copy), then receipts.
  for (std::size_t i : to_store) {
    const offline::ChatWrite& chat = batch.chats[i];
    const std::uint64_t dest_seq = ++last_seq_[chat.dest_user];
    inbox_[chat.dest_user][dest_seq] =
        Row{FrameKind::kChat, chat.mid, chat.dest_content, false, chat.gmt_create};
    const std::uint64_t sender_seq = ++last_seq_[chat.from_user];
    inbox_[chat.from_user][sender_seq] =
        Row{FrameKind::kChat, chat.mid, chat.sender_content, false, chat.gmt_create};
    out.chats[i] = ChatResult{ChatOutcome::kStored, chat.mid, dest_seq, sender_seq};
    chats_[chat.mid] = ChatRecord{chat.mid,
                                  chat.from_user,
                                  chat.from_device,
                                  chat.client_id,
                                  chat.dest_user,
                                  dest_seq,
                                  sender_seq,
                                  0,
                                  0,
                                  chat.gmt_create};
    mid_of_key_[{chat.from_user, chat.from_device, chat.client_id}] = chat.mid;
    Device& device = devices_[{chat.from_user, chat.from_device}];
    device.last_id = std::max(device.last_id, chat.client_id);
  }
  for (std::size_t i : recorded) {
    const offline::ReceiptWrite& receipt = batch.receipts[i];
    const std::uint64_t seq = ++last_seq_[receipt.sender_user];
    inbox_[receipt.sender_user][seq] =
        Row{FrameKind::kAck, receipt.mid, receipt.content, false, receipt.at};
    out.receipts[i].seq = seq;
    ChatRecord& chat = chats_.at(receipt.mid);
    if (receipt.kind == ReceiptKind::kDelivered) {
      chat.delivered_at = touched.at(receipt.mid).delivered_at;
      auto user = inbox_.find(chat.dest_user);
      if (user != inbox_.end()) {
        auto row = user->second.find(chat.dest_seq);
        if (row != user->second.end()) row->second.has_read = true;
      }
    } else {
      chat.read_at = touched.at(receipt.mid).read_at;
    }
  }
  for (std::size_t i : repeats) {
    const offline::ChatWrite& chat = batch.chats[i];
    const ChatResult& first =
        out.chats[first_of_key.at({chat.from_user, chat.from_device, chat.client_id})];
    out.chats[i] = ChatResult{ChatOutcome::kDuplicate, first.mid, first.dest_seq, first.sender_seq};
  }
  return out;
}

std::optional<ChatRecord> InMemoryMessageStore::FindChat(const std::string& mid) {
  std::lock_guard lock(mu_);
  auto it = chats_.find(mid);
  if (it == chats_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> InMemoryMessageStore::FindChatMid(const std::string& from_user,
                                                             const std::string& from_device,
                                                             std::int64_t client_id) {
  std::lock_guard lock(mu_);
  auto it = mid_of_key_.find({from_user, from_device, client_id});
  if (it == mid_of_key_.end()) return std::nullopt;
  return it->second;
}

std::int64_t InMemoryMessageStore::LastChatId(const std::string& user, const std::string& device) {
  std::lock_guard lock(mu_);
  auto it = devices_.find({user, device});
  return it == devices_.end() ? 0 : it->second.last_id;
}

std::uint64_t InMemoryMessageStore::LastSeq(const std::string& user) {
  std::lock_guard lock(mu_);
  auto it = last_seq_.find(user);
  return it == last_seq_.end() ? 0 : it->second;
}

std::vector<StoredFrame> InMemoryMessageStore::ReadInbox(const std::string& user,
                                                         std::uint64_t after_seq,
                                                         std::uint64_t upto_seq,
                                                         std::size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<StoredFrame> frames;
  auto it = inbox_.find(user);
  if (it == inbox_.end()) return frames;
  for (auto row = it->second.upper_bound(after_seq);
       row != it->second.end() && row->first <= upto_seq && frames.size() < limit; ++row) {
    frames.push_back(
        StoredFrame{row->first, row->second.kind, row->second.mid, row->second.content});
  }
  return frames;
}

void InMemoryMessageStore::SetSyncCursor(const std::string& user, const std::string& device,
                                         std::uint64_t seq) {
  std::lock_guard lock(mu_);
  Device& d = devices_[{user, device}];
  d.sync_cursor = std::max(d.sync_cursor, seq);
}

std::uint64_t InMemoryMessageStore::SyncCursor(const std::string& user, const std::string& device) {
  std::lock_guard lock(mu_);
  auto it = devices_.find({user, device});
  return it == devices_.end() ? 0 : it->second.sync_cursor;
}

std::size_t InMemoryMessageStore::PurgeDelivered(std::int64_t older_than_ms, std::size_t max_rows) {
  std::lock_guard lock(mu_);
  // The lowest sync cursor of each user's devices (users without devices keep everything).
  std::map<std::string, std::uint64_t> min_cursor;
  for (const auto& [key, device] : devices_) {
    auto [it, inserted] = min_cursor.emplace(key.first, device.sync_cursor);
    if (!inserted) it->second = std::min(it->second, device.sync_cursor);
  }
  struct Victim {
    std::int64_t gmt_create;
    std::string user;
    std::uint64_t seq;
  };
  std::vector<Victim> victims;
  for (const auto& [user, rows] : inbox_) {
    auto cursor = min_cursor.find(user);
    for (const auto& [seq, row] : rows) {
      const bool synced_everywhere = cursor != min_cursor.end() && seq <= cursor->second;
      if (row.gmt_create < older_than_ms && (row.has_read || synced_everywhere)) {
        victims.push_back({row.gmt_create, user, seq});
      }
    }
  }
  std::stable_sort(victims.begin(), victims.end(),
                   [](const Victim& a, const Victim& b) { return a.gmt_create < b.gmt_create; });
  if (victims.size() > max_rows) victims.resize(max_rows);
  for (const Victim& v : victims) inbox_[v.user].erase(v.seq);
  return victims.size();
}

void InMemoryMessageStore::FailNextCommits(int count, FailMode mode, bool retryable) {
  std::lock_guard lock(mu_);
  fail_count_ = count;
  fail_mode_ = mode;
  fail_retryable_ = retryable;
}

int InMemoryMessageStore::successful_commits() const {
  std::lock_guard lock(mu_);
  return successful_commits_;
}

}  // namespace sparrow::testing
