// Shared by the lineage recorder's files: which objects are finished, and label names.
#pragma once

#include <string>

#include "common/json.h"
#include "controllers/runtime/conditions.h"
#include "controllers/tuning/experiment_controller.h"

namespace skiff::controllers {

inline constexpr const char* kWorkflowLabel = "workflows.argoproj.io/workflow";
inline constexpr const char* kTrialLabel = kKatibTrialLabel;
inline constexpr const char* kExperimentLabel = kKatibExperimentLabel;

inline bool Terminal(const Json& pod) {
  std::string phase = StringField(pod.value("status", Json::object()), "phase");
  return phase == "Succeeded" || phase == "Failed";
}

// Katib's terminal Trial conditions.
inline bool TrialFinished(const Json& trial) {
  const Json status = trial.value("status", Json::object());
  for (const char* c : {"Succeeded", "Failed", "EarlyStopped", "MetricsUnavailable", "Killed"}) {
    if (HasTrueCondition(status, c)) return true;
  }
  return false;
}

}  // namespace skiff::controllers
