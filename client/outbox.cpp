#include "client/outbox.hpp"

#include <algorithm>
#include <utility>

namespace sparrow::client {

Outbox::Outbox(const common::Clock& clock, Options options, std::int64_t last_id,
               std::vector<OutgoingChat> restored)
    : clock_(clock), options_(options), last_id_(last_id) {
  for (auto& chat : restored) {
    if (chat.id > last_id_) last_id_ = chat.id;  // a state file never undercounts its ids
    entries_.push_back(Entry{.chat = std::move(chat)});
  }
}

void Outbox::Add(OutgoingChat chat) {
  chat.id = 0;
  chat.attempts = 0;
  entries_.push_back(Entry{.chat = std::move(chat)});
  changed_ = true;
}

std::chrono::milliseconds Outbox::Backoff(int attempts) const {
  auto wait = options_.ack_timeout;
  for (int i = 1; i < attempts && wait < options_.max_backoff; ++i) wait *= 2;
  return std::min(wait, options_.max_backoff);
}

void Outbox::Publish(Entry& entry, common::SteadyTime now, Due& due) {
  if (!entry.free_resend) ++entry.chat.attempts;
  entry.free_resend = false;
  entry.published = true;
  entry.due = now + Backoff(std::max(entry.chat.attempts, 1));
  unresolved_.insert(entry.chat.id);
  changed_ = true;  // attempts are persisted, so a restart does not retry forever
  due.publish.push_back(entry.chat);
}

Outbox::Due Outbox::Poll() {
  Due due;
  const auto now = clock_.Now();
  MaybeEndQuarantine(now);
  std::size_t in_flight = 0;
  for (const auto& entry : entries_) {
    if (entry.chat.id != 0) ++in_flight;
  }
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& entry = *it;
    if (entry.chat.id == 0) {
      if (!numbering_allowed_ || quarantine_ || in_flight >= options_.window) break;
      entry.chat.id = ++last_id_;
      entry.published = false;
      ++in_flight;
      changed_ = true;
    }
    if (quarantine_ && entry.chat.id >= quarantine_->from) break;  // so are all behind it
    if (!entry.published) {
      Publish(entry, now, due);
    } else if (now >= entry.due) {
      if (!entry.free_resend && entry.chat.attempts >= options_.max_attempts) {
        // Given up. Its id stays used as far as we know: if the server never got it, the
        // chats behind it come back as out_of_order and are renumbered then.
        due.failed.push_back(Failure{.chat = std::move(entry.chat), .reason = "timeout"});
        it = entries_.erase(it);
        --in_flight;
        changed_ = true;
        continue;
      }
      Publish(entry, now, due);
    }
    ++it;
  }
  return due;
}

std::list<Outbox::Entry>::iterator Outbox::Find(std::int64_t id) {
  return std::find_if(entries_.begin(), entries_.end(),
                      [id](const Entry& e) { return e.chat.id == id; });
}

void Outbox::ResolveBelow(std::int64_t id) {
  unresolved_.erase(unresolved_.begin(), unresolved_.lower_bound(id));
}

std::optional<OutgoingChat> Outbox::OnSent(std::int64_t id) {
  // The server applies a device's chats in id order: every id <= `id` is accepted.
  max_acked_id_ = std::max(max_acked_id_, id);
  ResolveBelow(id + 1);
  auto it = Find(id);
  if (it == entries_.end()) return std::nullopt;
  if (quarantine_ && id >= quarantine_->from) return std::nullopt;  // cannot be ours: see header
  OutgoingChat chat = std::move(it->chat);
  entries_.erase(it);
  changed_ = true;
  return chat;
}

std::optional<OutgoingChat> Outbox::OnRefused(std::int64_t id) {
  ResolveBelow(id);  // decided in turn: everything before it was accepted
  unresolved_.erase(id);
  std::optional<OutgoingChat> refused;
  auto it = Find(id);
  if (it != entries_.end()) {
    refused = std::move(it->chat);
    entries_.erase(it);
    changed_ = true;
  }
  Renumber(id, id);
  return refused;
}

void Outbox::OnOutOfOrder(std::optional<std::int64_t> refused_id, std::int64_t expected) {
  if (refused_id) unresolved_.erase(*refused_id);
  if (quarantine_ && refused_id && quarantine_->awaiting.erase(*refused_id) > 0) {
    MaybeEndQuarantine(clock_.Now());
    return;  // the refusal of an old publish we were waiting for: already renumbered
  }
  if (expected <= max_acked_id_) return;  // older than a SENT we have: stale
  ResolveBelow(expected);
  Renumber(expected, refused_id);
}

void Outbox::Renumber(std::int64_t from, std::optional<std::int64_t> resolved) {
  std::vector<Entry*> tail;
  for (auto& entry : entries_) {
    if (entry.chat.id != 0 && entry.chat.id >= from) tail.push_back(&entry);
  }
  // Chats whose id stays the same (a prefix of the tail) are simply resent; the first one
  // whose id changes starts the part that may need quarantine.
  std::size_t kept = 0;
  while (kept < tail.size() && tail[kept]->chat.id == from + static_cast<std::int64_t>(kept)) {
    ++kept;
  }
  const auto now = clock_.Now();
  for (std::size_t i = 0; i < kept; ++i) {
    if (tail[i]->published) {
      tail[i]->due = now;  // resend at once, as a repeat of the same id
      tail[i]->free_resend = true;
    }
  }
  const std::int64_t changed_from = from + static_cast<std::int64_t>(kept);
  for (std::size_t i = kept; i < tail.size(); ++i) {
    tail[i]->chat.id = from + static_cast<std::int64_t>(i);
    tail[i]->published = false;
    tail[i]->free_resend = false;
  }
  // Unnumbered chats come after every numbered one, so last_id_ may move down here: a refused
  // id is used again by the next chat.
  const std::int64_t new_last = from - 1 + static_cast<std::int64_t>(tail.size());
  if (new_last != last_id_ || kept < tail.size()) changed_ = true;
  last_id_ = new_last;

  // Old publishes of ids that now name other content, which the server may still hold: wait
  // for their refusals before publishing under those ids.
  std::set<std::int64_t> awaiting(unresolved_.lower_bound(changed_from), unresolved_.end());
  awaiting.erase(from);  // the server said it waits for `from`: it does not hold it
  if (resolved) awaiting.erase(*resolved);
  unresolved_.erase(unresolved_.lower_bound(changed_from), unresolved_.end());
  if (awaiting.empty()) return;
  if (quarantine_) {
    quarantine_->from = std::min(quarantine_->from, changed_from);
    quarantine_->awaiting.insert(awaiting.begin(), awaiting.end());
    quarantine_->until = std::max(quarantine_->until, now + options_.quarantine);
  } else {
    quarantine_ = Quarantine{
        .from = changed_from, .until = now + options_.quarantine, .awaiting = std::move(awaiting)};
  }
}

void Outbox::MaybeEndQuarantine(common::SteadyTime now) {
  if (quarantine_ && (quarantine_->awaiting.empty() || now >= quarantine_->until)) {
    quarantine_.reset();
  }
}

void Outbox::OnSynced(std::int64_t server_last_id) {
  max_acked_id_ = std::max(max_acked_id_, server_last_id);
  ResolveBelow(server_last_id + 1);
  if (server_last_id > last_id_) {
    // The server used ids this state does not know (the state was lost or is older): go on
    // after them. Only unnumbered chats can be queued then (numbering waits for `synced`).
    last_id_ = server_last_id;
    changed_ = true;
  }
}

void Outbox::OnReconnected() {
  const auto now = clock_.Now();
  for (auto& entry : entries_) {
    if (entry.published) {
      entry.due = now;
      entry.free_resend = true;
    }
  }
}

std::optional<common::SteadyTime> Outbox::NextDeadline() const {
  std::optional<common::SteadyTime> next;
  auto consider = [&](common::SteadyTime t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& entry : entries_) {
    if (entry.chat.id == 0) break;
    if (quarantine_ && entry.chat.id >= quarantine_->from) break;
    consider(entry.published ? entry.due : clock_.Now());
  }
  if (quarantine_) consider(quarantine_->until);
  return next;
}

std::vector<OutgoingChat> Outbox::chats() const {
  std::vector<OutgoingChat> out;
  out.reserve(entries_.size());
  for (const auto& entry : entries_) out.push_back(entry.chat);
  return out;
}

}  // namespace sparrow::client
