// Parsing, validation and defaults of the five training kinds: every file of the conformance
// corpus (../shared/conformance/training) parses and normalizes; malformed variants are
// rejected with the field's path (table-driven).
#include "kinds/training/training_job.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "common/fs.h"

namespace skiff::training {
namespace {

std::string CorpusDir() {
  const char* src = std::getenv("SKIFF_SOURCE_DIR");
  std::string root = src != nullptr ? src : ".";
  return root + "/../shared/conformance/training";
}

Json Load(const std::string& file) {
  auto text = ReadFile(CorpusDir() + "/" + file);
  EXPECT_TRUE(text.ok()) << file;
  auto j = ParseYaml(text.ok() ? *text : "");
  EXPECT_TRUE(j.ok()) << file;
  return j.ok() ? *j : Json::object();
}

TEST(TrainingJobTest, EveryConformanceFileParsesAndNormalizes) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(CorpusDir())) {
    if (e.path().extension() != ".yaml") continue;
    Json obj = Load(e.path().filename().string());
    auto job = ParseTrainingJob(obj);
    ASSERT_TRUE(job.ok()) << e.path() << ": " << job.status().ToString();
    EXPECT_FALSE(job->replicas.empty());
    EXPECT_GT(job->TotalReplicas(), 0);
    ++n;
  }
  EXPECT_EQ(n, 6);
}

TEST(TrainingJobTest, PyTorchDefaults) {
  auto job = ParseTrainingJob(Load("pytorchjob-simple.yaml"));
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->framework, Framework::kPyTorch);
  ASSERT_EQ(job->replicas.size(), 2u);
  EXPECT_EQ(job->replicas[0].type, "Master");
  EXPECT_EQ(job->replicas[1].type, "Worker");
  EXPECT_EQ(job->run_policy.clean_pod_policy, "None");
  EXPECT_EQ(job->nproc_per_node.value_or(""), "auto");
  EXPECT_EQ(DeclaredPort(*job, job->replicas[0]), 23456);  // added by the defaulter
  EXPECT_EQ(job->MasterType(), "Master");
  EXPECT_FALSE(job->run_policy.backoff_limit.has_value());
}

TEST(TrainingJobTest, ElasticDefaultsAndTypes) {
  auto job = ParseTrainingJob(Load("pytorchjob-elastic-imagenet-hpa.yaml"));
  ASSERT_TRUE(job.ok());
  ASSERT_TRUE(job->elastic.has_value());
  EXPECT_EQ(*job->elastic->min_replicas, 1);
  EXPECT_EQ(*job->elastic->max_replicas, 3);
  EXPECT_EQ(*job->elastic->max_restarts, 100);
  EXPECT_EQ(job->elastic->rdzv_backend, "c10d");
  EXPECT_EQ(job->replicas[0].restart_policy, "OnFailure");
}

TEST(TrainingJobTest, TfXgbPaddleMpiDefaults) {
  auto tf = ParseTrainingJob(Load("tfjob-dist-mnist-chief-ps-worker.yaml"));
  ASSERT_TRUE(tf.ok());
  EXPECT_EQ(tf->run_policy.clean_pod_policy, "Running");
  ASSERT_EQ(tf->replicas.size(), 3u);
  EXPECT_EQ(tf->replicas[0].type, "Chief");
  EXPECT_EQ(tf->replicas[1].type, "PS");
  EXPECT_EQ(tf->replicas[2].type, "Worker");
  EXPECT_EQ(DeclaredPort(*tf, tf->replicas[2]), 2222);
  EXPECT_EQ(tf->MasterType(), "Chief");

  auto xgb = ParseTrainingJob(Load("xgboostjob-exitcode.yaml"));
  ASSERT_TRUE(xgb.ok());
  EXPECT_EQ(xgb->Find("Worker")->restart_policy, "ExitCode");
  EXPECT_EQ(xgb->Find("Master")->restart_policy, "Never");
  EXPECT_EQ(DeclaredPort(*xgb, *xgb->Find("Master")), 9991);  // declared, not the default 9999

  auto pd = ParseTrainingJob(Load("paddlejob-simple-cpu.yaml"));
  ASSERT_TRUE(pd.ok());
  EXPECT_EQ(pd->ns, "kubeflow");
  EXPECT_EQ(DeclaredPort(*pd, pd->replicas[0]), 37777);
  EXPECT_EQ(pd->replicas[0].restart_policy, "OnFailure");

  auto mpi = ParseTrainingJob(Load("mpijob-v2beta1-pi.yaml"));
  ASSERT_TRUE(mpi.ok());
  EXPECT_EQ(mpi->framework, Framework::kMPI);
  EXPECT_EQ(mpi->Find("Launcher")->restart_policy, "OnFailure");
  EXPECT_EQ(mpi->Find("Worker")->restart_policy, "Never");
  EXPECT_EQ(mpi->run_policy.clean_pod_policy, "Running");
  EXPECT_EQ(*mpi->run_policy.ttl_seconds_after_finished, 60);
  EXPECT_EQ(mpi->slots_per_worker, 1);
  EXPECT_EQ(mpi->launcher_creation_policy, "AtStartup");
  EXPECT_EQ(mpi->ssh_auth_mount_path, "/home/mpiuser/.ssh");
  EXPECT_EQ(mpi->MasterType(), "Launcher");
}

TEST(TrainingJobTest, ReplicaTypeKeysAreCaseInsensitive) {
  auto j = ParseYaml(R"(
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: p}
spec:
  pytorchReplicaSpecs:
    master: {template: {spec: {containers: [{name: pytorch, image: x}]}}}
    WORKER: {replicas: 2, template: {spec: {containers: [{name: pytorch, image: x}]}}}
)");
  ASSERT_TRUE(j.ok());
  auto job = ParseTrainingJob(*j);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->replicas[0].type, "Master");
  EXPECT_EQ(job->replicas[1].type, "Worker");
  EXPECT_EQ(job->replicas[1].replicas, 2);
}

struct BadCase {
  const char* name;
  const char* yaml;
  const char* error;  // the message starts with this
};

constexpr const char* kContainers = "{spec: {containers: [{name: pytorch, image: x}]}}";

std::string PyTorch(const std::string& body) {
  return "apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nmetadata: {name: p}\nspec:\n" + body;
}

TEST(TrainingJobTest, MalformedVariantsAreRejectedWithTheFieldPath) {
  const std::string c = kContainers;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {PyTorch("  pytorchReplicaSpecs:\n    Worker: {replicas: -1, template: " + c + "}\n"),
       "spec.pytorchReplicaSpecs.Worker.replicas: must be >= 0"},
      {PyTorch("  pytorchReplicaSpecs:\n    Worker: {replicas: two, template: " + c + "}\n"),
       "spec.pytorchReplicaSpecs.Worker.replicas: must be an integer"},
      {PyTorch("  pytorchReplicaSpecs: {}\n"), "spec.pytorchReplicaSpecs: required"},
      {PyTorch("  pytorchReplicaSpecs:\n    Boss: {template: " + c + "}\n"),
       "spec.pytorchReplicaSpecs.Boss: unsupported replica type"},
      {PyTorch("  pytorchReplicaSpecs:\n    Master: {replicas: 2, template: " + c + "}\n"),
       "spec.pytorchReplicaSpecs.Master.replicas: must be 1"},
      {PyTorch("  pytorchReplicaSpecs:\n    Worker: {restartPolicy: Sometimes, template: " + c +
               "}\n"),
       "spec.pytorchReplicaSpecs.Worker.restartPolicy: unsupported value"},
      {PyTorch("  pytorchReplicaSpecs:\n    Worker: {}\n"),
       "spec.pytorchReplicaSpecs.Worker.template: required"},
      {PyTorch("  pytorchReplicaSpecs:\n    Worker: {template: {spec: {containers: []}}}\n"),
       "spec.pytorchReplicaSpecs.Worker.template.spec.containers: must have at least one "
       "container"},
      {PyTorch("  pytorchReplicaSpecs:\n    Worker: {template: {spec: {containers: [{name: main, "
               "image: x}]}}}\n"),
       "spec.pytorchReplicaSpecs.Worker.template.spec.containers: there is no container named "
       "pytorch"},
      {PyTorch("  pytorchReplicaSpecs:\n    Worker: {template: {spec: {containers: [{name: "
               "pytorch}]}}}\n"),
       "spec.pytorchReplicaSpecs.Worker.template.spec.containers[0].image: required"},
      {PyTorch("  runPolicy: {backoffLimit: -2}\n  pytorchReplicaSpecs:\n    Worker: {template: " +
               c + "}\n"),
       "spec.runPolicy.backoffLimit: must be >= 0"},
      {PyTorch(
           "  runPolicy: {cleanPodPolicy: Some}\n  pytorchReplicaSpecs:\n    Worker: {template: " +
           c + "}\n"),
       "spec.runPolicy.cleanPodPolicy: unsupported value"},
      {PyTorch("  runPolicy: {activeDeadlineSeconds: -1}\n  pytorchReplicaSpecs:\n    Worker: "
               "{template: " +
               c + "}\n"),
       "spec.runPolicy.activeDeadlineSeconds: must be >= 0"},
      {PyTorch("  runPolicy: {schedulingPolicy: {minAvailable: -1}}\n  pytorchReplicaSpecs:\n    "
               "Worker: {template: " +
               c + "}\n"),
       "spec.runPolicy.schedulingPolicy.minAvailable: must be >= 0"},
      {PyTorch("  elasticPolicy: {minReplicas: 3, maxReplicas: 2}\n  pytorchReplicaSpecs:\n    "
               "Worker: {template: " +
               c + "}\n"),
       "spec.elasticPolicy.minReplicas: must be <= maxReplicas"},
      {PyTorch("  nprocPerNode: '2'\n  elasticPolicy: {nProcPerNode: 2}\n  pytorchReplicaSpecs:\n  "
               "  Worker: {template: " +
               c + "}\n"),
       "spec.elasticPolicy.nProcPerNode: must not be used with spec.nprocPerNode"},
      {"apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nmetadata: {name: Bad_Name}\nspec:\n  "
       "pytorchReplicaSpecs:\n    Worker: {template: " +
           c + "}\n",
       "metadata.name: a DNS-1035 label"},
      {"apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nmetadata: {name: p, annotations: "
       "{training.skiff.dev/progress-deadline-seconds: soon}}\nspec:\n  pytorchReplicaSpecs:\n  "
       "  Worker: {template: " +
           c + "}\n",
       "metadata.annotations[training.skiff.dev/progress-deadline-seconds]: must be a positive "
       "whole number of seconds, got \"soon\""},
      {"apiVersion: kubeflow.org/v1\nkind: PyTorchJob\nmetadata: {name: p, annotations: "
       "{training.skiff.dev/progress-deadline-seconds: '0'}}\nspec:\n  pytorchReplicaSpecs:\n  "
       "  Worker: {template: " +
           c + "}\n",
       "metadata.annotations[training.skiff.dev/progress-deadline-seconds]: must be a positive"},
      {"apiVersion: kubeflow.org/v2beta1\nkind: PyTorchJob\nmetadata: {name: p}\nspec: {}\n",
       "apiVersion: must be kubeflow.org/v1"},
      {"apiVersion: kubeflow.org/v1\nkind: TFJob\nmetadata: {name: t}\nspec:\n  tfReplicaSpecs:\n  "
       "  Chief: {replicas: 2, template: {spec: {containers: [{name: tensorflow, image: x}]}}}\n",
       "spec.tfReplicaSpecs.Chief.replicas: must be <= 1"},
      {"apiVersion: kubeflow.org/v1\nkind: TFJob\nmetadata: {name: t}\nspec:\n  successPolicy: "
       "Some\n  tfReplicaSpecs:\n    Worker: {template: {spec: {containers: [{name: tensorflow, "
       "image: x}]}}}\n",
       "spec.successPolicy: unsupported value"},
      {"apiVersion: kubeflow.org/v1\nkind: XGBoostJob\nmetadata: {name: x}\nspec:\n  "
       "xgbReplicaSpecs:\n    Worker: {template: {spec: {containers: [{name: xgboost, image: "
       "x}]}}}\n",
       "spec.xgbReplicaSpecs.Master: required"},
      {"apiVersion: kubeflow.org/v2beta1\nkind: MPIJob\nmetadata: {name: m}\nspec:\n  "
       "mpiReplicaSpecs:\n    Worker: {template: {spec: {containers: [{name: w, image: x}]}}}\n",
       "spec.mpiReplicaSpecs.Launcher: required"},
      {"apiVersion: kubeflow.org/v2beta1\nkind: MPIJob\nmetadata: {name: m}\nspec:\n  "
       "slotsPerWorker: 0\n  mpiReplicaSpecs:\n    Launcher: {template: {spec: {containers: "
       "[{name: l, image: x}]}}}\n",
       "spec.slotsPerWorker: must be >= 1"},
      {"apiVersion: kubeflow.org/v2beta1\nkind: MPIJob\nmetadata: {name: m}\nspec:\n  "
       "launcherCreationPolicy: Later\n  mpiReplicaSpecs:\n    Launcher: {template: {spec: "
       "{containers: [{name: l, image: x}]}}}\n",
       "spec.launcherCreationPolicy: unsupported value"},
  };
  for (const auto& [yaml, error] : cases) {
    auto j = ParseYaml(yaml);
    ASSERT_TRUE(j.ok()) << yaml;
    auto job = ParseTrainingJob(*j);
    ASSERT_FALSE(job.ok()) << "accepted:\n" << yaml;
    EXPECT_EQ(job.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(job.status().message().rfind(error, 0), 0u)
        << "got: " << job.status().message() << "\nwant prefix: " << error;
  }
}

}  // namespace
}  // namespace skiff::training
