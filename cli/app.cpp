#include "cli/app.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>

#include "cli/commands.hpp"
#include "common/error.hpp"
#include "common/log.hpp"

namespace sparrow::cli {
namespace {

constexpr const char* kDescription =
    "Sparrow, instant messaging over MQTT, from the command line.\n"
    "  sparrow register alice            create an account (password prompt or "
    "SPARROW_PASSWORD)\n"
    "  sparrow friend add bob            ask bob; he runs: sparrow friend accept alice\n"
    "  sparrow chat bob                  talk to bob (type lines; Ctrl-D to quit)\n"
    "  sparrow send bob 'hi'             one message; `sparrow send bob -` sends stdin lines\n"
    "  sparrow listen --json             every event as one JSON line";

// A message naming the first word of argv that comes where a command should be and is not
// one (nullopt when the commands are fine and the error is elsewhere).
std::optional<std::string> UnknownCommand(int argc, char** argv, const CLI::App& app) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) == 0) {
      const bool takes_value =
          arg.find('=') == std::string::npos && arg != "--json" && arg != "--help" && arg != "-h";
      if (takes_value) ++i;
      continue;
    }
    if (arg.rfind('-', 0) == 0) continue;
    for (const auto* sub : app.get_subcommands({})) {
      if (sub->get_name() != arg) continue;
      // A command with commands of its own (friend): check the next word too.
      const auto nested = sub->get_subcommands({});
      if (nested.empty()) return std::nullopt;
      std::string names;
      for (const auto* n : nested) {
        if (i + 1 < argc && n->get_name() == argv[i + 1]) return std::nullopt;
        names += (names.empty() ? "" : ", ") + n->get_name();
      }
      if (i + 1 >= argc) return "'" + arg + "' needs a command: " + names;
      return "unknown command '" + arg + " " + argv[i + 1] + "' (expected " + names + ")";
    }
    return "unknown command '" + arg + "'";
  }
  return std::nullopt;
}

}  // namespace

int RunApp(int argc, char** argv) {
  Context ctx;
  GlobalConfig& g = ctx.config;
  CLI::App app(kDescription, "sparrow");
  app.require_subcommand(1);
  app.fallthrough();  // global flags may come after the command too
  app.add_option("--server", g.server, "REST service URL")
      ->envname("SPARROW_SERVER")
      ->capture_default_str();
  app.add_option("--mqtt", g.mqtt, "MQTT broker HOST:PORT")
      ->envname("SPARROW_MQTT")
      ->capture_default_str();
  app.add_option("--user", g.user, "your user id (default: the last one logged in)")
      ->envname("SPARROW_USER");
  app.add_option("--device", g.device, "this device's id (one process per user and device)")
      ->envname("SPARROW_DEVICE")
      ->capture_default_str();
  app.add_option("--home", g.home, "credentials and state folder (default ~/.sparrow)")
      ->envname("SPARROW_HOME");
  app.add_flag("--json", g.json, "print one JSON object per line");
  app.add_option("--log-level", g.log_level, "library log level on stderr")
      ->envname("SPARROW_LOG_LEVEL")
      ->capture_default_str();

  std::optional<std::string> account_user;
  auto* reg = app.add_subcommand("register", "create an account, then log in");
  reg->add_option("user", account_user, "the user id to create (default --user)");
  auto* login = app.add_subcommand("login", "log in and cache the token");
  login->add_option("user", account_user, "the user id (default --user)");
  auto* logout = app.add_subcommand("logout", "revoke your tokens and forget the cached one");

  std::string who;
  auto* friend_cmd = app.add_subcommand("friend", "friends: add, accept, list, remove");
  friend_cmd->require_subcommand(1);
  auto* friend_add = friend_cmd->add_subcommand("add", "ask USER to be your friend");
  friend_add->add_option("user", who, "the user id")->required();
  auto* friend_accept = friend_cmd->add_subcommand("accept", "accept USER's request");
  friend_accept->add_option("user", who, "the user id")->required();
  auto* friend_list = friend_cmd->add_subcommand("list", "your friends and pending requests");
  auto* friend_remove = friend_cmd->add_subcommand("remove", "end a friendship");
  friend_remove->add_option("user", who, "the user id")->required();

  std::string peer;
  std::string text;
  std::string path;
  int timeout_s = 60;
  auto* send = app.add_subcommand("send", "send a message (TEXT '-' sends each stdin line)");
  send->add_option("user", peer, "to whom")->required();
  send->add_option("text", text, "the message, or - for stdin lines")->required();
  send->add_option("--timeout", timeout_s, "seconds to wait for the server's acknowledgement")
      ->capture_default_str();
  auto* sendfile = app.add_subcommand("sendfile", "send a file (encrypted, with a progress bar)");
  sendfile->add_option("user", peer, "to whom")->required();
  sendfile->add_option("path", path, "the file")->required();
  sendfile->add_option("--timeout", timeout_s, "seconds to wait for the acknowledgement")
      ->capture_default_str();

  ReceiveOptions receive;
  bool no_download = false;
  auto* listen = app.add_subcommand("listen", "print every message and receipt until Ctrl-C");
  listen->add_flag("--read", receive.mark_read, "mark every message read as it is shown");
  listen->add_flag("--no-download", no_download, "do not fetch received files");
  listen->add_option("--download-dir", receive.download_dir,
                     "where received files go (default $SPARROW_HOME/downloads/USER)");

  bool offline = false;
  std::size_t limit = 0;
  auto* history = app.add_subcommand("history", "the conversation with USER");
  history->add_option("user", peer, "the other user")->required();
  history->add_flag("--offline", offline, "do not sync first: the local history only");
  history->add_option("--limit", limit, "the last N messages only");

  auto* chat = app.add_subcommand("chat", "talk to USER interactively (or from a pipe)");
  chat->add_option("user", peer, "the other user")->required();
  chat->add_flag("--no-download", no_download, "do not fetch received files");
  chat->add_option("--download-dir", receive.download_dir, "where received files go");
  chat->add_option("--timeout", timeout_s, "at end of input, seconds to wait for acknowledgements")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    if (auto unknown = UnknownCommand(argc, argv, app)) {
      std::cerr << "sparrow: error: " << *unknown << " (see sparrow --help)\n";
    } else {
      std::cerr << "sparrow: error: " << e.what() << " (see sparrow --help)\n";
    }
    return 2;
  }

  try {
    common::SetLogLevel(g.log_level);
  } catch (const common::ConfigError& e) {
    std::cerr << "sparrow: error: --log-level: " << e.what() << "\n";
    return 2;
  }
  receive.download = !no_download;
  receive.timeout = std::chrono::seconds(timeout_s);
  const auto timeout = std::chrono::seconds(timeout_s);

  try {
    if (*reg) return Register(ctx, account_user);
    if (*login) return Login(ctx, account_user);
    if (*logout) return Logout(ctx);
    if (*friend_add) return FriendAdd(ctx, who);
    if (*friend_accept) return FriendAccept(ctx, who);
    if (*friend_list) return FriendList(ctx);
    if (*friend_remove) return FriendRemove(ctx, who);
    if (*send) return Send(ctx, peer, text, timeout);
    if (*sendfile) return SendFile(ctx, peer, path, timeout);
    if (*listen) return Listen(ctx, receive);
    if (*history) return History(ctx, peer, offline, limit);
    if (*chat) return Chat(ctx, peer, receive);
  } catch (const UsageError& e) {
    std::cerr << "sparrow: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {  // boundary: every failure is one line and exit 1
    std::cerr << "sparrow: error: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "sparrow: error: no command (see sparrow --help)\n";
  return 2;
}

}  // namespace sparrow::cli
