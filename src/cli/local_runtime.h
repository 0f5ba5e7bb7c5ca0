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
#include "controllers/serving/isvc_controller.h"
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
  // Before `StartControllers`: the per-revision request counts the gateway reports (shared by
  // the gateway and the InferenceService controller; owned by the caller) and the server's own
  // address for transformers ("127.0.0.1:8080"). Without them InferenceServices still run, but
  // no traffic is ever counted.
  void SetServing(serving::RevisionStats* stats, std::string gateway_address) {
    serving_stats_ = stats;
    gateway_address_ = std::move(gateway_address);
  }
  // Starts the informer, kubelet and controllers (requires the lock).
  Status StartControllers();
  // Null until `StartControllers`.
  controllers::InferenceServiceController* inference_services() { return isvcs_.get(); }
  controllers::WorkflowController* workflows() { return workflows_.get(); }
  // Lineage beside the store: in the PostgreSQL database when the store is one, else
  // `<home>/lineage.db`; opened on first use.
  Result<metadata::LineageStore*> lineage();
  // Null until `StartControllers`.
  store::Informer* informer() { return informer_.get(); }
  // The server's URL ("http://127.0.0.1:PORT"), set once it listens and before the loop runs:
  // Trials push metrics there and Pods log metadata to it.
  void set_server_url(std::string url) {
    if (kubelet_) kubelet_->SetServerUrl(url);
    server_url_ = std::move(url);
  }

 private:
  explicit LocalRuntime(std::string home) : home_(std::move(home)) {}

  std::string home_;
  std::string store_spec_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<metadata::ArtifactStore> artifacts_;
  EventLoop loop_;
  int lock_fd_ = -1;
  std::string server_url_;
  std::unique_ptr<store::Informer> informer_;
  std::unique_ptr<local::Kubelet> kubelet_;
  std::unique_ptr<controllers::WorkflowController> workflows_;
  std::unique_ptr<controllers::JobController> jobs_;
  std::unique_ptr<controllers::CronWorkflowController> cron_workflows_;
  std::unique_ptr<controllers::ExperimentController> experiments_;
  std::unique_ptr<controllers::TrainingController> training_;
  serving::RevisionStats* serving_stats_ = nullptr;
  std::string gateway_address_;
  std::unique_ptr<controllers::InferenceServiceController> isvcs_;
  std::unique_ptr<metadata::LineageStore> lineage_;
  std::unique_ptr<controllers::LineageRecorder> recorder_;
};

}  // namespace skiff::cli
