#include "client/rest_client.hpp"

#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "common/base64.hpp"

namespace sparrow::client {
namespace {

using nlohmann::json;

constexpr std::size_t kUploadPiece = 256 * 1024;

std::string NormalizedUrl(std::string url) {
  if (url.find("://") == std::string::npos) url = "http://" + url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::unique_ptr<httplib::Client> MakeHttp(const RestClient::Options& options) {
  auto http = std::make_unique<httplib::Client>(NormalizedUrl(options.server_url));
  http->set_tcp_nodelay(true);
  http->set_connection_timeout(options.timeout);
  http->set_read_timeout(options.timeout);
  http->set_write_timeout(options.timeout);
  return http;
}

httplib::Headers AuthHeaders(const std::string& token) {
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  return headers;
}

RestError Unreachable(const RestClient::Options& options, httplib::Error error) {
  if (error == httplib::Error::Canceled) {
    return RestError{.status = 0, .code = "canceled", .message = "transfer canceled"};
  }
  return RestError{.status = 0,
                   .code = "unreachable",
                   .message = "cannot reach " + NormalizedUrl(options.server_url) + " (" +
                              httplib::to_string(error) + ")"};
}

// The RestError of a non-success answer: the server's {"error","message"} when it sent one.
RestError FromResponse(const httplib::Response& response) {
  RestError error{.status = response.status, .code = "", .message = ""};
  const json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    if (body.contains("error") && body["error"].is_string()) error.code = body["error"];
    if (body.contains("message") && body["message"].is_string()) error.message = body["message"];
  }
  if (error.code.empty()) error.code = response.status >= 500 ? "internal" : "http_error";
  if (error.message.empty()) error.message = "HTTP " + std::to_string(response.status);
  return error;
}

RestError BadResponse(std::string what) {
  return RestError{.status = 0, .code = "bad_response", .message = std::move(what)};
}

// Parses a JSON object body; nullopt-like error when it is not one.
RestResult<json> JsonBody(const httplib::Response& response) {
  json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return BadResponse("the server's answer is not a JSON object");
  return body;
}

std::vector<std::string> UserIds(const json& list) {
  std::vector<std::string> out;
  if (!list.is_array()) return out;
  for (const auto& item : list) {
    if (item.is_object() && item.contains("userId") && item["userId"].is_string()) {
      out.push_back(item["userId"].get<std::string>());
    }
  }
  return out;
}

// Percent-encodes a path segment or query value (user ids and file ids are plain already; this
// keeps anything else from changing the request's shape).
std::string Escape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string RestError::ToString() const {
  if (status == 0) return message;
  return code + " (" + std::to_string(status) + "): " + message;
}

RestClient::RestClient(Options options) : options_(std::move(options)) {}

void RestClient::SetToken(std::string token) {
  std::lock_guard<std::mutex> lock(mutex_);
  token_ = std::move(token);
}

std::string RestClient::Token() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return token_;
}

RestResult<Done> RestClient::Register(const std::string& user, const std::string& password) {
  auto http = MakeHttp(options_);
  const std::string body = json{{"userId", user}, {"password", password}}.dump();
  auto res = http->Post("/api/v1/register", body, "application/json");
  if (!res) return Unreachable(options_, res.error());
  if (res->status != 201) return FromResponse(*res);
  return Done{};
}

RestResult<LoginResult> RestClient::Login(const std::string& user, const std::string& password) {
  auto http = MakeHttp(options_);
  const std::string body = json{{"userId", user}, {"password", password}}.dump();
  auto res = http->Post("/api/v1/login", body, "application/json");
  if (!res) return Unreachable(options_, res.error());
  if (res->status != 200) return FromResponse(*res);
  auto parsed = JsonBody(*res);
  if (!parsed.ok()) return parsed.error();
  const json& j = parsed.value();
  if (!j.contains("token") || !j["token"].is_string() || !j.contains("expiresAt") ||
      !j["expiresAt"].is_number_integer()) {
    return BadResponse("login answer without token/expiresAt");
  }
  return LoginResult{.token = j["token"], .expires_at_ms = j["expiresAt"]};
}

RestResult<Done> RestClient::Logout() {
  auto http = MakeHttp(options_);
  auto res = http->Post("/api/v1/logout", AuthHeaders(Token()), "", "application/json");
  if (!res) return Unreachable(options_, res.error());
  if (res->status != 204 && res->status != 200) return FromResponse(*res);
  return Done{};
}

RestResult<Done> RestClient::ChangePassword(const std::string& old_password,
                                            const std::string& new_password) {
  auto http = MakeHttp(options_);
  const std::string body =
      json{{"oldPassword", old_password}, {"newPassword", new_password}}.dump();
  auto res = http->Post("/api/v1/password", AuthHeaders(Token()), body, "application/json");
  if (!res) return Unreachable(options_, res.error());
  if (res->status != 204 && res->status != 200) return FromResponse(*res);
  return Done{};
}

RestResult<FriendRequestOutcome> RestClient::RequestFriend(const std::string& user) {
  auto http = MakeHttp(options_);
  const std::string body = json{{"userId", user}}.dump();
  auto res = http->Post("/api/v1/friends", AuthHeaders(Token()), body, "application/json");
  if (!res) return Unreachable(options_, res.error());
  if (res->status == 201) return FriendRequestOutcome::kNowFriends;
  if (res->status == 202) return FriendRequestOutcome::kRequested;
  return FromResponse(*res);
}

RestResult<Done> RestClient::AcceptFriend(const std::string& user) {
  auto http = MakeHttp(options_);
  auto res = http->Post("/api/v1/friends/" + Escape(user) + "/accept", AuthHeaders(Token()), "",
                        "application/json");
  if (!res) return Unreachable(options_, res.error());
  if (res->status != 200 && res->status != 201 && res->status != 204) return FromResponse(*res);
  return Done{};
}

RestResult<FriendLists> RestClient::ListFriends() {
  auto http = MakeHttp(options_);
  auto res = http->Get("/api/v1/friends", AuthHeaders(Token()));
  if (!res) return Unreachable(options_, res.error());
  if (res->status != 200) return FromResponse(*res);
  auto parsed = JsonBody(*res);
  if (!parsed.ok()) return parsed.error();
  const json& j = parsed.value();
  FriendLists lists;
  if (j.contains("friends")) lists.friends = UserIds(j["friends"]);
  if (j.contains("incoming")) lists.incoming = UserIds(j["incoming"]);
  if (j.contains("outgoing")) lists.outgoing = UserIds(j["outgoing"]);
  return lists;
}

RestResult<Done> RestClient::RemoveFriend(const std::string& user) {
  auto http = MakeHttp(options_);
  auto res = http->Delete("/api/v1/friends/" + Escape(user), AuthHeaders(Token()));
  if (!res) return Unreachable(options_, res.error());
  if (res->status != 204 && res->status != 200) return FromResponse(*res);
  return Done{};
}

RestResult<std::map<std::string, std::string>> RestClient::Relations() {
  auto http = MakeHttp(options_);
  auto res = http->Get("/api/v1/relations", AuthHeaders(Token()));
  if (!res) return Unreachable(options_, res.error());
  if (res->status != 200) return FromResponse(*res);
  auto parsed = JsonBody(*res);
  if (!parsed.ok()) return parsed.error();
  const json& j = parsed.value();
  std::map<std::string, std::string> keys;
  if (!j.contains("relations") || !j["relations"].is_array()) {
    return BadResponse("relations answer without a relations list");
  }
  for (const auto& item : j["relations"]) {
    if (!item.is_object() || !item.contains("userId") || !item["userId"].is_string() ||
        !item.contains("encryptKey") || !item["encryptKey"].is_string()) {
      continue;
    }
    auto key = common::Base64Decode(item["encryptKey"].get<std::string>());
    if (!key || key->size() != 32) continue;
    keys[item["userId"].get<std::string>()] = *std::move(key);
  }
  return keys;
}

RestResult<UploadResult> RestClient::UploadFile(const std::string& to, std::uint64_t size,
                                                const UploadSource& source,
                                                const Progress& progress) {
  auto http = MakeHttp(options_);
  std::string piece;
  bool source_failed = false;
  auto provider = [&](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
    piece.clear();
    if (!source(offset, std::min(length, kUploadPiece), piece) || piece.empty()) {
      source_failed = true;
      return false;
    }
    if (!sink.write(piece.data(), piece.size())) return false;
    if (progress) progress(offset + piece.size(), size);
    return true;
  };
  if (progress) progress(0, size);
  auto res = http->Post("/api/v1/files?to=" + Escape(to), AuthHeaders(Token()),
                        static_cast<std::size_t>(size), provider, "application/octet-stream");
  if (source_failed) {
    return RestError{.status = 0, .code = "canceled", .message = "could not read the file"};
  }
  if (!res) return Unreachable(options_, res.error());
  if (res->status != 201) return FromResponse(*res);
  auto parsed = JsonBody(*res);
  if (!parsed.ok()) return parsed.error();
  const json& j = parsed.value();
  if (!j.contains("fileId") || !j["fileId"].is_string()) {
    return BadResponse("upload answer without fileId");
  }
  UploadResult result;
  result.file_id = j["fileId"];
  if (j.contains("size") && j["size"].is_number_unsigned()) result.size = j["size"];
  if (j.contains("sha256") && j["sha256"].is_string()) result.sha256 = j["sha256"];
  return result;
}

RestResult<Done> RestClient::DownloadFile(const std::string& file_id, const DownloadSink& sink,
                                          const Progress& progress) {
  auto http = MakeHttp(options_);
  int status = 0;
  std::string error_body;  // the body of a non-200 answer (the JSON error)
  bool sink_refused = false;
  auto res = http->Get(
      "/api/v1/files/" + Escape(file_id), AuthHeaders(Token()),
      [&](const httplib::Response& response) {
        status = response.status;
        return true;
      },
      [&](const char* data, std::size_t length) {
        if (status != 200) {
          if (error_body.size() < 64 * 1024) error_body.append(data, length);
          return true;
        }
        if (!sink(std::string_view(data, length))) {
          sink_refused = true;
          return false;
        }
        return true;
      },
      [&](std::uint64_t done, std::uint64_t total) {
        if (progress && status == 200) progress(done, total);
        return true;
      });
  if (sink_refused) {
    return RestError{.status = 200, .code = "canceled", .message = "download aborted"};
  }
  if (!res) return Unreachable(options_, res.error());
  if (res->status != 200) {
    httplib::Response copy;
    copy.status = res->status;
    copy.body = error_body.empty() ? res->body : error_body;
    return FromResponse(copy);
  }
  return Done{};
}

}  // namespace sparrow::client
