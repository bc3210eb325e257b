// The commands of `sparrow` (cli/README.md). Each takes the parsed settings and returns the
// process's exit code: 0 done, 1 failed (after printing one clear line to stderr). They throw
// CommandError for failures and UsageError for bad arguments; app.cpp prints those and maps
// them to exit codes 1 and 2.
//
// Threads: commands run on the main thread; client callbacks print from the client thread
// through the Printer (whole lines).
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "cli/config.hpp"
#include "cli/output.hpp"
#include "common/error.hpp"

namespace sparrow::cli {

class CommandError : public common::Error {
 public:
  using common::Error::Error;
};

class UsageError : public common::Error {
 public:
  using common::Error::Error;
};

struct Context {
  GlobalConfig config;
  Printer printer;
};

// Accounts.
int Register(Context& ctx, const std::optional<std::string>& user);
int Login(Context& ctx, const std::optional<std::string>& user);
int Logout(Context& ctx);

// Friends.
int FriendAdd(Context& ctx, const std::string& user);
int FriendAccept(Context& ctx, const std::string& user);
int FriendList(Context& ctx);
int FriendRemove(Context& ctx, const std::string& user);

// Messages. `text` "-" sends every line of stdin as one message. Both wait until the server
// acknowledged (SENT) every message, at most `timeout`; unacknowledged ones stay queued on
// this device and go out with its next command.
int Send(Context& ctx, const std::string& peer, const std::string& text,
         std::chrono::seconds timeout);
int SendFile(Context& ctx, const std::string& peer, const std::filesystem::path& path,
             std::chrono::seconds timeout);

struct ReceiveOptions {
  bool mark_read = false;            // listen: send READ for every message shown
  bool download = true;              // fetch received files
  std::string download_dir;          // empty: $SPARROW_HOME/downloads/{user}
  std::chrono::seconds timeout{60};  // chat: how long to wait at the end for acknowledgements
};

// Prints every event until Ctrl-C / SIGTERM.
int Listen(Context& ctx, const ReceiveOptions& options);
// Prints the conversation with `peer`: the local history, after a sync unless `offline`.
int History(Context& ctx, const std::string& peer, bool offline, std::size_t limit);
// Interactive: lines typed (or piped) are sent to `peer`; its messages are shown (and marked
// read) as they come, with the state of each of ours. Ends at end of input (once everything
// is acknowledged, at most options.timeout) or at Ctrl-C.
int Chat(Context& ctx, const std::string& peer, const ReceiveOptions& options);

}  // namespace sparrow::cli
