#include "store/sqlite_db.h"

#include <sqlite3.h>

namespace skiff::store {

SqliteStmt::SqliteStmt(SqliteStmt&& other) noexcept
    : db_(other.db_),
      stmt_(other.stmt_),
      bind_error_(other.bind_error_),
      last_error_(other.last_error_) {
  other.stmt_ = nullptr;
}

SqliteStmt::~SqliteStmt() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

SqliteStmt& SqliteStmt::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

SqliteStmt& SqliteStmt::Bind(int index, std::string_view text) {
  // A zero-length text still needs a non-null pointer, or SQLite binds NULL.
  const char* data = text.data() != nullptr ? text.data() : "";
  int rc = sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_STATIC, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
  return *this;
}

Result<bool> SqliteStmt::Step() {
  if (bind_error_ != 0) return db_->Error(bind_error_, "bind");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  last_error_ = sqlite3_extended_errcode(sqlite3_db_handle(stmt_));
  return db_->Error(rc, sqlite3_sql(stmt_));
}

Status SqliteStmt::Run() {
  for (;;) {
    SKIFF_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return OkStatus();
  }
}

int64_t SqliteStmt::ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string_view SqliteStmt::ColumnText(int col) const {
  const unsigned char* text = sqlite3_column_text(stmt_, col);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text),
          static_cast<size_t>(sqlite3_column_bytes(stmt_, col))};
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  // NOMUTEX: the owner serializes access, so SQLite's own per-connection mutex is redundant.
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return Unavailable("open " + path + ": " + msg);
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw, path));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  return db;
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  for (auto& [sql, stmt] : text_cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status SqliteDb::Exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return OkStatus();
  std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  Status st = Error(rc, text);
  return Status(st.code(), path_ + ": " + msg + " (in: " + text + ")");
}

Result<std::string> SqliteDb::QueryText(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc, sql);
  rc = sqlite3_step(stmt);
  std::string out;
  if (rc == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    if (text != nullptr) out = reinterpret_cast<const char*>(text);
  }
  Status st = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? OkStatus() : Error(rc, sql);
  sqlite3_finalize(stmt);
  if (!st.ok()) return st;
  return out;
}

Result<SqliteStmt> SqliteDb::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return SqliteStmt(this, it->second);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc, sql);
  cache_.emplace(sql, stmt);
  return SqliteStmt(this, stmt);
}

Result<SqliteStmt> SqliteDb::PrepareText(const std::string& sql) {
  auto it = text_cache_.find(sql);
  if (it != text_cache_.end()) return SqliteStmt(this, it->second);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc, sql);
  text_cache_.emplace(sql, stmt);
  return SqliteStmt(this, stmt);
}

bool SqliteDb::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

int64_t SqliteDb::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }

Status SqliteDb::Error(int rc, std::string_view context) const {
  int primary = rc & 0xff;
  std::string msg = path_ + ": " + sqlite3_errmsg(db_);
  if (!context.empty()) msg += " (in: " + std::string(context) + ")";
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return Unavailable(path_ + ": database is locked (another process holds it too long)");
  }
  if (primary == SQLITE_FULL) return Unavailable(msg);
  if (primary == SQLITE_CONSTRAINT) return AlreadyExists(msg);
  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) return FailedPrecondition(msg);
  return Internal(msg);
}

}  // namespace skiff::store
