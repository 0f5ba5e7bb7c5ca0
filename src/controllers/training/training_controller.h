// The training controller: one reconcile loop for all Kubeflow training kinds (PyTorchJob,
// TFJob, XGBoostJob, PaddleJob, MPIJob). Each job is normalized into a `training::TrainingJob`
// and run as one Pod per replica, `<job>-<type>-<index>` (MPI's launcher: `<job>-launcher`),
// plus headless Services (one per replica; MPI: one `<job>` Service for the workers) and, for
// MPIJob, the `<job>-config` ConfigMap holding the hostfile, all owned by the job
// (`ownerReferences`, controller: true). Pods carry `training.kubeflow.org/{job-name,
// operator-name,replica-type,replica-index}` and `job-role=master` on the master, chief or
// launcher, the environment of `kinds/training/training_env.h`, hostAliases mapping every
// replica host name to 127.0.0.1 (local network) and the gang annotations
// `scheduling.skiff.dev/gang{,-size}` (minAvailable, else all replicas).
//
// Job states (numbers are used by tests):
//   1 new --first pass--> Created: condition Created (<Kind>Created), ports allocated and
//       recorded, startTime, every Pod and Service created in ONE commit
//   2 Created --the leading replica (master/chief/launcher, else workers) runs--> Running
//   3 Running --a replica's Pod failed and its restartPolicy allows a retry (OnFailure, Always,
//       ExitCode with exit code >= 128)--> Restarting: the restart is recorded (it counts
//       against backoffLimit), the Pod deleted, and recreated on the next pass
//   4 Running --a replica failed for good (Never; ExitCode with exit code 1-127; a Pod that
//       failed before any container exited, whatever the policy)--> Failed
//       (<Kind>Failed, "... has failed because N <Type> replica(s) failed.")
//   5 Running --restarts (recorded recreations + container restarts) reach backoffLimit-->
//       Failed ("... reached the specified backoff limit")
//   6 Running --activeDeadlineSeconds since startTime--> Failed ("... active longer than
//       specified deadline")
//   7 Running --the kind's success rule holds--> Succeeded (<Kind>Succeeded): TFJob chief or
//       master, else worker 0 (all workers with successPolicy AllWorkers); PyTorchJob master,
//       else all workers (any worker when elastic); XGBoostJob master; PaddleJob master, else
//       all workers; MPIJob launcher
//   8 Succeeded | Failed --> Pods (and their Services) deleted per cleanPodPolicy: All, Running
//       (Running and Pending ones), None
//   9 Succeeded | Failed --ttlSecondsAfterFinished--> the job is deleted (children cascade)
//  10 any unfinished --runPolicy.suspend--> Suspended (<Kind>Suspended): every Pod and Service
//       deleted (not counted as failures); --suspend cleared--> Suspended=False
//       (<Kind>Resumed), startTime reset, Pods recreated
//  11 Created | Running | Restarting --a replica type's `replicas` changed (e.g. scaling an
//       elastic PyTorchJob's workers within [minReplicas, maxReplicas])--> Pods (and Services)
//       with an index no longer below `replicas` deleted, the new indices created (without gang
//       annotations: they join replicas that already run); the environment of the others is
//       unchanged (elastic jobs see `PET_NNODES=min:max`)
//  12 Running --a running replica printed nothing (stdout/stderr) for the job's annotation
//       `training.skiff.dev/progress-deadline-seconds` since its last output or its start-->
//       its Pod is deleted (killed) and: Restarting, recreated, counted against backoffLimit
//       (OnFailure, Always, ExitCode: as if it exited 137); or Failed ("... replica <pod> made
//       no progress for Ns.") under Never
// MPIJob with launcherCreationPolicy WaitForWorkersReady creates its launcher once every
// worker is Running.
//
// Each pass commits the status, the side records (collection `training-replicas`, owner = the
// job's uid, one per replica: allocated port and recorded restarts) and the new children in
// ONE `Store::Commit`, then deletes what it decided to stop; a deletion a crash interrupted is
// redone on the next pass (a Pod whose `training.skiff.dev/restart` annotation is older than
// its record is stale). Names are deterministic, so a pass repeated after a crash creates
// nothing twice.
//
// Threading: runs on one EventLoop; events come from a store Informer through a `WorkQueue`.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "controllers/runtime/work_queue.h"
#include "kinds/training/training_job.h"
#include "store/informer.h"
#include "store/store.h"

namespace skiff::controllers {

inline constexpr const char* kTrainingReplicaRecords = "training-replicas";

struct TrainingControllerOptions {
  WorkQueueOptions queue;
  // Local network: every replica gets its own allocated port and addresses are 127.0.0.1
  // (or, with `loopback` false, upstream host names resolved through hostAliases). Off: the
  // upstream values (Kubernetes DNS names, declared ports).
  bool local_network = true;
  bool loopback = true;
  // Returns a free TCP port not in `taken`; `hint` makes the choice deterministic per replica.
  // Default: probes 127.0.0.1 with bind(2) from a hash-derived start in [20000, 60000).
  std::function<Result<int32_t>(uint64_t hint, const std::set<int32_t>& taken)> allocate_port;
  // Local only: when set, every replica gets the job's checkpoint folder
  // `<checkpoint_root>/<ns>/<job>/checkpoints` (a hostPath volume mounted at the same path in
  // every container, so it is the same path with and without mount namespaces) and its path in
  // `SKIFF_CHECKPOINT_DIR`. The folder outlives the job like a PVC: a job applied again under
  // the same name resumes from it. Empty: nothing is added (Kubernetes).
  std::string checkpoint_root;
  // The files a container's output goes to (its stdout and stderr logs), by Pod uid and
  // container name. Stall detection (`training.skiff.dev/progress-deadline-seconds` on the job)
  // reads their modification times; unset, the annotation has no effect.
  std::function<std::vector<std::string>(const std::string& pod_uid, const std::string& container)>
      output_files;
};

inline constexpr const char* kCheckpointDirEnv = "SKIFF_CHECKPOINT_DIR";
inline constexpr const char* kCheckpointVolume = "skiff-checkpoints";

class TrainingController {
 public:
  TrainingController(store::Store& store, EventLoop& loop, store::Informer& informer,
                     const Clock& clock = SystemClock::Get(),
                     TrainingControllerOptions options = {});
  ~TrainingController();
  TrainingController(const TrainingController&) = delete;
  TrainingController& operator=(const TrainingController&) = delete;

  // Registers with the informer and queues every training job in the store.
  Status Start();
  // One reconcile pass for "<Kind>/ns/name" (the queue calls it; public for tests).
  ReconcileResult Reconcile(const std::string& key);

 private:
  void OnJobEvent(const store::WatchEvent& ev);
  std::optional<TimePoint> ProgressDue(const training::TrainingJob& job, const Json& pod) const;
  void OnChildEvent(const store::WatchEvent& ev);

  store::Store& store_;
  store::Informer& informer_;
  const Clock& clock_;
  TrainingControllerOptions options_;
  WorkQueue queue_;
  std::set<int32_t> handed_out_;  // ports allocated by this process
};

// The default port allocator (see `TrainingControllerOptions::allocate_port`).
Result<int32_t> AllocateLocalPort(uint64_t hint, const std::set<int32_t>& taken);

}  // namespace skiff::controllers
