// The children the training controller creates for a job, as pure functions of the
// normalized job: one Pod per replica (labels, owner reference, the injected environment,
// restart and gang annotations, hostAliases, MPI's hostfile volume, the checkpoint folder), one
// headless Service per replica (MPI: one for the workers) and MPI's `<job>-config` ConfigMap.
// Internal to controllers/training (training_controller.cc); no I/O.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "common/json.h"
#include "controllers/training/training_controller.h"
#include "kinds/training/training_env.h"
#include "kinds/training/training_job.h"

namespace skiff::controllers::training_pods {

inline constexpr const char* kJobNameLabel = "training.kubeflow.org/job-name";
inline constexpr const char* kOperatorNameLabel = "training.kubeflow.org/operator-name";
inline constexpr const char* kReplicaTypeLabel = "training.kubeflow.org/replica-type";
inline constexpr const char* kReplicaIndexLabel = "training.kubeflow.org/replica-index";
inline constexpr const char* kJobRoleLabel = "training.kubeflow.org/job-role";
inline constexpr const char* kRestartAnnotation = "training.skiff.dev/restart";
inline constexpr const char* kGangAnnotation = "scheduling.skiff.dev/gang";
inline constexpr const char* kGangSizeAnnotation = "scheduling.skiff.dev/gang-size";

// What every child of one pass is built from.
struct Plan {
  const training::TrainingJob& job;
  const training::Network& net;
  const TrainingControllerOptions& options;
  int32_t gang_size;  // 0: no gang annotations
};

// Replica `index` of `r`, created for the `restarts`-th time (recorded restarts).
Json NewPod(const Plan& p, const training::ReplicaSpec& r, int32_t index, int64_t restarts);
Json NewService(const Plan& p, const training::ReplicaSpec& r, int32_t index);
Json NewMpiService(const training::TrainingJob& job);
Json NewMpiConfigMap(const training::TrainingJob& job, const training::Network& net);

}  // namespace skiff::controllers::training_pods
