// A thin RAII layer over the SQLite C API for `SqliteStore`: one connection, statements prepared
// once and cached, SQLite result codes turned into `Status` (SQLITE_BUSY and SQLITE_FULL become
// `Unavailable`, everything else `Internal`).
//
// Not thread-safe: the owner serializes every use (SqliteStore holds its mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace skiff::store {

class SqliteDb;

// A cached prepared statement borrowed for one use: bind, step, read columns. It is reset and
// its bindings cleared when the `SqliteStmt` goes out of scope. Text passed to `Bind` is NOT
// copied (no 2 KB memcpy per write): it must stay alive until the last `Step`.
class SqliteStmt {
 public:
  SqliteStmt(SqliteDb* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~SqliteStmt();
  SqliteStmt(SqliteStmt&& other) noexcept;
  SqliteStmt& operator=(SqliteStmt&&) = delete;
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;

  // Parameters are 1-based, as in SQL's ?1, ?2.
  SqliteStmt& Bind(int index, int64_t value);
  SqliteStmt& Bind(int index, std::string_view text);

  // Advances to the next row: true if there is one, false when done.
  Result<bool> Step();
  // Runs a statement that returns no rows.
  Status Run();

  // Columns are 0-based. Text views are valid until the next `Step` or the end of this object.
  int64_t ColumnInt(int col) const;
  std::string_view ColumnText(int col) const;

  // The extended result code of the last failed `Step` (e.g. SQLITE_CONSTRAINT_PRIMARYKEY).
  int last_error() const { return last_error_; }

 private:
  SqliteDb* db_;
  sqlite3_stmt* stmt_;
  int bind_error_ = 0;
  int last_error_ = 0;
};

class SqliteDb {
 public:
  // Opens (creating if needed) the database file and sets `busy_timeout`.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path, int busy_timeout_ms);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements that return no rows (DDL, PRAGMAs). Not cached.
  Status Exec(std::string_view sql);
  // The first column of the first row of `sql` (e.g. "PRAGMA user_version"). Not cached.
  Result<std::string> QueryText(std::string_view sql);

  // `sql` must be a string literal, or text that outlives this SqliteDb and never changes: the
  // cache is keyed by its address, so that a hot statement costs a hash of one pointer.
  Result<SqliteStmt> Prepare(const char* sql);
  // For statements built at run time: cached by their text.
  Result<SqliteStmt> PrepareText(const std::string& sql);

  // A `Status` for SQLite result code `rc`, with this connection's error message.
  Status Error(int rc, std::string_view context) const;

  const std::string& path() const { return path_; }
  // sqlite3_last_insert_rowid: the rowid of this connection's latest successful INSERT.
  int64_t LastInsertRowId() const;
  // True between BEGIN and COMMIT/ROLLBACK (SQLite may also roll back by itself on some errors).
  bool InTransaction() const;

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::string path_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
  std::unordered_map<std::string, sqlite3_stmt*> text_cache_;
};

}  // namespace skiff::store
