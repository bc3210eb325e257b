#include "testing/mariadb.hpp"

#include <cstdlib>

#include "common/base64.hpp"
#include "common/ids.hpp"
#include "common/log.hpp"
#include "offline/db_url.hpp"
#include "offline/soci_headers.hpp"
#include "offline/store_error.hpp"

namespace sparrow::testing {
namespace {

// A connection to the server without a default database.
std::unique_ptr<soci::session> ConnectToServer(const std::string& server_url) {
  offline::DbUrl url = offline::ParseDbUrl(server_url);
  if (url.backend != offline::DbBackend::kMySql) {
    throw common::ConfigError(std::string(MariaDbDatabase::kUrlVariable) +
                              ": expected a mysql:// URL");
  }
  url.database.clear();
  try {
    return std::make_unique<soci::session>(
        *soci::factory_mysql(), offline::ToSociTarget(url, offline::DbOptions{}).connect_string);
  } catch (const soci::soci_error& e) {
    throw offline::StoreError(
        "cannot connect to " + offline::RedactDbUrl(server_url) + ": " + e.what(),
        /*retryable=*/true);
  }
}

// The server URL with `database` as its database part.
std::string WithDatabase(const std::string& server_url, const std::string& database) {
  const std::size_t at = server_url.rfind('@');
  const std::size_t slash = server_url.find('/', at == std::string::npos ? 0 : at);
  return (slash == std::string::npos ? server_url : server_url.substr(0, slash)) + "/" + database;
}

}  // namespace

std::optional<std::string> MariaDbDatabase::ServerUrl() {
  const char* value = std::getenv(kUrlVariable);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

MariaDbDatabase::MariaDbDatabase(const std::string& server_url)
    : server_url_(server_url),
      name_("sparrow_t_" + common::HexEncode(common::RandomBytes(6))),
      url_(WithDatabase(server_url, name_)) {
  // The name is ours (hex), so it can be spliced into the DDL, which takes no parameters.
  AdminExecute("CREATE DATABASE " + name_ + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
}

MariaDbDatabase::~MariaDbDatabase() {
  try {
    AdminExecute("DROP DATABASE IF EXISTS " + name_);
  } catch (const std::exception& e) {
    common::Logger("testing")->warn("cannot drop test database name={} error={}", name_, e.what());
  }
}

void MariaDbDatabase::AdminExecute(const std::string& sql) const {
  auto session = ConnectToServer(server_url_);
  try {
    *session << sql;
  } catch (const soci::soci_error& e) {
    throw offline::StoreError(std::string("admin statement failed: ") + e.what(),
                              /*retryable=*/false);
  }
}

}  // namespace sparrow::testing
