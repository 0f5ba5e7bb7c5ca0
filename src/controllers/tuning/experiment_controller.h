// The Katib Experiment controller (`kubeflow.org/v1beta1` Experiment and Trial, Katib v1beta1
// semantics): asks the tuning engine (`engine/tuning`) for parameter assignments, runs each as a
// Trial whose run object is the Experiment's `trialTemplate.trialSpec`, collects the objective
// with the Experiment's metrics collector, and finishes the Experiment in Katib's order.
//
// Experiment states (numbers are used by tests):
//   1 new --spec parses--> Running: conditions Created (ExperimentCreated) and Running
//       (ExperimentRunning), startTime
//   2 new --bad spec (search space, algorithm, objective)--> Failed (ExperimentFailed), with
//       the field's path in the message
//   3 Running --fewer than parallelTrialCount (default 3) Trials running and fewer than
//       maxTrialCount created--> Running: the sampler is asked for the difference; each answer
//       becomes a suggestion record (collection `katib-suggestions`, owner = the Experiment's
//       uid, key = the Trial's name, value = index, parameterAssignments, labels) and a Trial
//       `<experiment>-<index>` owned by the Experiment, in ONE `Store::Commit` with the status.
//       The sampler's history is rebuilt from those records and the Trials' states on every
//       pass, so a restarted controller continues where it stopped and never repeats a Trial.
//   4 Running --a Succeeded Trial's objective reaches `objective.goal` (<= for minimize, >= for
//       maximize)--> Succeeded (ExperimentGoalReached)
//   5 Running --failed Trials (Failed, MetricsUnavailable) > maxFailedTrialCount (Katib
//       compares with >)--> Failed (ExperimentFailed)
//   6 Running --finished Trials >= maxTrialCount--> Succeeded (ExperimentMaxTrialsReached)
//   7 Running --the sampler is exhausted and no Trial runs--> Succeeded
//       (ExperimentSuggestionEndReached)
//   On 4-7 Running becomes False, completionTime is set, and Trials still running are Killed
//   (their run objects deleted). Checks run in that order (Katib's).
//   8 Succeeded (ExperimentMaxTrialsReached) --resumePolicy LongRunning or FromVolume, and
//       maxTrialCount raised above the finished Trials--> Running: Succeeded=False (reason
//       ExperimentRestarting), completionTime removed; the next pass (3) continues the sampler
//       from the kept suggestion records.
//   9 on 4-7 with resumePolicy Never (the default): the suggestion records are deleted in the
//       same commit (Katib deletes the suggestion service); 8 never applies.
//   Every pass keeps a `Suggestion` named like the Experiment (owned by it): spec.algorithm,
//   spec.requests, status.suggestionCount, status.suggestions [{name (the Trial),
//   parameterAssignments, labels}], conditions Created, Running (False and Succeeded=True once
//   a Never Experiment ends), written in the same commit as the Experiment's status.
//   Status: trials, trialsSucceeded, trialsFailed (includes MetricsUnavailable),
//   trialsMetricsUnavailable, trialsKilled, trialsEarlyStopped, trialsRunning, the trial name
//   lists, and currentOptimalTrial {bestTrialName, parameterAssignments, observation}.
//
// Trial states:
//   1 new --> Created (TrialCreated) + Running (TrialRunning), startTime; its run object
//       (`spec.runSpec`, named like the Trial, owned by it) created in the same commit
//   2 Running --run object Complete/Succeeded=True--> the reports are collected per
//       `metricsCollectorSpec.collector.kind` (metrics_collector.h): StdOut, the primary
//       container's log with the filter (default Katib's `([\w|-]+)\s*=\s*(number)`); File,
//       the file at `source.fileSystemPath.path` in each Pod (TEXT like StdOut, or JSON lines),
//       found through `pod_file_path` in the `metrics-volume` emptyDir the Trial's primary
//       container was given at the file's directory; Push, the observation logs Trials POST to
//       the server (`KATIB_METRICS_URL`, `SKIFF_SERVER` in the primary container's env);
//       PrometheusMetric, the observation logs scraped from `source.httpGet` every
//       `scrape_interval` while the Trial runs (and once more at the end); None, nothing.
//       Objective found (or None): Succeeded (TrialSucceeded) with status.observation.metrics
//       [{name, min, max, latest}]; missing: MetricsUnavailable (TrialMetricsUnavailable)
//   3 Running --run object Failed=True, or deleted--> Failed (TrialFailed)
//   4 Running --its Experiment finished--> Killed (TrialKilled), run object deleted
//   5 Running --the Experiment's `earlyStopping` rule (medianstop, truemedianstop, asha; see
//       engine/tuning/early_stopping.h) stops it, judged on the objective's reports so far in
//       the primary container's log, read every `early_stopping_poll` while Trials run-->
//       EarlyStopped (TrialEarlyStopped) with the observation so far, run object deleted
//   Running becomes False on 2-5; completionTime is set. A finished Trial's objective reports
//   are kept (collection `katib-trial-reports`, owner = the Trial's uid) as the history the
//   early-stopping rules compare with.
//
// Trial run objects: `${trialParameters.<name>}` (by `trialParameters[].reference`),
// `${trialSpec.Name}`, `${trialSpec.Namespace}`, `${trialSpec.Kind}`, `${trialSpec.APIVersion}`
// are substituted in every string of `trialSpec`; env `KATIB_TRIAL_NAME` is added to every
// container named `primaryContainerName` (default `training-container`) wherever it sits in the
// run object, so any kind works (a `batch/v1` Job is run by the Job controller). Metrics come
// from the Pods owned by the run object (or labelled `job-name` / `training.kubeflow.org/
// job-name` with its name); the log file is located by `ExperimentControllerOptions::log_path`.
//
// Metric strategies default as Katib's webhook does: every metric without one takes the
// objective's (min for minimize, max for maximize).
//
// A run object is done when the template's `successCondition` / `failureCondition` (GJSON paths,
// trial_condition.h) hold on it; without them, when its Complete/Succeeded/Failed condition is
// True. With the algorithm setting `suggestion_trial_dir`, each Trial's checkpoint directory is
// prepared (a copy of its parent's for PBT) and mounted as Katib's webhook does. A finished
// Trial's run object (with its Pods and their logs) is deleted kRunCleanupDelay later, as Katib
// deletes it, unless `trialTemplate.retain` is true (Trial `spec.retainRun`).
//
// Not implemented: the TensorFlowEvent and Custom collectors (the Experiment fails, naming
// `spec.metricsCollectorSpec.collector.kind`). FromVolume behaves as LongRunning: the
// suggestion state is in the store, which is on disk already.
//
// Threading: runs on one EventLoop; events come from a store Informer through a `WorkQueue`.
#pragma once

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "controllers/runtime/work_queue.h"
#include "controllers/tuning/metrics_collector.h"
#include "store/informer.h"
#include "store/store.h"

namespace skiff::controllers {

inline constexpr const char* kKatibSuggestionRecords = "katib-suggestions";
inline constexpr const char* kKatibTrialReportRecords = "katib-trial-reports";
inline constexpr const char* kKatibExperimentLabel = "katib.kubeflow.org/experiment";
inline constexpr const char* kKatibTrialLabel = "katib.kubeflow.org/trial";
// How long a finished Trial's run object stays (unless `trialTemplate.retain`).
inline constexpr Duration kRunCleanupDelay = std::chrono::seconds(2);

struct ExperimentControllerOptions {
  // Where the log of `container` in the Pod with `pod_uid` is (the kubelet's LogPath).
  std::function<std::string(const std::string& pod_uid, const std::string& container)> log_path;
  // Where the file a Pod's containers see at `path` is on the host (the File collector).
  std::function<std::string(const Json& pod, const std::string& path)> pod_file_path;
  // The base URL of the server Trials push metrics to ("http://127.0.0.1:8080"), read when a
  // Trial is created; null or "" = no Push endpoint (no `KATIB_METRICS_URL` in the Trial).
  std::function<std::string()> server_url;
  // GET http://host:port/path with a short timeout, returning the body (PrometheusMetric).
  std::function<Result<std::string>(const std::string& host, int port, const std::string& path)>
      http_get;
  // The host directory of PersistentVolumeClaim `claim` in `ns` (the kubelet's layout). With
  // the algorithm setting `suggestion_trial_dir`, each Trial's checkpoint directory is made
  // there before the Trial is created (a copy of its parent's for PBT); null = the kubelet
  // makes it empty when the Pod starts.
  std::function<std::string(const std::string& ns, const std::string& claim)> claim_dir;
  // How often running Trials' logs are read for early stopping.
  Duration early_stopping_poll = std::chrono::seconds(2);
};

// Checks an Experiment's spec as the controller will (search space, algorithm, early stopping,
// objective, collector, resumePolicy, trialTemplate); the error names the field's path.
Status ValidateExperiment(const Json& experiment);

// The first Trials the controller creates for `experiment` (as many as `parallelTrialCount`,
// at most `maxTrialCount`): the same sampler, seed (the Experiment's uid) and template rendering,
// from an empty history. Each item: {name, parameterAssignments, labels, runSpec,
// primaryContainer (the first container named primaryContainerName, or null)}. For
// `skiff describe` of an Experiment whose trials cannot run here.
Result<Json> PlanFirstTrials(const Json& experiment);

class ExperimentController {
 public:
  ExperimentController(store::Store& store, EventLoop& loop, store::Informer& informer,
                       ExperimentControllerOptions options, const Clock& clock = SystemClock::Get(),
                       WorkQueueOptions queue_options = {});
  ~ExperimentController();
  ExperimentController(const ExperimentController&) = delete;
  ExperimentController& operator=(const ExperimentController&) = delete;

  // Registers with the informer and queues every Experiment and Trial in the store.
  Status Start();
  // One pass for "Experiment/ns/name" or "Trial/ns/name" (public for tests).
  ReconcileResult Reconcile(const std::string& key);

 private:
  ReconcileResult ReconcileExperiment(const std::string& ns, const std::string& name);
  ReconcileResult ReconcileTrial(const std::string& ns, const std::string& name);
  ReconcileResult CleanUpRun(const Json& trial);
  void OnOwnedEvent(const store::WatchEvent& ev, const char* owner_kind);
  // The Pods of a Trial's run object (succeeded Pods only when there are any), oldest first.
  // Defined in trials.cc, with `ReconcileTrial` and `IndexPod`.
  Result<std::vector<Json>> RunPods(const std::string& ns, const std::string& run_kind,
                                    const std::string& run_name);
  // The Trial's metric reports so far, from its collector (metrics_collector.h): the primary
  // container's log (StdOut), the metrics file (File), or the observation logs pushed to the
  // server or scraped (Push, PrometheusMetric). Defined in trials.cc.
  Result<MetricReports> CollectReports(const Json& trial, const CollectorSpec& collector,
                                       const std::vector<std::string>& names);
  // PrometheusMetric: scrapes the Trial's running Pods once, keeping what it finds as an
  // observation log record. Defined in trials.cc.
  Status Scrape(const Json& trial, const CollectorSpec& collector,
                const std::vector<std::string>& names);
  // The `Suggestion` mirroring an Experiment's suggestions (writes appended to `writes` when
  // it changed). Defined in trials.cc.
  Status MirrorSuggestion(const Json& exp, const Json& exp_status, const Json& suggestions,
                          bool finished, std::vector<store::Write>& writes);

  // Pods by the name of the run object they belong to ("ns/name": owner reference or the
  // `job-name` / `training.kubeflow.org/job-name` label), kept from Pod events so that
  // collecting a Trial's metrics reads its own Pods rather than every Pod of the namespace.
  void IndexPod(const Json& pod, bool deleted);

  store::Store& store_;
  store::Informer& informer_;
  std::map<std::string, std::set<std::string>> pods_by_run_;
  bool pods_indexed_ = false;  // the Pods listed once (`RunPods`), beyond the events since `Start`
  std::map<std::string, int64_t> spec_generation_;  // Experiment/Trial key -> generation queued
  // Trial key -> its outcome (`TrialOutcome`, "" while it runs) as of its last event: the
  // Experiment is queued when that changes, not for every write of the Trial.
  std::map<std::string, std::string> trial_outcomes_;
  ExperimentControllerOptions options_;
  const Clock& clock_;
  WorkQueue queue_;
};

}  // namespace skiff::controllers
