// Records lineage with no user code, from the store's objects as they change:
//
//   * a workflow Pod that ends (Succeeded or Failed) -> an execution named after the Pod (type
//     `argo.Step`, state COMPLETE or FAILED, its template, node, parameters and exit code as
//     properties), the artifacts it read and wrote (by content digest, resolved from the
//     artifact keys in its template and outputs annotations), in the contexts
//     `skiff.WorkflowRun/<workflow>` inside `skiff.Pipeline/<workflowTemplate, generateName or
//     name>`;
//   * a memoized node of a finished Workflow (a cache hit, no Pod) -> an execution
//     `<workflow>.<node id>` of state CACHED whose property `cachedExecution` names the
//     execution that produced the cached outputs, with the same output artifacts;
//   * a training replica's Pod that ends -> a `training.Replica` execution in the context
//     `kubeflow.<Kind>/<job>` (inside `katib.Trial/<trial>` when a Trial runs the job); what it
//     wrote under `$SKIFF_OUTPUT_DIR` becomes its `Model`/`Checkpoint` outputs;
//   * a Trial's Pod that ends -> a `skiff.Pod` execution in the context `katib.Trial/<trial>`;
//   * a Trial that ends -> a `katib.Trial` execution named after it (parameter assignments and
//     observation as properties, observation metrics as metrics) in `katib.Experiment/<exp>`
//     and `katib.Trial/<trial>`, with the artifacts its Pods read as INPUTs and its parameter
//     assignments as an OUTPUT artifact of type `katib.HyperParameters` (canonical JSON, stored
//     in the artifact store, so a training job can log it as its input);
//   * an InferenceService revision (`status.components.predictor.latestCreatedRevision`, else
//     the generation) -> a `kserve.Deploy` execution `deploy-<isvc>-<revision>` in the context
//     `kserve.InferenceService/<isvc>`, RUNNING until the service is Ready, then COMPLETE, whose
//     INPUT is the model at the predictor's `storageUri` (a local file or directory is hashed
//     into the artifact store; other schemes are recorded by URI);
//   * any other Pod that logged metadata (metadata/pod_log.h) -> a `skiff.Pod` execution.
// Whatever a Pod's user code logged offline is added to its execution.
//
//   1 event for an object that warrants a record, not yet recorded -> queued
//   2 queued -> written in one batch every `flush_interval` (one lineage transaction)
//   3 start -> every finished Pod and Trial and every InferenceService in the store not yet
//     recorded is queued (catch-up after a crash: lineage is derived data, recomputed from what
//     the store holds). The Pods looked at are those changed after the saved cursor (from the
//     store's event log), or every Pod when there is no cursor or the log no longer reaches it.
//   4 the queue is empty after a flush (or a catch-up) -> the cursor (a store record) moves to
//     the newest Pod version seen
//
// Threading: runs on one EventLoop; events come from a store Informer.
#pragma once

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/event_loop.h"
#include "metadata/artifact_store.h"
#include "metadata/lineage.h"
#include "store/informer.h"
#include "store/store.h"

namespace skiff::controllers {

class LineageRecorder {
 public:
  // `home` is the data dir, where Pods' metadata logs are (`<home>/metadata/pods/<uid>`); ""
  // records no user-code logs.
  LineageRecorder(store::Store& store, EventLoop& loop, store::Informer& informer,
                  metadata::LineageStore& lineage, metadata::ArtifactStore& artifacts,
                  std::string home = "", Duration flush_interval = std::chrono::milliseconds(50));
  ~LineageRecorder();

  Status Start();
  // Writes what is queued now (tests; also called by the timer).
  Status Flush();

  // The execution a finished workflow Pod stands for (pure apart from resolving artifact keys
  // and reading the Pod's Workflow).
  static metadata::ExecutionWrite ExecutionFor(const Json& pod, const Json* workflow,
                                               const metadata::ArtifactStore& artifacts);

 private:
  enum class What { kPod, kTrial, kService, kWorkflow };
  struct Pending {
    What what;
    Json object;
  };

  void Enqueue(What what, Json object);
  void OnPod(const Json& pod);
  void OnTrial(const Json& trial);
  void OnService(const Json& isvc);
  void OnWorkflow(const Json& wf);
  // Each appends the executions an object stands for (none when it warrants no record).
  void PodWrites(const Json& pod, std::vector<metadata::ExecutionWrite>* out);
  // The fields of a Pod's Workflow that name its pipeline, read once per workflow.
  const Json* WorkflowHead(const std::string& ns, const std::string& name);
  // Moves the catch-up cursor (a store record) to the newest Pod version seen.
  Status SaveCursor();
  void TrialWrites(const Json& trial, std::vector<metadata::ExecutionWrite>* out);
  void ServiceWrites(const Json& isvc, std::vector<metadata::ExecutionWrite>* out);
  void CachedWrites(const Json& wf, std::vector<metadata::ExecutionWrite>* out);
  // The object owning `obj` by its controller reference (null Json if none or gone).
  Json Owner(const Json& obj, std::string* kind);

  store::Store& store_;
  EventLoop& loop_;
  store::Informer& informer_;
  metadata::LineageStore& lineage_;
  metadata::ArtifactStore& artifacts_;
  std::string home_;
  Duration flush_interval_;
  std::vector<Pending> queued_;
  std::unordered_set<std::string> recorded_;  // keys of objects written or queued by this process
  EventLoop::TimerId timer_ = 0;
  // Only the fields that name a pipeline, per "ns/name": reading a large workflow (its whole
  // spec) again on every flush cost more than recording its steps. Bounded.
  std::unordered_map<std::string, Json> workflow_heads_;
  int64_t seen_rv_ = 0;   // newest Pod version delivered or listed
  int64_t saved_rv_ = 0;  // the cursor in the store
};

}  // namespace skiff::controllers
