#include "cli/commands.hpp"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cli/credentials.hpp"
#include "cli/terminal.hpp"
#include "client/client.hpp"
#include "client/state_store.hpp"
#include "common/clock.hpp"
#include "protocol/identity.hpp"

namespace sparrow::cli {
namespace {

using client::Client;
using client::MessageStatus;
using nlohmann::json;

constexpr auto kConnectTimeout = std::chrono::seconds(15);
constexpr std::int64_t kTokenMarginMs = 60'000;  // log in again when less than this is left

std::int64_t NowMs() { return common::SystemClock::Instance().WallMillis(); }

std::filesystem::path Home(const Context& ctx) {
  return ctx.config.home.empty() ? DefaultHome() : std::filesystem::path(ctx.config.home);
}

std::string NormalizedServer(std::string url) {
  if (url.find("://") == std::string::npos) url = "http://" + url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

client::RestClient Rest(const Context& ctx) {
  return client::RestClient({.server_url = NormalizedServer(ctx.config.server)});
}

void CheckUserId(const std::string& user) {
  if (!protocol::IsValidUserId(user)) {
    throw UsageError("'" + user +
                     "' is not a valid user id (3-32 of a-z 0-9 _ . -, starting with a letter "
                     "or digit)");
  }
}

std::string ResolveUser(const Context& ctx, const std::optional<std::string>& given = {}) {
  std::string user = given.value_or(ctx.config.user);
  if (user.empty()) {
    auto remembered = CredentialStore(Home(ctx)).DefaultUser();
    if (!remembered) {
      throw UsageError(
          "who are you? pass --user NAME (or set SPARROW_USER), or run `sparrow login`");
    }
    user = *remembered;
  }
  CheckUserId(user);
  return user;
}

// The password: $SPARROW_PASSWORD (scripts), else a prompt on the terminal.
std::string Password(const std::string& prompt, bool confirm) {
  if (const char* env = std::getenv("SPARROW_PASSWORD"); env != nullptr && *env != '\0') {
    return env;
  }
  auto password = ReadPassword(prompt);
  if (!password) {
    throw CommandError("no password: set SPARROW_PASSWORD or run in a terminal");
  }
  if (confirm) {
    auto again = ReadPassword("Repeat the password: ");
    if (!again || *again != *password) throw CommandError("the passwords do not match");
  }
  return *password;
}

Credentials LoginAndCache(const Context& ctx, const std::string& user,
                          const std::string& password) {
  auto rest = Rest(ctx);
  auto login = rest.Login(user, password);
  if (!login.ok()) {
    if (login.error().status == 401) throw CommandError("login failed: wrong user id or password");
    throw CommandError("login failed: " + login.error().ToString());
  }
  Credentials credentials{.user = user,
                          .token = login.value().token,
                          .expires_at_ms = login.value().expires_at_ms,
                          .server = NormalizedServer(ctx.config.server)};
  CredentialStore(Home(ctx)).Save(credentials);
  return credentials;
}

// Valid credentials for the current user: cached, or a fresh login with $SPARROW_PASSWORD.
Credentials LoggedIn(const Context& ctx) {
  const std::string user = ResolveUser(ctx);
  auto cached = CredentialStore(Home(ctx)).Load(user);
  const bool usable = cached && cached->server == NormalizedServer(ctx.config.server) &&
                      cached->expires_at_ms > NowMs() + kTokenMarginMs;
  if (usable) return *cached;
  if (const char* env = std::getenv("SPARROW_PASSWORD"); env != nullptr && *env != '\0') {
    return LoginAndCache(ctx, user, env);
  }
  if (cached && cached->server == NormalizedServer(ctx.config.server)) {
    throw CommandError("the login of " + user + " has expired: run `sparrow login`");
  }
  throw CommandError("not logged in as " + user + " on " + NormalizedServer(ctx.config.server) +
                     ": run `sparrow login`");
}

std::unique_ptr<client::RestClient> AuthedRest(const Context& ctx) {
  auto rest = std::make_unique<client::RestClient>(
      client::RestClient::Options{.server_url = NormalizedServer(ctx.config.server)});
  rest->SetToken(LoggedIn(ctx).token);
  return rest;
}

Client::Options ClientOptions(const Context& ctx, const Credentials& credentials, bool receive) {
  const auto mqtt = ParseMqttAddress(ctx.config.mqtt);
  if (!mqtt) throw UsageError("--mqtt: expected HOST:PORT, got '" + ctx.config.mqtt + "'");
  if (!protocol::IsValidDeviceId(ctx.config.device)) {
    throw UsageError("--device: '" + ctx.config.device +
                     "' is not a valid device id (1-64 of A-Z a-z 0-9 _ -)");
  }
  Client::Options options;
  options.user = credentials.user;
  options.device = ctx.config.device;
  options.token = credentials.token;
  options.server_url = NormalizedServer(ctx.config.server);
  options.mqtt_host = mqtt->host;
  options.mqtt_port = mqtt->port;
  options.state_dir = StateDir(Home(ctx), credentials.user, ctx.config.device);
  options.receive = receive;
  return options;
}

std::unique_ptr<Client> MakeClient(Client::Options options, client::Callbacks callbacks) {
  try {
    return std::make_unique<Client>(std::move(options), std::move(callbacks));
  } catch (const common::Error& e) {  // StateError (device in use, damaged) or ConfigError
    throw CommandError(e.what());
  }
}

std::string ConnectFailure(const Context& ctx, const Credentials& credentials) {
  return "cannot connect to the MQTT broker at " + ctx.config.mqtt + " as " + credentials.user +
         ":" + ctx.config.device +
         " (is the server up? is this device used by another sparrow process? then pass "
         "--device)";
}

void ThrowRestError(const std::string& what, const client::RestError& error) {
  if (error.status == 401) {
    throw CommandError(what + ": the server refused the login token: run `sparrow login`");
  }
  throw CommandError(what + ": " + error.ToString());
}

// Tracks the final status (sent or failed) of the messages a command sent.
class Outcomes {
 public:
  void Record(const client::StatusUpdate& update) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (update.status == MessageStatus::kFailed) {
        final_[update.local_id] = false;
      } else if (update.status != MessageStatus::kPending) {
        final_.emplace(update.local_id, true);
      }
    }
    Wake();
  }
  void Expect(const std::string& local_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    expected_.insert(local_id);
  }
  bool AllFinal() const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& id : expected_) {
      if (final_.count(id) == 0) return false;
    }
    return true;
  }
  int Failed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    int failed = 0;
    for (const auto& id : expected_) {
      auto it = final_.find(id);
      if (it != final_.end() && !it->second) ++failed;
    }
    return failed;
  }

 private:
  mutable std::mutex mutex_;  // guards both sets
  std::set<std::string> expected_;
  std::map<std::string, bool> final_;  // local id -> sent (true) or failed (false)
};

// Keeps the lines about a message after the line that announces it: a status that arrives
// while Send() is still returning (the SENT can be that fast) waits for the announcement.
class EventGate {
 public:
  void BeginSend() {
    std::lock_guard<std::mutex> lock(mutex_);
    in_flight_ = true;
  }
  void Print(std::function<void()> print) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (in_flight_) {
      stash_.push_back(std::move(print));
    } else {
      print();
    }
  }
  void EndSend(const std::function<void()>& announce) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (announce) announce();
    for (auto& print : stash_) print();
    stash_.clear();
    in_flight_ = false;
  }

 private:
  std::mutex mutex_;  // guards in_flight_ and stash_; held while printing
  bool in_flight_ = false;
  std::vector<std::function<void()>> stash_;
};

std::string StatusLine(const client::StatusUpdate& s) {
  std::string line = "message to " + s.peer + " " + std::string(client::ToString(s.status));
  if (!s.reason.empty()) line += " (" + s.reason + ")";
  return line;
}

std::string ErrorLine(const client::ClientError& e) {
  return "sparrow: warning: " + e.message + (e.code.empty() ? "" : " (" + e.code + ")");
}

// A streaming command's client error: a JSON event on stdout with --json (the stream's events
// are all there), else a warning line on stderr.
void ShowStreamError(Context& ctx, const client::ClientError& e) {
  if (ctx.config.json) {
    ctx.printer.Line(ErrorJson(e));
  } else {
    ctx.printer.Error(ErrorLine(e));
  }
}

// Waits until the client's outbox is empty (every message sent or failed), a stop is
// requested, or `timeout` passed. The client's own wait, in slices so that Ctrl-C is prompt.
bool WaitOutboxEmpty(Client& client, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!StopRequested()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= std::chrono::milliseconds::zero()) return client.Pending() == 0;
    if (client.WaitIdle(std::min(left, std::chrono::milliseconds(200)))) return true;
  }
  return false;
}

// Waits for the messages of a send command; returns the exit code.
int FinishSending(Context& ctx, const Credentials& credentials, Client& client,
                  const Outcomes& outcomes, std::chrono::seconds timeout) {
  // An empty outbox means every message got its final status (reported before the outbox
  // count drops), those of earlier runs of this device included.
  const bool done = WaitOutboxEmpty(client, timeout) && outcomes.AllFinal();
  const auto pending = client.Pending();
  const bool ever_connected = client.connected();
  client.Disconnect();
  if (!done) {
    if (StopRequested()) {
      throw CommandError("interrupted: " + std::to_string(pending) +
                         " message(s) still queued; the next sparrow command of this device "
                         "sends them");
    }
    if (!ever_connected) throw CommandError(ConnectFailure(ctx, credentials));
    throw CommandError(std::to_string(pending) + " message(s) not acknowledged within " +
                       std::to_string(timeout.count()) +
                       " s; they stay queued and the next sparrow command of this device "
                       "sends them");
  }
  if (const int failed = outcomes.Failed(); failed > 0) {
    throw CommandError(std::to_string(failed) + " message(s) failed");
  }
  return 0;
}

// Downloads received files on a thread of its own (never on the client thread), one at a time.
class Downloader {
 public:
  Downloader(Context& ctx, Client& client, std::filesystem::path dir)
      : ctx_(ctx), client_(client), dir_(std::move(dir)), thread_([this] { Run(); }) {}
  ~Downloader() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Push(client::Message message) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(message));
    }
    cv_.notify_all();
  }

 private:
  void Run() {
    while (true) {
      client::Message message;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_) return;  // files not fetched yet stay listed in the history
        message = std::move(queue_.front());
        queue_.pop_front();
      }
      client::DownloadResult result;
      {
        ProgressBarPrinter bar("downloading " + message.file->name);
        result = client_.Download(*message.file, dir_, std::ref(bar));
      }
      if (ctx_.config.json) {
        ctx_.printer.Line(FileJson(message, result));
      } else if (result.ok) {
        ctx_.printer.Line("  saved " + result.path.string() + " (" + HumanSize(message.file->size) +
                          ", sha256 verified)");
      } else {
        ctx_.printer.Error("sparrow: warning: " + result.error);
      }
    }
  }

  Context& ctx_;
  Client& client_;
  const std::filesystem::path dir_;
  std::mutex mutex_;  // guards queue_ and stop_
  std::condition_variable cv_;
  std::deque<client::Message> queue_;
  bool stop_ = false;
  std::thread thread_;
};

std::filesystem::path DownloadDirFor(const Context& ctx, const ReceiveOptions& options,
                                     const std::string& user) {
  if (!options.download_dir.empty()) return options.download_dir;
  return DownloadDir(Home(ctx), user);
}

// Reads lines from a file descriptor with poll(), so that a stop request interrupts the wait.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  // The next line (without '\n'); nullopt at end of input or on a stop request.
  std::optional<std::string> Next() {
    while (true) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      if (eof_) {
        if (buffer_.empty()) return std::nullopt;
        std::string line = std::move(buffer_);
        buffer_.clear();
        return line;
      }
      pollfd fds[2] = {{fd_, POLLIN, 0}, {StopFd(), POLLIN, 0}};
      const int n = ::poll(fds, StopFd() >= 0 ? 2 : 1, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        eof_ = true;
        continue;
      }
      if (StopRequested()) return std::nullopt;
      if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char chunk[4096];
      const ssize_t got = ::read(fd_, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        eof_ = true;
        continue;
      }
      buffer_.append(chunk, static_cast<std::size_t>(got));
    }
  }

 private:
  const int fd_;
  std::string buffer_;
  bool eof_ = false;
};

}  // namespace

// ---- accounts ----

int Register(Context& ctx, const std::optional<std::string>& given) {
  const std::string user = given.value_or(ctx.config.user);
  if (user.empty()) throw UsageError("register: which user id? (sparrow register NAME)");
  CheckUserId(user);
  const std::string password = Password("Choose a password for " + user + ": ", true);
  auto rest = Rest(ctx);
  auto registered = rest.Register(user, password);
  if (!registered.ok()) {
    const auto& e = registered.error();
    if (e.status == 409) throw CommandError("register: the user id " + user + " is taken");
    if (e.status == 400) throw CommandError("register: " + e.message);
    throw CommandError("register: " + e.ToString());
  }
  LoginAndCache(ctx, user, password);
  ctx.printer.Line("registered " + user + " and logged in");
  return 0;
}

int Login(Context& ctx, const std::optional<std::string>& given) {
  const std::string user = ResolveUser(ctx, given ? given : std::optional<std::string>());
  const std::string password = Password("Password for " + user + ": ", false);
  const auto credentials = LoginAndCache(ctx, user, password);
  ctx.printer.Line("logged in as " + user + " (until " +
                   HumanTime(credentials.expires_at_ms, NowMs()) + ")");
  return 0;
}

int Logout(Context& ctx) {
  const std::string user = ResolveUser(ctx);
  CredentialStore store(Home(ctx));
  if (auto cached = store.Load(user)) {
    auto rest = Rest(ctx);
    rest.SetToken(cached->token);
    (void)rest.Logout();  // best effort: the local token is forgotten in any case
  }
  store.Remove(user);
  ctx.printer.Line("logged out " + user);
  return 0;
}

// ---- friends ----

int FriendAdd(Context& ctx, const std::string& user) {
  CheckUserId(user);
  auto rest = AuthedRest(ctx);
  auto result = rest->RequestFriend(user);
  if (!result.ok()) {
    const auto& e = result.error();
    if (e.status == 404) throw CommandError("friend add: there is no user " + user);
    if (e.status == 409) throw CommandError("friend add: you and " + user + " are friends already");
    if (e.status == 400) throw CommandError("friend add: " + e.message);
    ThrowRestError("friend add", e);
  }
  if (result.value() == client::FriendRequestOutcome::kNowFriends) {
    ctx.printer.Line("you and " + user + " are now friends");
  } else {
    ctx.printer.Line("friend request sent to " + user +
                     " (they accept with `sparrow friend accept " + ResolveUser(ctx) + "`)");
  }
  return 0;
}

int FriendAccept(Context& ctx, const std::string& user) {
  CheckUserId(user);
  auto rest = AuthedRest(ctx);
  auto result = rest->AcceptFriend(user);
  if (!result.ok()) {
    if (result.error().status == 404) {
      throw CommandError("friend accept: no friend request from " + user);
    }
    ThrowRestError("friend accept", result.error());
  }
  ctx.printer.Line("you and " + user + " are now friends");
  return 0;
}

int FriendList(Context& ctx) {
  auto rest = AuthedRest(ctx);
  auto result = rest->ListFriends();
  if (!result.ok()) ThrowRestError("friend list", result.error());
  const auto& lists = result.value();
  if (ctx.config.json) {
    ctx.printer.Line(json{
        {"event", "friends"},
        {"friends", lists.friends},
        {"incoming", lists.incoming},
        {"outgoing",
         lists.outgoing}}.dump());
    return 0;
  }
  auto join = [](const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out.empty() ? std::string("(none)") : out;
  };
  ctx.printer.Line("friends:            " + join(lists.friends));
  ctx.printer.Line("requests to accept: " + join(lists.incoming));
  ctx.printer.Line("requests sent:      " + join(lists.outgoing));
  return 0;
}

int FriendRemove(Context& ctx, const std::string& user) {
  CheckUserId(user);
  auto rest = AuthedRest(ctx);
  auto result = rest->RemoveFriend(user);
  if (!result.ok()) {
    if (result.error().status == 404) {
      throw CommandError("friend remove: you and " + user + " are not friends");
    }
    ThrowRestError("friend remove", result.error());
  }
  ctx.printer.Line("you and " + user + " are no longer friends");
  return 0;
}

// ---- messages ----

int Send(Context& ctx, const std::string& peer, const std::string& text,
         std::chrono::seconds timeout) {
  CheckUserId(peer);
  const auto credentials = LoggedIn(ctx);
  SetGracefulStop(true);
  Outcomes outcomes;
  EventGate gate;
  client::Callbacks callbacks{
      .on_message = {},
      .on_status =
          [&](const client::StatusUpdate& s) {
            gate.Print([&ctx, s] {
              if (ctx.config.json) ctx.printer.Line(StatusJson(s));
              if (s.status == MessageStatus::kFailed && !ctx.config.json) {
                ctx.printer.Error("sparrow: " + StatusLine(s));
              }
            });
            outcomes.Record(s);
          },
      .on_error =
          [&](const client::ClientError& e) {
            ctx.printer.Error(ctx.config.json ? ErrorJson(e) : ErrorLine(e));
          },
      .on_connection = {}};
  auto client = MakeClient(ClientOptions(ctx, credentials, /*receive=*/false), callbacks);
  client->Connect();
  int refused = 0;
  auto send_one = [&](const std::string& line) {
    gate.BeginSend();
    auto result = client->Send(peer, line);
    gate.EndSend([&] {
      if (result.ok && ctx.config.json) ctx.printer.Line(SendingJson(result.local_id, peer, line));
    });
    if (!result.ok) {
      ctx.printer.Error("sparrow: error: " + result.error);
      ++refused;
      return;
    }
    outcomes.Expect(result.local_id);
  };
  if (text == "-") {
    LineReader reader(STDIN_FILENO);
    while (auto line = reader.Next()) {
      if (!line->empty()) send_one(*line);
    }
  } else {
    send_one(text);
  }
  const int code = FinishSending(ctx, credentials, *client, outcomes, timeout);
  return refused > 0 ? 1 : code;
}

int SendFile(Context& ctx, const std::string& peer, const std::filesystem::path& path,
             std::chrono::seconds timeout) {
  CheckUserId(peer);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw CommandError("sendfile: " + path.string() + " is not a readable file");
  }
  const auto credentials = LoggedIn(ctx);
  SetGracefulStop(true);
  Outcomes outcomes;
  client::Callbacks callbacks{
      .on_message = {},
      .on_status =
          [&](const client::StatusUpdate& s) {
            if (ctx.config.json) ctx.printer.Line(StatusJson(s));
            outcomes.Record(s);
          },
      .on_error =
          [&](const client::ClientError& e) {
            ctx.printer.Error(ctx.config.json ? ErrorJson(e) : ErrorLine(e));
          },
      .on_connection = {}};
  auto client = MakeClient(ClientOptions(ctx, credentials, /*receive=*/false), callbacks);
  client->Connect();
  client::SendResult result;
  {
    ProgressBarPrinter bar("uploading " + path.filename().string());
    result = client->SendFile(peer, path, std::ref(bar));
  }
  if (!result.ok) {
    client->Disconnect();
    throw CommandError("sendfile: " + result.error);
  }
  outcomes.Expect(result.local_id);
  if (ctx.config.json) {
    ctx.printer.Line(SendingJson(result.local_id, peer, path.filename().string()));
  }
  FinishSending(ctx, credentials, *client, outcomes, timeout);
  if (!ctx.config.json) {
    ctx.printer.Line("sent " + path.filename().string() + " (" +
                     HumanSize(std::filesystem::file_size(path, ec)) + ") to " + peer);
  }
  return 0;
}

int Listen(Context& ctx, const ReceiveOptions& options) {
  const auto credentials = LoggedIn(ctx);
  SetGracefulStop(true);
  Client* self = nullptr;
  std::atomic<bool> closing{false};  // our own Disconnect: not worth a notice
  std::unique_ptr<Downloader> downloader;
  client::Callbacks callbacks{
      .on_message =
          [&](const client::Message& m) {
            ctx.printer.Line(ctx.config.json ? MessageJson(m) : HumanMessage(m, true, NowMs()));
            if (!m.outgoing && options.mark_read && self != nullptr) self->MarkRead(m);
            if (!m.outgoing && m.file && downloader) downloader->Push(m);
          },
      .on_status =
          [&](const client::StatusUpdate& s) {
            ctx.printer.Line(ctx.config.json ? StatusJson(s) : "  " + StatusLine(s));
          },
      .on_error = [&](const client::ClientError& e) { ShowStreamError(ctx, e); },
      .on_connection =
          [&](client::ConnectionEvent event) {
            if (ctx.config.json) {
              ctx.printer.Line(ConnectionJson(event));
            } else if (event != client::ConnectionEvent::kSynced && !closing &&
                       IsTerminal(STDERR_FILENO)) {
              ctx.printer.Error("-- " + std::string(client::ToString(event)) + " --");
            }
          }};
  auto client = MakeClient(ClientOptions(ctx, credentials, /*receive=*/true), callbacks);
  self = client.get();
  if (options.download) {
    downloader =
        std::make_unique<Downloader>(ctx, *client, DownloadDirFor(ctx, options, credentials.user));
  }
  client->Connect();
  if (!client->WaitConnected(kConnectTimeout) && !StopRequested()) {
    closing = true;
    client->Disconnect();
    downloader.reset();
    throw CommandError(ConnectFailure(ctx, credentials));
  }
  while (!StopRequested()) WaitUntil([] { return false; }, std::chrono::hours(1));
  closing = true;
  client->Disconnect();  // no callback after this: the downloader is no longer fed
  downloader.reset();
  return 0;
}

int History(Context& ctx, const std::string& peer, bool offline, std::size_t limit) {
  CheckUserId(peer);
  std::vector<client::HistoryEntry> entries;
  std::string user;
  if (offline) {
    user = ResolveUser(ctx);
    client::History history(StateDir(Home(ctx), user, ctx.config.device) / "history");
    entries = history.Conversation(peer, limit);
  } else {
    const auto credentials = LoggedIn(ctx);
    user = credentials.user;
    auto client = MakeClient(ClientOptions(ctx, credentials, /*receive=*/true), {});
    client->Connect();
    if (!client->WaitSynced(kConnectTimeout)) {
      ctx.printer.Error("sparrow: warning: could not reach the server; showing the local history");
    }
    client->Disconnect();
    entries = client->Conversation(peer, limit);
  }
  const auto now = NowMs();
  for (const auto& entry : entries) {
    if (ctx.config.json) {
      ctx.printer.Line(MessageJson(entry.message, entry.status));
      continue;
    }
    std::string line = HumanMessage(entry.message, false, now);
    if (entry.message.outgoing) line += "  (" + std::string(client::ToString(entry.status)) + ")";
    ctx.printer.Line(line);
  }
  if (entries.empty() && !ctx.config.json) ctx.printer.Error("(no messages with " + peer + ")");
  return 0;
}

int Chat(Context& ctx, const std::string& peer, const ReceiveOptions& options) {
  CheckUserId(peer);
  const auto credentials = LoggedIn(ctx);
  SetGracefulStop(true);
  const bool tty_in = IsTerminal(STDIN_FILENO);
  EventGate gate;                      // its lock also guards the two below
  std::map<std::string, int> numbers;  // local id -> the #n shown next to our message
  int next_number = 1;
  Client* self = nullptr;
  std::atomic<bool> closing{false};  // our own Disconnect: not worth a notice
  std::unique_ptr<Downloader> downloader;
  client::Callbacks callbacks{
      .on_message =
          [&](const client::Message& m) {
            const bool ours = m.peer() == peer;
            if (ctx.config.json) {
              ctx.printer.Line(MessageJson(m));
            } else {
              ctx.printer.Line(HumanMessage(m, !ours, NowMs()));
            }
            if (ours && !m.outgoing && self != nullptr) self->MarkRead(m);  // shown = read
            if (!m.outgoing && m.file && downloader) downloader->Push(m);
          },
      .on_status =
          [&](const client::StatusUpdate& s) {
            gate.Print([&, s] {
              if (ctx.config.json) {
                ctx.printer.Line(StatusJson(s));
                return;
              }
              auto it = numbers.find(s.local_id);
              if (it == numbers.end()) return;  // sent by an earlier run or another device
              std::string line = "           #" + std::to_string(it->second) + " " +
                                 std::string(client::ToString(s.status));
              if (!s.reason.empty()) line += " (" + s.reason + ")";
              ctx.printer.Line(line);
            });
          },
      .on_error = [&](const client::ClientError& e) { ShowStreamError(ctx, e); },
      .on_connection =
          [&](client::ConnectionEvent event) {
            if (ctx.config.json) {
              ctx.printer.Line(ConnectionJson(event));
            } else if (event == client::ConnectionEvent::kDisconnected && !closing) {
              ctx.printer.Error("-- connection lost; reconnecting (messages wait) --");
            }
          }};
  auto client = MakeClient(ClientOptions(ctx, credentials, /*receive=*/true), callbacks);
  self = client.get();
  if (options.download) {
    downloader =
        std::make_unique<Downloader>(ctx, *client, DownloadDirFor(ctx, options, credentials.user));
  }
  if (!ctx.config.json) {
    const auto now = NowMs();
    for (const auto& entry : client->Conversation(peer, 20)) {
      ctx.printer.Line(HumanMessage(entry.message, false, now));
    }
    if (tty_in) {
      ctx.printer.Error("-- chatting with " + peer + " as " + credentials.user +
                        "; type a message and press Enter; Ctrl-D to quit --");
    }
  }
  client->Connect();
  if (!client->WaitConnected(kConnectTimeout) && !StopRequested()) {
    closing = true;
    client->Disconnect();
    downloader.reset();
    throw CommandError(ConnectFailure(ctx, credentials));
  }

  LineReader reader(STDIN_FILENO);
  while (auto line = reader.Next()) {
    if (line->empty()) continue;
    gate.BeginSend();
    auto result = client->Send(peer, *line);
    gate.EndSend([&] {
      if (!result.ok) return;
      if (ctx.config.json) {
        ctx.printer.Line(SendingJson(result.local_id, peer, *line));
        return;
      }
      const int number = next_number++;
      numbers[result.local_id] = number;
      client::Message shown;
      shown.outgoing = true;
      shown.to = peer;
      shown.text = *line;
      shown.ts = NowMs();
      // In a terminal the typed line is on screen already: replace it with the formatted one.
      if (tty_in) std::cout << "\033[1A\033[2K" << std::flush;
      ctx.printer.Line(HumanMessage(shown, false, NowMs()) + "   #" + std::to_string(number));
    });
    if (!result.ok) ctx.printer.Error("sparrow: error: " + result.error);
  }
  if (!StopRequested()) {
    // End of input: let what was typed reach the server before leaving.
    if (!WaitOutboxEmpty(*client, options.timeout)) {
      const auto pending = client->Pending();
      closing = true;
      client->Disconnect();
      downloader.reset();
      if (!StopRequested()) {
        throw CommandError(std::to_string(pending) +
                           " message(s) not acknowledged yet; they stay queued and the next "
                           "sparrow command of this device sends them");
      }
      return 0;
    }
  }
  closing = true;
  client->Disconnect();
  downloader.reset();
  return 0;
}

}  // namespace sparrow::cli
