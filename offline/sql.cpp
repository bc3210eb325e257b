#include "offline/sql.hpp"

namespace sparrow::offline {

std::string Placeholder(Dialect dialect, SqlType type, std::size_t n) {
  std::string name = ":p" + std::to_string(n);
  if (type != SqlType::kBytes) return name;
  return dialect == Dialect::kSqlite ? "CAST(" + name + " AS BLOB)" : "_binary " + name;
}

std::string ValuesRows(Dialect dialect, std::span<const SqlType> columns, std::size_t rows,
                       std::size_t first) {
  std::string sql;
  sql.reserve(rows * columns.size() * 8);
  std::size_t n = first;
  for (std::size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ", (";
    for (std::size_t c = 0; c < columns.size(); ++c) {
      if (c != 0) sql += ", ";
      sql += Placeholder(dialect, columns[c], n++);
    }
    sql += ")";
  }
  return sql;
}

std::string InList(Dialect dialect, SqlType type, std::size_t n, std::size_t first) {
  std::string sql = "(";
  for (std::size_t i = 0; i < n; ++i) {
    if (i != 0) sql += ", ";
    sql += Placeholder(dialect, type, first + i);
  }
  sql += ")";
  return sql;
}

std::string KeyMatches(Dialect dialect, std::span<const std::string_view> columns,
                       std::span<const SqlType> types, std::size_t rows, std::size_t first) {
  std::string sql;
  std::size_t n = first;
  for (std::size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : " OR (";
    for (std::size_t c = 0; c < columns.size(); ++c) {
      if (c != 0) sql += " AND ";
      sql += columns[c];
      sql += " = ";
      sql += Placeholder(dialect, types[c], n++);
    }
    sql += ")";
  }
  return sql;
}

std::string CaseWhen(Dialect dialect, std::string_view key_column, SqlType key_type,
                     SqlType value_type, std::size_t rows, std::size_t first) {
  std::string sql = "CASE " + std::string(key_column);
  for (std::size_t r = 0; r < rows; ++r) {
    sql += " WHEN " + Placeholder(dialect, key_type, first + 2 * r) + " THEN " +
           Placeholder(dialect, value_type, first + 2 * r + 1);
  }
  sql += " END";
  return sql;
}

std::string UpsertClause(Dialect dialect, std::string_view key_columns,
                         std::span<const UpsertColumn> merges) {
  std::string sql = dialect == Dialect::kMySql
                        ? std::string("ON DUPLICATE KEY UPDATE ")
                        : "ON CONFLICT(" + std::string(key_columns) + ") DO UPDATE SET ";
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const std::string column(merges[i].column);
    // VALUES(c) is deprecated in MySQL 8.0.20+ but still works; MariaDB has nothing else.
    const std::string incoming =
        dialect == Dialect::kMySql ? "VALUES(" + column + ")" : "excluded." + column;
    if (i != 0) sql += ", ";
    sql += column + " = ";
    switch (merges[i].merge) {
      case Merge::kAdd:
        sql += column + " + " + incoming;
        break;
      case Merge::kMax:
        sql += (dialect == Dialect::kMySql ? "GREATEST(" : "MAX(") + column + ", " + incoming + ")";
        break;
    }
  }
  return sql;
}

std::string_view ForUpdate(Dialect dialect) {
  return dialect == Dialect::kMySql ? " FOR UPDATE" : "";
}

std::vector<std::size_t> PlanChunks(std::span<const std::size_t> row_bytes, std::size_t max_bytes) {
  std::vector<std::size_t> chunks;
  std::size_t i = 0;
  auto fits = [&](std::size_t rows) {
    std::size_t bytes = 0;
    for (std::size_t k = i; k < i + rows && bytes <= max_bytes; ++k) bytes += row_bytes[k];
    return bytes <= max_bytes;
  };
  while (i < row_bytes.size()) {
    const std::size_t remaining = row_bytes.size() - i;
    std::size_t take = 0;
    for (std::size_t size : kChunkRows) {
      if (size <= remaining && fits(size)) {
        take = size;
        break;
      }
    }
    if (take == 0) {  // the remainder, or smaller chunks of big rows
      take = std::min(remaining, kMaxRemainderRows);
      while (take > 1 && !fits(take)) --take;
    }
    chunks.push_back(take);
    i += take;
  }
  return chunks;
}

}  // namespace sparrow::offline
