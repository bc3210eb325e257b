// A fresh MariaDB/MySQL database per test, on the server named by SPARROW_TEST_MYSQL_URL.
//
// How to run the MariaDB tests by hand (the `./sparrow test` launcher does this for you):
//   mariadb-install-db --no-defaults --datadir=$D --user=root
//   mariadbd --no-defaults --datadir=$D --socket=$D/sock --port=33917
//            --bind-address=127.0.0.1 --user=root --skip-grant-tables &     (one line)
//   SPARROW_TEST_MYSQL_URL=mysql://root@127.0.0.1:33917/ ctest -L mariadb
// A fresh data folder gives root@localhost only unix_socket authentication, which a TCP
// connection cannot use (error 1698): --skip-grant-tables (fine for a throwaway server on
// loopback) or, instead, `mariadb -S $D/sock -uroot -e "ALTER USER root@localhost IDENTIFIED
// VIA unix_socket OR mysql_native_password USING PASSWORD('')"`.
#pragma once

#include <optional>
#include <string>

namespace sparrow::testing {

class MariaDbDatabase {
 public:
  static constexpr const char* kUrlVariable = "SPARROW_TEST_MYSQL_URL";
  static constexpr const char* kSkipMessage =
      "MariaDB tests need SPARROW_TEST_MYSQL_URL=mysql://USER[:PASSWORD]@HOST:PORT/ "
      "(a server where USER may create databases); `./sparrow test` starts one and sets it. "
      "See testing/mariadb.hpp.";

  // The server URL from the environment, or nullopt when unset or empty (tests then skip).
  static std::optional<std::string> ServerUrl();

  // Creates the database `sparrow_t_<random>` on the server at `server_url` (a mysql:// URL;
  // its database part is ignored). Throws offline::StoreError / common::ConfigError.
  explicit MariaDbDatabase(const std::string& server_url);
  // Drops the database (errors are logged, never thrown).
  ~MariaDbDatabase();
  MariaDbDatabase(const MariaDbDatabase&) = delete;
  MariaDbDatabase& operator=(const MariaDbDatabase&) = delete;

  // The URL of the new database, for DbOptions::url.
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

  // Runs one statement on a separate administrative connection to the server (e.g.
  // "KILL 42"). Throws offline::StoreError.
  void AdminExecute(const std::string& sql) const;

 private:
  std::string server_url_;
  std::string name_;
  std::string url_;
};

}  // namespace sparrow::testing
