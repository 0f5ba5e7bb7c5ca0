#include "kinds/training/training_env.h"

#include <algorithm>
#include <cctype>

namespace skiff::training {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The address written for a replica: 127.0.0.1 on a loopback local network, else `name`.
std::string Addr(const Network& net, const std::string& name) {
  return net.local && net.loopback ? "127.0.0.1" : name;
}

int32_t Replicas(const TrainingJob& job, const char* type) {
  const ReplicaSpec* r = job.Find(type);
  return r == nullptr ? 0 : r->replicas;
}

// A JSON string literal (the values here are host names and ports; escape anyway).
std::string Quote(const std::string& s) { return Json(s).dump(); }

std::string TfHost(const TrainingJob& job, const std::string& type, int32_t index) {
  return ReplicaName(job, type, index) + "." + job.ns + ".svc";
}

std::string MpiWorkerHost(const TrainingJob& job, int32_t index) {
  return ReplicaName(job, "Worker", index) + "." + job.name + "." + job.ns + ".svc";
}

void PyTorchEnv(const TrainingJob& job, const Network& net, const std::string& type, int32_t index,
                std::vector<EnvVar>& env) {
  env.push_back({"PYTHONUNBUFFERED", "1", nullptr});
  const bool has_master = job.Find("Master") != nullptr;
  int32_t rank = index;
  if (has_master) {
    std::string port = std::to_string(ReplicaPort(job, net, "Master", 0));
    std::string addr = Addr(net, ReplicaName(job, "Master", 0));
    env.push_back({"MASTER_PORT", port, nullptr});
    env.push_back({"MASTER_ADDR", addr, nullptr});
    env.push_back({"PET_MASTER_PORT", port, nullptr});
    env.push_back({"PET_MASTER_ADDR", addr, nullptr});
    if (type == "Worker") rank = index + 1;
    int32_t nproc = 1;
    if (job.nproc_per_node) {
      const std::string& s = *job.nproc_per_node;
      if (!s.empty() && s.size() <= 6 && std::all_of(s.begin(), s.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c));
          })) {
        nproc = std::stoi(s);
      }
    }
    env.push_back({"WORLD_SIZE", std::to_string(job.TotalReplicas() * nproc), nullptr});
    env.push_back({"RANK", std::to_string(rank), nullptr});
  }
  if (job.nproc_per_node) env.push_back({"PET_NPROC_PER_NODE", *job.nproc_per_node, nullptr});
  env.push_back({"PET_NODE_RANK", std::to_string(rank), nullptr});
  if (job.elastic) {
    const ElasticPolicy& ep = *job.elastic;
    std::string host = ep.rdzv_host ? *ep.rdzv_host : Addr(net, ReplicaName(job, "Worker", 0));
    int32_t port = ep.rdzv_port ? *ep.rdzv_port
                                : (job.Find("Worker") ? ReplicaPort(job, net, "Worker", 0) : 0);
    env.push_back({"PET_RDZV_ENDPOINT", host + ":" + std::to_string(port), nullptr});
    env.push_back({"PET_RDZV_BACKEND", ep.rdzv_backend, nullptr});
    env.push_back({"PET_NNODES",
                   std::to_string(ep.min_replicas.value_or(0)) + ":" +
                       std::to_string(ep.max_replicas.value_or(0)),
                   nullptr});
    if (ep.max_restarts)
      env.push_back({"PET_MAX_RESTARTS", std::to_string(*ep.max_restarts), nullptr});
    if (ep.rdzv_id) env.push_back({"PET_RDZV_ID", *ep.rdzv_id, nullptr});
    if (!ep.rdzv_conf.empty()) {
      std::string conf;
      for (const auto& [k, v] : ep.rdzv_conf) conf += (conf.empty() ? "" : ",") + k + "=" + v;
      env.push_back({"PET_RDZV_CONF", conf, nullptr});
    }
    if (ep.standalone) env.push_back({"PET_STANDALONE", "", nullptr});
  } else {
    env.push_back({"PET_NNODES", std::to_string(job.TotalReplicas()), nullptr});
  }
}

void XGBoostEnv(const TrainingJob& job, const Network& net, const std::string& type, int32_t index,
                std::vector<EnvVar>& env) {
  int32_t rank = index;
  if (type == "Worker") rank += Replicas(job, "Master");
  int32_t total = job.TotalReplicas();
  env.push_back({"MASTER_PORT", std::to_string(ReplicaPort(job, net, "Master", 0)), nullptr});
  env.push_back({"MASTER_ADDR", Addr(net, ReplicaName(job, "Master", 0)), nullptr});
  env.push_back({"WORLD_SIZE", std::to_string(total), nullptr});
  env.push_back({"RANK", std::to_string(rank), nullptr});
  env.push_back({"PYTHONUNBUFFERED", "0", nullptr});
  if (total > 1) {
    // Upstream lists total-1 worker names (worker-0 .. worker-(total-2)) and one worker port.
    // Locally every worker has its own port: a worker gets its own, the master worker-0's.
    int32_t port = ReplicaPort(job, net, "Worker", type == "Worker" ? index : 0);
    std::string addrs;
    for (int32_t i = 0; i < total - 1; ++i) {
      addrs += (i ? "," : "") + Addr(net, ReplicaName(job, "Worker", i));
    }
    env.push_back({"WORKER_PORT", std::to_string(port), nullptr});
    env.push_back({"WORKER_ADDRS", addrs, nullptr});
  }
}

void PaddleEnv(const TrainingJob& job, const Network& net, const std::string& type, int32_t index,
               std::vector<EnvVar>& env) {
  env.push_back({"PYTHONUNBUFFERED", "1", nullptr});
  env.push_back({"PADDLE_JOB_ID", job.name, nullptr});
  env.push_back({"PADDLE_NNODES", std::to_string(job.TotalReplicas()), nullptr});
  const bool collective = job.Find("Master") == nullptr;
  const std::string master_type = collective ? "Worker" : "Master";
  const std::string port = std::to_string(ReplicaPort(job, net, master_type, 0));
  const bool is_endpoint = collective ? index == 0 : (index == 0 && type == "Master");
  if (is_endpoint) {
    // Upstream: the Pod's own IP through the downward API, expanded by the kubelet.
    if (net.local) {
      env.push_back({"POD_IP_DUMMY", "127.0.0.1", nullptr});
      env.push_back({"PADDLE_MASTER", "127.0.0.1:" + port, nullptr});
    } else {
      env.push_back({"POD_IP_DUMMY", "", Json{{"fieldRef", {{"fieldPath", "status.podIP"}}}}});
      env.push_back({"PADDLE_MASTER", "$(POD_IP_DUMMY):" + port, nullptr});
    }
  } else {
    env.push_back(
        {"PADDLE_MASTER", Addr(net, ReplicaName(job, master_type, 0)) + ":" + port, nullptr});
  }
  if (!collective) {
    env.push_back({type == "Master" ? "PADDLE_SERVER_NUM" : "PADDLE_TRAINER_NUM", "1", nullptr});
  }
}

void MpiEnv(const TrainingJob& job, const Network& net, const std::string& type,
            std::vector<EnvVar>& env) {
  if (type != "Launcher") {
    env.push_back({"K_MPI_JOB_ROLE", "worker", nullptr});
    return;
  }
  env.push_back({"K_MPI_JOB_ROLE", "launcher", nullptr});
  const std::string hostfile = std::string(kMpiConfigMountPath) + "/" + kMpiHostfileName;
  const std::string slots = std::to_string(job.slots_per_worker);
  if (job.mpi_implementation == "OpenMPI") {
    env.push_back({"OMPI_MCA_orte_keep_fqdn_hostnames", "true", nullptr});
    env.push_back({"OMPI_MCA_orte_default_hostfile", hostfile, nullptr});
    env.push_back({"OMPI_MCA_plm_rsh_args", "-o ConnectionAttempts=10", nullptr});
    env.push_back({"OMPI_MCA_orte_set_default_slots", slots, nullptr});
    if (net.local) {
      // Local replicas run as the user who runs skiff, often root.
      env.push_back({"OMPI_ALLOW_RUN_AS_ROOT", "1", nullptr});
      env.push_back({"OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", nullptr});
    }
  } else if (job.mpi_implementation == "Intel") {
    env.push_back({"I_MPI_HYDRA_HOST_FILE", hostfile, nullptr});
    env.push_back({"I_MPI_HYDRA_BOOTSTRAP_EXEC_EXTRA_ARGS", "-o ConnectionAttempts=10", nullptr});
    env.push_back({"I_MPI_PERHOST", slots, nullptr});
  } else {
    env.push_back({"HYDRA_HOST_FILE", hostfile, nullptr});
    env.push_back({"HYDRA_LAUNCH_EXTRA_ARGS", "-o ConnectionAttempts=10", nullptr});
  }
  if (!job.run_launcher_as_worker) {
    env.push_back({"NVIDIA_VISIBLE_DEVICES", "", nullptr});
    env.push_back({"NVIDIA_DRIVER_CAPABILITIES", "", nullptr});
  }
}

}  // namespace

std::string ReplicaName(const TrainingJob& job, const std::string& type, int32_t index) {
  if (job.framework == Framework::kMPI && type == "Launcher") return job.name + "-launcher";
  return job.name + "-" + Lower(type) + "-" + std::to_string(index);
}

std::string PortKey(const std::string& type, int32_t index) {
  return Lower(type) + "-" + std::to_string(index);
}

int32_t ReplicaPort(const TrainingJob& job, const Network& net, const std::string& type,
                    int32_t index) {
  if (net.local) {
    auto it = net.ports.find(PortKey(type, index));
    if (it != net.ports.end()) return it->second;
  }
  const ReplicaSpec* r = job.Find(type);
  return r == nullptr ? job.default_port : DeclaredPort(job, *r);
}

std::vector<std::string> ReplicaHostNames(const TrainingJob& job) {
  std::vector<std::string> names;
  for (const auto& r : job.replicas) {
    for (int32_t i = 0; i < r.replicas; ++i) {
      std::string n = ReplicaName(job, r.type, i);
      names.push_back(n);
      if (job.framework == Framework::kMPI) {
        names.push_back(n + "." + job.name + "." + job.ns + ".svc");
      } else {
        names.push_back(n + "." + job.ns + ".svc");
      }
    }
  }
  return names;
}

bool InjectsInto(const TrainingJob& job, const std::string& container_name) {
  if (job.framework == Framework::kTensorFlow) return container_name == job.default_container;
  return true;
}

std::string TfConfig(const TrainingJob& job, const Network& net, const std::string& type,
                     int32_t index) {
  if (job.TotalReplicas() <= 1) return "";
  // Go's encoding/json: map keys sorted, struct fields in declaration order.
  std::map<std::string, std::vector<std::string>> cluster;
  for (const auto& r : job.replicas) {
    auto& list = cluster[r.lower()];
    for (int32_t i = 0; i < r.replicas; ++i) {
      list.push_back(Addr(net, TfHost(job, r.type, i)) + ":" +
                     std::to_string(ReplicaPort(job, net, r.type, i)));
    }
  }
  auto list_json = [](const std::vector<std::string>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + Quote(v[i]);
    return s + "]";
  };
  const std::string rt = Lower(type);
  const std::string task = "{\"type\":" + Quote(rt) + ",\"index\":" + std::to_string(index) + "}";
  if (job.enable_dynamic_worker) {
    std::string worker = "{}", ps = "[]";
    if (rt == "ps") {
      ps = list_json({cluster["ps"].at(index)});
    } else if (rt == "worker") {
      ps = list_json(cluster["ps"]);
      worker = "{" + Quote(std::to_string(index)) + ":" + Quote(cluster["worker"].at(index)) + "}";
    }
    return "{\"sparseCluster\":{\"worker\":" + worker + ",\"ps\":" + ps + "},\"task\":" + task +
           "}";
  }
  std::string c = "{";
  bool first = true;
  for (const auto& [k, v] : cluster) {
    c += (first ? "" : ",") + Quote(k) + ":" + list_json(v);
    first = false;
  }
  c += "}";
  return "{\"cluster\":" + c + ",\"task\":" + task + ",\"environment\":\"cloud\"}";
}

std::string MpiHostfile(const TrainingJob& job, const Network& net) {
  std::string out;
  const std::string slots = std::to_string(job.slots_per_worker);
  auto line = [&](const std::string& host) {
    if (job.mpi_implementation == "OpenMPI") {
      out += host + " slots=" + slots + "\n";
    } else {
      out += host + ":" + slots + "\n";
    }
  };
  if (net.local) {
    // Every replica is this machine, and OpenMPI refuses a hostfile that lists one node several
    // times with slot counts: one line with all the slots.
    int32_t hosts = Replicas(job, "Worker") + (job.run_launcher_as_worker ? 1 : 0);
    if (job.mpi_implementation == "OpenMPI")
      return "127.0.0.1 slots=" + std::to_string(hosts * job.slots_per_worker) + "\n";
    return "127.0.0.1:" + std::to_string(hosts * job.slots_per_worker) + "\n";
  }
  if (job.run_launcher_as_worker) {
    line(ReplicaName(job, "Launcher", 0) + "." + job.name + "." + job.ns + ".svc");
  }
  for (int32_t i = 0; i < Replicas(job, "Worker"); ++i) line(MpiWorkerHost(job, i));
  return out;
}

std::vector<EnvVar> ReplicaEnv(const TrainingJob& job, const Network& net, const std::string& type,
                               int32_t index) {
  std::vector<EnvVar> env;
  switch (job.framework) {
    case Framework::kPyTorch:
      PyTorchEnv(job, net, type, index, env);
      break;
    case Framework::kTensorFlow: {
      std::string tf = TfConfig(job, net, type, index);
      if (!tf.empty()) env.push_back({"TF_CONFIG", tf, nullptr});
      break;
    }
    case Framework::kXGBoost:
      XGBoostEnv(job, net, type, index, env);
      break;
    case Framework::kPaddle:
      PaddleEnv(job, net, type, index, env);
      break;
    case Framework::kMPI:
      MpiEnv(job, net, type, env);
      break;
  }
  return env;
}

}  // namespace skiff::training
