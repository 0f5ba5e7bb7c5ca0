// The `batch/v1` Job controller (Katib trials and plain batch work): runs a Job's Pods from
// `spec.template` until enough of them succeed, as Kubernetes' job controller does, and writes
// the Job's `status` the way Kubernetes writes it (startTime, completionTime, active, succeeded,
// failed, ready, completedIndexes, conditions).
//
// Job states (numbers are used by tests):
//   1 new --not suspended--> Running: startTime set, Pods created up to `parallelism`
//   2 new | Running --spec.suspend--> Suspended: active Pods deleted (not counted as failures),
//       condition Suspended=True (JobSuspended)
//   3 Suspended --suspend cleared--> Running: Suspended=False (JobResumed), startTime reset
//   4 Running --a Pod finished--> Running: the Pod is counted once (succeeded or failed), a
//       replacement is created while fewer than `completions` succeeded
//   5 Running --`completions` Pods succeeded (Indexed: every index; no completions: one Pod
//       and none active)--> Complete: SuccessCriteriaMet + Complete (CompletionsReached),
//       completionTime
//   6 Running --failed Pods (plus container restarts under OnFailure) > backoffLimit--> Failed
//       (BackoffLimitExceeded), active Pods deleted
//   7 Running --activeDeadlineSeconds since startTime--> Failed (DeadlineExceeded), active Pods
//       deleted
//   8 Running --a failed Pod matches a podFailurePolicy rule--> FailJob: Failed
//       (PodFailurePolicy); Ignore: not counted, replaced; Count: counted as in 4
//   9 Complete | Failed --ttlSecondsAfterFinished after finishing--> the Job is deleted (its
//       Pods go with it through their ownerReferences)
// Failed Jobs carry FailureTarget beside Failed, as Kubernetes 1.31+ writes them.
//
// Pod names are deterministic, `<job>-<n>` (NonIndexed; n counts every Pod the Job created) and
// `<job>-<index>-<attempt>` (Indexed), so a pass repeated after a crash creates nothing twice.
// Which Pods have been counted is kept in side records (collection `job-pods`, owner = the Job's
// uid, one per Pod: index and state active|Succeeded|Failed|Ignored|Removed), the local
// equivalent of Kubernetes' finalizer-based tracking: a Pod deleted before it finished still
// counts as failed, and a count never changes twice. Each pass commits the Job status, the
// record changes and the new Pods in ONE `Store::Commit` before deleting Pods it decided to stop;
// deletions are repeated on the next pass if a crash interrupted them.
//
// Not implemented: the exponential delay before replacing a failed Pod (replacements start at
// once), `backoffLimitPerIndex`, `successPolicy`, `podReplacementPolicy`, `managedBy`, and
// `spec.selector`/`manualSelector` (a Job's Pods are the ones it created: read by name from its
// tracking records and checked by their `controller-uid` label).
//
// Threading: runs on one EventLoop; events come from a store Informer through a `WorkQueue`.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/event_loop.h"
#include "controllers/runtime/work_queue.h"
#include "store/informer.h"
#include "store/store.h"

namespace skiff::controllers {

inline constexpr const char* kJobPodRecords = "job-pods";

class JobController {
 public:
  JobController(store::Store& store, EventLoop& loop, store::Informer& informer,
                const Clock& clock = SystemClock::Get(), WorkQueueOptions queue_options = {});
  ~JobController();
  JobController(const JobController&) = delete;
  JobController& operator=(const JobController&) = delete;

  // Registers with the informer and queues every Job in the store.
  Status Start();
  // One reconcile pass for "Job/ns/name" (the queue calls it; public for tests).
  ReconcileResult Reconcile(const std::string& key);

 private:
  void OnJobEvent(const store::WatchEvent& ev);
  void OnPodEvent(const store::WatchEvent& ev);

  store::Store& store_;
  store::Informer& informer_;
  const Clock& clock_;
  std::map<std::string, int64_t> generations_;  // Job key -> generation last queued
  WorkQueue queue_;
};

}  // namespace skiff::controllers
