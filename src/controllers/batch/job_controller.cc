#include "controllers/batch/job_controller.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "common/log.h"
#include "controllers/runtime/conditions.h"
#include "controllers/runtime/queued_object.h"

namespace skiff::controllers {

namespace {

constexpr const char* kJobNameLabel = "job-name";
constexpr const char* kJobNameLabelNew = "batch.kubernetes.io/job-name";
constexpr const char* kControllerUidLabel = "controller-uid";
constexpr const char* kControllerUidLabelNew = "batch.kubernetes.io/controller-uid";
constexpr const char* kIndexKey = "batch.kubernetes.io/job-completion-index";

// One Pod the Job created, as its side record remembers it.
struct TrackedPod {
  int64_t index = -1;  // Indexed mode only
  std::string state;   // active | Succeeded | Failed | Ignored | Removed
  Json ToJson() const { return {{"index", index}, {"state", state}}; }
};

// Sets condition `type`, keeping lastTransitionTime when its status does not change.
void SetCondition(Json& status, const std::string& type, const std::string& value,
                  const std::string& reason, const std::string& message, const std::string& now) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) {
    status["conditions"] = Json::array();
  }
  for (auto& c : status["conditions"]) {
    if (StringField(c, "type") != type) continue;
    if (StringField(c, "status") != value) c["lastTransitionTime"] = now;
    c["status"] = value;
    c["reason"] = reason;
    c["message"] = message;
    c["lastProbeTime"] = c.value("lastProbeTime", now);
    return;
  }
  status["conditions"].push_back({{"type", type},
                                  {"status", value},
                                  {"reason", reason},
                                  {"message", message},
                                  {"lastProbeTime", now},
                                  {"lastTransitionTime", now}});
}

bool PodTerminal(const Json& pod, std::string* phase) {
  *phase = StringField(pod.value("status", Json::object()), "phase");
  return *phase == "Succeeded" || *phase == "Failed";
}

bool PodReady(const Json& pod) {
  const Json& st = pod.value("status", Json::object());
  return StringField(st, "phase") == "Running" && HasTrueCondition(st, "Ready");
}

int64_t PodRestarts(const Json& pod) {
  int64_t n = 0;
  const Json& st = pod.value("status", Json::object());
  for (const char* field : {"initContainerStatuses", "containerStatuses"}) {
    for (const auto& c : st.value(field, Json::array())) n += IntField(c, "restartCount", 0);
  }
  return n;
}

// "0-2,4,6-7" from a set of indexes, as `status.completedIndexes` is written.
std::string FormatIndexes(const std::set<int64_t>& indexes) {
  std::string out;
  auto it = indexes.begin();
  while (it != indexes.end()) {
    int64_t first = *it, last = *it;
    for (++it; it != indexes.end() && *it == last + 1; ++it) last = *it;
    if (!out.empty()) out += ",";
    out += std::to_string(first);
    if (last > first) out += "-" + std::to_string(last);
  }
  return out;
}

// The first `podFailurePolicy` rule a failed Pod matches: its action ("" for none) and, for
// FailJob, Kubernetes' message.
std::string MatchPodFailurePolicy(const Json& job, const Json& pod, std::string* message) {
  const Json spec = job.value("spec", Json::object());
  const Json* policy = FindField(spec, "podFailurePolicy");
  if (policy == nullptr) return "";
  const Json& meta = pod["metadata"];
  std::string pod_ref = StringField(meta, "namespace") + "/" + StringField(meta, "name");
  const Json& st = pod.value("status", Json::object());
  const Json rules = policy->value("rules", Json::array());
  for (size_t i = 0; i < rules.size(); ++i) {
    const Json& rule = rules[i];
    std::string action = StringField(rule, "action");
    if (const Json* on = FindField(rule, "onExitCodes"); on != nullptr) {
      std::string container = StringField(*on, "containerName");
      std::string op = StringField(*on, "operator", "In");
      std::set<int64_t> values;
      for (const auto& v : on->value("values", Json::array())) {
        if (v.is_number_integer()) values.insert(v.get<int64_t>());
      }
      for (const char* field : {"initContainerStatuses", "containerStatuses"}) {
        for (const auto& c : st.value(field, Json::array())) {
          if (!container.empty() && StringField(c, "name") != container) continue;
          const Json state = c.value("state", Json::object());
          const Json* term = FindField(state, "terminated");
          if (term == nullptr) continue;
          int64_t code = IntField(*term, "exitCode", 0);
          if (code == 0) continue;  // Kubernetes never matches a successful container
          bool in = values.count(code) != 0;
          if ((op == "In") != in) continue;
          *message = "Container " + StringField(c, "name") + " for pod " + pod_ref +
                     " failed with exit code " + std::to_string(code) + " matching " + action +
                     " rule at index " + std::to_string(i);
          return action;
        }
      }
    }
    for (const auto& pc : rule.value("onPodConditions", Json::array())) {
      std::string type = StringField(pc, "type");
      std::string want = StringField(pc, "status", "True");
      const Json* c = FindCondition(st, type);
      if (c != nullptr && StringField(*c, "status") == want) {
        *message = "Pod " + pod_ref + " has condition " + type + " matching " + action +
                   " rule at index " + std::to_string(i);
        return action;
      }
    }
  }
  return "";
}

Json NewPod(const Json& job, const std::string& name, int64_t index) {
  const Json& meta = job["metadata"];
  const Json tmpl = job.value("spec", Json::object()).value("template", Json::object());
  std::string job_name = StringField(meta, "name");
  std::string uid = StringField(meta, "uid");
  Json pod_meta = tmpl.value("metadata", Json::object());
  pod_meta["name"] = name;
  pod_meta["namespace"] = StringField(meta, "namespace");
  pod_meta.erase("generateName");
  if (!pod_meta.contains("labels") || !pod_meta["labels"].is_object())
    pod_meta["labels"] = Json::object();
  pod_meta["labels"][kJobNameLabel] = job_name;
  pod_meta["labels"][kJobNameLabelNew] = job_name;
  pod_meta["labels"][kControllerUidLabel] = uid;
  pod_meta["labels"][kControllerUidLabelNew] = uid;
  Json spec = tmpl.value("spec", Json::object());
  if (StringField(spec, "restartPolicy").empty()) spec["restartPolicy"] = "Never";
  if (index >= 0) {
    std::string idx = std::to_string(index);
    if (!pod_meta.contains("annotations") || !pod_meta["annotations"].is_object()) {
      pod_meta["annotations"] = Json::object();
    }
    pod_meta["annotations"][kIndexKey] = idx;
    pod_meta["labels"][kIndexKey] = idx;
    for (const char* field : {"initContainers", "containers"}) {
      if (!spec.contains(field) || !spec[field].is_array()) continue;
      for (auto& c : spec[field]) {
        if (!c.contains("env") || !c["env"].is_array()) c["env"] = Json::array();
        c["env"].push_back({{"name", "JOB_COMPLETION_INDEX"}, {"value", idx}});
      }
    }
  }
  pod_meta["ownerReferences"] = Json::array({{{"apiVersion", "batch/v1"},
                                              {"kind", "Job"},
                                              {"name", job_name},
                                              {"uid", uid},
                                              {"controller", true},
                                              {"blockOwnerDeletion", true}}});
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", std::move(pod_meta)},
          {"spec", std::move(spec)}};
}

}  // namespace

JobController::JobController(store::Store& store, EventLoop& loop, store::Informer& informer,
                             const Clock& clock, WorkQueueOptions queue_options)
    : store_(store),
      informer_(informer),
      clock_(clock),
      queue_(
          loop, [this](const std::string& key) { return Reconcile(key); }, queue_options) {}

JobController::~JobController() = default;

Status JobController::Start() {
  informer_.AddHandler("Job", [this](const store::WatchEvent& ev) { OnJobEvent(ev); });
  informer_.AddHandler("Pod", [this](const store::WatchEvent& ev) { OnPodEvent(ev); });
  SKIFF_ASSIGN_OR_RETURN(store::ListResult list, store_.List("Job", ""));
  for (const auto& job : list.items) queue_.Add(QueueKey(job));
  queue_.Start();
  return OkStatus();
}

void JobController::OnJobEvent(const store::WatchEvent& ev) {
  std::string key = QueueKey(ev.object);
  if (ev.type == store::EventType::kDeleted) {
    queue_.Drop(key);
    generations_.erase(key);
    return;
  }
  // A pass reads the Job's spec and its Pods; a write of the status alone (this controller's
  // own, nearly every pass) asks for nothing, and such a pass sat between a Job finishing and
  // its Trial seeing it on the shared loop. Spec changes (suspend, parallelism) bump generation.
  const int64_t generation = IntField(ev.object["metadata"], "generation", 0);
  auto [it, added] = generations_.emplace(key, generation);
  if (!added && ev.type == store::EventType::kModified && it->second == generation) return;
  it->second = generation;
  queue_.Add(key);
}

void JobController::OnPodEvent(const store::WatchEvent& ev) {
  const Json& meta = ev.object["metadata"];
  // A Pod added without a phase is one a pass of this controller just created and counted as
  // active: it changes nothing until the kubelet reports on it.
  if (ev.type == store::EventType::kAdded &&
      StringField(ev.object.value("status", Json::object()), "phase").empty()) {
    return;
  }
  for (const auto& ref : meta.value("ownerReferences", Json::array())) {
    if (StringField(ref, "kind") == "Job" && ref.value("controller", false)) {
      queue_.Add(QueueKey("Job", StringField(meta, "namespace"), StringField(ref, "name")));
    }
  }
}

ReconcileResult JobController::Reconcile(const std::string& key) {
  auto got = GetQueuedObject(store_, queue_, key);
  if (!got.ok()) return ReconcileResult::Error(got.status());
  if (!got->has_value()) return ReconcileResult::Ok();
  const Json& job = **got;
  const std::string ns = StringField(job["metadata"], "namespace");
  const std::string name = StringField(job["metadata"], "name");
  const Json& meta = job["metadata"];
  const Json spec = job.value("spec", Json::object());
  const std::string uid = StringField(meta, "uid");
  const TimePoint now_tp = clock_.Now();
  const std::string now = FormatRfc3339(now_tp);
  Json status = job.value("status", Json::object());
  if (!status.is_object()) status = Json::object();
  const bool finished = HasTrueCondition(status, "Complete") || HasTrueCondition(status, "Failed");

  // The Pods this Job created, and the Pods in the store.
  auto records = store_.GetRecords(kJobPodRecords, uid);
  if (!records.ok()) return ReconcileResult::Error(records.status());
  std::map<std::string, TrackedPod> tracked;
  for (const auto& [pod_name, r] : *records) {
    tracked[pod_name] = {IntField(r, "index", -1), StringField(r, "state")};
  }
  // Only the Pods still to be counted (active) or stopped (Removed) are read, each by its name:
  // a listing by label parsed every Pod of the namespace on every pass, which grew with the
  // namespace (60 Katib Trials: 60 Pods parsed per pass). A Pod found under a tracked name but
  // with another Job's uid (the name reused after a delete) counts as gone.
  std::vector<Json> read;
  read.reserve(tracked.size());
  for (const auto& [pod_name, t] : tracked) {
    if (t.state != "active" && t.state != "Removed") continue;
    auto p = store_.Get({"Pod", ns, pod_name});
    if (!p.ok()) {
      if (p.status().code() != StatusCode::kNotFound) return ReconcileResult::Error(p.status());
      continue;
    }
    const Json labels = (*p)["metadata"].value("labels", Json::object());
    if (StringField(labels, kControllerUidLabel) != uid) continue;
    read.push_back(std::move(*p));
  }
  std::map<std::string, const Json*> pods;
  for (const auto& p : read) pods[StringField(p["metadata"], "name")] = &p;

  std::vector<store::Write> writes;
  std::vector<std::string> to_delete;
  auto set_state = [&](const std::string& pod_name, const std::string& state) {
    TrackedPod& t = tracked[pod_name];
    t.state = state;
    writes.push_back(store::Write::PutRecord(kJobPodRecords, uid, pod_name, t.ToJson()));
  };

  // (4, 8) Count the Pods that finished since the last pass, each exactly once.
  std::string fail_reason, fail_message;
  for (auto& [pod_name, t] : tracked) {
    if (t.state != "active") continue;
    auto it = pods.find(pod_name);
    if (it == pods.end()) {
      set_state(pod_name, "Failed");  // deleted before it finished
      continue;
    }
    std::string phase;
    if (!PodTerminal(*it->second, &phase)) continue;
    if (phase == "Succeeded") {
      set_state(pod_name, "Succeeded");
      continue;
    }
    std::string msg;
    std::string action = MatchPodFailurePolicy(job, *it->second, &msg);
    if (action == "Ignore") {
      set_state(pod_name, "Ignored");
    } else {
      set_state(pod_name, "Failed");
      if (action == "FailJob" && fail_reason.empty() && !finished) {
        fail_reason = "PodFailurePolicy";
        fail_message = msg;
      }
    }
  }

  int64_t succeeded = 0, failed = 0, restarts = 0, ready = 0;
  std::vector<std::string> active;
  std::set<int64_t> done_indexes, active_indexes;
  std::map<int64_t, int64_t> attempts;  // index -> Pods created for it
  for (const auto& [pod_name, t] : tracked) {
    if (t.index >= 0) ++attempts[t.index];
    if (t.state == "Succeeded") {
      ++succeeded;
      if (t.index >= 0) done_indexes.insert(t.index);
    } else if (t.state == "Failed") {
      ++failed;
    } else if (t.state == "active") {
      active.push_back(pod_name);
      if (t.index >= 0) active_indexes.insert(t.index);
      auto it = pods.find(pod_name);
      if (it != pods.end()) {
        restarts += PodRestarts(*it->second);
        if (PodReady(*it->second)) ++ready;
      }
    } else if (t.state == "Removed") {
      // A Pod this controller decided to stop: make sure it is gone (a crash may have come
      // between the decision and the deletion).
      auto it = pods.find(pod_name);
      std::string phase;
      if (it != pods.end() && !PodTerminal(*it->second, &phase)) to_delete.push_back(pod_name);
    }
  }

  const bool indexed = StringField(spec, "completionMode", "NonIndexed") == "Indexed";
  const Json* completions_field = FindField(spec, "completions");
  const bool has_completions =
      completions_field != nullptr && completions_field->is_number_integer();
  const int64_t parallelism = IntField(spec, "parallelism", 1);
  const int64_t completions = has_completions
                                  ? completions_field->get<int64_t>()
                                  : (FindField(spec, "parallelism") == nullptr || indexed ? 1 : -1);
  const int64_t backoff_limit = IntField(spec, "backoffLimit", 6);
  const bool suspend = spec.value("suspend", false);
  const bool restart_on_failure =
      StringField(spec.value("template", Json::object()).value("spec", Json::object()),
                  "restartPolicy") == "OnFailure";

  auto stop_active = [&] {
    for (const auto& pod_name : active) {
      set_state(pod_name, "Removed");
      if (pods.count(pod_name)) to_delete.push_back(pod_name);
    }
    active.clear();
    active_indexes.clear();
    ready = 0;
  };

  // A Job that finishes in this pass is looked at again when its TTL runs out (its own status
  // write, which ends the pass, does not queue it).
  Duration ttl_after_finishing{0};
  if (const Json* ttl = FindField(spec, "ttlSecondsAfterFinished");
      ttl != nullptr && ttl->is_number_integer()) {
    ttl_after_finishing = std::max<Duration>(std::chrono::seconds(ttl->get<int64_t>()),
                                             std::chrono::milliseconds(1));
  }
  Duration requeue{0};
  if (!finished) {
    // (2, 3) Suspension.
    if (suspend) {
      stop_active();
      SetCondition(status, "Suspended", "True", "JobSuspended", "Job suspended", now);
    } else {
      const Json* s = FindCondition(status, "Suspended");
      if (s != nullptr && StringField(*s, "status") == "True") {
        SetCondition(status, "Suspended", "False", "JobResumed", "Job resumed", now);
        status["startTime"] = now;
      }
      if (!status.contains("startTime")) status["startTime"] = now;  // (1)
    }
    // (5-8) Finishing.
    bool complete = false;
    if (fail_reason.empty() && failed + (restart_on_failure ? restarts : 0) > backoff_limit) {
      fail_reason = "BackoffLimitExceeded";  // (6)
      fail_message = "Job has reached the specified backoff limit";
    }
    if (const Json* d = FindField(spec, "activeDeadlineSeconds");
        fail_reason.empty() && !suspend && d != nullptr && d->is_number_integer()) {
      auto start = ParseRfc3339(StringField(status, "startTime"));
      if (start.ok()) {
        TimePoint deadline = *start + std::chrono::seconds(d->get<int64_t>());
        if (now_tp >= deadline) {
          fail_reason = "DeadlineExceeded";  // (7)
          fail_message = "Job was active longer than specified deadline";
        } else {
          requeue = deadline - now_tp;
        }
      }
    }
    if (fail_reason.empty()) {
      if (indexed) {
        complete = static_cast<int64_t>(done_indexes.size()) >= completions;
      } else if (completions >= 0) {
        complete = succeeded >= completions;
      } else {
        complete = succeeded > 0 && active.empty();  // work-queue Job: one success, none left
      }
    }
    if (!fail_reason.empty()) {
      stop_active();
      SetCondition(status, "FailureTarget", "True", fail_reason, fail_message, now);
      SetCondition(status, "Failed", "True", fail_reason, fail_message, now);
      requeue = ttl_after_finishing;
    } else if (complete) {
      stop_active();  // (5) leftovers, e.g. an index that succeeded twice
      SetCondition(status, "SuccessCriteriaMet", "True", "CompletionsReached",
                   "Reached expected number of succeeded pods", now);
      SetCondition(status, "Complete", "True", "CompletionsReached",
                   "Reached expected number of succeeded pods", now);
      status["completionTime"] = now;
      requeue = ttl_after_finishing;
    } else if (!suspend) {
      // (1, 4) Create Pods up to parallelism.
      int64_t want = 0;
      std::vector<int64_t> indexes;
      if (indexed) {
        for (int64_t i = 0;
             i < completions && static_cast<int64_t>(indexes.size()) <
                                    parallelism - static_cast<int64_t>(active.size());
             ++i) {
          if (!done_indexes.count(i) && !active_indexes.count(i)) indexes.push_back(i);
        }
        want = static_cast<int64_t>(indexes.size());
      } else if (completions >= 0) {
        want = std::min(parallelism, completions - succeeded) - static_cast<int64_t>(active.size());
      } else if (succeeded == 0) {
        want = parallelism - static_cast<int64_t>(active.size());
      }
      int64_t seq = static_cast<int64_t>(tracked.size());
      for (int64_t i = 0; i < want; ++i) {
        std::string pod_name;
        int64_t index = -1;
        if (indexed) {
          index = indexes[i];
          pod_name = name + "-" + std::to_string(index) + "-" + std::to_string(attempts[index]++);
        } else {
          pod_name = name + "-" + std::to_string(seq++);
        }
        tracked[pod_name] = {index, "active"};
        writes.push_back(
            store::Write::PutRecord(kJobPodRecords, uid, pod_name, tracked[pod_name].ToJson()));
        writes.push_back(store::Write::Create(NewPod(job, pod_name, index)));
        active.push_back(pod_name);
      }
    }
  } else {
    // Finished: nothing may keep running (a crash may have interrupted the deletions).
    for (const auto& pod_name : active) {
      set_state(pod_name, "Removed");
      if (pods.count(pod_name)) to_delete.push_back(pod_name);
    }
    active.clear();
    ready = 0;
    // (9) TTL after finishing.
    if (const Json* ttl = FindField(spec, "ttlSecondsAfterFinished");
        ttl != nullptr && ttl->is_number_integer()) {
      std::string at = StringField(status, "completionTime");
      if (at.empty()) {
        const Json* f = FindCondition(status, "Failed");
        if (f != nullptr) at = StringField(*f, "lastTransitionTime");
      }
      auto t = ParseRfc3339(at);
      if (t.ok()) {
        TimePoint expiry = *t + std::chrono::seconds(ttl->get<int64_t>());
        if (now_tp >= expiry) {
          Status s = store_.Delete({"Job", ns, name});
          if (!s.ok() && s.code() != StatusCode::kNotFound) return ReconcileResult::Error(s);
          LogInfo("job deleted after ttlSecondsAfterFinished", {{"job", ns + "/" + name}});
          queue_.Drop(key);
          return ReconcileResult::Ok();
        }
        requeue = expiry - now_tp;
      }
    }
  }

  status["active"] = static_cast<int64_t>(active.size());
  status["succeeded"] = succeeded;
  status["failed"] = failed;
  status["ready"] = ready;
  if (indexed) status["completedIndexes"] = FormatIndexes(done_indexes);
  if (status != job.value("status", Json::object())) {
    Json updated = job;
    updated["status"] = status;
    // Optimistic concurrency: a Job changed since we read it (e.g. suspended) fails the commit
    // and the queue retries with the fresh object.
    writes.insert(writes.begin(), store::Write::UpdateStatus(std::move(updated)));
  }
  if (!writes.empty()) {
    auto r = store_.Commit(std::move(writes));
    if (!r.ok()) return ReconcileResult::Error(r.status());
  }
  for (const auto& pod_name : to_delete) {
    Status s = store_.Delete({"Pod", ns, pod_name});
    if (!s.ok() && s.code() != StatusCode::kNotFound) return ReconcileResult::Error(s);
  }
  if (requeue > Duration(0)) return ReconcileResult::After(requeue);
  return ReconcileResult::Ok();
}

}  // namespace skiff::controllers
