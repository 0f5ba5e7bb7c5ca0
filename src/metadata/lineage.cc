#include "metadata/lineage.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <unordered_map>

#include "store/sqlite_db.h"

namespace skiff::metadata {

namespace {

constexpr int kArtifactType = 0, kExecutionType = 1, kContextType = 2;
constexpr int kInput = 1, kOutput = 2;

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
CREATE INDEX IF NOT EXISTS artifacts_by_digest ON artifacts (digest);
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
  value REAL NOT NULL, PRIMARY KEY (execution_id, name, step, ms));
PRAGMA user_version = 2;
)sql";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A JSON array of ids, bound to `json_each(?)` so that statements stay static (and cached).
std::string IdList(const std::set<int64_t>& ids) {
  std::string out = "[";
  for (int64_t id : ids) out += (out.size() > 1 ? "," : "") + std::to_string(id);
  return out + "]";
}

Json ParseProps(std::string_view text) {
  auto j = ParseJson(text);
  return j.ok() && j->is_object() ? *j : Json::object();
}

}  // namespace

Json ArtifactRecord::ToJson() const {
  return {{"id", id}, {"namespace", ns}, {"type", type}, {"name", name}, {"uri", uri},
          {"digest", digest}, {"size", size}, {"state", state}, {"properties", properties}};
}

Json ExecutionRecord::ToJson() const {
  return {{"id", id}, {"namespace", ns}, {"type", type}, {"name", name}, {"state", state},
          {"properties", properties}, {"createdMs", created_ms}, {"updatedMs", updated_ms}};
}

Json ContextRecord::ToJson() const {
  Json j = {{"id", id}, {"namespace", ns}, {"type", type}, {"name", name}, {"properties", properties}};
  if (!parent_name.empty()) j["parent"] = parent_type + "/" + parent_name;
  return j;
}

Json LineageGraph::ToJson() const {
  Json a = Json::array(), e = Json::array(), ed = Json::array();
  for (const auto& x : artifacts) a.push_back(x.ToJson());
  for (const auto& x : executions) e.push_back(x.ToJson());
  for (const auto& x : edges) {
    ed.push_back({{"execution", x.execution_id}, {"artifact", x.artifact_id}, {"type", x.type}, {"path", x.path}});
  }
  return {{"artifacts", a}, {"executions", e}, {"events", ed}};
}

LineageStore::LineageStore(std::unique_ptr<store::SqliteDb> db) : db_(std::move(db)) {}
LineageStore::~LineageStore() = default;

Result<std::unique_ptr<LineageStore>> LineageStore::Open(const std::string& path) {
  SKIFF_ASSIGN_OR_RETURN(auto db, store::SqliteDb::Open(path, 10000));
  SKIFF_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"));
  SKIFF_ASSIGN_OR_RETURN(std::string version, db->QueryText("PRAGMA user_version"));
  if (version != "0" && version != "1" && version != "2") {
    return FailedPrecondition(path + ": lineage schema version " + version + " is newer than this skiff");
  }
  if (version != "2") SKIFF_RETURN_IF_ERROR(db->Exec(kSchema));
  return std::unique_ptr<LineageStore>(new LineageStore(std::move(db)));
}

Result<int64_t> LineageStore::TypeId(int kind, const std::string& name) {
  // A handful of types serve every write: look them up once. Ids learnt inside a transaction
  // count only once it commits (a rolled-back insert leaves no row behind).
  auto key = std::make_pair(kind, name);
  if (auto it = type_ids_.find(key); it != type_ids_.end()) return it->second;
  if (auto it = pending_type_ids_.find(key); it != pending_type_ids_.end()) return it->second;
  SKIFF_ASSIGN_OR_RETURN(auto ins, db_->Prepare(
      "INSERT INTO types (kind, name) VALUES (?1, ?2) ON CONFLICT (kind, name) DO UPDATE SET name = name "
      "RETURNING id"));
  ins.Bind(1, static_cast<int64_t>(kind)).Bind(2, name);
  SKIFF_ASSIGN_OR_RETURN(bool row, ins.Step());
  if (!row) return Internal("type upsert returned no id");
  int64_t id = ins.ColumnInt(0);
  pending_type_ids_[key] = id;
  return id;
}

Result<int64_t> LineageStore::UpsertArtifact(const ArtifactRecord& a) {
  SKIFF_ASSIGN_OR_RETURN(int64_t type_id, TypeId(kArtifactType, a.type.empty() ? "Artifact" : a.type));
  std::string akey = a.digest.empty() ? "uri:" + a.uri : a.digest;
  std::string props = a.properties.dump();
  SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "INSERT INTO artifacts (ns, akey, type_id, name, uri, digest, size, state, properties, created_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (ns, akey) DO UPDATE SET "
      "state = excluded.state, size = excluded.size, "
      "name = CASE WHEN artifacts.name = '' THEN excluded.name ELSE artifacts.name END "
      "RETURNING id"));
  st.Bind(1, a.ns).Bind(2, akey).Bind(3, type_id).Bind(4, a.name).Bind(5, a.uri).Bind(6, a.digest)
      .Bind(7, a.size).Bind(8, a.state).Bind(9, props).Bind(10, NowMs());
  SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Internal("artifact upsert returned no id");
  return st.ColumnInt(0);
}

Result<int64_t> LineageStore::UpsertContext(const ContextRecord& c) {
  SKIFF_ASSIGN_OR_RETURN(int64_t type_id, TypeId(kContextType, c.type));
  std::string props = c.properties.dump();
  SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "INSERT INTO contexts (ns, type_id, name, properties) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (ns, type_id, name) DO UPDATE SET properties = excluded.properties RETURNING id"));
  st.Bind(1, c.ns).Bind(2, type_id).Bind(3, c.name).Bind(4, props);
  SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return Internal("context upsert returned no id");
  return st.ColumnInt(0);
}

Status LineageStore::Record(const std::vector<ExecutionWrite>& batch) {
  std::lock_guard<std::mutex> l(mu_);
  SKIFF_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> Status {
    int64_t now = NowMs();
    for (const auto& w : batch) {
      const ExecutionRecord& e = w.execution;
      if (e.name.empty()) return InvalidArgument("execution.name: required");
      SKIFF_ASSIGN_OR_RETURN(int64_t type_id, TypeId(kExecutionType, e.type.empty() ? "Execution" : e.type));
      std::string props = e.properties.dump();
      SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare(
          "INSERT INTO executions (ns, type_id, name, state, properties, created_ms, updated_ms) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (ns, name) DO UPDATE SET "
          "state = excluded.state, properties = excluded.properties, updated_ms = excluded.updated_ms, "
          "type_id = excluded.type_id RETURNING id"));
      st.Bind(1, e.ns).Bind(2, type_id).Bind(3, e.name).Bind(4, e.state).Bind(5, props)
          .Bind(6, e.created_ms > 0 ? e.created_ms : now);
      SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return Internal("execution upsert returned no id");
      int64_t exec_id = st.ColumnInt(0);
      SKIFF_RETURN_IF_ERROR(WriteLinks(w, exec_id, now));
    }
    return OkStatus();
  };
  Status s = body();
  if (s.ok()) s = db_->Exec("COMMIT");
  if (!s.ok()) {
    if (db_->InTransaction()) db_->Exec("ROLLBACK").IgnoreError();
    pending_type_ids_.clear();
    return s;
  }
  type_ids_.merge(pending_type_ids_);
  pending_type_ids_.clear();
  return OkStatus();
}

Status LineageStore::WriteLinks(const ExecutionWrite& w, int64_t exec_id, int64_t now) {
  std::vector<int64_t> context_ids;
  for (const auto& c : w.contexts) {
    SKIFF_ASSIGN_OR_RETURN(int64_t cid, UpsertContext(c));
    context_ids.push_back(cid);
    if (!c.parent_name.empty()) {
      ContextRecord parent{0, c.ns, c.parent_type, c.parent_name, Json::object(), "", ""};
      SKIFF_ASSIGN_OR_RETURN(int64_t pid, UpsertContext(parent));
      SKIFF_ASSIGN_OR_RETURN(auto pc, db_->Prepare(
          "INSERT OR IGNORE INTO parent_contexts (child_id, parent_id) VALUES (?1, ?2)"));
      SKIFF_RETURN_IF_ERROR(pc.Bind(1, cid).Bind(2, pid).Run());
    }
    SKIFF_ASSIGN_OR_RETURN(auto as, db_->Prepare(
        "INSERT OR IGNORE INTO associations (context_id, execution_id) VALUES (?1, ?2)"));
    SKIFF_RETURN_IF_ERROR(as.Bind(1, cid).Bind(2, exec_id).Run());
  }
  for (int type : {kInput, kOutput}) {
    for (const auto& [artifact, path] : type == kInput ? w.inputs : w.outputs) {
      SKIFF_ASSIGN_OR_RETURN(int64_t aid, UpsertArtifact(artifact));
      SKIFF_ASSIGN_OR_RETURN(auto ev, db_->Prepare(
          "INSERT OR IGNORE INTO events (execution_id, artifact_id, type, path, ms) VALUES (?1, ?2, ?3, ?4, ?5)"));
      SKIFF_RETURN_IF_ERROR(ev.Bind(1, exec_id).Bind(2, aid).Bind(3, static_cast<int64_t>(type))
                                .Bind(4, path).Bind(5, now).Run());
      for (int64_t cid : context_ids) {
        SKIFF_ASSIGN_OR_RETURN(auto at, db_->Prepare(
            "INSERT OR IGNORE INTO attributions (context_id, artifact_id) VALUES (?1, ?2)"));
        SKIFF_RETURN_IF_ERROR(at.Bind(1, cid).Bind(2, aid).Run());
      }
    }
  }
  for (const auto& m : w.metrics) {
    if (m.name.empty()) return InvalidArgument("metrics[].name: required");
    if (!std::isfinite(m.value)) return InvalidArgument("metrics." + m.name + ": not a finite number");
    // Values travel as text (%.17g round-trips a double) and SQLite stores them as REAL.
    char value[40];
    std::snprintf(value, sizeof value, "%.17g", m.value);
    SKIFF_ASSIGN_OR_RETURN(auto mt, db_->Prepare(
        "INSERT INTO metrics (execution_id, name, step, ms, value) VALUES (?1, ?2, ?3, ?4, CAST(?5 AS REAL)) "
        "ON CONFLICT (execution_id, name, step, ms) DO UPDATE SET value = excluded.value"));
    SKIFF_RETURN_IF_ERROR(mt.Bind(1, exec_id).Bind(2, m.name).Bind(3, m.step).Bind(4, m.ms > 0 ? m.ms : now)
                              .Bind(5, std::string_view(value)).Run());
  }
  return OkStatus();
}

Status LineageStore::Log(const ExecutionWrite& w) {
  const ExecutionRecord& e = w.execution;
  if (e.name.empty()) return InvalidArgument("execution.name: required");
  std::lock_guard<std::mutex> l(mu_);
  SKIFF_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  auto body = [&]() -> Status {
    int64_t now = NowMs();
    SKIFF_ASSIGN_OR_RETURN(int64_t type_id, TypeId(kExecutionType, e.type.empty() ? "Execution" : e.type));
    std::string props = e.properties.dump();
    // An execution that exists keeps what its recorder wrote; only `updated_ms` moves.
    SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "INSERT INTO executions (ns, type_id, name, state, properties, created_ms, updated_ms) "
        "VALUES (?1, ?2, ?3, 'RUNNING', ?4, ?5, ?5) ON CONFLICT (ns, name) DO UPDATE SET "
        "updated_ms = excluded.updated_ms RETURNING id"));
    st.Bind(1, e.ns).Bind(2, type_id).Bind(3, e.name).Bind(4, props).Bind(5, now);
    SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Internal("execution upsert returned no id");
    int64_t exec_id = st.ColumnInt(0);
    return WriteLinks(w, exec_id, now);
  };
  Status s = body();
  if (s.ok()) s = db_->Exec("COMMIT");
  if (!s.ok()) {
    if (db_->InTransaction()) db_->Exec("ROLLBACK").IgnoreError();
    pending_type_ids_.clear();
    return s;
  }
  type_ids_.merge(pending_type_ids_);
  pending_type_ids_.clear();
  return OkStatus();
}

Result<std::vector<MetricRecord>> LineageStore::ExecutionMetrics(const std::string& ns, const std::string& execution) {
  std::lock_guard<std::mutex> l(mu_);
  SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT m.name, CAST(m.value AS TEXT), m.step, m.ms FROM metrics m JOIN executions e ON e.id = m.execution_id "
      "WHERE e.ns = ?1 AND e.name = ?2 ORDER BY m.ms, m.step, m.name"));
  st.Bind(1, ns).Bind(2, execution);
  std::vector<MetricRecord> out;
  for (;;) {
    SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    MetricRecord m;
    m.name = st.ColumnText(0);
    m.value = std::strtod(std::string(st.ColumnText(1)).c_str(), nullptr);
    m.step = st.ColumnInt(2);
    m.ms = st.ColumnInt(3);
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<std::pair<std::string, MetricRecord>>> LineageStore::ContextMetrics(const std::string& ns,
                                                                                     const std::string& context) {
  std::lock_guard<std::mutex> l(mu_);
  int64_t context_id = 0;
  if (!context.empty()) {
    SKIFF_ASSIGN_OR_RETURN(context_id, ContextId(ns, context));
  }
  SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT e.name, m.name, CAST(m.value AS TEXT), m.step, m.ms FROM metrics m "
      "JOIN executions e ON e.id = m.execution_id WHERE e.ns = ?1 "
      "AND (?2 = 0 OR e.id IN (SELECT execution_id FROM associations WHERE context_id = ?2)) "
      "ORDER BY e.id, m.ms, m.step, m.name"));
  st.Bind(1, ns).Bind(2, context_id);
  std::vector<std::pair<std::string, MetricRecord>> out;
  for (;;) {
    SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    MetricRecord m;
    m.name = st.ColumnText(1);
    m.value = std::strtod(std::string(st.ColumnText(2)).c_str(), nullptr);
    m.step = st.ColumnInt(3);
    m.ms = st.ColumnInt(4);
    out.emplace_back(std::string(st.ColumnText(0)), std::move(m));
  }
  return out;
}

Result<bool> LineageStore::HasExecution(const std::string& ns, const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT 1 FROM executions WHERE ns = ?1 AND name = ?2"));
  st.Bind(1, ns).Bind(2, name);
  return st.Step();
}

Result<std::vector<ArtifactRecord>> LineageStore::LoadArtifacts(const ArtifactFilter& f) {
  std::vector<ArtifactRecord> out;
  // One static statement for every filter combination: an empty filter matches everything.
  SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT a.id, a.ns, t.name, a.name, a.uri, a.digest, a.size, a.state, a.properties "
      "FROM artifacts a JOIN types t ON t.id = a.type_id WHERE "
      "(?1 = '' OR a.ns = ?1) AND (?2 = '' OR t.name = ?2) AND (?3 = '' OR a.digest = ?3) "
      "AND (?4 = 0 OR a.id IN (SELECT artifact_id FROM attributions WHERE context_id = ?4)) "
      "AND (?5 = '' OR a.id IN (SELECT value FROM json_each(?5))) ORDER BY a.id"));
  st.Bind(1, f.ns).Bind(2, f.type).Bind(3, f.digest).Bind(4, f.context_id).Bind(5, f.ids);
  for (;;) {
    SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    ArtifactRecord a;
    a.id = st.ColumnInt(0);
    a.ns = st.ColumnText(1);
    a.type = st.ColumnText(2);
    a.name = st.ColumnText(3);
    a.uri = st.ColumnText(4);
    a.digest = st.ColumnText(5);
    a.size = st.ColumnInt(6);
    a.state = st.ColumnText(7);
    a.properties = ParseProps(st.ColumnText(8));
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::vector<ExecutionRecord>> LineageStore::LoadExecutions(const ExecutionFilter& f) {
  std::vector<ExecutionRecord> out;
  SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT e.id, e.ns, t.name, e.name, e.state, e.properties, e.created_ms, e.updated_ms "
      "FROM executions e JOIN types t ON t.id = e.type_id WHERE "
      "(?1 = '' OR e.ns = ?1) AND (?2 = '' OR e.state = ?2) "
      "AND (?3 = 0 OR e.id IN (SELECT execution_id FROM associations WHERE context_id = ?3)) "
      "AND (?4 = '' OR e.id IN (SELECT value FROM json_each(?4))) ORDER BY e.id"));
  st.Bind(1, f.ns).Bind(2, f.state).Bind(3, f.context_id).Bind(4, f.ids);
  for (;;) {
    SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    ExecutionRecord e;
    e.id = st.ColumnInt(0);
    e.ns = st.ColumnText(1);
    e.type = st.ColumnText(2);
    e.name = st.ColumnText(3);
    e.state = st.ColumnText(4);
    e.properties = ParseProps(st.ColumnText(5));
    e.created_ms = st.ColumnInt(6);
    e.updated_ms = st.ColumnInt(7);
    out.push_back(std::move(e));
  }
  return out;
}

Result<int64_t> LineageStore::ContextId(const std::string& ns, const std::string& context) {
  size_t slash = context.find('/');
  std::string type = slash == std::string::npos ? "" : context.substr(0, slash);
  std::string name = slash == std::string::npos ? context : context.substr(slash + 1);
  SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT c.id FROM contexts c JOIN types t ON t.id = c.type_id "
      "WHERE c.ns = ?1 AND c.name = ?2 AND (?3 = '' OR t.name = ?3) ORDER BY c.id LIMIT 1"));
  st.Bind(1, ns).Bind(2, name).Bind(3, type);
  SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFound("context \"" + context + "\" not found in namespace " + ns);
  return st.ColumnInt(0);
}

Result<LineageGraph> LineageStore::Lineage(const LineageQuery& q) {
  std::lock_guard<std::mutex> l(mu_);
  std::set<int64_t> artifacts, executions, frontier_a, frontier_e;
  if (!q.execution_name.empty()) {
    SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT id FROM executions WHERE ns = ?1 AND name = ?2"));
    st.Bind(1, q.ns).Bind(2, q.execution_name);
    SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return NotFound("execution \"" + q.execution_name + "\" not found in namespace " + q.ns);
    frontier_e.insert(st.ColumnInt(0));
  } else if (q.artifact_id > 0) {
    frontier_a.insert(q.artifact_id);
  } else {
    SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT id FROM artifacts WHERE ns = ?1 AND digest = ?2"));
    std::string digest = q.digest.rfind("sha256:", 0) == 0 ? q.digest : "sha256:" + q.digest;
    st.Bind(1, q.ns).Bind(2, digest);
    for (;;) {
      SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      frontier_a.insert(st.ColumnInt(0));
    }
    if (frontier_a.empty()) return NotFound("artifact " + q.digest + " not found in namespace " + q.ns);
  }
  artifacts = frontier_a;
  executions = frontier_e;
  LineageGraph g;
  std::set<std::tuple<int64_t, int64_t, int, std::string>> seen_edges;
  auto walk = [&](bool up) -> Status {
    std::set<int64_t> fa = frontier_a, fe = frontier_e;
    for (int hop = 0; hop < q.max_hops && (!fa.empty() || !fe.empty()); ++hop) {
      std::set<int64_t> na, ne;
      // artifact -> executions: upstream, the ones that wrote it; downstream, the ones that read it.
      if (!fa.empty()) {
        SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare(
            "SELECT execution_id, artifact_id, path FROM events WHERE type = ?1 "
            "AND artifact_id IN (SELECT value FROM json_each(?2))"));
        std::string ids = IdList(fa);
        st.Bind(1, static_cast<int64_t>(up ? kOutput : kInput)).Bind(2, ids);
        for (;;) {
          SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
          if (!row) break;
          int64_t e = st.ColumnInt(0);
          seen_edges.insert({e, st.ColumnInt(1), up ? kOutput : kInput, std::string(st.ColumnText(2))});
          if (executions.insert(e).second) ne.insert(e);
        }
      }
      // execution -> artifacts: upstream, what it read; downstream, what it wrote.
      if (!fe.empty()) {
        SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare(
            "SELECT execution_id, artifact_id, path FROM events WHERE type = ?1 "
            "AND execution_id IN (SELECT value FROM json_each(?2))"));
        std::string ids = IdList(fe);
        st.Bind(1, static_cast<int64_t>(up ? kInput : kOutput)).Bind(2, ids);
        for (;;) {
          SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
          if (!row) break;
          int64_t a = st.ColumnInt(1);
          seen_edges.insert({st.ColumnInt(0), a, up ? kInput : kOutput, std::string(st.ColumnText(2))});
          if (artifacts.insert(a).second) na.insert(a);
        }
      }
      fa = std::move(na);
      fe = std::move(ne);
    }
    return OkStatus();
  };
  if (q.direction != Direction::kDownstream) SKIFF_RETURN_IF_ERROR(walk(true));
  if (q.direction != Direction::kUpstream) SKIFF_RETURN_IF_ERROR(walk(false));

  int64_t context_id = 0;
  if (!q.context.empty()) {
    SKIFF_ASSIGN_OR_RETURN(context_id, ContextId(q.ns, q.context));
  }
  if (!artifacts.empty()) {
    SKIFF_ASSIGN_OR_RETURN(g.artifacts, LoadArtifacts({"", q.artifact_type, "", context_id, IdList(artifacts)}));
  }
  if (!executions.empty()) {
    SKIFF_ASSIGN_OR_RETURN(g.executions, LoadExecutions({"", "", context_id, IdList(executions)}));
  }
  std::set<int64_t> kept_a, kept_e;
  for (const auto& a : g.artifacts) kept_a.insert(a.id);
  for (const auto& e : g.executions) kept_e.insert(e.id);
  for (const auto& [e, a, type, path] : seen_edges) {
    if (kept_a.count(a) && kept_e.count(e)) g.edges.push_back({e, a, type == kInput ? "INPUT" : "OUTPUT", path});
  }
  return g;
}

Result<std::vector<ArtifactRecord>> LineageStore::Artifacts(const std::string& ns, const std::string& type,
                                                            const std::string& context,
                                                            const std::string& digest) {
  std::lock_guard<std::mutex> l(mu_);
  int64_t context_id = 0;
  if (!context.empty()) {
    SKIFF_ASSIGN_OR_RETURN(context_id, ContextId(ns, context));
  }
  std::string d = digest.empty() || digest.rfind("sha256:", 0) == 0 ? digest : "sha256:" + digest;
  return LoadArtifacts({ns, type, d, context_id, ""});
}

Result<std::vector<ExecutionRecord>> LineageStore::Executions(const std::string& ns, const std::string& context,
                                                              const std::string& state) {
  std::lock_guard<std::mutex> l(mu_);
  int64_t context_id = 0;
  if (!context.empty()) {
    SKIFF_ASSIGN_OR_RETURN(context_id, ContextId(ns, context));
  }
  return LoadExecutions({ns, state, context_id, ""});
}

Result<std::vector<ContextRecord>> LineageStore::Contexts(const std::string& ns, const std::string& type) {
  std::lock_guard<std::mutex> l(mu_);
  SKIFF_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT c.id, c.ns, t.name, c.name, c.properties, "
      "(SELECT pt.name || '/' || p.name FROM parent_contexts pc JOIN contexts p ON p.id = pc.parent_id "
      " JOIN types pt ON pt.id = p.type_id WHERE pc.child_id = c.id LIMIT 1) "
      "FROM contexts c JOIN types t ON t.id = c.type_id WHERE c.ns = ?1 AND (?2 = '' OR t.name = ?2) "
      "ORDER BY c.id"));
  st.Bind(1, ns).Bind(2, type);
  std::vector<ContextRecord> out;
  for (;;) {
    SKIFF_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    ContextRecord c;
    c.id = st.ColumnInt(0);
    c.ns = st.ColumnText(1);
    c.type = st.ColumnText(2);
    c.name = st.ColumnText(3);
    c.properties = ParseProps(st.ColumnText(4));
    std::string parent(st.ColumnText(5));
    if (size_t slash = parent.find('/'); slash != std::string::npos) {
      c.parent_type = parent.substr(0, slash);
      c.parent_name = parent.substr(slash + 1);
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace skiff::metadata
