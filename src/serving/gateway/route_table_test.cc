#include "serving/gateway/route_table.h"

#include <gtest/gtest.h>

#include <map>

namespace skiff::serving {
namespace {

Json Isvc(const std::string& name, const Json& predictor_traffic, const Json& transformer_traffic = nullptr,
          int rv = 1, const std::string& ns = "default") {
  Json obj = {{"apiVersion", "serving.kserve.io/v1beta1"},
              {"kind", "InferenceService"},
              {"metadata", {{"name", name}, {"namespace", ns}, {"resourceVersion", std::to_string(rv)}}},
              {"status", {{"components", {{"predictor", {{"traffic", predictor_traffic}}}}}}}};
  if (!transformer_traffic.is_null()) {
    obj["status"]["components"]["transformer"] = {{"traffic", transformer_traffic}};
  }
  return obj;
}

Json Pod(const std::string& name, const std::string& isvc, const std::string& revision, int port, bool ready,
         int rv = 1, int concurrency = 0, const std::string& ns = "default") {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"resourceVersion", std::to_string(rv)},
            {"labels", {{"serving.kserve.io/inferenceservice", isvc}, {"component", "predictor"},
                        {"serving.knative.dev/revision", revision}}},
            {"annotations", {{"serving.skiff.dev/port", std::to_string(port)},
                             {"serving.skiff.dev/container-concurrency", std::to_string(concurrency)},
                             {"serving.skiff.dev/timeout-seconds", "30"}}}}},
          {"status",
           {{"phase", ready ? "Running" : "Pending"},
            {"conditions", Json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
}

Json CanaryTraffic() {
  return Json::array({{{"revisionName", "digits-predictor-00002"}, {"percent", 10}, {"latestRevision", true},
                       {"tag", "latest"}},
                      {{"revisionName", "digits-predictor-00001"}, {"percent", 90}, {"latestRevision", false},
                       {"tag", "prev"}}});
}

TEST(RouteTableTest, TenPercentCanaryGetsExactlyTenPercentOfEveryHundredRequests) {
  RouteTable t;
  t.ApplyInferenceService(Isvc("digits", CanaryTraffic()), false);
  std::map<std::string, int> counts;
  for (int window = 0; window < 20; ++window) {
    std::map<std::string, int> in_window;
    for (int i = 0; i < 100; ++i) {
      auto sel = t.Select("127.0.0.1:8080", "", "POST", "/v2/models/digits/infer");
      ASSERT_TRUE(sel.ok()) << sel.status().ToString();
      in_window[sel->revision_key]++;
      counts[sel->revision_key]++;
    }
    EXPECT_EQ(in_window["default/digits/digits-predictor-00002"], 10) << "window " << window;
  }
  EXPECT_EQ(counts["default/digits/digits-predictor-00002"], 200);
  EXPECT_EQ(counts["default/digits/digits-predictor-00001"], 1800);
}

TEST(RouteTableTest, SplitFollowsAChangedTrafficListAndZeroPercentPins) {
  RouteTable t;
  t.ApplyInferenceService(Isvc("digits", CanaryTraffic()), false);
  Json pinned = CanaryTraffic();
  pinned[0]["percent"] = 0;
  pinned[1]["percent"] = 100;
  t.ApplyInferenceService(Isvc("digits", pinned, nullptr, 2), false);
  for (int i = 0; i < 50; ++i) {
    auto sel = t.Select("", "", "POST", "/v1/models/digits:predict");
    ASSERT_TRUE(sel.ok());
    EXPECT_EQ(sel->revision_key, "default/digits/digits-predictor-00001");
  }
  // An older object (a list that overlapped a watch) does not undo the newer one.
  t.ApplyInferenceService(Isvc("digits", CanaryTraffic(), nullptr, 1), false);
  EXPECT_EQ(t.Select("", "", "POST", "/v1/models/digits:predict")->revision_key,
            "default/digits/digits-predictor-00001");
}

TEST(RouteTableTest, TagHeaderAndTagHostPickTheTaggedRevision) {
  RouteTable t;
  t.ApplyInferenceService(Isvc("digits", CanaryTraffic(), nullptr, 1, "ml"), false);
  for (int i = 0; i < 20; ++i) {
    auto by_header = t.Select("digits.ml.example.com", "prev", "POST", "/v2/models/digits/infer");
    ASSERT_TRUE(by_header.ok()) << by_header.status().ToString();
    EXPECT_EQ(by_header->revision_key, "ml/digits/digits-predictor-00001");
    auto by_host = t.Select("latest-digits.ml.example.com:8080", "", "POST", "/v2/models/digits/infer");
    ASSERT_TRUE(by_host.ok()) << by_host.status().ToString();
    EXPECT_EQ(by_host->revision_key, "ml/digits/digits-predictor-00002");
    EXPECT_EQ(by_host->service_key, "ml/digits");
  }
  auto unknown = t.Select("digits.ml.example.com", "nope", "POST", "/v2/models/digits/infer");
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("nope"), std::string::npos);
}

TEST(RouteTableTest, HostPicksTheServiceAndTransformerComesFirstUnlessThePredictorIsAddressed) {
  RouteTable t;
  Json pred = Json::array({{{"revisionName", "txt-predictor-00001"}, {"percent", 100}}});
  Json trans = Json::array({{{"revisionName", "txt-transformer-00001"}, {"percent", 100}}});
  t.ApplyInferenceService(Isvc("txt", pred, trans, 1, "team"), false);
  auto plain = t.Select("txt.team.example.com", "", "POST", "/v1/models/whatever:predict");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->component, "transformer");
  EXPECT_EQ(plain->revision_key, "team/txt/txt-transformer-00001");
  auto direct = t.Select("txt-predictor.team.example.com", "", "POST", "/v1/models/txt:predict");
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  EXPECT_EQ(direct->component, "predictor");
  EXPECT_EQ(direct->revision_key, "team/txt/txt-predictor-00001");
  // A path-only request looks in namespace "default", where there is no "txt".
  auto by_path = t.Select("127.0.0.1:8080", "", "POST", "/v1/models/txt:predict");
  EXPECT_EQ(by_path.status().code(), StatusCode::kNotFound);
}

TEST(RouteTableTest, UnknownModelIsKServesNotFound) {
  RouteTable t;
  auto sel = t.Select("127.0.0.1:8080", "", "POST", "/v2/models/iris/infer");
  ASSERT_EQ(sel.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(sel.status().message(), "Model with name iris does not exist.");
  auto no_model = t.Select("localhost", "", "GET", "/v2/health/ready");
  EXPECT_EQ(no_model.status().code(), StatusCode::kNotFound);
}

TEST(RouteTableTest, ServiceWithoutTrafficIsUnavailable) {
  RouteTable t;
  t.ApplyInferenceService(Isvc("digits", Json::array()), false);
  auto sel = t.Select("", "", "POST", "/v2/models/digits/infer");
  EXPECT_EQ(sel.status().code(), StatusCode::kUnavailable);
  t.ApplyInferenceService(Isvc("digits", CanaryTraffic(), nullptr, 2), true);
  EXPECT_EQ(t.Select("", "", "POST", "/v2/models/digits/infer").status().code(), StatusCode::kNotFound);
}

TEST(RouteTableTest, OnlyRunningReadyPodsWithAPortAreReplicas) {
  RouteTable t;
  const std::string rev = "default/digits/digits-predictor-00001";
  EXPECT_EQ(t.Revision(rev), nullptr);
  t.ApplyPod(Pod("a", "digits", "digits-predictor-00001", 9001, false, 1, 2), false);
  ASSERT_NE(t.Revision(rev), nullptr);
  EXPECT_TRUE(t.Revision(rev)->ready.empty());
  EXPECT_EQ(t.Revision(rev)->container_concurrency, 2);
  EXPECT_EQ(t.Revision(rev)->timeout, std::chrono::seconds(30));
  t.ApplyPod(Pod("a", "digits", "digits-predictor-00001", 9001, true, 2, 2), false);
  t.ApplyPod(Pod("b", "digits", "digits-predictor-00001", 9002, true, 3, 2), false);
  Json no_port = Pod("c", "digits", "digits-predictor-00001", 9003, true, 4, 2);
  no_port["metadata"]["annotations"].erase("serving.skiff.dev/port");
  t.ApplyPod(no_port, false);
  ASSERT_EQ(t.Revision(rev)->ready.size(), 2u);
  EXPECT_EQ(t.Revision(rev)->ready[0].port, 9001);
  EXPECT_EQ(t.Revision(rev)->ready[1].pod, "default/b");
  // A stale event (older resourceVersion) is ignored; a deletion removes the replica.
  t.ApplyPod(Pod("a", "digits", "digits-predictor-00001", 9001, false, 1, 2), false);
  EXPECT_EQ(t.Revision(rev)->ready.size(), 2u);
  t.ApplyPod(Pod("a", "digits", "digits-predictor-00001", 9001, true, 5, 2), true);
  ASSERT_EQ(t.Revision(rev)->ready.size(), 1u);
  EXPECT_EQ(t.Revision(rev)->ready[0].port, 9002);
  // Pods without the serving labels are not replicas.
  Json plain = Pod("d", "digits", "digits-predictor-00001", 9004, true);
  plain["metadata"]["labels"] = Json::object();
  t.ApplyPod(plain, false);
  EXPECT_EQ(t.Revision(rev)->ready.size(), 1u);
}

}  // namespace
}  // namespace skiff::serving
