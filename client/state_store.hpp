// StateStore: the small file that lets a device restart without losing or repeating anything:
// lastSeq (what the app has seen), lastId (the chat ids used) and the outbox (chats not yet
// acknowledged, with their ids). One folder per user and device:
//
//   {dir}/state.json   {"version":1,"lastSeq":17,"lastId":42,"outbox":[{"localId":"...",
//                       "peer":"bob","kind":"text","payload":"hi","id":42,"attempts":1,
//                       "createdMs":1764430000000}]}
//   {dir}/lock         held (flock) while a StateStore is open: one process per device
//
// Save() is atomic and durable: it writes state.json.tmp, fsyncs it, renames it over
// state.json and fsyncs the folder, so a crash leaves either the old or the new state. The
// folder is created 0700 and the files 0600: the outbox holds plaintext of unsent messages.
//
// Not thread-safe: one owner (the client thread). Failures to create, lock, read or write
// throw StateError, whose message names the path.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/outbox.hpp"
#include "common/error.hpp"

namespace sparrow::client {

class StateError : public common::Error {
 public:
  using common::Error::Error;
};

struct DeviceState {
  std::uint64_t last_seq = 0;
  std::int64_t last_id = 0;
  std::vector<OutgoingChat> outbox;

  friend bool operator==(const DeviceState&, const DeviceState&) = default;
};

// The JSON form above, and back (nullopt when it is not a valid state document).
[[nodiscard]] std::string EncodeState(const DeviceState& state);
[[nodiscard]] std::optional<DeviceState> DecodeState(std::string_view json);

class StateStore {
 public:
  // Creates `dir` if needed and locks it. Throws StateError when another process holds the
  // lock ("... is in use by another process") or the folder cannot be used.
  explicit StateStore(std::filesystem::path dir);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // The saved state; nullopt when there is none yet (a new device). Throws StateError when
  // the file exists but cannot be read or parsed (never silently starts over: that could
  // reuse chat ids).
  [[nodiscard]] std::optional<DeviceState> Load() const;
  // Replaces the saved state atomically (see above).
  void Save(const DeviceState& state);

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  [[nodiscard]] std::filesystem::path file() const { return dir_ / "state.json"; }

 private:
  std::filesystem::path dir_;
  int lock_fd_ = -1;
};

}  // namespace sparrow::client
