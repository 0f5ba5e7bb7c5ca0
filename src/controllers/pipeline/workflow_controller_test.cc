// The Workflow controller against a real SQLite store. The test plays the kubelet: it finds the
// Pods the controller created and writes their status, as a kubelet would.
#include "controllers/pipeline/workflow_controller.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "common/fs.h"

namespace skiff::controllers {
namespace {

class WorkflowControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/skiff-ctl-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    Open();
  }
  void TearDown() override {
    controller_.reset();
    informer_.reset();
    store_.reset();
    Status s = RemoveAll(dir_);
    (void)s;
  }
  void Open() {
    controller_.reset();
    informer_.reset();
    store_.reset();
    auto s = store::OpenSqliteStore(JoinPath(dir_, "skiff.db"));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    informer_ = std::make_unique<store::Informer>(*store_, loop_);
    controller_ = std::make_unique<WorkflowController>(*store_, loop_, *informer_);
    ASSERT_TRUE(informer_->Start().ok());
    ASSERT_TRUE(controller_->Start().ok());
  }
  void Spin(int turns = 20) {
    for (int i = 0; i < turns; ++i) loop_.RunOnce(std::chrono::milliseconds(5));
  }
  std::vector<Json> Pods() {
    auto l = store_->List("Pod", "default");
    EXPECT_TRUE(l.ok());
    return l->items;
  }
  // Plays the kubelet: the Pod ran and exited with `code`.
  void FinishPod(const std::string& name, int code, Json outputs = Json::object()) {
    auto pod = store_->Get({"Pod", "default", name});
    ASSERT_TRUE(pod.ok());
    Json p = *pod;
    outputs["exitCode"] = std::to_string(code);
    p["metadata"]["annotations"]["workflows.argoproj.io/outputs"] = DumpJson(outputs);
    auto u = store_->Update(p);
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    Json s = *u;
    s["status"] = {{"phase", code == 0 ? "Succeeded" : "Failed"},
                   {"startTime", "2026-01-01T00:00:00Z"},
                   {"containerStatuses",
                    {{{"name", "main"},
                      {"state", {{"terminated", {{"exitCode", code}, {"finishedAt", "2026-01-01T00:00:01Z"}}}}}}}}};
    ASSERT_TRUE(store_->UpdateStatus(s).ok());
  }
  std::string Phase(const std::string& name) {
    auto wf = store_->Get({"Workflow", "default", name});
    return wf.ok() ? StringField(wf->value("status", Json::object()), "phase") : "?";
  }

  std::string dir_;
  EventLoop loop_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::Informer> informer_;
  std::unique_ptr<WorkflowController> controller_;
};

Json TwoSteps() {
  return *ParseYaml(R"(
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {name: two, namespace: default}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: t}
    - - {name: b, template: t}
  - name: t
    outputs: {parameters: [{name: p, valueFrom: {path: /tmp/p}}]}
    container: {image: busybox, command: ["true"]}
)");
}

TEST_F(WorkflowControllerTest, CreatesPodsStepByStepAndFinishes_1_2_3) {
  ASSERT_TRUE(store_->Create(TwoSteps()).ok());
  Spin();
  EXPECT_EQ(Phase("two"), "Running");
  auto pods = Pods();
  ASSERT_EQ(pods.size(), 1u);
  FinishPod(StringField(pods[0]["metadata"], "name"), 0,
            {{"parameters", Json::array({{{"name", "p"}, {"value", "x"}}})}});
  Spin();
  pods = Pods();
  ASSERT_EQ(pods.size(), 2u);
  for (const auto& p : pods) {
    if (StringField(p.value("status", Json::object()), "phase").empty()) FinishPod(StringField(p["metadata"], "name"), 0);
  }
  Spin();
  EXPECT_EQ(Phase("two"), "Succeeded");
  auto full = GetWorkflowWithNodes(*store_, "default", "two");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ((*full)["status"]["nodes"].size(), 5u);  // Steps, 2 groups, 2 pods
  bool found = false;
  for (auto& [id, n] : (*full)["status"]["nodes"].items()) {
    if (n["displayName"] == "a") {
      found = true;
      EXPECT_EQ(n["outputs"]["parameters"][0]["value"], "x");
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(WorkflowControllerTest, RestartedControllerContinuesWithoutDuplicatingPods) {
  ASSERT_TRUE(store_->Create(TwoSteps()).ok());
  Spin();
  ASSERT_EQ(Pods().size(), 1u);
  // "Crash" and restart the controller on the same database.
  Open();
  Spin();
  ASSERT_EQ(Pods().size(), 1u) << "the running step must not be started twice";
  FinishPod(StringField(Pods()[0]["metadata"], "name"), 0);
  Spin();
  Open();  // and once more, after the second pod was created
  Spin();
  auto pods = Pods();
  ASSERT_EQ(pods.size(), 2u);
  for (const auto& p : pods) {
    if (StringField(p.value("status", Json::object()), "phase").empty()) FinishPod(StringField(p["metadata"], "name"), 0);
  }
  Spin();
  EXPECT_EQ(Phase("two"), "Succeeded");
}

TEST_F(WorkflowControllerTest, FailedPodFailsWorkflowWithArgoMessage_4) {
  ASSERT_TRUE(store_->Create(TwoSteps()).ok());
  Spin();
  FinishPod(StringField(Pods()[0]["metadata"], "name"), 2);
  Spin();
  EXPECT_EQ(Phase("two"), "Failed");
  // As in Argo: the Pod node says why it failed, the Steps root names the failed child.
  auto wf = GetWorkflowWithNodes(*store_, "default", "two");
  EXPECT_EQ(StringField((*wf)["status"], "message").rfind("child 'two-", 0), 0u);
  bool found = false;
  for (auto& [id, n] : (*wf)["status"]["nodes"].items()) {
    if (n["type"] == "Pod") {
      found = true;
      EXPECT_EQ(n["message"], "Error (exit code 2)");
      EXPECT_EQ(n["phase"], "Failed");
      EXPECT_EQ(n["outputs"]["exitCode"], "2");
    }
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(Pods().size(), 1u) << "the second step never starts";
}

TEST_F(WorkflowControllerTest, ShutdownTerminatesRunningPods) {
  ASSERT_TRUE(store_->Create(TwoSteps()).ok());
  Spin();
  ASSERT_EQ(Pods().size(), 1u);
  auto wf = store_->Get({"Workflow", "default", "two"});
  (*wf)["spec"]["shutdown"] = "Terminate";
  ASSERT_TRUE(store_->Update(*wf).ok());
  Spin();
  EXPECT_EQ(Phase("two"), "Failed");
  EXPECT_TRUE(Pods().empty()) << "the running pod is deleted so its kubelet stops it";
}

}  // namespace
}  // namespace skiff::controllers
