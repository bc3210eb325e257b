#include "tests/chaos/history.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <sstream>

namespace sparrow::chaos {
namespace {

constexpr std::array<std::pair<EventKind, std::string_view>, 13> kKindNames{{
    {EventKind::kAttempt, "attempt"},
    {EventKind::kRefused, "refused"},
    {EventKind::kSent, "sent"},
    {EventKind::kFailed, "failed"},
    {EventKind::kDisplayed, "displayed"},
    {EventKind::kReceipt, "receipt"},
    {EventKind::kMarkedRead, "marked_read"},
    {EventKind::kConnected, "connected"},
    {EventKind::kSynced, "synced"},
    {EventKind::kDisconnected, "disconnected"},
    {EventKind::kCrashed, "crashed"},
    {EventKind::kFinalSync, "final_sync"},
    {EventKind::kSettled, "settled"},
}};

// What Check knows of one attempted message.
struct Msg {
  const Event* attempt = nullptr;
  std::string stream;  // from|from_device|to
  std::int64_t n = 0;  // position in its stream
  std::string mid;     // from the first SENT
  std::int64_t sent_ns = -1;
  bool failed = false;
};

// Per device: when it settled, its final connection, which incarnations crashed.
struct DeviceLife {
  std::int64_t settled_ns = -1;
  std::int64_t covered_before_ns = -1;  // messages SENT before this must be displayed
  std::int64_t final_sync_ns = -1;
  std::set<int> crashed;
};

}  // namespace

std::string_view ToString(EventKind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) return name;
  }
  return "?";
}

std::optional<EventKind> ParseEventKind(std::string_view text) {
  for (const auto& [k, name] : kKindNames) {
    if (name == text) return k;
  }
  return std::nullopt;
}

nlohmann::json ToJson(const Event& e) {
  nlohmann::json j{{"ev", ToString(e.kind)}, {"t", e.t_ns}, {"device", e.device}};
  if (e.incarnation != 0) j["inc"] = e.incarnation;
  if (!e.local_id.empty()) j["local"] = e.local_id;
  if (!e.mid.empty()) j["mid"] = e.mid;
  if (!e.from.empty()) j["from"] = e.from;
  if (!e.from_device.empty()) j["fromDevice"] = e.from_device;
  if (!e.to.empty()) j["to"] = e.to;
  if (!e.text.empty()) j["text"] = e.text;
  if (e.seq != 0) j["seq"] = e.seq;
  if (!e.detail.empty()) j["detail"] = e.detail;
  return j;
}

std::optional<Event> EventFromJson(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("ev") || !j["ev"].is_string()) return std::nullopt;
  auto kind = ParseEventKind(j["ev"].get<std::string>());
  if (!kind) return std::nullopt;
  Event e;
  e.kind = *kind;
  e.t_ns = j.value("t", std::int64_t{0});
  e.device = j.value("device", "");
  e.incarnation = j.value("inc", 0);
  e.local_id = j.value("local", "");
  e.mid = j.value("mid", "");
  e.from = j.value("from", "");
  e.from_device = j.value("fromDevice", "");
  e.to = j.value("to", "");
  e.text = j.value("text", "");
  e.seq = j.value("seq", std::uint64_t{0});
  e.detail = j.value("detail", "");
  return e;
}

std::int64_t NowNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string DeviceName(const std::string& user, const std::string& device) {
  return user + ":" + device;
}

std::string UserOf(const std::string& device_name) {
  return device_name.substr(0, device_name.find(':'));
}

std::vector<std::pair<std::string, std::int64_t>> Figures::Items() const {
  return {{"sent", sent},
          {"acked", acked},
          {"displayed", displayed},
          {"acked_lost", acked_lost},
          {"copies_lost", copies_lost},
          {"dup_displayed", dup_displayed},
          {"order_violations", order_violations},
          {"unexpected", unexpected},
          {"failed_shown", failed_shown},
          {"failed_but_delivered", failed_but_delivered},
          {"unresolved", unresolved},
          {"store_duplicate_rows", store_duplicate_rows},
          {"store_seq_gaps", store_seq_gaps},
          {"store_lost", store_lost},
          {"receipt_mismatches", receipt_mismatches},
          {"receipts_missing", receipts_missing},
          {"crash_redisplayed", crash_redisplayed},
          {"sent_while_db_down", sent_while_db_down},
          {"late", late}};
}

std::string Figures::ToLine() const {
  std::string out;
  for (const auto& [key, value] : Items()) {
    if (!out.empty()) out += ' ';
    out += key + "=" + std::to_string(value);
  }
  return out;
}

bool Figures::Safe() const {
  return acked_lost == 0 && copies_lost == 0 && dup_displayed == 0 && order_violations == 0 &&
         unexpected == 0 && store_duplicate_rows == 0 && store_lost == 0 && store_seq_gaps == 0 &&
         receipt_mismatches == 0 && sent_while_db_down == 0;
}

CheckResult Check(const std::vector<Event>& input, const CheckOptions& options) {
  CheckResult result;
  Figures& f = result.figures;
  std::map<std::string, std::size_t> shown;  // examples per figure
  auto example = [&](const std::string& figure, const std::string& what) {
    if (shown[figure]++ < options.max_examples) result.examples.push_back(figure + ": " + what);
  };

  std::vector<const Event*> events;
  events.reserve(input.size());
  for (const auto& e : input) events.push_back(&e);
  std::stable_sort(events.begin(), events.end(),
                   [](const Event* a, const Event* b) { return a->t_ns < b->t_ns; });

  // Attempts, SENTs and failures.
  std::unordered_map<std::string, Msg> by_text;
  std::unordered_map<std::string, std::string> text_of_local;
  std::unordered_map<std::string, std::string> text_of_mid;  // SENT mid -> text
  std::unordered_map<std::string, std::int64_t> stream_next;
  for (const Event* e : events) {
    if (e->kind != EventKind::kAttempt) continue;
    ++f.sent;
    auto [it, inserted] = by_text.try_emplace(e->text);
    if (!inserted) {
      ++f.unexpected;
      example("unexpected", "attempt text repeated: " + e->text);
      continue;
    }
    Msg& m = it->second;
    m.attempt = e;
    m.stream = e->from + "|" + e->from_device + "|" + e->to;
    m.n = stream_next[m.stream]++;
    text_of_local[e->local_id] = e->text;
  }
  for (const Event* e : events) {
    if (e->kind == EventKind::kRefused) {
      ++f.failed_shown;
      continue;
    }
    if (e->kind != EventKind::kSent && e->kind != EventKind::kFailed) continue;
    auto local = text_of_local.find(e->local_id);
    if (local == text_of_local.end()) {
      ++f.unexpected;
      example("unexpected", std::string(ToString(e->kind)) + " for an unknown local id " +
                                e->local_id + " on " + e->device);
      continue;
    }
    Msg& m = by_text[local->second];
    if (e->kind == EventKind::kFailed) {
      ++f.failed_shown;
      m.failed = true;
      continue;
    }
    if (m.sent_ns >= 0) {
      if (e->mid != m.mid) {
        ++f.unexpected;
        example("unexpected", "two SENT mids for text " + local->second);
      }
      continue;
    }
    m.sent_ns = e->t_ns;
    m.mid = e->mid;
    text_of_mid[e->mid] = local->second;
  }

  // Device lives.
  std::unordered_map<std::string, DeviceLife> lives;
  {
    struct Open {
      std::int64_t connected_ns = -1;
      int incarnation = -1;
    };
    std::unordered_map<std::string, Open> open;  // last connection per device
    for (const Event* e : events) {
      DeviceLife& life = lives[e->device];
      switch (e->kind) {
        case EventKind::kConnected:
          open[e->device] = Open{e->t_ns, e->incarnation};
          break;
        case EventKind::kSynced: {
          auto it = open.find(e->device);
          if (it != open.end() && it->second.incarnation == e->incarnation &&
              it->second.connected_ns >= 0) {
            life.covered_before_ns = it->second.connected_ns;
          }
          break;
        }
        case EventKind::kDisconnected:
        case EventKind::kCrashed:
          open.erase(e->device);
          if (e->kind == EventKind::kCrashed) life.crashed.insert(e->incarnation);
          break;
        case EventKind::kFinalSync:
          life.final_sync_ns = e->t_ns;
          break;
        case EventKind::kSettled:
          life.settled_ns = e->t_ns;
          break;
        default:
          break;
      }
    }
  }
  auto covered = [&](const std::string& device, const Msg& m) {
    auto it = lives.find(device);
    if (it == lives.end()) return false;
    const DeviceLife& life = it->second;
    return life.settled_ns >= 0 && life.covered_before_ns >= 0 && m.sent_ns >= 0 &&
           m.sent_ns < life.covered_before_ns && life.covered_before_ns <= life.settled_ns;
  };

  // Displays.
  struct Seen {
    int incarnation = 0;
  };
  std::unordered_map<std::string, std::unordered_map<std::string, Seen>> seen_mid;   // device
  std::unordered_map<std::string, std::unordered_map<std::string, Seen>> seen_text;  // device
  std::unordered_map<std::string, std::unordered_map<std::string, std::int64_t>> max_n;
  std::unordered_map<std::string, std::unordered_set<std::string>> displayed_texts;    // device
  std::unordered_map<std::string, std::unordered_set<std::string>> displayed_by_user;  // text
  std::set<std::pair<std::string, std::string>> marked_read;  // (user, mid)
  for (const Event* e : events) {
    if (e->kind == EventKind::kMarkedRead) {
      marked_read.emplace(UserOf(e->device), e->mid);
      continue;
    }
    if (e->kind != EventKind::kDisplayed) continue;
    ++f.displayed;
    const std::string user = UserOf(e->device);
    const DeviceLife& life = lives[e->device];
    auto repeat_of = [&](std::unordered_map<std::string, Seen>& seen,
                         const std::string& key) -> std::optional<Seen> {
      auto [it, inserted] = seen.try_emplace(key, Seen{e->incarnation});
      if (inserted) return std::nullopt;
      return it->second;
    };
    auto by_mid = repeat_of(seen_mid[e->device], e->mid);
    auto by_txt = repeat_of(seen_text[e->device], e->text);
    if (by_mid || by_txt) {
      const Seen earlier = by_mid ? *by_mid : *by_txt;
      if (earlier.incarnation != e->incarnation && life.crashed.count(earlier.incarnation)) {
        ++f.crash_redisplayed;
      } else {
        ++f.dup_displayed;
        example("dup_displayed", "device=" + e->device + " mid=" + e->mid + " text=" + e->text);
      }
      continue;
    }
    if (life.final_sync_ns >= 0 && e->t_ns > life.final_sync_ns) {
      ++f.late;
      example("late", "device=" + e->device + " text=" + e->text);
    }
    displayed_texts[e->device].insert(e->text);
    auto it = by_text.find(e->text);
    if (it == by_text.end()) {
      ++f.unexpected;
      example("unexpected", "displayed but never sent: device=" + e->device + " text=" + e->text);
      continue;
    }
    const Msg& m = it->second;
    const Event& a = *m.attempt;
    if (e->from != a.from || e->from_device != a.from_device || e->to != a.to ||
        (user != a.to && user != a.from) || e->device == DeviceName(a.from, a.from_device) ||
        (!m.mid.empty() && e->mid != m.mid)) {
      ++f.unexpected;
      example("unexpected", "displayed as something else: device=" + e->device +
                                " text=" + e->text + " mid=" + e->mid + " sent_mid=" + m.mid +
                                " from=" + e->from + "/" + e->from_device + " to=" + e->to);
      continue;
    }
    if (user == a.to) displayed_by_user[e->text].insert(e->device);
    auto [pos, first] = max_n[e->device].try_emplace(m.stream, m.n);
    if (!first) {
      if (m.n < pos->second) {
        ++f.order_violations;
        example("order_violations", "device=" + e->device + " text=" + e->text + " after #" +
                                        std::to_string(pos->second) + " of its stream");
      } else {
        pos->second = m.n;
      }
    }
  }

  // Loss, failures, durability.
  std::unordered_map<std::string, std::vector<std::string>> devices_of;  // user -> devices
  for (const auto& [device, life] : lives) devices_of[UserOf(device)].push_back(device);
  for (const auto& [text, m] : by_text) {
    const Event& a = *m.attempt;
    if (m.sent_ns >= 0) ++f.acked;
    if (m.sent_ns < 0 && !m.failed) ++f.unresolved;
    if (m.failed && (m.sent_ns >= 0 || displayed_by_user.count(text))) {
      ++f.failed_but_delivered;
      example("failed_but_delivered", "text=" + text);
    }
    if (m.sent_ns < 0) continue;
    if (options.store && !options.store->chat_mids.count(m.mid)) {
      ++f.store_lost;
      example("store_lost", "mid=" + m.mid + " text=" + text);
    }
    for (const auto& outage : options.outages) {
      if (a.t_ns > outage.from_ns && m.sent_ns < outage.to_ns) {
        ++f.sent_while_db_down;
        example("sent_while_db_down", "text=" + text);
      }
    }
    bool lost = false, copy_lost = false;
    for (const auto& device : devices_of[a.to]) {
      if (covered(device, m) && !displayed_texts[device].count(text)) {
        lost = true;
        example("acked_lost", "device=" + device + " mid=" + m.mid + " text=" + text);
      }
    }
    for (const auto& device : devices_of[a.from]) {
      if (device == DeviceName(a.from, a.from_device)) continue;
      if (covered(device, m) && !displayed_texts[device].count(text)) {
        copy_lost = true;
        example("copies_lost", "device=" + device + " mid=" + m.mid + " text=" + text);
      }
    }
    f.acked_lost += lost ? 1 : 0;
    f.copies_lost += copy_lost ? 1 : 0;
  }

  // Receipts.
  std::set<std::tuple<std::string, int, std::string, std::string>> receipts_seen;
  std::set<std::pair<std::string, std::string>> delivered_on;  // (device, mid), any incarnation
  for (const Event* e : events) {
    if (e->kind != EventKind::kReceipt) continue;
    const bool read = e->detail == "read";
    if (!receipts_seen.emplace(e->device, e->incarnation, e->mid, e->detail).second) {
      ++f.receipt_mismatches;
      example("receipt_mismatches", "shown twice: device=" + e->device + " mid=" + e->mid);
      continue;
    }
    auto t = text_of_mid.find(e->mid);
    const Msg* m = t == text_of_mid.end() ? nullptr : &by_text[t->second];
    if (m == nullptr || m->attempt->from != UserOf(e->device)) {
      ++f.receipt_mismatches;
      example("receipt_mismatches",
              "for a mid that is not this user's message: device=" + e->device + " mid=" + e->mid);
      continue;
    }
    if (!displayed_by_user.count(t->second)) {
      ++f.receipt_mismatches;
      example("receipt_mismatches", "never displayed: device=" + e->device + " mid=" + e->mid);
      continue;
    }
    if (read && !marked_read.count({m->attempt->to, e->mid})) {
      ++f.receipt_mismatches;
      example("receipt_mismatches", "READ never marked: mid=" + e->mid);
      continue;
    }
    if (read && !receipts_seen.count({e->device, e->incarnation, e->mid, "delivered"})) {
      ++f.receipt_mismatches;
      example("receipt_mismatches",
              "READ before DELIVERED: device=" + e->device + " mid=" + e->mid);
      continue;
    }
    if (!read) delivered_on.emplace(e->device, e->mid);
  }
  for (const auto& [text, m] : by_text) {
    if (m.sent_ns < 0 || !displayed_by_user.count(text)) continue;
    const std::string sender = DeviceName(m.attempt->from, m.attempt->from_device);
    auto life = lives.find(sender);
    if (life == lives.end() || life->second.settled_ns < 0) continue;
    if (!delivered_on.count({sender, m.mid})) {
      ++f.receipts_missing;
      example("receipts_missing", "device=" + sender + " mid=" + m.mid);
    }
  }

  if (options.store) {
    f.store_duplicate_rows = options.store->chat_key_duplicates + options.store->inbox_duplicates +
                             options.store->text_duplicates;
    f.store_seq_gaps = options.store->seq_gaps;
  }
  return result;
}

// ---- History ----

bool History::Concerns(const std::string& device, const MessageInfo& info) const {
  const std::string user = UserOf(device);
  return info.to == user ||
         (info.from == user && DeviceName(info.from, info.from_device) != device);
}

void History::ApplySent(const std::string& local_id, const std::string& mid, MessageInfo& info) {
  (void)local_id;
  if (info.resolved) return;
  info.resolved = true;
  ++resolved_;
  ++acked_;
  by_mid_.emplace(mid, info);
  for (auto& [device, w] : watched_) {
    if (!Concerns(device, info)) continue;
    ++w.expected;
    if (w.displayed.count(mid)) ++w.matched;
  }
}

void History::Append(Event event) {
  std::lock_guard<std::mutex> lock(mutex_);
  switch (event.kind) {
    case EventKind::kAttempt: {
      ++attempts_;
      MessageInfo info{event.from, event.from_device, event.to, false};
      auto& stored = by_local_[event.local_id] = info;
      if (auto it = early_.find(event.local_id); it != early_.end()) {
        ApplySent(event.local_id, it->second, stored);
        early_.erase(it);
      } else if (early_failed_.erase(event.local_id)) {
        stored.resolved = true;
        ++resolved_;
      }
      break;
    }
    case EventKind::kSent: {
      auto it = by_local_.find(event.local_id);
      if (it == by_local_.end()) {
        early_.emplace(event.local_id, event.mid);
      } else {
        ApplySent(event.local_id, event.mid, it->second);
      }
      break;
    }
    case EventKind::kFailed: {
      auto it = by_local_.find(event.local_id);
      if (it == by_local_.end()) {
        early_failed_.insert(event.local_id);
      } else if (!it->second.resolved) {
        it->second.resolved = true;
        ++resolved_;
      }
      break;
    }
    case EventKind::kDisplayed: {
      ++displayed_count_[event.device];
      auto w = watched_.find(event.device);
      if (w != watched_.end() && w->second.displayed.insert(event.mid).second) {
        auto m = by_mid_.find(event.mid);
        if (m != by_mid_.end() && Concerns(event.device, m->second)) ++w->second.matched;
      }
      break;
    }
    case EventKind::kSynced: {
      auto& last = last_synced_[event.device];
      last = std::max(last, event.t_ns);
      break;
    }
    default:
      break;
  }
  events_.push_back(std::move(event));
}

std::vector<Event> History::Events() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return events_;
}

std::size_t History::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return events_.size();
}

void History::Watch(const std::string& device) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (watched_.count(device)) return;
  Watched w;
  for (const auto& e : events_) {
    if (e.kind == EventKind::kDisplayed && e.device == device) w.displayed.insert(e.mid);
  }
  for (const auto& [mid, info] : by_mid_) {
    if (!Concerns(device, info)) continue;
    ++w.expected;
    if (w.displayed.count(mid)) ++w.matched;
  }
  watched_.emplace(device, std::move(w));
}

void History::Forget(const std::string& device) {
  std::lock_guard<std::mutex> lock(mutex_);
  watched_.erase(device);
}

std::int64_t History::MissingDisplays() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::int64_t missing = 0;
  for (const auto& [device, w] : watched_) missing += w.expected - w.matched;
  return missing;
}

std::int64_t History::Unresolved() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return attempts_ - resolved_;
}

std::int64_t History::AckedCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return acked_;
}

std::int64_t History::AttemptCount() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return attempts_;
}

std::int64_t History::DisplayedOn(const std::string& device) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = displayed_count_.find(device);
  return it == displayed_count_.end() ? 0 : it->second;
}

std::size_t History::DevicesWith(EventKind kind, std::int64_t since_ns) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (kind == EventKind::kSynced) {
    std::size_t n = 0;
    for (const auto& [device, t] : last_synced_) n += t >= since_ns ? 1 : 0;
    return n;
  }
  std::unordered_set<std::string> devices;
  for (auto it = events_.rbegin(); it != events_.rend() && it->t_ns >= since_ns - 1'000'000'000;
       ++it) {
    if (it->kind == kind && it->t_ns >= since_ns) devices.insert(it->device);
  }
  return devices.size();
}

}  // namespace sparrow::chaos
