#include "serving/protocol/routes.h"

#include <gtest/gtest.h>

namespace skiff::serving {
namespace {

Route R(std::string_view method, std::string_view path) {
  auto r = ParseRoute(method, path);
  EXPECT_TRUE(r.ok()) << method << " " << path << ": " << r.status().ToString();
  return r.ok() ? *r : Route{};
}

TEST(RoutesTest, V2Paths) {
  EXPECT_EQ(R("GET", "/v2").kind, RouteKind::kV2ServerMetadata);
  EXPECT_EQ(R("GET", "/v2/health/live").kind, RouteKind::kV2ServerLive);
  EXPECT_EQ(R("GET", "/v2/health/ready").kind, RouteKind::kV2ServerReady);
  Route m = R("GET", "/v2/models/iris");
  EXPECT_EQ(m.kind, RouteKind::kV2ModelMetadata);
  EXPECT_EQ(m.model, "iris");
  Route v = R("GET", "/v2/models/iris/versions/3");
  EXPECT_EQ(v.kind, RouteKind::kV2ModelMetadata);
  EXPECT_EQ(v.version, "3");
  EXPECT_EQ(R("GET", "/v2/models/iris/versions/3/ready").kind, RouteKind::kV2ModelReady);
  Route infer = R("POST", "/v2/models/iris/infer");
  EXPECT_EQ(infer.kind, RouteKind::kV2Infer);
  EXPECT_EQ(infer.model, "iris");
  EXPECT_EQ(R("POST", "/v2/models/iris/versions/2/infer").version, "2");
}

TEST(RoutesTest, V1PathsAndRoot) {
  EXPECT_EQ(R("GET", "/").kind, RouteKind::kRootLive);
  EXPECT_EQ(R("GET", "/v1/models").kind, RouteKind::kV1ListModels);
  EXPECT_EQ(R("GET", "/v1/models/sklearn-iris").kind, RouteKind::kV1ModelStatus);
  Route p = R("POST", "/v1/models/sklearn-iris:predict");
  EXPECT_EQ(p.kind, RouteKind::kV1Predict);
  EXPECT_EQ(p.model, "sklearn-iris");
  EXPECT_EQ(R("POST", "/v1/models/m:explain").kind, RouteKind::kV1Explain);
}

TEST(RoutesTest, UnknownPathsAndWrongMethods) {
  EXPECT_EQ(ParseRoute("GET", "/v3").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ParseRoute("GET", "/v2/models/m/bogus").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ParseRoute("POST", "/v1/models/m:train").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(ParseRoute("GET", "/v2/models/m/infer").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRoute("POST", "/v2/health/live").status().code(), StatusCode::kInvalidArgument);
}

TEST(RoutesTest, HealthAnswers) {
  EXPECT_EQ(ServerLiveAnswer(true).status, 200);
  EXPECT_EQ(ServerReadyAnswer(false).status, 503);
  HealthAnswer m = ModelReadyAnswer("iris", false);
  EXPECT_EQ(m.status, 503);
  EXPECT_EQ(m.body["error"], "Model with name iris is not ready.");
  EXPECT_EQ(V1ModelStatus("iris", true), Json::parse(R"({"name": "iris", "ready": true})"));
}

}  // namespace
}  // namespace skiff::serving
