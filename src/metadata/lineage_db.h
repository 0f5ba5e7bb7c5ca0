// The database under a `LineageStore`: the few operations its SQL needs, so that one store
// (lineage.cc) runs on SQLite (lineage_sqlite.cc) and PostgreSQL (lineage_postgres.cc).
//
// Statements are written once, in the dialect both accept, with `?N` placeholders; a backend
// rewrites what differs (PostgreSQL: `$N`, and `SELECT value FROM json_each(?N)` for an id list
// passed as a JSON array). Arguments are integers or text; results are read as either.
//
// Not thread-safe: the `LineageStore` serializes every use.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skiff::metadata {

struct SqlArg {
  SqlArg(int64_t v) : is_int(true), i(v) {}            // NOLINT(google-explicit-constructor)
  SqlArg(int v) : is_int(true), i(v) {}                // NOLINT(google-explicit-constructor)
  SqlArg(std::string_view v) : s(v) {}                 // NOLINT(google-explicit-constructor)
  SqlArg(const std::string& v) : s(v) {}               // NOLINT(google-explicit-constructor)
  SqlArg(const char* v) = delete;                      // a literal would be ambiguous in meaning
  bool is_int = false;
  int64_t i = 0;
  std::string_view s;  // must outlive the statement
};

class SqlRow {
 public:
  virtual ~SqlRow() = default;
  virtual int64_t Int(int col) const = 0;
  virtual std::string_view Text(int col) const = 0;  // valid during the row callback
};

class LineageDb {
 public:
  using RowFn = std::function<void(const SqlRow&)>;
  virtual ~LineageDb() = default;

  virtual Status Begin() = 0;  // a write transaction
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
  // Runs one statement; `on_row` gets each row. `sql` must be a string literal (backends cache
  // what they prepare by its address).
  virtual Status Run(const char* sql, const std::vector<SqlArg>& args, const RowFn& on_row = nullptr) = 0;
  // Runs an idempotent upsert written `INSERT ... RETURNING id` (a string literal) and returns
  // the row's id. The default runs it as written; SQLite's skips RETURNING for new rows.
  virtual Result<int64_t> InsertReturningId(const char* sql, const std::vector<SqlArg>& args);
};

// `<path>` as a SQLite database (WAL), created and migrated.
Result<std::unique_ptr<LineageDb>> OpenSqliteLineageDb(const std::string& path);
// The lineage tables of the PostgreSQL database at `url` (`postgresql://...`, optionally
// `?schema=NAME`): they live beside the resource store's tables, in the schema
// `<NAME or public>_lineage`, created and migrated.
Result<std::unique_ptr<LineageDb>> OpenPostgresLineageDb(const std::string& url);

}  // namespace skiff::metadata
