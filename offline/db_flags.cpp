#include "offline/db_flags.hpp"

#include <CLI/CLI.hpp>

#include "common/error.hpp"

namespace sparrow::offline {

void DbFlags::AddTo(CLI::App& app) {
  app.add_option("--db", url, "Database URL: sqlite:PATH or mysql://USER:PASS@HOST:PORT/DB")
      ->envname("SPARROW_DB")
      ->capture_default_str();
  app.add_option("--sqlite-sync", sqlite_sync, "SQLite durability: full|normal")
      ->envname("SPARROW_SQLITE_SYNC")
      ->capture_default_str();
}

DbOptions DbFlags::ToOptions() const {
  if (sqlite_sync != "full" && sqlite_sync != "normal") {
    throw common::ConfigError("--sqlite-sync: must be full or normal");
  }
  ParseDbUrl(url);  // throws ConfigError naming --db
  DbOptions options;
  options.url = url;
  options.sqlite_sync = sqlite_sync == "normal" ? SqliteSync::kNormal : SqliteSync::kFull;
  return options;
}

}  // namespace sparrow::offline
