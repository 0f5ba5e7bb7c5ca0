// The Experiment controller's collectors (where a Trial's metrics come from, per
// `metricsCollectorSpec.collector.kind`) and the `Suggestion` resource it keeps per Experiment.
#include "common/fs.h"
#include "common/log.h"
#include "controllers/tuning/experiment_controller.h"
#include "controllers/tuning/katib_conditions.h"

namespace skiff::controllers {

Result<MetricReports> ExperimentController::CollectReports(const Json& trial,
                                                           const CollectorSpec& collector,
                                                           const std::vector<std::string>& names) {
  const Json& meta = trial["metadata"];
  const std::string ns = StringField(meta, "namespace");
  const std::string name = StringField(meta, "name");
  const Json spec = trial.value("spec", Json::object());
  switch (collector.kind) {
    case CollectorKind::kPush:
    case CollectorKind::kPrometheusMetric: {
      SKIFF_ASSIGN_OR_RETURN(auto records,
                             store_.GetRecords(kKatibObservationRecords, StringField(meta, "uid")));
      return ReportsFromObservationLogs(records, names);
    }
    case CollectorKind::kNone:
      return MetricReports{};
    default:
      break;
  }
  const std::string run_kind = StringField(spec.value("runSpec", Json::object()), "kind");
  SKIFF_ASSIGN_OR_RETURN(std::vector<Json> pods, RunPods(ns, run_kind, name));
  std::string text;
  auto append = [&text](const Result<std::string>& part) {
    if (!part.ok() || part->empty()) return;
    text += *part;
    if (text.back() != '\n') text += '\n';
  };
  if (collector.kind == CollectorKind::kFile) {
    // Read from each Pod's filesystem (the `metrics-volume` emptyDir the Trial was given).
    if (!options_.pod_file_path) return MetricReports{};
    for (const Json& p : pods) append(ReadFile(options_.pod_file_path(p, collector.file_path)));
    return collector.format == FileFormat::kJson ? ParseMetricsJsonLines(text, names)
                                                 : ParseMetricsLog(text, names, collector.filters);
  }
  // StdOut: the primary container's log, as the kubelet captured it.
  if (!options_.log_path) return MetricReports{};
  const std::string primary = StringField(spec, "primaryContainerName", "training-container");
  for (const Json& p : pods) append(ReadFile(options_.log_path(StringField(p["metadata"], "uid"), primary)));
  return ParseMetricsLog(text, names, collector.filters);
}

Status ExperimentController::Scrape(const Json& trial, const CollectorSpec& collector,
                                    const std::vector<std::string>& names) {
  if (!options_.http_get) return OkStatus();
  const Json& meta = trial["metadata"];
  const Json spec = trial.value("spec", Json::object());
  const std::string run_kind = StringField(spec.value("runSpec", Json::object()), "kind");
  SKIFF_ASSIGN_OR_RETURN(std::vector<Json> pods,
                         RunPods(StringField(meta, "namespace"), run_kind, StringField(meta, "name")));
  if (pods.empty()) return OkStatus();
  // Local Pods share the host's network: one scrape covers the Trial.
  SKIFF_ASSIGN_OR_RETURN(std::string body,
                         options_.http_get(collector.host, collector.port, collector.http_path));
  MetricReports reports = ParsePrometheusText(body, names);
  if (reports.empty()) return OkStatus();
  Json metrics = Json::object();
  for (const auto& [n, values] : reports) metrics[n] = values.back();
  const TimePoint now = clock_.Now();
  auto r = store_.Commit({store::Write::PutRecord(
      kKatibObservationRecords, StringField(meta, "uid"), ObservationKey(now),
      {{"timestamp", FormatRfc3339(now)}, {"metrics", std::move(metrics)}})});
  return r.ok() ? OkStatus() : r.status();
}

Status ExperimentController::MirrorSuggestion(const Json& exp, const Json& exp_status,
                                              const Json& suggestions, bool finished,
                                              std::vector<store::Write>& writes) {
  const Json& meta = exp["metadata"];
  const std::string ns = StringField(meta, "namespace");
  const std::string name = StringField(meta, "name");
  const Json exp_spec = exp.value("spec", Json::object());
  const std::string policy = StringField(exp_spec, "resumePolicy", "Never");
  auto got = store_.Get({"Suggestion", ns, name});
  if (!got.ok() && got.status().code() != StatusCode::kNotFound) return got.status();
  Json spec = {{"algorithm", exp_spec.value("algorithm", Json::object())},
               {"requests", suggestions.size()},
               {"resumePolicy", policy}};
  if (exp_spec.contains("earlyStopping")) spec["earlyStopping"] = exp_spec["earlyStopping"];
  Json status = got.ok() ? got->value("status", Json::object()) : Json::object();
  if (!status.is_object()) status = Json::object();
  const Json before = status;
  const std::string now = FormatRfc3339(clock_.Now());
  if (!status.contains("startTime")) status["startTime"] = StringField(exp_status, "startTime", now);
  katib::SetCondition(status, "Created", "True", "SuggestionCreated", "Suggestion is created", now);
  if (finished && policy == "Never") {
    // Katib ends the suggestion service with the Experiment unless it may be resumed.
    katib::SetCondition(status, "Running", "False", "SuggestionSucceeded",
                        "Suggestion is succeeded", now);
    katib::SetCondition(status, "Succeeded", "True", "SuggestionSucceeded",
                        "Suggestion is succeeded", now);
    if (!status.contains("completionTime")) status["completionTime"] = now;
  } else {
    katib::SetCondition(status, "Running", "True", "SuggestionRunning", "Suggestion is running",
                        now);
  }
  status["suggestionCount"] = suggestions.size();
  status["suggestions"] = suggestions;
  if (got.ok()) {
    if (status == before && got->value("spec", Json::object()) == spec) return OkStatus();
    Json updated = *got;
    updated["spec"] = std::move(spec);
    updated["status"] = std::move(status);
    writes.push_back(store::Write::UpdateWithStatus(std::move(updated)));
    return OkStatus();
  }
  writes.push_back(store::Write::Create(
      {{"apiVersion", "kubeflow.org/v1beta1"},
       {"kind", "Suggestion"},
       {"metadata",
        {{"name", name},
         {"namespace", ns},
         {"labels", {{kKatibExperimentLabel, name}}},
         {"ownerReferences", Json::array({{{"apiVersion", "kubeflow.org/v1beta1"},
                                           {"kind", "Experiment"},
                                           {"name", name},
                                           {"uid", StringField(meta, "uid")},
                                           {"controller", true},
                                           {"blockOwnerDeletion", true}}})}}},
       {"spec", std::move(spec)},
       {"status", std::move(status)}}));
  return OkStatus();
}

}  // namespace skiff::controllers
