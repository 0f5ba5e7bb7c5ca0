// The Job controller against a real SQLite store and a FakeClock. The test plays the kubelet:
// it writes the status of the Pods the controller created. Test names end with the numbers of
// the transitions (see job_controller.h) they cover.
#include "controllers/batch/job_controller.h"

#include <gtest/gtest.h>

#include "controllers/controller_test_base.h"
#include <unistd.h>

#include "common/fs.h"

namespace skiff::controllers {
namespace {

using std::chrono::seconds;

class JobControllerTest : public ControllerTestBase<JobController> {
 protected:
  std::unique_ptr<JobController> MakeController() override {
    return std::make_unique<JobController>(*store_, loop_, *informer_, clock_);
  }
  void Spin() {
    for (int i = 0; i < 20; ++i) loop_.RunOnce(Duration(0));
  }
  void Advance(Duration d) {
    clock_.Advance(d);
    Spin();
  }
  void CreateJob(const std::string& yaml) {
    auto j = ParseYaml(yaml);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    auto c = store_->Create(*j);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    Spin();
  }
  std::vector<std::string> PodNames() {
    auto l = store_->List("Pod", "default");
    EXPECT_TRUE(l.ok());
    std::vector<std::string> names;
    for (const auto& p : l->items) names.push_back(StringField(p["metadata"], "name"));
    return names;
  }
  Json Pod(const std::string& name) {
    auto p = store_->Get({"Pod", "default", name});
    EXPECT_TRUE(p.ok()) << name;
    return p.ok() ? *p : Json::object();
  }
  Json Job(const std::string& name = "j") {
    auto j = store_->Get({"Job", "default", name});
    EXPECT_TRUE(j.ok()) << name;
    return j.ok() ? *j : Json::object();
  }
  Json Status(const std::string& name = "j") { return Job(name).value("status", Json::object()); }
  // The condition of `type`, or null.
  Json Condition(const std::string& type, const std::string& name = "j") {
    for (const auto& c : Status(name).value("conditions", Json::array())) {
      if (c["type"] == type) return c;
    }
    return nullptr;
  }
  // Plays the kubelet.
  void SetPodPhase(const std::string& name, const std::string& phase, int exit_code = 0,
                   bool ready = false) {
    Json p = Pod(name);
    Json cs = {{"name", "main"}, {"restartCount", 0}, {"ready", ready}};
    if (phase == "Succeeded" || phase == "Failed") {
      cs["state"] = {
          {"terminated",
           {{"exitCode", exit_code}, {"reason", exit_code == 0 ? "Completed" : "Error"}}}};
    } else {
      cs["state"] = {{"running", {{"startedAt", "2026-01-01T00:00:00Z"}}}};
    }
    p["status"] = {
        {"phase", phase},
        {"containerStatuses", Json::array({cs})},
        {"conditions", Json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}};
    auto u = store_->UpdateStatus(p);
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    Spin();
  }

};

constexpr const char* kTemplate = R"(
  template:
    metadata: {labels: {app: train}}
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox, command: ["true"]}]
)";

std::string JobYaml(const std::string& spec) {
  return "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j, namespace: default}\nspec:\n" +
         spec + kTemplate;
}

TEST_F(JobControllerTest, RunsPodsOneAfterAnotherUntilCompletions_1_4_5) {
  CreateJob(JobYaml("  completions: 2\n"));
  ASSERT_EQ(PodNames(), std::vector<std::string>{"j-0"});
  Json pod = Pod("j-0");
  Json job = Job();
  const Json& labels = pod["metadata"]["labels"];
  EXPECT_EQ(labels["job-name"], "j");
  EXPECT_EQ(labels["batch.kubernetes.io/job-name"], "j");
  EXPECT_EQ(labels["controller-uid"], job["metadata"]["uid"]);
  EXPECT_EQ(labels["batch.kubernetes.io/controller-uid"], job["metadata"]["uid"]);
  EXPECT_EQ(labels["app"], "train") << "template labels are kept";
  const Json& owner = pod["metadata"]["ownerReferences"][0];
  EXPECT_EQ(owner["kind"], "Job");
  EXPECT_EQ(owner["uid"], job["metadata"]["uid"]);
  EXPECT_EQ(owner["controller"], true);
  EXPECT_EQ(pod["spec"]["restartPolicy"], "Never");
  EXPECT_EQ(Status()["startTime"], FormatRfc3339(clock_.Now()));
  EXPECT_EQ(Status()["active"], 1);

  SetPodPhase("j-0", "Running", 0, /*ready=*/true);
  EXPECT_EQ(Status()["ready"], 1);
  SetPodPhase("j-0", "Succeeded");
  ASSERT_EQ(PodNames(), (std::vector<std::string>{"j-0", "j-1"}));
  EXPECT_EQ(Status()["succeeded"], 1);
  EXPECT_TRUE(Condition("Complete").is_null());
  clock_.Advance(seconds(3));
  SetPodPhase("j-1", "Succeeded");
  Json st = Status();
  EXPECT_EQ(st["succeeded"], 2);
  EXPECT_EQ(st["active"], 0);
  EXPECT_EQ(st["failed"], 0);
  EXPECT_EQ(st["completionTime"], FormatRfc3339(clock_.Now()));
  Json c = Condition("Complete");
  ASSERT_FALSE(c.is_null());
  EXPECT_EQ(c["status"], "True");
  EXPECT_EQ(c["reason"], "CompletionsReached");
  EXPECT_FALSE(Condition("SuccessCriteriaMet").is_null());
  EXPECT_EQ(PodNames().size(), 2u) << "finished Pods are kept for their logs";
}

TEST_F(JobControllerTest, RunsUpToParallelismAtOnce_1_4) {
  CreateJob(JobYaml("  completions: 3\n  parallelism: 2\n"));
  EXPECT_EQ(PodNames(), (std::vector<std::string>{"j-0", "j-1"}));
  SetPodPhase("j-1", "Succeeded");
  EXPECT_EQ(PodNames(), (std::vector<std::string>{"j-0", "j-1", "j-2"}));
  SetPodPhase("j-0", "Succeeded");
  EXPECT_EQ(PodNames().size(), 3u) << "never more Pods than completions still needed";
  EXPECT_EQ(Status()["active"], 1);
}

TEST_F(JobControllerTest, WorkQueueJobCompletesWhenOneSucceededAndNoneRun_5) {
  CreateJob(JobYaml("  parallelism: 2\n"));
  ASSERT_EQ(PodNames().size(), 2u);
  SetPodPhase("j-0", "Succeeded");
  EXPECT_TRUE(Condition("Complete").is_null());
  EXPECT_EQ(PodNames().size(), 2u) << "no new Pods once one has succeeded";
  SetPodPhase("j-1", "Succeeded");
  EXPECT_FALSE(Condition("Complete").is_null());
  EXPECT_EQ(Status()["succeeded"], 2);
}

TEST_F(JobControllerTest, IndexedJobGivesEachPodItsIndexAndRetriesOnlyTheFailedIndex_1_4_5) {
  CreateJob(JobYaml("  completions: 3\n  parallelism: 3\n  completionMode: Indexed\n"));
  ASSERT_EQ(PodNames(), (std::vector<std::string>{"j-0-0", "j-1-0", "j-2-0"}));
  Json pod = Pod("j-1-0");
  EXPECT_EQ(pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"], "1");
  EXPECT_EQ(pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"], "1");
  Json env = pod["spec"]["containers"][0]["env"];
  ASSERT_EQ(env.size(), 1u);
  EXPECT_EQ(env[0]["name"], "JOB_COMPLETION_INDEX");
  EXPECT_EQ(env[0]["value"], "1");
  SetPodPhase("j-0-0", "Succeeded");
  SetPodPhase("j-1-0", "Failed", 1);
  EXPECT_EQ(PodNames(), (std::vector<std::string>{"j-0-0", "j-1-0", "j-1-1", "j-2-0"}));
  EXPECT_EQ(Status()["completedIndexes"], "0");
  EXPECT_EQ(Status()["failed"], 1);
  SetPodPhase("j-2-0", "Succeeded");
  EXPECT_EQ(Status()["completedIndexes"], "0,2");
  SetPodPhase("j-1-1", "Succeeded");
  EXPECT_EQ(Status()["completedIndexes"], "0-2");
  EXPECT_FALSE(Condition("Complete").is_null());
}

TEST_F(JobControllerTest, FailsWhenFailedPodsExceedBackoffLimit_4_6) {
  CreateJob(JobYaml("  backoffLimit: 1\n"));
  SetPodPhase("j-0", "Failed", 2);
  ASSERT_EQ(PodNames(), (std::vector<std::string>{"j-0", "j-1"})) << "one retry is allowed";
  EXPECT_TRUE(Condition("Failed").is_null());
  SetPodPhase("j-1", "Failed", 2);
  Json c = Condition("Failed");
  ASSERT_FALSE(c.is_null());
  EXPECT_EQ(c["status"], "True");
  EXPECT_EQ(c["reason"], "BackoffLimitExceeded");
  EXPECT_EQ(c["message"], "Job has reached the specified backoff limit");
  EXPECT_FALSE(Condition("FailureTarget").is_null());
  EXPECT_EQ(Status()["failed"], 2);
  EXPECT_FALSE(Status().contains("completionTime"));
  EXPECT_EQ(PodNames().size(), 2u);
}

TEST_F(JobControllerTest, DeadlineFailsTheJobAndDeletesRunningPods_7) {
  CreateJob(JobYaml("  activeDeadlineSeconds: 10\n  parallelism: 2\n  completions: 4\n"));
  SetPodPhase("j-0", "Running");
  Advance(seconds(9));
  EXPECT_TRUE(Condition("Failed").is_null());
  EXPECT_EQ(PodNames().size(), 2u);
  Advance(seconds(1));  // the controller requeued itself for the deadline: no event needed
  Json c = Condition("Failed");
  ASSERT_FALSE(c.is_null());
  EXPECT_EQ(c["reason"], "DeadlineExceeded");
  EXPECT_EQ(c["message"], "Job was active longer than specified deadline");
  EXPECT_TRUE(PodNames().empty()) << "running Pods are deleted so their kubelet stops them";
  EXPECT_EQ(Status()["active"], 0);
  EXPECT_EQ(Status()["failed"], 0) << "Pods the controller stopped are not failures";
}

TEST_F(JobControllerTest, PodFailurePolicyIgnoresAndFailsJob_8) {
  CreateJob(JobYaml(R"(  backoffLimit: 6
  podFailurePolicy:
    rules:
    - action: Ignore
      onExitCodes: {operator: In, values: [42]}
    - action: FailJob
      onExitCodes: {containerName: main, operator: NotIn, values: [1, 42]}
)"));
  SetPodPhase("j-0", "Failed", 42);
  EXPECT_EQ(Status()["failed"], 0) << "an ignored failure is not counted";
  ASSERT_EQ(PodNames(), (std::vector<std::string>{"j-0", "j-1"}));
  SetPodPhase("j-1", "Failed", 1);  // Count (no rule matches)
  EXPECT_EQ(Status()["failed"], 1);
  ASSERT_EQ(PodNames().size(), 3u);
  SetPodPhase("j-2", "Failed", 3);
  Json c = Condition("Failed");
  ASSERT_FALSE(c.is_null());
  EXPECT_EQ(c["reason"], "PodFailurePolicy");
  EXPECT_EQ(c["message"],
            "Container main for pod default/j-2 failed with exit code 3 matching FailJob rule at "
            "index 1");
  EXPECT_EQ(PodNames().size(), 3u);
}

TEST_F(JobControllerTest, SuspendedJobRunsNothingUntilResumed_2_3) {
  CreateJob(JobYaml("  suspend: true\n"));
  EXPECT_TRUE(PodNames().empty());
  Json c = Condition("Suspended");
  ASSERT_FALSE(c.is_null());
  EXPECT_EQ(c["status"], "True");
  EXPECT_EQ(c["reason"], "JobSuspended");
  EXPECT_FALSE(Status().contains("startTime"));
  clock_.Advance(seconds(5));
  Json job = Job();
  job["spec"]["suspend"] = false;
  ASSERT_TRUE(store_->Update(job).ok());
  Spin();
  EXPECT_EQ(PodNames(), std::vector<std::string>{"j-0"});
  EXPECT_EQ(Condition("Suspended")["status"], "False");
  EXPECT_EQ(Condition("Suspended")["reason"], "JobResumed");
  EXPECT_EQ(Status()["startTime"], FormatRfc3339(clock_.Now()));
}

TEST_F(JobControllerTest, SuspendingARunningJobDeletesItsPodsWithoutCountingFailures_2_3) {
  CreateJob(JobYaml(""));
  SetPodPhase("j-0", "Running");
  Json job = Job();
  job["spec"]["suspend"] = true;
  ASSERT_TRUE(store_->Update(job).ok());
  Spin();
  EXPECT_TRUE(PodNames().empty());
  EXPECT_EQ(Status()["failed"], 0);
  EXPECT_EQ(Status()["active"], 0);
  job = Job();
  job["spec"]["suspend"] = false;
  ASSERT_TRUE(store_->Update(job).ok());
  Spin();
  EXPECT_EQ(PodNames(), std::vector<std::string>{"j-1"});
}

TEST_F(JobControllerTest, TtlDeletesTheFinishedJobAndItsPods_9) {
  CreateJob(JobYaml("  ttlSecondsAfterFinished: 30\n"));
  SetPodPhase("j-0", "Succeeded");
  ASSERT_FALSE(Condition("Complete").is_null());
  Advance(seconds(29));
  EXPECT_TRUE(store_->Get({"Job", "default", "j"}).ok());
  Advance(seconds(1));
  EXPECT_EQ(store_->Get({"Job", "default", "j"}).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(PodNames().empty()) << "Pods go with their Job";
}

TEST_F(JobControllerTest, PodDeletedBeforeFinishingCountsAsFailed_4) {
  CreateJob(JobYaml(""));
  ASSERT_TRUE(store_->Delete({"Pod", "default", "j-0"}).ok());
  Spin();
  EXPECT_EQ(Status()["failed"], 1);
  EXPECT_EQ(PodNames(), std::vector<std::string>{"j-1"});
}

TEST_F(JobControllerTest, RestartedControllerCreatesNothingTwice) {
  CreateJob(JobYaml("  completions: 2\n  parallelism: 2\n"));
  ASSERT_EQ(PodNames().size(), 2u);
  Open();
  Spin();
  EXPECT_EQ(PodNames().size(), 2u);
  SetPodPhase("j-0", "Failed", 1);
  Open();
  Spin();
  EXPECT_EQ(PodNames(), (std::vector<std::string>{"j-0", "j-1", "j-2"}));
  EXPECT_EQ(Status()["failed"], 1) << "a failure is counted once across restarts";
}

}  // namespace
}  // namespace skiff::controllers
