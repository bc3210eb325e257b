#include "offline/db_url.hpp"

#include <algorithm>
#include <charconv>

#include "common/error.hpp"

namespace sparrow::offline {
namespace {

constexpr std::string_view kSqlitePrefix = "sqlite:";
constexpr std::string_view kMySqlPrefix = "mysql://";

[[noreturn]] void Fail(const std::string& reason) {
  throw common::ConfigError("--db: " + reason +
                            " (expected sqlite:PATH, sqlite::memory: or "
                            "mysql://USER:PASSWORD@HOST:PORT/DBNAME)");
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding. `what` names the part for the error message; the part's value is
// never echoed (it may be a password).
std::string PercentDecode(std::string_view in, const char* what) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) Fail(std::string("bad %-escape in ") + what);
    const int hi = HexValue(in[i + 1]);
    const int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) Fail(std::string("bad %-escape in ") + what);
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool IsValidDatabaseName(std::string_view name) {
  // Conservative: what MySQL accepts unquoted, so it can be used in CREATE DATABASE by tools.
  return name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '$';
         });
}

DbUrl ParseMySql(std::string_view rest) {
  DbUrl url;
  url.backend = DbBackend::kMySql;
  if (rest.find_first_of("?#") != std::string_view::npos) {
    Fail("a mysql URL takes no query or fragment (percent-encode '?' and '#' in a password)");
  }
  // The password may contain '/' and '@' unencoded: the host starts after the last '@'.
  const std::size_t last_at = rest.rfind('@');
  const std::size_t slash = rest.find('/', last_at == std::string_view::npos ? 0 : last_at);
  if (slash == std::string_view::npos) Fail("a mysql URL needs '/' after the host");
  const std::string_view authority = rest.substr(0, slash);
  url.database = PercentDecode(rest.substr(slash + 1), "the database name");
  if (!IsValidDatabaseName(url.database)) {
    Fail("the database name must be at most 64 characters of [A-Za-z0-9_$]");
  }

  const std::size_t at = authority.rfind('@');
  if (at == std::string_view::npos) Fail("a mysql URL needs USER@ before the host");
  const std::string_view userinfo = authority.substr(0, at);
  const std::string_view hostport = authority.substr(at + 1);

  const std::size_t colon = userinfo.find(':');
  url.user = PercentDecode(userinfo.substr(0, colon), "the user");
  if (colon != std::string_view::npos) {
    url.password = PercentDecode(userinfo.substr(colon + 1), "the password");
  }
  if (url.user.empty()) Fail("a mysql URL needs a user");

  std::string_view port_text;
  if (!hostport.empty() && hostport.front() == '[') {  // [IPv6]:port
    const std::size_t close = hostport.find(']');
    if (close == std::string_view::npos) Fail("unterminated '[' in the host");
    url.host = std::string(hostport.substr(1, close - 1));
    const std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') Fail("unexpected characters after ']' in the host");
      port_text = after.substr(1);
      if (port_text.empty()) Fail("empty port");
    }
  } else {
    const std::size_t port_colon = hostport.rfind(':');
    url.host = std::string(hostport.substr(0, port_colon));
    if (port_colon != std::string_view::npos) {
      port_text = hostport.substr(port_colon + 1);
      if (port_text.empty()) Fail("empty port");
    }
  }
  if (url.host.empty()) Fail("a mysql URL needs a host");
  if (!port_text.empty()) {
    int port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
        port > 65535) {
      Fail("the port must be a number from 1 to 65535");
    }
    url.port = port;
  }
  return url;
}

// SOCI's MySQL connection-string values: single-quoted, with '\' escaping '\' and '\''.
std::string QuoteMySqlValue(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

}  // namespace

DbUrl ParseDbUrl(std::string_view text) {
  if (text.starts_with(kMySqlPrefix)) return ParseMySql(text.substr(kMySqlPrefix.size()));
  if (text.starts_with(kSqlitePrefix)) {
    DbUrl url;
    url.backend = DbBackend::kSqlite;
    const std::string_view path = text.substr(kSqlitePrefix.size());
    if (path.empty()) Fail("sqlite: needs a file path");
    // SOCI's SQLite connection string quotes the path with '"' and has no escape for it.
    if (path.find('"') != std::string_view::npos) Fail("a sqlite path may not contain '\"'");
    if (path.find('\0') != std::string_view::npos) Fail("a sqlite path may not contain NUL");
    url.sqlite_path = std::string(path);
    return url;
  }
  Fail("unknown scheme");
}

std::string RedactDbUrl(std::string_view url) {
  std::string out(url);
  if (!url.starts_with(kMySqlPrefix)) return out;
  const std::size_t start = kMySqlPrefix.size();
  const std::size_t at = out.rfind('@');
  if (at == std::string::npos || at < start) return out;
  const std::size_t colon = out.find(':', start);
  if (colon == std::string::npos || colon > at) return out;  // no password
  out.replace(colon + 1, at - colon - 1, "***");
  return out;
}

SociTarget ToSociTarget(const DbUrl& url, const DbOptions& options) {
  SociTarget target;
  if (url.backend == DbBackend::kSqlite) {
    // busy_timeout and synchronous are set by Database with PRAGMAs (millisecond precision, and
    // checked), so only the file goes here.
    target.backend = "sqlite3";
    target.connect_string = "db=\"" + url.sqlite_path + "\"";
    return target;
  }
  target.backend = "mysql";
  std::string& s = target.connect_string;
  s = "host=" + QuoteMySqlValue(url.host) + " port=" + std::to_string(url.port) +
      " user=" + QuoteMySqlValue(url.user) + " password=" + QuoteMySqlValue(url.password);
  if (!url.database.empty()) s += " db=" + QuoteMySqlValue(url.database);
  s += " charset=utf8mb4";
  s += " connect_timeout=" +
       std::to_string(std::max<long long>(1, options.mysql_connect_timeout.count()));
  s += " read_timeout=" + std::to_string(std::max<long long>(1, options.mysql_io_timeout.count()));
  s += " write_timeout=" + std::to_string(std::max<long long>(1, options.mysql_io_timeout.count()));
  return target;
}

}  // namespace sparrow::offline
