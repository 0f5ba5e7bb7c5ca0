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

// An InferenceService's revision: the predictor's latest created revision, else "gen<generation>".
inline std::string RevisionOf(const Json& isvc) {
  const Json status = isvc.value("status", Json::object());
  std::string rev =
      StringField(status.value("components", Json::object()).value("predictor", Json::object()), "latestCreatedRevision");
  if (!rev.empty()) return rev;
  return "gen" + std::to_string(IntField(isvc["metadata"], "generation", 1));
}

}  // namespace skiff::controllers
