// The one place that wires concrete parts together for commands that run without a server:
// the SQLite store and artifact store under $SKIFF_HOME, an event loop, and — for the process
// that holds the data dir's controller lock — the informer, the local kubelet and the
// controllers (Workflow, batch/v1 Job, CronWorkflow, the Kubeflow training kinds). Only one
// process per data dir runs controllers at a time (flock on `<home>/controller.lock`); others
// submit to the store and follow along.
#pragma once

#include <memory>
#include <string>

#include "backends/local/kubelet.h"
#include "common/event_loop.h"
#include "controllers/batch/job_controller.h"
#include "controllers/metadata/lineage_recorder.h"
#include "controllers/pipeline/workflow_controller.h"
#include "controllers/schedule/cron_controller.h"
#include "controllers/tuning/experiment_controller.h"
#include "controllers/training/training_controller.h"
#include "metadata/artifact_store.h"
#include "metadata/lineage.h"
#include "store/informer.h"
#include "store/store.h"

namespace skiff::cli {

// $SKIFF_HOME, else ~/.skiff.
std::string SkiffHome();

class LocalRuntime {
 public:
  // The store is `<home>/skiff.db` unless `store_spec` names another (a PostgreSQL URL); the
  // data dir still holds logs, artifacts, Pod directories and the controller lock.
  static Result<std::unique_ptr<LocalRuntime>> Open(const std::string& home,
                                                    const std::string& store_spec = "");
  ~LocalRuntime();

  const std::string& home() const { return home_; }
  store::Store& store() { return *store_; }
  metadata::ArtifactStore& artifacts() { return *artifacts_; }
  EventLoop& loop() { return loop_; }

  // Takes the controller lock without waiting; false if another process holds it.
  Result<bool> TryBecomeController();
  bool is_controller() const { return lock_fd_ >= 0; }
  // Starts the informer, kubelet and controllers (requires the lock).
  Status StartControllers();
  controllers::WorkflowController* workflows() { return workflows_.get(); }
  // Lineage beside the store: in the PostgreSQL database when the store is one, else
  // `<home>/lineage.db`; opened on first use.
  Result<metadata::LineageStore*> lineage();
  // Null until `StartControllers`.
  store::Informer* informer() { return informer_.get(); }
  // The API server's URL, for Pods to log metadata to (`skiff server`, once it listens).
  void SetServerUrl(const std::string& url) {
    if (kubelet_) kubelet_->SetServerUrl(url);
  }

 private:
  explicit LocalRuntime(std::string home) : home_(std::move(home)) {}

  std::string home_;
  std::string store_spec_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<metadata::ArtifactStore> artifacts_;
  EventLoop loop_;
  int lock_fd_ = -1;
  std::unique_ptr<store::Informer> informer_;
  std::unique_ptr<local::Kubelet> kubelet_;
  std::unique_ptr<controllers::WorkflowController> workflows_;
  std::unique_ptr<controllers::JobController> jobs_;
  std::unique_ptr<controllers::CronWorkflowController> cron_workflows_;
  std::unique_ptr<controllers::ExperimentController> experiments_;
  std::unique_ptr<controllers::TrainingController> training_;
  std::unique_ptr<metadata::LineageStore> lineage_;
  std::unique_ptr<controllers::LineageRecorder> recorder_;
};

}  // namespace skiff::cli
