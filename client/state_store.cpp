#include "client/state_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <thread>

#include "protocol/limits.hpp"

namespace sparrow::client {
namespace {

using nlohmann::json;

constexpr int kVersion = 1;

std::string Errno(const std::string& what, const std::filesystem::path& path) {
  return "state: " + what + " " + path.string() + ": " + std::strerror(errno);
}

void WriteAll(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw StateError(Errno("write", path));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

std::string EncodeState(const DeviceState& state) {
  json outbox = json::array();
  for (const auto& chat : state.outbox) {
    outbox.push_back(json{{"localId", chat.local_id},
                          {"peer", chat.peer},
                          {"kind", protocol::ToString(chat.kind)},
                          {"payload", chat.payload},
                          {"id", chat.id},
                          {"attempts", chat.attempts},
                          {"createdMs", chat.created_ms}});
  }
  return json{{"version", kVersion},
              {"lastSeq", state.last_seq},
              {"lastId", state.last_id},
              {"outbox", std::move(outbox)}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<DeviceState> DecodeState(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("version") || j["version"] != kVersion) return std::nullopt;
  if (!j.contains("lastSeq") || !j["lastSeq"].is_number_unsigned()) return std::nullopt;
  if (!j.contains("lastId") || !j["lastId"].is_number_integer()) return std::nullopt;
  if (!j.contains("outbox") || !j["outbox"].is_array()) return std::nullopt;
  DeviceState state;
  state.last_seq = j["lastSeq"].get<std::uint64_t>();
  state.last_id = j["lastId"].get<std::int64_t>();
  if (state.last_seq > protocol::kMaxSeq || state.last_id < 0 ||
      state.last_id > protocol::kMaxChatId) {
    return std::nullopt;
  }
  std::int64_t previous_id = 0;
  bool unnumbered_seen = false;
  for (const auto& item : j["outbox"]) {
    if (!item.is_object()) return std::nullopt;
    OutgoingChat chat;
    try {
      chat.local_id = item.at("localId").get<std::string>();
      chat.peer = item.at("peer").get<std::string>();
      const auto kind = protocol::ParseChatKind(item.at("kind").get<std::string>());
      if (!kind) return std::nullopt;
      chat.kind = *kind;
      chat.payload = item.at("payload").get<std::string>();
      chat.id = item.at("id").get<std::int64_t>();
      chat.attempts = item.at("attempts").get<int>();
      chat.created_ms = item.at("createdMs").get<std::int64_t>();
    } catch (const json::exception&) {
      return std::nullopt;
    }
    // Numbered chats first, ids increasing: the order the outbox keeps.
    if (chat.id < 0 || chat.id > protocol::kMaxChatId) return std::nullopt;
    if (chat.id == 0) {
      unnumbered_seen = true;
    } else {
      if (unnumbered_seen || chat.id <= previous_id) return std::nullopt;
      previous_id = chat.id;
    }
    state.outbox.push_back(std::move(chat));
  }
  return state;
}

StateStore::StateStore(std::filesystem::path dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw StateError("state: cannot create " + dir_.string() + ": " + ec.message());
  ::chmod(dir_.c_str(), 0700);
  const auto lock_path = dir_ / "lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) throw StateError(Errno("cannot open", lock_path));
  // A lock that a forked child inherited stays held until that child execs or exits, even
  // after the process that took it closed its descriptor: a host process that starts other
  // programs (an app, a test harness) can hold it for a moment. Such a holder is gone within
  // milliseconds; a second Client on the folder is not, and is refused after half a second.
  int locked = ::flock(lock_fd_, LOCK_EX | LOCK_NB);
  for (int tries = 0; locked != 0 && errno == EWOULDBLOCK && tries < 50; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    locked = ::flock(lock_fd_, LOCK_EX | LOCK_NB);
  }
  if (locked != 0) {
    const int err = errno;
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err == EWOULDBLOCK) {
      throw StateError("state: " + dir_.string() +
                       " is in use by another process (one process per user and device; "
                       "use another device id)");
    }
    errno = err;
    throw StateError(Errno("cannot lock", lock_path));
  }
}

StateStore::~StateStore() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

std::optional<DeviceState> StateStore::Load() const {
  const auto path = file();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StateError("state: cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  auto state = DecodeState(text.str());
  if (!state) {
    throw StateError("state: " + path.string() +
                     " is damaged; move it away to start this device afresh (chats of its "
                     "outbox would be lost)");
  }
  return state;
}

void StateStore::Save(const DeviceState& state) {
  const auto path = file();
  const auto temp = dir_ / "state.json.tmp";
  const std::string text = EncodeState(state);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw StateError(Errno("cannot write", temp));
  try {
    WriteAll(fd, text, temp);
    if (::fsync(fd) != 0) throw StateError(Errno("fsync", temp));
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) throw StateError(Errno("rename", path));
  const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);  // makes the rename durable
    ::close(dir_fd);
  }
}

}  // namespace sparrow::client
