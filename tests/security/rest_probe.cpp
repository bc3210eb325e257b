#include "tests/security/rest_probe.hpp"

#include <httplib.h>

#include <cctype>
#include <chrono>

namespace sparrow::security {

std::string HttpReply::Header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < key.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(key[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    }
    if (same) return value;
  }
  return "";
}

nlohmann::json HttpReply::Json() const {
  return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
}

RestProbe::RestProbe(int port, std::string source_address)
    : port_(port), source_(std::move(source_address)) {}

HttpReply RestProbe::Send(const std::string& method, const std::string& path,
                          const std::string& body, const std::string& content_type,
                          const std::string& bearer,
                          const std::vector<std::pair<std::string, std::string>>& headers) const {
  httplib::Client client("127.0.0.1", port_);
  client.set_keep_alive(false);
  client.set_url_encode(false);  // callers encode (PercentEncode)
  client.set_connection_timeout(std::chrono::seconds(10));
  client.set_read_timeout(std::chrono::seconds(30));
  client.set_write_timeout(std::chrono::seconds(30));
  // cpp-httplib binds the socket to this address when it is not an interface name.
  if (!source_.empty()) client.set_interface(source_);
  httplib::Headers request_headers;
  if (!bearer.empty()) request_headers.emplace("Authorization", "Bearer " + bearer);
  for (const auto& [key, value] : headers) request_headers.emplace(key, value);

  const auto started = std::chrono::steady_clock::now();
  httplib::Result result{nullptr, httplib::Error::Unknown};
  if (method == "GET") {
    result = client.Get(path, request_headers);
  } else if (method == "DELETE") {
    result = client.Delete(path, request_headers);
  } else {
    result = client.Post(path, request_headers, body, content_type);
  }
  HttpReply reply;
  reply.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!result) {
    reply.body = "no HTTP answer: " + httplib::to_string(result.error());
    return reply;
  }
  reply.status = result->status;
  reply.body = result->body;
  for (const auto& [key, value] : result->headers) reply.headers.emplace_back(key, value);
  return reply;
}

HttpReply RestProbe::Get(const std::string& path, const std::string& bearer,
                         const std::vector<std::pair<std::string, std::string>>& headers) const {
  return Send("GET", path, "", "", bearer, headers);
}

HttpReply RestProbe::Delete(const std::string& path, const std::string& bearer) const {
  return Send("DELETE", path, "", "", bearer, {});
}

HttpReply RestProbe::Post(const std::string& path, const nlohmann::json& body,
                          const std::string& bearer,
                          const std::vector<std::pair<std::string, std::string>>& headers) const {
  return Send("POST", path, body.dump(), "application/json", bearer, headers);
}

HttpReply RestProbe::PostBytes(const std::string& path, const std::string& bytes,
                               const std::string& content_type, const std::string& bearer) const {
  return Send("POST", path, bytes, content_type, bearer, {});
}

int RestProbe::Register(const std::string& user, const std::string& password) const {
  return Post("/api/v1/register", {{"userId", user}, {"password", password}}).status;
}

std::optional<std::string> RestProbe::Login(const std::string& user,
                                            const std::string& password) const {
  const HttpReply reply = Post("/api/v1/login", {{"userId", user}, {"password", password}});
  if (reply.status != 200) return std::nullopt;
  const nlohmann::json json = reply.Json();
  if (!json.is_object() || !json.contains("token") || !json["token"].is_string()) {
    return std::nullopt;
  }
  return json["token"].get<std::string>();
}

bool RestProbe::Befriend(const std::string& token_a, const std::string& user_a,
                         const std::string& token_b, const std::string& user_b) const {
  const HttpReply ask = Post("/api/v1/friends", {{"userId", user_b}}, token_a);
  if (ask.status == 201) return true;
  if (ask.status != 202) return false;
  const HttpReply accept = Post("/api/v1/friends/" + PercentEncode(user_a) + "/accept",
                                nlohmann::json::object(), token_b);
  return accept.status == 200;
}

std::string PercentEncode(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0f];
    }
  }
  return out;
}

}  // namespace sparrow::security
