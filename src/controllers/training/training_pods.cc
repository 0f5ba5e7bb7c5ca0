#include "controllers/training/training_pods.h"

#include <cctype>
#include <string>
#include <vector>

namespace skiff::controllers::training_pods {

namespace {

using training::ReplicaSpec;
using training::TrainingJob;

std::string OperatorName(const TrainingJob& job) {
  std::string k = job.kind;
  for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k + "-controller";
}

Json OwnerRef(const TrainingJob& job) {
  return Json::array({{{"apiVersion", job.api_version},
                       {"kind", job.kind},
                       {"name", job.name},
                       {"uid", job.uid},
                       {"controller", true},
                       {"blockOwnerDeletion", true}}});
}

Json ReplicaLabels(const TrainingJob& job, const ReplicaSpec& r, int32_t index) {
  Json l = {{kJobNameLabel, job.name},
            {kOperatorNameLabel, OperatorName(job)},
            {kReplicaTypeLabel, r.lower()},
            {kReplicaIndexLabel, std::to_string(index)}};
  if (r.type == job.MasterType()) l[kJobRoleLabel] = "master";
  return l;
}

void AppendEnv(Json& container, const std::vector<training::EnvVar>& env) {
  if (!container.contains("env") || !container["env"].is_array()) container["env"] = Json::array();
  for (const auto& e : env) {
    Json v = {{"name", e.name}};
    if (!e.value_from.is_null()) {
      v["valueFrom"] = e.value_from;
    } else {
      v["value"] = e.value;
    }
    container["env"].push_back(std::move(v));
  }
}

// The job's checkpoint folder, mounted at its own path into every container (see
// `TrainingControllerOptions::checkpoint_root`). A template that already has a volume of that
// name keeps its own.
void AddCheckpointVolume(const Plan& p, Json& spec) {
  const std::string dir =
      p.options.checkpoint_root + "/" + p.job.ns + "/" + p.job.name + "/checkpoints";
  if (!spec.contains("volumes") || !spec["volumes"].is_array()) spec["volumes"] = Json::array();
  for (const auto& v : spec["volumes"]) {
    if (StringField(v, "name") == kCheckpointVolume) return;
  }
  spec["volumes"].push_back(
      {{"name", kCheckpointVolume}, {"hostPath", {{"path", dir}, {"type", "DirectoryOrCreate"}}}});
  for (const char* field : {"initContainers", "containers"}) {
    if (!spec.contains(field) || !spec[field].is_array()) continue;
    for (auto& c : spec[field]) {
      if (!c.contains("volumeMounts") || !c["volumeMounts"].is_array())
        c["volumeMounts"] = Json::array();
      c["volumeMounts"].push_back({{"name", kCheckpointVolume}, {"mountPath", dir}});
      AppendEnv(c, {{kCheckpointDirEnv, dir, Json()}});
    }
  }
}

}  // namespace

Json NewPod(const Plan& p, const ReplicaSpec& r, int32_t index, int64_t restarts) {
  const TrainingJob& job = p.job;
  Json tmpl = r.pod_template;
  Json meta = tmpl.value("metadata", Json::object());
  std::string name = training::ReplicaName(job, r.type, index);
  meta["name"] = name;
  meta["namespace"] = job.ns;
  meta.erase("generateName");
  if (!meta.contains("labels") || !meta["labels"].is_object()) meta["labels"] = Json::object();
  const Json labels = ReplicaLabels(job, r, index);
  for (auto it = labels.begin(); it != labels.end(); ++it) meta["labels"][it.key()] = it.value();
  if (!meta.contains("annotations") || !meta["annotations"].is_object())
    meta["annotations"] = Json::object();
  meta["annotations"][kRestartAnnotation] = std::to_string(restarts);
  // A recreated replica joins replicas that already run (or have finished): it is admitted
  // alone, as a gang of its first members only could wait for Pods that never come back.
  if (p.gang_size > 0 && restarts == 0 &&
      !(job.framework == training::Framework::kMPI && r.type == "Launcher" &&
        job.launcher_creation_policy == "WaitForWorkersReady")) {
    meta["annotations"][kGangAnnotation] = job.ns + "." + job.name;
    meta["annotations"][kGangSizeAnnotation] = std::to_string(p.gang_size);
  }
  meta["ownerReferences"] = OwnerRef(job);
  Json spec = tmpl.value("spec", Json::object());
  // ExitCode is the controller's policy: the Pod itself never restarts (upstream does the same).
  spec["restartPolicy"] = r.restart_policy == "ExitCode" ? "Never" : r.restart_policy;
  if (job.framework == training::Framework::kMPI) {
    spec["hostname"] = name;
    spec["subdomain"] = job.name;
  } else {
    spec["hostname"] = name;
  }
  const auto env = training::ReplicaEnv(job, p.net, r.type, index);
  for (const char* field : {"initContainers", "containers"}) {
    if (!spec.contains(field) || !spec[field].is_array()) continue;
    if (std::string(field) == "initContainers" && job.framework != training::Framework::kMPI)
      continue;
    for (auto& c : spec[field]) {
      if (training::InjectsInto(job, StringField(c, "name"))) AppendEnv(c, env);
    }
  }
  if (job.framework == training::Framework::kMPI && r.type == "Launcher") {
    if (!spec.contains("volumes") || !spec["volumes"].is_array()) spec["volumes"] = Json::array();
    spec["volumes"].push_back(
        {{"name", "mpi-job-config"},
         {"configMap",
          {{"name", job.name + "-config"},
           {"items", Json::array({{{"key", "hostfile"}, {"path", "hostfile"}, {"mode", 0444}},
                                  {{"key", "discover_hosts.sh"},
                                   {"path", "discover_hosts.sh"},
                                   {"mode", 0555}}})}}}});
    for (auto& c : spec["containers"]) {
      if (!c.contains("volumeMounts") || !c["volumeMounts"].is_array())
        c["volumeMounts"] = Json::array();
      c["volumeMounts"].push_back(
          {{"name", "mpi-job-config"}, {"mountPath", training::kMpiConfigMountPath}});
    }
  }
  if (!p.options.checkpoint_root.empty()) AddCheckpointVolume(p, spec);
  if (p.options.local_network) {
    // Every replica name resolves to this machine (applied by the local kubelet's per-Pod
    // /etc/hosts).
    if (!spec.contains("hostAliases") || !spec["hostAliases"].is_array())
      spec["hostAliases"] = Json::array();
    Json names = Json::array();
    for (const auto& n : training::ReplicaHostNames(job)) names.push_back(n);
    spec["hostAliases"].push_back({{"ip", "127.0.0.1"}, {"hostnames", names}});
  }
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", std::move(meta)},
          {"spec", std::move(spec)}};
}

Json NewService(const Plan& p, const ReplicaSpec& r, int32_t index) {
  const TrainingJob& job = p.job;
  Json selector = {{kJobNameLabel, job.name},
                   {kReplicaTypeLabel, r.lower()},
                   {kReplicaIndexLabel, std::to_string(index)}};
  int32_t port = training::ReplicaPort(job, p.net, r.type, index);
  Json spec = {{"clusterIP", "None"}, {"selector", selector}};
  if (port > 0) spec["ports"] = Json::array({{{"name", job.default_port_name}, {"port", port}}});
  Json labels = ReplicaLabels(job, r, index);
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata",
           {{"name", training::ReplicaName(job, r.type, index)},
            {"namespace", job.ns},
            {"labels", labels},
            {"ownerReferences", OwnerRef(job)}}},
          {"spec", std::move(spec)}};
}

Json NewMpiService(const TrainingJob& job) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata",
           {{"name", job.name},
            {"namespace", job.ns},
            {"labels", {{kJobNameLabel, job.name}}},
            {"ownerReferences", OwnerRef(job)}}},
          {"spec",
           {{"clusterIP", "None"},
            {"publishNotReadyAddresses", true},
            {"selector", {{kJobNameLabel, job.name}}}}}};
}

Json NewMpiConfigMap(const TrainingJob& job, const training::Network& net) {
  std::string discover = "#!/bin/sh\n";
  for (int32_t i = 0; i < (job.Find("Worker") ? job.Find("Worker")->replicas : 0); ++i) {
    discover += "echo " + training::ReplicaName(job, "Worker", i) + "." + job.name + "." + job.ns +
                ".svc\n";
  }
  return {
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata",
       {{"name", job.name + "-config"},
        {"namespace", job.ns},
        {"labels", {{"app", job.name}}},
        {"ownerReferences", OwnerRef(job)}}},
      {"data", {{"hostfile", training::MpiHostfile(job, net)}, {"discover_hosts.sh", discover}}}};
}

}  // namespace skiff::controllers::training_pods
