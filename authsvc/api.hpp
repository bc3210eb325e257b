// The REST API of authsvc as plain functions: one method per call of the table in
// authsvc/README.md (PROTOCOL.md "REST"), taking an ApiRequest and returning an ApiResponse.
// No HTTP types: http_server.cpp is a thin adapter that routes, reads bodies and writes answers;
// everything a client can observe (status codes, error codes, bodies) is decided here and
// unit-tested without a socket.
//
//   Api api(ApiDeps{.accounts = pool, ...}, ApiOptions{});
//   ApiResponse r = api.Login({.body = R"({"userId":"alice","password":"..."})",
//                              .client_address = "127.0.0.1"});
//   // r.status == 200, r.json["token"], r.json["expiresAt"]
//
// Errors: every refusal is a value: an ApiResponse with the status and a JSON body
// {"error": code, "message": text} (ErrorResponse). Messages are constant texts: they never
// echo a request field, so no password or token can come back. Failures of the infrastructure
// (database, disk, a sealed key that does not open) throw (offline::StoreError, common::Error);
// the HTTP adapter turns them into 500 "internal".
//
// Threads: every method is thread-safe; each call borrows its own database connection from
// the pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "authsvc/files.hpp"
#include "authsvc/routes.hpp"

namespace sparrow::common {
class Clock;
class TokenSigner;
class TokenVerifier;
}  // namespace sparrow::common
namespace sparrow::offline {
class AccountStore;
}

namespace sparrow::authsvc {

class AccountStorePool;
class Announcer;
class AuthsvcMetrics;
class KeySealer;
class LoginRateLimiter;
class PasswordHasher;

// User ids that registration refuses (400): the names of Sparrow's services and operators.
bool IsReservedUserId(std::string_view user_id);

// True iff `text` could be a fileId we minted (common::NewFileId: 32 of [a-z2-7]).
bool LooksLikeFileId(std::string_view text);

struct ApiRequest {
  std::string method;                           // for logs; the route decides the call
  std::map<std::string, std::string> params;    // path parameters: "userId", "fileId"
  std::map<std::string, std::string> query;     // first value of each query parameter
  std::string body;                             // the raw body of JSON calls
  std::string bearer;                           // the token of `Authorization: Bearer`, or ""
  std::string client_address;                   // the peer's IP address (rate limits)
  std::optional<std::uint64_t> content_length;  // uploads: the declared length, if any
};

// A file to send as the body (downloads), streamed by the adapter.
struct FileBody {
  std::filesystem::path path;
  std::uint64_t size = 0;
};

struct ApiResponse {
  int status = 200;
  nlohmann::json json;       // the JSON body; null means no JSON body (204, text, file)
  std::string text;          // a text body when content_type is set (GET /metrics)
  std::string content_type;  // of `text`
  std::optional<FileBody> file;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Retry-After
};

// The error code of a status: 400 bad_request, 401 unauthorized, 403 forbidden, 404 not_found,
// 405 bad_request (the method; PROTOCOL.md has no code of its own for it), 409 conflict,
// 413 too_large, 429 rate_limited, anything else internal.
std::string_view ErrorCode(int status);
// {"error": ErrorCode(status), "message": message} with `status`. 401 also carries
// `WWW-Authenticate: Bearer`.
ApiResponse ErrorResponse(int status, std::string_view message);

struct ApiOptions {
  std::int64_t token_ttl_ms = 3'600'000;        // user tokens from POST /login
  std::uint64_t max_file_bytes = 100ull << 20;  // POST /files: 413 beyond
  std::size_t max_json_bytes = 64 * 1024;       // JSON bodies: 413 beyond
};

// What the Api works with; every reference must outlive it. `metrics` may be null.
struct ApiDeps {
  AccountStorePool& accounts;
  PasswordHasher& hasher;
  LoginRateLimiter& limiter;
  const KeySealer& sealer;
  const FileStore& files;
  const common::TokenSigner& signer;
  const common::TokenVerifier& verifier;
  Announcer& announcer;
  const common::Clock& clock;
  AuthsvcMetrics* metrics = nullptr;
};

// A file upload in progress (POST /api/v1/files), between Api::BeginUpload and FinishUpload.
// Not thread-safe: owned by one request.
class UploadSession {
 public:
  // Appends body bytes; false once the size limit is passed (nothing more is stored; the
  // answer will be 413). Throws common::Error on a disk failure.
  bool Append(std::string_view data) { return file_->Append(data); }
  // The body is known to be too large without reading it (e.g. the declared length).
  void MarkTooLarge() { file_->MarkOverLimit(); }
  bool too_large() const { return file_->over_limit(); }
  std::uint64_t size() const { return file_->size(); }

 private:
  friend class Api;
  UploadSession(std::string uploader, std::string recipient,
                std::unique_ptr<FileStore::Upload> file)
      : uploader_(std::move(uploader)), recipient_(std::move(recipient)), file_(std::move(file)) {}
  std::string uploader_;
  std::string recipient_;
  std::unique_ptr<FileStore::Upload> file_;
};

class Api {
 public:
  Api(ApiDeps deps, ApiOptions options);

  // Calls with a JSON body or none: every route except kUploadFile (for which it answers 500:
  // uploads go through BeginUpload/FinishUpload).
  ApiResponse Handle(RouteId route, const ApiRequest& request);

  // POST /api/v1/register {"userId","password"}: 201 {"userId"}; 400 bad JSON, bad or reserved
  // id, password under 8 characters or over 1 KiB (checked before hashing); 409 taken;
  // 429 when no hashing slot is free.
  ApiResponse Register(const ApiRequest& request);
  // POST /api/v1/login {"userId","password"}: 200 {"token","expiresAt"}; 400 bad JSON;
  // 401 wrong password or unknown user (the same work and the same answer); 429 throttled
  // (Retry-After) or no hashing slot.
  ApiResponse Login(const ApiRequest& request);
  // POST /api/v1/logout (extension): revokes every token of the caller issued until now; 204.
  ApiResponse Logout(const ApiRequest& request);
  // POST /api/v1/password {"oldPassword","newPassword"} (extension): 204 and every earlier
  // token revoked; 400 bad JSON or new password; 403 wrong old password; 429 as login.
  ApiResponse ChangePassword(const ApiRequest& request);
  // POST /api/v1/friends {"userId"}: 202 request sent (repeats too); 201 now friends (the
  // other side had asked); 400 bad JSON, bad id, yourself; 404 unknown user; 409 friends.
  ApiResponse RequestFriend(const ApiRequest& request);
  // POST /api/v1/friends/{userId}/accept: 200 now friends; 400 bad id or yourself; 404 no
  // request from that user.
  ApiResponse AcceptFriend(const ApiRequest& request);
  // GET /api/v1/friends: 200 {"friends":[{"userId"}],"incoming":[...],"outgoing":[...]}.
  ApiResponse ListFriends(const ApiRequest& request);
  // DELETE /api/v1/friends/{userId}: 204; 400 bad id; 404 not friends.
  ApiResponse DeleteFriend(const ApiRequest& request);
  // GET /api/v1/relations: 200 {"relations":[{"userId","encryptKey"}]}, keys base64 (32 bytes).
  ApiResponse ListRelations(const ApiRequest& request);

  // POST /api/v1/files?to={userId}, in steps: BeginUpload checks everything that does not need
  // the body (401, 400 missing/bad `to`, 403 not a friend, 413 declared length over the
  // limit) and returns either the refusal or a session; the caller Appends the body and then
  // calls FinishUpload: 201 {"fileId","size","sha256"} or 413.
  struct UploadStart {
    std::optional<ApiResponse> refusal;
    std::unique_ptr<UploadSession> session;
  };
  UploadStart BeginUpload(const ApiRequest& request);
  ApiResponse FinishUpload(std::unique_ptr<UploadSession> session);

  // GET /api/v1/files/{fileId}: 200 with `file` set, for the uploader and the recipient;
  // 404 for anyone else, an unknown id or a malformed one.
  ApiResponse DownloadFile(const ApiRequest& request);

  // GET /healthz: 200 {"status":"ok"}. GET /metrics: 200 Prometheus text (empty without
  // metrics).
  ApiResponse Health() const;
  ApiResponse Metrics() const;

  const ApiOptions& options() const { return options_; }

 private:
  // The caller's userId from a valid user token that is not revoked, or the refusal (401,
  // 403 for a token of another role).
  std::optional<ApiResponse> Authenticate(const ApiRequest& request, offline::AccountStore& store,
                                          std::string* user_id) const;
  // Creates the relation with a fresh sealed key and announces it (if it was new).
  void MakeFriends(offline::AccountStore& store, const std::string& a, const std::string& b);
  ApiResponse Throttled(std::string_view scope, std::chrono::milliseconds retry_after) const;
  std::optional<ApiResponse> TooLargeJson(const ApiRequest& request) const;

  ApiDeps deps_;
  ApiOptions options_;
};

}  // namespace sparrow::authsvc
