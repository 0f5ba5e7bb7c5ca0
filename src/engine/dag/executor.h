// The Argo Workflows engine: given a Workflow (spec plus its recorded node statuses) it decides
// what happens next, the way Argo's workflow controller does. One `Reconcile()` walks the template
// tree from the entrypoint, creating nodes, deciding which Pods to start, skipping and omitting
// by `when`/`depends`, expanding loops, retrying with backoff, running exit handlers and finally
// setting the workflow's phase. Everything it needs from the outside (templates referenced by
// name, ConfigMaps, the memoization cache, the time) comes through `ExecutorEnv`; everything it
// wants done (create or kill Pods, save cache entries, wake up later) comes back as `Actions`.
// It performs no I/O, so it is tested by feeding it Pod results.
//
// State machine of a node (numbers are the transitions tests name):
//
//   (none) --1 create--> Pending --2 pod running--> Running --3 pod exits 0--> Succeeded
//     |                    |                           |----4 exit != 0-----> Failed
//     |                    |----5 deadline/kill------------------------------> Failed/Error
//     |--6 when false--> Skipped     --7 depends false--> Omitted
//     |--8 memoize hit--> Succeeded (outputs from the cache)
//   Retry nodes: Running --9 child succeeded--> Succeeded
//                        --10 child failed, retries left--> (backoff) new child
//                        --11 no retries left / policy says no--> Failed/Error
//   Steps/DAG/StepGroup/TaskGroup nodes follow their children (12).
//
// Thread-compatible: one Executor per workflow, used from one thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "common/status.h"
#include "engine/dag/nodes.h"

namespace skiff::dag {

class ExecutorEnv {
 public:
  virtual ~ExecutorEnv() = default;
  virtual const Clock& clock() const = 0;
  // A WorkflowTemplate in `ns` (cluster == false) or a ClusterWorkflowTemplate.
  virtual Result<Json> GetWorkflowTemplate(std::string_view ns, std::string_view name,
                                           bool cluster) = 0;
  virtual Result<std::string> GetConfigMapKey(std::string_view ns, std::string_view name,
                                              std::string_view key) = 0;
  // A memoization cache entry ({nodeID, outputs, creationTimestamp, lastHitTimestamp}).
  virtual std::optional<Json> GetCacheEntry(std::string_view ns, std::string_view cache,
                                            std::string_view key) = 0;
};

// What the kubelet reported about the Pod of a Pod node.
struct PodResult {
  std::string node_id;
  NodePhase phase = NodePhase::kPending;  // Pending, Running, Succeeded, Failed or Error
  std::string message;
  TimePoint started_at{};
  TimePoint finished_at{};
  Json outputs;  // {result, exitCode, parameters: [{name, value}], artifacts: [...]}
  std::string host_node_name;
  double cpu_seconds = 0;
  double memory_mib_seconds = 0;
  bool daemoned = false;  // a daemon step's Pod reports Running + ready
};

struct CacheWrite {
  std::string ns, cache, key;
  Json entry;
};

struct Actions {
  std::vector<Json> create_pods;  // full v1 Pod objects
  struct Kill {
    std::string pod_name;
    std::string reason;
  };
  std::vector<Kill> kill_pods;
  std::vector<CacheWrite> cache_writes;
  std::optional<TimePoint> requeue_at;
  // The pass stopped creating Pods at kMaxNewPodsPerPass: run another pass right away. (A
  // 10,000-item loop is created in batches, so one commit never holds them all in memory.)
  bool more = false;
};

inline constexpr size_t kMaxNewPodsPerPass = 256;

class Executor {
 public:
  // `workflow` is the Workflow resource (metadata, spec, status without status.nodes); `nodes`
  // the node statuses recorded so far (empty for a new run).
  Executor(Json workflow, std::vector<NodeStatus> nodes, ExecutorEnv& env);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // One pass. Idempotent: calling it again without new information changes nothing.
  Actions Reconcile();

  // Records a Pod's progress on its node. Unknown node ids are ignored.
  void ApplyPodResult(const PodResult& result);

  // Resumes suspended nodes (all, or those whose display name or name equals `node`), setting
  // the given output parameters (`valueFrom.supplied`). Returns how many nodes were resumed.
  int Resume(std::string_view node, const std::vector<std::pair<std::string, std::string>>& params);
  // Stops the workflow: running Pods are killed and the workflow fails with `message`.
  void Terminate(std::string message);

  const Json& workflow() const;  // metadata, spec, status (phase, times, outputs; no nodes)
  bool Finished() const;         // status.phase is Succeeded, Failed or Error
  std::string Phase() const;
  const std::unordered_map<std::string, NodeStatus>& nodes() const;
  const NodeStatus* FindNode(std::string_view id) const;
  // Ids of nodes created or changed since the last call.
  std::vector<std::string> TakeDirtyNodes();
  bool TakeWorkflowDirty();

 private:
  class Operation;
  struct State;
  std::unique_ptr<State> state_;
};

// Validates a Workflow (or WorkflowTemplate/ClusterWorkflowTemplate spec) before anything runs:
// structure, template references, dependency cycles, `depends` names, required parameters and
// `{{...}}` references that can never resolve. Errors name the field path, e.g.
// `spec.templates[1].dag.tasks[2].depends: unknown task "trian"`. `templates` resolves
// `templateRef`s (may return NotFound).
using TemplateLookup = std::function<Result<Json>(std::string_view name, bool cluster)>;
Status ValidateWorkflow(const Json& workflow, const TemplateLookup& templates);

}  // namespace skiff::dag
