// The InferenceService controller against a real SQLite store, a real `RevisionStats` and a
// FakeClock. The test plays the kubelet (it writes the status of the Pods the controller
// created) and the gateway (it calls `RevisionStats`). Test names end with the numbers of the
// transitions (see isvc_controller.h) they cover.
#include "controllers/serving/isvc_controller.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/url_fetch.h"
#include "common/fs.h"
#include "controllers/controller_test_base.h"
#include "controllers/training/training_controller.h"

namespace skiff::controllers {
namespace {

using std::chrono::seconds;

class IsvcControllerTest : public ControllerTestBase<InferenceServiceController> {
 protected:
  IsvcControllerTest() : stats_(clock_) {}

  std::unique_ptr<InferenceServiceController> MakeController() override {
    IsvcControllerOptions opts;
    opts.data_dir = dir_;
    opts.skiff_binary = "/opt/skiff";
    opts.stats = &stats_;
    opts.gateway_address = [] { return std::string("127.0.0.1:8080"); };
    opts.allocate_port = [](uint64_t, const std::set<int32_t>& taken) -> Result<int32_t> {
      int32_t p = 31000;
      while (taken.count(p)) ++p;
      return p;
    };
    opts.http_head = [](const std::string& url) -> Result<RemoteObjectInfo> {
      SKIFF_ASSIGN_OR_RETURN(api::UrlHead h, api::HeadUrl(url));
      return RemoteObjectInfo{h.status, h.etag, h.content_length};
    };
    opts.http_download = api::DownloadUrl;
    return std::make_unique<InferenceServiceController>(*store_, loop_, *informer_, opts);
  }
  void SetUp() override {
    ControllerTestBase::SetUp();
    model_dir_ = JoinPath(dir_, "models/digits");
    ASSERT_TRUE(MakeDirs(model_dir_).ok());
    ASSERT_TRUE(WriteFile(JoinPath(model_dir_, "model.json"), "{}").ok());
  }
  void AfterOpen() override { Spin(); }

  void Spin() {
    for (int i = 0; i < 30; ++i) loop_.RunOnce(Duration(0));
  }
  // Moves time in 1 s steps, as the sampling timer expects.
  void Advance(Duration d) {
    for (Duration done{0}; done < d; done += seconds(1)) {
      clock_.Advance(seconds(1));
      Spin();
    }
  }
  void Apply(const std::string& yaml) {
    auto j = ParseYaml(yaml);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    if (StringField((*j)["metadata"], "namespace").empty())
      (*j)["metadata"]["namespace"] = "default";
    auto cur = store_->Get({"InferenceService", "default", StringField((*j)["metadata"], "name")});
    if (cur.ok()) {
      (*j)["metadata"]["resourceVersion"] = (*cur)["metadata"]["resourceVersion"];
      auto u = store_->Update(*j);
      ASSERT_TRUE(u.ok()) << u.status().ToString();
    } else {
      auto c = store_->Create(*j);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
    }
    Spin();
  }
  std::string Isvc(const std::string& predictor_extra, const std::string& annotations = "{}") {
    return "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\n"
           "metadata: {name: digits, namespace: default, annotations: " +
           annotations +
           "}\n"
           "spec:\n  predictor:\n" +
           predictor_extra +
           "    model:\n      modelFormat: {name: xgboost}\n      storageUri: file://" +
           model_dir_ + "\n";
  }
  std::vector<Json> Pods(const std::string& revision = "") {
    auto l = store_->List("Pod", "default");
    EXPECT_TRUE(l.ok());
    std::vector<Json> out;
    for (const auto& p : l->items) {
      if (revision.empty() ||
          p["metadata"]["labels"].value("serving.knative.dev/revision", "") == revision) {
        out.push_back(p);
      }
    }
    return out;
  }
  Json Status(const std::string& name = "digits") {
    auto o = store_->Get({"InferenceService", "default", name});
    EXPECT_TRUE(o.ok());
    return o.ok() ? o->value("status", Json::object()) : Json::object();
  }
  Json Condition(const std::string& type, const std::string& name = "digits") {
    for (const auto& c : Status(name).value("conditions", Json::array())) {
      if (c["type"] == type) return c;
    }
    return nullptr;
  }
  std::string CondStatus(const std::string& type, const std::string& name = "digits") {
    Json c = Condition(type, name);
    return c.is_null() ? "<none>" : StringField(c, "status");
  }
  Json Traffic() { return Status()["components"]["predictor"].value("traffic", Json::array()); }
  int64_t Percent(const std::string& revision) {
    for (const auto& t : Traffic()) {
      if (t["revisionName"] == revision) return t["percent"].get<int64_t>();
    }
    return -1;
  }
  // Plays the kubelet: every Pod of `revision` runs and is ready.
  void MakeReady(const std::string& revision) {
    for (Json p : Pods(revision)) {
      if (StringField(p.value("status", Json::object()), "phase") == "Running") continue;
      p["status"] = {
          {"phase", "Running"},
          {"conditions", Json::array({{{"type", "Ready"}, {"status", "True"}}})},
          {"containerStatuses",
           Json::array({{{"name", "kserve-container"}, {"ready", true}, {"restartCount", 0}}})}};
      auto u = store_->UpdateStatus(p);
      ASSERT_TRUE(u.ok()) << u.status().ToString();
    }
    Spin();
  }

  serving::RevisionStats stats_;
  std::string model_dir_;
};

TEST_F(IsvcControllerTest, FirstRevisionRunsModelServerPodsAndBecomesReady_1_2) {
  Apply(Isvc("    minReplicas: 2\n    containerConcurrency: 4\n    timeout: 30\n"));
  auto pods = Pods("digits-predictor-00001");
  ASSERT_EQ(pods.size(), 2u);
  const Json& pod = pods[0];
  EXPECT_EQ(pod["metadata"]["labels"]["serving.kserve.io/inferenceservice"], "digits");
  EXPECT_EQ(pod["metadata"]["labels"]["component"], "predictor");
  EXPECT_EQ(pod["metadata"]["annotations"]["serving.skiff.dev/container-concurrency"], "4");
  EXPECT_EQ(pod["metadata"]["annotations"]["serving.skiff.dev/timeout-seconds"], "30");
  EXPECT_EQ(pod["metadata"]["ownerReferences"][0]["kind"], "InferenceService");
  std::string port = pod["metadata"]["annotations"]["serving.skiff.dev/port"];
  const Json& c = pod["spec"]["containers"][0];
  EXPECT_EQ(c["command"],
            Json::array({"/opt/skiff", "model-server", "--model-name", "digits", "--model-dir",
                         model_dir_, "--format", "xgboost", "--port", port}));
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/v2/health/ready");
  EXPECT_EQ(std::to_string(c["readinessProbe"]["httpGet"]["port"].get<int>()), port);
  // The two replicas listen on different ports.
  EXPECT_NE(pods[1]["metadata"]["annotations"]["serving.skiff.dev/port"], port);

  EXPECT_EQ(CondStatus("PredictorReady"), "Unknown");
  EXPECT_EQ(CondStatus("Ready"), "False");
  EXPECT_EQ(Status()["modelStatus"]["states"]["activeModelState"], "Loading");
  EXPECT_EQ(Status()["url"], "http://digits.default.example.com");

  MakeReady("digits-predictor-00001");
  Json st = Status();
  EXPECT_EQ(CondStatus("PredictorReady"), "True");
  EXPECT_EQ(CondStatus("IngressReady"), "True");
  EXPECT_EQ(CondStatus("Ready"), "True");
  const Json& p = st["components"]["predictor"];
  EXPECT_EQ(p["latestCreatedRevision"], "digits-predictor-00001");
  EXPECT_EQ(p["latestReadyRevision"], "digits-predictor-00001");
  EXPECT_EQ(p["latestRolledoutRevision"], "digits-predictor-00001");
  EXPECT_EQ(Percent("digits-predictor-00001"), 100);
  EXPECT_EQ(st["modelStatus"]["states"]["activeModelState"], "Loaded");
  EXPECT_EQ(st["modelStatus"]["transitionStatus"], "UpToDate");
  EXPECT_EQ(st["modelStatus"]["copies"]["totalCopies"], 2);
  auto snap = controller_->ReplicaSnapshot();
  ASSERT_EQ(snap.count("default/digits/digits-predictor-00001"), 1u);
  EXPECT_EQ(snap["default/digits/digits-predictor-00001"].desired, 2);
  EXPECT_EQ(snap["default/digits/digits-predictor-00001"].ready, 2);

  // A restart creates nothing twice.
  Open();
  EXPECT_EQ(Pods().size(), 2u);
  EXPECT_EQ(CondStatus("Ready"), "True");
}

TEST_F(IsvcControllerTest, SpecChangeRollsOutANewRevisionAndRetiresTheOld_1_2_5) {
  Apply(Isvc(""));
  MakeReady("digits-predictor-00001");
  // A canary percent alone is not a new revision.
  Apply(Isvc("    canaryTrafficPercent: 20\n"));
  EXPECT_EQ(Status()["components"]["predictor"]["latestCreatedRevision"], "digits-predictor-00001");

  Apply(Isvc("    minReplicas: 1\n    containerConcurrency: 2\n"));
  EXPECT_EQ(Status()["components"]["predictor"]["latestCreatedRevision"], "digits-predictor-00002");
  // Until the new revision is ready, the old one serves.
  EXPECT_EQ(Percent("digits-predictor-00001"), 100);
  EXPECT_EQ(Pods("digits-predictor-00002").size(), 1u);
  EXPECT_EQ(CondStatus("PredictorReady"), "Unknown");

  MakeReady("digits-predictor-00002");
  Json p = Status()["components"]["predictor"];
  EXPECT_EQ(p["latestRolledoutRevision"], "digits-predictor-00002");
  EXPECT_EQ(p["previousRolledoutRevision"], "digits-predictor-00001");
  EXPECT_EQ(Percent("digits-predictor-00002"), 100);
  EXPECT_EQ(Pods("digits-predictor-00001").size(), 0u);  // no traffic, no Pods
  EXPECT_EQ(CondStatus("Ready"), "True");
  EXPECT_EQ(Status()["observedGeneration"], 3);  // three spec versions applied
  // The revisions are on record.
  auto recs = store_->GetRecords(
      kIsvcRevisionRecords,
      StringField(store_->Get({"InferenceService", "default", "digits"})->at("metadata"), "uid"));
  ASSERT_TRUE(recs.ok());
  EXPECT_EQ(recs->count("digits-predictor-00001"), 1u);
  EXPECT_EQ(recs->count("digits-predictor-00002"), 1u);
}

TEST_F(IsvcControllerTest, CanarySplitsPinsRollsBackAndPromotes_3_4_5) {
  Apply(Isvc(""));
  MakeReady("digits-predictor-00001");
  Apply(Isvc("    canaryTrafficPercent: 10\n    containerConcurrency: 3\n"));
  EXPECT_EQ(Percent("digits-predictor-00002"), 10);
  EXPECT_EQ(Percent("digits-predictor-00001"), 90);
  Json t = Traffic();
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0]["tag"], "latest");
  EXPECT_EQ(t[0]["latestRevision"], true);
  EXPECT_EQ(t[1]["tag"], "prev");
  MakeReady("digits-predictor-00002");
  // Both keep Pods while both have traffic; the rolled-out revision stays the old one.
  EXPECT_EQ(Pods("digits-predictor-00001").size(), 1u);
  EXPECT_EQ(Pods("digits-predictor-00002").size(), 1u);
  EXPECT_EQ(Status()["components"]["predictor"]["latestRolledoutRevision"],
            "digits-predictor-00001");

  // Roll back: 0 pins the old revision; the canary loses its Pods.
  Apply(Isvc("    canaryTrafficPercent: 0\n    containerConcurrency: 3\n"));
  EXPECT_EQ(Percent("digits-predictor-00001"), 100);
  EXPECT_EQ(Percent("digits-predictor-00002"), 0);
  EXPECT_EQ(Pods("digits-predictor-00002").size(), 0u);
  EXPECT_EQ(Status()["components"]["predictor"]["latestCreatedRevision"], "digits-predictor-00002");

  // Promote: the field removed, the latest revision takes everything once ready.
  Apply(Isvc("    containerConcurrency: 3\n"));
  EXPECT_EQ(Pods("digits-predictor-00002").size(), 1u);
  MakeReady("digits-predictor-00002");
  EXPECT_EQ(Percent("digits-predictor-00002"), 100);
  EXPECT_EQ(Status()["components"]["predictor"]["previousRolledoutRevision"],
            "digits-predictor-00001");
  EXPECT_EQ(Pods("digits-predictor-00001").size(), 0u);
}

TEST_F(IsvcControllerTest, LoadScalesUpWithinMaxReplicasAndBackDown_6_7) {
  Apply(Isvc("    minReplicas: 1\n    maxReplicas: 3\n    scaleTarget: 2\n",
             "{autoscaling.knative.dev/window: '6s'}"));
  MakeReady("digits-predictor-00001");
  const std::string rev = "default/digits/digits-predictor-00001";
  // 10 requests in flight, target 2 x 70 %: Knative wants ceil(10 / 1.4) = 8, capped at 3.
  for (int i = 0; i < 10; ++i) stats_.RequestStarted(rev);
  Advance(seconds(4));
  EXPECT_EQ(controller_->DesiredReplicas(rev), 3);
  EXPECT_EQ(Pods("digits-predictor-00001").size(), 3u);
  MakeReady("digits-predictor-00001");
  for (int i = 0; i < 10; ++i) stats_.RequestFinished(rev);
  // Panic mode holds the scale for a stable window after the last burst, then it falls to min.
  Advance(seconds(30));
  EXPECT_EQ(controller_->DesiredReplicas(rev), 1);
  EXPECT_EQ(Pods("digits-predictor-00001").size(), 1u);
  std::printf(
      "figure: desired replicas under 10 in-flight requests (target 2, max 3): 3; idle after 30 s: "
      "1\n");
}

TEST_F(IsvcControllerTest, IdleRevisionScalesToZeroAndActivationBringsAPodAtOnce_8_9) {
  Apply(Isvc("    minReplicas: 0\n", "{autoscaling.knative.dev/window: '6s'}"));
  MakeReady("digits-predictor-00001");
  EXPECT_EQ(Pods().size(), 1u);
  const std::string rev = "default/digits/digits-predictor-00001";
  // Idle: a stable window (6 s) to go inactive, then the 30 s grace period.
  Advance(seconds(20));
  EXPECT_EQ(Pods().size(), 1u);
  Advance(seconds(30));
  EXPECT_EQ(Pods().size(), 0u);
  EXPECT_EQ(Status()["modelStatus"]["states"]["activeModelState"], "Standby");
  EXPECT_EQ(CondStatus("Ready"), "True");  // scaled to zero is still ready (Knative)

  // A request arrives: the gateway holds it and asks for activation; the Pod comes at once,
  // without moving the clock.
  stats_.RequestStarted(rev);
  stats_.RequestActivation("default/digits", rev);
  Spin();
  EXPECT_EQ(Pods().size(), 1u);
  MakeReady("digits-predictor-00001");
  // The held request keeps it up while in flight.
  Advance(seconds(10));
  EXPECT_EQ(Pods().size(), 1u);
  stats_.RequestFinished(rev);
  Advance(seconds(60));
  EXPECT_EQ(Pods().size(), 0u);
}

TEST_F(IsvcControllerTest, BatcherBecomesModelServerFlags) {
  Apply(Isvc("    batcher: {maxBatchSize: 16, maxLatency: 300}\n"));
  auto pods = Pods();
  ASSERT_EQ(pods.size(), 1u);
  Json cmd = pods[0]["spec"]["containers"][0]["command"];
  ASSERT_EQ(cmd.size(), 14u);
  EXPECT_EQ(cmd[10], "--max-batch-size");
  EXPECT_EQ(cmd[11], "16");
  EXPECT_EQ(cmd[12], "--max-latency-ms");
  EXPECT_EQ(cmd[13], "300");
}

TEST_F(IsvcControllerTest, ActivatedTaggedRevisionAtZeroPercentServesUntilIdle_5_9) {
  const std::string window = "{autoscaling.knative.dev/window: '6s'}";
  Apply(Isvc("", window));
  MakeReady("digits-predictor-00001");
  Apply(Isvc("    canaryTrafficPercent: 0\n    containerConcurrency: 3\n", window));
  MakeReady("digits-predictor-00002");
  EXPECT_EQ(Pods("digits-predictor-00002").size(), 0u);  // 0 %: no replicas
  // A request by tag (`latest`) for the pinned-out canary: activation brings a replica that
  // stays while the request is in flight, then goes when the revision is idle again.
  const std::string rev = "default/digits/digits-predictor-00002";
  stats_.RequestStarted(rev);
  stats_.RequestActivation("default/digits", rev);
  Spin();
  EXPECT_EQ(Pods("digits-predictor-00002").size(), 1u);
  MakeReady("digits-predictor-00002");
  Advance(seconds(12));
  EXPECT_EQ(Pods("digits-predictor-00002").size(), 1u);
  stats_.RequestFinished(rev);
  Advance(seconds(60));
  EXPECT_EQ(Pods("digits-predictor-00002").size(), 0u);
  EXPECT_EQ(Pods("digits-predictor-00001").size(), 1u);
}

TEST_F(IsvcControllerTest, FormatWithoutHostRuntimeSaysSoAndRunsNothing) {
  Apply(
      "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: flowers}\n"
      "spec: {predictor: {tensorflow: {storageUri: "
      "'gs://kfserving-examples/models/tensorflow/flowers'}}}\n");
  EXPECT_EQ(Pods().size(), 0u);
  Json c = Condition("PredictorReady", "flowers");
  EXPECT_EQ(c["status"], "False");
  EXPECT_EQ(c["reason"], "NoSupportingRuntime");
  EXPECT_NE(StringField(c, "message").find("no host runtime for modelFormat tensorflow"),
            std::string::npos);
  EXPECT_EQ(Status("flowers")["modelStatus"]["transitionStatus"], "InvalidSpec");
  EXPECT_EQ(Status("flowers")["modelStatus"]["lastFailureInfo"]["reason"], "NoSupportingRuntime");
  EXPECT_EQ(CondStatus("Ready", "flowers"), "False");
}

TEST_F(IsvcControllerTest, CrashingReplicaFailsTheRevisionWithItsExitCode) {
  Apply(Isvc(""));
  Json p = Pods()[0];
  p["status"] = {
      {"phase", "Running"},
      {"conditions", Json::array({{{"type", "Ready"}, {"status", "False"}}})},
      {"containerStatuses", Json::array({{{"name", "kserve-container"},
                                          {"ready", false},
                                          {"restartCount", 2},
                                          {"lastState", {{"terminated", {{"exitCode", 1}}}}}}})}};
  ASSERT_TRUE(store_->UpdateStatus(p).ok());
  Spin();
  Json c = Condition("PredictorReady");
  EXPECT_EQ(c["reason"], "RevisionFailed");
  EXPECT_NE(StringField(c, "message").find("exited with code 1"), std::string::npos) << c.dump();
  EXPECT_EQ(Status()["modelStatus"]["states"]["activeModelState"], "FailedToLoad");
}

TEST_F(IsvcControllerTest, PvcAndMissingPathsResolve) {
  std::string claim = JoinPath(dir_, "volumes/default/models/digits");
  ASSERT_TRUE(MakeDirs(claim).ok());
  Apply(
      "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: pvc}\n"
      "spec: {predictor: {sklearn: {storageUri: 'pvc://models/digits'}}}\n");
  auto pods = Pods();
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_EQ(pods[0]["spec"]["containers"][0]["command"][5], claim);
  EXPECT_EQ(pods[0]["spec"]["containers"][0]["command"][7], "sklearn");

  Apply(
      "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: gone}\n"
      "spec: {predictor: {sklearn: {storageUri: 'file:///nonexistent/model'}}}\n");
  Json c = Condition("PredictorReady", "gone");
  EXPECT_EQ(c["reason"], "StorageInitializerFailed");
  EXPECT_NE(StringField(c, "message").find("/nonexistent/model does not exist"), std::string::npos);
}

TEST_F(IsvcControllerTest, HttpModelIsDownloadedOnceIntoTheContentKeyedCache) {
  // A real HTTP server on loopback serving the model file.
  auto port = AllocateLocalPort(static_cast<uint64_t>(::getpid()), {});
  ASSERT_TRUE(port.ok());
  pid_t pid = ::fork();
  if (pid == 0) {
    std::string p = std::to_string(*port);
    ::execl("/usr/bin/python3", "python3", "-m", "http.server", p.c_str(), "--bind", "127.0.0.1",
            "--directory", model_dir_.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(*port) + "/model.json";
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    auto h = api::HeadUrl(url);
    up = h.ok() && h->status == 200;
    if (!up) ::usleep(50 * 1000);
  }
  ASSERT_TRUE(up) << "python http.server did not start";
  for (const char* name : {"a", "b"}) {
    Apply(std::string(
              "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: ") +
          name + "}\nspec: {predictor: {minReplicas: 2, xgboost: {storageUri: '" + url + "'}}}\n");
  }
  // The download runs on a thread of its own; meanwhile the condition says so. (A 2-byte file
  // can be fetched before `Apply` returns, on a busy machine too: then it has moved on.)
  const std::string early = StringField(Condition("PredictorReady", "a"), "reason");
  EXPECT_TRUE(early == "StorageInitializing" || early == "RevisionMissing") << early;
  for (int i = 0; i < 1000 && Pods().size() < 4; ++i) loop_.RunOnce(std::chrono::milliseconds(10));
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  auto pods = Pods();
  ASSERT_EQ(pods.size(), 4u);
  std::string path = pods[0]["spec"]["containers"][0]["command"][5];
  EXPECT_EQ(path.rfind(JoinPath(dir_, "models/cache/"), 0), 0u) << path;
  EXPECT_EQ(path.substr(path.size() - 10), "model.json");
  for (const auto& p : pods) EXPECT_EQ(p["spec"]["containers"][0]["command"][5], path);
  auto body = ReadFile(path);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, "{}");
  EXPECT_EQ(controller_->downloads(), 1);                   // 2 services x 2 replicas, one download
  EXPECT_EQ(CondStatus("PredictorReady", "b"), "Unknown");  // waiting for its replicas now
  EXPECT_EQ(StringField(Condition("PredictorReady", "b"), "reason"), "RevisionMissing");
}

TEST_F(IsvcControllerTest, TransformerGetsThePredictorHostAndGateway) {
  Apply(
      "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: digits}\n"
      "spec:\n  transformer:\n    containers:\n    - name: kserve-container\n      command: "
      "[/usr/bin/python3, t.py]\n"
      "  predictor:\n    xgboost: {storageUri: 'file://" +
      model_dir_ + "'}\n");
  auto t = Pods("digits-transformer-00001");
  ASSERT_EQ(t.size(), 1u);
  const Json& c = t[0]["spec"]["containers"][0];
  EXPECT_EQ(c["command"], Json::array({"/usr/bin/python3", "t.py"}));
  std::map<std::string, std::string> env;
  for (const auto& e : c["env"]) env[e["name"]] = e["value"];
  EXPECT_EQ(env["PREDICTOR_HOST"], "digits-predictor.default.example.com");
  EXPECT_EQ(env["SKIFF_GATEWAY"], "127.0.0.1:8080");
  EXPECT_EQ(env["PORT"], t[0]["metadata"]["annotations"]["serving.skiff.dev/port"]);
  EXPECT_TRUE(c["readinessProbe"].contains("tcpSocket"));
  EXPECT_EQ(Pods("digits-predictor-00001").size(), 1u);
  MakeReady("digits-transformer-00001");
  MakeReady("digits-predictor-00001");
  EXPECT_EQ(CondStatus("TransformerReady"), "True");
  EXPECT_EQ(CondStatus("Ready"), "True");
  EXPECT_EQ(Status()["components"]["transformer"]["traffic"][0]["revisionName"],
            "digits-transformer-00001");
}

}  // namespace
}  // namespace skiff::controllers
