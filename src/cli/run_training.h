// `skiff run` for training jobs (PyTorchJob, TFJob, XGBoostJob, PaddleJob, MPIJob).
#pragma once

#include <string>

#include "cli/local_runtime.h"

namespace skiff::cli {

// Follows a submitted training job to Succeeded or Failed, printing replica phases and logs
// (unless `quiet`); `output` "json"/"yaml"/"name" prints the final object. Returns 0 iff it
// Succeeded.
int FollowTraining(LocalRuntime& rt, const std::string& kind, const std::string& ns,
                   const std::string& name, const std::string& output, bool quiet);

}  // namespace skiff::cli
