#include "controllers/pipeline/workflow_controller.h"
#include "common/ids.h"

#include "common/log.h"
#include "common/trace_mark.h"

namespace skiff::controllers {

namespace {

constexpr const char* kNodeIdAnnotation = "workflows.argoproj.io/node-id";
constexpr const char* kOutputsAnnotation = "workflows.argoproj.io/outputs";
constexpr const char* kWorkflowLabel = "workflows.argoproj.io/workflow";

bool Terminal(const std::string& phase) {
  return phase == "Succeeded" || phase == "Failed" || phase == "Error";
}

std::string KeyOf(const std::string& ns, const std::string& name) { return ns + "/" + name; }

}  // namespace

// Lookups the engine needs, served from the store.
class WorkflowController::Env : public dag::ExecutorEnv {
 public:
  Env(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}
  const Clock& clock() const override { return clock_; }
  Result<Json> GetWorkflowTemplate(std::string_view ns, std::string_view name, bool cluster) override {
    if (cluster) return store_.Get({"ClusterWorkflowTemplate", "", std::string(name)});
    return store_.Get({"WorkflowTemplate", std::string(ns), std::string(name)});
  }
  Result<std::string> GetConfigMapKey(std::string_view ns, std::string_view name,
                                      std::string_view key) override {
    SKIFF_ASSIGN_OR_RETURN(Json cm, store_.Get({"ConfigMap", std::string(ns), std::string(name)}));
    const Json* data = FindField(cm, "data");
    if (data == nullptr || !data->contains(key)) {
      return NotFound("ConfigMap \"" + std::string(name) + "\" has no key \"" + std::string(key) + "\"");
    }
    return ScalarToString((*data)[std::string(key)]);
  }
  std::optional<Json> GetCacheEntry(std::string_view ns, std::string_view cache,
                                    std::string_view key) override {
    auto r = store_.GetRecord(kMemoizeRecords, std::string(ns) + "/" + std::string(cache), key);
    if (!r.ok()) return std::nullopt;
    return std::move(*r);
  }

 private:
  store::Store& store_;
  const Clock& clock_;
};

struct WorkflowController::Run {
  std::string uid, ns, name;
  std::unique_ptr<dag::Executor> exec;
  bool scheduled = false;
  EventLoop::TimerId lazy_timer = 0;
  int quick_passes = 0;
  EventLoop::TimerId timer = 0;
  TimePoint timer_at{};
  std::string last_phase;  // the phase the last committed pass left (for Events)
};

namespace {

// A `v1/Event` about a workflow's phase change, as Argo's controller records them
// (WorkflowRunning, WorkflowSucceeded, WorkflowFailed). Owned by the workflow, so deleting it
// deletes them.
Json PhaseEvent(const Json& wf, const std::string& phase, TimePoint now) {
  const Json& md = wf["metadata"];
  std::string reason = phase == "Running" ? "WorkflowRunning"
                       : phase == "Succeeded" ? "WorkflowSucceeded"
                                              : "WorkflowFailed";
  std::string message = phase == "Running" ? "Workflow Running"
                        : phase == "Succeeded" ? "Workflow completed"
                                               : StringField(wf.value("status", Json::object()), "message", phase);
  std::string ts = FormatRfc3339(now);
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, "%llx",
                static_cast<unsigned long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                    now.time_since_epoch()).count()));
  return {{"apiVersion", "v1"},
          {"kind", "Event"},
          {"metadata",
           {{"name", StringField(md, "name") + "." + suffix + RandomSuffix(4)},
            {"namespace", StringField(md, "namespace")},
            {"ownerReferences",
             {{{"apiVersion", "argoproj.io/v1alpha1"}, {"kind", "Workflow"}, {"name", StringField(md, "name")},
               {"uid", StringField(md, "uid")}}}}}},
          {"involvedObject",
           {{"apiVersion", "argoproj.io/v1alpha1"}, {"kind", "Workflow"}, {"name", StringField(md, "name")},
            {"namespace", StringField(md, "namespace")}, {"uid", StringField(md, "uid")}}},
          {"reason", reason},
          {"message", message},
          {"type", phase == "Running" || phase == "Succeeded" ? "Normal" : "Warning"},
          {"count", 1},
          {"firstTimestamp", ts},
          {"lastTimestamp", ts},
          {"source", {{"component", "workflow-controller"}}},
          {"reportingComponent", "workflow-controller"}};
}

}  // namespace

WorkflowController::WorkflowController(store::Store& store, EventLoop& loop,
                                       store::Informer& informer, const Clock& clock)
    : store_(store), loop_(loop), informer_(informer), clock_(clock),
      env_(std::make_unique<Env>(store, clock)) {}

WorkflowController::~WorkflowController() {
  for (auto& [uid, run] : runs_) {
    if (run->timer != 0) loop_.Cancel(run->timer);
    if (run->lazy_timer != 0) loop_.Cancel(run->lazy_timer);
  }
}

Status WorkflowController::Start() {
  informer_.AddHandler("Workflow", [this](const store::WatchEvent& ev) { OnWorkflowEvent(ev); });
  informer_.AddHandler("Pod", [this](const store::WatchEvent& ev) { OnPodEvent(ev); });
  SKIFF_ASSIGN_OR_RETURN(
      store::ListResult list,
      store_.List("Workflow", "", {"", "status.phase!=Succeeded,status.phase!=Failed,status.phase!=Error", 0}));
  for (auto& wf : list.items) {
    if (!Terminal(StringField(wf.value("status", Json::object()), "phase"))) Load(std::move(wf));
  }
  return OkStatus();
}

void WorkflowController::Load(Json wf) {
  const Json& meta = wf["metadata"];
  std::string uid = StringField(meta, "uid");
  if (runs_.count(uid)) return;
  auto run = std::make_unique<Run>();
  run->uid = uid;
  run->ns = StringField(meta, "namespace");
  run->name = StringField(meta, "name");
  run->last_phase = StringField(wf.value("status", Json::object()), "phase");
  std::vector<dag::NodeStatus> nodes;
  auto records = store_.GetRecords(kNodeRecords, uid);
  if (records.ok()) {
    nodes.reserve(records->size());
    for (const auto& [id, j] : *records) {
      auto n = dag::NodeStatus::FromJson(j);
      if (n.ok()) nodes.push_back(std::move(*n));
    }
  }
  // Catch up with Pods that changed while nobody was watching (only a workflow that already
  // started can have any).
  bool started = wf.contains("status") && !StringField(wf["status"], "phase").empty();
  std::optional<std::string> shutdown;
  if (const Json* spec = FindField(wf, "spec"); spec != nullptr) {
    if (const Json* s = FindField(*spec, "shutdown"); s != nullptr && s->is_string()) {
      shutdown = s->get<std::string>();
    }
  }
  if (wf.contains("status")) wf["status"].erase("nodes");
  run->exec = std::make_unique<dag::Executor>(std::move(wf), std::move(nodes), *env_);
  auto pods = started ? store_.List("Pod", run->ns, {std::string(kWorkflowLabel) + "=" + run->name, "", 0})
                      : Result<store::ListResult>(store::ListResult{});
  if (pods.ok()) {
    for (const auto& pod : pods->items) run->exec->ApplyPodResult(PodResultFromPod(pod));
  }
  if (shutdown) run->exec->Terminate("Stopped with strategy '" + *shutdown + "'");
  uid_by_name_[KeyOf(run->ns, run->name)] = uid;
  runs_[uid] = std::move(run);
  Schedule(uid);
}

void WorkflowController::OnWorkflowEvent(const store::WatchEvent& ev) {
  const Json& wf = ev.object;
  const Json& meta = wf["metadata"];
  std::string uid = StringField(meta, "uid");
  if (ev.type == store::EventType::kDeleted) {
    auto it = runs_.find(uid);
    if (it != runs_.end()) {
      if (it->second->timer != 0) loop_.Cancel(it->second->timer);
      if (it->second->lazy_timer != 0) loop_.Cancel(it->second->lazy_timer);
      uid_by_name_.erase(KeyOf(it->second->ns, it->second->name));
      runs_.erase(it);
    }
    return;
  }
  auto it = runs_.find(uid);
  if (it == runs_.end()) {
    if (!Terminal(StringField(wf.value("status", Json::object()), "phase"))) Load(wf);
    return;
  }
  Run& run = *it->second;
  bool changed = false;
  if (const Json* shutdown = FindField(wf["spec"], "shutdown"); shutdown != nullptr && shutdown->is_string()) {
    run.exec->Terminate("Stopped with strategy '" + shutdown->get<std::string>() + "'");
    changed = true;
  }
  const Json* annotations = FindField(meta, "annotations");
  if (annotations != nullptr && annotations->contains(kResumeAnnotation)) {
    auto req = ParseJson(StringField(*annotations, kResumeAnnotation));
    if (req.ok()) {
      std::vector<std::pair<std::string, std::string>> params;
      if (const Json* ps = FindField(*req, "parameters"); ps != nullptr && ps->is_object()) {
        for (auto p = ps->begin(); p != ps->end(); ++p) params.emplace_back(p.key(), ScalarToString(p.value()));
      }
      int n = run.exec->Resume(StringField(*req, "node"), params);
      LogInfo("resumed", {{"workflow", run.name}, {"nodes", std::to_string(n)}});
    }
    // Consume the request.
    auto current = store_.Get({"Workflow", run.ns, run.name});
    if (current.ok()) {
      Json updated = *current;
      updated["metadata"]["annotations"].erase(kResumeAnnotation);
      auto w = store_.Update(updated);
      (void)w;
    }
    changed = true;
  }
  if (changed) Schedule(uid);
}

dag::PodResult PodResultFromPod(const Json& pod) {
  dag::PodResult r;
  const Json& meta = pod["metadata"];
  const Json& annotations = meta.value("annotations", Json::object());
  r.node_id = StringField(annotations, kNodeIdAnnotation);
  const Json& status = pod.value("status", Json::object());
  std::string phase = StringField(status, "phase", "Pending");
  std::string reason = StringField(status, "reason");
  r.host_node_name = StringField(pod.value("spec", Json::object()), "nodeName", "local");
  if (auto t = ParseRfc3339(StringField(status, "startTime")); t.ok()) r.started_at = *t;
  const Json* containers = FindField(status, "containerStatuses");
  const Json* main = nullptr;
  if (containers != nullptr && containers->is_array()) {
    for (const auto& c : *containers) {
      if (main == nullptr || StringField(c, "name") == "main") main = &c;
    }
  }
  if (annotations.contains(kOutputsAnnotation)) {
    auto o = ParseJson(StringField(annotations, kOutputsAnnotation));
    if (o.ok()) r.outputs = *o;
  }
  const Json* usage = FindField(status, "usage");
  if (usage != nullptr) r.cpu_seconds = usage->value("cpuSeconds", 0.0);
  if (phase == "Pending") {
    r.phase = dag::NodePhase::kPending;
  } else if (phase == "Running") {
    r.phase = dag::NodePhase::kRunning;
    r.daemoned = StringField(meta.value("labels", Json::object()), "workflows.argoproj.io/daemon") == "true";
  } else if (phase == "Succeeded") {
    r.phase = dag::NodePhase::kSucceeded;
  } else {
    r.phase = dag::NodePhase::kFailed;
    int exit_code = 0;
    const Json* state = main != nullptr ? FindField(*main, "state") : nullptr;
    const Json* term = state != nullptr ? FindField(*state, "terminated") : nullptr;
    if (term != nullptr) exit_code = term->value("exitCode", 0);
    std::string message = StringField(status, "message");
    if (reason == "OutputsError" || reason == "CreateContainerConfigError" ||
        reason == "CreateContainerError" || reason == "Deleted" || reason == "Unschedulable") {
      r.phase = dag::NodePhase::kError;
      r.message = message;
    } else if (reason == "DeadlineExceeded") {
      r.message = message;
    } else if (!message.empty()) {
      r.message = message;
      if (term != nullptr && StringField(*term, "reason") == "StartError") r.phase = dag::NodePhase::kError;
    } else {
      r.message = "Error (exit code " + std::to_string(exit_code) + ")";
    }
  }
  if (dag::IsFulfilled(r.phase) && main != nullptr) {
    const Json* state = FindField(*main, "state");
    const Json* term = state != nullptr ? FindField(*state, "terminated") : nullptr;
    if (term != nullptr) {
      if (auto t = ParseRfc3339(StringField(*term, "finishedAt")); t.ok()) r.finished_at = *t;
    }
  }
  return r;
}

void WorkflowController::OnPodEvent(const store::WatchEvent& ev) {
  const Json& pod = ev.object;
  const Json& meta = pod["metadata"];
  std::string wf = StringField(meta.value("labels", Json::object()), kWorkflowLabel);
  if (wf.empty()) return;
  auto it = uid_by_name_.find(KeyOf(StringField(meta, "namespace"), wf));
  if (it == uid_by_name_.end()) return;
  auto rit = runs_.find(it->second);
  if (rit == runs_.end()) return;
  dag::PodResult r = PodResultFromPod(pod);
  if (ev.type == store::EventType::kDeleted) {
    const dag::NodeStatus* n = rit->second->exec->FindNode(r.node_id);
    if (n == nullptr || n->Fulfilled()) return;
    r.phase = dag::NodePhase::kError;
    r.message = "pod deleted";
  }
  rit->second->exec->ApplyPodResult(r);
  if (dag::IsFulfilled(r.phase) || r.daemoned) {
    Schedule(it->second);
  } else {
    // A Pod that started changes nothing the engine decides on: record it with the next pass,
    // batched, rather than running a pass for each start.
    ScheduleLater(it->second, std::chrono::milliseconds(200));
  }
}

void WorkflowController::ScheduleLater(const std::string& uid, Duration delay) {
  auto it = runs_.find(uid);
  if (it == runs_.end() || it->second->scheduled || it->second->lazy_timer != 0) return;
  it->second->lazy_timer = loop_.After(delay, [this, uid] {
    auto r = runs_.find(uid);
    if (r == runs_.end()) return;
    r->second->lazy_timer = 0;
    Schedule(uid);
  });
}

void WorkflowController::Schedule(const std::string& uid) {
  auto it = runs_.find(uid);
  if (it == runs_.end() || it->second->scheduled) return;
  it->second->scheduled = true;
  queued_.fetch_add(1, std::memory_order_relaxed);
  loop_.Post([this, uid] {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    if (!pass_observer_) return Reconcile(uid);
    TimePoint start = SystemClock::Get().Now();
    Reconcile(uid);
    pass_observer_(SystemClock::Get().Now() - start);
  });
}

void WorkflowController::Reconcile(const std::string& uid) {
  auto it = runs_.find(uid);
  if (it == runs_.end()) return;
  Run& run = *it->second;
  run.scheduled = false;
  if (run.lazy_timer != 0) {
    loop_.Cancel(run.lazy_timer);
    run.lazy_timer = 0;
  }
  dag::Executor& exec = *run.exec;
  TraceMark("workflow pass");
  dag::Actions actions;
  try {
    actions = exec.Reconcile();
  } catch (const std::exception& e) {
    // A bug must not take down every other workflow this controller drives: fail this one.
    LogError("workflow reconcile failed", {{"workflow", run.name}, {"error", e.what()}});
    auto wf = store_.Get({"Workflow", run.ns, run.name});
    if (wf.ok()) {
      Json w = *wf;
      w["status"]["phase"] = "Error";
      w["status"]["message"] = std::string("internal error: ") + e.what();
      w["status"]["finishedAt"] = FormatRfc3339(clock_.Now());
      w["metadata"].erase("resourceVersion");
      auto u = store_.UpdateStatus(w);
      (void)u;
    }
    uid_by_name_.erase(KeyOf(run.ns, run.name));
    runs_.erase(it);
    return;
  }

  std::vector<store::Write> writes;
  bool wf_dirty = exec.TakeWorkflowDirty();
  std::vector<std::string> dirty = exec.TakeDirtyNodes();
  writes.reserve(dirty.size() + actions.create_pods.size() + actions.cache_writes.size() + 2);
  for (const auto& id : dirty) {
    const dag::NodeStatus* n = exec.FindNode(id);
    if (n != nullptr) writes.push_back(store::Write::PutRecordText(kNodeRecords, uid, id, n->ToJsonText()));
  }
  std::string phase = exec.Phase();
  if (wf_dirty && !phase.empty() && phase != run.last_phase && phase != "Pending") {
    writes.push_back(store::Write::Create(PhaseEvent(exec.workflow(), phase, clock_.Now())));
  }
  if (wf_dirty) {
    // A status update reads only the object's key and status: the spec (700 tasks for a large
    // DAG) is not copied into it.
    const Json& full = exec.workflow();
    Json wf = Json::object();
    for (const char* field : {"apiVersion", "kind", "metadata", "status"}) {
      if (const Json* v = FindField(full, field)) wf[field] = *v;
    }
    wf["metadata"].erase("resourceVersion");
    wf["status"]["offloadNodeStatusVersion"] = "records";
    writes.push_back(store::Write::UpdateStatus(std::move(wf)));
  }
  for (auto& pod : actions.create_pods) writes.push_back(store::Write::Create(std::move(pod)));
  for (const auto& c : actions.cache_writes) {
    writes.push_back(store::Write::PutRecord(kMemoizeRecords, c.ns + "/" + c.cache, c.key, c.entry));
  }
  TraceMark("pass decided");
  if (!writes.empty()) {
    auto r = store_.Commit(std::move(writes));
    TraceMark("pass committed");
    if (!r.ok()) {
      LogError("workflow reconcile commit failed; reloading",
               {{"workflow", run.name}, {"error", r.status().message()}});
      // The in-memory decision was not committed: reload from the store and try again.
      std::string ns = run.ns, name = run.name;
      uid_by_name_.erase(KeyOf(ns, name));
      runs_.erase(it);
      auto wf = store_.Get({"Workflow", ns, name});
      if (wf.ok()) {
        loop_.After(std::chrono::milliseconds(200), [this, wf = *wf] { Load(wf); });
      }
      return;
    }
  }
  // Pods to stop: deleting them tells the kubelet (after the decision is committed).
  for (const auto& k : actions.kill_pods) {
    Status s = store_.Delete({"Pod", run.ns, k.pod_name});
    if (!s.ok() && s.code() != StatusCode::kNotFound) {
      LogWarn("cannot delete pod", {{"pod", k.pod_name}, {"error", s.message()}});
    }
  }
  run.last_phase = phase;
  if (observer_ && (wf_dirty || !dirty.empty())) observer_(exec.workflow(), exec.nodes(), dirty);
  if (exec.Finished()) {
    if (run.timer != 0) loop_.Cancel(run.timer);
    if (run.lazy_timer != 0) loop_.Cancel(run.lazy_timer);
    uid_by_name_.erase(KeyOf(run.ns, run.name));
    runs_.erase(it);
    return;
  }
  // A pass that changed something without starting Pods may have unblocked more work (skipped
  // or memoized nodes): run again, a bounded number of times in a row.
  if (actions.more) {
    Schedule(uid);  // the rest of a large batch of Pods
  } else if ((wf_dirty || !dirty.empty()) && actions.create_pods.empty()) {
    if (++run.quick_passes < 16) Schedule(uid);
  } else {
    run.quick_passes = 0;
  }
  if (actions.requeue_at) {
    TimePoint at = *actions.requeue_at;
    if (run.timer == 0 || at < run.timer_at) {
      if (run.timer != 0) loop_.Cancel(run.timer);
      run.timer_at = at;
      run.timer = loop_.At(at + std::chrono::milliseconds(1), [this, uid] {
        auto r = runs_.find(uid);
        if (r == runs_.end()) return;
        r->second->timer = 0;
        Schedule(uid);
      });
    }
  }
}

Json AttachNodes(store::Store& store, Json wf) {
  std::string uid = StringField(wf["metadata"], "uid");
  auto records = store.GetRecords(kNodeRecords, uid);
  if (!records.ok() || records->empty()) return wf;
  Json nodes = Json::object();
  for (const auto& [id, n] : *records) nodes[id] = n;
  wf["status"]["nodes"] = std::move(nodes);
  wf["status"].erase("offloadNodeStatusVersion");
  return wf;
}

Result<Json> GetWorkflowWithNodes(store::Store& store, const std::string& ns,
                                  const std::string& name) {
  SKIFF_ASSIGN_OR_RETURN(Json wf, store.Get({"Workflow", ns, name}));
  return AttachNodes(store, std::move(wf));
}

}  // namespace skiff::controllers
