// Internal to engine/dag: the state of one Executor and one reconcile pass over it. The
// functions mirror the structure of Argo's operator (executeTemplate, executeSteps, executeDAG,
// processNodeRetries, ...) so that behaviour can be compared with upstream side by side.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/dag/executor.h"
#include "engine/dag/template.h"

namespace skiff::dag {

// Where template names are looked up: the workflow's own templates, or those of a
// WorkflowTemplate / ClusterWorkflowTemplate reached through `templateRef`.
struct TmplCtx {
  std::string kind;  // "local", "namespaced" or "cluster"
  std::string name;  // workflow name or (cluster) workflow template name
  std::string Scope() const { return kind + "/" + name; }
};

// One set of scope entries: parameters ("steps.a.outputs.result") and artifacts.
struct ScopeLayer {
  Vars params;
  std::map<std::string, Json> artifacts;  // "steps.a.outputs.artifacts.x" -> artifact
};

// Outputs and parameters visible to the steps of one Steps template or the tasks of one DAG:
// its own entries plus shared, immutable layers (a finished DAG task's entries are built once
// and shared by every task that descends from it, so a long chain does not copy them over and
// over).
struct Scope : ScopeLayer {
  std::vector<std::shared_ptr<const ScopeLayer>> layers;

  // Own entries, then the layers, then `globals` (may be null).
  VarScope Params(const Vars* globals) const;
  const Json* FindParam(std::string_view key) const;
  const Json* FindArtifact(const std::string& key) const;
  // Every artifact and parameter merged, for expressions that may name either.
  Vars Flatten() const;
};

struct ExecOpts {
  std::string boundary_id;
  bool on_exit_template = false;
  bool hooked = false;
  bool retried = false;
  TimePoint execution_deadline{};  // zero = none
  // Steps that must still run after this one on the longest path to the workflow's end: Pods
  // with more work behind them start first when they wait for a slot (annotation skiff.dev/rank).
  int64_t rank = 0;
};

// Why ExecuteTemplate did not (yet) produce a node.
enum class ExecError { kNone, kParallelismReached, kDeadlineExceeded, kTimeout, kError };

// What a DAG template's tasks depend on, computed once per DAG node (its template does not
// change once processed): dependencies and rewritten `depends` logic per task, the target
// tasks, and ancestors (transitive dependencies) per task.
struct DagInfo {
  std::map<std::string, std::vector<std::string>> deps;
  std::map<std::string, std::string> logic;
  std::vector<std::string> targets;
  std::map<std::string, std::vector<std::string>> ancestors;
  // Tasks that are finished for good (node fulfilled, exit hook done): later passes skip them.
  std::unordered_set<std::string> done;
  // For a task not yet created: the created, unfinished task it waits for (transitively), so
  // that a long chain is not walked again each pass while its head runs.
  std::unordered_map<std::string, std::string> blocker;
  // Task name -> task, pointing into the template `tasks_source` was built from.
  std::map<std::string, const Json*> tasks;
  const Json* tasks_source = nullptr;
  std::unordered_map<std::string, std::string> node_ids;  // task name -> its node's id
  std::unordered_map<std::string, std::shared_ptr<const ScopeLayer>> layers;  // of done tasks
  // Task name -> tasks on the longest path of dependents after it (0 for a task nothing needs).
  std::unordered_map<std::string, int64_t> rank;
  bool analyzed = false;
};

// A step group's children, expanded once (their arguments cannot change once the group runs:
// the steps before it are finished) and followed by index, so that a pass over a 10,000-item
// loop costs a few pointer checks per child instead of re-expanding and re-resolving each one.
struct LoopItems {
  Json base;         // the step without its loop fields
  std::string name;  // the step's name
  Json items;        // array; null when the step has no loop
};

struct StepGroupInfo {
  std::vector<LoopItems> steps;                // per step of the group, references resolved
  struct Child {
    size_t step = 0, item = 0;  // into `steps` and its items
    std::string name;           // node name
    Json expanded;              // the child's step, made on demand and dropped once it runs
    NodeStatus* node = nullptr; // once created (State's nodes are stable)
    bool has_hooks = false;     // exit or other lifecycle hooks
    bool settled = false;       // fulfilled, hooks done: never revisited
  };
  std::vector<Child> children;
  std::unordered_map<std::string, size_t> index;  // child name -> position
  size_t unsettled = 0;
};

struct Executor::State {
  State(Json w, ExecutorEnv& e) : wf(std::move(w)), env(e) {}
  Json wf;
  ExecutorEnv& env;
  std::unordered_map<std::string, NodeStatus> nodes;
  std::unordered_set<std::string> dirty;
  bool wf_dirty = false;
  std::string name, ns, uid;
  Json spec;  // effective spec (workflowTemplateRef merged in)
  std::unordered_map<std::string, Json> template_sources;  // "namespaced/x" -> spec
  bool terminate_requested = false;
  std::string terminate_message;
  bool include_results_for_containers = false;
  // Active/failed children are only counted when some template limits parallelism or fails
  // fast; counting walks every node, which a 10,000-node workflow should not pay each pass.
  bool needs_counts = false;
  std::unordered_map<std::string, std::shared_ptr<DagInfo>> dags;  // by DAG node id
  std::unordered_map<std::string, std::shared_ptr<StepGroupInfo>> groups;  // by step group node id
  // Children of nodes with many of them, for AddChild's membership test (by parent id).
  std::unordered_map<std::string, std::unordered_set<std::string>> child_index;
  // Pod nodes that finished since the last pass: their results are saved to the memoization
  // cache and published as global outputs at the start of the next pass.
  std::vector<std::string> finished_since_pass;
  // Steps and DAG templates as processed for their node (arguments substituted), reused by
  // later passes: their inputs are fixed once the node exists.
  struct Processed {
    Json tmpl;
    TmplCtx ctx;
  };
  std::unordered_map<std::string, std::shared_ptr<const Processed>> processed;  // by node id
};

class Executor::Operation {
 public:
  Operation(Executor::State& st, Actions& actions);
  void Run();

  // --- nodes ---
  NodeStatus* NodeByName(const std::string& name);
  NodeStatus* NodeByIdMutable(const std::string& id);
  NodeStatus& InitNode(const std::string& name, NodeType type, const std::string& scope,
                       const Json& holder, const std::string& boundary_id, NodePhase phase,
                       const std::string& message = "");
  NodeStatus* MarkPhase(const std::string& name, NodePhase phase, const std::string& message = "");
  NodeStatus* MarkError(const std::string& name, const std::string& message);
  void AddChild(const std::string& parent_name, const std::string& child_name);
  void Touch(NodeStatus& n);
  std::vector<std::string> OutboundNodes(const std::string& id);
  bool Fulfilled(const NodeStatus& n) const;

  // --- templates ---
  Result<std::pair<Json, TmplCtx>> ResolveHolder(const Json& holder, const TmplCtx& ctx);
  // Both take the template by value: callers move in the copy they made, and substitution
  // rewrites it in place.
  Result<Json> ProcessArgs(Json tmpl, const Json& args, const Vars& local, bool validate_only);
  Result<Json> SubstituteParams(Json tmpl, const Vars& local);

  // --- execution ---
  NodeStatus* ExecuteTemplate(std::string node_name, const Json& holder, const TmplCtx& ctx,
                              const Json& args, ExecOpts opts, ExecError* err);
  NodeStatus* ExecuteSteps(const std::string& node_name, const TmplCtx& ctx, const Json& tmpl,
                           const Json& holder, const ExecOpts& opts);
  NodeStatus* ExecuteStepGroup(const Json& group, const std::string& sg_name, const TmplCtx& ctx,
                               const std::string& boundary_id, Scope& scope, bool on_exit,
                               int64_t rank = 0);
  NodeStatus* ExecuteDAG(const std::string& node_name, const TmplCtx& ctx, const Json& tmpl,
                         const Json& holder, const ExecOpts& opts);
  NodeStatus* ExecutePod(const std::string& node_name, const std::string& scope, const Json& tmpl,
                         const Json& holder, const ExecOpts& opts);
  NodeStatus* ExecuteSuspend(const std::string& node_name, const std::string& scope,
                             const Json& tmpl, const Json& holder, const ExecOpts& opts);
  // Returns false while waiting for a backoff.
  bool ProcessRetries(NodeStatus& retry, const Json& strategy, const ExecOpts& opts,
                      std::string* error);
  // Runs the exit hook of a completed step/task; returns true if there is one (and sets *done).
  bool RunOnExitNode(const Json& hook, const NodeStatus& parent, const std::string& boundary_id,
                     const TmplCtx& ctx, const std::string& prefix, const Scope* scope, bool* done);

  void MaybeSaveMemo(NodeStatus& n);

  // --- scope and outputs ---
  void AddNodeToScope(Scope& scope, const std::string& prefix, const NodeStatus& node);
  void AddOutputsToScope(Scope& scope, const std::string& prefix, const Json& outputs);
  void AddInputsToScope(Scope& scope, const Json& tmpl);
  void AddAggregateOutputs(Scope& scope, const std::string& prefix,
                           std::vector<const NodeStatus*> children);
  Result<Json> OutputsFromScope(const Json& tmpl, const Scope& scope);
  Result<Json> ResolveArtifactRef(const Json& art, const Scope& scope);
  void AddOutputsToGlobal(const Json& outputs);
  Result<std::vector<std::pair<std::string, Json>>> ExpandItems(const Json& step,
                                                                const VarScope& vars);
  // ExpandItems in two halves: the items of a loop step (null `items` for a step without a
  // loop), then one item's step, made only when it is needed.
  Result<LoopItems> LoopItemsOf(const Json& step);
  Result<std::pair<std::string, Json>> ExpandItem(const LoopItems& loop, size_t i,
                                                  const VarScope& vars);
  Result<Json> ResolveStepReferences(const Json& step, const Scope& scope);
  void SkippedOutputs(NodeStatus& node, const Json& holder, const TmplCtx& ctx);

  // --- parallelism ---
  ExecError CheckParallelism(const Json& tmpl, NodeStatus* node, const std::string& boundary_id);
  int ActivePods() const { return active_pods_; }
  void CountNodeStart(const NodeStatus& n);
  void EnableCounts();

  // --- misc ---
  TimePoint now() const { return now_; }
  void RequeueAt(TimePoint t);
  const Json& Spec() const { return st_.spec; }
  Vars& Globals() { return globals_; }

  Executor::State& st_;
  Actions& actions_;
  TimePoint now_;
  Vars globals_;
  int active_pods_ = 0;
  std::unordered_map<std::string, int> active_children_;    // boundary id -> active children
  std::unordered_map<std::string, int> unsuccessful_children_;  // boundary id -> failed children
  // Steps/DAG node id -> its processed template, while that node executes (for its children's
  // parallelism and failFast checks).
  std::unordered_map<std::string, const Json*> boundary_templates_;
  // Bumped whenever a node becomes fulfilled, so cached scopes know when to rebuild.
  uint64_t scope_version_ = 0;
};

// Helpers shared by the executor files.
Json ParamList(const Json& io);  // io.parameters or []
const Json* FindByName(const Json& list, std::string_view name);
std::string TemplateType(const Json& tmpl);  // "container", "script", "steps", "dag", ...
bool IsPodTemplate(const Json& tmpl);
std::string IntOrStringToString(const Json& v);

}  // namespace skiff::dag
