// `LineageDb` on PostgreSQL: the lineage tables beside the resource store's, in a schema of
// their own (`<schema>_lineage`, so their names never meet the store's), with the shared SQL
// rewritten once per statement: `?N` -> `$N`, `json_each(?N)` -> `json_array_elements_text`.
#include <algorithm>
#include <cctype>
#include <memory>
#include <regex>
#include <string_view>
#include <unordered_map>

#include "metadata/lineage_db.h"
#include "store/postgres_db.h"

namespace skiff::metadata {

namespace {

// The same shape as the SQLite schema (lineage_sqlite.cc), with PostgreSQL's types.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS types (
  id BIGSERIAL PRIMARY KEY, kind INTEGER NOT NULL, name TEXT NOT NULL, UNIQUE (kind, name));
CREATE TABLE IF NOT EXISTS artifacts (
  id BIGSERIAL PRIMARY KEY, ns TEXT NOT NULL, akey TEXT NOT NULL, type_id BIGINT NOT NULL,
  name TEXT NOT NULL, uri TEXT NOT NULL, digest TEXT NOT NULL, size BIGINT NOT NULL,
  state TEXT NOT NULL, properties TEXT NOT NULL, created_ms BIGINT NOT NULL,
  UNIQUE (ns, akey));
CREATE INDEX IF NOT EXISTS artifacts_by_type ON artifacts (ns, type_id);
DROP INDEX IF EXISTS artifacts_by_digest;  -- digests are looked up by (ns, akey), which is the digest
CREATE TABLE IF NOT EXISTS executions (
  id BIGSERIAL PRIMARY KEY, ns TEXT NOT NULL, type_id BIGINT NOT NULL, name TEXT NOT NULL,
  state TEXT NOT NULL, properties TEXT NOT NULL, created_ms BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL, UNIQUE (ns, name));
CREATE TABLE IF NOT EXISTS contexts (
  id BIGSERIAL PRIMARY KEY, ns TEXT NOT NULL, type_id BIGINT NOT NULL, name TEXT NOT NULL,
  properties TEXT NOT NULL, UNIQUE (ns, type_id, name));
CREATE TABLE IF NOT EXISTS events (
  execution_id BIGINT NOT NULL, artifact_id BIGINT NOT NULL, type INTEGER NOT NULL,
  path TEXT NOT NULL, ms BIGINT NOT NULL, PRIMARY KEY (execution_id, type, artifact_id, path));
CREATE INDEX IF NOT EXISTS events_by_artifact ON events (artifact_id, type);
CREATE TABLE IF NOT EXISTS attributions (
  context_id BIGINT NOT NULL, artifact_id BIGINT NOT NULL, PRIMARY KEY (context_id, artifact_id));
CREATE INDEX IF NOT EXISTS attributions_by_artifact ON attributions (artifact_id);
CREATE TABLE IF NOT EXISTS associations (
  context_id BIGINT NOT NULL, execution_id BIGINT NOT NULL, PRIMARY KEY (context_id, execution_id));
CREATE INDEX IF NOT EXISTS associations_by_execution ON associations (execution_id);
CREATE TABLE IF NOT EXISTS parent_contexts (
  child_id BIGINT NOT NULL, parent_id BIGINT NOT NULL, PRIMARY KEY (child_id, parent_id));
CREATE TABLE IF NOT EXISTS metrics (
  execution_id BIGINT NOT NULL, name TEXT NOT NULL, step BIGINT NOT NULL, ms BIGINT NOT NULL,
  value DOUBLE PRECISION NOT NULL, PRIMARY KEY (execution_id, name, step, ms));
)sql";

class PgRow : public SqlRow {
 public:
  PgRow(const store::PgResult& res, int row) : res_(res), row_(row) {}
  int64_t Int(int col) const override { return res_.Int(row_, col); }
  std::string_view Text(int col) const override { return res_.IsNull(row_, col) ? "" : res_.Text(row_, col); }

 private:
  const store::PgResult& res_;
  int row_;
};

// A SQL literal for `s` that means the same whatever `standard_conforming_strings` says:
// E'...' with quotes and backslashes doubled.
std::string QuoteLiteral(std::string_view s) {
  std::string out = "E'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out.push_back(c);
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

// Deferred statements sent in one round trip at most this many at a time.
constexpr size_t kMaxDeferred = 512;
// Rows written between the store's own ANALYZE runs (see `Commit`).
constexpr int64_t kAnalyzeEvery = 20000;

// Thread-compatible (the `LineageStore` serializes every use).
//
// Round trips dominate writes on PostgreSQL (one per statement, ~0.2 ms on loopback): inside a
// transaction, statements whose results nobody reads (the link tables: events, attributions,
// associations, parent contexts, metrics) are kept and sent together, several statements in
// one simple query, before the next statement that reads (a SELECT), at commit, or when
// `kMaxDeferred` are waiting. Upserts that return ids (`INSERT ... RETURNING`) touch only the
// entity tables, never the link tables, so they need not wait for them. An error in a deferred
// statement surfaces at the flush and fails the transaction, as it would have failed it then.
class PostgresLineageDb : public LineageDb {
 public:
  explicit PostgresLineageDb(std::unique_ptr<store::PostgresDb> db) : db_(std::move(db)) {}

  Status Begin() override {
    deferred_.clear();
    deferred_count_ = 0;
    SKIFF_RETURN_IF_ERROR(db_->EnsureConnected());
    return db_->Exec("BEGIN").status();
  }
  Status Commit() override {
    SKIFF_RETURN_IF_ERROR(Flush());
    SKIFF_RETURN_IF_ERROR(db_->Exec("COMMIT").status());
    // A bulk load (a catch-up, a large pipeline) outruns autovacuum's next look at the tables
    // by up to a minute, and until then the planner walks a 100,000-node graph with the
    // statistics of an empty one (seq scans: 5-30 ms a query instead of 0.5). Refresh them
    // after every `kAnalyzeEvery` rows; it samples, so it stays cheap as the tables grow.
    if (written_since_analyze_ >= kAnalyzeEvery) {
      written_since_analyze_ = 0;
      db_->Exec("ANALYZE artifacts, executions, contexts, events, attributions, associations, parent_contexts, metrics")
          .status()
          .IgnoreError();  // statistics only: a failure costs speed, not correctness
    }
    return OkStatus();
  }
  void Rollback() override {
    deferred_.clear();
    deferred_count_ = 0;
    if (db_->InTransaction()) db_->Exec("ROLLBACK").status().IgnoreError();
  }

  Status Run(const char* sql, const std::vector<SqlArg>& args, const RowFn& on_row) override {
    if (!db_->InTransaction()) SKIFF_RETURN_IF_ERROR(db_->EnsureConnected());
    bool insert = std::string_view(sql).rfind("INSERT ", 0) == 0;
    if (insert) ++written_since_analyze_;
    if (!on_row && insert && db_->InTransaction()) {
      deferred_ += Inline(sql, args);
      deferred_ += ";\n";
      if (++deferred_count_ >= kMaxDeferred) return Flush();
      return OkStatus();
    }
    if (!insert) SKIFF_RETURN_IF_ERROR(Flush());  // a read sees every write before it
    const std::string& text = Translate(sql);
    std::vector<std::string> owned;  // PgParams keeps pointers: the strings must stay put
    owned.reserve(args.size());
    store::PgParams params;
    for (const auto& a : args) owned.push_back(a.is_int ? std::to_string(a.i) : std::string(a.s));
    for (const auto& o : owned) params.Add(o);
    SKIFF_ASSIGN_OR_RETURN(store::PgResult res, db_->Query(text, params));
    if (on_row) {
      for (int r = 0; r < res.rows(); ++r) on_row(PgRow(res, r));
    }
    return OkStatus();
  }

 private:
  const std::string& Translate(const char* sql) {
    auto it = translated_.find(sql);
    if (it != translated_.end()) return it->second;
    static const std::regex kIds(R"(SELECT value FROM json_each\(\?(\d+)\))");
    static const std::regex kParam(R"(\?(\d+))");
    std::string s = std::regex_replace(sql, kIds, "SELECT value::bigint FROM json_array_elements_text(?$1::json) AS t(value)");
    s = std::regex_replace(s, kParam, "$$$1");
    return translated_.emplace(sql, std::move(s)).first->second;
  }

  // `sql` with its `?N` placeholders replaced by the literal arguments.
  static std::string Inline(const char* sql, const std::vector<SqlArg>& args) {
    std::string out;
    for (const char* p = sql; *p != '\0'; ++p) {
      if (*p != '?' || !std::isdigit(static_cast<unsigned char>(p[1]))) {
        out.push_back(*p);
        continue;
      }
      size_t n = 0;
      while (std::isdigit(static_cast<unsigned char>(p[1]))) n = n * 10 + static_cast<size_t>(*++p - '0');
      const SqlArg& a = args.at(n - 1);
      out += a.is_int ? std::to_string(a.i) : QuoteLiteral(a.s);
    }
    return out;
  }

  Status Flush() {
    if (deferred_.empty()) return OkStatus();
    std::string batch = std::move(deferred_);
    deferred_.clear();
    deferred_count_ = 0;
    return db_->Exec(batch).status();
  }

  std::unique_ptr<store::PostgresDb> db_;
  std::unordered_map<const char*, std::string> translated_;
  std::string deferred_;  // statements waiting for `Flush`, each ending in ";\n"
  size_t deferred_count_ = 0;
  int64_t written_since_analyze_ = 0;
};

bool PlainIdentifier(const std::string& s) {
  if (s.empty() || s.size() > 55 || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

Result<std::unique_ptr<LineageDb>> OpenPostgresLineageDb(const std::string& url) {
  // `?schema=NAME` is ours (as for the resource store): libpq must not see it.
  std::string conninfo = url, schema = "skiff";
  if (size_t q = url.find('?'); q != std::string::npos) {
    conninfo = url.substr(0, q);
    std::string kept, rest = url.substr(q + 1);
    size_t start = 0;
    while (start <= rest.size()) {
      size_t amp = rest.find('&', start);
      std::string param = rest.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      if (param.rfind("schema=", 0) == 0) {
        schema = param.substr(7);
      } else if (!param.empty()) {
        kept += (kept.empty() ? "?" : "&") + param;
      }
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
    conninfo += kept;
  }
  if (!PlainIdentifier(schema)) {
    return InvalidArgument("postgres URL: schema \"" + schema +
                           "\": must be at most 55 letters, digits and _ (not starting with a digit)");
  }
  std::string lineage_schema = schema + "_lineage";
  SKIFF_ASSIGN_OR_RETURN(auto db, store::PostgresDb::Connect(conninfo, "SET search_path TO \"" + lineage_schema + "\""));
  // Serialized across processes: concurrent CREATE ... IF NOT EXISTS can still collide.
  SKIFF_RETURN_IF_ERROR(db->Exec("SELECT pg_advisory_lock(7340213)").status());
  Status s = db->Exec("CREATE SCHEMA IF NOT EXISTS \"" + lineage_schema + "\"").status();
  if (s.ok()) s = db->Exec(kSchema).status();
  db->Exec("SELECT pg_advisory_unlock(7340213)").status().IgnoreError();
  SKIFF_RETURN_IF_ERROR(s);
  return std::unique_ptr<LineageDb>(new PostgresLineageDb(std::move(db)));
}

}  // namespace skiff::metadata
