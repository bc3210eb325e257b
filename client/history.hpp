// History: the decrypted conversations of one device, kept locally so that showing a
// conversation needs no network. One append-only JSON-lines file per peer:
//
//   {dir}/{peer}.jsonl
//     {"t":"msg","local":"L1","mid":"","from":"alice","to":"bob","fromDevice":"cli",
//      "out":true,"kind":"text","text":"hi","id":0,"seq":0,"ts":0,"status":"pending"}
//     {"t":"status","local":"L1","mid":"01JD...","id":7,"status":"sent"}
//     {"t":"msg","local":"","mid":"01JE...","from":"bob",...,"status":"delivered"}
//
// Reading folds the lines: a message appears once (by local id for this device's own sends,
// else by mid; a repeat is ignored), in the order it was first recorded, with the latest
// status (statuses only move forward). File messages keep their descriptor, key included, so
// a file can be downloaded again: the folder is 0700 and the files 0600, like the state.
//
// Thread-safe: `mutex_` guards the files (the client thread writes, the app reads).
#pragma once

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "client/message.hpp"

namespace sparrow::client {

struct HistoryEntry {
  Message message;
  // Outgoing: pending/sent/delivered/read/failed. Incoming: delivered, or read once marked.
  MessageStatus status = MessageStatus::kPending;
};

class History {
 public:
  // Creates `dir` (0700) if needed. Throws StateError if it cannot.
  explicit History(std::filesystem::path dir);

  // Records a message of the conversation with message.peer().
  void AddMessage(const Message& message, MessageStatus status);
  // Records a status change of the message named by `local_id` (if not empty) or `mid`.
  // `mid` and `id` (when not empty/0) are remembered for the message.
  void UpdateStatus(const std::string& peer, const std::string& local_id, const std::string& mid,
                    std::int64_t id, MessageStatus status);

  // The conversation with `peer`, oldest first; at most the last `limit` (0: all).
  [[nodiscard]] std::vector<HistoryEntry> Conversation(const std::string& peer,
                                                       std::size_t limit = 0) const;
  // Every peer with a conversation.
  [[nodiscard]] std::vector<std::string> Peers() const;

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

 private:
  void Append(const std::string& peer, const std::string& line);

  const std::filesystem::path dir_;
  mutable std::mutex mutex_;
};

}  // namespace sparrow::client
