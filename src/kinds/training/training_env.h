// The environment each training replica is given, as pure functions of a `TrainingJob`: the
// variables Training Operator 1.9 and MPI Operator v2beta1 inject (PyTorch `MASTER_*`,
// `WORLD_SIZE`, `RANK`, `PET_*`; `TF_CONFIG`; XGBoost `MASTER_*`/`WORKER_*`; `PADDLE_*`;
// MPI's `K_MPI_JOB_ROLE`, `OMPI_MCA_*` and the hostfile), with the same names, values and order.
//
// Addresses come from a `Network`. `Network::Kubernetes()` gives upstream's values exactly
// (host names such as `job-master-0`, `job-worker-1.ns.svc`; the ports declared in the Pod
// templates). A local network replaces each replica's port with the one allocated to it (all
// replicas share 127.0.0.1, so two replicas cannot both listen on 2222) and writes either
// `127.0.0.1` or the upstream host names (which the Pod's hostAliases resolve to 127.0.0.1).
//
// Thread-safety: pure functions.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kinds/training/training_job.h"

namespace skiff::training {

struct EnvVar {
  std::string name;
  std::string value;
  Json value_from;  // null, or a Kubernetes `valueFrom` (Paddle's POD_IP_DUMMY)
  bool operator==(const EnvVar& o) const {
    return name == o.name && value == o.value && value_from == o.value_from;
  }
};

struct Network {
  bool local = false;
  bool loopback = true;  // local only: 127.0.0.1 instead of host names
  // Local only: "<lowertype>-<index>" -> allocated port.
  std::map<std::string, int32_t> ports;

  static Network Kubernetes() { return {}; }
};

// "<job>-<lowertype>-<index>": the Pod name, the Service name and the host name.
std::string ReplicaName(const TrainingJob& job, const std::string& type, int32_t index);
// "<lowertype>-<index>": the key of `Network::ports`.
std::string PortKey(const std::string& type, int32_t index);

// The port a replica listens on: the allocated one locally, else the declared one.
int32_t ReplicaPort(const TrainingJob& job, const Network& net, const std::string& type,
                    int32_t index);

// Every host name the job's replicas may be reached by, upstream style (for hostAliases).
std::vector<std::string> ReplicaHostNames(const TrainingJob& job);

// The variables appended to each container of replica (type, index) that `InjectsInto` accepts.
std::vector<EnvVar> ReplicaEnv(const TrainingJob& job, const Network& net, const std::string& type,
                               int32_t index);
// Whether the framework's variables go into this container (TF: only `tensorflow`).
bool InjectsInto(const TrainingJob& job, const std::string& container_name);

// TF_CONFIG for replica (type, index); "" when the job is not distributed (one replica).
std::string TfConfig(const TrainingJob& job, const Network& net, const std::string& type,
                     int32_t index);
// The MPI hostfile (`/etc/mpi/hostfile`): on Kubernetes one line per worker; locally one line
// for this machine with every slot (OpenMPI rejects one node listed several times with slots).
std::string MpiHostfile(const TrainingJob& job, const Network& net);

inline constexpr const char* kMpiConfigMountPath = "/etc/mpi";
inline constexpr const char* kMpiHostfileName = "hostfile";

}  // namespace skiff::training
