#include "client/history.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <system_error>

#include "client/files.hpp"
#include "client/state_store.hpp"
#include "protocol/identity.hpp"

namespace sparrow::client {
namespace {

using nlohmann::json;

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

int Rank(MessageStatus status) {
  switch (status) {
    case MessageStatus::kPending:
      return 0;
    case MessageStatus::kSent:
      return 1;
    case MessageStatus::kDelivered:
      return 2;
    case MessageStatus::kRead:
      return 3;
    case MessageStatus::kFailed:
      return 1;  // after pending only; never overrides sent or later
  }
  return 0;
}

// Whether `next` may replace `current` (statuses only move forward).
bool Advances(MessageStatus current, MessageStatus next) {
  if (current == MessageStatus::kFailed) return false;
  if (next == MessageStatus::kFailed) return current == MessageStatus::kPending;
  return Rank(next) > Rank(current);
}

template <class T>
T Get(const json& j, const char* name, T fallback) {
  if (!j.contains(name)) return fallback;
  try {
    return j[name].get<T>();
  } catch (const json::exception&) {
    return fallback;
  }
}

}  // namespace

History::History(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw StateError("history: cannot create " + dir_.string() + ": " + ec.message());
  ::chmod(dir_.c_str(), 0700);
}

void History::Append(const std::string& peer, const std::string& line) {
  if (!protocol::IsValidUserId(peer)) return;  // the file name must be a plain user id
  const auto path = dir_ / (peer + ".jsonl");
  std::lock_guard<std::mutex> lock(mutex_);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw StateError("history: cannot open " + path.string() + ": " + std::strerror(errno));
  }
  // After a crash mid-line (a torn last line), start on a fresh line.
  std::string data;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    char last = '\n';
    if (::pread(fd, &last, 1, st.st_size - 1) == 1 && last != '\n') data += '\n';
  }
  data += line;
  data += '\n';
  // One write() per line with O_APPEND: a line is never interleaved with another.
  const ssize_t n = ::write(fd, data.data(), data.size());
  const int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(data.size())) {
    throw StateError("history: cannot write " + path.string() + ": " + std::strerror(err));
  }
}

void History::AddMessage(const Message& m, MessageStatus status) {
  json j{{"t", "msg"},
         {"local", m.local_id},
         {"mid", m.mid},
         {"from", m.from},
         {"to", m.to},
         {"fromDevice", m.from_device},
         {"out", m.outgoing},
         {"kind", protocol::ToString(m.kind)},
         {"text", m.text},
         {"id", m.id},
         {"seq", m.seq},
         {"ts", m.ts},
         {"status", ToString(status)}};
  if (m.file) j["file"] = json::parse(EncodeFileDescriptor(*m.file));
  Append(m.peer(), Dump(j));
}

void History::UpdateStatus(const std::string& peer, const std::string& local_id,
                           const std::string& mid, std::int64_t id, MessageStatus status) {
  json j{{"t", "status"}, {"local", local_id}, {"mid", mid}, {"status", ToString(status)}};
  if (id != 0) j["id"] = id;
  Append(peer, Dump(j));
}

std::vector<HistoryEntry> History::Conversation(const std::string& peer, std::size_t limit) const {
  std::vector<HistoryEntry> entries;
  if (!protocol::IsValidUserId(peer)) return entries;
  std::map<std::string, std::size_t> by_local;
  std::map<std::string, std::size_t> by_mid;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::ifstream in(dir_ / (peer + ".jsonl"));
    std::string line;
    while (std::getline(in, line)) {
      const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_object()) continue;  // a torn last line after a crash
      const std::string type = Get<std::string>(j, "t", "");
      const std::string local = Get<std::string>(j, "local", "");
      const std::string mid = Get<std::string>(j, "mid", "");
      const auto status =
          ParseMessageStatus(Get<std::string>(j, "status", "")).value_or(MessageStatus::kPending);
      std::optional<std::size_t> index;
      if (!local.empty() && by_local.count(local) != 0) index = by_local[local];
      if (!index && !mid.empty() && by_mid.count(mid) != 0) index = by_mid[mid];
      if (type == "msg") {
        if (index) continue;  // a repeat
        HistoryEntry entry;
        Message& m = entry.message;
        m.local_id = local;
        m.mid = mid;
        m.from = Get<std::string>(j, "from", "");
        m.to = Get<std::string>(j, "to", "");
        m.from_device = Get<std::string>(j, "fromDevice", "");
        m.outgoing = Get<bool>(j, "out", false);
        m.kind = protocol::ParseChatKind(Get<std::string>(j, "kind", "text"))
                     .value_or(protocol::ChatKind::kText);
        m.text = Get<std::string>(j, "text", "");
        m.id = Get<std::int64_t>(j, "id", 0);
        m.seq = Get<std::uint64_t>(j, "seq", 0);
        m.ts = Get<std::int64_t>(j, "ts", 0);
        if (j.contains("file")) m.file = DecodeFileDescriptor(Dump(j["file"]));
        entry.status = status;
        entries.push_back(std::move(entry));
        if (!local.empty()) by_local[local] = entries.size() - 1;
        if (!mid.empty()) by_mid[mid] = entries.size() - 1;
      } else if (type == "status" && index) {
        HistoryEntry& entry = entries[*index];
        if (!mid.empty() && entry.message.mid.empty()) {
          entry.message.mid = mid;
          by_mid[mid] = *index;
        }
        const auto id = Get<std::int64_t>(j, "id", 0);
        if (id != 0) entry.message.id = id;
        if (Advances(entry.status, status)) entry.status = status;
      }
    }
  }
  if (limit != 0 && entries.size() > limit) {
    entries.erase(entries.begin(), entries.end() - static_cast<std::ptrdiff_t>(limit));
  }
  return entries;
}

std::vector<std::string> History::Peers() const {
  std::vector<std::string> peers;
  std::lock_guard<std::mutex> lock(mutex_);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (entry.path().extension() != ".jsonl") continue;
    const std::string peer = entry.path().stem().string();
    if (protocol::IsValidUserId(peer)) peers.push_back(peer);
  }
  std::sort(peers.begin(), peers.end());
  return peers;
}

}  // namespace sparrow::client
