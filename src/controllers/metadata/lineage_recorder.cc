#include "controllers/metadata/lineage_recorder.h"

#include <algorithm>

#include "common/log.h"

namespace skiff::controllers {

namespace {

constexpr const char* kWorkflowLabel = "workflows.argoproj.io/workflow";
// Where the recorder keeps the resource version it has recorded through (a store record).
constexpr const char* kCursorCollection = "lineage-recorder";
constexpr const char* kCursorOwner = "pods";
constexpr const char* kCursorKey = "cursor";

bool Terminal(const Json& pod) {
  std::string phase = StringField(pod.value("status", Json::object()), "phase");
  return phase == "Succeeded" || phase == "Failed";
}

std::string Annotation(const Json& pod, const char* key) {
  return StringField(pod["metadata"].value("annotations", Json::object()), key);
}

// The artifact key of an Argo artifact object (`s3.key`, or the plain `key` the executor uses).
std::string ArtifactKey(const Json& art) {
  if (const Json* s3 = FindField(art, "s3"); s3 != nullptr && s3->is_object()) return StringField(*s3, "key");
  return StringField(art, "key");
}

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

}  // namespace

LineageRecorder::LineageRecorder(store::Store& store, EventLoop& loop, store::Informer& informer,
                                 metadata::LineageStore& lineage, metadata::ArtifactStore& artifacts,
                                 Duration flush_interval)
    : store_(store), loop_(loop), informer_(informer), lineage_(lineage), artifacts_(artifacts),
      flush_interval_(flush_interval) {}

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
  std::string pipeline = wf_name;
  if (workflow != nullptr) {
    const Json& spec = workflow->value("spec", Json::object());
    std::string tref = StringField(spec.value("workflowTemplateRef", Json::object()), "name");
    std::string gen = StringField(workflow->value("metadata", Json::object()), "generateName");
    while (!gen.empty() && (gen.back() == '-' || gen.back() == '.')) gen.pop_back();
    pipeline = !tref.empty() ? tref : !gen.empty() ? gen : wf_name;
  }
  w.contexts.push_back({0, ns, "skiff.WorkflowRun", wf_name, Json::object(), "skiff.Pipeline", pipeline});
  return w;
}

void LineageRecorder::OnPod(const Json& pod) {
  const Json& md = pod["metadata"];
  if (StringField(md.value("labels", Json::object()), kWorkflowLabel).empty() || !Terminal(pod)) return;
  // The kubelet writes outputs with the final status; a Failed pod may have none.
  std::string uid = StringField(md, "uid");
  if (!recorded_.insert(uid).second) return;
  queued_.push_back(pod);
  if (timer_ == 0) {
    timer_ = loop_.After(flush_interval_, [this] {
      timer_ = 0;
      Status s = Flush();
      if (!s.ok()) LogWarn("lineage: cannot record executions", {{"error", s.message()}});
    });
  }
}

Status LineageRecorder::Flush() {
  if (queued_.empty()) return OkStatus();
  std::vector<Json> pods = std::move(queued_);
  queued_.clear();
  std::vector<metadata::ExecutionWrite> batch;
  for (const auto& pod : pods) {
    const Json& md = pod["metadata"];
    std::string ns = StringField(md, "namespace");
    std::string wf = StringField(md.value("labels", Json::object()), kWorkflowLabel);
    // Only the fields that name the pipeline are kept, once per workflow: reading a large
    // workflow (its whole spec) again on every flush cost more than recording its steps.
    auto [it, fresh] = workflow_heads_.emplace(ns + "/" + wf, Json());
    if (fresh) {
      if (workflow_heads_.size() > 4096) {  // a long-lived server: keep the cache bounded
        workflow_heads_.clear();
        it = workflow_heads_.emplace(ns + "/" + wf, Json()).first;
      }
      auto got = store_.Get({"Workflow", ns, wf});
      if (got.ok()) {
        Json head = {{"metadata", Json::object()}, {"spec", Json::object()}};
        const Json& gmd = got->value("metadata", Json::object());
        if (gmd.contains("generateName")) head["metadata"]["generateName"] = gmd["generateName"];
        const Json& gspec = got->value("spec", Json::object());
        if (gspec.contains("workflowTemplateRef")) head["spec"]["workflowTemplateRef"] = gspec["workflowTemplateRef"];
        it->second = std::move(head);
      }
    }
    batch.push_back(ExecutionFor(pod, it->second.is_null() ? nullptr : &it->second, artifacts_));
  }
  Status s = lineage_.Record(batch);
  if (s.ok() && queued_.empty()) s = SaveCursor();
  if (!s.ok()) {
    // Keep them for the next flush: lineage must not silently miss steps.
    for (auto& p : pods) queued_.push_back(std::move(p));
    if (timer_ == 0) timer_ = loop_.After(std::chrono::seconds(1), [this] { timer_ = 0; Flush().IgnoreError(); });
  }
  return s;
}

Status LineageRecorder::Start() {
  informer_.AddHandler("Pod", [this](const store::WatchEvent& ev) {
    seen_rv_ = std::max(seen_rv_, ev.resource_version);
    if (ev.type != store::EventType::kDeleted) OnPod(ev.object);
  });
  // Catch up with steps that ended while no recorder ran: from the event log after the cursor
  // the last recorder saved when it can (a `skiff run` then reads nothing when no Pod changed),
  // else from every workflow Pod in the store.
  if (auto cursor = store_.GetRecord(kCursorCollection, kCursorOwner, kCursorKey); cursor.ok()) {
    saved_rv_ = cursor->value("resourceVersion", int64_t{0});
  }
  std::vector<Json> candidates;
  bool from_log = false;
  if (saved_rv_ > 0) {
    store::WatchOptions wo;
    wo.kind = "Pod";
    auto events = store_.EventsSince(saved_rv_, wo);
    if (events.ok()) {
      from_log = true;
      for (auto& ev : *events) {
        seen_rv_ = std::max(seen_rv_, ev.resource_version);
        if (ev.type != store::EventType::kDeleted) candidates.push_back(std::move(ev.object));
      }
    }
  }
  if (!from_log) {
    store::ListOptions lo;
    lo.label_selector = kWorkflowLabel;
    SKIFF_ASSIGN_OR_RETURN(auto pods, store_.List("Pod", "", lo));
    seen_rv_ = std::max(seen_rv_, pods.resource_version);
    candidates = std::move(pods.items);
  }
  for (const auto& pod : candidates) {
    if (!Terminal(pod)) continue;
    const Json& md = pod["metadata"];
    if (StringField(md.value("labels", Json::object()), kWorkflowLabel).empty()) continue;
    if (recorded_.count(StringField(md, "uid"))) continue;
    SKIFF_ASSIGN_OR_RETURN(bool has, lineage_.HasExecution(StringField(md, "namespace"), StringField(md, "name")));
    if (has) {
      recorded_.insert(StringField(md, "uid"));
      continue;
    }
    OnPod(pod);
  }
  if (queued_.empty()) return SaveCursor();
  return OkStatus();
}

Status LineageRecorder::SaveCursor() {
  // Every terminal workflow Pod whose last change is at or before `seen_rv_` is recorded now:
  // later changes (a running Pod ending) come with higher versions.
  if (seen_rv_ <= saved_rv_) return OkStatus();
  auto r = store_.Commit({store::Write::PutRecord(kCursorCollection, kCursorOwner, kCursorKey,
                                                  Json{{"resourceVersion", seen_rv_}})});
  if (!r.ok()) return r.status();
  saved_rv_ = seen_rv_;
  return OkStatus();
}

}  // namespace skiff::controllers
