#include "kinds/training/training_job.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace skiff::training {

namespace {

struct KindTraits {
  Framework framework;
  const char* kind;
  const char* api_version;
  const char* specs_field;         // spec.<field>
  std::vector<const char*> types;  // canonical order
  const char* container;
  const char* port_name;
  int32_t port;
  const char* clean_pod_policy;
  const char* restart_policy;  // default for every type (MPI: per type below)
};

const std::vector<KindTraits>& AllTraits() {
  static const std::vector<KindTraits> traits = {
      {Framework::kPyTorch,
       "PyTorchJob",
       "kubeflow.org/v1",
       "pytorchReplicaSpecs",
       {"Master", "Worker"},
       "pytorch",
       "pytorchjob-port",
       23456,
       "None",
       "OnFailure"},
      {Framework::kTensorFlow,
       "TFJob",
       "kubeflow.org/v1",
       "tfReplicaSpecs",
       {"Chief", "Master", "PS", "Worker", "Evaluator"},
       "tensorflow",
       "tfjob-port",
       2222,
       "Running",
       "Never"},
      {Framework::kXGBoost,
       "XGBoostJob",
       "kubeflow.org/v1",
       "xgbReplicaSpecs",
       {"Master", "Worker"},
       "xgboost",
       "xgboostjob-port",
       9999,
       "None",
       "Never"},
      {Framework::kPaddle,
       "PaddleJob",
       "kubeflow.org/v1",
       "paddleReplicaSpecs",
       {"Master", "Worker"},
       "paddle",
       "master",
       36543,
       "None",
       "Never"},
      {Framework::kMPI,
       "MPIJob",
       "kubeflow.org/v2beta1",
       "mpiReplicaSpecs",
       {"Launcher", "Worker"},
       "",
       "",
       0,
       "None",
       "Never"},
  };
  return traits;
}

const KindTraits* FindTraits(std::string_view kind) {
  for (const auto& t : AllTraits()) {
    if (kind == t.kind) return &t;
  }
  return nullptr;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsDns1035Label(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  if (!std::islower(static_cast<unsigned char>(s[0]))) return false;
  if (s.back() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '-';
  });
}

Status FieldError(const std::string& path, const std::string& message) {
  return InvalidArgument(path + ": " + message);
}

// An optional integer field: absent/null gives nullopt; anything but an integer is an error.
Status OptInt(const Json& obj, const char* key, const std::string& path, int64_t min,
              std::optional<int64_t>* out) {
  const Json* f = FindField(obj, key);
  if (f == nullptr || f->is_null()) return OkStatus();
  if (!f->is_number_integer()) return FieldError(path + "." + key, "must be an integer");
  int64_t v = f->get<int64_t>();
  if (v < min) return FieldError(path + "." + key, "must be >= " + std::to_string(min));
  *out = v;
  return OkStatus();
}

template <typename T>
Status OptInt32(const Json& obj, const char* key, const std::string& path, int64_t min,
                std::optional<T>* out) {
  std::optional<int64_t> v;
  SKIFF_RETURN_IF_ERROR(OptInt(obj, key, path, min, &v));
  if (v) *out = static_cast<T>(*v);
  return OkStatus();
}

Status OptBool(const Json& obj, const char* key, const std::string& path, bool* out) {
  const Json* f = FindField(obj, key);
  if (f == nullptr || f->is_null()) return OkStatus();
  if (!f->is_boolean()) return FieldError(path + "." + key, "must be a boolean");
  *out = f->get<bool>();
  return OkStatus();
}

Status OptString(const Json& obj, const char* key, const std::string& path,
                 std::optional<std::string>* out) {
  const Json* f = FindField(obj, key);
  if (f == nullptr || f->is_null()) return OkStatus();
  if (!f->is_string()) return FieldError(path + "." + key, "must be a string");
  *out = f->get<std::string>();
  return OkStatus();
}

Status OneOf(const std::string& value, const std::vector<std::string>& allowed,
             const std::string& path) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return OkStatus();
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  return FieldError(path, "unsupported value \"" + value + "\" (one of " + list + ")");
}

Status ParseRunPolicy(const Json& spec, const KindTraits& t, RunPolicy* rp) {
  rp->clean_pod_policy = t.clean_pod_policy;
  const Json* f = FindField(spec, "runPolicy");
  if (f == nullptr || f->is_null()) return OkStatus();
  const std::string path = "spec.runPolicy";
  if (!f->is_object()) return FieldError(path, "must be an object");
  std::optional<std::string> cpp;
  SKIFF_RETURN_IF_ERROR(OptString(*f, "cleanPodPolicy", path, &cpp));
  if (cpp) {
    SKIFF_RETURN_IF_ERROR(OneOf(*cpp, {"All", "Running", "None"}, path + ".cleanPodPolicy"));
    rp->clean_pod_policy = *cpp;
  }
  SKIFF_RETURN_IF_ERROR(
      OptInt(*f, "ttlSecondsAfterFinished", path, 0, &rp->ttl_seconds_after_finished));
  SKIFF_RETURN_IF_ERROR(OptInt(*f, "activeDeadlineSeconds", path, 0, &rp->active_deadline_seconds));
  SKIFF_RETURN_IF_ERROR(OptInt32(*f, "backoffLimit", path, 0, &rp->backoff_limit));
  SKIFF_RETURN_IF_ERROR(OptBool(*f, "suspend", path, &rp->suspend));
  if (const Json* sp = FindField(*f, "schedulingPolicy"); sp != nullptr && !sp->is_null()) {
    std::string sp_path = path + ".schedulingPolicy";
    if (!sp->is_object()) return FieldError(sp_path, "must be an object");
    SKIFF_RETURN_IF_ERROR(OptInt32(*sp, "minAvailable", sp_path, 0, &rp->min_available));
    rp->queue = StringField(*sp, "queue");
    rp->priority_class = StringField(*sp, "priorityClass");
  }
  return OkStatus();
}

Status ParseElastic(const Json& spec, ElasticPolicy* ep) {
  const Json& f = spec["elasticPolicy"];
  const std::string path = "spec.elasticPolicy";
  if (!f.is_object()) return FieldError(path, "must be an object");
  SKIFF_RETURN_IF_ERROR(OptInt32(f, "minReplicas", path, 1, &ep->min_replicas));
  SKIFF_RETURN_IF_ERROR(OptInt32(f, "maxReplicas", path, 1, &ep->max_replicas));
  SKIFF_RETURN_IF_ERROR(OptInt32(f, "rdzvPort", path, 1, &ep->rdzv_port));
  SKIFF_RETURN_IF_ERROR(OptInt32(f, "maxRestarts", path, 0, &ep->max_restarts));
  SKIFF_RETURN_IF_ERROR(OptInt32(f, "nProcPerNode", path, 1, &ep->nproc_per_node));
  SKIFF_RETURN_IF_ERROR(OptString(f, "rdzvHost", path, &ep->rdzv_host));
  SKIFF_RETURN_IF_ERROR(OptString(f, "rdzvId", path, &ep->rdzv_id));
  std::optional<std::string> backend;
  SKIFF_RETURN_IF_ERROR(OptString(f, "rdzvBackend", path, &backend));
  if (backend) {
    SKIFF_RETURN_IF_ERROR(OneOf(*backend, {"c10d", "etcd", "etcd-v2"}, path + ".rdzvBackend"));
    ep->rdzv_backend = *backend;
  }
  SKIFF_RETURN_IF_ERROR(OptBool(f, "standalone", path, &ep->standalone));
  if (const Json* conf = FindField(f, "rdzvConf"); conf != nullptr && !conf->is_null()) {
    if (!conf->is_array()) return FieldError(path + ".rdzvConf", "must be a list");
    for (const auto& kv : *conf) {
      ep->rdzv_conf.emplace_back(StringField(kv, "key"),
                                 ScalarToString(kv.value("value", Json(""))));
    }
  }
  if (ep->min_replicas && ep->max_replicas && *ep->min_replicas > *ep->max_replicas) {
    return FieldError(path + ".minReplicas", "must be <= maxReplicas");
  }
  return OkStatus();
}

// Adds the framework's port to its default container when no port of that name is declared,
// as the upstream defaulters (`setDefaultPort`) do.
void DefaultPort(Json& pod_template, const KindTraits& t) {
  if (t.port == 0) return;
  Json& containers = pod_template["spec"]["containers"];
  for (auto& c : containers) {
    if (StringField(c, "name") != t.container) continue;
    if (!c.contains("ports") || !c["ports"].is_array()) c["ports"] = Json::array();
    for (const auto& p : c["ports"]) {
      if (StringField(p, "name") == t.port_name) return;
    }
    c["ports"].push_back({{"name", t.port_name}, {"containerPort", t.port}});
  }
}

Status ParseReplica(const std::string& key, const Json& r, const KindTraits& t,
                    const std::string& path, ReplicaSpec* out) {
  if (!r.is_object()) return FieldError(path, "must be an object");
  std::optional<int32_t> replicas;
  SKIFF_RETURN_IF_ERROR(OptInt32(r, "replicas", path, 0, &replicas));
  std::string type = out->type;
  out->replicas = replicas.value_or(t.framework == Framework::kMPI && type == "Worker" ? 0 : 1);
  std::optional<std::string> rp;
  SKIFF_RETURN_IF_ERROR(OptString(r, "restartPolicy", path, &rp));
  std::string def = t.restart_policy;
  if (t.framework == Framework::kMPI && type == "Launcher") def = "OnFailure";
  out->restart_policy = rp.value_or(def);
  if (out->restart_policy.empty()) out->restart_policy = def;
  SKIFF_RETURN_IF_ERROR(OneOf(out->restart_policy, {"Always", "OnFailure", "Never", "ExitCode"},
                              path + ".restartPolicy"));
  const Json* tmpl = FindField(r, "template");
  if (tmpl == nullptr || !tmpl->is_object()) return FieldError(path + ".template", "required");
  const Json* pod_spec = FindField(*tmpl, "spec");
  if (pod_spec == nullptr || !pod_spec->is_object())
    return FieldError(path + ".template.spec", "required");
  const Json* containers = FindField(*pod_spec, "containers");
  std::string cpath = path + ".template.spec.containers";
  if (containers == nullptr || !containers->is_array() || containers->empty()) {
    return FieldError(cpath, "must have at least one container");
  }
  bool has_default = t.container[0] == '\0';
  for (size_t i = 0; i < containers->size(); ++i) {
    const Json& c = (*containers)[i];
    std::string ipath = cpath + "[" + std::to_string(i) + "]";
    if (!c.is_object()) return FieldError(ipath, "must be an object");
    if (StringField(c, "name").empty()) return FieldError(ipath + ".name", "required");
    if (StringField(c, "image").empty()) return FieldError(ipath + ".image", "required");
    if (StringField(c, "name") == t.container) has_default = true;
  }
  if (!has_default) {
    return FieldError(cpath,
                      "there is no container named " + std::string(t.container) + " in " + key);
  }
  out->pod_template = *tmpl;
  DefaultPort(out->pod_template, t);
  return OkStatus();
}

}  // namespace

std::string ReplicaSpec::lower() const { return Lower(type); }

const ReplicaSpec* TrainingJob::Find(std::string_view type) const {
  for (const auto& r : replicas) {
    if (r.type == type) return &r;
  }
  return nullptr;
}

int32_t TrainingJob::TotalReplicas() const {
  int32_t n = 0;
  for (const auto& r : replicas) n += r.replicas;
  return n;
}

std::string TrainingJob::MasterType() const {
  for (const char* t : {"Master", "Chief", "Launcher"}) {
    if (Find(t) != nullptr) return t;
  }
  return "";
}

bool IsTrainingKind(std::string_view kind) { return FindTraits(kind) != nullptr; }

int32_t DeclaredPort(const TrainingJob& job, const ReplicaSpec& spec) {
  const Json pod_spec = spec.pod_template.value("spec", Json::object());
  const Json* containers = FindField(pod_spec, "containers");
  if (containers != nullptr && containers->is_array()) {
    for (const auto& c : *containers) {
      if (StringField(c, "name") != job.default_container) continue;
      for (const auto& p : c.value("ports", Json::array())) {
        if (StringField(p, "name") == job.default_port_name && p.contains("containerPort") &&
            p["containerPort"].is_number_integer()) {
          return p["containerPort"].get<int32_t>();
        }
      }
    }
  }
  return job.default_port;
}

Result<TrainingJob> ParseTrainingJob(const Json& obj) {
  if (!obj.is_object()) return InvalidArgument("not an object");
  std::string kind = StringField(obj, "kind");
  const KindTraits* t = FindTraits(kind);
  if (t == nullptr) return FieldError("kind", "not a training kind: \"" + kind + "\"");
  TrainingJob job;
  job.framework = t->framework;
  job.kind = t->kind;
  job.api_version = StringField(obj, "apiVersion");
  if (job.api_version != t->api_version) {
    return FieldError("apiVersion", "must be " + std::string(t->api_version) + " for " + kind);
  }
  const Json meta = obj.value("metadata", Json::object());
  job.name = StringField(meta, "name");
  job.ns = StringField(meta, "namespace", "default");
  job.uid = StringField(meta, "uid");
  if (!job.name.empty() && !IsDns1035Label(job.name)) {
    return FieldError("metadata.name",
                      "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
                      "start with an alphabetic character, and end with an alphanumeric character");
  }
  if (const Json* ann = FindField(meta, "annotations"); ann != nullptr && ann->is_object()) {
    if (const Json* v = FindField(*ann, kProgressDeadlineAnnotation); v != nullptr) {
      const std::string path =
          std::string("metadata.annotations[") + kProgressDeadlineAnnotation + "]";
      std::string text = v->is_string() ? v->get<std::string>() : "";
      if (text.empty() || text.size() > 9 ||
          text.find_first_not_of("0123456789") != std::string::npos || std::stoll(text) < 1) {
        return FieldError(path, "must be a positive whole number of seconds, got " + v->dump());
      }
      job.progress_deadline_seconds = std::stoll(text);
    }
  }
  job.default_container = t->container;
  job.default_port_name = t->port_name;
  job.default_port = t->port;
  const Json* spec_ptr = FindField(obj, "spec");
  if (spec_ptr == nullptr || !spec_ptr->is_object()) return FieldError("spec", "required");
  const Json& spec = *spec_ptr;
  SKIFF_RETURN_IF_ERROR(ParseRunPolicy(spec, *t, &job.run_policy));

  const std::string specs_path = std::string("spec.") + t->specs_field;
  const Json* specs = FindField(spec, t->specs_field);
  if (specs == nullptr || !specs->is_object() || specs->empty()) {
    return FieldError(specs_path, "required (at least one replica type)");
  }
  std::map<std::string, ReplicaSpec> by_type;
  for (auto it = specs->begin(); it != specs->end(); ++it) {
    std::string canonical;
    for (const char* type : t->types) {
      if (Lower(type) == Lower(it.key())) canonical = type;
    }
    if (canonical.empty()) {
      std::string list;
      for (const char* type : t->types) list += (list.empty() ? "" : ", ") + std::string(type);
      return FieldError(specs_path + "." + it.key(),
                        "unsupported replica type (one of " + list + ")");
    }
    if (by_type.count(canonical))
      return FieldError(specs_path + "." + it.key(), "duplicate replica type");
    ReplicaSpec r;
    r.type = canonical;
    SKIFF_RETURN_IF_ERROR(ParseReplica(it.key(), it.value(), *t, specs_path + "." + it.key(), &r));
    by_type[canonical] = std::move(r);
  }
  for (const char* type : t->types) {
    auto it = by_type.find(type);
    if (it != by_type.end()) job.replicas.push_back(std::move(it->second));
  }
  auto replicas_path = [&](const std::string& type) {
    for (auto it = specs->begin(); it != specs->end(); ++it) {
      if (Lower(it.key()) == Lower(type)) return specs_path + "." + it.key() + ".replicas";
    }
    return specs_path + "." + type + ".replicas";
  };

  switch (job.framework) {
    case Framework::kPyTorch: {
      if (const ReplicaSpec* m = job.Find("Master"); m != nullptr && m->replicas != 1) {
        return FieldError(replicas_path("Master"), "must be 1");
      }
      std::optional<std::string> nproc;
      SKIFF_RETURN_IF_ERROR(OptString(spec, "nprocPerNode", "spec", &nproc));
      if (const Json* e = FindField(spec, "elasticPolicy"); e != nullptr && !e->is_null()) {
        ElasticPolicy ep;
        SKIFF_RETURN_IF_ERROR(ParseElastic(spec, &ep));
        if (ep.nproc_per_node && nproc) {
          return FieldError("spec.elasticPolicy.nProcPerNode",
                            "must not be used with spec.nprocPerNode");
        }
        const ReplicaSpec* w = job.Find("Worker");
        if (!ep.min_replicas && !ep.max_replicas) {
          if (w == nullptr)
            return FieldError(specs_path + ".Worker", "required with elasticPolicy");
          ep.min_replicas = ep.max_replicas = w->replicas;
        } else if (!ep.min_replicas) {
          ep.min_replicas = ep.max_replicas;
        } else if (!ep.max_replicas) {
          ep.max_replicas = ep.min_replicas;
        }
        if (ep.nproc_per_node) nproc = std::to_string(*ep.nproc_per_node);
        job.elastic = ep;
      }
      job.nproc_per_node = nproc.value_or("auto");
      break;
    }
    case Framework::kTensorFlow: {
      for (const char* one : {"Chief", "Master", "Evaluator"}) {
        if (const ReplicaSpec* r = job.Find(one); r != nullptr && r->replicas > 1) {
          return FieldError(replicas_path(one), "must be <= 1");
        }
      }
      if (job.Find("Chief") && job.Find("Master")) {
        return FieldError(specs_path, "must not have both Chief and Master");
      }
      SKIFF_RETURN_IF_ERROR(
          OptBool(spec, "enableDynamicWorker", "spec", &job.enable_dynamic_worker));
      std::optional<std::string> sp;
      SKIFF_RETURN_IF_ERROR(OptString(spec, "successPolicy", "spec", &sp));
      if (sp && !sp->empty()) {
        SKIFF_RETURN_IF_ERROR(OneOf(*sp, {"AllWorkers"}, "spec.successPolicy"));
        job.success_policy = *sp;
      }
      break;
    }
    case Framework::kXGBoost: {
      const ReplicaSpec* m = job.Find("Master");
      if (m == nullptr) return FieldError(specs_path + ".Master", "required");
      if (m->replicas != 1) return FieldError(replicas_path("Master"), "must be 1");
      break;
    }
    case Framework::kPaddle: {
      if (const ReplicaSpec* m = job.Find("Master"); m != nullptr && m->replicas > 1) {
        return FieldError(replicas_path("Master"), "must be <= 1");
      }
      break;
    }
    case Framework::kMPI: {
      const ReplicaSpec* l = job.Find("Launcher");
      if (l == nullptr) return FieldError(specs_path + ".Launcher", "required");
      if (l->replicas != 1) return FieldError(replicas_path("Launcher"), "must be 1");
      std::optional<int32_t> slots;
      SKIFF_RETURN_IF_ERROR(OptInt32(spec, "slotsPerWorker", "spec", 1, &slots));
      job.slots_per_worker = slots.value_or(1);
      std::optional<std::string> s;
      SKIFF_RETURN_IF_ERROR(OptString(spec, "launcherCreationPolicy", "spec", &s));
      if (s) {
        SKIFF_RETURN_IF_ERROR(
            OneOf(*s, {"AtStartup", "WaitForWorkersReady"}, "spec.launcherCreationPolicy"));
        job.launcher_creation_policy = *s;
      }
      s.reset();
      SKIFF_RETURN_IF_ERROR(OptString(spec, "mpiImplementation", "spec", &s));
      if (s) {
        SKIFF_RETURN_IF_ERROR(OneOf(*s, {"OpenMPI", "Intel", "MPICH"}, "spec.mpiImplementation"));
        job.mpi_implementation = *s;
      }
      s.reset();
      SKIFF_RETURN_IF_ERROR(OptString(spec, "sshAuthMountPath", "spec", &s));
      if (s) job.ssh_auth_mount_path = *s;
      SKIFF_RETURN_IF_ERROR(
          OptBool(spec, "runLauncherAsWorker", "spec", &job.run_launcher_as_worker));
      // MPI has no default container name: the first container of each replica counts.
      break;
    }
  }
  return job;
}

}  // namespace skiff::training
