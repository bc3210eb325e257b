#include "offline/db_url.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace sparrow::offline {
namespace {

std::string ConfigErrorOf(const std::string& url) {
  try {
    (void)ParseDbUrl(url);
  } catch (const common::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(DbUrlTest, ParsesSqlitePathsAndMemory) {
  EXPECT_EQ(ParseDbUrl("sqlite:/var/lib/sparrow/sparrow.db").sqlite_path,
            "/var/lib/sparrow/sparrow.db");
  EXPECT_EQ(ParseDbUrl("sqlite:data/sparrow.db").sqlite_path, "data/sparrow.db");
  EXPECT_EQ(ParseDbUrl("sqlite::memory:").sqlite_path, ":memory:");
  EXPECT_EQ(ParseDbUrl("sqlite:/tmp/a b/x.db").sqlite_path, "/tmp/a b/x.db");
  EXPECT_EQ(ParseDbUrl("sqlite::memory:").backend, DbBackend::kSqlite);
}

TEST(DbUrlTest, ParsesMySqlUrlAndPercentDecodesCredentials) {
  const DbUrl url = ParseDbUrl("mysql://sparrow:p%40ss%3Aw%2Fd@db.example:3307/im");
  EXPECT_EQ(url.backend, DbBackend::kMySql);
  EXPECT_EQ(url.user, "sparrow");
  EXPECT_EQ(url.password, "p@ss:w/d");
  EXPECT_EQ(url.host, "db.example");
  EXPECT_EQ(url.port, 3307);
  EXPECT_EQ(url.database, "im");
}

TEST(DbUrlTest, MySqlDefaultsAndOptionalParts) {
  const DbUrl no_port = ParseDbUrl("mysql://root@127.0.0.1/sparrow");
  EXPECT_EQ(no_port.port, 3306);
  EXPECT_EQ(no_port.password, "");
  const DbUrl server = ParseDbUrl("mysql://root@127.0.0.1:33917/");
  EXPECT_EQ(server.database, "");
  EXPECT_EQ(server.port, 33917);
  const DbUrl v6 = ParseDbUrl("mysql://u:p@[::1]:3310/db");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 3310);
  // Unencoded '@' and '/' in a password still parse: the host starts after the last '@'.
  EXPECT_EQ(ParseDbUrl("mysql://u:a@b/c@h:1/db").password, "a@b/c");
}

TEST(DbUrlTest, BadUrlsAreConfigErrorsNamingTheOptionWithoutThePassword) {
  for (const char* bad :
       {"", "postgres://u@h/db", "sqlite:", "mysql://h/db", "mysql://u@h", "mysql://u@:3306/db",
        "mysql://u@h:0/db", "mysql://u@h:99999/db", "mysql://u@h:12x/db", "mysql://u@h:/db",
        "mysql://u:secret%zz@h/db", "mysql://u:secret%4@h/db", "mysql://u@h/db?ssl=1",
        "mysql://u@h/d-b", "mysql://u@[::1/db", "sqlite:/tmp/a\"b.db"}) {
    const std::string message = ConfigErrorOf(bad);
    EXPECT_NE(message, "") << bad;
    EXPECT_NE(message.find("--db"), std::string::npos) << message;
    EXPECT_EQ(message.find("secret"), std::string::npos) << message;
  }
}

TEST(DbUrlTest, RedactMasksOnlyThePassword) {
  EXPECT_EQ(RedactDbUrl("mysql://sparrow:s3cret@db:3306/im"), "mysql://sparrow:***@db:3306/im");
  EXPECT_EQ(RedactDbUrl("mysql://sparrow:a@b@db/im"), "mysql://sparrow:***@db/im");
  EXPECT_EQ(RedactDbUrl("mysql://root@127.0.0.1:3306/"), "mysql://root@127.0.0.1:3306/");
  EXPECT_EQ(RedactDbUrl("sqlite:/data/sparrow.db"), "sqlite:/data/sparrow.db");
  EXPECT_EQ(RedactDbUrl("mysql://u:pw@"), "mysql://u:***@");
}

TEST(DbUrlTest, SociConnectStringsQuoteValues) {
  DbOptions options;
  const SociTarget sqlite = ToSociTarget(ParseDbUrl("sqlite:/tmp/a b.db"), options);
  EXPECT_EQ(sqlite.backend, "sqlite3");
  EXPECT_EQ(sqlite.connect_string, "db=\"/tmp/a b.db\"");

  const SociTarget mysql = ToSociTarget(ParseDbUrl("mysql://u:it%27s%20a%5Cpw@h:3307/im"), options);
  EXPECT_EQ(mysql.backend, "mysql");
  EXPECT_EQ(mysql.connect_string,
            "host='h' port=3307 user='u' password='it\\'s a\\\\pw' db='im' charset=utf8mb4 "
            "connect_timeout=5 read_timeout=30 write_timeout=30");
  EXPECT_EQ(ToSociTarget(ParseDbUrl("mysql://u@h/"), options).connect_string.find("db="),
            std::string::npos);
}

}  // namespace
}  // namespace sparrow::offline
