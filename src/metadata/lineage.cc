#include "metadata/lineage.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <tuple>

#include "metadata/lineage_db.h"

namespace skiff::metadata {

namespace {

constexpr int kArtifactType = 0, kExecutionType = 1, kContextType = 2;
constexpr int kInput = 1, kOutput = 2;

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

bool IsPostgresUrl(const std::string& spec) {
  return spec.rfind("postgresql://", 0) == 0 || spec.rfind("postgres://", 0) == 0;
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

LineageStore::LineageStore(std::unique_ptr<LineageDb> db) : db_(std::move(db)) {}
LineageStore::~LineageStore() = default;

Result<std::unique_ptr<LineageStore>> LineageStore::Open(const std::string& path) {
  SKIFF_ASSIGN_OR_RETURN(auto db, OpenSqliteLineageDb(path));
  return std::unique_ptr<LineageStore>(new LineageStore(std::move(db)));
}

Result<std::unique_ptr<LineageStore>> LineageStore::OpenPostgres(const std::string& url) {
  SKIFF_ASSIGN_OR_RETURN(auto db, OpenPostgresLineageDb(url));
  return std::unique_ptr<LineageStore>(new LineageStore(std::move(db)));
}

Result<std::unique_ptr<LineageStore>> LineageStore::OpenForStore(const std::string& store_spec,
                                                                 const std::string& sqlite_path) {
  if (IsPostgresUrl(store_spec)) return OpenPostgres(store_spec);
  return Open(sqlite_path);
}

Result<int64_t> LineageDb::InsertReturningId(const char* sql, const std::vector<SqlArg>& args) {
  int64_t id = 0;
  bool got = false;
  SKIFF_RETURN_IF_ERROR(Run(sql, args, [&](const SqlRow& r) {
    id = r.Int(0);
    got = true;
  }));
  if (!got) return Internal("upsert returned no id");
  return id;
}

Result<int64_t> LineageStore::InsertReturningId(const char* sql, const std::vector<SqlArg>& args) {
  return db_->InsertReturningId(sql, args);
}

Result<int64_t> LineageStore::TypeId(int kind, const std::string& name) {
  // A handful of types serve every write: look them up once. Ids learnt inside a transaction
  // count only once it commits (a rolled-back insert leaves no row behind).
  auto key = std::make_pair(kind, name);
  if (auto it = type_ids_.find(key); it != type_ids_.end()) return it->second;
  if (auto it = pending_type_ids_.find(key); it != pending_type_ids_.end()) return it->second;
  SKIFF_ASSIGN_OR_RETURN(int64_t id, InsertReturningId(
      "INSERT INTO types (kind, name) VALUES (?1, ?2) ON CONFLICT (kind, name) DO UPDATE SET name = excluded.name "
      "RETURNING id",
      {static_cast<int64_t>(kind), name}));
  pending_type_ids_[key] = id;
  return id;
}

Result<int64_t> LineageStore::UpsertArtifact(const ArtifactRecord& a) {
  SKIFF_ASSIGN_OR_RETURN(int64_t type_id, TypeId(kArtifactType, a.type.empty() ? "Artifact" : a.type));
  std::string akey = a.digest.empty() ? "uri:" + a.uri : a.digest;
  std::string props = a.properties.dump();
  return InsertReturningId(
      "INSERT INTO artifacts (ns, akey, type_id, name, uri, digest, size, state, properties, created_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (ns, akey) DO UPDATE SET "
      "state = excluded.state, size = excluded.size, "
      "name = CASE WHEN artifacts.name = '' THEN excluded.name ELSE artifacts.name END "
      "RETURNING id",
      {a.ns, akey, type_id, a.name, a.uri, a.digest, a.size, a.state, props, NowMs()});
}

Result<int64_t> LineageStore::UpsertContext(const ContextRecord& c) {
  SKIFF_ASSIGN_OR_RETURN(int64_t type_id, TypeId(kContextType, c.type));
  std::string props = c.properties.dump();
  return InsertReturningId(
      "INSERT INTO contexts (ns, type_id, name, properties) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT (ns, type_id, name) DO UPDATE SET properties = excluded.properties RETURNING id",
      {c.ns, type_id, c.name, props});
}

Status LineageStore::InTransaction(const std::function<Status()>& body) {
  SKIFF_RETURN_IF_ERROR(db_->Begin());
  batch_contexts_.clear();
  Status s = body();
  batch_contexts_.clear();
  if (s.ok()) s = db_->Commit();
  if (!s.ok()) {
    db_->Rollback();
    pending_type_ids_.clear();
    return s;
  }
  type_ids_.merge(pending_type_ids_);
  pending_type_ids_.clear();
  return OkStatus();
}

Status LineageStore::Record(const std::vector<ExecutionWrite>& batch) {
  if (batch.empty()) return OkStatus();  // no transaction (a flush with nothing to write)
  std::lock_guard<std::mutex> l(mu_);
  return InTransaction([&]() -> Status {
    int64_t now = NowMs();
    for (const auto& w : batch) {
      const ExecutionRecord& e = w.execution;
      if (e.name.empty()) return InvalidArgument("execution.name: required");
      SKIFF_ASSIGN_OR_RETURN(int64_t type_id, TypeId(kExecutionType, e.type.empty() ? "Execution" : e.type));
      std::string props = e.properties.dump();
      SKIFF_ASSIGN_OR_RETURN(int64_t exec_id, InsertReturningId(
          "INSERT INTO executions (ns, type_id, name, state, properties, created_ms, updated_ms) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (ns, name) DO UPDATE SET "
          "state = excluded.state, properties = excluded.properties, updated_ms = excluded.updated_ms, "
          "type_id = excluded.type_id RETURNING id",
          {e.ns, type_id, e.name, e.state, props, e.created_ms > 0 ? e.created_ms : now}));
      SKIFF_RETURN_IF_ERROR(WriteLinks(w, exec_id, now));
    }
    return OkStatus();
  });
}

Status LineageStore::WriteLinks(const ExecutionWrite& w, int64_t exec_id, int64_t now) {
  std::vector<int64_t> context_ids;
  for (const auto& c : w.contexts) {
    // A batch names the same run for many executions: its context (and parent link) is
    // written once per transaction.
    // Views into the batch, which outlives the transaction: no copies per execution.
    auto key = std::make_tuple(std::string_view(c.ns), std::string_view(c.type), std::string_view(c.name),
                               std::string_view(c.parent_type), std::string_view(c.parent_name));
    if (auto it = batch_contexts_.find(key); it != batch_contexts_.end()) {
      context_ids.push_back(it->second);
      SKIFF_RETURN_IF_ERROR(db_->Run(
          "INSERT INTO associations (context_id, execution_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
          {it->second, exec_id}));
      continue;
    }
    SKIFF_ASSIGN_OR_RETURN(int64_t cid, UpsertContext(c));
    batch_contexts_[key] = cid;
    context_ids.push_back(cid);
    if (!c.parent_name.empty()) {
      ContextRecord parent{0, c.ns, c.parent_type, c.parent_name, Json::object(), "", ""};
      SKIFF_ASSIGN_OR_RETURN(int64_t pid, UpsertContext(parent));
      SKIFF_RETURN_IF_ERROR(db_->Run(
          "INSERT INTO parent_contexts (child_id, parent_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING", {cid, pid}));
    }
    SKIFF_RETURN_IF_ERROR(db_->Run(
        "INSERT INTO associations (context_id, execution_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        {cid, exec_id}));
  }
  for (int type : {kInput, kOutput}) {
    for (const auto& [artifact, path] : type == kInput ? w.inputs : w.outputs) {
      SKIFF_ASSIGN_OR_RETURN(int64_t aid, UpsertArtifact(artifact));
      SKIFF_RETURN_IF_ERROR(db_->Run(
          "INSERT INTO events (execution_id, artifact_id, type, path, ms) VALUES (?1, ?2, ?3, ?4, ?5) "
          "ON CONFLICT DO NOTHING",
          {exec_id, aid, type, path, now}));
      for (int64_t cid : context_ids) {
        SKIFF_RETURN_IF_ERROR(db_->Run(
            "INSERT INTO attributions (context_id, artifact_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            {cid, aid}));
      }
    }
  }
  for (const auto& m : w.metrics) {
    if (m.name.empty()) return InvalidArgument("metrics[].name: required");
    if (!std::isfinite(m.value)) return InvalidArgument("metrics." + m.name + ": not a finite number");
    // Values travel as text (%.17g round-trips a double).
    char value[40];
    std::snprintf(value, sizeof value, "%.17g", m.value);
    SKIFF_RETURN_IF_ERROR(db_->Run(
        "INSERT INTO metrics (execution_id, name, step, ms, value) "
        "VALUES (?1, ?2, ?3, ?4, CAST(?5 AS DOUBLE PRECISION)) "
        "ON CONFLICT (execution_id, name, step, ms) DO UPDATE SET value = excluded.value",
        {exec_id, m.name, m.step, m.ms > 0 ? m.ms : now, std::string_view(value)}));
  }
  return OkStatus();
}

Status LineageStore::Log(const ExecutionWrite& w) {
  const ExecutionRecord& e = w.execution;
  if (e.name.empty()) return InvalidArgument("execution.name: required");
  std::lock_guard<std::mutex> l(mu_);
  return InTransaction([&]() -> Status {
    int64_t now = NowMs();
    SKIFF_ASSIGN_OR_RETURN(int64_t type_id, TypeId(kExecutionType, e.type.empty() ? "Execution" : e.type));
    std::string props = e.properties.dump();
    // An execution that exists keeps what its recorder wrote; only `updated_ms` moves.
    SKIFF_ASSIGN_OR_RETURN(int64_t exec_id, InsertReturningId(
        "INSERT INTO executions (ns, type_id, name, state, properties, created_ms, updated_ms) "
        "VALUES (?1, ?2, ?3, 'RUNNING', ?4, ?5, ?5) ON CONFLICT (ns, name) DO UPDATE SET "
        "updated_ms = excluded.updated_ms RETURNING id",
        {e.ns, type_id, e.name, props, now}));
    return WriteLinks(w, exec_id, now);
  });
}

Result<std::vector<MetricRecord>> LineageStore::ExecutionMetrics(const std::string& ns, const std::string& execution) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<MetricRecord> out;
  SKIFF_RETURN_IF_ERROR(db_->Run(
      "SELECT m.name, CAST(m.value AS TEXT), m.step, m.ms FROM metrics m JOIN executions e ON e.id = m.execution_id "
      "WHERE e.ns = ?1 AND e.name = ?2 ORDER BY m.ms, m.step, m.name",
      {ns, execution}, [&](const SqlRow& r) {
        out.push_back({std::string(r.Text(0)), std::strtod(std::string(r.Text(1)).c_str(), nullptr), r.Int(2),
                       r.Int(3)});
      }));
  return out;
}

Result<std::vector<std::pair<std::string, MetricRecord>>> LineageStore::ContextMetrics(const std::string& ns,
                                                                                     const std::string& context) {
  std::lock_guard<std::mutex> l(mu_);
  int64_t context_id = 0;
  if (!context.empty()) {
    SKIFF_ASSIGN_OR_RETURN(context_id, ContextId(ns, context));
  }
  std::vector<std::pair<std::string, MetricRecord>> out;
  SKIFF_RETURN_IF_ERROR(db_->Run(
      "SELECT e.name, m.name, CAST(m.value AS TEXT), m.step, m.ms FROM metrics m "
      "JOIN executions e ON e.id = m.execution_id WHERE e.ns = ?1 "
      "AND (?2 = 0 OR e.id IN (SELECT execution_id FROM associations WHERE context_id = ?2)) "
      "ORDER BY e.id, m.ms, m.step, m.name",
      {ns, context_id}, [&](const SqlRow& r) {
        out.emplace_back(std::string(r.Text(0)),
                         MetricRecord{std::string(r.Text(1)), std::strtod(std::string(r.Text(2)).c_str(), nullptr),
                                      r.Int(3), r.Int(4)});
      }));
  return out;
}

Result<std::vector<std::string>> LineageStore::AllDigests() {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  SKIFF_RETURN_IF_ERROR(db_->Run("SELECT DISTINCT digest FROM artifacts WHERE digest <> ''", {},
                                 [&](const SqlRow& r) { out.emplace_back(r.Text(0)); }));
  return out;
}

Result<bool> LineageStore::HasExecution(const std::string& ns, const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  bool found = false;
  SKIFF_RETURN_IF_ERROR(db_->Run("SELECT 1 FROM executions WHERE ns = ?1 AND name = ?2", {ns, name},
                                 [&](const SqlRow&) { found = true; }));
  return found;
}

Result<std::vector<ArtifactRecord>> LineageStore::LoadArtifacts(const ArtifactFilter& f) {
  std::vector<ArtifactRecord> out;
  // Two static statements: by id list (graph walks: index lookups only), else by filters (an
  // empty filter matches everything). A statement with both would scan the table.
  auto row = [&](const SqlRow& r) {
        ArtifactRecord a;
        a.id = r.Int(0);
        a.ns = r.Text(1);
        a.type = r.Text(2);
        a.name = r.Text(3);
        a.uri = r.Text(4);
        a.digest = r.Text(5);
        a.size = r.Int(6);
        a.state = r.Text(7);
        a.properties = ParseProps(r.Text(8));
        out.push_back(std::move(a));
      };
  if (!f.ids.empty()) {
    // Nothing optional in this statement: a generic plan (PostgreSQL's after five runs) of
    // "(?2 = '' OR ...)" scans the table. The filters apply here instead.
    SKIFF_RETURN_IF_ERROR(db_->Run(
        "SELECT a.id, a.ns, t.name, a.name, a.uri, a.digest, a.size, a.state, a.properties "
        "FROM artifacts a JOIN types t ON t.id = a.type_id WHERE a.id IN (SELECT value FROM json_each(?1)) "
        "ORDER BY a.id",
        {f.ids}, row));
    std::set<int64_t> in_context;
    if (f.context_id != 0) {
      SKIFF_RETURN_IF_ERROR(db_->Run(
          "SELECT artifact_id FROM attributions WHERE context_id = ?1 AND artifact_id IN (SELECT value FROM json_each(?2))",
          {f.context_id, f.ids}, [&](const SqlRow& r) { in_context.insert(r.Int(0)); }));
    }
    std::erase_if(out, [&](const ArtifactRecord& a) {
      return (!f.type.empty() && a.type != f.type) || (f.context_id != 0 && in_context.count(a.id) == 0);
    });
    return out;
  }
  SKIFF_RETURN_IF_ERROR(db_->Run(
      "SELECT a.id, a.ns, t.name, a.name, a.uri, a.digest, a.size, a.state, a.properties "
      "FROM artifacts a JOIN types t ON t.id = a.type_id WHERE "
      "(?1 = '' OR a.ns = ?1) AND (?2 = '' OR t.name = ?2) AND (?3 = '' OR a.digest = ?3) "
      "AND (?4 = 0 OR a.id IN (SELECT artifact_id FROM attributions WHERE context_id = ?4)) ORDER BY a.id",
      {f.ns, f.type, f.digest, f.context_id}, row));
  return out;
}

Result<std::vector<ExecutionRecord>> LineageStore::LoadExecutions(const ExecutionFilter& f) {
  std::vector<ExecutionRecord> out;
  auto row = [&](const SqlRow& r) {
        ExecutionRecord e;
        e.id = r.Int(0);
        e.ns = r.Text(1);
        e.type = r.Text(2);
        e.name = r.Text(3);
        e.state = r.Text(4);
        e.properties = ParseProps(r.Text(5));
        e.created_ms = r.Int(6);
        e.updated_ms = r.Int(7);
        out.push_back(std::move(e));
      };
  if (!f.ids.empty()) {
    SKIFF_RETURN_IF_ERROR(db_->Run(
        "SELECT e.id, e.ns, t.name, e.name, e.state, e.properties, e.created_ms, e.updated_ms "
        "FROM executions e JOIN types t ON t.id = e.type_id WHERE e.id IN (SELECT value FROM json_each(?1)) "
        "ORDER BY e.id",
        {f.ids}, row));
    std::set<int64_t> in_context;
    if (f.context_id != 0) {
      SKIFF_RETURN_IF_ERROR(db_->Run(
          "SELECT execution_id FROM associations WHERE context_id = ?1 "
          "AND execution_id IN (SELECT value FROM json_each(?2))",
          {f.context_id, f.ids}, [&](const SqlRow& r) { in_context.insert(r.Int(0)); }));
    }
    std::erase_if(out, [&](const ExecutionRecord& e) {
      return (!f.state.empty() && e.state != f.state) || (f.context_id != 0 && in_context.count(e.id) == 0);
    });
    return out;
  }
  SKIFF_RETURN_IF_ERROR(db_->Run(
      "SELECT e.id, e.ns, t.name, e.name, e.state, e.properties, e.created_ms, e.updated_ms "
      "FROM executions e JOIN types t ON t.id = e.type_id WHERE "
      "(?1 = '' OR e.ns = ?1) AND (?2 = '' OR e.state = ?2) "
      "AND (?3 = 0 OR e.id IN (SELECT execution_id FROM associations WHERE context_id = ?3)) ORDER BY e.id",
      {f.ns, f.state, f.context_id}, row));
  return out;
}

Result<int64_t> LineageStore::ContextId(const std::string& ns, const std::string& context) {
  size_t slash = context.find('/');
  std::string type = slash == std::string::npos ? "" : context.substr(0, slash);
  std::string name = slash == std::string::npos ? context : context.substr(slash + 1);
  int64_t id = 0;
  SKIFF_RETURN_IF_ERROR(db_->Run(
      "SELECT c.id FROM contexts c JOIN types t ON t.id = c.type_id "
      "WHERE c.ns = ?1 AND c.name = ?2 AND (?3 = '' OR t.name = ?3) ORDER BY c.id LIMIT 1",
      {ns, name, type}, [&](const SqlRow& r) { id = r.Int(0); }));
  if (id == 0) return NotFound("context \"" + context + "\" not found in namespace " + ns);
  return id;
}

Result<LineageGraph> LineageStore::Lineage(const LineageQuery& q) {
  std::lock_guard<std::mutex> l(mu_);
  std::set<int64_t> artifacts, executions, frontier_a, frontier_e;
  if (!q.execution_name.empty()) {
    SKIFF_RETURN_IF_ERROR(db_->Run("SELECT id FROM executions WHERE ns = ?1 AND name = ?2", {q.ns, q.execution_name},
                                   [&](const SqlRow& r) { frontier_e.insert(r.Int(0)); }));
    if (frontier_e.empty()) return NotFound("execution \"" + q.execution_name + "\" not found in namespace " + q.ns);
  } else if (q.artifact_id > 0) {
    frontier_a.insert(q.artifact_id);
  } else {
    std::string digest = q.digest.rfind("sha256:", 0) == 0 ? q.digest : "sha256:" + q.digest;
    // A digest is its artifact's key (`akey`): the unique index finds it, no second index needed.
    SKIFF_RETURN_IF_ERROR(db_->Run("SELECT id FROM artifacts WHERE ns = ?1 AND akey = ?2", {q.ns, digest},
                                   [&](const SqlRow& r) { frontier_a.insert(r.Int(0)); }));
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
        int type = up ? kOutput : kInput;
        SKIFF_RETURN_IF_ERROR(db_->Run(
            "SELECT execution_id, artifact_id, path FROM events WHERE type = ?1 "
            "AND artifact_id IN (SELECT value FROM json_each(?2))",
            {type, IdList(fa)}, [&](const SqlRow& r) {
              int64_t e = r.Int(0);
              seen_edges.insert({e, r.Int(1), type, std::string(r.Text(2))});
              if (executions.insert(e).second) ne.insert(e);
            }));
      }
      // execution -> artifacts: upstream, what it read; downstream, what it wrote.
      if (!fe.empty()) {
        int type = up ? kInput : kOutput;
        SKIFF_RETURN_IF_ERROR(db_->Run(
            "SELECT execution_id, artifact_id, path FROM events WHERE type = ?1 "
            "AND execution_id IN (SELECT value FROM json_each(?2))",
            {type, IdList(fe)}, [&](const SqlRow& r) {
              int64_t a = r.Int(1);
              seen_edges.insert({r.Int(0), a, type, std::string(r.Text(2))});
              if (artifacts.insert(a).second) na.insert(a);
            }));
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

Result<std::vector<ContextRecord>> LineageStore::Contexts(const std::string& ns, const std::string& type,
                                                          const std::string& name, const std::string& parent) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<ContextRecord> out;
  int64_t parent_id = 0;
  if (!parent.empty()) {
    SKIFF_ASSIGN_OR_RETURN(parent_id, ContextId(ns, parent));
  }
  SKIFF_RETURN_IF_ERROR(db_->Run(
      "SELECT c.id, c.ns, t.name, c.name, c.properties, "
      "(SELECT pt.name || '/' || p.name FROM parent_contexts pc JOIN contexts p ON p.id = pc.parent_id "
      " JOIN types pt ON pt.id = p.type_id WHERE pc.child_id = c.id LIMIT 1) "
      "FROM contexts c JOIN types t ON t.id = c.type_id WHERE c.ns = ?1 AND (?2 = '' OR t.name = ?2) "
      "AND (?3 = '' OR c.name = ?3) "
      "AND (?4 = 0 OR c.id IN (SELECT child_id FROM parent_contexts WHERE parent_id = ?4)) ORDER BY c.id",
      {ns, type, name, parent_id}, [&](const SqlRow& r) {
        ContextRecord c;
        c.id = r.Int(0);
        c.ns = r.Text(1);
        c.type = r.Text(2);
        c.name = r.Text(3);
        c.properties = ParseProps(r.Text(4));
        std::string parent(r.Text(5));
        if (size_t slash = parent.find('/'); slash != std::string::npos) {
          c.parent_type = parent.substr(0, slash);
          c.parent_name = parent.substr(slash + 1);
        }
        out.push_back(std::move(c));
      }));
  return out;
}

}  // namespace skiff::metadata
