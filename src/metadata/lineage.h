// Lineage: ML Metadata's model (artifacts, executions, contexts, and the events that link them),
// namespaced, in its own tables. Every step, trial, training job and served model is
// recorded as an execution with its input and output artifacts; contexts group them (a pipeline,
// a run, an experiment, a training job, an inference service) and nest (run -> pipeline).
//
//   Artifact   uri, content digest ("sha256:..."), size, state, properties; identified within a
//              namespace by its digest when it has one (content-addressed), else by its uri
//   Execution  type, name (unique per namespace), state NEW|RUNNING|COMPLETE|FAILED|CACHED|
//              CANCELED, properties
//   Context    type + name (unique per namespace), properties; parent contexts
//   Event      (execution, artifact, INPUT|OUTPUT, path)
//   Attribution (context, artifact), Association (context, execution)
//
// Writes come in batches (`Record`), each one transaction, idempotent: recording the same
// execution again updates it and adds only the links that are new. Queries walk the graph
// breadth-first a hop at a time with indexed lookups.
//
// Storage: SQLite (its own file, several processes may share it with WAL) or PostgreSQL (beside
// the resource store), through `LineageDb` (lineage_db.h); the logic and SQL are shared.
// Thread-safe: one connection behind a mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/json.h"
#include "common/status.h"
#include "metadata/lineage_db.h"

namespace skiff::metadata {

struct ArtifactRecord {
  int64_t id = 0;
  std::string ns, type, name, uri, digest;
  int64_t size = 0;
  std::string state = "LIVE";
  Json properties = Json::object();
  Json ToJson() const;
};

struct ExecutionRecord {
  int64_t id = 0;
  std::string ns, type, name;
  std::string state = "COMPLETE";
  Json properties = Json::object();
  int64_t created_ms = 0, updated_ms = 0;
  Json ToJson() const;
};

struct ContextRecord {
  int64_t id = 0;
  std::string ns, type, name;
  Json properties = Json::object();
  std::string parent_type, parent_name;  // optional parent context (same namespace)
  Json ToJson() const;
};

// One observation of a metric on an execution: from user code (`skiff log metric`, the Python
// module's `log_metric`) or from a controller (a Trial's observation). `step` orders a series
// (an epoch); the natural key (execution, name, step, ms) makes replaying a log harmless.
struct MetricRecord {
  std::string name;
  double value = 0;
  int64_t step = 0;
  int64_t ms = 0;  // when it was observed; 0 = now
};

// One execution with what it read and wrote and the contexts it belongs to.
struct ExecutionWrite {
  ExecutionRecord execution;
  std::vector<MetricRecord> metrics;
  std::vector<std::pair<ArtifactRecord, std::string>> inputs;   // artifact, path (e.g. input name)
  std::vector<std::pair<ArtifactRecord, std::string>> outputs;
  std::vector<ContextRecord> contexts;  // associated with the execution, attributed its artifacts
};

enum class Direction { kUpstream, kDownstream, kBoth };

struct LineageQuery {
  std::string ns;
  int64_t artifact_id = 0;     // the start: an artifact id,
  std::string digest;          // or a digest,
  std::string execution_name;  // or an execution
  Direction direction = Direction::kUpstream;
  int max_hops = 5;            // a hop = artifact -> execution or execution -> artifact
  std::string artifact_type;   // keep only these types in the result ("" = all)
  std::string context;         // "type/name": keep only nodes in this context
};

struct LineageGraph {
  std::vector<ArtifactRecord> artifacts;
  std::vector<ExecutionRecord> executions;
  struct Edge {
    int64_t execution_id, artifact_id;
    std::string type;  // "INPUT" | "OUTPUT"
    std::string path;
  };
  std::vector<Edge> edges;
  Json ToJson() const;
};

class LineageStore {
 public:
  // Opens (creating and migrating) the SQLite database at `path`.
  static Result<std::unique_ptr<LineageStore>> Open(const std::string& path);
  // The lineage tables in the PostgreSQL database at `url` (see lineage_db.h).
  static Result<std::unique_ptr<LineageStore>> OpenPostgres(const std::string& url);
  // Beside the resource store `store_spec` names: PostgreSQL for a `postgresql://` URL, else
  // the SQLite file `sqlite_path`.
  static Result<std::unique_ptr<LineageStore>> OpenForStore(const std::string& store_spec,
                                                            const std::string& sqlite_path);
  ~LineageStore();

  Status Record(const std::vector<ExecutionWrite>& batch);
  // What user code logs while its execution runs: metrics and artifacts on the execution named
  // `w.execution.name`, created (state RUNNING, `w.execution.type`) if not recorded yet;
  // unlike `Record`, an existing execution keeps its state and properties.
  Status Log(const ExecutionWrite& w);
  // The metrics of one execution, in the order they were observed.
  Result<std::vector<MetricRecord>> ExecutionMetrics(const std::string& ns, const std::string& execution);
  // The metrics of every execution in `context` ("type/name"; "" = the namespace), by
  // execution name, each in the order observed: a table for comparing runs or trials.
  Result<std::vector<std::pair<std::string, MetricRecord>>> ContextMetrics(const std::string& ns,
                                                                           const std::string& context);
  // Every content digest an artifact record names, in any namespace (roots for the artifact
  // store's garbage collection).
  Result<std::vector<std::string>> AllDigests();
  // Whether an execution of that name exists (recorders use it to skip finished work).
  Result<bool> HasExecution(const std::string& ns, const std::string& name);

  Result<LineageGraph> Lineage(const LineageQuery& q);
  // Filters are optional ("" = any); `context` is "type/name".
  Result<std::vector<ArtifactRecord>> Artifacts(const std::string& ns, const std::string& type,
                                                const std::string& context, const std::string& digest);
  Result<std::vector<ExecutionRecord>> Executions(const std::string& ns, const std::string& context,
                                                  const std::string& state);
  // Contexts of `ns`, filtered by type, name and parent context ("type/name"; NotFound if that
  // parent does not exist); each filter "" = any.
  Result<std::vector<ContextRecord>> Contexts(const std::string& ns, const std::string& type,
                                              const std::string& name = "", const std::string& parent = "");

 private:
  explicit LineageStore(std::unique_ptr<LineageDb> db);
  // Runs `body` in one write transaction; type ids learnt in it are kept only if it commits.
  Status InTransaction(const std::function<Status()>& body);                 // requires mu_
  Result<int64_t> InsertReturningId(const char* sql, const std::vector<SqlArg>& args);  // requires mu_
  Result<int64_t> TypeId(int kind, const std::string& name);                 // requires mu_
  Result<int64_t> UpsertArtifact(const ArtifactRecord& a);                    // requires mu_
  Result<int64_t> UpsertContext(const ContextRecord& c);                      // requires mu_
  // Links, contexts and metrics of `w` to the execution `exec_id`.
  Status WriteLinks(const ExecutionWrite& w, int64_t exec_id, int64_t now);   // requires mu_
  struct ArtifactFilter {
    std::string ns, type, digest;
    int64_t context_id = 0;
    std::string ids;  // JSON array of ids, or ""
  };
  struct ExecutionFilter {
    std::string ns, state;
    int64_t context_id = 0;
    std::string ids;
  };
  Result<std::vector<ArtifactRecord>> LoadArtifacts(const ArtifactFilter& f);    // requires mu_
  Result<std::vector<ExecutionRecord>> LoadExecutions(const ExecutionFilter& f);  // requires mu_
  Result<int64_t> ContextId(const std::string& ns, const std::string& context);   // requires mu_

  std::mutex mu_;
  std::unique_ptr<LineageDb> db_;  // GUARDED_BY(mu_)
  // Type ids by (kind, name): committed ones, and those learnt in the open transaction.
  std::map<std::pair<int, std::string>, int64_t> type_ids_;          // GUARDED_BY(mu_)
  std::map<std::pair<int, std::string>, int64_t> pending_type_ids_;  // GUARDED_BY(mu_)
  // Contexts written in the open transaction: (ns, type, name, parent type, parent name) -> id;
  // the views point into the batch being written.
  std::map<std::tuple<std::string_view, std::string_view, std::string_view, std::string_view, std::string_view>,
           int64_t>
      batch_contexts_;  // GUARDED_BY(mu_)
};

}  // namespace skiff::metadata
