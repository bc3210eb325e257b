#include "authsvc/api.hpp"

#include <algorithm>
#include <array>
#include <system_error>

#include "authsvc/announcer.hpp"
#include "authsvc/metrics.hpp"
#include "authsvc/passwords.hpp"
#include "authsvc/rate_limiter.hpp"
#include "authsvc/sealed_keys.hpp"
#include "authsvc/store_pool.hpp"
#include "common/base64.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "common/token.hpp"
#include "offline/account_store.hpp"
#include "protocol/identity.hpp"

namespace sparrow::authsvc {
namespace {

using nlohmann::json;

// Not a valid userId (it has a space): the rate limiter's key for every invalid one.
constexpr std::string_view kInvalidAccount = "invalid user";

constexpr std::array<std::string_view, 8> kReserved{"bridge", "offline", "authsvc", "ops",
                                                    "admin",  "root",    "sparrow", "system"};

ApiResponse Json(int status, json body) {
  ApiResponse response;
  response.status = status;
  response.json = std::move(body);
  return response;
}

ApiResponse NoContent() {
  ApiResponse response;
  response.status = 204;
  return response;
}

ApiResponse BadJson() {
  return ErrorResponse(400, "the body must be a JSON object with the documented fields");
}

// The body as a JSON object, or nullopt (not JSON, not an object). Never throws.
std::optional<json> ParseObject(std::string_view body) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return std::nullopt;
  return parsed;
}

// The string field `key` of `object`, or nullopt when absent or of another type.
std::optional<std::string> StringField(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

json UserList(const std::vector<std::string>& ids) {
  json list = json::array();
  for (const auto& id : ids) list.push_back({{"userId", id}});
  return list;
}

std::shared_ptr<spdlog::logger> Log() {
  static auto log = common::Logger("authsvc");
  return log;
}

}  // namespace

bool IsReservedUserId(std::string_view user_id) {
  return std::find(kReserved.begin(), kReserved.end(), user_id) != kReserved.end();
}

bool LooksLikeFileId(std::string_view text) {
  if (text.size() != 32) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'); });
}

std::string_view ErrorCode(int status) {
  switch (status) {
    case 400:
    case 405:
    case 414:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 409:
      return "conflict";
    case 413:
      return "too_large";
    case 429:
      return "rate_limited";
    default:
      return status < 500 ? "bad_request" : "internal";
  }
}

ApiResponse ErrorResponse(int status, std::string_view message) {
  ApiResponse response = Json(
      status, json{{"error", std::string(ErrorCode(status))}, {"message", std::string(message)}});
  if (status == 401) response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sparrow\"");
  return response;
}

Api::Api(ApiDeps deps, ApiOptions options) : deps_(deps), options_(options) {}

ApiResponse Api::Handle(RouteId route, const ApiRequest& request) {
  switch (route) {
    case RouteId::kRegister:
      return Register(request);
    case RouteId::kLogin:
      return Login(request);
    case RouteId::kLogout:
      return Logout(request);
    case RouteId::kPassword:
      return ChangePassword(request);
    case RouteId::kRequestFriend:
      return RequestFriend(request);
    case RouteId::kListFriends:
      return ListFriends(request);
    case RouteId::kAcceptFriend:
      return AcceptFriend(request);
    case RouteId::kDeleteFriend:
      return DeleteFriend(request);
    case RouteId::kRelations:
      return ListRelations(request);
    case RouteId::kDownloadFile:
      return DownloadFile(request);
    case RouteId::kHealth:
      return Health();
    case RouteId::kMetrics:
      return Metrics();
    case RouteId::kUploadFile:
      break;
  }
  return ErrorResponse(500, "internal error");
}

std::optional<ApiResponse> Api::TooLargeJson(const ApiRequest& request) const {
  if (request.body.size() <= options_.max_json_bytes) return std::nullopt;
  return ErrorResponse(413, "the JSON body is over 64 KiB");
}

ApiResponse Api::Throttled(std::string_view scope, std::chrono::milliseconds retry_after) const {
  if (deps_.metrics != nullptr) deps_.metrics->LoginThrottled(scope);
  ApiResponse response = ErrorResponse(429, "too many attempts; retry later");
  const auto seconds = std::max<std::int64_t>(1, (retry_after.count() + 999) / 1000);
  response.headers.emplace_back("Retry-After", std::to_string(seconds));
  return response;
}

std::optional<ApiResponse> Api::Authenticate(const ApiRequest& request,
                                             offline::AccountStore& store,
                                             std::string* user_id) const {
  if (request.bearer.empty()) return ErrorResponse(401, "missing bearer token");
  const std::int64_t now = deps_.clock.WallMillis();
  const auto outcome = deps_.verifier.Verify(request.bearer, now);
  if (!outcome.ok()) return ErrorResponse(401, "invalid or expired token");
  if (outcome.claims.role != common::Role::kUser) {
    return ErrorResponse(403, "this call needs a user token");
  }
  if (!protocol::IsValidUserId(outcome.claims.sub)) {
    return ErrorResponse(401, "invalid or expired token");
  }
  const auto user = store.GetUser(outcome.claims.sub);
  if (!user) return ErrorResponse(401, "invalid or expired token");
  if (outcome.claims.iat_ms < user->token_epoch) return ErrorResponse(401, "token revoked");
  *user_id = user->id;
  return std::nullopt;
}

void Api::MakeFriends(offline::AccountStore& store, const std::string& a, const std::string& b) {
  const std::string sealed = deps_.sealer.Seal(NewRelationKey(), RelationContext(a, b));
  if (store.CreateRelation(a, b, sealed) == offline::CreateRelationResult::kCreated) {
    Log()->info("friends user={} friend={}", a, b);
    deps_.announcer.RelationChanged(a, b, true);
  }
}

ApiResponse Api::Register(const ApiRequest& request) {
  if (auto refusal = TooLargeJson(request)) return *refusal;
  const auto body = ParseObject(request.body);
  if (!body) return BadJson();
  const auto user_id = StringField(*body, "userId");
  const auto password = StringField(*body, "password");
  if (!user_id || !password) return BadJson();
  if (!protocol::IsValidUserId(*user_id)) {
    return ErrorResponse(400, "userId must match ^[a-z0-9][a-z0-9_.-]{2,31}$");
  }
  if (IsReservedUserId(*user_id)) return ErrorResponse(400, "this userId is reserved");
  switch (CheckNewPassword(*password)) {
    case PasswordProblem::kTooShort:
      return ErrorResponse(400, "the password must have at least 8 characters");
    case PasswordProblem::kTooLong:
      return ErrorResponse(400, "the password must be at most 1024 bytes");
    case PasswordProblem::kNone:
      break;
  }
  auto store = deps_.accounts.Acquire();
  // Cheap check first, so a taken name costs no hash; CreateUser decides under a race.
  if (store->GetUser(*user_id)) return ErrorResponse(409, "this userId is taken");
  const auto hash = deps_.hasher.Hash(*password);
  if (!hash) return Throttled("busy", std::chrono::seconds(1));
  if (store->CreateUser(*user_id, *hash) == offline::CreateUserResult::kTaken) {
    return ErrorResponse(409, "this userId is taken");
  }
  Log()->info("registered user={} address={}", *user_id, request.client_address);
  return Json(201, json{{"userId", *user_id}});
}

ApiResponse Api::Login(const ApiRequest& request) {
  if (auto refusal = TooLargeJson(request)) return *refusal;
  const auto body = ParseObject(request.body);
  if (!body) return BadJson();
  const auto user_id = StringField(*body, "userId");
  const auto password = StringField(*body, "password");
  if (!user_id || !password) return BadJson();

  // The limiter keys on the userId: one that cannot exist (up to 64 KiB of anything) is keyed
  // as one shared pseudo-account, so the limiter's memory stays small.
  const std::string account =
      protocol::IsValidUserId(*user_id) ? *user_id : std::string(kInvalidAccount);
  const auto gate = deps_.limiter.Check(account, request.client_address);
  if (!gate.allowed()) {
    Log()->info("login throttled scope={} address={}", ToString(gate.gate), request.client_address);
    return Throttled(ToString(gate.gate), gate.retry_after);
  }
  const auto refuse = [&] {
    deps_.limiter.RecordFailure(account, request.client_address);
    if (deps_.metrics != nullptr) deps_.metrics->LoginFailed();
    Log()->info("login failed address={}", request.client_address);
    return ErrorResponse(401, "wrong userId or password");
  };
  // Neither can name an account (registration refuses both): no hash is spent on them.
  if (!protocol::IsValidUserId(*user_id) || password->size() > kMaxPasswordBytes) return refuse();

  auto store = deps_.accounts.Acquire();
  const auto user = store->GetUser(*user_id);
  // An unknown user costs the same hash as a known one: the answer time does not tell.
  const VerifyResult result = user ? deps_.hasher.Verify(user->password_hash, *password)
                                   : deps_.hasher.VerifyUnknownUser(*password);
  if (result == VerifyResult::kBusy) return Throttled("busy", std::chrono::seconds(1));
  if (result == VerifyResult::kMismatch) return refuse();

  deps_.limiter.RecordSuccess(account, request.client_address);
  if (deps_.hasher.NeedsRehash(user->password_hash)) {
    // The cost settings changed since the hash was made: upgrade it now that we know the
    // password. Best effort: a busy hasher leaves it for the next login.
    if (auto upgraded = deps_.hasher.Hash(*password)) {
      (void)store->SetPasswordHash(user->id, *upgraded);
    }
  }
  const std::int64_t now = deps_.clock.WallMillis();
  const std::string token =
      deps_.signer.Issue(user->id, common::Role::kUser, now, options_.token_ttl_ms);
  // TokenSigner::Issue rounds exp down to a whole second.
  const std::int64_t expires_at = (now + options_.token_ttl_ms) / 1000 * 1000;
  Log()->info("login user={} address={}", user->id, request.client_address);
  return Json(200, json{{"token", token}, {"expiresAt", expires_at}});
}

ApiResponse Api::Logout(const ApiRequest& request) {
  auto store = deps_.accounts.Acquire();
  std::string me;
  if (auto refusal = Authenticate(request, *store, &me)) return *refusal;
  const auto user = store->GetUser(me);
  const std::int64_t epoch = std::max(deps_.clock.WallMillis(), user ? user->token_epoch : 0);
  (void)store->SetTokenEpoch(me, epoch);
  deps_.announcer.TokensRevoked(me, epoch);
  Log()->info("logout user={} before={}", me, epoch);
  return NoContent();
}

ApiResponse Api::ChangePassword(const ApiRequest& request) {
  if (auto refusal = TooLargeJson(request)) return *refusal;
  auto store = deps_.accounts.Acquire();
  std::string me;
  if (auto refusal = Authenticate(request, *store, &me)) return *refusal;
  const auto body = ParseObject(request.body);
  if (!body) return BadJson();
  const auto old_password = StringField(*body, "oldPassword");
  const auto new_password = StringField(*body, "newPassword");
  if (!old_password || !new_password) return BadJson();
  switch (CheckNewPassword(*new_password)) {
    case PasswordProblem::kTooShort:
      return ErrorResponse(400, "the new password must have at least 8 characters");
    case PasswordProblem::kTooLong:
      return ErrorResponse(400, "the new password must be at most 1024 bytes");
    case PasswordProblem::kNone:
      break;
  }
  // Guessing the old password with a stolen token is throttled like logins.
  const auto gate = deps_.limiter.Check(me, request.client_address);
  if (!gate.allowed()) return Throttled(ToString(gate.gate), gate.retry_after);
  const auto user = store->GetUser(me);
  if (!user) return ErrorResponse(401, "invalid or expired token");
  const VerifyResult result = old_password->size() > kMaxPasswordBytes
                                  ? VerifyResult::kMismatch
                                  : deps_.hasher.Verify(user->password_hash, *old_password);
  if (result == VerifyResult::kBusy) return Throttled("busy", std::chrono::seconds(1));
  if (result == VerifyResult::kMismatch) {
    deps_.limiter.RecordFailure(me, request.client_address);
    if (deps_.metrics != nullptr) deps_.metrics->LoginFailed();
    return ErrorResponse(403, "the old password is wrong");
  }
  deps_.limiter.RecordSuccess(me, request.client_address);
  const auto hash = deps_.hasher.Hash(*new_password);
  if (!hash) return Throttled("busy", std::chrono::seconds(1));
  (void)store->SetPasswordHash(me, *hash);
  const std::int64_t epoch = std::max(deps_.clock.WallMillis(), user->token_epoch);
  (void)store->SetTokenEpoch(me, epoch);
  deps_.announcer.TokensRevoked(me, epoch);
  Log()->info("password changed user={} before={}", me, epoch);
  return NoContent();
}

ApiResponse Api::RequestFriend(const ApiRequest& request) {
  if (auto refusal = TooLargeJson(request)) return *refusal;
  auto store = deps_.accounts.Acquire();
  std::string me;
  if (auto refusal = Authenticate(request, *store, &me)) return *refusal;
  const auto body = ParseObject(request.body);
  if (!body) return BadJson();
  const auto other = StringField(*body, "userId");
  if (!other) return BadJson();
  if (!protocol::IsValidUserId(*other)) return ErrorResponse(400, "userId is not a valid id");
  if (*other == me) return ErrorResponse(400, "you cannot befriend yourself");
  if (!store->GetUser(*other)) return ErrorResponse(404, "no such user");
  if (store->AreFriends(me, *other)) return ErrorResponse(409, "already friends");

  const auto now_friends = [&] {
    MakeFriends(*store, me, *other);
    return Json(201, json{{"userId", *other}, {"friends", true}});
  };
  if (store->FriendRequestExists(*other, me)) return now_friends();
  (void)store->AddFriendRequest(me, *other);
  // Both asked at the same moment: each request missed the other's. Whoever sees both makes
  // the friendship (CreateRelation is idempotent), so it is never left with two requests.
  if (store->FriendRequestExists(*other, me) || store->AreFriends(me, *other)) {
    return now_friends();
  }
  return Json(202, json{{"userId", *other}, {"friends", false}});
}

ApiResponse Api::AcceptFriend(const ApiRequest& request) {
  auto store = deps_.accounts.Acquire();
  std::string me;
  if (auto refusal = Authenticate(request, *store, &me)) return *refusal;
  const auto it = request.params.find("userId");
  const std::string other = it == request.params.end() ? std::string() : it->second;
  if (!protocol::IsValidUserId(other)) return ErrorResponse(400, "userId is not a valid id");
  if (other == me) return ErrorResponse(400, "you cannot befriend yourself");
  if (!store->FriendRequestExists(other, me)) {
    return ErrorResponse(404, "no friend request from this user");
  }
  MakeFriends(*store, me, other);
  return Json(200, json{{"userId", other}, {"friends", true}});
}

ApiResponse Api::ListFriends(const ApiRequest& request) {
  auto store = deps_.accounts.Acquire();
  std::string me;
  if (auto refusal = Authenticate(request, *store, &me)) return *refusal;
  std::vector<std::string> friends;
  for (const auto& relation : store->Relations(me)) friends.push_back(relation.friend_id);
  return Json(200, json{{"friends", UserList(friends)},
                        {"incoming", UserList(store->IncomingRequests(me))},
                        {"outgoing", UserList(store->OutgoingRequests(me))}});
}

ApiResponse Api::DeleteFriend(const ApiRequest& request) {
  auto store = deps_.accounts.Acquire();
  std::string me;
  if (auto refusal = Authenticate(request, *store, &me)) return *refusal;
  const auto it = request.params.find("userId");
  const std::string other = it == request.params.end() ? std::string() : it->second;
  if (!protocol::IsValidUserId(other)) return ErrorResponse(400, "userId is not a valid id");
  if (!store->DeleteRelation(me, other)) return ErrorResponse(404, "not friends");
  Log()->info("unfriended user={} friend={}", me, other);
  deps_.announcer.RelationChanged(me, other, false);
  return NoContent();
}

ApiResponse Api::ListRelations(const ApiRequest& request) {
  auto store = deps_.accounts.Acquire();
  std::string me;
  if (auto refusal = Authenticate(request, *store, &me)) return *refusal;
  json relations = json::array();
  for (const auto& relation : store->Relations(me)) {
    const auto key =
        deps_.sealer.Unseal(relation.encrypt_key, RelationContext(me, relation.friend_id));
    if (!key) {
      // Tampered with, or sealed under a master key this server does not hold.
      throw common::Error("relation key of " + me + "/" + relation.friend_id + " does not open");
    }
    relations.push_back(
        {{"userId", relation.friend_id}, {"encryptKey", common::Base64Encode(*key)}});
  }
  return Json(200, json{{"relations", std::move(relations)}});
}

Api::UploadStart Api::BeginUpload(const ApiRequest& request) {
  UploadStart start;
  auto store = deps_.accounts.Acquire();
  std::string me;
  if (auto refusal = Authenticate(request, *store, &me)) {
    start.refusal = std::move(*refusal);
    return start;
  }
  const auto it = request.query.find("to");
  if (it == request.query.end() || !protocol::IsValidUserId(it->second)) {
    start.refusal = ErrorResponse(400, "?to= must name the recipient's userId");
    return start;
  }
  const std::string& to = it->second;
  if (to == me || !store->AreFriends(me, to)) {
    start.refusal = ErrorResponse(403, "files go to friends only");
    return start;
  }
  if (request.content_length && *request.content_length > options_.max_file_bytes) {
    start.refusal = ErrorResponse(413, "the file is over the size limit");
    return start;
  }
  start.session = std::unique_ptr<UploadSession>(
      new UploadSession(me, to, deps_.files.BeginUpload(options_.max_file_bytes)));
  return start;
}

ApiResponse Api::FinishUpload(std::unique_ptr<UploadSession> session) {
  if (session->too_large()) return ErrorResponse(413, "the file is over the size limit");
  const StoredFile stored = session->file_->Commit();
  offline::FileRecord record{common::NewFileId(),
                             session->uploader_,
                             session->recipient_,
                             stored.sha256,
                             static_cast<std::int64_t>(stored.size),
                             deps_.clock.WallMillis()};
  deps_.accounts.Acquire()->InsertFile(record);
  Log()->info("file stored user={} to={} size={}", record.uploader, record.recipient, record.size);
  return Json(201,
              json{{"fileId", record.file_id}, {"size", stored.size}, {"sha256", stored.sha256}});
}

ApiResponse Api::DownloadFile(const ApiRequest& request) {
  auto store = deps_.accounts.Acquire();
  std::string me;
  if (auto refusal = Authenticate(request, *store, &me)) return *refusal;
  const auto it = request.params.find("fileId");
  const ApiResponse not_found = ErrorResponse(404, "no such file");
  if (it == request.params.end() || !LooksLikeFileId(it->second)) return not_found;
  const auto file = store->GetFile(it->second);
  // Someone else's file is answered exactly like a missing one.
  if (!file || (file->uploader != me && file->recipient != me)) return not_found;
  if (!IsSha256Hex(file->sha256)) throw common::Error("im_file row with a bad sha256");
  ApiResponse response;
  response.status = 200;
  response.file =
      FileBody{deps_.files.PathOf(file->sha256), static_cast<std::uint64_t>(file->size)};
  std::error_code ec;
  const auto on_disk = std::filesystem::file_size(response.file->path, ec);
  if (ec || on_disk != response.file->size) {
    throw common::Error("file " + file->file_id + " is missing or truncated on disk");
  }
  return response;
}

ApiResponse Api::Health() const { return Json(200, json{{"status", "ok"}}); }

ApiResponse Api::Metrics() const {
  ApiResponse response;
  response.status = 200;
  response.content_type = "text/plain; version=0.0.4";
  if (deps_.metrics != nullptr) response.text = deps_.metrics->Render();
  return response;
}

}  // namespace sparrow::authsvc
