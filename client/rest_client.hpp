// RestClient: the REST half of the public contract (topics.md points to authsvc/README.md;
// PROTOCOL.md "REST"): accounts, tokens, friends, relation keys and files, over HTTP with
// cpp-httplib (the only file of the client that includes it is rest_client.cpp).
//
//   RestClient rest({.server_url = "http://127.0.0.1:8080"});
//   auto login = rest.Login("alice", password);
//   if (!login.ok()) { std::cerr << login.error().ToString(); }
//   rest.SetToken(login.value().token);
//   auto keys = rest.Relations();   // peer -> 32-byte key
//
// Every call returns a RestResult: the value, or a RestError with the HTTP status and the
// server's JSON error code (`{"error":"conflict","message":"..."}`), or status 0 when no
// answer came (connection refused, timeout). Nothing throws for network conditions or server
// answers. Passwords and tokens never appear in errors or logs.
//
// Thread-safe: every call opens its own HTTP connection; the token is guarded by a mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sparrow::client {

struct RestError {
  int status = 0;       // the HTTP status; 0 when the server could not be reached
  std::string code;     // the server's error code ("conflict", ...) or a local one
                        // ("unreachable", "bad_response", "canceled")
  std::string message;  // human-readable; never contains a secret

  // One line for people: "conflict (409): user id taken" / "cannot reach ...".
  [[nodiscard]] std::string ToString() const;
};

// A value or a RestError (std::expected is C++23).
template <class T>
class [[nodiscard]] RestResult {
 public:
  RestResult(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  RestResult(RestError error) : v_(std::move(error)) {}  // NOLINT: implicit by design
  bool ok() const { return std::holds_alternative<T>(v_); }
  // Preconditions: ok() for value(), !ok() for error().
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const RestError& error() const { return std::get<RestError>(v_); }

 private:
  std::variant<T, RestError> v_;
};

struct Done {};  // the value of calls that return nothing

struct LoginResult {
  std::string token;
  std::int64_t expires_at_ms = 0;
};

struct FriendLists {
  std::vector<std::string> friends;
  std::vector<std::string> incoming;  // requests to accept
  std::vector<std::string> outgoing;  // requests the other side has not accepted yet
};

enum class FriendRequestOutcome {
  kRequested,   // 202: the other user must accept
  kNowFriends,  // 201: they had asked too; the relation exists now
};

struct UploadResult {
  std::string file_id;
  std::uint64_t size = 0;
  std::string sha256;  // of the uploaded (sealed) bytes, lowercase hex
};

// Progress of a transfer: bytes done, bytes in all. Runs on the calling thread.
using Progress = std::function<void(std::uint64_t done, std::uint64_t total)>;
// Upload source: fills `out` with the bytes starting at `offset` (at most `max`; fewer only at
// the end); false aborts the upload.
using UploadSource = std::function<bool(std::uint64_t offset, std::size_t max, std::string& out)>;
// Download sink: receives the body in pieces, in order; false aborts the download.
using DownloadSink = std::function<bool(std::string_view piece)>;

class RestClient {
 public:
  struct Options {
    std::string server_url = "http://127.0.0.1:8080";  // scheme://host:port
    std::chrono::milliseconds timeout{15000};          // connect, and each read/write
  };

  explicit RestClient(Options options);

  // The bearer token for the calls below that need one (all but Register/Login).
  void SetToken(std::string token);

  // POST /api/v1/register.
  RestResult<Done> Register(const std::string& user, const std::string& password);
  // POST /api/v1/login.
  RestResult<LoginResult> Login(const std::string& user, const std::string& password);
  // POST /api/v1/logout (revokes every token issued to the user until now).
  RestResult<Done> Logout();
  // POST /api/v1/password.
  RestResult<Done> ChangePassword(const std::string& old_password, const std::string& new_password);

  // POST /api/v1/friends.
  RestResult<FriendRequestOutcome> RequestFriend(const std::string& user);
  // POST /api/v1/friends/{user}/accept.
  RestResult<Done> AcceptFriend(const std::string& user);
  // GET /api/v1/friends.
  RestResult<FriendLists> ListFriends();
  // DELETE /api/v1/friends/{user}.
  RestResult<Done> RemoveFriend(const std::string& user);
  // GET /api/v1/relations: peer -> 32 raw key bytes (entries with malformed keys are skipped).
  RestResult<std::map<std::string, std::string>> Relations();

  // POST /api/v1/files?to={to}, streaming `size` bytes from `source`.
  RestResult<UploadResult> UploadFile(const std::string& to, std::uint64_t size,
                                      const UploadSource& source, const Progress& progress = {});
  // GET /api/v1/files/{fileId}, streaming the body into `sink`.
  RestResult<Done> DownloadFile(const std::string& file_id, const DownloadSink& sink,
                                const Progress& progress = {});

  const Options& options() const { return options_; }

 private:
  std::string Token() const;

  const Options options_;
  mutable std::mutex mutex_;  // guards token_
  std::string token_;
};

}  // namespace sparrow::client
