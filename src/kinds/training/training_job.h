// The Kubeflow training kinds — PyTorchJob, TFJob, XGBoostJob, PaddleJob (`kubeflow.org/v1`) and
// MPIJob (`kubeflow.org/v2beta1`) — parsed, validated, defaulted as Training Operator 1.9 and
// MPI Operator v2beta1 default them, and normalized into one `TrainingJob` model that the
// training controller and the environment generators (training_env.h) work on.
//
// `ParseTrainingJob` never throws and never aborts on user input: a bad field is an
// InvalidArgument whose message starts with the field's path, e.g.
// `spec.pytorchReplicaSpecs.Worker.replicas: must be >= 0`.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace skiff::training {

// One replica type of a job ("Master", "Worker", "PS", "Chief", "Evaluator", "Launcher"), with
// the upstream camel-case spelling whatever case the user wrote.
struct ReplicaSpec {
  std::string type;
  int32_t replicas = 1;
  std::string restart_policy;  // Always | OnFailure | Never | ExitCode
  Json pod_template;           // `template` ({metadata, spec}), defaults applied (port added)

  std::string lower() const;  // "master": the replica-type label and the name segment
};

struct ElasticPolicy {
  std::optional<int32_t> min_replicas, max_replicas, rdzv_port, max_restarts, nproc_per_node;
  std::optional<std::string> rdzv_host, rdzv_id;
  std::string rdzv_backend = "c10d";
  std::vector<std::pair<std::string, std::string>> rdzv_conf;  // in order
  bool standalone = false;
};

struct RunPolicy {
  std::string clean_pod_policy;  // All | Running | None
  std::optional<int64_t> ttl_seconds_after_finished;
  std::optional<int64_t> active_deadline_seconds;
  std::optional<int32_t> backoff_limit;
  bool suspend = false;
  std::optional<int32_t> min_available;  // schedulingPolicy.minAvailable
  std::string queue, priority_class;     // schedulingPolicy, recorded only
};

enum class Framework { kPyTorch, kTensorFlow, kXGBoost, kPaddle, kMPI };

struct TrainingJob {
  Framework framework = Framework::kPyTorch;
  std::string kind;         // "PyTorchJob"
  std::string api_version;  // "kubeflow.org/v1"
  std::string name, ns, uid;
  std::vector<ReplicaSpec> replicas;  // in the framework's canonical order (master first)
  RunPolicy run_policy;
  // `metadata.annotations[training.skiff.dev/progress-deadline-seconds]`: a running replica
  // with no new output for this long is stalled (see the training controller).
  std::optional<int64_t> progress_deadline_seconds;

  // Framework defaults: the container whose port and exit code count, and its port.
  std::string default_container;  // pytorch | tensorflow | xgboost | paddle | (MPI: first)
  std::string default_port_name;  // pytorchjob-port | tfjob-port | xgboostjob-port | master
  int32_t default_port = 0;       // 23456 | 2222 | 9999 | 36543 | 0

  // PyTorch.
  std::optional<ElasticPolicy> elastic;
  std::optional<std::string> nproc_per_node;  // "auto" by default, as 1.9
  // TensorFlow.
  bool enable_dynamic_worker = false;
  std::string success_policy;  // "" | "AllWorkers"
  // MPI.
  int32_t slots_per_worker = 1;
  std::string launcher_creation_policy = "AtStartup";  // | WaitForWorkersReady
  std::string mpi_implementation = "OpenMPI";          // | Intel | MPICH
  bool run_launcher_as_worker = false;
  std::string ssh_auth_mount_path = "/root/.ssh";

  const ReplicaSpec* Find(std::string_view type) const;
  int32_t TotalReplicas() const;
  // The replica type whose Pod carries `job-role=master`: Master, Chief or Launcher ("" if none).
  std::string MasterType() const;
};

// The annotation (on the job) that turns on stall detection; a positive number of seconds.
inline constexpr const char* kProgressDeadlineAnnotation =
    "training.skiff.dev/progress-deadline-seconds";

// True for the five kinds above.
bool IsTrainingKind(std::string_view kind);
// Parses, validates and defaults one resource of a training kind. `obj` is the stored
// resource (apiVersion, kind, metadata, spec).
Result<TrainingJob> ParseTrainingJob(const Json& obj);
// The port a replica type's default container declares under the framework's port name, or
// the framework's default port.
int32_t DeclaredPort(const TrainingJob& job, const ReplicaSpec& spec);

}  // namespace skiff::training
