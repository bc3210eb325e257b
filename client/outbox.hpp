// Outbox: the sender side of the original design's ack window, driven by time instead of a
// busy loop. It numbers a device's chats, decides when each is (re)published, and applies the
// server's answers (topics.md, "Device -> server"):
//
//   - Ids are consecutive per device from lastId + 1 (lastId from the state file, raised by
//     `synced`). A chat gets its id when it is first published, in the order the app queued
//     them, so per-conversation order is the server's id order. Before the first `synced` of
//     a device without state, nothing is numbered (SetNumberingAllowed).
//   - At most `window` numbered chats wait for their SENT at once (the server holds a bounded
//     number of chats that arrive early).
//   - A chat without SENT after `ack_timeout` is published again with the same id (the server
//     answers a repeat with the same SENT), waiting twice as long each time up to
//     `max_backoff`; after `max_attempts` publishes it is given up and reported failed.
//   - SENT (matched by ackDevice + ackMsgId, done by the caller) removes the chat.
//   - A final refusal (not_friends, too_large, spoofed_sender, bad_frame) fails the chat; it
//     does not use up its id, so the chats behind it are renumbered from its id, keeping their
//     order. `out_of_order` with `expected` renumbers the unacknowledged chats from `expected`.
//   - Renumbering that changes a published chat's id is dangerous while the server may still
//     hold the old publish of that id (it would store the old content under the new id's
//     turn). So such renumbered chats wait in quarantine until the server has refused every
//     old id at or above the renumbering point (each refusal is an out_of_order naming it), or
//     `quarantine` has passed. Renumbering that keeps every id is just a resend.
//
// The caller persists chats() whenever changed() is true, and does so BEFORE publishing what
// Poll() returned: a restart then resends each chat with the id it may already have used, and
// the server deduplicates.
//
// Not thread-safe: owned by the client thread. Time comes from the Clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "protocol/frames.hpp"

namespace sparrow::client {

// One queued chat, as persisted.
struct OutgoingChat {
  std::string local_id;  // the app's handle (Client::Send)
  std::string peer;      // destId
  protocol::ChatKind kind = protocol::ChatKind::kText;
  std::string payload;          // the plaintext: the text, or the file descriptor JSON
  std::int64_t id = 0;          // 0 until numbered; then its chat id
  int attempts = 0;             // publishes that counted towards max_attempts
  std::int64_t created_ms = 0;  // wall clock, when queued

  friend bool operator==(const OutgoingChat&, const OutgoingChat&) = default;
};

class Outbox {
 public:
  struct Options {
    std::chrono::milliseconds ack_timeout{5000};
    std::chrono::milliseconds max_backoff{30000};
    int max_attempts = 6;
    std::size_t window = 32;
    std::chrono::milliseconds quarantine{7000};
  };

  struct Failure {
    OutgoingChat chat;
    std::string reason;  // "timeout" here; the caller uses the server's code for refusals
  };

  struct Due {
    std::vector<OutgoingChat> publish;  // in id order: publish each now, with its id
    std::vector<Failure> failed;        // given up after max_attempts: report them
  };

  // `last_id`: the highest chat id this device used; `restored`: the persisted chats, in
  // order (numbered ones first). Restored numbered chats are published again, with their ids,
  // by the next Poll(). Numbering new chats waits for SetNumberingAllowed(true).
  Outbox(const common::Clock& clock, Options options, std::int64_t last_id,
         std::vector<OutgoingChat> restored);

  // Queues a chat (id 0) behind the others.
  void Add(OutgoingChat chat);

  // Whether unnumbered chats may get ids. Allowed from the start when state was restored;
  // otherwise the client allows it at the first `synced`.
  void SetNumberingAllowed(bool allowed) { numbering_allowed_ = allowed; }

  // What to publish now (see Due). Call when connected; persist if changed(), then publish.
  [[nodiscard]] Due Poll();

  // SENT for chat `id`: removes and returns it (nullopt if no queued chat has that id).
  std::optional<OutgoingChat> OnSent(std::int64_t id);
  // A final refusal of chat `id`: removes and returns it, renumbers the chats behind it.
  std::optional<OutgoingChat> OnRefused(std::int64_t id);
  // out_of_order: the server waits for `expected`; `refused_id` is the chat it refused.
  void OnOutOfOrder(std::optional<std::int64_t> refused_id, std::int64_t expected);
  // `synced` with lastId: ids up to it are used (raises last_id()).
  void OnSynced(std::int64_t server_last_id);
  // After a reconnect: every published chat is resent at the next Poll(), without counting
  // as an attempt (publishes may have died with the connection).
  void OnReconnected();

  // The next time Poll() has timed work (nullopt: none).
  [[nodiscard]] std::optional<common::SteadyTime> NextDeadline() const;

  // True when chats() or last_id() changed since ClearChanged().
  [[nodiscard]] bool changed() const { return changed_; }
  void ClearChanged() { changed_ = false; }

  [[nodiscard]] std::vector<OutgoingChat> chats() const;
  [[nodiscard]] std::int64_t last_id() const { return last_id_; }
  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] bool empty() const { return entries_.empty(); }
  [[nodiscard]] bool quarantined() const { return quarantine_.has_value(); }

 private:
  struct Entry {
    OutgoingChat chat;
    bool published = false;    // published under its current id
    bool free_resend = false;  // the next publish does not count as an attempt
    common::SteadyTime due{};  // published: when to resend
  };
  struct Quarantine {
    std::int64_t from = 0;  // chats with id >= from wait
    common::SteadyTime until{};
    std::set<std::int64_t> awaiting;  // old ids the server has not refused yet
  };

  std::chrono::milliseconds Backoff(int attempts) const;
  void Publish(Entry& entry, common::SteadyTime now, Due& due);
  void Renumber(std::int64_t from, std::optional<std::int64_t> resolved);
  void ResolveBelow(std::int64_t id);  // the server accepted every id < id
  void MaybeEndQuarantine(common::SteadyTime now);
  std::list<Entry>::iterator Find(std::int64_t id);

  const common::Clock& clock_;
  const Options options_;
  std::int64_t last_id_;
  std::list<Entry> entries_;  // queue order; numbered entries form a prefix, ids increasing
  bool numbering_allowed_ = false;
  bool changed_ = false;
  std::int64_t max_acked_id_ = 0;      // highest id known accepted (SENT, synced)
  std::set<std::int64_t> unresolved_;  // published ids neither SENT nor refused yet
  std::optional<Quarantine> quarantine_;
};

}  // namespace sparrow::client
