// Sparrow's database schema: one schema for SQLite and MySQL/MariaDB, applied as numbered
// migrations when a Database opens. docs/DESIGN.md ("Data model") describes the tables.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "offline/sql.hpp"

namespace sparrow::offline {

class Database;

// The schema version this build creates and understands.
inline constexpr int kSchemaVersion = 2;

// One step of the schema. Statements must be idempotent (CREATE ... IF NOT EXISTS and the
// like): MySQL commits each DDL statement on its own, so a migration cut short by a crash is
// simply run again at the next start.
struct Migration {
  int version;
  std::string_view description;
  std::vector<std::string> (*statements)(Dialect dialect);
};

// Every migration, in version order (1, 2, ...); the last one's version is kSchemaVersion.
const std::vector<Migration>& Migrations();

// Brings `db` up to kSchemaVersion, recording each applied version in `sparrow_schema`. Safe
// when several processes start at once: SQLite applies everything in one BEGIN IMMEDIATE
// transaction; MySQL serializes migrators with GET_LOCK('sparrow_migrate.<database>').
// Throws StoreError (not retryable) when the database's schema is newer than this build, and
// soci::soci_error / StoreError when the database fails.
void Migrate(Database& db);

// The highest version recorded in sparrow_schema (0 for an empty database).
int SchemaVersion(Database& db);

}  // namespace sparrow::offline
