#include "controllers/metadata/lineage_recorder.h"

#include <algorithm>

#include "common/fs.h"
#include "common/log.h"
#include "controllers/metadata/lineage_recorder_internal.h"
#include "kinds/training/training_job.h"
#include "metadata/pod_log.h"

namespace skiff::controllers {

namespace {

// Where the recorder keeps the resource version it has recorded through (a store record).
constexpr const char* kCursorCollection = "lineage-recorder";
constexpr const char* kCursorOwner = "pods";
constexpr const char* kCursorKey = "cursor";

std::string Annotation(const Json& pod, const char* key) {
  return StringField(pod["metadata"].value("annotations", Json::object()), key);
}

// The artifact key of an Argo artifact object (`s3.key`, or the plain `key` the executor uses).
std::string ArtifactKey(const Json& art) {
  if (const Json* s3 = FindField(art, "s3"); s3 != nullptr && s3->is_object()) return StringField(*s3, "key");
  return StringField(art, "key");
}

}  // namespace

void AddArtifacts(const Json* list, const std::string& ns, const metadata::ArtifactStore& store,
                  std::vector<std::pair<metadata::ArtifactRecord, std::string>>* out) {
  if (list == nullptr || !list->is_array()) return;
  for (const auto& art : *list) {
    std::string key = ArtifactKey(art);
    if (key.empty()) continue;
    auto blob = store.ResolveKey(key);
    if (!blob.ok()) continue;  // optional artifact that was not produced, or a non-local repository
    metadata::ArtifactRecord a;
    a.ns = ns;
    a.type = "Artifact";
    a.name = StringField(art, "name");
    a.uri = "skiff-artifacts://" + key;
    a.digest = blob->digest;
    a.size = blob->size;
    a.properties = {{"key", key}, {"path", StringField(art, "path")}};
    out->push_back({std::move(a), StringField(art, "name")});
  }
}

std::string PipelineName(const std::string& workflow_name, const Json* workflow) {
  if (workflow == nullptr) return workflow_name;
  // FindField, not value(): value() would copy the whole spec of a large workflow.
  const Json* spec = FindField(*workflow, "spec");
  const Json* tref_obj = spec != nullptr ? FindField(*spec, "workflowTemplateRef") : nullptr;
  std::string tref = tref_obj != nullptr ? StringField(*tref_obj, "name") : "";
  if (!tref.empty()) return tref;
  const Json* wmd = FindField(*workflow, "metadata");
  std::string gen = wmd != nullptr ? StringField(*wmd, "generateName") : "";
  while (!gen.empty() && (gen.back() == '-' || gen.back() == '.')) gen.pop_back();
  return !gen.empty() ? gen : workflow_name;
}

LineageRecorder::LineageRecorder(store::Store& store, EventLoop& loop, store::Informer& informer,
                                 metadata::LineageStore& lineage, metadata::ArtifactStore& artifacts,
                                 std::string home, Duration flush_interval)
    : store_(store), loop_(loop), informer_(informer), lineage_(lineage), artifacts_(artifacts),
      home_(std::move(home)), flush_interval_(flush_interval) {}

LineageRecorder::~LineageRecorder() {
  if (timer_ != 0) loop_.Cancel(timer_);
}

metadata::ExecutionWrite LineageRecorder::ExecutionFor(const Json& pod, const Json* workflow,
                                                       const metadata::ArtifactStore& artifacts) {
  const Json& md = pod["metadata"];
  std::string ns = StringField(md, "namespace");
  std::string wf_name = StringField(md.value("labels", Json::object()), kWorkflowLabel);
  metadata::ExecutionWrite w;
  w.execution.ns = ns;
  w.execution.type = "argo.Step";
  w.execution.name = StringField(md, "name");
  w.execution.state = StringField(pod.value("status", Json::object()), "phase") == "Succeeded" ? "COMPLETE" : "FAILED";
  auto tmpl = ParseJson(Annotation(pod, "workflows.argoproj.io/template"));
  auto outputs = ParseJson(Annotation(pod, "workflows.argoproj.io/outputs"));
  Json props = {{"workflow", wf_name},
                {"node", Annotation(pod, "workflows.argoproj.io/node-name")},
                {"podUid", StringField(md, "uid")}};
  if (tmpl.ok() && tmpl->is_object()) {
    props["template"] = StringField(*tmpl, "name");
    const Json& inputs = tmpl->value("inputs", Json::object());
    if (inputs.contains("parameters")) props["inputParameters"] = inputs["parameters"];
    AddArtifacts(FindField(inputs, "artifacts"), ns, artifacts, &w.inputs);
  }
  if (outputs.ok() && outputs->is_object()) {
    if (outputs->contains("parameters")) props["outputParameters"] = (*outputs)["parameters"];
    if (outputs->contains("exitCode")) props["exitCode"] = (*outputs)["exitCode"];
    AddArtifacts(FindField(*outputs, "artifacts"), ns, artifacts, &w.outputs);
  }
  w.execution.properties = std::move(props);
  // Contexts: the run inside its pipeline.
  w.contexts.push_back({0, ns, "skiff.WorkflowRun", wf_name, Json::object(), "skiff.Pipeline",
                        PipelineName(wf_name, workflow)});
  return w;
}


void LineageRecorder::Enqueue(What what, Json object) {
  queued_.push_back({what, std::move(object)});
  if (timer_ == 0) {
    timer_ = loop_.After(flush_interval_, [this] {
      timer_ = 0;
      Status s = Flush();
      if (!s.ok()) LogWarn("lineage: cannot record executions", {{"error", s.message()}});
    });
  }
}

void LineageRecorder::OnPod(const Json& pod) {
  if (!Terminal(pod)) return;
  // The kubelet writes outputs with the final status; a Failed pod may have none.
  if (!recorded_.insert("pod/" + StringField(pod["metadata"], "uid")).second) return;
  Enqueue(What::kPod, pod);
}

Json LineageRecorder::Owner(const Json& obj, std::string* kind) {
  for (const auto& ref : obj["metadata"].value("ownerReferences", Json::array())) {
    if (!ref.value("controller", false)) continue;
    *kind = StringField(ref, "kind");
    auto got = store_.Get({*kind, StringField(obj["metadata"], "namespace"), StringField(ref, "name")});
    if (got.ok()) return std::move(*got);
    return Json();
  }
  return Json();
}

const Json* LineageRecorder::WorkflowHead(const std::string& ns, const std::string& name) {
  auto [it, fresh] = workflow_heads_.emplace(ns + "/" + name, Json());
  if (fresh) {
    if (workflow_heads_.size() > 4096) {  // a long-lived server: keep the cache bounded
      workflow_heads_.clear();
      it = workflow_heads_.emplace(ns + "/" + name, Json()).first;
    }
    auto got = store_.Get({"Workflow", ns, name});
    if (got.ok()) {
      Json head = {{"metadata", Json::object()}, {"spec", Json::object()}};
      const Json& gmd = got->value("metadata", Json::object());
      if (gmd.contains("generateName")) head["metadata"]["generateName"] = gmd["generateName"];
      const Json& gspec = got->value("spec", Json::object());
      if (gspec.contains("workflowTemplateRef")) head["spec"]["workflowTemplateRef"] = gspec["workflowTemplateRef"];
      it->second = std::move(head);
    }
  }
  return it->second.is_null() ? nullptr : &it->second;
}

Status LineageRecorder::SaveCursor() {
  // Every terminal Pod whose last change is at or before `seen_rv_` is recorded now: later
  // changes (a running Pod ending) come with higher versions.
  if (seen_rv_ <= saved_rv_) return OkStatus();
  auto r = store_.Commit({store::Write::PutRecord(kCursorCollection, kCursorOwner, kCursorKey,
                                                  Json{{"resourceVersion", seen_rv_}})});
  if (!r.ok()) return r.status();
  saved_rv_ = seen_rv_;
  return OkStatus();
}

void LineageRecorder::PodWrites(const Json& pod, std::vector<metadata::ExecutionWrite>* out) {
  const Json& md = pod["metadata"];
  std::string ns = StringField(md, "namespace");
  std::string wf = StringField(md.value("labels", Json::object()), kWorkflowLabel);
  metadata::ExecutionWrite w;
  bool record = false;
  if (!wf.empty()) {
    w = ExecutionFor(pod, WorkflowHead(ns, wf), artifacts_);
    record = true;
  } else {
    w.execution.ns = ns;
    w.execution.name = StringField(md, "name");
    w.execution.type = "skiff.Pod";
    w.execution.state = StringField(pod.value("status", Json::object()), "phase") == "Succeeded" ? "COMPLETE" : "FAILED";
    Json props = {{"podUid", StringField(md, "uid")}};
    // Its owner: a training job (a replica), or a Trial's Job.
    std::string owner_kind;
    Json owner = Owner(pod, &owner_kind);
    if (owner.is_object()) {
      const Json& olabels = owner["metadata"].value("labels", Json::object());
      std::string owner_name = StringField(owner["metadata"], "name");
      std::string trial = StringField(olabels, kTrialLabel);
      std::string experiment = StringField(olabels, kExperimentLabel);
      props["owner"] = owner_kind + "/" + owner_name;
      if (training::IsTrainingKind(owner_kind)) {
        const Json& labels = md.value("labels", Json::object());
        w.execution.type = "training.Replica";
        props["replicaType"] = StringField(labels, "training.kubeflow.org/replica-type");
        props["replicaIndex"] = StringField(labels, "training.kubeflow.org/replica-index");
        w.contexts.push_back({0, ns, "kubeflow." + owner_kind, owner_name, Json::object(),
                              trial.empty() ? "" : "katib.Trial", trial});
        record = true;
      }
      if (!trial.empty()) {
        w.contexts.push_back({0, ns, "katib.Trial", trial, Json::object(), experiment.empty() ? "" : "katib.Experiment",
                              experiment});
        record = true;
      }
    }
    w.execution.properties = std::move(props);
  }
  if (!home_.empty()) {
    std::string dir = metadata::PodMetadataDir(home_, StringField(md, "uid"));
    if (IsDirectory(dir)) {
      auto skipped = metadata::ReadPodLog(dir, ns, artifacts_, &w);
      if (skipped.ok() && *skipped > 0) {
        LogWarn("lineage: skipped unreadable metadata log lines", {{"pod", w.execution.name}, {"lines", std::to_string(*skipped)}});
      }
      auto outputs = metadata::ReadPodOutputs(dir, ns, artifacts_, &w);
      if (!outputs.ok()) LogWarn("lineage: cannot record outputs", {{"pod", w.execution.name}, {"error", outputs.status().message()}});
      record = true;
    }
  }
  if (record) out->push_back(std::move(w));
}

Status LineageRecorder::Flush() {
  if (queued_.empty()) return OkStatus();
  std::vector<Pending> items = std::move(queued_);
  queued_.clear();
  // Pods first: a Trial's record reads what its Pods logged, a cached node what produced it.
  std::stable_sort(items.begin(), items.end(),
                   [](const Pending& a, const Pending& b) { return a.what < b.what; });
  // One transaction for all of them: cache hits name the execution that produced their outputs
  // by its name (from the memo entry), so they need not wait for the Pods' records.
  std::vector<metadata::ExecutionWrite> batch;
  for (const auto& item : items) {
    switch (item.what) {
      case What::kPod: PodWrites(item.object, &batch); break;
      case What::kTrial: TrialWrites(item.object, &batch); break;
      case What::kService: ServiceWrites(item.object, &batch); break;
      case What::kWorkflow: CachedWrites(item.object, &batch); break;
    }
  }
  Status s = lineage_.Record(batch);
  if (s.ok() && queued_.empty()) s = SaveCursor();
  if (!s.ok()) {
    // Keep them for the next flush: lineage must not silently miss steps.
    for (auto& p : items) queued_.push_back(std::move(p));
    if (timer_ == 0) timer_ = loop_.After(std::chrono::seconds(1), [this] { timer_ = 0; Flush().IgnoreError(); });
  }
  return s;
}

Status LineageRecorder::Start() {
  informer_.AddHandler("Pod", [this](const store::WatchEvent& ev) {
    seen_rv_ = std::max(seen_rv_, ev.resource_version);
    if (ev.type != store::EventType::kDeleted) OnPod(ev.object);
  });
  informer_.AddHandler("Trial", [this](const store::WatchEvent& ev) {
    if (ev.type != store::EventType::kDeleted) OnTrial(ev.object);
  });
  informer_.AddHandler("InferenceService", [this](const store::WatchEvent& ev) {
    if (ev.type != store::EventType::kDeleted) OnService(ev.object);
  });
  informer_.AddHandler("Workflow", [this](const store::WatchEvent& ev) {
    if (ev.type != store::EventType::kDeleted) OnWorkflow(ev.object);
  });
  // Catch up with what ended while no recorder ran. Pods: from the event log after the cursor
  // the last recorder saved when it can (a `skiff run` then reads nothing when no Pod changed),
  // else every Pod in the store.
  if (auto cursor = store_.GetRecord(kCursorCollection, kCursorOwner, kCursorKey); cursor.ok()) {
    saved_rv_ = cursor->value("resourceVersion", int64_t{0});
  }
  std::vector<Json> pods;
  bool from_log = false;
  if (saved_rv_ > 0) {
    store::WatchOptions wo;
    wo.kind = "Pod";
    auto events = store_.EventsSince(saved_rv_, wo);
    if (events.ok()) {
      from_log = true;
      for (auto& ev : *events) {
        seen_rv_ = std::max(seen_rv_, ev.resource_version);
        if (ev.type != store::EventType::kDeleted) pods.push_back(std::move(ev.object));
      }
    }
  }
  if (!from_log) {
    SKIFF_ASSIGN_OR_RETURN(auto list, store_.List("Pod", ""));
    seen_rv_ = std::max(seen_rv_, list.resource_version);
    pods = std::move(list.items);
  }
  SKIFF_ASSIGN_OR_RETURN(auto trials, store_.List("Trial", ""));
  for (const char* kind : {"Pod", "Trial"}) {
    const std::vector<Json>& objects = std::string(kind) == "Pod" ? pods : trials.items;
    for (const auto& obj : objects) {
      const Json& md = obj["metadata"];
      bool pod = std::string(kind) == "Pod";
      if (pod ? !Terminal(obj) : !TrialFinished(obj)) continue;
      if (recorded_.count((pod ? "pod/" : "trial/") + StringField(md, "uid"))) continue;
      SKIFF_ASSIGN_OR_RETURN(bool has, lineage_.HasExecution(StringField(md, "namespace"), StringField(md, "name")));
      if (has) {
        recorded_.insert((pod ? "pod/" : "trial/") + StringField(md, "uid"));
        continue;
      }
      if (pod) {
        OnPod(obj);
      } else {
        OnTrial(obj);
      }
    }
  }
  SKIFF_ASSIGN_OR_RETURN(auto services, store_.List("InferenceService", ""));
  for (const auto& isvc : services.items) {
    // Recorded already: not hashed again (a model may be large); its next change records anew.
    std::string name = "deploy-" + StringField(isvc["metadata"], "name") + "-" + RevisionOf(isvc);
    SKIFF_ASSIGN_OR_RETURN(bool has, lineage_.HasExecution(StringField(isvc["metadata"], "namespace"), name));
    if (!has) OnService(isvc);
  }
  if (queued_.empty()) return SaveCursor();
  return OkStatus();
}

}  // namespace skiff::controllers
