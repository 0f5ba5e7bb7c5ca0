// `skiff describe` of a training job (PyTorchJob, TFJob, XGBoostJob, PaddleJob, MPIJob): after
// the stored spec, the plan the training controller works from — the normalized job (replica
// types in canonical order with their defaulted counts and restart policies, the run policy with
// its defaults, the success rule) and, for the first replica of each type, the Pod name and the
// environment injected into it, with Kubernetes' addresses (locally: 127.0.0.1 and a port per
// replica, see docs/user-guide/training.md). A job whose image cannot run here is still fully
// described: nothing below needs it to run.
#include <string>

#include "cli/commands.h"
#include "kinds/training/training_env.h"
#include "kinds/training/training_job.h"

namespace skiff::cli {

namespace {

using training::Framework;
using training::TrainingJob;

std::string SuccessRule(const TrainingJob& job) {
  switch (job.framework) {
    case Framework::kTensorFlow:
      if (job.Find("Chief")) return "the Chief succeeds";
      if (job.Find("Master")) return "the Master succeeds";
      if (job.success_policy == "AllWorkers") return "every Worker succeeds (AllWorkers)";
      return "Worker 0 succeeds";
    case Framework::kPyTorch:
      if (job.Find("Master")) return "the Master succeeds";
      if (job.elastic) return "any Worker succeeds (elastic)";
      return "every Worker succeeds";
    case Framework::kXGBoost:
      return "the Master succeeds";
    case Framework::kPaddle:
      return job.Find("Master") ? "the Master succeeds" : "every Worker succeeds";
    case Framework::kMPI:
      return "the Launcher succeeds";
  }
  return "";
}

std::string Optional(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : "<unset>";
}

}  // namespace

std::string TrainingPlanText(const Json& obj) {
  auto parsed = training::ParseTrainingJob(obj);
  if (!parsed.ok()) return "Plan:         <invalid: " + parsed.status().message() + ">\n";
  const TrainingJob& job = *parsed;
  std::string out = "Plan:\n";
  out += "  Success:      " + SuccessRule(job) + "\n";
  const auto& rp = job.run_policy;
  out += "  Run policy:   cleanPodPolicy " + rp.clean_pod_policy + ", backoffLimit " +
         Optional(rp.backoff_limit) + ", activeDeadlineSeconds " +
         Optional(rp.active_deadline_seconds) + ", ttlSecondsAfterFinished " +
         Optional(rp.ttl_seconds_after_finished) + (rp.suspend ? ", suspended" : "") + "\n";
  out += "  Gang:         " +
         std::to_string(rp.min_available.value_or(job.TotalReplicas())) +
         " Pods start together\n";
  if (job.elastic) {
    const auto& e = *job.elastic;
    out += "  Elastic:      " + std::to_string(e.min_replicas.value_or(0)) + ".." +
           std::to_string(e.max_replicas.value_or(0)) + " workers, rendezvous " + e.rdzv_backend +
           (e.max_restarts ? ", maxRestarts " + std::to_string(*e.max_restarts) : "") + "\n";
  }
  if (job.progress_deadline_seconds) {
    out += "  Stalled after " + std::to_string(*job.progress_deadline_seconds) +
           "s without output\n";
  }
  out += "  Replicas:\n";
  std::vector<std::vector<std::string>> rows = {{"TYPE", "REPLICAS", "RESTART", "PODS"}};
  for (const auto& r : job.replicas) {
    std::string pods;
    for (int32_t i = 0; i < r.replicas; ++i) {
      if (i == 3 && r.replicas > 4) {
        pods += ", ... " + training::ReplicaName(job, r.type, r.replicas - 1);
        break;
      }
      pods += (i ? ", " : "") + training::ReplicaName(job, r.type, i);
    }
    rows.push_back({r.type, std::to_string(r.replicas), r.restart_policy, pods.empty() ? "-" : pods});
  }
  std::vector<size_t> w(4, 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line = "    ";
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i] + (i + 1 < row.size() ? std::string(w[i] - row[i].size() + 2, ' ') : "");
    }
    out += line + "\n";
  }
  const training::Network net = training::Network::Kubernetes();
  out += "  Environment (Kubernetes addresses; locally 127.0.0.1 and a port per replica):\n";
  for (const auto& r : job.replicas) {
    if (r.replicas == 0) continue;
    out += "    " + training::ReplicaName(job, r.type, 0) + ":\n";
    for (const auto& e : training::ReplicaEnv(job, net, r.type, 0)) {
      out += "      " + e.name + "=" + (e.value_from.is_null() ? e.value : e.value_from.dump()) + "\n";
    }
  }
  if (job.framework == Framework::kMPI) {
    out += "  Hostfile (" + std::string(training::kMpiConfigMountPath) + "/" +
           training::kMpiHostfileName + "):\n";
    std::string hosts = training::MpiHostfile(job, net);
    size_t start = 0;
    while (start < hosts.size()) {
      size_t end = hosts.find('\n', start);
      if (end == std::string::npos) end = hosts.size();
      out += "    " + hosts.substr(start, end - start) + "\n";
      start = end + 1;
    }
  }
  return out;
}

}  // namespace skiff::cli
