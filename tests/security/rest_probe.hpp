// RestProbe: a small HTTP client for the security tests, speaking to the REST service
// (authsvc/README.md) over real TCP with cpp-httplib, and able to choose the client's source
// address on the loopback network (127.0.0.2, 127.0.0.3, ...: every 127/8 address is local on
// Linux), so a test can play several client addresses against the per-address rate limits.
//
//   RestProbe rest(stack.http_port());                   // from 127.0.0.1
//   RestProbe other(stack.http_port(), "127.0.0.2");     // bound to 127.0.0.2
//   auto login = rest.Post("/api/v1/login", {{"userId", "alice"}, {"password", pw}});
//   EXPECT_EQ(login.status, 200);
//
// Every call opens one connection (no keep-alive) and waits at most 30 s. A transport failure
// is reported as status 0 with the error in `body`. Thread-compatible: one object per thread.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sparrow::security {

struct HttpReply {
  int status = 0;  // 0: no HTTP answer (connection refused, timeout); `body` says why
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  double seconds = 0;  // from sending the request to the whole answer read

  // The first header of that name (case-insensitive), or "".
  std::string Header(const std::string& name) const;
  // The body parsed as JSON (discarded value when it is not JSON).
  nlohmann::json Json() const;
};

class RestProbe {
 public:
  // `source_address`: empty for the system's choice (127.0.0.1 towards 127.0.0.1).
  explicit RestProbe(int port, std::string source_address = "");

  HttpReply Get(const std::string& path, const std::string& bearer = "",
                const std::vector<std::pair<std::string, std::string>>& headers = {}) const;
  HttpReply Delete(const std::string& path, const std::string& bearer = "") const;
  // A JSON body (dumped as is, with Content-Type application/json).
  HttpReply Post(const std::string& path, const nlohmann::json& body,
                 const std::string& bearer = "",
                 const std::vector<std::pair<std::string, std::string>>& headers = {}) const;
  // Raw bytes (file uploads, malformed bodies).
  HttpReply PostBytes(const std::string& path, const std::string& bytes,
                      const std::string& content_type, const std::string& bearer = "") const;

  // Account helpers. Register returns the status; Login the token on 200.
  int Register(const std::string& user, const std::string& password) const;
  std::optional<std::string> Login(const std::string& user, const std::string& password) const;
  // Both sides ask: the friendship (and its key) exists afterwards. True on success.
  bool Befriend(const std::string& token_a, const std::string& user_a, const std::string& token_b,
                const std::string& user_b) const;

  const std::string& source_address() const { return source_; }

 private:
  HttpReply Send(const std::string& method, const std::string& path, const std::string& body,
                 const std::string& content_type, const std::string& bearer,
                 const std::vector<std::pair<std::string, std::string>>& headers) const;

  int port_;
  std::string source_;
};

// Percent-encodes every byte outside [A-Za-z0-9-._~] (for path segments and query values).
std::string PercentEncode(const std::string& text);

}  // namespace sparrow::security
