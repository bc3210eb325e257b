// The database flags every Sparrow service takes: --db URL (env SPARROW_DB) and
// --sqlite-sync full|normal (env SPARROW_SQLITE_SYNC).
#pragma once

#include <string>

#include "offline/db_url.hpp"

namespace CLI {
class App;
}

namespace sparrow::offline {

struct DbFlags {
  std::string url = "sqlite:data/sparrow.db";
  std::string sqlite_sync = "full";

  void AddTo(CLI::App& app);
  // Validates (ConfigError naming the flag) and builds the options.
  DbOptions ToOptions() const;
};

}  // namespace sparrow::offline
