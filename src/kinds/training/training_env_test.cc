// The injected environment against upstream's exact names, values and order (Training
// Operator 1.9, MPI Operator v2beta1), on the Kubernetes network; then the local differences.
#include "kinds/training/training_env.h"

#include <gtest/gtest.h>

namespace skiff::training {
namespace {

TrainingJob Parse(const std::string& yaml) {
  auto j = ParseYaml(yaml);
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  auto job = ParseTrainingJob(j.ok() ? *j : Json::object());
  EXPECT_TRUE(job.ok()) << job.status().ToString();
  return job.ok() ? *job : TrainingJob{};
}

std::vector<std::pair<std::string, std::string>> Pairs(const std::vector<EnvVar>& env) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : env) out.emplace_back(e.name, e.value);
  return out;
}

using P = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kPyTorch = R"(
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: test-pytorchjob, namespace: ns}
spec:
  pytorchReplicaSpecs:
    Master: {replicas: 1, template: {spec: {containers: [{name: pytorch, image: x}]}}}
    Worker: {replicas: 2, template: {spec: {containers: [{name: pytorch, image: x}]}}}
)";

TEST(TrainingEnvTest, PyTorchMasterAndWorker) {
  TrainingJob job = Parse(kPyTorch);
  Network k8s = Network::Kubernetes();
  EXPECT_EQ(Pairs(ReplicaEnv(job, k8s, "Master", 0)),
            (P{{"PYTHONUNBUFFERED", "1"},
               {"MASTER_PORT", "23456"},
               {"MASTER_ADDR", "test-pytorchjob-master-0"},
               {"PET_MASTER_PORT", "23456"},
               {"PET_MASTER_ADDR", "test-pytorchjob-master-0"},
               {"WORLD_SIZE", "3"},
               {"RANK", "0"},
               {"PET_NPROC_PER_NODE", "auto"},
               {"PET_NODE_RANK", "0"},
               {"PET_NNODES", "3"}}));
  auto w1 = Pairs(ReplicaEnv(job, k8s, "Worker", 1));
  EXPECT_EQ(w1[6], (std::pair<std::string, std::string>{"RANK", "2"}));
  EXPECT_EQ(w1[8], (std::pair<std::string, std::string>{"PET_NODE_RANK", "2"}));
  EXPECT_EQ(ReplicaName(job, "Worker", 1), "test-pytorchjob-worker-1");
}

TEST(TrainingEnvTest, PyTorchElastic) {
  TrainingJob job = Parse(R"(
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: elastic}
spec:
  elasticPolicy:
    rdzvBackend: c10d
    minReplicas: 1
    maxReplicas: 3
    maxRestarts: 100
    rdzvId: abc
    rdzvConf: [{key: a, value: "1"}, {key: b, value: "2"}]
  pytorchReplicaSpecs:
    Worker: {replicas: 2, template: {spec: {containers: [{name: pytorch, image: x}]}}}
)");
  EXPECT_EQ(Pairs(ReplicaEnv(job, Network::Kubernetes(), "Worker", 1)),
            (P{{"PYTHONUNBUFFERED", "1"},
               {"PET_NPROC_PER_NODE", "auto"},
               {"PET_NODE_RANK", "1"},
               {"PET_RDZV_ENDPOINT", "elastic-worker-0:23456"},
               {"PET_RDZV_BACKEND", "c10d"},
               {"PET_NNODES", "1:3"},
               {"PET_MAX_RESTARTS", "100"},
               {"PET_RDZV_ID", "abc"},
               {"PET_RDZV_CONF", "a=1,b=2"}}));
}

constexpr const char* kTf = R"(
apiVersion: kubeflow.org/v1
kind: TFJob
metadata: {name: dist, namespace: ns}
spec:
  tfReplicaSpecs:
    PS: {replicas: 1, template: {spec: {containers: [{name: tensorflow, image: x}]}}}
    Worker: {replicas: 2, template: {spec: {containers: [{name: tensorflow, image: x}, {name: side, image: y}]}}}
)";

TEST(TrainingEnvTest, TfConfigDense) {
  TrainingJob job = Parse(kTf);
  EXPECT_EQ(
      TfConfig(job, Network::Kubernetes(), "Worker", 1),
      R"({"cluster":{"ps":["dist-ps-0.ns.svc:2222"],"worker":["dist-worker-0.ns.svc:2222","dist-worker-1.ns.svc:2222"]},)"
      R"("task":{"type":"worker","index":1},"environment":"cloud"})");
  EXPECT_TRUE(InjectsInto(job, "tensorflow"));
  EXPECT_FALSE(InjectsInto(job, "side"));
}

TEST(TrainingEnvTest, TfConfigSparseForDynamicWorkers) {
  std::string yaml = kTf;
  yaml.replace(yaml.find("spec:\n") + 6, 0, "  enableDynamicWorker: true\n");
  TrainingJob job = Parse(yaml);
  EXPECT_EQ(
      TfConfig(job, Network::Kubernetes(), "Worker", 1),
      R"({"sparseCluster":{"worker":{"1":"dist-worker-1.ns.svc:2222"},"ps":["dist-ps-0.ns.svc:2222"]},)"
      R"("task":{"type":"worker","index":1}})");
  EXPECT_EQ(
      TfConfig(job, Network::Kubernetes(), "PS", 0),
      R"({"sparseCluster":{"worker":{},"ps":["dist-ps-0.ns.svc:2222"]},"task":{"type":"ps","index":0}})");
}

TEST(TrainingEnvTest, TfConfigOnlyWhenDistributed) {
  TrainingJob job = Parse(R"(
apiVersion: kubeflow.org/v1
kind: TFJob
metadata: {name: one}
spec:
  tfReplicaSpecs:
    Worker: {replicas: 1, template: {spec: {containers: [{name: tensorflow, image: x}]}}}
)");
  EXPECT_EQ(TfConfig(job, Network::Kubernetes(), "Worker", 0), "");
  EXPECT_TRUE(ReplicaEnv(job, Network::Kubernetes(), "Worker", 0).empty());
}

TEST(TrainingEnvTest, XGBoost) {
  TrainingJob job = Parse(R"(
apiVersion: kubeflow.org/v1
kind: XGBoostJob
metadata: {name: xgb}
spec:
  xgbReplicaSpecs:
    Master: {replicas: 1, template: {spec: {containers: [{name: xgboost, image: x}]}}}
    Worker: {replicas: 2, template: {spec: {containers: [{name: xgboost, image: x}]}}}
)");
  EXPECT_EQ(Pairs(ReplicaEnv(job, Network::Kubernetes(), "Worker", 1)),
            (P{{"MASTER_PORT", "9999"},
               {"MASTER_ADDR", "xgb-master-0"},
               {"WORLD_SIZE", "3"},
               {"RANK", "2"},
               {"PYTHONUNBUFFERED", "0"},
               {"WORKER_PORT", "9999"},
               {"WORKER_ADDRS", "xgb-worker-0,xgb-worker-1"}}));
}

TEST(TrainingEnvTest, PaddleCollectiveAndPs) {
  TrainingJob job = Parse(R"(
apiVersion: kubeflow.org/v1
kind: PaddleJob
metadata: {name: pd}
spec:
  paddleReplicaSpecs:
    Worker: {replicas: 2, template: {spec: {containers: [{name: paddle, image: x}]}}}
)");
  auto w0 = ReplicaEnv(job, Network::Kubernetes(), "Worker", 0);
  EXPECT_EQ(Pairs(w0), (P{{"PYTHONUNBUFFERED", "1"},
                          {"PADDLE_JOB_ID", "pd"},
                          {"PADDLE_NNODES", "2"},
                          {"POD_IP_DUMMY", ""},
                          {"PADDLE_MASTER", "$(POD_IP_DUMMY):36543"}}));
  EXPECT_EQ(w0[3].value_from["fieldRef"]["fieldPath"], "status.podIP");
  EXPECT_EQ(Pairs(ReplicaEnv(job, Network::Kubernetes(), "Worker", 1)),
            (P{{"PYTHONUNBUFFERED", "1"},
               {"PADDLE_JOB_ID", "pd"},
               {"PADDLE_NNODES", "2"},
               {"PADDLE_MASTER", "pd-worker-0:36543"}}));
  TrainingJob ps = Parse(R"(
apiVersion: kubeflow.org/v1
kind: PaddleJob
metadata: {name: pd}
spec:
  paddleReplicaSpecs:
    Master: {replicas: 1, template: {spec: {containers: [{name: paddle, image: x}]}}}
    Worker: {replicas: 1, template: {spec: {containers: [{name: paddle, image: x}]}}}
)");
  EXPECT_EQ(Pairs(ReplicaEnv(ps, Network::Kubernetes(), "Worker", 0)),
            (P{{"PYTHONUNBUFFERED", "1"},
               {"PADDLE_JOB_ID", "pd"},
               {"PADDLE_NNODES", "2"},
               {"PADDLE_MASTER", "pd-master-0:36543"},
               {"PADDLE_TRAINER_NUM", "1"}}));
}

constexpr const char* kMpi = R"(
apiVersion: kubeflow.org/v2beta1
kind: MPIJob
metadata: {name: pi, namespace: ns}
spec:
  slotsPerWorker: 2
  mpiReplicaSpecs:
    Launcher: {replicas: 1, template: {spec: {containers: [{name: l, image: x}]}}}
    Worker: {replicas: 2, template: {spec: {containers: [{name: w, image: x}]}}}
)";

TEST(TrainingEnvTest, MpiHostfileAndEnv) {
  TrainingJob job = Parse(kMpi);
  EXPECT_EQ(MpiHostfile(job, Network::Kubernetes()),
            "pi-worker-0.pi.ns.svc slots=2\npi-worker-1.pi.ns.svc slots=2\n");
  EXPECT_EQ(Pairs(ReplicaEnv(job, Network::Kubernetes(), "Launcher", 0)),
            (P{{"K_MPI_JOB_ROLE", "launcher"},
               {"OMPI_MCA_orte_keep_fqdn_hostnames", "true"},
               {"OMPI_MCA_orte_default_hostfile", "/etc/mpi/hostfile"},
               {"OMPI_MCA_plm_rsh_args", "-o ConnectionAttempts=10"},
               {"OMPI_MCA_orte_set_default_slots", "2"},
               {"NVIDIA_VISIBLE_DEVICES", ""},
               {"NVIDIA_DRIVER_CAPABILITIES", ""}}));
  EXPECT_EQ(Pairs(ReplicaEnv(job, Network::Kubernetes(), "Worker", 1)),
            (P{{"K_MPI_JOB_ROLE", "worker"}}));
  EXPECT_EQ(ReplicaName(job, "Launcher", 0), "pi-launcher");
}

TEST(TrainingEnvTest, LocalNetworkUsesLoopbackAndAllocatedPorts) {
  TrainingJob job = Parse(kPyTorch);
  Network local;
  local.local = true;
  local.ports = {{"master-0", 40001}, {"worker-0", 40002}, {"worker-1", 40003}};
  auto env = Pairs(ReplicaEnv(job, local, "Worker", 0));
  EXPECT_EQ(env[1], (std::pair<std::string, std::string>{"MASTER_PORT", "40001"}));
  EXPECT_EQ(env[2], (std::pair<std::string, std::string>{"MASTER_ADDR", "127.0.0.1"}));
  local.loopback = false;  // names, resolved by the Pod's hostAliases
  env = Pairs(ReplicaEnv(job, local, "Worker", 0));
  EXPECT_EQ(env[2],
            (std::pair<std::string, std::string>{"MASTER_ADDR", "test-pytorchjob-master-0"}));

  TrainingJob tf = Parse(kTf);
  Network tfnet;
  tfnet.local = true;
  tfnet.ports = {{"ps-0", 41000}, {"worker-0", 41001}, {"worker-1", 41002}};
  EXPECT_EQ(
      TfConfig(tf, tfnet, "PS", 0),
      R"({"cluster":{"ps":["127.0.0.1:41000"],"worker":["127.0.0.1:41001","127.0.0.1:41002"]},)"
      R"("task":{"type":"ps","index":0},"environment":"cloud"})");
  TrainingJob mpi = Parse(kMpi);
  EXPECT_EQ(MpiHostfile(mpi, tfnet), "127.0.0.1 slots=4\n");  // one node, all slots
}

}  // namespace
}  // namespace skiff::training
