// The training controller against a real SQLite store and a FakeClock. The test plays the
// kubelet: it writes the status of the Pods the controller created. Test names end with the
// numbers of the transitions (see training_controller.h) they cover.
#include "controllers/training/training_controller.h"

#include <gtest/gtest.h>

#include "controllers/controller_test_base.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"

namespace skiff::controllers {
namespace {

using std::chrono::seconds;

class TrainingControllerTest : public ControllerTestBase<TrainingController> {
 protected:
  // Options a test sets before calling `Open()` again.
  TrainingControllerOptions opts_;
  std::unique_ptr<TrainingController> MakeController() override {
    TrainingControllerOptions opts = opts_;
    // Deterministic ports: the next one not taken from 30000.
    opts.allocate_port = [](uint64_t, const std::set<int32_t>& taken) -> Result<int32_t> {
      int32_t p = 30000;
      while (taken.count(p)) ++p;
      return p;
    };
    return std::make_unique<TrainingController>(*store_, loop_, *informer_, clock_, opts);
  }
  void AfterOpen() override { Spin(); }

  std::string kind_;  // of the job the test created
  void Spin() {
    for (int i = 0; i < 30; ++i) loop_.RunOnce(Duration(0));
  }
  void Advance(Duration d) {
    clock_.Advance(d);
    Spin();
  }
  void Create(const std::string& yaml) {
    auto j = ParseYaml(yaml);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    kind_ = StringField(*j, "kind");
    auto c = store_->Create(*j);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    Spin();
  }
  std::vector<std::string> Names(const std::string& kind) {
    auto l = store_->List(kind, "default");
    EXPECT_TRUE(l.ok());
    std::vector<std::string> names;
    for (const auto& p : l->items) names.push_back(StringField(p["metadata"], "name"));
    return names;
  }
  Json Get(const std::string& kind, const std::string& name) {
    auto p = store_->Get({kind, "default", name});
    EXPECT_TRUE(p.ok()) << kind << " " << name;
    return p.ok() ? *p : Json::object();
  }
  bool Exists(const std::string& kind, const std::string& name) {
    return store_->Get({kind, "default", name}).ok();
  }
  Json Status() { return Get(kind_, "j").value("status", Json::object()); }
  Json Condition(const std::string& type) {
    for (const auto& c : Status().value("conditions", Json::array())) {
      if (c["type"] == type) return c;
    }
    return nullptr;
  }
  bool IsTrue(const std::string& type) {
    Json c = Condition(type);
    return !c.is_null() && c["status"] == "True";
  }
  std::string Env(const Json& pod, const std::string& name, size_t container = 0) {
    for (const auto& e : pod["spec"]["containers"][container].value("env", Json::array())) {
      if (e["name"] == name) return e.value("value", "");
    }
    return "<unset>";
  }
  // Plays the kubelet.
  void SetPhase(const std::string& name, const std::string& phase, int exit_code = 0,
                int restarts = 0) {
    Json p = Get("Pod", name);
    std::string container = StringField(p["spec"]["containers"][0], "name");
    Json cs = {{"name", container}, {"restartCount", restarts}};
    if (phase == "Succeeded" || phase == "Failed") {
      cs["state"] = {{"terminated", {{"exitCode", exit_code}}}};
    } else {
      cs["state"] = {{"running", {{"startedAt", FormatRfc3339(clock_.Now())}}}};
    }
    p["status"] = {{"phase", phase}, {"containerStatuses", Json::array({cs})}};
    auto u = store_->UpdateStatus(p);
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    Spin();
  }
  void Patch(const std::function<void(Json&)>& f) {
    Json j = Get(kind_, "j");
    f(j);
    auto u = store_->Update(j);
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    Spin();
  }

};

std::string PyTorch(const std::string& run_policy, const std::string& worker_policy = "OnFailure",
                    int workers = 2) {
  return R"(
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: j, namespace: default}
spec:
)" + run_policy +
         R"(
  pytorchReplicaSpecs:
    Master:
      replicas: 1
      restartPolicy: OnFailure
      template: {spec: {containers: [{name: pytorch, image: x, command: ["true"]}]}}
    Worker:
      replicas: )" +
         std::to_string(workers) + R"(
      restartPolicy: )" +
         worker_policy + R"(
      template: {spec: {containers: [{name: pytorch, image: x, command: ["true"]}]}}
)";
}

TEST_F(TrainingControllerTest, CreatesPodsServicesLabelsEnvAndSurvivesRestart_1_2) {
  Create(PyTorch(""));
  EXPECT_EQ(Names("Pod"), (std::vector<std::string>{"j-master-0", "j-worker-0", "j-worker-1"}));
  EXPECT_EQ(Names("Service"), (std::vector<std::string>{"j-master-0", "j-worker-0", "j-worker-1"}));
  Json m = Get("Pod", "j-master-0");
  const Json& labels = m["metadata"]["labels"];
  EXPECT_EQ(labels["training.kubeflow.org/job-name"], "j");
  EXPECT_EQ(labels["training.kubeflow.org/replica-type"], "master");
  EXPECT_EQ(labels["training.kubeflow.org/replica-index"], "0");
  EXPECT_EQ(labels["training.kubeflow.org/job-role"], "master");
  EXPECT_FALSE(
      Get("Pod", "j-worker-0")["metadata"]["labels"].contains("training.kubeflow.org/job-role"));
  EXPECT_EQ(m["metadata"]["ownerReferences"][0]["kind"], "PyTorchJob");
  EXPECT_EQ(m["metadata"]["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(m["spec"]["restartPolicy"], "OnFailure");
  EXPECT_EQ(m["metadata"]["annotations"]["scheduling.skiff.dev/gang-size"], "3");
  EXPECT_EQ(Get("Service", "j-worker-1")["spec"]["clusterIP"], "None");
  // Local network: loopback and the recorded ports.
  Json w1 = Get("Pod", "j-worker-1");
  EXPECT_EQ(Env(w1, "MASTER_ADDR"), "127.0.0.1");
  EXPECT_EQ(Env(w1, "MASTER_PORT"), "30000");
  EXPECT_EQ(Env(w1, "RANK"), "2");
  EXPECT_EQ(Env(w1, "WORLD_SIZE"), "3");
  const Json& aliases = w1["spec"]["hostAliases"][0];
  EXPECT_EQ(aliases["ip"], "127.0.0.1");
  EXPECT_NE(std::find(aliases["hostnames"].begin(), aliases["hostnames"].end(), Json("j-master-0")),
            aliases["hostnames"].end());
  EXPECT_TRUE(IsTrue("Created"));
  EXPECT_EQ(Condition("Created")["reason"], "PyTorchJobCreated");
  EXPECT_FALSE(IsTrue("Running"));
  EXPECT_TRUE(Status().contains("startTime"));

  // A crash-restart creates nothing twice and keeps the ports.
  Open();
  EXPECT_EQ(Names("Pod").size(), 3u);
  auto recs =
      store_->GetRecords(kTrainingReplicaRecords, StringField(Get(kind_, "j")["metadata"], "uid"));
  ASSERT_TRUE(recs.ok());
  EXPECT_EQ((*recs)["master-0"]["port"], 30000);
  EXPECT_EQ(recs->size(), 3u);

  // (2) The master runs.
  SetPhase("j-master-0", "Running");
  EXPECT_TRUE(IsTrue("Running"));
  EXPECT_EQ(Condition("Running")["reason"], "PyTorchJobRunning");
  EXPECT_EQ(Status()["replicaStatuses"]["Master"]["active"], 1);
}

TEST_F(TrainingControllerTest, ExitCodeRetriesSignalsAndFailsOnPermanentCodes_3_4) {
  Create(PyTorch("", "ExitCode"));
  EXPECT_EQ(Get("Pod", "j-worker-0")["spec"]["restartPolicy"], "Never");
  std::string uid = StringField(Get("Pod", "j-worker-0")["metadata"], "uid");
  SetPhase("j-worker-0", "Failed", 137);
  // (3) Recreated (a new Pod of the same name), Restarting.
  ASSERT_TRUE(Exists("Pod", "j-worker-0"));
  Json again = Get("Pod", "j-worker-0");
  EXPECT_NE(StringField(again["metadata"], "uid"), uid);
  EXPECT_EQ(again["metadata"]["annotations"]["training.skiff.dev/restart"], "1");
  EXPECT_FALSE(again["metadata"]["annotations"].contains("scheduling.skiff.dev/gang"));
  EXPECT_TRUE(IsTrue("Restarting"));
  EXPECT_EQ(Condition("Restarting")["message"],
            "PyTorchJob default/j is restarting because 1 Worker replica(s) failed.");
  EXPECT_FALSE(IsTrue("Failed"));
  // Running replaces Restarting once the master runs.
  SetPhase("j-master-0", "Running");
  EXPECT_TRUE(IsTrue("Running"));
  EXPECT_TRUE(Condition("Restarting").is_null());
  // (4) Exit code 1 is permanent.
  SetPhase("j-worker-0", "Failed", 1);
  EXPECT_TRUE(IsTrue("Failed"));
  EXPECT_EQ(Condition("Failed")["reason"], "PyTorchJobFailed");
  EXPECT_EQ(Condition("Failed")["message"],
            "PyTorchJob default/j has failed because 1 Worker replica(s) failed.");
  EXPECT_EQ(Status()["replicaStatuses"]["Worker"]["failed"], 1);
  // cleanPodPolicy defaults to None for PyTorchJob: the Pods stay.
  EXPECT_TRUE(Exists("Pod", "j-master-0"));
}

TEST_F(TrainingControllerTest, EveryReplicaMountsTheJobCheckpointFolder_1) {
  opts_.checkpoint_root = JoinPath(dir_, "jobs");
  Open();
  Create(PyTorch(""));
  const std::string dir = JoinPath(dir_, "jobs/default/j/checkpoints");
  for (const char* name : {"j-master-0", "j-worker-0", "j-worker-1"}) {
    Json pod = Get("Pod", name);
    EXPECT_EQ(Env(pod, "SKIFF_CHECKPOINT_DIR"), dir) << name;
    Json vol;
    for (const auto& v : pod["spec"]["volumes"]) {
      if (v["name"] == "skiff-checkpoints") vol = v;
    }
    ASSERT_FALSE(vol.is_null()) << name;
    EXPECT_EQ(vol["hostPath"]["path"], dir);
    bool mounted = false;
    for (const auto& m : pod["spec"]["containers"][0]["volumeMounts"]) {
      mounted |= m["name"] == "skiff-checkpoints" && m["mountPath"] == dir;
    }
    EXPECT_TRUE(mounted) << name;
  }
  // A recreated replica gets the same folder: that is what it resumes from.
  SetPhase("j-worker-1", "Failed", 1, 0);
  EXPECT_EQ(Env(Get("Pod", "j-worker-1"), "SKIFF_CHECKPOINT_DIR"), dir);
}

TEST_F(TrainingControllerTest, WithoutACheckpointRootNothingIsAdded_1) {
  Create(PyTorch(""));
  Json pod = Get("Pod", "j-worker-0");
  EXPECT_EQ(Env(pod, "SKIFF_CHECKPOINT_DIR"), "<unset>");
  EXPECT_FALSE(pod["spec"].contains("volumes"));
}

constexpr const char* kElastic = R"(
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: j, namespace: default}
spec:
  elasticPolicy: {minReplicas: 1, maxReplicas: 3, rdzvBackend: c10d, maxRestarts: 5}
  pytorchReplicaSpecs:
    Worker:
      replicas: 2
      template: {spec: {containers: [{name: pytorch, image: x, command: ["true"]}]}}
)";

TEST_F(TrainingControllerTest, ScalingElasticWorkersCreatesAndDeletesReplicas_11) {
  Create(kElastic);
  EXPECT_EQ(Names("Pod"), (std::vector<std::string>{"j-worker-0", "j-worker-1"}));
  Json w0 = Get("Pod", "j-worker-0");
  EXPECT_EQ(Env(w0, "PET_NNODES"), "1:3");
  EXPECT_EQ(Env(w0, "PET_RDZV_ENDPOINT"), "127.0.0.1:30000");  // worker 0's allocated port
  EXPECT_EQ(Env(w0, "PET_RDZV_BACKEND"), "c10d");
  EXPECT_EQ(Env(w0, "PET_MAX_RESTARTS"), "5");
  EXPECT_EQ(w0["metadata"]["annotations"]["scheduling.skiff.dev/gang-size"], "2");
  SetPhase("j-worker-0", "Running");
  SetPhase("j-worker-1", "Running");
  std::string uid0 = StringField(Get("Pod", "j-worker-0")["metadata"], "uid");
  // Up to 3: one more worker and its Service, outside any gang, with the same environment.
  Patch([](Json& j) { j["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] = 3; });
  EXPECT_EQ(Names("Pod"), (std::vector<std::string>{"j-worker-0", "j-worker-1", "j-worker-2"}));
  EXPECT_TRUE(Exists("Service", "j-worker-2"));
  Json w2 = Get("Pod", "j-worker-2");
  EXPECT_FALSE(w2["metadata"]["annotations"].contains("scheduling.skiff.dev/gang"));
  EXPECT_EQ(Env(w2, "PET_NNODES"), "1:3");
  EXPECT_EQ(Env(w2, "PET_RDZV_ENDPOINT"), "127.0.0.1:30000");
  EXPECT_EQ(Env(w2, "PET_NODE_RANK"), "2");
  EXPECT_EQ(StringField(Get("Pod", "j-worker-0")["metadata"], "uid"), uid0);  // untouched
  // Down to 1: workers 1 and 2 go, with their Services; worker 0 stays.
  Patch([](Json& j) { j["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] = 1; });
  EXPECT_EQ(Names("Pod"), (std::vector<std::string>{"j-worker-0"}));
  EXPECT_EQ(Names("Service"), (std::vector<std::string>{"j-worker-0"}));
  EXPECT_EQ(StringField(Get("Pod", "j-worker-0")["metadata"], "uid"), uid0);
  EXPECT_FALSE(IsTrue("Failed"));
  // Elastic success: any worker.
  SetPhase("j-worker-0", "Succeeded");
  EXPECT_TRUE(IsTrue("Succeeded"));
}

TEST_F(TrainingControllerTest, ElasticJobSucceedsWhenAnyWorkerSucceeds_7) {
  Create(kElastic);
  SetPhase("j-worker-0", "Running");
  SetPhase("j-worker-1", "Succeeded");
  EXPECT_TRUE(IsTrue("Succeeded"));
  EXPECT_EQ(Condition("Succeeded")["reason"], "PyTorchJobSucceeded");
}

// A job whose replicas are stalled after 30 s without output; `policy` for the workers.
std::string Stalling(const std::string& policy) {
  return R"(
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata:
  name: j
  namespace: default
  annotations: {training.skiff.dev/progress-deadline-seconds: "30"}
spec:
  runPolicy: {backoffLimit: 5}
  pytorchReplicaSpecs:
    Worker:
      replicas: 2
      restartPolicy: )" +
         policy + R"(
      template: {spec: {containers: [{name: pytorch, image: x, command: ["true"]}]}}
)";
}

class StallTest : public TrainingControllerTest {
 protected:
  void SetUp() override {
    TrainingControllerTest::SetUp();
    opts_.output_files = [dir = dir_](const std::string& uid, const std::string& container) {
      return std::vector<std::string>{JoinPath(dir, uid + "." + container + ".stdout")};
    };
    Open();
  }
  // The replica prints something `after` from now (the file's modification time).
  void Output(const std::string& pod, Duration after) {
    std::string path = JoinPath(dir_, StringField(Get("Pod", pod)["metadata"], "uid") + ".pytorch.stdout");
    ASSERT_TRUE(WriteFile(path, "epoch=1 loss=0.5\n").ok());
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>((clock_.Now() + after).time_since_epoch());
    timespec times[2];
    times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(ns.count() / 1000000000);
    times[0].tv_nsec = times[1].tv_nsec = static_cast<long>(ns.count() % 1000000000);
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }
  std::string Uid(const std::string& pod) { return StringField(Get("Pod", pod)["metadata"], "uid"); }
};

TEST_F(StallTest, ReplicaWithoutOutputIsKilledAndRecreated_12_3) {
  Create(Stalling("OnFailure"));
  // Both run from the clock's start; worker 1 keeps printing.
  SetPhase("j-worker-0", "Running");
  SetPhase("j-worker-1", "Running");
  std::string uid0 = Uid("j-worker-0"), uid1 = Uid("j-worker-1");
  Output("j-worker-0", seconds(20));  // its last output, 20 s after the start
  Output("j-worker-1", seconds(40));
  Advance(seconds(45));  // worker 0: 25 s since its output; worker 1: written "in the future"
  EXPECT_EQ(Uid("j-worker-0"), uid0);
  EXPECT_FALSE(IsTrue("Restarting"));
  Advance(seconds(6));  // 51 s: worker 0 printed nothing for 31 s
  ASSERT_TRUE(Exists("Pod", "j-worker-0"));
  EXPECT_NE(Uid("j-worker-0"), uid0);  // killed and recreated
  EXPECT_EQ(Get("Pod", "j-worker-0")["metadata"]["annotations"]["training.skiff.dev/restart"], "1");
  EXPECT_EQ(Uid("j-worker-1"), uid1);  // still within its deadline (40 + 30)
  EXPECT_FALSE(IsTrue("Failed"));
  // Worker 1 goes silent too: it is recreated at 70 s; two restarts now count.
  Advance(seconds(20));
  EXPECT_NE(Uid("j-worker-1"), uid1);
  EXPECT_FALSE(IsTrue("Failed"));
}

TEST_F(StallTest, RestartingSaysTheReplicaMadeNoProgress_12_3) {
  Create(Stalling("OnFailure"));
  SetPhase("j-worker-0", "Running");  // worker 1 is still Pending: nothing else runs
  Advance(seconds(31));
  EXPECT_TRUE(IsTrue("Restarting"));
  EXPECT_EQ(Condition("Restarting")["message"],
            "PyTorchJob default/j is restarting because 1 Worker replica(s) made no progress for "
            "30s.");
  // The recreated replica's clock starts again when it runs.
  SetPhase("j-worker-0", "Running");
  EXPECT_TRUE(IsTrue("Running"));
  EXPECT_EQ(Get("Pod", "j-worker-0")["metadata"]["annotations"]["training.skiff.dev/restart"], "1");
  Advance(seconds(29));
  EXPECT_EQ(Get("Pod", "j-worker-0")["metadata"]["annotations"]["training.skiff.dev/restart"], "1");
  Advance(seconds(2));
  EXPECT_EQ(Get("Pod", "j-worker-0")["metadata"]["annotations"]["training.skiff.dev/restart"], "2");
}

TEST_F(StallTest, StalledReplicasCountAgainstBackoffLimit_12_5) {
  Create(Stalling("ExitCode"));
  Patch([](Json& j) { j["spec"]["runPolicy"]["backoffLimit"] = 1; });
  SetPhase("j-worker-0", "Running");
  Advance(seconds(31));
  EXPECT_TRUE(IsTrue("Failed"));
  EXPECT_EQ(Condition("Failed")["message"],
            "Job j has failed because it has reached the specified backoff limit");
}

TEST_F(StallTest, StalledReplicaUnderNeverFailsTheJob_12) {
  Create(Stalling("Never"));
  SetPhase("j-worker-1", "Running");
  Advance(seconds(29));
  EXPECT_FALSE(IsTrue("Failed"));
  Advance(seconds(2));
  ASSERT_TRUE(IsTrue("Failed"));
  EXPECT_EQ(Condition("Failed")["message"],
            "PyTorchJob default/j has failed because replica j-worker-1 made no progress for 30s.");
  EXPECT_FALSE(Exists("Pod", "j-worker-1"));  // killed
}

TEST_F(TrainingControllerTest, WithoutOutputFilesTheProgressDeadlineIsIgnored_12) {
  Create(Stalling("OnFailure"));
  SetPhase("j-worker-0", "Running");
  std::string uid = StringField(Get("Pod", "j-worker-0")["metadata"], "uid");
  Advance(seconds(120));
  EXPECT_EQ(StringField(Get("Pod", "j-worker-0")["metadata"], "uid"), uid);
}

TEST_F(TrainingControllerTest, NeverFailsTheJobAtOnce_4) {
  Create(PyTorch("", "Never"));
  SetPhase("j-worker-1", "Failed", 137);
  EXPECT_TRUE(IsTrue("Failed"));
}

TEST_F(TrainingControllerTest, PodThatCouldNotStartFailsTheJobEvenUnderOnFailure_4) {
  Create(PyTorch(""));
  Json p = Get("Pod", "j-worker-0");
  p["status"] = {{"phase", "Failed"}, {"reason", "StartError"}};
  ASSERT_TRUE(store_->UpdateStatus(p).ok());
  Spin();
  EXPECT_TRUE(IsTrue("Failed"));
  EXPECT_EQ(Get("Pod", "j-worker-0")["metadata"]["annotations"]["training.skiff.dev/restart"], "0");
}

TEST_F(TrainingControllerTest, EveryRecreatedPodCountsAgainstBackoffLimit_5) {
  Create(PyTorch("  runPolicy: {backoffLimit: 2, cleanPodPolicy: All}", "ExitCode"));
  SetPhase("j-worker-0", "Failed", 137);
  EXPECT_FALSE(IsTrue("Failed"));
  SetPhase("j-worker-1", "Failed", 143);
  ASSERT_TRUE(IsTrue("Failed"));
  EXPECT_EQ(Condition("Failed")["message"],
            "Job j has failed because it has reached the specified backoff limit");
  // (8) cleanPodPolicy All: every Pod and Service is gone.
  EXPECT_TRUE(Names("Pod").empty());
  EXPECT_TRUE(Names("Service").empty());
}

TEST_F(TrainingControllerTest, ContainerRestartsCountAgainstBackoffLimit_5) {
  Create(PyTorch("  runPolicy: {backoffLimit: 3}"));
  SetPhase("j-worker-0", "Running", 0, 2);
  EXPECT_FALSE(IsTrue("Failed"));
  SetPhase("j-worker-1", "Running", 0, 1);
  EXPECT_TRUE(IsTrue("Failed"));
}

TEST_F(TrainingControllerTest, ActiveDeadlineFailsAndCleansRunningPods_6_8) {
  Create(PyTorch("  runPolicy: {activeDeadlineSeconds: 60, cleanPodPolicy: Running}"));
  SetPhase("j-master-0", "Running");
  SetPhase("j-worker-0", "Succeeded");
  Advance(seconds(59));
  EXPECT_FALSE(IsTrue("Failed"));
  Advance(seconds(2));
  ASSERT_TRUE(IsTrue("Failed"));
  EXPECT_EQ(Condition("Failed")["message"],
            "Job j has failed because it was active longer than specified deadline");
  EXPECT_EQ(Condition("Running")["status"], "False");
  // Running (and Pending) Pods are deleted, the finished one stays.
  EXPECT_EQ(Names("Pod"), (std::vector<std::string>{"j-worker-0"}));
}

TEST_F(TrainingControllerTest, MasterSuccessFinishesAndTtlDeletes_7_9) {
  Create(PyTorch("  runPolicy: {ttlSecondsAfterFinished: 30}"));
  SetPhase("j-master-0", "Running");
  SetPhase("j-worker-0", "Succeeded");
  EXPECT_FALSE(IsTrue("Succeeded"));
  SetPhase("j-master-0", "Succeeded");
  ASSERT_TRUE(IsTrue("Succeeded"));
  EXPECT_EQ(Condition("Succeeded")["reason"], "PyTorchJobSucceeded");
  EXPECT_EQ(Condition("Succeeded")["message"], "PyTorchJob default/j successfully completed.");
  EXPECT_EQ(Condition("Running")["status"], "False");
  EXPECT_TRUE(Status().contains("completionTime"));
  EXPECT_EQ(Status()["replicaStatuses"]["Master"]["succeeded"], 1);
  Advance(seconds(31));
  EXPECT_FALSE(Exists(kind_, "j"));
  EXPECT_TRUE(Names("Pod").empty());  // cascaded through ownerReferences
}

std::string Tf(const std::string& extra) {
  return R"(
apiVersion: kubeflow.org/v1
kind: TFJob
metadata: {name: j, namespace: default}
spec:
)" + extra +
         R"(
  tfReplicaSpecs:
    PS: {replicas: 1, template: {spec: {containers: [{name: tensorflow, image: x}]}}}
    Worker: {replicas: 2, template: {spec: {containers: [{name: tensorflow, image: x}]}}}
)";
}

TEST_F(TrainingControllerTest, TfWorkerZeroSucceedsAndRunningPsIsCleaned_7_8) {
  Create(Tf(""));
  Json w = Get("Pod", "j-worker-1");
  auto tf = ParseJson(Env(w, "TF_CONFIG"));
  ASSERT_TRUE(tf.ok());
  EXPECT_EQ((*tf)["task"]["type"], "worker");
  EXPECT_EQ((*tf)["task"]["index"], 1);
  EXPECT_EQ((*tf)["cluster"]["worker"].size(), 2u);
  EXPECT_EQ(Get("Pod", "j-ps-0")["spec"]["restartPolicy"], "Never");
  SetPhase("j-ps-0", "Running");
  SetPhase("j-worker-1", "Succeeded");
  EXPECT_FALSE(IsTrue("Succeeded"));
  SetPhase("j-worker-0", "Succeeded");
  EXPECT_TRUE(IsTrue("Succeeded"));
  EXPECT_EQ(Condition("Succeeded")["reason"], "TFJobSucceeded");
  EXPECT_FALSE(Exists("Pod", "j-ps-0"));  // TFJob's default cleanPodPolicy is Running
  EXPECT_TRUE(Exists("Pod", "j-worker-0"));
}

TEST_F(TrainingControllerTest, TfAllWorkersPolicyWaitsForEveryWorker_7) {
  Create(Tf("  successPolicy: AllWorkers"));
  SetPhase("j-worker-0", "Succeeded");
  EXPECT_FALSE(IsTrue("Succeeded"));
  SetPhase("j-worker-1", "Succeeded");
  EXPECT_TRUE(IsTrue("Succeeded"));
}

TEST_F(TrainingControllerTest, SuspendDeletesEverythingAndResumeRecreates_10) {
  Create(PyTorch(""));
  SetPhase("j-master-0", "Running");
  Patch([](Json& j) { j["spec"]["runPolicy"]["suspend"] = true; });
  EXPECT_TRUE(IsTrue("Suspended"));
  EXPECT_EQ(Condition("Suspended")["reason"], "PyTorchJobSuspended");
  EXPECT_EQ(Condition("Running")["status"], "False");
  EXPECT_TRUE(Names("Pod").empty());
  EXPECT_TRUE(Names("Service").empty());
  EXPECT_FALSE(Status().contains("startTime"));
  EXPECT_FALSE(IsTrue("Failed"));
  Patch([](Json& j) { j["spec"]["runPolicy"]["suspend"] = false; });
  EXPECT_EQ(Condition("Suspended")["status"], "False");
  EXPECT_EQ(Condition("Suspended")["reason"], "PyTorchJobResumed");
  EXPECT_EQ(Names("Pod").size(), 3u);
  EXPECT_TRUE(Status().contains("startTime"));
}

TEST_F(TrainingControllerTest, MinAvailableSetsTheGangSize_1) {
  Create(PyTorch("  runPolicy: {schedulingPolicy: {minAvailable: 2}}"));
  EXPECT_EQ(Get("Pod", "j-worker-1")["metadata"]["annotations"]["scheduling.skiff.dev/gang-size"],
            "2");
  EXPECT_EQ(Get("Pod", "j-worker-1")["metadata"]["annotations"]["scheduling.skiff.dev/gang"],
            "default.j");
}

TEST_F(TrainingControllerTest, MpiHostfileLauncherAndWaitForWorkers_1_7) {
  Create(R"(
apiVersion: kubeflow.org/v2beta1
kind: MPIJob
metadata: {name: j, namespace: default}
spec:
  slotsPerWorker: 1
  launcherCreationPolicy: WaitForWorkersReady
  runPolicy: {cleanPodPolicy: Running}
  mpiReplicaSpecs:
    Launcher: {replicas: 1, template: {spec: {containers: [{name: launcher, image: x}]}}}
    Worker: {replicas: 2, template: {spec: {containers: [{name: worker, image: x}]}}}
)");
  EXPECT_EQ(Names("Pod"), (std::vector<std::string>{"j-worker-0", "j-worker-1"}));
  Json cm = Get("ConfigMap", "j-config");
  EXPECT_EQ(cm["data"]["hostfile"], "127.0.0.1 slots=2\n");
  EXPECT_TRUE(Exists("Service", "j"));
  SetPhase("j-worker-0", "Running");
  EXPECT_FALSE(Exists("Pod", "j-launcher"));
  SetPhase("j-worker-1", "Running");
  ASSERT_TRUE(Exists("Pod", "j-launcher"));
  Json l = Get("Pod", "j-launcher");
  EXPECT_EQ(Env(l, "K_MPI_JOB_ROLE"), "launcher");
  EXPECT_EQ(Env(l, "OMPI_MCA_orte_default_hostfile"), "/etc/mpi/hostfile");
  EXPECT_EQ(l["spec"]["containers"][0]["volumeMounts"][0]["mountPath"], "/etc/mpi");
  EXPECT_EQ(l["metadata"]["labels"]["training.kubeflow.org/job-role"], "master");
  EXPECT_EQ(l["spec"]["restartPolicy"], "OnFailure");
  SetPhase("j-launcher", "Succeeded");
  EXPECT_TRUE(IsTrue("Succeeded"));
  EXPECT_EQ(Condition("Succeeded")["reason"], "MPIJobSucceeded");
  EXPECT_EQ(Names("Pod"), (std::vector<std::string>{"j-launcher"}));  // running workers cleaned
}

TEST_F(TrainingControllerTest, InvalidStoredJobFailsVisibly) {
  Create(R"(
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: j, namespace: default}
spec:
  pytorchReplicaSpecs:
    Worker: {replicas: -1, template: {spec: {containers: [{name: pytorch, image: x}]}}}
)");
  ASSERT_TRUE(IsTrue("Failed"));
  EXPECT_EQ(Condition("Failed")["message"],
            "spec.pytorchReplicaSpecs.Worker.replicas: must be >= 0");
  EXPECT_TRUE(Names("Pod").empty());
}

}  // namespace
}  // namespace skiff::controllers
