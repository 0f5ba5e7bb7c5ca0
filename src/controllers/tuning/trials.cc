// The Experiment controller's Trial side: the Trial state machine (`ReconcileTrial`, see the
// header), the Pods of a Trial's run object, the collectors (where a Trial's metrics come from,
// per `metricsCollectorSpec.collector.kind`), and the `Suggestion` kept per Experiment.
#include <algorithm>

#include "common/fs.h"
#include "common/log.h"
#include "controllers/runtime/conditions.h"
#include "controllers/tuning/experiment_controller.h"
#include "controllers/tuning/experiment_internal.h"
#include "controllers/tuning/trial_condition.h"

namespace skiff::controllers {

using katib::Observation;
using katib::SetCondition;
using katib::TrialOutcome;

void ExperimentController::IndexPod(const Json& pod, bool deleted) {
  const Json& meta = pod["metadata"];
  const std::string ns = StringField(meta, "namespace");
  const std::string name = StringField(meta, "name");
  std::set<std::string> runs;
  for (const auto& ref : meta.value("ownerReferences", Json::array())) runs.insert(StringField(ref, "name"));
  const Json labels = meta.value("labels", Json::object());
  for (const char* l : {"job-name", "training.kubeflow.org/job-name"}) {
    if (std::string v = StringField(labels, l); !v.empty()) runs.insert(v);
  }
  for (const auto& run : runs) {
    const std::string key = ns + "/" + run;
    if (!deleted) {
      pods_by_run_[key].insert(name);
      continue;
    }
    auto it = pods_by_run_.find(key);
    if (it == pods_by_run_.end()) continue;
    it->second.erase(name);
    if (it->second.empty()) pods_by_run_.erase(it);
  }
}

Result<std::vector<Json>> ExperimentController::RunPods(const std::string& ns,
                                                        const std::string& run_kind,
                                                        const std::string& run_name) {
  if (!pods_indexed_) {
    // The Pods that existed before this controller started, read when first needed: a store
    // full of pipeline steps costs a `skiff run` of a Workflow nothing. Later Pods arrive as
    // events (indexed since `Start`).
    SKIFF_ASSIGN_OR_RETURN(store::ListResult pods, store_.List("Pod", ""));
    for (const auto& p : pods.items) IndexPod(p, false);
    pods_indexed_ = true;
  }
  std::vector<Json> candidates;
  if (auto it = pods_by_run_.find(ns + "/" + run_name); it != pods_by_run_.end()) {
    for (const auto& pod_name : it->second) {
      auto p = store_.Get({"Pod", ns, pod_name});
      if (p.ok()) {
        candidates.push_back(std::move(*p));
      } else if (p.status().code() != StatusCode::kNotFound) {
        return p.status();
      }
    }
  }
  std::vector<Json> mine;
  for (auto& p : candidates) {
    const Json& pm = p["metadata"];
    bool owned = false;
    for (const auto& ref : pm.value("ownerReferences", Json::array())) {
      if (StringField(ref, "name") == run_name && StringField(ref, "kind") == run_kind) owned = true;
    }
    const Json labels = pm.value("labels", Json::object());
    if (StringField(labels, "job-name") == run_name ||
        StringField(labels, "training.kubeflow.org/job-name") == run_name) {
      owned = true;
    }
    if (owned) mine.push_back(std::move(p));
  }
  // Prefer Pods that succeeded (a Job's failed attempts printed partial metrics).
  std::vector<Json> chosen;
  for (const Json& p : mine) {
    if (StringField(p.value("status", Json::object()), "phase") == "Succeeded") chosen.push_back(p);
  }
  if (chosen.empty()) chosen = std::move(mine);
  std::stable_sort(chosen.begin(), chosen.end(), [](const Json& a, const Json& b) {
    return StringField(a["metadata"], "creationTimestamp") <
           StringField(b["metadata"], "creationTimestamp");
  });
  return chosen;
}

ReconcileResult ExperimentController::ReconcileTrial(const std::string& ns,
                                                     const std::string& name) {
  auto got = store_.Get({"Trial", ns, name});
  if (!got.ok()) {
    if (got.status().code() == StatusCode::kNotFound) {
      queue_.Drop(QueueKey("Trial", ns, name));
      return ReconcileResult::Ok();
    }
    return ReconcileResult::Error(got.status());
  }
  const Json& trial = *got;
  if (!TrialOutcome(trial).empty()) return CleanUpRun(trial);
  const std::string now = FormatRfc3339(clock_.Now());
  const Json spec = trial.value("spec", Json::object());
  Json status = trial.value("status", Json::object());
  if (!status.is_object()) status = Json::object();
  Json run = spec.value("runSpec", Json::object());
  const std::string run_kind = StringField(run, "kind");
  std::vector<store::Write> writes;
  Duration requeue{0};

  auto finish = [&](const std::string& type, const std::string& reason, const std::string& msg) {
    SetCondition(status, "Running", "False", reason, msg, now);
    SetCondition(status, type, "True", reason, msg, now);
    status["completionTime"] = now;
  };

  auto existing = store_.Get({run_kind, ns, name});
  if (!existing.ok() && existing.status().code() != StatusCode::kNotFound) {
    return ReconcileResult::Error(existing.status());
  }
  if (!existing.ok()) {
    if (HasTrueCondition(status, "Created")) {
      finish("Failed", "TrialFailed", "Trial's " + run_kind + " was deleted");
    } else {
      // (1) Create the run object, owned by the Trial, with the Trial's status.
      Json& meta = run["metadata"];
      meta["ownerReferences"] = Json::array({{{"apiVersion", "kubeflow.org/v1beta1"},
                                              {"kind", "Trial"},
                                              {"name", name},
                                              {"uid", StringField(trial["metadata"], "uid")},
                                              {"controller", true},
                                              {"blockOwnerDeletion", true}}});
      if (!meta.contains("labels") || !meta["labels"].is_object()) meta["labels"] = Json::object();
      meta["labels"][kKatibTrialLabel] = name;
      const Json tlabels = trial["metadata"].value("labels", Json::object());
      if (tlabels.contains(kKatibExperimentLabel)) {
        meta["labels"][kKatibExperimentLabel] = tlabels[kKatibExperimentLabel];
      }
      status["startTime"] = now;
      SetCondition(status, "Created", "True", "TrialCreated", "Trial is created", now);
      SetCondition(status, "Running", "True", "TrialRunning", "Trial is running", now);
      writes.push_back(store::Write::Create(std::move(run)));
    }
  } else {
    const Json rstatus = existing->value("status", Json::object());
    // The template's successCondition / failureCondition when it set them (GJSON paths on the
    // run object, as Katib evaluates them); otherwise the run object's conditions.
    const std::string success_if = StringField(spec, "successCondition");
    const std::string failure_if = StringField(spec, "failureCondition");
    const bool failed = failure_if.empty() ? HasTrueCondition(rstatus, "Failed")
                                           : TrialConditionHolds(*existing, failure_if);
    const bool succeeded = success_if.empty()
                               ? HasTrueCondition(rstatus, "Complete") || HasTrueCondition(rstatus, "Succeeded")
                               : TrialConditionHolds(*existing, success_if);
    if (failed) {
      finish("Failed", "TrialFailed", "Trial has failed");  // (3)
    } else if (succeeded) {
      // (2) Collect metrics from the primary container of the Pods the run object owns.
      std::vector<std::string> names;
      const Json objective = spec.value("objective", Json::object());
      const std::string objective_name = StringField(objective, "objectiveMetricName");
      names.push_back(objective_name);
      for (const auto& m : objective.value("additionalMetricNames", Json::array())) {
        if (m.is_string()) names.push_back(m.get<std::string>());
      }
      auto collector = ParseCollectorSpec(spec.value("metricsCollector", Json()),
                                          "spec.metricsCollector");
      if (!collector.ok()) return ReconcileResult::Error(collector.status());
      if (collector->kind == CollectorKind::kPrometheusMetric) {
        // At exit: whatever still answers (usually nothing once the process is gone).
        Scrape(trial, *collector, names).IgnoreError();
      }
      auto collected = CollectReports(trial, *collector, names);
      if (!collected.ok()) return ReconcileResult::Error(collected.status());
      MetricReports& reports = *collected;
      if (collector->kind == CollectorKind::kNone) {
        finish("Succeeded", "TrialSucceeded", "Trial has succeeded (metrics collector None)");
      } else if (!reports.count(objective_name)) {
        finish("MetricsUnavailable", "TrialMetricsUnavailable",
               "Metrics are not available: " + objective_name + " was not reported");
      } else {
        status["observation"] = Observation(reports, names);
        Json values = Json::array();
        for (const auto& v : reports[objective_name]) values.push_back(v);
        writes.push_back(store::Write::PutRecord(kKatibTrialReportRecords,
                                                 StringField(trial["metadata"], "uid"),
                                                 "objective", {{"values", values}}));
        finish("Succeeded", "TrialSucceeded", "Trial has succeeded");
      }
    } else {
      if (!HasTrueCondition(status, "Running")) {
        SetCondition(status, "Running", "True", "TrialRunning", "Trial is running", now);
      }
      auto collector = ParseCollectorSpec(spec.value("metricsCollector", Json()),
                                          "spec.metricsCollector");
      if (collector.ok() && collector->kind == CollectorKind::kPrometheusMetric) {
        // PrometheusMetric: scraped every `scrape_interval` while the Trial runs.
        const Json objective = spec.value("objective", Json::object());
        std::vector<std::string> names = {StringField(objective, "objectiveMetricName")};
        for (const auto& m : objective.value("additionalMetricNames", Json::array())) {
          if (m.is_string()) names.push_back(m.get<std::string>());
        }
        Scrape(trial, *collector, names).IgnoreError();
        requeue = collector->scrape_interval;
      }
    }
  }
  if (status != trial.value("status", Json::object())) {
    Json updated = trial;
    updated["status"] = status;
    writes.insert(writes.begin(), store::Write::UpdateStatus(std::move(updated)));
  }
  if (!writes.empty()) {
    auto r = store_.Commit(std::move(writes));
    if (!r.ok()) return ReconcileResult::Error(r.status());
  }
  if (status.contains("completionTime") && !spec.value("retainRun", false)) {
    requeue = kRunCleanupDelay;  // then CleanUpRun deletes the run object
  }
  if (requeue > Duration(0)) return ReconcileResult::After(requeue);
  return ReconcileResult::Ok();
}

// Katib deletes a finished Trial's run object (and so its Pods) unless the template says
// `retain: true` (Trial `spec.retainRun`). Here it goes kRunCleanupDelay after the Trial
// finished: the lineage recorder reads the run's Pods when it records the Trial, a moment after
// the Trial's final status is committed (a timer on the same loop, due well before this one).
ReconcileResult ExperimentController::CleanUpRun(const Json& trial) {
  const Json spec = trial.value("spec", Json::object());
  if (spec.value("retainRun", false)) return ReconcileResult::Ok();
  const Json run = spec.value("runSpec", Json::object());
  const std::string ns = StringField(trial["metadata"], "namespace");
  const store::ObjectKey key{StringField(run, "kind"), ns, StringField(trial["metadata"], "name")};
  auto existing = store_.Get(key);
  if (!existing.ok()) {
    if (existing.status().code() == StatusCode::kNotFound) return ReconcileResult::Ok();
    return ReconcileResult::Error(existing.status());
  }
  auto done = ParseRfc3339(StringField(trial.value("status", Json::object()), "completionTime"));
  if (done.ok()) {
    const Duration left = kRunCleanupDelay - (clock_.Now() - *done);
    if (left > Duration(0)) return ReconcileResult::After(left);
  }
  Status st = store_.Delete(key);
  if (!st.ok() && st.code() != StatusCode::kNotFound) return ReconcileResult::Error(st);
  return ReconcileResult::Ok();
}


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
