// The CronWorkflow controller (`argoproj.io/v1alpha1` CronWorkflow): starts a Workflow from
// `spec.workflowSpec` at each time `spec.schedule` / `spec.schedules` name (see
// `cron_schedule.h`), in `spec.timezone`, as Argo's cron controller does.
//
// It is level-triggered: each pass computes, from `status.lastScheduledTime` (or the
// CronWorkflow's creation) and the injected `Clock`, the most recent scheduled time `T` that has
// come and not yet run, and then sleeps (`WorkQueue::AddAfter`) until the next one.
//
// CronWorkflow transitions (numbers are used by tests):
//   1 T due and on time (at most `kOnTimeGrace` late) --> a Workflow `<cron>-<unix seconds of T>`
//       is created and `status.lastScheduledTime` = T, in ONE `Store::Commit`
//   2 T missed (the controller was not running, or ran late): started as in 1 only if
//       `startingDeadlineSeconds` is set and T + startingDeadlineSeconds has not passed; older
//       missed times are never started, only the most recent one is considered (Argo's rule)
//   3 concurrencyPolicy Forbid and a child Workflow still runs --> T is skipped
//   4 concurrencyPolicy Replace and children run --> they get `spec.shutdown: Terminate` (the
//       Workflow controller stops them, 4 in workflow_controller.h) in the same commit as 1
//   5 a child finished --> dropped from `status.active`; finished children beyond
//       `successfulJobsHistoryLimit` (default 3) / `failedJobsHistoryLimit` (default 1) deleted,
//       oldest first
//   6 `spec.suspend` --> nothing is scheduled; on resume, missed times follow 2
//   7 a schedule or timezone that does not parse --> condition SpecError=True, nothing runs;
//       fixed --> the condition is removed
// Created Workflows carry label `workflows.argoproj.io/cron-workflow`, annotation
// `workflows.argoproj.io/scheduled-time` (RFC 3339, which `{{workflow.scheduledTime}}` reads),
// `spec.workflowMetadata`'s labels and annotations, and an ownerReference to the CronWorkflow
// (deleting it deletes them). Their deterministic names make a pass repeated after a crash
// create nothing twice. `status.active` lists the running children as object references.
//
// Not implemented: `spec.when`, `stopStrategy`, `status.succeeded`/`failed` counters and
// re-running outstanding times after a schedule change (Argo skips them; so do we, by rule 2).
//
// Threading: runs on one EventLoop; events come from a store Informer through a `WorkQueue`.
#pragma once

#include <string>

#include "common/event_loop.h"
#include "controllers/runtime/work_queue.h"
#include "store/informer.h"
#include "store/store.h"

namespace skiff::controllers {

inline constexpr const char* kCronWorkflowLabel = "workflows.argoproj.io/cron-workflow";
inline constexpr const char* kScheduledTimeAnnotation = "workflows.argoproj.io/scheduled-time";
// How late a scheduled time may be started and still count as on time (rule 1, not 2).
inline constexpr Duration kOnTimeGrace = std::chrono::seconds(10);

class CronWorkflowController {
 public:
  CronWorkflowController(store::Store& store, EventLoop& loop, store::Informer& informer,
                         const Clock& clock = SystemClock::Get(),
                         WorkQueueOptions queue_options = {});
  CronWorkflowController(const CronWorkflowController&) = delete;
  CronWorkflowController& operator=(const CronWorkflowController&) = delete;

  // Registers with the informer and queues every CronWorkflow in the store.
  Status Start();
  // One reconcile pass for "CronWorkflow/ns/name" (the queue calls it; public for tests).
  ReconcileResult Reconcile(const std::string& key);

 private:
  store::Store& store_;
  store::Informer& informer_;
  const Clock& clock_;
  WorkQueue queue_;
};

}  // namespace skiff::controllers
