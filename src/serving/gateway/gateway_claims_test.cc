#include <gtest/gtest.h>

#include "serving/gateway/gateway.h"

namespace skiff::serving {
namespace {

api::HttpRequest Req(const std::string& path, const std::string& host) {
  api::HttpRequest r;
  r.method = "POST";
  r.path = path;
  r.target = path;
  r.headers["host"] = host;
  return r;
}

TEST(GatewayClaimsTest, InferencePathsAndServiceHostsButNeverTheKubernetesApi) {
  Gateway g(GatewayOptions{});
  EXPECT_TRUE(g.Claims(Req("/v2/models/digits/infer", "127.0.0.1:8080")));
  EXPECT_TRUE(g.Claims(Req("/v1/models/digits:predict", "localhost")));
  EXPECT_TRUE(g.Claims(Req("/v2", "localhost")));
  EXPECT_FALSE(g.Claims(Req("/v2beta/x", "localhost")));
  EXPECT_TRUE(g.Claims(Req("/predict", "digits.default.example.com:8080")));
  EXPECT_FALSE(g.Claims(Req("/", "127.0.0.1:8080")));
  EXPECT_FALSE(g.Claims(Req("/", "10.0.0.1")));
  for (const char* path : {"/api/v1/pods", "/apis/serving.kserve.io/v1beta1", "/healthz", "/metrics", "/version"}) {
    EXPECT_FALSE(g.Claims(Req(path, "digits.default.example.com"))) << path;
  }
  // Another domain: only hosts whose second label is a namespace holding an InferenceService.
  EXPECT_FALSE(g.Claims(Req("/predict", "txt.team.svc.local")));
  Json isvc = {{"apiVersion", "serving.kserve.io/v1beta1"},
               {"kind", "InferenceService"},
               {"metadata", {{"name", "txt"}, {"namespace", "team"}, {"resourceVersion", "3"}}}};
  g.OnStoreEvent({store::EventType::kAdded, 3, isvc});
  EXPECT_TRUE(g.Claims(Req("/predict", "txt.team.svc.local")));
  g.OnStoreEvent({store::EventType::kDeleted, 4, isvc});
  EXPECT_FALSE(g.Claims(Req("/predict", "txt.team.svc.local")));
}

}  // namespace
}  // namespace skiff::serving
