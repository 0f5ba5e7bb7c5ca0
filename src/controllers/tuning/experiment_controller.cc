#include "controllers/tuning/experiment_controller.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <set>
#include <sstream>

#include "common/fs.h"
#include "common/log.h"
#include "controllers/runtime/conditions.h"
#include "controllers/tuning/experiment_internal.h"
#include "controllers/tuning/trial_checkpoint.h"
#include "controllers/tuning/trial_condition.h"
#include "engine/tuning/early_stopping.h"
#include "engine/tuning/rng.h"
#include "engine/tuning/sampler.h"
#include "engine/tuning/search_space.h"

namespace skiff::controllers {

namespace katib {

void SetCondition(Json& status, const std::string& type, const std::string& value,
                  const std::string& reason, const std::string& message, const std::string& now) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) {
    status["conditions"] = Json::array();
  }
  for (auto& c : status["conditions"]) {
    if (StringField(c, "type") != type) continue;
    if (StringField(c, "status") == value && StringField(c, "reason") == reason) return;
    if (StringField(c, "status") != value) c["lastTransitionTime"] = now;
    c["status"] = value;
    c["reason"] = reason;
    c["message"] = message;
    c["lastUpdateTime"] = now;
    return;
  }
  status["conditions"].push_back({{"type", type},
                                  {"status", value},
                                  {"reason", reason},
                                  {"message", message},
                                  {"lastUpdateTime", now},
                                  {"lastTransitionTime", now}});
}

const char* const kTrialFinalConditions[] = {"Succeeded", "Failed", "MetricsUnavailable",
                                             "EarlyStopped", "Killed"};

std::optional<double> ParseDouble(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0') return std::nullopt;
  return v;
}

// The Trial's final condition type, or "" while it runs.
std::string TrialOutcome(const Json& trial) {
  const Json status = trial.value("status", Json::object());
  for (const char* t : kTrialFinalConditions) {
    if (HasTrueCondition(status, t)) return t;
  }
  return "";
}

// Katib's observation: {metrics: [{name, min, max, latest}]} for the metrics reported.
Json Observation(const MetricReports& reports, const std::vector<std::string>& names) {
  Json metrics = Json::array();
  for (const auto& n : names) {
    auto it = reports.find(n);
    if (it == reports.end() || it->second.empty()) continue;
    const std::vector<std::string>& values = it->second;
    std::string lo = values.front(), hi = values.front();
    for (const auto& v : values) {
      if (*ParseDouble(v) < *ParseDouble(lo)) lo = v;
      if (*ParseDouble(v) > *ParseDouble(hi)) hi = v;
    }
    metrics.push_back({{"name", n}, {"min", lo}, {"max", hi}, {"latest", values.back()}});
  }
  return {{"metrics", std::move(metrics)}};
}

}  // namespace katib

namespace {

using katib::Observation;
using katib::ParseDouble;
using katib::SetCondition;
using katib::TrialOutcome;

namespace tuning = ::skiff::tuning;

// Kinds a Trial's run object may have that the controller watches for progress.
constexpr const char* kRunKinds[] = {"Job",        "PyTorchJob", "TFJob",   "XGBoostJob",
                                     "PaddleJob",  "MPIJob",     "Workflow"};

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// Everything the Experiment's spec says, parsed.
struct ExperimentSpec {
  tuning::SearchSpace space;
  tuning::AlgorithmSpec algorithm;
  std::optional<tuning::AlgorithmSpec> early_stopping;
  tuning::Goal goal = tuning::Goal::kMinimize;
  std::string objective_metric;
  std::vector<std::string> metric_names;  // objective first
  std::map<std::string, std::string> strategies;  // name -> min | max | latest
  std::optional<double> goal_value;
  int64_t parallel = 3;
  std::optional<int64_t> max_trials;
  std::optional<int64_t> max_failed;
  Json trial_template;
  CollectorSpec collector;
  std::string resume_policy = "Never";
};

Result<ExperimentSpec> ParseExperimentSpec(const Json& spec) {
  ExperimentSpec out;
  const Json objective = spec.value("objective", Json::object());
  std::string type = StringField(objective, "type");
  if (type == "maximize") {
    out.goal = tuning::Goal::kMaximize;
  } else if (type != "minimize") {
    return InvalidArgument("spec.objective.type: must be minimize or maximize");
  }
  out.objective_metric = StringField(objective, "objectiveMetricName");
  if (out.objective_metric.empty()) {
    return InvalidArgument("spec.objective.objectiveMetricName: required");
  }
  out.metric_names.push_back(out.objective_metric);
  for (const auto& m : objective.value("additionalMetricNames", Json::array())) {
    if (m.is_string()) out.metric_names.push_back(m.get<std::string>());
  }
  for (const auto& s : objective.value("metricStrategies", Json::array())) {
    std::string v = StringField(s, "value");
    if (v != "min" && v != "max" && v != "latest") {
      return InvalidArgument("spec.objective.metricStrategies: value must be min, max or latest");
    }
    out.strategies[StringField(s, "name")] = v;
  }
  for (const auto& n : out.metric_names) {
    if (!out.strategies.count(n)) {
      out.strategies[n] = out.goal == tuning::Goal::kMaximize ? "max" : "min";
    }
  }
  if (const Json* g = FindField(objective, "goal"); g != nullptr && !g->is_null()) {
    if (g->is_number()) {
      out.goal_value = g->get<double>();
    } else if (g->is_string()) {
      out.goal_value = ParseDouble(g->get<std::string>());
      if (!out.goal_value) return InvalidArgument("spec.objective.goal: not a number");
    }
  }
  SKIFF_ASSIGN_OR_RETURN(out.space,
                         tuning::SearchSpace::FromKatibJson(spec.value("parameters", Json::array())));
  if (out.space.size() == 0) return InvalidArgument("spec.parameters: at least one is required");
  SKIFF_ASSIGN_OR_RETURN(out.algorithm,
                         tuning::ParseAlgorithmSpec(spec.value("algorithm", Json::object())));
  if (const Json* e = FindField(spec, "earlyStopping"); e != nullptr && !e->is_null()) {
    SKIFF_ASSIGN_OR_RETURN(out.early_stopping,
                           tuning::ParseAlgorithmSpec(*e, "spec.earlyStopping"));
  }
  out.parallel = IntField(spec, "parallelTrialCount", 3);
  if (out.parallel < 1) return InvalidArgument("spec.parallelTrialCount: must be at least 1");
  if (const Json* m = FindField(spec, "maxTrialCount"); m != nullptr && m->is_number_integer()) {
    out.max_trials = m->get<int64_t>();
  }
  if (const Json* m = FindField(spec, "maxFailedTrialCount");
      m != nullptr && m->is_number_integer()) {
    out.max_failed = m->get<int64_t>();
  }
  out.trial_template = spec.value("trialTemplate", Json::object());
  for (const char* field : {"successCondition", "failureCondition"}) {
    const Json* c = FindField(out.trial_template, field);
    if (c == nullptr || c->is_null()) continue;
    if (!c->is_string()) return InvalidArgument(std::string("spec.trialTemplate.") + field + ": must be a string");
    if (Status st = ValidateTrialCondition(c->get<std::string>()); !st.ok()) {
      return InvalidArgument(std::string("spec.trialTemplate.") + field + ": " + st.message());
    }
  }
  if (!out.trial_template.contains("trialSpec") || !out.trial_template["trialSpec"].is_object()) {
    return InvalidArgument("spec.trialTemplate.trialSpec: required (trialSource configMap is "
                           "not supported)");
  }
  SKIFF_ASSIGN_OR_RETURN(out.collector,
                         ParseCollectorSpec(spec.value("metricsCollectorSpec", Json())));
  out.resume_policy = StringField(spec, "resumePolicy", "Never");
  if (out.resume_policy != "Never" && out.resume_policy != "LongRunning" &&
      out.resume_policy != "FromVolume") {
    return InvalidArgument("spec.resumePolicy: must be Never, LongRunning or FromVolume");
  }
  return out;
}

// Replaces `${...}` placeholders in every string of `v`.
void Substitute(Json& v, const std::map<std::string, std::string>& vars) {
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s.find("${") == std::string::npos) return;
    for (const auto& [k, val] : vars) {
      std::string pat = "${" + k + "}";
      for (size_t pos = s.find(pat); pos != std::string::npos; pos = s.find(pat, pos + val.size())) {
        s.replace(pos, pat.size(), val);
      }
    }
    v = s;
  } else if (v.is_array() || v.is_object()) {
    for (auto& e : v) Substitute(e, vars);
  }
}

// Adds `env` (KATIB_TRIAL_NAME, ...) to every container named `primary` anywhere in `run`.
void AddTrialEnv(Json& run, const std::string& primary,
                 const std::vector<std::pair<std::string, std::string>>& env) {
  ForEachPrimaryContainer(run, primary, [&env](Json&, Json& c) {
    if (!c.contains("env") || !c["env"].is_array()) c["env"] = Json::array();
    for (const auto& [k, val] : env) c["env"].push_back({{"name", k}, {"value", val}});
  });
}

std::string PrimaryContainer(const Json& trial_template) {
  return StringField(trial_template, "primaryContainerName", "training-container");
}

Json ObjectiveJson(const Json& spec) { return spec.value("objective", Json::object()); }

// The Trial for suggestion `assignment`, with its rendered run object in spec.runSpec.
Json NewTrial(const Json& exp, const ExperimentSpec& es, const std::string& trial_name,
              const tuning::Assignment& assignment, const std::map<std::string, std::string>& labels,
              const std::string& server_url, const CheckpointMount& checkpoint) {
  const Json& meta = exp["metadata"];
  const std::string ns = StringField(meta, "namespace");
  const std::string exp_name = StringField(meta, "name");
  Json assignments = Json::array();
  std::map<std::string, std::string> by_name;
  for (const auto& a : assignment) {
    assignments.push_back({{"name", a.name}, {"value", a.value}});
    by_name[a.name] = a.value;
  }
  Json run = es.trial_template["trialSpec"];
  std::map<std::string, std::string> vars;
  for (const auto& p : es.trial_template.value("trialParameters", Json::array())) {
    auto it = by_name.find(StringField(p, "reference"));
    if (it != by_name.end()) vars["trialParameters." + StringField(p, "name")] = it->second;
  }
  vars["trialSpec.Name"] = trial_name;
  vars["trialSpec.Namespace"] = ns;
  vars["trialSpec.Kind"] = StringField(run, "kind");
  vars["trialSpec.APIVersion"] = StringField(run, "apiVersion");
  Substitute(run, vars);
  const std::string primary = PrimaryContainer(es.trial_template);
  std::vector<std::pair<std::string, std::string>> env = {{"KATIB_TRIAL_NAME", trial_name}};
  if (!server_url.empty()) {
    // Where a Trial reports with `curl` (the Push collector); see api/trial_metrics.h.
    env.emplace_back("SKIFF_SERVER", server_url);
    env.emplace_back("KATIB_METRICS_URL", server_url + "/apis/kubeflow.org/v1beta1/namespaces/" +
                                              ns + "/trials/" + trial_name + "/metrics");
  }
  AddTrialEnv(run, primary, env);
  if (es.collector.kind == CollectorKind::kFile) {
    // Katib's webhook mounts a volume at the metrics file's directory; here it also keeps the
    // file after the Pod ends (its private root goes then), for the controller to read.
    AddMetricsVolume(run, primary, es.collector.file_path.substr(0, es.collector.file_path.rfind('/')));
  }
  if (!checkpoint.mount_path.empty()) AddCheckpointVolume(run, primary, checkpoint);
  if (!run.contains("metadata") || !run["metadata"].is_object()) run["metadata"] = Json::object();
  run["metadata"]["name"] = trial_name;
  run["metadata"]["namespace"] = ns;
  Json trial_labels = Json::object();
  trial_labels[kKatibExperimentLabel] = exp_name;
  const Json exp_spec = exp.value("spec", Json::object());
  Json spec = {{"objective", ObjectiveJson(exp_spec)},
               {"parameterAssignments", std::move(assignments)},
               {"runSpec", std::move(run)},
               {"primaryContainerName", primary},
               {"metricsCollector", exp_spec.value("metricsCollectorSpec",
                                                      Json{{"collector", {{"kind", "StdOut"}}}})}};
  if (!labels.empty()) spec["labels"] = labels;
  if (const Json* retain = FindField(es.trial_template, "retain"); retain != nullptr && retain->is_boolean()) {
    spec["retainRun"] = *retain;
  }
  // Katib's Trial carries the template's conditions; unset, the run object's own conditions count.
  for (const char* field : {"successCondition", "failureCondition"}) {
    if (const Json* c = FindField(es.trial_template, field); c != nullptr && c->is_string()) spec[field] = *c;
  }
  return {{"apiVersion", "kubeflow.org/v1beta1"},
          {"kind", "Trial"},
          {"metadata",
           {{"name", trial_name},
            {"namespace", ns},
            {"labels", std::move(trial_labels)},
            {"ownerReferences", Json::array({{{"apiVersion", "kubeflow.org/v1beta1"},
                                              {"kind", "Experiment"},
                                              {"name", exp_name},
                                              {"uid", StringField(meta, "uid")},
                                              {"controller", true},
                                              {"blockOwnerDeletion", true}}})}}},
          {"spec", std::move(spec)}};
}

// The value of metric `name` in a Trial's observation under `strategy`.
std::optional<double> ObservedValue(const Json& trial, const std::string& name,
                                    const std::string& strategy) {
  const Json status = trial.value("status", Json::object());
  const Json obs = status.value("observation", Json::object());
  for (const auto& m : obs.value("metrics", Json::array())) {
    if (StringField(m, "name") != name) continue;
    return ParseDouble(StringField(m, strategy));
  }
  return std::nullopt;
}


std::vector<double> Numbers(const std::vector<std::string>& values) {
  std::vector<double> out;
  for (const auto& v : values) {
    if (auto d = ParseDouble(v)) out.push_back(*d);
  }
  return out;
}

}  // namespace

Status ValidateExperiment(const Json& experiment) {
  SKIFF_ASSIGN_OR_RETURN(ExperimentSpec es,
                         ParseExperimentSpec(experiment.value("spec", Json::object())));
  tuning::SamplerOptions so;
  so.goal = es.goal;
  {
    SKIFF_ASSIGN_OR_RETURN(auto sampler, tuning::MakeSampler(es.algorithm, es.space, so));
    (void)sampler;
  }
  if (es.early_stopping) {
    SKIFF_ASSIGN_OR_RETURN(auto rule, tuning::MakeEarlyStoppingRule(*es.early_stopping, es.goal));
    (void)rule;
  }
  return OkStatus();
}

Result<Json> PlanFirstTrials(const Json& experiment) {
  SKIFF_ASSIGN_OR_RETURN(ExperimentSpec es,
                         ParseExperimentSpec(experiment.value("spec", Json::object())));
  const Json meta = experiment.value("metadata", Json::object());
  const std::string name = StringField(meta, "name");
  tuning::SamplerOptions so;
  so.goal = es.goal;
  so.seed = Fnv1a(StringField(meta, "uid"));
  SKIFF_ASSIGN_OR_RETURN(auto sampler, tuning::MakeSampler(es.algorithm, es.space, so));
  int64_t want = es.parallel;
  if (es.max_trials) want = std::min(want, *es.max_trials);
  SKIFF_ASSIGN_OR_RETURN(tuning::SuggestResult suggested,
                         sampler->Suggest(tuning::History{}, static_cast<int>(want)));
  Json out = Json::array();
  int64_t index = 0;
  for (const auto& s : suggested.suggestions) {
    const std::string trial_name = name + "-" + std::to_string(index++);
    Json trial = NewTrial(experiment, es, trial_name, s.assignment, s.labels, "",
                          CheckpointFor(es.algorithm, name, trial_name));
    Json& spec = trial["spec"];
    Json primary;  // null when no container has primaryContainerName
    ForEachPrimaryContainer(spec["runSpec"], PrimaryContainer(es.trial_template), [&primary](Json&, Json& c) {
      if (primary.is_null()) primary = c;
    });
    out.push_back({{"name", trial_name},
                   {"parameterAssignments", spec["parameterAssignments"]},
                   {"labels", spec.value("labels", Json::object())},
                   {"runSpec", spec["runSpec"]},
                   {"primaryContainer", std::move(primary)}});
  }
  return out;
}

ExperimentController::ExperimentController(store::Store& store, EventLoop& loop,
                                           store::Informer& informer,
                                           ExperimentControllerOptions options, const Clock& clock,
                                           WorkQueueOptions queue_options)
    : store_(store),
      informer_(informer),
      options_(std::move(options)),
      clock_(clock),
      queue_(
          loop, [this](const std::string& key) { return Reconcile(key); }, queue_options) {}

ExperimentController::~ExperimentController() = default;

Status ExperimentController::Start() {
  informer_.AddHandler("Experiment", [this](const store::WatchEvent& ev) {
    std::string key = QueueKey(ev.object);
    if (ev.type == store::EventType::kDeleted) {
      spec_generation_.erase(key);
      queue_.Drop(key);
      return;
    }
    // A write of the status alone (this controller's own, every pass) asks for nothing new;
    // spec changes (generation) and the Trials' events do.
    const int64_t generation = IntField(ev.object["metadata"], "generation", 0);
    auto [it, added] = spec_generation_.emplace(key, generation);
    if (!added && ev.type == store::EventType::kModified && it->second == generation) return;
    it->second = generation;
    queue_.Add(key);
  });
  informer_.AddHandler("Trial", [this](const store::WatchEvent& ev) {
    std::string key = QueueKey(ev.object);
    if (ev.type == store::EventType::kDeleted) {
      queue_.Drop(key);
      trial_outcomes_.erase(key);
      spec_generation_.erase(key);
      OnOwnedEvent(ev, "Experiment");
      return;
    }
    // As for Experiments: the Trial's own status writes (Created/Running, then its outcome) ask
    // for no Trial pass; its run object's events and spec changes do.
    const int64_t generation = IntField(ev.object["metadata"], "generation", 0);
    auto [gen, first] = spec_generation_.emplace(key, generation);
    if (first || ev.type != store::EventType::kModified || gen->second != generation) {
      gen->second = generation;
      queue_.Add(key);
    }
    // An Experiment's pass reads its Trials' outcomes (and the observation written with the
    // outcome), nothing else of them: a Trial's own progress writes (Created, Running) and the
    // Trial the pass itself just created ask for no new pass. Each such pass lists every Trial
    // of the Experiment, and on the one loop all controllers share it delayed the next hop of
    // the Trial being started (two passes per Trial, ~3 ms at 15 Trials).
    const std::string outcome = TrialOutcome(ev.object);
    auto [it, added] = trial_outcomes_.emplace(key, outcome);
    // A Trial first seen unfinished needs no pass: either the pass that created it counted it,
    // or (after a restart) `Start` queued every Experiment anyway.
    const bool changed = added ? !outcome.empty() : it->second != outcome;
    it->second = outcome;
    if (changed) OnOwnedEvent(ev, "Experiment");
  });
  for (const char* kind : kRunKinds) {
    informer_.AddHandler(kind, [this](const store::WatchEvent& ev) { OnOwnedEvent(ev, "Trial"); });
  }
  informer_.AddHandler("Pod", [this](const store::WatchEvent& ev) {
    IndexPod(ev.object, ev.type == store::EventType::kDeleted);
  });
  for (const char* kind : {"Experiment", "Trial"}) {
    SKIFF_ASSIGN_OR_RETURN(store::ListResult list, store_.List(kind, ""));
    for (const auto& obj : list.items) queue_.Add(QueueKey(obj));
  }
  queue_.Start();
  return OkStatus();
}

void ExperimentController::OnOwnedEvent(const store::WatchEvent& ev, const char* owner_kind) {
  const Json& meta = ev.object["metadata"];
  for (const auto& ref : meta.value("ownerReferences", Json::array())) {
    if (StringField(ref, "kind") == owner_kind && ref.value("controller", false)) {
      queue_.Add(QueueKey(owner_kind, StringField(meta, "namespace"), StringField(ref, "name")));
    }
  }
}

ReconcileResult ExperimentController::Reconcile(const std::string& key) {
  std::string kind, ns, name;
  if (!ParseQueueKey(key, &kind, &ns, &name)) return ReconcileResult::Ok();
  if (kind == "Experiment") return ReconcileExperiment(ns, name);
  if (kind == "Trial") return ReconcileTrial(ns, name);
  return ReconcileResult::Ok();
}

ReconcileResult ExperimentController::ReconcileExperiment(const std::string& ns,
                                                          const std::string& name) {
  auto got = store_.Get({"Experiment", ns, name});
  if (!got.ok()) {
    if (got.status().code() == StatusCode::kNotFound) {
      queue_.Drop(QueueKey("Experiment", ns, name));
      return ReconcileResult::Ok();
    }
    return ReconcileResult::Error(got.status());
  }
  const Json& exp = *got;
  const std::string uid = StringField(exp["metadata"], "uid");
  const std::string now = FormatRfc3339(clock_.Now());
  Json status = exp.value("status", Json::object());
  if (!status.is_object()) status = Json::object();
  const bool finished = HasTrueCondition(status, "Succeeded") || HasTrueCondition(status, "Failed");
  auto commit_status = [&](std::vector<store::Write> writes) -> Status {
    if (status != exp.value("status", Json::object())) {
      Json updated = exp;
      updated["status"] = status;
      writes.insert(writes.begin(), store::Write::UpdateStatus(std::move(updated)));
    }
    if (writes.empty()) return OkStatus();
    auto r = store_.Commit(std::move(writes));
    return r.ok() ? OkStatus() : r.status();
  };
  if (finished) {
    // (8) resumePolicy LongRunning / FromVolume: raising maxTrialCount on an Experiment that
    // ended by reaching it continues it, the sampler rebuilt from the kept suggestion records.
    const Json spec = exp.value("spec", Json::object());
    const Json* ended = FindCondition(status, "Succeeded");
    const int64_t done = IntField(status, "trialsSucceeded", 0) + IntField(status, "trialsFailed", 0) +
                         IntField(status, "trialsKilled", 0) + IntField(status, "trialsEarlyStopped", 0);
    const bool restart = StringField(spec, "resumePolicy", "Never") != "Never" &&
                         HasTrueCondition(status, "Succeeded") && ended != nullptr &&
                         StringField(*ended, "reason") == "ExperimentMaxTrialsReached" &&
                         IntField(spec, "maxTrialCount", 0) > done;
    if (!restart) return ReconcileResult::Ok();
    SetCondition(status, "Succeeded", "False", "ExperimentRestarting",
                 "Experiment is restarting because maxTrialCount was raised", now);
    status.erase("completionTime");
    LogInfo("experiment restarting", {{"experiment", ns + "/" + name}});
  }

  if (!status.contains("startTime")) status["startTime"] = now;
  SetCondition(status, "Created", "True", "ExperimentCreated", "Experiment is created", now);
  auto parsed = ParseExperimentSpec(exp.value("spec", Json::object()));
  std::unique_ptr<tuning::Sampler> sampler;
  if (parsed.ok()) {
    tuning::SamplerOptions so;
    so.goal = parsed->goal;
    so.seed = Fnv1a(uid);
    auto s = tuning::MakeSampler(parsed->algorithm, parsed->space, so);
    if (s.ok()) {
      sampler = std::move(*s);
    } else {
      parsed = s.status();
    }
  }
  std::unique_ptr<tuning::EarlyStoppingRule> rule;
  if (parsed.ok() && parsed->early_stopping) {
    auto r = tuning::MakeEarlyStoppingRule(*parsed->early_stopping, parsed->goal);
    if (r.ok()) {
      rule = std::move(*r);
    } else {
      parsed = r.status();
    }
  }
  if (!parsed.ok()) {
    SetCondition(status, "Running", "False", "ExperimentFailed", parsed.status().message(), now);
    SetCondition(status, "Failed", "True", "ExperimentFailed", parsed.status().message(), now);
    status["completionTime"] = now;
    Status s = commit_status({});
    return s.ok() ? ReconcileResult::Ok() : ReconcileResult::Error(s);
  }
  const ExperimentSpec& es = *parsed;

  // The suggestions so far (in creation order) and their Trials.
  auto records = store_.GetRecords(kKatibSuggestionRecords, uid);
  if (!records.ok()) return ReconcileResult::Error(records.status());
  auto listed = store_.List("Trial", ns, {std::string(kKatibExperimentLabel) + "=" + name, "", 0});
  if (!listed.ok()) return ReconcileResult::Error(listed.status());
  std::map<std::string, const Json*> trials;
  for (const auto& t : listed->items) trials[StringField(t["metadata"], "name")] = &t;
  std::vector<std::pair<int64_t, std::string>> order;
  bool exhausted = false;
  for (const auto& [trial_name, r] : *records) {
    if (trial_name == "~state") {
      exhausted = r.value("exhausted", false);
      continue;
    }
    order.emplace_back(IntField(r, "index", 0), trial_name);
  }
  std::sort(order.begin(), order.end());

  tuning::History history;
  int64_t succeeded = 0, failed = 0, unavailable = 0, killed = 0, early = 0;
  Json running_list = Json::array(), succeeded_list = Json::array(), failed_list = Json::array(),
       killed_list = Json::array(), early_list = Json::array(), unavailable_list = Json::array();
  std::vector<std::string> running_names;
  bool goal_reached = false;
  const Json* best = nullptr;
  std::optional<double> best_value;
  const std::string& objective_strategy = es.strategies.at(es.objective_metric);
  for (const auto& [index, trial_name] : order) {
    const Json& rec = records->at(trial_name);
    tuning::Trial ht;
    ht.name = trial_name;
    tuning::Assignment assignment;
    for (const auto& a : rec.value("parameterAssignments", Json::array())) {
      assignment.push_back({StringField(a, "name"), StringField(a, "value")});
    }
    auto point = es.space.Encode(assignment);
    if (point.ok()) ht.point = *point;
    const Json rec_labels = rec.value("labels", Json::object());
    if (rec_labels.is_object()) {
      for (const auto& [k, v] : rec_labels.items()) {
        if (v.is_string()) ht.labels[k] = v.get<std::string>();
      }
    }
    auto it = trials.find(trial_name);
    std::string outcome = it == trials.end() ? "Killed" : TrialOutcome(*it->second);
    if (outcome.empty()) {
      ht.state = tuning::TrialState::kRunning;
      running_list.push_back(trial_name);
      running_names.push_back(trial_name);
    } else if (outcome == "Succeeded" || outcome == "EarlyStopped") {
      auto v = ObservedValue(*it->second, es.objective_metric, objective_strategy);
      ht.state = outcome == "Succeeded" ? tuning::TrialState::kCompleted
                                        : tuning::TrialState::kEarlyStopped;
      ht.objective = v;
      if (rule) {
        auto rep = store_.GetRecord(kKatibTrialReportRecords,
                                    StringField((*it->second)["metadata"], "uid"), "objective");
        if (rep.ok()) {
          std::vector<std::string> texts;
          for (const auto& x : rep->value("values", Json::array())) {
            if (x.is_string()) texts.push_back(x.get<std::string>());
          }
          ht.intermediate = Numbers(texts);
        }
      }
      if (outcome == "Succeeded") {
        ++succeeded;
        succeeded_list.push_back(trial_name);
      } else {
        ++early;
        early_list.push_back(trial_name);
      }
      if (v) {
        bool better = !best_value || (es.goal == tuning::Goal::kMaximize ? *v > *best_value
                                                                         : *v < *best_value);
        if (better) {
          best_value = v;
          best = it->second;
        }
        if (outcome == "Succeeded" && es.goal_value &&
            (es.goal == tuning::Goal::kMaximize ? *v >= *es.goal_value : *v <= *es.goal_value)) {
          goal_reached = true;
        }
      }
    } else {
      ht.state = tuning::TrialState::kFailed;
      if (outcome == "Killed") {
        ++killed;
        killed_list.push_back(trial_name);
      } else {
        ++failed;
        failed_list.push_back(trial_name);
        if (outcome == "MetricsUnavailable") {
          ++unavailable;
          unavailable_list.push_back(trial_name);
        }
      }
    }
    history.push_back(std::move(ht));
  }
  const int64_t total = static_cast<int64_t>(order.size());
  const int64_t completed = succeeded + failed + killed + early;

  // Termination, in Katib's order.
  std::string end_type, end_reason, end_message;
  if (goal_reached) {
    end_type = "Succeeded";
    end_reason = "ExperimentGoalReached";
    end_message = "Experiment has succeeded because Objective goal has reached";
  } else if (es.max_failed && failed > *es.max_failed) {
    end_type = "Failed";
    end_reason = "ExperimentFailed";
    end_message = "Experiment has failed because max failed count has reached";
  } else if (es.max_trials && completed >= *es.max_trials) {
    end_type = "Succeeded";
    end_reason = "ExperimentMaxTrialsReached";
    end_message = "Experiment has succeeded because max trial count has reached";
  } else if (exhausted && running_names.empty()) {
    end_type = "Succeeded";
    end_reason = "ExperimentSuggestionEndReached";
    end_message = "Experiment has succeeded because suggestion service has reached the end";
  }

  std::vector<store::Write> writes;
  std::vector<std::string> kill;
  std::vector<std::pair<std::string, std::string>> run_deletes;  // kind, name
  Duration requeue{0};
  const std::string server_url = options_.server_url ? options_.server_url() : "";
  if (end_type.empty() && rule && !running_names.empty()) {
    // (Trial 5) Early stopping, judged on the objective's reports so far.
    requeue = options_.early_stopping_poll;
    const std::vector<std::string> names = es.metric_names;
    for (auto& ht : history) {
      if (ht.state != tuning::TrialState::kRunning) continue;
      auto it = trials.find(ht.name);
      if (it == trials.end()) continue;
      const Json tspec = it->second->value("spec", Json::object());
      const Json run = tspec.value("runSpec", Json::object());
      auto collected = CollectReports(*it->second, es.collector, names);
      if (!collected.ok()) return ReconcileResult::Error(collected.status());
      MetricReports& reports = *collected;
      ht.intermediate = Numbers(reports[es.objective_metric]);
      if (ht.intermediate.empty() || !rule->ShouldStop(ht, history)) continue;
      Json t = *it->second;
      Json tstatus = t.value("status", Json::object());
      if (!tstatus.is_object()) tstatus = Json::object();
      const std::string msg = "Trial is early stopped";
      SetCondition(tstatus, "Running", "False", "TrialEarlyStopped", msg, now);
      SetCondition(tstatus, "EarlyStopped", "True", "TrialEarlyStopped", msg, now);
      tstatus["completionTime"] = now;
      tstatus["observation"] = Observation(reports, names);
      t["status"] = tstatus;
      writes.push_back(store::Write::UpdateStatus(std::move(t)));
      Json values = Json::array();
      for (const auto& v : reports[es.objective_metric]) values.push_back(v);
      writes.push_back(store::Write::PutRecord(kKatibTrialReportRecords,
                                               StringField((*it->second)["metadata"], "uid"),
                                               "objective", {{"values", values}}));
      run_deletes.emplace_back(StringField(run, "kind"), ht.name);
      LogInfo("trial early stopped", {{"trial", ns + "/" + ht.name}});
    }
  }
  if (!end_type.empty()) {
    SetCondition(status, "Running", "False", end_reason, end_message, now);
    SetCondition(status, end_type, "True", end_reason, end_message, now);
    status["completionTime"] = now;
    kill = running_names;
  } else {
    SetCondition(status, "Running", "True", "ExperimentRunning", "Experiment is running", now);
    int64_t want = es.parallel - static_cast<int64_t>(running_names.size());
    if (es.max_trials) want = std::min(want, *es.max_trials - total);
    if (want > 0 && !exhausted) {
      auto suggested = sampler->Suggest(history, static_cast<int>(want));
      if (!suggested.ok()) return ReconcileResult::Error(suggested.status());
      int64_t index = total;
      for (const auto& s : suggested->suggestions) {
        std::string trial_name = name + "-" + std::to_string(index);
        std::map<std::string, std::string> trial_labels = s.labels;
        if (es.algorithm.name == "pbt") {
          // Katib's PBT labels on the Trial, next to the sampler's own bookkeeping.
          if (auto g = s.labels.find("pbt.generation"); g != s.labels.end()) {
            trial_labels["pbt.suggestion.katib.kubeflow.org/generation"] = g->second;
          }
          if (!s.parent_trial.empty()) trial_labels["pbt.suggestion.katib.kubeflow.org/parent"] = s.parent_trial;
        }
        const CheckpointMount checkpoint = CheckpointFor(es.algorithm, name, trial_name);
        if (!checkpoint.mount_path.empty() && options_.claim_dir) {
          Status ps = PrepareCheckpointDir(options_.claim_dir(ns, checkpoint.claim), checkpoint, name, s.parent_trial);
          if (!ps.ok()) return ReconcileResult::Error(ps);
        }
        Json labels = Json::object();
        for (const auto& [k, v] : trial_labels) labels[k] = v;
        Json assignments = Json::array();
        for (const auto& a : s.assignment) assignments.push_back({{"name", a.name}, {"value", a.value}});
        writes.push_back(store::Write::PutRecord(
            kKatibSuggestionRecords, uid, trial_name,
            {{"index", index}, {"parameterAssignments", assignments}, {"labels", labels}}));
        writes.push_back(store::Write::Create(
            NewTrial(exp, es, trial_name, s.assignment, trial_labels, server_url, checkpoint)));
        running_list.push_back(trial_name);
        ++index;
      }
      if (suggested->exhausted) {
        writes.push_back(store::Write::PutRecord(kKatibSuggestionRecords, uid, "~state",
                                                 {{"exhausted", true}}));
      }
      if (suggested->suggestions.empty() && suggested->exhausted && running_names.empty()) {
        queue_.Add(QueueKey("Experiment", ns, name));  // finish on the next pass
      }
      LogInfo("experiment trials created",
              {{"experiment", ns + "/" + name},
               {"count", std::to_string(suggested->suggestions.size())}});
    }
  }

  status["trials"] = total + static_cast<int64_t>(running_list.size()) -
                     static_cast<int64_t>(running_names.size());
  status["trialsSucceeded"] = succeeded;
  status["trialsFailed"] = failed;
  status["trialsMetricsUnavailable"] = unavailable;
  status["trialsKilled"] = killed + static_cast<int64_t>(kill.size());
  status["trialsEarlyStopped"] = early;
  status["trialsRunning"] = kill.empty() ? static_cast<int64_t>(running_list.size()) : 0;
  status["succeededTrialList"] = succeeded_list;
  status["failedTrialList"] = failed_list;
  status["metricsUnavailableTrialList"] = unavailable_list;
  status["earlyStoppedTrialList"] = early_list;
  if (kill.empty()) {
    status["runningTrialList"] = running_list;
    status["killedTrialList"] = killed_list;
  } else {
    for (const auto& k : kill) killed_list.push_back(k);
    status["runningTrialList"] = Json::array();
    status["killedTrialList"] = killed_list;
  }
  if (best != nullptr) {
    const Json bstatus = best->value("status", Json::object());
    status["currentOptimalTrial"] = {
        {"bestTrialName", StringField((*best)["metadata"], "name")},
        {"parameterAssignments", best->value("spec", Json::object())
                                     .value("parameterAssignments", Json::array())},
        {"observation", bstatus.value("observation", Json::object())}};
  }

  // Trials still running when the Experiment ends are killed.
  for (const auto& trial_name : kill) {
    auto it = trials.find(trial_name);
    if (it == trials.end()) continue;
    Json t = *it->second;
    Json tstatus = t.value("status", Json::object());
    if (!tstatus.is_object()) tstatus = Json::object();
    SetCondition(tstatus, "Running", "False", "TrialKilled", "Trial is killed", now);
    SetCondition(tstatus, "Killed", "True", "TrialKilled", "Trial is killed", now);
    tstatus["completionTime"] = now;
    t["status"] = tstatus;
    writes.push_back(store::Write::UpdateStatus(std::move(t)));
    const Json run = it->second->value("spec", Json::object()).value("runSpec", Json::object());
    run_deletes.emplace_back(StringField(run, "kind"), trial_name);
  }
  // The Suggestion resource mirrors every suggestion made so far (Katib's `status.suggestions`).
  Json suggestions = Json::array();
  for (const auto& [index, trial_name] : order) {
    const Json& rec = records->at(trial_name);
    suggestions.push_back({{"name", trial_name},
                           {"parameterAssignments", rec.value("parameterAssignments", Json::array())},
                           {"labels", rec.value("labels", Json::object())}});
  }
  for (const auto& w : writes) {
    if (w.op != store::Write::Op::kPutRecord || w.collection != kKatibSuggestionRecords ||
        w.record_key == "~state") {
      continue;
    }
    suggestions.push_back({{"name", w.record_key},
                           {"parameterAssignments", w.record.value("parameterAssignments", Json::array())},
                           {"labels", w.record.value("labels", Json::object())}});
  }
  if (Status ms = MirrorSuggestion(exp, status, suggestions, !end_type.empty(), writes); !ms.ok()) {
    return ReconcileResult::Error(ms);
  }
  if (!end_type.empty() && es.resume_policy == "Never") {
    // (9) resumePolicy Never: the suggestion state goes with the finished Experiment (Katib
    // deletes the suggestion service); the Suggestion resource keeps what was suggested.
    writes.push_back(store::Write::DeleteRecords(kKatibSuggestionRecords, uid));
  }
  Status s = commit_status(std::move(writes));
  if (!s.ok()) return ReconcileResult::Error(s);
  for (const auto& [kind, run_name] : run_deletes) {
    Status d = store_.Delete({kind, ns, run_name});
    if (!d.ok() && d.code() != StatusCode::kNotFound) return ReconcileResult::Error(d);
  }
  if (!end_type.empty()) {
    LogInfo("experiment finished", {{"experiment", ns + "/" + name}, {"reason", end_reason}});
  }
  if (requeue > Duration(0)) return ReconcileResult::After(requeue);
  return ReconcileResult::Ok();
}

}  // namespace skiff::controllers
