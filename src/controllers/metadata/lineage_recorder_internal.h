// Shared by the lineage recorder's files: which objects are finished, and label names.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "controllers/runtime/conditions.h"
#include "controllers/tuning/experiment_controller.h"
#include "metadata/artifact_store.h"
#include "metadata/lineage.h"

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

// The pipeline a workflow run belongs to: its WorkflowTemplate, else its generateName (without
// the trailing '-' or '.'), else its own name. `workflow` needs only `metadata.generateName`
// and `spec.workflowTemplateRef` (null: the name).
std::string PipelineName(const std::string& workflow_name, const Json* workflow);

// The artifacts of an Argo artifact list (`inputs.artifacts`, `outputs.artifacts`) that resolve
// to blobs in `store`, with their names as the event paths.
void AddArtifacts(const Json* list, const std::string& ns, const metadata::ArtifactStore& store,
                  std::vector<std::pair<metadata::ArtifactRecord, std::string>>* out);

}  // namespace skiff::controllers
