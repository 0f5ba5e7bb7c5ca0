// Records lineage for every finished workflow step, with no user code: when a Pod that a
// Workflow created ends (Succeeded or Failed), the recorder writes an execution named after the
// Pod (type `argo.Step`, state COMPLETE or FAILED, its template, node, parameters and exit code
// as properties), the artifacts it read and wrote (by content digest, resolved from the
// artifact keys in its template and outputs annotations), and the contexts it belongs to: the
// run (`skiff.WorkflowRun/<workflow>`) inside its pipeline (`skiff.Pipeline/<workflowTemplate,
// or the workflow's generateName, or its name>`).
//
//   1 Pod event, terminal, not yet recorded -> queued
//   2 queued -> written in one batch every `flush_interval` (one lineage transaction)
//   3 start -> every terminal workflow Pod not yet recorded is queued (catch-up after a crash:
//     lineage is derived data, recomputed from what the store holds). The Pods looked at are
//     those changed after the saved cursor (from the store's event log), or every workflow Pod
//     when there is no cursor or the log no longer reaches back to it.
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
  LineageRecorder(store::Store& store, EventLoop& loop, store::Informer& informer,
                  metadata::LineageStore& lineage, metadata::ArtifactStore& artifacts,
                  Duration flush_interval = std::chrono::milliseconds(50));
  ~LineageRecorder();

  Status Start();
  // Writes what is queued now (tests; also called by the timer).
  Status Flush();

  // The execution a finished workflow Pod stands for (pure apart from resolving artifact keys
  // and reading the Pod's Workflow).
  static metadata::ExecutionWrite ExecutionFor(const Json& pod, const Json* workflow,
                                               const metadata::ArtifactStore& artifacts);

 private:
  void OnPod(const Json& pod);
  // Saves `seen_rv_` as the catch-up cursor when it moved (only while nothing is queued).
  Status SaveCursor();

  store::Store& store_;
  EventLoop& loop_;
  store::Informer& informer_;
  metadata::LineageStore& lineage_;
  metadata::ArtifactStore& artifacts_;
  Duration flush_interval_;
  std::vector<Json> queued_;
  std::unordered_set<std::string> recorded_;  // pod uids written or queued by this process
  // "ns/workflow" -> the workflow's generateName and workflowTemplateRef (null: not found).
  std::unordered_map<std::string, Json> workflow_heads_;
  EventLoop::TimerId timer_ = 0;
  int64_t seen_rv_ = 0;   // the newest Pod event (or listing) this recorder has looked at
  int64_t saved_rv_ = 0;  // the cursor in the store
};

}  // namespace skiff::controllers
