// The lineage recorder's records of Trials, InferenceService revisions and cached workflow
// nodes (see lineage_recorder.h).
#include <cstdlib>
#include <filesystem>
#include <map>
#include <unordered_map>

#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"
#include "controllers/metadata/lineage_recorder.h"
#include "controllers/metadata/lineage_recorder_internal.h"
#include "controllers/pipeline/workflow_controller.h"
#include "metadata/pod_log.h"

namespace skiff::controllers {

namespace {

int64_t TimeMs(const std::string& rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  if (!t.ok()) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

// A metric value as Katib writes it (a string) or as a number; false if neither.
bool MetricValue(const Json& v, double* out) {
  if (v.is_number()) {
    *out = v.get<double>();
    return true;
  }
  if (!v.is_string()) return false;
  std::string s = v.get<std::string>();
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return !s.empty() && end != nullptr && *end == '\0';
}

// The predictor's `storageUri`: `model.storageUri` or a framework's (`sklearn.storageUri`, ...).
std::string StorageUri(const Json& predictor) {
  if (!predictor.is_object()) return "";
  for (auto it = predictor.begin(); it != predictor.end(); ++it) {
    if (it.value().is_object() && it.value().contains("storageUri")) return StringField(it.value(), "storageUri");
  }
  return StringField(predictor, "storageUri");
}

bool Ready(const Json& obj) { return HasTrueCondition(obj.value("status", Json::object()), "Ready"); }

}  // namespace

void LineageRecorder::OnTrial(const Json& trial) {
  if (!TrialFinished(trial)) return;
  if (!recorded_.insert("trial/" + StringField(trial["metadata"], "uid")).second) return;
  Enqueue(What::kTrial, trial);
}

void LineageRecorder::OnService(const Json& isvc) {
  // One record per revision and state (RUNNING, then COMPLETE once Ready).
  std::string key = "isvc/" + StringField(isvc["metadata"], "uid") + "/" + RevisionOf(isvc) + "/" +
                    (Ready(isvc) ? "ready" : "");
  if (!recorded_.insert(key).second) return;
  Enqueue(What::kService, isvc);
}

void LineageRecorder::OnWorkflow(const Json& wf) {
  const Json* status = FindField(wf, "status");
  std::string phase = status != nullptr ? StringField(*status, "phase") : "";
  if (phase != "Succeeded" && phase != "Failed" && phase != "Error") return;
  if (!recorded_.insert("workflow/" + StringField(wf["metadata"], "uid")).second) return;
  // What CachedWrites reads, not the whole spec (700 tasks of a large DAG, copied and freed).
  Json head = {{"metadata", wf["metadata"]}, {"spec", Json::object()}};
  const Json* spec = FindField(wf, "spec");
  if (const Json* ref = spec != nullptr ? FindField(*spec, "workflowTemplateRef") : nullptr; ref != nullptr) {
    head["spec"]["workflowTemplateRef"] = *ref;
  }
  // A workflow whose nodes are still in its status (not kept as node records).
  const Json* nodes = FindField(*status, "nodes");
  if (nodes != nullptr && !status->contains("offloadNodeStatusVersion")) head["status"] = {{"nodes", *nodes}};
  Enqueue(What::kWorkflow, std::move(head));
}

void LineageRecorder::TrialWrites(const Json& trial, std::vector<metadata::ExecutionWrite>* out) {
  const Json& md = trial["metadata"];
  std::string ns = StringField(md, "namespace"), name = StringField(md, "name");
  std::string experiment = StringField(md.value("labels", Json::object()), kExperimentLabel);
  const Json spec = trial.value("spec", Json::object());
  const Json status = trial.value("status", Json::object());
  metadata::ExecutionWrite w;
  w.execution.ns = ns;
  w.execution.name = name;
  w.execution.type = "katib.Trial";
  w.execution.state = HasTrueCondition(status, "Succeeded") ? "COMPLETE"
                      : HasTrueCondition(status, "Killed") ? "CANCELED"
                                                           : "FAILED";
  // Assignments as one object ({"lr": "0.01"}): nlohmann's objects are sorted, so the dump is
  // canonical and the same assignments are the same artifact.
  Json params = Json::object();
  for (const auto& a : spec.value("parameterAssignments", Json::array())) {
    params[StringField(a, "name")] = a.value("value", Json());
  }
  Json observation = status.value("observation", Json::object());
  w.execution.properties = {{"experiment", experiment}, {"parameters", params}, {"observation", observation}};
  int64_t ms = TimeMs(StringField(status, "completionTime"));
  for (const auto& m : observation.value("metrics", Json::array())) {
    double v = 0;
    if (MetricValue(m.value("latest", Json()), &v)) w.metrics.push_back({StringField(m, "name"), v, 0, ms});
  }
  if (!experiment.empty()) w.contexts.push_back({0, ns, "katib.Experiment", experiment, Json::object(), "", ""});
  w.contexts.push_back({0, ns, "katib.Trial", name, Json::object(), experiment.empty() ? "" : "katib.Experiment",
                        experiment});
  auto blob = artifacts_.PutBytes(params.dump());
  if (blob.ok()) {
    w.outputs.push_back({metadata::LoggedArtifact(ns, *blob, "katib.HyperParameters", name + "-hyperparameters", ""),
                         "hyperparameters"});
  }
  // What its Pods read is what the Trial read (the Pods are in the context `katib.Trial/<name>`).
  Json pod_names = Json::array();
  for (const char* label : {"job-name", "training.kubeflow.org/job-name"}) {  // a Job's, a training job's
    auto pods = store_.List("Pod", ns, {std::string(label) + "=" + name, "", 0});
    if (pods.ok()) {
      for (const auto& p : pods->items) {
        pod_names.push_back(StringField(p["metadata"], "name"));
        // Logged through the server: inputs of the Pod's execution.
        metadata::LineageQuery q;
        q.ns = ns;
        q.execution_name = StringField(p["metadata"], "name");
        q.max_hops = 1;
        if (auto g = lineage_.Lineage(q); g.ok()) {
          for (const auto& a : g->artifacts) w.inputs.push_back({a, a.name});
        }
        std::string dir = metadata::PodMetadataDir(home_, StringField(p["metadata"], "uid"));
        if (home_.empty() || !IsDirectory(dir)) continue;
        metadata::ExecutionWrite pod_log;
        if (metadata::ReadPodLog(dir, ns, artifacts_, &pod_log).ok()) {
          for (auto& in : pod_log.inputs) w.inputs.push_back(std::move(in));
        }
      }
    }
  }
  w.execution.properties["pods"] = pod_names;
  out->push_back(std::move(w));
}

void LineageRecorder::ServiceWrites(const Json& isvc, std::vector<metadata::ExecutionWrite>* out) {
  const Json& md = isvc["metadata"];
  std::string ns = StringField(md, "namespace"), name = StringField(md, "name");
  const Json predictor = isvc.value("spec", Json::object()).value("predictor", Json::object());
  std::string revision = RevisionOf(isvc);
  std::string uri = StorageUri(predictor);
  metadata::ExecutionWrite w;
  w.execution.ns = ns;
  w.execution.name = "deploy-" + name + "-" + revision;
  w.execution.type = "kserve.Deploy";
  w.execution.state = Ready(isvc) ? "COMPLETE" : "RUNNING";
  w.execution.properties = {{"inferenceService", name}, {"revision", revision}, {"storageUri", uri},
                            {"generation", IntField(md, "generation", 1)}};
  w.contexts.push_back({0, ns, "kserve.InferenceService", name, Json::object(), "", ""});
  // The model it serves: local files are hashed (stored, deduplicated with what produced them).
  std::string path;
  if (uri.rfind("file://", 0) == 0) {
    path = uri.substr(7);
  } else if (!uri.empty() && uri[0] == '/') {
    path = uri;
  }
  if (!path.empty() && PathExists(path)) {
    std::vector<std::string> files;
    if (IsDirectory(path)) {
      std::error_code ec;
      for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec)) files.push_back(it->path().string());
      }
      std::sort(files.begin(), files.end());
    } else {
      files.push_back(path);
    }
    for (const auto& f : files) {
      auto blob = artifacts_.PutFile(f);
      if (!blob.ok()) continue;
      std::string rel = f == path ? std::filesystem::path(f).filename().string() : f.substr(path.size() + 1);
      w.inputs.push_back({metadata::LoggedArtifact(ns, *blob, "Model", rel, "file://" + f), "model/" + rel});
    }
  } else if (uri.rfind("skiff-artifacts://", 0) == 0) {
    std::string ref = uri.substr(18);
    auto blob = ref.rfind("sha256:", 0) == 0 && artifacts_.HasBlob(ref)
                    ? Result<metadata::BlobInfo>(metadata::BlobInfo{ref, 0})
                    : artifacts_.ResolveKey(ref);
    if (blob.ok()) w.inputs.push_back({metadata::LoggedArtifact(ns, *blob, "Model", "model", uri), "model"});
  } else if (!uri.empty()) {
    metadata::ArtifactRecord a;  // remote (s3://, gs://, pvc://): known by its URI only
    a.ns = ns;
    a.type = "Model";
    a.name = "model";
    a.uri = uri;
    w.inputs.push_back({a, "model"});
  }
  out->push_back(std::move(w));
}

void LineageRecorder::CachedWrites(const Json& wf, std::vector<metadata::ExecutionWrite>* out) {
  const Json& md = wf["metadata"];
  std::string ns = StringField(md, "namespace"), wf_name = StringField(md, "name");
  // The nodes as the workflow controller keeps them (node records), read as stored: not copied
  // into the workflow and out again.
  auto records = store_.GetRecords(kNodeRecords, StringField(md, "uid"));
  std::map<std::string, Json> inline_nodes;
  if (!records.ok() || records->empty()) {
    const Json* status = FindField(wf, "status");
    const Json* nodes = status != nullptr ? FindField(*status, "nodes") : nullptr;
    if (nodes != nullptr && nodes->is_object()) {
      for (auto it = nodes->begin(); it != nodes->end(); ++it) inline_nodes.emplace(it.key(), it.value());
    }
  }
  const std::map<std::string, Json>& nodes = records.ok() && !records->empty() ? *records : inline_nodes;
  // node id -> Pod name, per workflow that produced cache entries ("" = the entry does not say:
  // every workflow Pod of the namespace). Each is listed once per call, not once per node.
  std::unordered_map<std::string, std::unordered_map<std::string, std::string>> pods_by_node;
  auto pod_of = [&](const std::string& workflow, const std::string& node_id) -> std::string {
    auto [it, fresh] = pods_by_node.try_emplace(workflow);
    if (fresh) {
      std::string selector = workflow.empty() ? std::string(kWorkflowLabel)
                                              : std::string(kWorkflowLabel) + "=" + workflow;
      auto pods = store_.List("Pod", ns, {selector, "", 0});
      if (pods.ok()) {
        for (const auto& p : pods->items) {
          const Json& ann = p["metadata"].value("annotations", Json::object());
          it->second[StringField(ann, "workflows.argoproj.io/node-id")] = StringField(p["metadata"], "name");
        }
      }
    }
    auto found = it->second.find(node_id);
    return found == it->second.end() ? std::string() : found->second;
  };
  // Every hit of the run is in the same context: the run inside its pipeline, named once.
  const metadata::ContextRecord run{0, ns, "skiff.WorkflowRun", wf_name, Json::object(), "skiff.Pipeline",
                                    PipelineName(wf_name, &wf)};
  auto hit_of = [](const Json& node) -> const Json* {
    const Json* memo = FindField(node, "memoizationStatus");
    if (memo == nullptr || !memo->is_object() || !memo->value("hit", false) ||
        StringField(node, "phase") != "Succeeded") {
      return nullptr;
    }
    return memo;
  };
  // The cache entries the hits came from, one query per cache instead of one per hit.
  std::map<std::string, std::vector<std::string>> keys_by_cache;
  for (const auto& [id, node] : nodes) {
    if (const Json* memo = hit_of(node)) {
      keys_by_cache[StringField(*memo, "cacheName")].push_back(StringField(*memo, "key"));
    }
  }
  std::map<std::string, std::map<std::string, Json>> entries;  // cache -> key -> entry
  for (const auto& [cache, keys] : keys_by_cache) {
    auto got = store_.GetRecordsByKey(kMemoizeRecords, ns + "/" + cache, keys);
    if (got.ok()) entries[cache] = std::move(*got);
  }
  for (const auto& [id, node] : nodes) {
    const Json* memo = hit_of(node);
    if (memo == nullptr) continue;
    std::string cache_name = StringField(*memo, "cacheName"), cache_key = StringField(*memo, "key");
    // The execution that produced the cached outputs: the Pod of the node the cache entry names.
    std::string original;
    const std::map<std::string, Json>& cache_entries = entries[cache_name];
    auto found = cache_entries.find(cache_key);
    const Json* entry = found != cache_entries.end() ? &found->second : nullptr;
    std::string node_id = entry != nullptr ? StringField(*entry, "nodeID") : "";
    // Entries name the Pod itself; older ones only the node, found among the workflow's Pods.
    if (entry != nullptr) original = StringField(*entry, "pod");
    if (original.empty() && !node_id.empty()) {
      original = pod_of(entry != nullptr ? StringField(*entry, "workflow") : "", node_id);
    }
    metadata::ExecutionWrite w;
    w.execution.ns = ns;
    w.execution.name = wf_name + "." + id;
    w.execution.type = "argo.Step";
    w.execution.state = "CACHED";
    w.execution.properties = {{"workflow", wf_name}, {"node", StringField(node, "name")},
                              {"template", StringField(node, "templateName")},
                              {"cacheKey", std::move(cache_key)}, {"cacheName", std::move(cache_name)},
                              {"cachedExecution", std::move(original)}, {"cachedNodeId", std::move(node_id)}};
    if (const Json* outputs = FindField(node, "outputs"); outputs != nullptr) {
      if (outputs->is_object()) {
        if (const Json* params = FindField(*outputs, "parameters"); params != nullptr) {
          w.execution.properties["outputParameters"] = *params;
        }
        // The same artifacts as the original's outputs: the cached step "produced" them too.
        AddArtifacts(FindField(*outputs, "artifacts"), ns, artifacts_, &w.outputs);
      }
      w.contexts.push_back(run);
    }
    out->push_back(std::move(w));
  }
}

}  // namespace skiff::controllers
