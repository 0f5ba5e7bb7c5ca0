// The Workflow controller: keeps every unfinished Argo Workflow in the store moving. For each
// one it holds a `dag::Executor` (loaded from the Workflow and its offloaded node records),
// feeds it the state of the Workflow's Pods, runs a reconcile pass, and commits what the pass
// decided in ONE store transaction: the Workflow status, the changed node records, the new Pods,
// the deleted Pods and the memoization cache entries. Because the decision is committed before
// anything acts on it (the kubelet only sees committed Pods), a crash at any point loses nothing
// and repeats nothing: on restart the controller reloads, and the deterministic node and Pod
// names make the next pass idempotent.
//
// Workflow states (numbers are used by tests):
//   1 new (no status.phase) -> Running on the first pass
//   2 Running -> Running while nodes progress (each pass: pods created, nodes updated)
//   3 Running -> Succeeded | Failed | Error when the entrypoint and exit handler are done
//   4 Running -> Failed on spec.shutdown (Stop/Terminate) or activeDeadlineSeconds
// Node statuses live in side records (collection "workflow-nodes", owner = workflow uid), like
// Argo's offloaded node status, so a 10,000-node workflow is updated incrementally.
//
// Threading: runs on one EventLoop; events come from a store Informer.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/event_loop.h"
#include "engine/dag/executor.h"
#include "store/informer.h"
#include "store/store.h"

namespace skiff::controllers {

inline constexpr const char* kNodeRecords = "workflow-nodes";
inline constexpr const char* kMemoizeRecords = "memoize";
inline constexpr const char* kResumeAnnotation = "skiff.dev/resume-request";

class WorkflowController {
 public:
  // Called on the loop thread after a pass that changed a workflow.
  // Called after each pass that changed something; `changed` lists the node ids it changed.
  using Observer = std::function<void(const Json& workflow,
                                      const std::unordered_map<std::string, dag::NodeStatus>& nodes,
                                      const std::vector<std::string>& changed)>;

  WorkflowController(store::Store& store, EventLoop& loop, store::Informer& informer,
                     const Clock& clock = SystemClock::Get());
  ~WorkflowController();
  WorkflowController(const WorkflowController&) = delete;
  WorkflowController& operator=(const WorkflowController&) = delete;

  // Registers with the informer and picks up every unfinished workflow in the store.
  Status Start();
  void SetObserver(Observer observer) { observer_ = std::move(observer); }
  // Called on the loop thread after each reconcile pass with its duration (for metrics).
  void SetPassObserver(std::function<void(Duration)> observer) { pass_observer_ = std::move(observer); }
  size_t active() const { return runs_.size(); }
  // Workflows waiting for a pass; readable from any thread (for metrics).
  size_t queue_depth() const { return queued_.load(std::memory_order_relaxed); }

 private:
  struct Run;
  class Env;

  void OnWorkflowEvent(const store::WatchEvent& ev);
  void OnPodEvent(const store::WatchEvent& ev);
  void Load(Json wf);  // by value: the executor keeps it
  void Schedule(const std::string& uid);
  void ScheduleLater(const std::string& uid, Duration delay);
  void Reconcile(const std::string& uid);

  store::Store& store_;
  EventLoop& loop_;
  store::Informer& informer_;
  const Clock& clock_;
  std::unique_ptr<Env> env_;
  std::unordered_map<std::string, std::unique_ptr<Run>> runs_;         // by uid
  std::unordered_map<std::string, std::string> uid_by_name_;          // "ns/name" -> uid
  Observer observer_;
  std::function<void(Duration)> pass_observer_;
  std::atomic<size_t> queued_{0};
};

// The Workflow with `status.nodes` rebuilt from its node records (what users see).
Result<Json> GetWorkflowWithNodes(store::Store& store, const std::string& ns,
                                  const std::string& name);
Json AttachNodes(store::Store& store, Json workflow);

// Converts a Pod's status (as written by a kubelet) into what the engine needs.
dag::PodResult PodResultFromPod(const Json& pod);

}  // namespace skiff::controllers
