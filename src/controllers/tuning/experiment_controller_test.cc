// The Experiment controller against a real SQLite store and a FakeClock. The test plays the Job
// controller and the kubelet: it finishes the Jobs the Trials created and writes the logs of
// their Pods. Test names end with the numbers of the Experiment transitions (see the header).
#include "controllers/tuning/experiment_controller.h"

#include <gtest/gtest.h>

#include "controllers/controller_test_base.h"
#include <unistd.h>

#include <set>

#include "common/fs.h"

namespace skiff::controllers {
namespace {

class ExperimentControllerTest : public ControllerTestBase<ExperimentController> {
 protected:
  std::unique_ptr<ExperimentController> MakeController() override {
    ExperimentControllerOptions o;
    std::string dir = dir_;
    o.log_path = [dir](const std::string& uid, const std::string& container) {
      return JoinPath(dir, uid + "." + container + ".stdout");
    };
    o.pod_file_path = [dir](const Json& pod, const std::string& path) {
      return JoinPath(dir, "files/" + pod["metadata"]["uid"].get<std::string>() + path);
    };
    o.server_url = [] { return std::string("http://127.0.0.1:9"); };
    o.claim_dir = [dir](const std::string& ns, const std::string& claim) {
      return JoinPath(dir, "claims/" + ns + "/" + claim);
    };
    return std::make_unique<ExperimentController>(*store_, loop_, *informer_, o, clock_);
  }
  void AfterOpen() override { Spin(); }
  void Spin() {
    for (int i = 0; i < 30; ++i) loop_.RunOnce(Duration(0));
  }
  void Create(const std::string& yaml) {
    auto j = ParseYaml(yaml);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    auto c = store_->Create(*j);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    Spin();
  }
  Json Get(const std::string& kind, const std::string& name) {
    auto o = store_->Get({kind, "default", name});
    return o.ok() ? *o : Json();
  }
  Json ExpStatus() { return Get("Experiment", "exp").value("status", Json::object()); }
  Json Condition(const Json& obj, const std::string& type) {
    if (!obj.is_object()) return nullptr;
    for (const auto& c : obj.value("status", Json::object()).value("conditions", Json::array())) {
      if (c["type"] == type) return c;
    }
    return nullptr;
  }
  bool IsTrue(const Json& obj, const std::string& type) {
    Json c = Condition(obj, type);
    return c.is_object() && c["status"] == "True";
  }
  std::vector<Json> Trials() {
    auto l = store_->List("Trial", "default");
    EXPECT_TRUE(l.ok());
    return l.ok() ? l->items : std::vector<Json>{};
  }
  std::vector<std::string> RunningTrials() {
    std::vector<std::string> out;
    for (const auto& t : Trials()) {
      bool done = false;
      for (const char* c : {"Succeeded", "Failed", "MetricsUnavailable", "Killed"}) {
        done = done || IsTrue(t, c);
      }
      if (!done) out.push_back(t["metadata"]["name"].get<std::string>());
    }
    return out;
  }
  // Plays the Job controller and kubelet: the Trial's Job ran one Pod that printed `log`.
  void FinishJob(const std::string& name, const std::string& log, bool ok = true) {
    AddPod(name, log, ok ? "Succeeded" : "Failed");
    Json job = Get("Job", name);
    job["status"] = {{"conditions", Json::array({{{"type", ok ? "Complete" : "Failed"},
                                                  {"status", "True"}}})}};
    ASSERT_TRUE(store_->UpdateStatus(job).ok());
    Spin();
  }
  // Plays the kubelet for the File collector: the Trial's Pod wrote `text` at `path`.
  void FinishJobWithFile(const std::string& name, const std::string& path, const std::string& text) {
    AddPod(name, "accuracy=0.0001\n", "Succeeded");  // stdout that must not be read
    std::string uid = Get("Pod", name + "-0")["metadata"]["uid"].get<std::string>();
    if (!text.empty()) {
      ASSERT_TRUE(MakeDirs(JoinPath(dir_, "files/" + uid + DirName(path))).ok());
      ASSERT_TRUE(WriteFile(JoinPath(dir_, "files/" + uid + path), text).ok());
    }
    Json job = Get("Job", name);
    job["status"] = {{"conditions", Json::array({{{"type", "Complete"}, {"status", "True"}}})}};
    ASSERT_TRUE(store_->UpdateStatus(job).ok());
    Spin();
  }
  Json SuggestionRecords() {
    auto r = store_->GetRecords(kKatibSuggestionRecords,
                                Get("Experiment", "exp")["metadata"]["uid"].get<std::string>());
    EXPECT_TRUE(r.ok());
    Json out = Json::object();
    if (r.ok()) {
      for (const auto& [k, v] : *r) out[k] = v;
    }
    return out;
  }
  void AddPod(const std::string& name, const std::string& log, const std::string& phase) {
    Json job = Get("Job", name);
    ASSERT_TRUE(job.is_object()) << name;
    Json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata",
                 {{"name", name + "-0"},
                  {"namespace", "default"},
                  {"labels", {{"job-name", name}}},
                  {"ownerReferences", Json::array({{{"apiVersion", "batch/v1"},
                                                    {"kind", "Job"},
                                                    {"name", name},
                                                    {"uid", job["metadata"]["uid"]},
                                                    {"controller", true}}})}}},
                {"spec", {{"containers", Json::array({{{"name", "training-container"}}})}}}};
    auto created = store_->Create(pod);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    std::string uid = (*created)["metadata"]["uid"].get<std::string>();
    ASSERT_TRUE(WriteFile(JoinPath(dir_, uid + ".training-container.stdout"), log).ok());
    Json p = *created;
    p["status"] = {{"phase", phase}};
    ASSERT_TRUE(store_->UpdateStatus(p).ok());
  }

};

std::string ExperimentYaml(const std::string& extra, const std::string& objective = "") {
  return R"(apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {name: exp, namespace: default}
spec:
  objective:
    type: maximize
    objectiveMetricName: accuracy
    additionalMetricNames: [loss]
)" + objective + R"(
  algorithm: {algorithmName: random}
)" + extra + R"(
  parameters:
    - name: lr
      parameterType: double
      feasibleSpace: {min: "0.01", max: "0.05"}
    - name: layers
      parameterType: int
      feasibleSpace: {min: "2", max: "5"}
    - name: optimizer
      parameterType: categorical
      feasibleSpace: {list: [sgd, adam]}
  trialTemplate:
    primaryContainerName: training-container
    trialParameters:
      - {name: learningRate, reference: lr}
      - {name: numLayers, reference: layers}
      - {name: opt, reference: optimizer}
    trialSpec:
      apiVersion: batch/v1
      kind: Job
      spec:
        template:
          spec:
            restartPolicy: Never
            containers:
              - name: training-container
                command: [python3, train.py, "--lr=${trialParameters.learningRate}",
                          "--layers=${trialParameters.numLayers}",
                          "--opt=${trialParameters.opt}", "--name=${trialSpec.Name}"]
              - name: sidecar
                command: ["true"]
)";
}

std::map<std::string, std::string> Assignments(const Json& trial) {
  std::map<std::string, std::string> out;
  for (const auto& a : trial["spec"]["parameterAssignments"]) out[a["name"].get<std::string>()] = a["value"].get<std::string>();
  return out;
}

TEST(ParseMetricsLogTest, KatibDefaultFilter) {
  MetricReports r = ParseMetricsLog(
      "epoch 1: accuracy=0.5 loss = 1.2e-1\nnoise other=3\naccuracy=0.9\nloss=-0.05\n"
      "accuracy=0.7 val-acc=1\n",
      {"accuracy", "loss"});
  EXPECT_EQ(r["accuracy"], (std::vector<std::string>{"0.5", "0.9", "0.7"}));
  EXPECT_EQ(r["loss"], (std::vector<std::string>{"1.2e-1", "-0.05"}));
  EXPECT_EQ(r.count("other"), 0u);
  MetricReports custom = ParseMetricsLog("{accuracy: 0.25}\naccuracy=0.5\n", {"accuracy"},
                                         {R"(\{(\w+): ([\d.]+)\})"});
  EXPECT_EQ(custom["accuracy"], (std::vector<std::string>{"0.25"}));
}

// Katib's PBT checkpoints: with `suggestion_trial_dir`, each Trial's primary container mounts the
// Suggestion's claim (`<experiment>-pbt`) there, subPath `<experiment>/<trial>`, and the next
// generation's directories start as copies of their parents'.
TEST_F(ExperimentControllerTest, PbtTrialsStartFromACopyOfTheirParentsCheckpoint_3) {
  std::string yaml = ExperimentYaml("  parallelTrialCount: 2\n  maxTrialCount: 4\n");
  const std::string random = "algorithm: {algorithmName: random}";
  yaml.replace(yaml.find(random), random.size(),
               "algorithm:\n    algorithmName: pbt\n    algorithmSettings:\n"
               "      - {name: suggestion_trial_dir, value: /var/log/katib/checkpoints}\n"
               "      - {name: n_population, value: \"2\"}\n"
               "      - {name: truncation_threshold, value: \"0.5\"}");
  Create(yaml);
  const std::string claim = JoinPath(dir_, "claims/default/exp-pbt/exp");
  ASSERT_EQ(RunningTrials(), (std::vector<std::string>{"exp-0", "exp-1"}));
  for (const std::string name : {"exp-0", "exp-1"}) {
    Json pod = Get("Trial", name)["spec"]["runSpec"]["spec"]["template"]["spec"];
    EXPECT_EQ(pod["volumes"], Json::parse(R"([{"name": "suggestion-volume",
                                               "persistentVolumeClaim": {"claimName": "exp-pbt"}}])"));
    EXPECT_EQ(pod["containers"][0]["volumeMounts"],
              Json::array({{{"name", "suggestion-volume"}, {"mountPath", "/var/log/katib/checkpoints"},
                            {"subPath", "exp/" + name}}}));
    EXPECT_FALSE(pod["containers"][1].contains("volumeMounts")) << "only the primary container";
    ASSERT_TRUE(IsDirectory(JoinPath(claim, name)));
    EXPECT_FALSE(PathExists(JoinPath(claim, name + "/model.ckpt"))) << "generation 0 starts empty";
    ASSERT_TRUE(WriteFile(JoinPath(claim, name + "/model.ckpt"), "weights of " + name).ok());
  }
  FinishJob("exp-0", "accuracy=0.9\n");
  FinishJob("exp-1", "accuracy=0.5\n");
  Spin();
  ASSERT_EQ(RunningTrials(), (std::vector<std::string>{"exp-2", "exp-3"}));
  for (const std::string name : {"exp-2", "exp-3"}) {
    const Json labels = Get("Trial", name)["spec"]["labels"];
    EXPECT_EQ(labels["pbt.suggestion.katib.kubeflow.org/generation"], "1");
    const std::string parent = labels["pbt.suggestion.katib.kubeflow.org/parent"].get<std::string>();
    // The better half continues, the worse half exploits the best: both start from exp-0 here.
    EXPECT_EQ(parent, "exp-0") << name;
    auto copied = ReadFile(JoinPath(claim, name + "/model.ckpt"));
    ASSERT_TRUE(copied.ok()) << name;
    EXPECT_EQ(*copied, "weights of " + parent);
  }
}

// `trialTemplate.successCondition` / `failureCondition` decide instead of the Job's conditions.
TEST_F(ExperimentControllerTest, TemplateConditionsDecideWhenTheRunObjectIsDone_2_3) {
  std::string yaml = ExperimentYaml("  parallelTrialCount: 2\n  maxTrialCount: 2\n  maxFailedTrialCount: 1\n");
  const std::string at = "  trialTemplate:\n";
  yaml.insert(yaml.find(at) + at.size(),
              "    successCondition: status.[@this].#(succeeded>=2)#\n"
              "    failureCondition: status.conditions.#(type==\"Failed\")#|#(reason==\"BackoffLimitExceeded\")#\n");
  Create(yaml);
  ASSERT_EQ(RunningTrials(), (std::vector<std::string>{"exp-0", "exp-1"}));
  EXPECT_EQ(Get("Trial", "exp-0")["spec"]["successCondition"], "status.[@this].#(succeeded>=2)#");
  // Complete, but only one success: not done by this template's rule.
  FinishJob("exp-0", "accuracy=0.5\n");
  EXPECT_EQ(RunningTrials(), (std::vector<std::string>{"exp-0", "exp-1"}));
  Json job = Get("Job", "exp-0");
  job["status"]["succeeded"] = 2;
  ASSERT_TRUE(store_->UpdateStatus(job).ok());
  Spin();
  EXPECT_TRUE(IsTrue(Get("Trial", "exp-0"), "Succeeded"));
  // Failed for another reason than the template's: still running; then the reason it names.
  job = Get("Job", "exp-1");
  job["status"] = {{"conditions", Json::array({{{"type", "Failed"}, {"status", "True"}, {"reason", "DeadlineExceeded"}}})}};
  ASSERT_TRUE(store_->UpdateStatus(job).ok());
  Spin();
  EXPECT_EQ(RunningTrials(), (std::vector<std::string>{"exp-1"}));
  job = Get("Job", "exp-1");
  job["status"]["conditions"][0]["reason"] = "BackoffLimitExceeded";
  ASSERT_TRUE(store_->UpdateStatus(job).ok());
  Spin();
  EXPECT_TRUE(IsTrue(Get("Trial", "exp-1"), "Failed"));
}

TEST_F(ExperimentControllerTest, ABadTemplateConditionIsRefusedNamingTheField_2) {
  std::string yaml = ExperimentYaml("");
  const std::string at = "  trialTemplate:\n";
  yaml.insert(yaml.find(at) + at.size(), "    failureCondition: status.conditions.#(type)#\n");
  Create(yaml);
  Json exp = Get("Experiment", "exp");
  EXPECT_TRUE(IsTrue(exp, "Failed"));
  EXPECT_NE(Condition(exp, "Failed")["message"].get<std::string>().find("spec.trialTemplate.failureCondition:"),
            std::string::npos)
      << exp["status"].dump();
  EXPECT_TRUE(Trials().empty());
}

// Katib deletes a finished Trial's run object (its Pods go with it) unless the template says
// `retain: true`.
TEST_F(ExperimentControllerTest, FinishedTrialsRunObjectsGoUnlessRetained) {
  for (bool retain : {false, true}) {
    SCOPED_TRACE(retain ? "retain" : "default");
    if (retain) {
      ASSERT_TRUE(store_->Delete({"Experiment", "default", "exp"}).ok());
      Spin();
      ASSERT_TRUE(Trials().empty());
    }
    std::string yaml = ExperimentYaml("  parallelTrialCount: 1\n  maxTrialCount: 1\n");
    if (retain) {
      const std::string at = "  trialTemplate:\n";
      yaml.insert(yaml.find(at) + at.size(), "    retain: true\n");
    }
    Create(yaml);
    ASSERT_EQ(RunningTrials(), (std::vector<std::string>{"exp-0"}));
    FinishJob("exp-0", "accuracy=0.5\n");
    EXPECT_TRUE(IsTrue(Get("Trial", "exp-0"), "Succeeded"));
    EXPECT_EQ(Get("Trial", "exp-0")["spec"].value("retainRun", false), retain);
    // The Trial's metrics were read before anything goes; a moment later the Job goes.
    EXPECT_TRUE(Get("Job", "exp-0").is_object());
    clock_.Advance(kRunCleanupDelay - std::chrono::milliseconds(500));
    Spin();
    EXPECT_TRUE(Get("Job", "exp-0").is_object());
    clock_.Advance(std::chrono::seconds(1));
    Spin();
    EXPECT_EQ(Get("Job", "exp-0").is_object(), retain);
    EXPECT_EQ(Get("Pod", "exp-0-0").is_object(), retain) << "the Job's Pods go with it";
    EXPECT_TRUE(IsTrue(Get("Trial", "exp-0"), "Succeeded")) << "the Trial stays";
  }
}

// `skiff describe` shows the Trials an Experiment starts with; they are the ones the controller
// then creates (same sampler, seed and rendering).
TEST_F(ExperimentControllerTest, PlannedFirstTrialsAreTheTrialsCreated) {
  Create(ExperimentYaml("  parallelTrialCount: 3\n  maxTrialCount: 5\n"));
  auto planned = PlanFirstTrials(Get("Experiment", "exp"));
  ASSERT_TRUE(planned.ok()) << planned.status().ToString();
  ASSERT_EQ(planned->size(), 3u);
  for (const auto& p : *planned) {
    Json t = Get("Trial", p["name"].get<std::string>());
    ASSERT_TRUE(t.is_object()) << p["name"];
    EXPECT_EQ(p["parameterAssignments"], t["spec"]["parameterAssignments"]);
    const Json& planned_c = p["runSpec"]["spec"]["template"]["spec"]["containers"][0];
    const Json& created_c = t["spec"]["runSpec"]["spec"]["template"]["spec"]["containers"][0];
    EXPECT_EQ(planned_c["command"], created_c["command"]);
    EXPECT_EQ(p["primaryContainer"], planned_c) << "the primary container, rendered";
  }
  Json bad = Get("Experiment", "exp");
  bad["spec"]["parameters"][0]["feasibleSpace"]["min"] = "9";
  auto refused = PlanFirstTrials(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("spec.parameters[0]"), std::string::npos) << refused.status().message();
}

TEST_F(ExperimentControllerTest, CreatesTrialsInTheSpaceUpToParallelism_1_3) {
  Create(ExperimentYaml("  parallelTrialCount: 2\n  maxTrialCount: 5\n"));
  Json exp = Get("Experiment", "exp");
  EXPECT_TRUE(IsTrue(exp, "Created"));
  EXPECT_TRUE(IsTrue(exp, "Running"));
  std::vector<Json> trials = Trials();
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(exp["status"]["trials"], 2);
  EXPECT_EQ(exp["status"]["trialsRunning"], 2);
  for (const auto& t : trials) {
    std::string name = t["metadata"]["name"].get<std::string>();
    auto a = Assignments(t);
    double lr = std::stod(a["lr"]);
    EXPECT_GE(lr, 0.01);
    EXPECT_LE(lr, 0.05);
    int layers = std::stoi(a["layers"]);
    EXPECT_GE(layers, 2);
    EXPECT_LE(layers, 5);
    EXPECT_TRUE(a["optimizer"] == "sgd" || a["optimizer"] == "adam") << a["optimizer"];
    EXPECT_EQ(t["metadata"]["ownerReferences"][0]["kind"], "Experiment");
    EXPECT_EQ(t["metadata"]["labels"][kKatibExperimentLabel], "exp");
    EXPECT_TRUE(IsTrue(t, "Created"));
    EXPECT_TRUE(IsTrue(t, "Running"));
    // The Job: owned by the Trial, parameters substituted, KATIB_TRIAL_NAME on the primary.
    Json job = Get("Job", name);
    ASSERT_TRUE(job.is_object()) << name;
    EXPECT_EQ(job["metadata"]["ownerReferences"][0]["kind"], "Trial");
    EXPECT_EQ(job["metadata"]["ownerReferences"][0]["uid"], t["metadata"]["uid"]);
    const Json& c = job["spec"]["template"]["spec"]["containers"][0];
    EXPECT_EQ(c["command"][2], "--lr=" + a["lr"]);
    EXPECT_EQ(c["command"][3], "--layers=" + a["layers"]);
    EXPECT_EQ(c["command"][4], "--opt=" + a["optimizer"]);
    EXPECT_EQ(c["command"][5], "--name=" + name);
    ASSERT_EQ(c["env"].size(), 3u);  // + SKIFF_SERVER, KATIB_METRICS_URL (a server is known)
    EXPECT_EQ(c["env"][0]["name"], "KATIB_TRIAL_NAME");
    EXPECT_EQ(c["env"][0]["value"], name);
    EXPECT_FALSE(job["spec"]["template"]["spec"]["containers"][1].contains("env"));
  }
}

TEST_F(ExperimentControllerTest, RunsToMaxTrialCountAndPicksTheBest_3_6) {
  Create(ExperimentYaml("  parallelTrialCount: 2\n  maxTrialCount: 5\n"));
  std::map<std::string, double> accuracy;
  int rounds = 0;
  while (!RunningTrials().empty() && rounds++ < 20) {
    std::vector<std::string> running = RunningTrials();
    EXPECT_LE(running.size(), 2u) << "parallelTrialCount is respected";
    double acc = 0.5 + 0.05 * static_cast<double>(accuracy.size());
    if (accuracy.size() == 2) acc = 0.99;  // the third trial is the best
    accuracy[running[0]] = acc;
    FinishJob(running[0], "accuracy=0.1\nloss=0.5\naccuracy=" + std::to_string(acc) +
                              "\nloss=0.3\n");
    Json t = Get("Trial", running[0]);
    EXPECT_TRUE(IsTrue(t, "Succeeded")) << t.dump();
  }
  Json status = ExpStatus();
  EXPECT_TRUE(IsTrue(Get("Experiment", "exp"), "Succeeded")) << status.dump();
  EXPECT_EQ(Condition(Get("Experiment", "exp"), "Succeeded")["reason"],
            "ExperimentMaxTrialsReached");
  EXPECT_EQ(Condition(Get("Experiment", "exp"), "Running")["status"], "False");
  EXPECT_EQ(status["trials"], 5);
  EXPECT_EQ(status["trialsSucceeded"], 5);
  EXPECT_EQ(status["trialsRunning"], 0);
  EXPECT_EQ(Trials().size(), 5u);
  std::string best;
  for (const auto& [n, a] : accuracy) {
    if (a == 0.99) best = n;
  }
  const Json& opt = status["currentOptimalTrial"];
  EXPECT_EQ(opt["bestTrialName"], best);
  EXPECT_EQ(opt["parameterAssignments"], Get("Trial", best)["spec"]["parameterAssignments"]);
  // Metric strategies default to the objective's (max for maximize) for every metric.
  Json metrics = opt["observation"]["metrics"];
  ASSERT_EQ(metrics.size(), 2u) << metrics.dump();
  EXPECT_EQ(metrics[0]["name"], "accuracy");
  EXPECT_EQ(metrics[0]["max"], std::to_string(0.99));
  EXPECT_EQ(metrics[0]["min"], "0.1");
  EXPECT_EQ(metrics[0]["latest"], std::to_string(0.99));
  EXPECT_EQ(metrics[1]["name"], "loss");
  EXPECT_EQ(metrics[1]["latest"], "0.3");
}

TEST_F(ExperimentControllerTest, FailedAndMetricsUnavailableTrialsFailTheExperiment_5) {
  Create(ExperimentYaml("  parallelTrialCount: 1\n  maxTrialCount: 10\n  maxFailedTrialCount: 1\n"));
  ASSERT_EQ(RunningTrials().size(), 1u);
  std::string first = RunningTrials()[0];
  FinishJob(first, "", /*ok=*/false);
  EXPECT_TRUE(IsTrue(Get("Trial", first), "Failed"));
  EXPECT_EQ(ExpStatus()["trialsFailed"], 1);
  EXPECT_TRUE(IsTrue(Get("Experiment", "exp"), "Running")) << "1 failure is not > 1";
  ASSERT_EQ(RunningTrials().size(), 1u);
  std::string second = RunningTrials()[0];
  FinishJob(second, "loss=0.2\n");  // succeeded, but the objective is missing
  EXPECT_TRUE(IsTrue(Get("Trial", second), "MetricsUnavailable"));
  Json exp = Get("Experiment", "exp");
  EXPECT_TRUE(IsTrue(exp, "Failed")) << exp["status"].dump();
  EXPECT_EQ(Condition(exp, "Failed")["reason"], "ExperimentFailed");
  EXPECT_EQ(exp["status"]["trialsFailed"], 2);
  EXPECT_EQ(exp["status"]["trialsMetricsUnavailable"], 1);
  EXPECT_EQ(Trials().size(), 2u) << "no Trial after the Experiment failed";
}

TEST_F(ExperimentControllerTest, GoalReachedStopsAndKillsRunningTrials_4) {
  Create(ExperimentYaml("  parallelTrialCount: 2\n  maxTrialCount: 10\n", "    goal: 0.9\n"));
  std::vector<std::string> running = RunningTrials();
  ASSERT_EQ(running.size(), 2u);
  FinishJob(running[0], "accuracy=0.95\n");
  Json exp = Get("Experiment", "exp");
  EXPECT_TRUE(IsTrue(exp, "Succeeded")) << exp["status"].dump();
  EXPECT_EQ(Condition(exp, "Succeeded")["reason"], "ExperimentGoalReached");
  EXPECT_EQ(exp["status"]["currentOptimalTrial"]["bestTrialName"], running[0]);
  EXPECT_TRUE(IsTrue(Get("Trial", running[1]), "Killed"));
  EXPECT_TRUE(Get("Job", running[1]).is_null()) << "the killed Trial's Job is deleted";
  EXPECT_EQ(Trials().size(), 2u);
}

TEST_F(ExperimentControllerTest, GridExhaustionEndsTheExperiment_7) {
  Create(R"(apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {name: exp, namespace: default}
spec:
  objective: {type: minimize, objectiveMetricName: loss}
  algorithm: {algorithmName: grid}
  parallelTrialCount: 5
  parameters:
    - {name: x, parameterType: categorical, feasibleSpace: {list: [a, b, c]}}
  trialTemplate:
    trialSpec:
      apiVersion: batch/v1
      kind: Job
      spec: {template: {spec: {containers: [{name: training-container, command: ["true"]}]}}}
)");
  std::vector<std::string> running = RunningTrials();
  ASSERT_EQ(running.size(), 3u);
  std::set<std::string> values;
  for (const auto& t : Trials()) values.insert(Assignments(t)["x"]);
  EXPECT_EQ(values, (std::set<std::string>{"a", "b", "c"}));
  for (const auto& n : running) FinishJob(n, "loss=1\n");
  Json exp = Get("Experiment", "exp");
  EXPECT_TRUE(IsTrue(exp, "Succeeded")) << exp["status"].dump();
  EXPECT_EQ(Condition(exp, "Succeeded")["reason"], "ExperimentSuggestionEndReached");
}

TEST_F(ExperimentControllerTest, BadSpecFailsTheExperiment_2) {
  Create(R"(apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {name: exp, namespace: default}
spec:
  objective: {type: minimize, objectiveMetricName: loss}
  algorithm: {algorithmName: random}
  parameters:
    - {name: x, parameterType: double, feasibleSpace: {min: "2", max: "1"}}
  trialTemplate:
    trialSpec: {apiVersion: batch/v1, kind: Job, spec: {}}
)");
  Json exp = Get("Experiment", "exp");
  EXPECT_TRUE(IsTrue(exp, "Failed"));
  EXPECT_NE(Condition(exp, "Failed")["message"].get<std::string>().find("spec.parameters[0]"),
            std::string::npos)
      << exp["status"].dump();
  EXPECT_TRUE(Trials().empty());
}

TEST_F(ExperimentControllerTest, RestartContinuesWithoutRepeatingTrials_3) {
  Create(ExperimentYaml("  parallelTrialCount: 2\n  maxTrialCount: 4\n"));
  std::vector<Json> before = Trials();
  ASSERT_EQ(before.size(), 2u);
  Open();  // a restart with nothing new: the same two Trials
  ASSERT_EQ(Trials().size(), 2u);
  FinishJob(RunningTrials()[0], "accuracy=0.5\n");
  ASSERT_EQ(Trials().size(), 3u);
  Open();
  EXPECT_EQ(Trials().size(), 3u);
  int rounds = 0;
  while (!RunningTrials().empty() && rounds++ < 10) {
    FinishJob(RunningTrials()[0], "accuracy=0.6\n");
    if (rounds == 1) Open();
  }
  std::vector<Json> after = Trials();
  ASSERT_EQ(after.size(), 4u);
  std::set<std::string> names;
  for (const auto& t : after) names.insert(t["metadata"]["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"exp-0", "exp-1", "exp-2", "exp-3"}));
  for (const auto& b : before) {
    EXPECT_EQ(Assignments(Get("Trial", b["metadata"]["name"].get<std::string>())), Assignments(b));
  }
  Json exp = Get("Experiment", "exp");
  EXPECT_TRUE(IsTrue(exp, "Succeeded")) << exp["status"].dump();
  EXPECT_EQ(exp["status"]["trialsSucceeded"], 4);
}

TEST_F(ExperimentControllerTest, MedianStopEarlyStopsAWorseRunningTrial) {
  Create(ExperimentYaml(R"(  parallelTrialCount: 2
  maxTrialCount: 3
  earlyStopping:
    algorithmName: medianstop
    algorithmSettings:
      - {name: min_trials_required, value: "1"}
      - {name: start_step, value: "2"}
)"));
  std::vector<std::string> running = RunningTrials();
  ASSERT_EQ(running.size(), 2u);
  FinishJob(running[0], "accuracy=0.8\naccuracy=0.9\n");
  ASSERT_TRUE(IsTrue(Get("Trial", running[0]), "Succeeded"));
  // The second Trial is still running and reports worse than the first one's average.
  AddPod(running[1], "accuracy=0.1\n", "Running");
  clock_.Advance(std::chrono::seconds(3));
  Spin();
  EXPECT_TRUE(RunningTrials().size() == 2u) << "one report is below start_step";
  ASSERT_TRUE(WriteFile(JoinPath(dir_, Get("Pod", running[1] + "-0")["metadata"]["uid"]
                                               .get<std::string>() +
                                           ".training-container.stdout"),
                        "accuracy=0.1\naccuracy=0.2\n")
                  .ok());
  clock_.Advance(std::chrono::seconds(3));
  Spin();
  Json stopped = Get("Trial", running[1]);
  EXPECT_TRUE(IsTrue(stopped, "EarlyStopped")) << stopped["status"].dump();
  EXPECT_EQ(stopped["status"]["observation"]["metrics"][0]["latest"], "0.2");
  EXPECT_TRUE(Get("Job", running[1]).is_null()) << "its Job is deleted";
  Json status = ExpStatus();
  EXPECT_EQ(status["trialsEarlyStopped"], 1) << status.dump();
}

TEST_F(ExperimentControllerTest, FileCollectorReadsJsonLinesFromTheTrialsMetricsVolume_T2) {
  Create(ExperimentYaml(R"(  parallelTrialCount: 2
  maxTrialCount: 2
  metricsCollectorSpec:
    collector: {kind: File}
    source: {fileSystemPath: {path: /var/log/katib/metrics.json, kind: File, format: JSON}}
)"));
  std::vector<std::string> running = RunningTrials();
  ASSERT_EQ(running.size(), 2u);
  // Katib's webhook shape: an emptyDir at the file's directory in the primary container only.
  Json pod = Get("Job", running[0])["spec"]["template"]["spec"];
  EXPECT_EQ(pod["containers"][0]["volumeMounts"][0]["mountPath"], "/var/log/katib") << pod.dump();
  EXPECT_EQ(pod["containers"][0]["volumeMounts"][0]["name"], kKatibMetricsVolume);
  EXPECT_FALSE(pod["containers"][1].contains("volumeMounts"));
  EXPECT_TRUE(pod["volumes"][0].contains("emptyDir"));
  FinishJobWithFile(running[0], "/var/log/katib/metrics.json",
                    "{\"accuracy\": 0.5, \"loss\": \"0.3\", \"timestamp\": 2}\n"
                    "{\"accuracy\": \"0.25\", \"timestamp\": 1}\n");
  Json t = Get("Trial", running[0]);
  ASSERT_TRUE(IsTrue(t, "Succeeded")) << t["status"].dump();
  Json m = t["status"]["observation"]["metrics"];
  EXPECT_EQ(m[0]["name"], "accuracy");
  EXPECT_EQ(m[0]["latest"], "0.5");  // by timestamp, not file order
  EXPECT_EQ(m[0]["min"], "0.25");
  EXPECT_EQ(m[1]["latest"], "0.3");
  // No file: MetricsUnavailable, counted as failed.
  FinishJobWithFile(running[1], "/var/log/katib/metrics.json", "");
  EXPECT_TRUE(IsTrue(Get("Trial", running[1]), "MetricsUnavailable"));
  EXPECT_EQ(ExpStatus()["trialsMetricsUnavailable"], 1);
}

TEST_F(ExperimentControllerTest, FileCollectorTextUsesTheFilter_T2) {
  Create(ExperimentYaml(R"(  parallelTrialCount: 1
  maxTrialCount: 1
  metricsCollectorSpec:
    collector: {kind: File}
    source:
      fileSystemPath: {path: /katib/mnist.log, kind: File}
      filter: {metricsFormat: ["{metricName: ([\\w|-]+), metricValue: ((-?\\d+)(\\.\\d+)?)}"]}
)"));
  ASSERT_EQ(RunningTrials().size(), 1u);
  std::string name = RunningTrials()[0];
  FinishJobWithFile(name, "/katib/mnist.log",
                    "2024-01-01T00:00:00Z {metricName: accuracy, metricValue: 0.75}\n"
                    "accuracy=0.99\n{metricName: accuracy, metricValue: 0.5}\n");
  Json t = Get("Trial", name);
  ASSERT_TRUE(IsTrue(t, "Succeeded")) << t["status"].dump();
  EXPECT_EQ(t["status"]["observation"]["metrics"][0]["max"], "0.75");
  EXPECT_EQ(t["status"]["observation"]["metrics"][0]["latest"], "0.5");
}

TEST_F(ExperimentControllerTest, PushCollectorReadsObservationLogsAndInjectsTheUrl_T2) {
  Create(ExperimentYaml("  parallelTrialCount: 1\n  maxTrialCount: 1\n  metricsCollectorSpec: {collector: {kind: Push}}\n"));
  ASSERT_EQ(RunningTrials().size(), 1u);
  std::string name = RunningTrials()[0];
  std::map<std::string, std::string> env;
  const Json job = Get("Job", name);
  for (const auto& e : job["spec"]["template"]["spec"]["containers"][0]["env"]) {
    env[e["name"].get<std::string>()] = e["value"].get<std::string>();
  }
  EXPECT_EQ(env["KATIB_TRIAL_NAME"], name);
  EXPECT_EQ(env["SKIFF_SERVER"], "http://127.0.0.1:9");
  EXPECT_EQ(env["KATIB_METRICS_URL"],
            "http://127.0.0.1:9/apis/kubeflow.org/v1beta1/namespaces/default/trials/" + name + "/metrics");
  std::string uid = Get("Trial", name)["metadata"]["uid"].get<std::string>();
  TimePoint t0 = clock_.Now();
  for (auto [dt, v] : {std::pair{2, "0.8"}, std::pair{1, "0.6"}}) {
    Json rec = *ParseObservationLog({{"accuracy", v}}, t0);
    ASSERT_TRUE(store_->Commit({store::Write::PutRecord(kKatibObservationRecords, uid,
                                                        ObservationKey(t0 + std::chrono::seconds(dt)), rec)})
                    .ok());
  }
  FinishJob(name, "accuracy=0.99\n");  // stdout is not the collector
  Json t = Get("Trial", name);
  ASSERT_TRUE(IsTrue(t, "Succeeded")) << t["status"].dump();
  EXPECT_EQ(t["status"]["observation"]["metrics"][0]["latest"], "0.8");
  EXPECT_EQ(t["status"]["observation"]["metrics"][0]["min"], "0.6");
}

TEST_F(ExperimentControllerTest, NoneCollectorSucceedsWithoutMetrics_T2) {
  Create(ExperimentYaml("  parallelTrialCount: 1\n  maxTrialCount: 1\n  metricsCollectorSpec: {collector: {kind: None}}\n"));
  std::string name = RunningTrials()[0];
  FinishJob(name, "accuracy=0.5\n");
  Json t = Get("Trial", name);
  EXPECT_TRUE(IsTrue(t, "Succeeded")) << t["status"].dump();
  EXPECT_FALSE(t["status"].contains("observation"));
  EXPECT_TRUE(IsTrue(Get("Experiment", "exp"), "Succeeded"));
}

TEST_F(ExperimentControllerTest, UnsupportedCollectorFailsTheExperimentNamingTheField_2) {
  Create(ExperimentYaml("  metricsCollectorSpec: {collector: {kind: TensorFlowEvent}}\n"));
  Json c = Condition(Get("Experiment", "exp"), "Failed");
  ASSERT_TRUE(c.is_object());
  EXPECT_NE(c["message"].get<std::string>().find("spec.metricsCollectorSpec.collector.kind"),
            std::string::npos);
  Create(R"(apiVersion: kubeflow.org/v1beta1
kind: Experiment
metadata: {name: bad-resume, namespace: default}
spec: {resumePolicy: Sometimes, objective: {type: maximize, objectiveMetricName: a},
       algorithm: {algorithmName: random}, parameters: [{name: x, parameterType: int, feasibleSpace: {min: "1", max: "2"}}],
       trialTemplate: {trialSpec: {apiVersion: batch/v1, kind: Job}}}
)");
  c = Condition(Get("Experiment", "bad-resume"), "Failed");
  ASSERT_TRUE(c.is_object());
  EXPECT_NE(c["message"].get<std::string>().find("spec.resumePolicy"), std::string::npos);
}

TEST_F(ExperimentControllerTest, LongRunningContinuesWhenMaxTrialCountIsRaised_8) {
  Create(ExperimentYaml("  parallelTrialCount: 2\n  maxTrialCount: 2\n  resumePolicy: LongRunning\n"));
  for (const auto& n : RunningTrials()) FinishJob(n, "accuracy=0.5\n");
  Json exp = Get("Experiment", "exp");
  ASSERT_TRUE(IsTrue(exp, "Succeeded"));
  EXPECT_EQ(SuggestionRecords().size(), 2u) << "LongRunning keeps the suggestion state";
  Json first = Get("Trial", "exp-0");
  exp["spec"]["maxTrialCount"] = 4;
  ASSERT_TRUE(store_->Update(exp).ok());
  Spin();
  exp = Get("Experiment", "exp");
  EXPECT_TRUE(IsTrue(exp, "Running")) << exp["status"].dump();
  EXPECT_FALSE(IsTrue(exp, "Succeeded"));
  EXPECT_EQ(Condition(exp, "Succeeded")["reason"], "ExperimentRestarting");
  EXPECT_FALSE(exp["status"].contains("completionTime"));
  std::vector<std::string> running = RunningTrials();
  EXPECT_EQ(running, (std::vector<std::string>{"exp-2", "exp-3"}));
  EXPECT_NE(Assignments(Get("Trial", "exp-2")), Assignments(first)) << "the sampler continues";
  for (const auto& n : running) FinishJob(n, "accuracy=0.7\n");
  exp = Get("Experiment", "exp");
  EXPECT_TRUE(IsTrue(exp, "Succeeded")) << exp["status"].dump();
  EXPECT_EQ(exp["status"]["trials"], 4);
  EXPECT_EQ(exp["status"]["trialsSucceeded"], 4);
  EXPECT_EQ(Trials().size(), 4u);
  // Its Suggestion stays Running: it may be resumed again.
  Json sug = Get("Suggestion", "exp");
  EXPECT_TRUE(IsTrue(sug, "Running"));
  EXPECT_EQ(sug["status"]["suggestionCount"], 4);
}

TEST_F(ExperimentControllerTest, NeverDropsTheSuggestionStateAndDoesNotResume_9) {
  Create(ExperimentYaml("  parallelTrialCount: 2\n  maxTrialCount: 2\n"));
  EXPECT_EQ(SuggestionRecords().size(), 2u);
  for (const auto& n : RunningTrials()) FinishJob(n, "accuracy=0.5\n");
  Json exp = Get("Experiment", "exp");
  ASSERT_TRUE(IsTrue(exp, "Succeeded"));
  EXPECT_TRUE(SuggestionRecords().empty()) << SuggestionRecords().dump();
  exp["spec"]["maxTrialCount"] = 4;
  ASSERT_TRUE(store_->Update(exp).ok());
  Spin();
  EXPECT_TRUE(IsTrue(Get("Experiment", "exp"), "Succeeded"));
  EXPECT_EQ(Trials().size(), 2u);
  Json sug = Get("Suggestion", "exp");
  EXPECT_TRUE(IsTrue(sug, "Succeeded")) << sug.dump();
  EXPECT_EQ(sug["status"]["suggestions"].size(), 2u) << "what was suggested stays visible";
}

TEST_F(ExperimentControllerTest, SuggestionMirrorsEveryTrialsAssignments_3) {
  Create(ExperimentYaml("  parallelTrialCount: 3\n  maxTrialCount: 5\n"));
  Json sug = Get("Suggestion", "exp");
  ASSERT_TRUE(sug.is_object());
  EXPECT_EQ(sug["spec"]["algorithm"]["algorithmName"], "random");
  EXPECT_EQ(sug["spec"]["requests"], 3);
  EXPECT_EQ(sug["metadata"]["ownerReferences"][0]["kind"], "Experiment");
  EXPECT_TRUE(IsTrue(sug, "Created"));
  EXPECT_TRUE(IsTrue(sug, "Running"));
  FinishJob(RunningTrials()[0], "accuracy=0.5\n");
  sug = Get("Suggestion", "exp");
  ASSERT_EQ(sug["status"]["suggestionCount"], 4);
  for (const auto& s : sug["status"]["suggestions"]) {
    Json t = Get("Trial", s["name"].get<std::string>());
    ASSERT_TRUE(t.is_object()) << s.dump();
    EXPECT_EQ(s["parameterAssignments"], t["spec"]["parameterAssignments"]);
  }
}

}  // namespace
}  // namespace skiff::controllers
