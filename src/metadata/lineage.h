// Lineage: ML Metadata's model (artifacts, executions, contexts, and the events that link them),
// namespaced, in its own SQLite tables. Every step, trial, training job and served model is
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
// Thread-safe: one connection behind a mutex. Several processes may share the file (WAL).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::store {
class SqliteDb;
}

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

// One execution with what it read and wrote and the contexts it belongs to.
struct ExecutionWrite {
  ExecutionRecord execution;
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
  // Opens (creating and migrating) the database at `path`.
  static Result<std::unique_ptr<LineageStore>> Open(const std::string& path);
  ~LineageStore();

  Status Record(const std::vector<ExecutionWrite>& batch);
  // Whether an execution of that name exists (recorders use it to skip finished work).
  Result<bool> HasExecution(const std::string& ns, const std::string& name);

  Result<LineageGraph> Lineage(const LineageQuery& q);
  // Filters are optional ("" = any); `context` is "type/name".
  Result<std::vector<ArtifactRecord>> Artifacts(const std::string& ns, const std::string& type,
                                                const std::string& context, const std::string& digest);
  Result<std::vector<ExecutionRecord>> Executions(const std::string& ns, const std::string& context,
                                                  const std::string& state);
  Result<std::vector<ContextRecord>> Contexts(const std::string& ns, const std::string& type);

 private:
  explicit LineageStore(std::unique_ptr<store::SqliteDb> db);
  Result<int64_t> TypeId(int kind, const std::string& name);                 // requires mu_
  Result<int64_t> UpsertArtifact(const ArtifactRecord& a);                    // requires mu_
  Result<int64_t> UpsertContext(const ContextRecord& c);                      // requires mu_
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
  std::unique_ptr<store::SqliteDb> db_;  // GUARDED_BY(mu_)
  // Type ids by (kind, name): committed ones, and those learnt in the open transaction.
  std::map<std::pair<int, std::string>, int64_t> type_ids_;          // GUARDED_BY(mu_)
  std::map<std::pair<int, std::string>, int64_t> pending_type_ids_;  // GUARDED_BY(mu_)
};

}  // namespace skiff::metadata
