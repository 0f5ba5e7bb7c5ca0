// Helpers shared by the Experiment controller's files (experiment_controller.cc, trials.cc);
// not part of its interface.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json.h"
#include "controllers/tuning/metrics_collector.h"

namespace skiff::controllers::katib {

// Katib's condition rule: a condition's `lastTransitionTime` moves only when its status flips;
// `lastUpdateTime` on any change.
void SetCondition(Json& status, const std::string& type, const std::string& value,
                  const std::string& reason, const std::string& message, const std::string& now);
// The Trial's final condition type (Succeeded, Failed, MetricsUnavailable, EarlyStopped,
// Killed), or "" while it runs.
std::string TrialOutcome(const Json& trial);
// Katib's observation: {metrics: [{name, min, max, latest}]} for the metrics reported.
Json Observation(const MetricReports& reports, const std::vector<std::string>& names);
// A whole string as a double; nullopt if it is not one.
std::optional<double> ParseDouble(const std::string& s);

}  // namespace skiff::controllers::katib
