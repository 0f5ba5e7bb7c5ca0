// `LineageDb` on SQLite: one connection, statements cached by the address of their text.
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "metadata/lineage_db.h"
#include "store/sqlite_db.h"

namespace skiff::metadata {

namespace {

// Schema version 2 (1 had no metrics; every statement is idempotent, so 1 migrates by
// running it again). Natural keys make every write an idempotent upsert.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS types (
  id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, name TEXT NOT NULL, UNIQUE (kind, name));
CREATE TABLE IF NOT EXISTS artifacts (
  id INTEGER PRIMARY KEY, ns TEXT NOT NULL, akey TEXT NOT NULL, type_id INTEGER NOT NULL,
  name TEXT NOT NULL, uri TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL,
  state TEXT NOT NULL, properties TEXT NOT NULL, created_ms INTEGER NOT NULL,
  UNIQUE (ns, akey));
CREATE INDEX IF NOT EXISTS artifacts_by_type ON artifacts (ns, type_id);
DROP INDEX IF EXISTS artifacts_by_digest;  -- digests are looked up by (ns, akey), which is the digest
CREATE TABLE IF NOT EXISTS executions (
  id INTEGER PRIMARY KEY, ns TEXT NOT NULL, type_id INTEGER NOT NULL, name TEXT NOT NULL,
  state TEXT NOT NULL, properties TEXT NOT NULL, created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL, UNIQUE (ns, name));
CREATE TABLE IF NOT EXISTS contexts (
  id INTEGER PRIMARY KEY, ns TEXT NOT NULL, type_id INTEGER NOT NULL, name TEXT NOT NULL,
  properties TEXT NOT NULL, UNIQUE (ns, type_id, name));
CREATE TABLE IF NOT EXISTS events (
  execution_id INTEGER NOT NULL, artifact_id INTEGER NOT NULL, type INTEGER NOT NULL,
  path TEXT NOT NULL, ms INTEGER NOT NULL, PRIMARY KEY (execution_id, type, artifact_id, path));
CREATE INDEX IF NOT EXISTS events_by_artifact ON events (artifact_id, type);
CREATE TABLE IF NOT EXISTS attributions (
  context_id INTEGER NOT NULL, artifact_id INTEGER NOT NULL, PRIMARY KEY (context_id, artifact_id));
CREATE INDEX IF NOT EXISTS attributions_by_artifact ON attributions (artifact_id);
CREATE TABLE IF NOT EXISTS associations (
  context_id INTEGER NOT NULL, execution_id INTEGER NOT NULL, PRIMARY KEY (context_id, execution_id));
CREATE INDEX IF NOT EXISTS associations_by_execution ON associations (execution_id);
CREATE TABLE IF NOT EXISTS parent_contexts (
  child_id INTEGER NOT NULL, parent_id INTEGER NOT NULL, PRIMARY KEY (child_id, parent_id));
CREATE TABLE IF NOT EXISTS metrics (
  execution_id INTEGER NOT NULL, name TEXT NOT NULL, step INTEGER NOT NULL, ms INTEGER NOT NULL,
  value DOUBLE PRECISION NOT NULL, PRIMARY KEY (execution_id, name, step, ms));
PRAGMA user_version = 2;
)sql";

class SqliteRow : public SqlRow {
 public:
  explicit SqliteRow(const store::SqliteStmt& st) : st_(st) {}
  int64_t Int(int col) const override { return st_.ColumnInt(col); }
  std::string_view Text(int col) const override { return st_.ColumnText(col); }

 private:
  const store::SqliteStmt& st_;
};

class SqliteLineageDb : public LineageDb {
 public:
  explicit SqliteLineageDb(std::unique_ptr<store::SqliteDb> db) : db_(std::move(db)) {}

  Status Begin() override { return db_->Exec("BEGIN IMMEDIATE"); }
  Status Commit() override { return db_->Exec("COMMIT"); }
  void Rollback() override {
    if (db_->InTransaction()) db_->Exec("ROLLBACK").IgnoreError();
  }

  Status Run(const char* sql, const std::vector<SqlArg>& args, const RowFn& on_row) override {
    SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare(sql));
    BindAll(st, args);
    SqliteRow row(st);
    for (;;) {
      SKIFF_ASSIGN_OR_RETURN(bool more, st.Step());
      if (!more) break;
      if (on_row) on_row(row);
    }
    return OkStatus();
  }

  // SQLite builds a RETURNING result through a temporary table, which made inserting an
  // execution 3.4x as dear as the insert itself. A new row's id is last_insert_rowid(); only
  // when the upsert updated a row that was there (the id did not move) is it run again with
  // RETURNING, which the upserts allow: they are idempotent.
  Result<int64_t> InsertReturningId(const char* sql, const std::vector<SqlArg>& args) override {
    auto it = without_returning_.find(sql);
    if (it == without_returning_.end()) {
      constexpr std::string_view kSuffix = " RETURNING id";
      std::string_view text(sql);
      if (text.size() < kSuffix.size() || text.substr(text.size() - kSuffix.size()) != kSuffix) {
        return LineageDb::InsertReturningId(sql, args);
      }
      it = without_returning_.emplace(sql, std::string(text.substr(0, text.size() - kSuffix.size()))).first;
    }
    {
      // The stripped text lives in the map's node, which never moves and outlives `db_`: its
      // address can key the statement cache as a literal's does.
      SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare(it->second.c_str()));
      BindAll(st, args);
      const int64_t before = db_->LastInsertRowId();
      SKIFF_RETURN_IF_ERROR(st.Run());
      const int64_t after = db_->LastInsertRowId();
      if (after != before) return after;
    }
    return LineageDb::InsertReturningId(sql, args);
  }

 private:
  static void BindAll(store::SqliteStmt& st, const std::vector<SqlArg>& args) {
    for (size_t i = 0; i < args.size(); ++i) {
      int index = static_cast<int>(i) + 1;
      if (args[i].is_int) {
        st.Bind(index, args[i].i);
      } else {
        st.Bind(index, args[i].s);
      }
    }
  }

  // Before `db_`, so that it outlives the statement cache keyed by its strings' addresses.
  std::unordered_map<const char*, std::string> without_returning_;  // by the literal's address
  std::unique_ptr<store::SqliteDb> db_;
};

}  // namespace

Result<std::unique_ptr<LineageDb>> OpenSqliteLineageDb(const std::string& path) {
  SKIFF_ASSIGN_OR_RETURN(auto db, store::SqliteDb::Open(path, 10000));
  // Content digests are random keys: index inserts land all over the B-trees, so a page cache
  // of SQLite's default 2 MB turns a batch into thousands of reads (64 MB here).
  SKIFF_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;"));
  SKIFF_ASSIGN_OR_RETURN(std::string version, db->QueryText("PRAGMA user_version"));
  if (version != "0" && version != "1" && version != "2") {
    return FailedPrecondition(path + ": lineage schema version " + version + " is newer than this skiff");
  }
  if (version != "2") SKIFF_RETURN_IF_ERROR(db->Exec(kSchema));
  return std::unique_ptr<LineageDb>(new SqliteLineageDb(std::move(db)));
}

}  // namespace skiff::metadata
