// InferenceService parsing: every document of the conformance corpus
// (../shared/conformance/serving/isvc) is accepted; malformed variants are rejected with the
// field's path (table-driven); KServe's fields become Knative annotations and a scaling spec.
#include "kinds/serving/inference_service.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "common/fs.h"

namespace skiff::kserve {
namespace {

std::string CorpusDir() {
  const char* src = std::getenv("SKIFF_SOURCE_DIR");
  std::string root = src != nullptr ? src : ".";
  return root + "/../shared/conformance/serving/isvc";
}

std::vector<Json> LoadDocs(const std::string& path) {
  auto text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << path;
  auto docs = ParseYamlDocuments(text.ok() ? *text : "");
  EXPECT_TRUE(docs.ok()) << path;
  return docs.ok() ? *docs : std::vector<Json>{};
}

Json Yaml(const std::string& text) {
  auto j = ParseYaml(text);
  EXPECT_TRUE(j.ok()) << text;
  return j.ok() ? *j : Json::object();
}

TEST(InferenceServiceTest, EveryConformanceDocumentIsAccepted) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(CorpusDir())) {
    if (e.path().extension() != ".yaml") continue;
    for (const Json& doc : LoadDocs(e.path().string())) {
      auto isvc = ParseInferenceService(doc);
      ASSERT_TRUE(isvc.ok()) << e.path() << ": " << isvc.status().ToString();
      EXPECT_EQ(isvc->predictor.kind, "predictor");
      EXPECT_FALSE(isvc->predictor.revision_fingerprint.empty());
      EXPECT_FALSE(DescribePlan(*isvc)["predictor"].empty());
      ++n;
    }
  }
  EXPECT_EQ(n, 11);  // 10 files, one of them with two documents
}

TEST(InferenceServiceTest, ConformanceFormsNormalize) {
  auto sk = ParseInferenceService(LoadDocs(CorpusDir() + "/01-sklearn-v1.yaml")[0]);
  ASSERT_TRUE(sk.ok());
  EXPECT_EQ(sk->predictor.model_format, "sklearn");
  EXPECT_EQ(sk->predictor.storage.scheme, StorageScheme::kRemote);
  EXPECT_EQ(sk->predictor.min_replicas, 1);
  EXPECT_EQ(sk->ns, "default");
  // Valid, but gs:// is not reachable here: the reason names the scheme.
  Status host = HostRuntimeError(sk->predictor);
  EXPECT_EQ(host.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(host.message().find("scheme gs"), std::string::npos) << host.message();

  auto xg = ParseInferenceService(LoadDocs(CorpusDir() + "/02-xgboost-v2.yaml")[0]);
  ASSERT_TRUE(xg.ok());
  EXPECT_EQ(xg->predictor.model_format, "xgboost");
  EXPECT_EQ(xg->predictor.protocol_version, "v2");

  auto tf = ParseInferenceService(
      LoadDocs(CorpusDir() + "/08-autoscale-scaletarget-scalemetric.yaml")[0]);
  ASSERT_TRUE(tf.ok());
  EXPECT_EQ(tf->predictor.model_format, "tensorflow");
  EXPECT_EQ(StringField(tf->predictor.scaling_annotations, "autoscaling.knative.dev/target"), "1");
  EXPECT_EQ(StringField(tf->predictor.scaling_annotations, "autoscaling.knative.dev/metric"),
            "concurrency");
  EXPECT_DOUBLE_EQ(tf->predictor.scaling.target, 0.7);  // 1 x 70 % utilization
  Status no_runtime = HostRuntimeError(tf->predictor);
  EXPECT_NE(no_runtime.message().find("no host runtime for modelFormat tensorflow"),
            std::string::npos);

  auto ann =
      ParseInferenceService(LoadDocs(CorpusDir() + "/07-autoscale-knative-annotation.yaml")[0]);
  ASSERT_TRUE(ann.ok());
  EXPECT_DOUBLE_EQ(ann->predictor.scaling.target, 0.7);

  auto canary = ParseInferenceService(LoadDocs(CorpusDir() + "/06-canary-10pct.yaml")[0]);
  ASSERT_TRUE(canary.ok());
  EXPECT_EQ(canary->predictor.canary_traffic_percent.value_or(-1), 10);

  auto batch = ParseInferenceService(LoadDocs(CorpusDir() + "/09-batcher.yaml")[0]);
  ASSERT_TRUE(batch.ok());
  ASSERT_TRUE(batch->predictor.batcher.has_value());
  EXPECT_EQ(batch->predictor.batcher->max_batch_size.value_or(0), 16);
  EXPECT_EQ(batch->predictor.batcher->max_latency_ms.value_or(0), 300);

  auto tr = ParseInferenceService(LoadDocs(CorpusDir() + "/10-transformer.yaml")[0]);
  ASSERT_TRUE(tr.ok());
  ASSERT_TRUE(tr->transformer.has_value());
  EXPECT_TRUE(tr->transformer->custom);
  EXPECT_EQ(StringField(tr->transformer->container, "image"), "kserve/image-transformer:latest");

  auto custom = LoadDocs(CorpusDir() + "/05-custom-container.yaml");
  ASSERT_EQ(custom.size(), 2u);
  auto c1 = ParseInferenceService(custom[1]);
  ASSERT_TRUE(c1.ok());
  EXPECT_TRUE(c1->predictor.custom);
  // An image alone cannot run as a host process: said plainly.
  EXPECT_NE(HostRuntimeError(c1->predictor).message().find("command"), std::string::npos);
}

TEST(InferenceServiceTest, MalformedVariantsNameTheField) {
  const std::string head =
      "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: m}\n";
  struct Case {
    std::string spec;
    std::string error_prefix;
  };
  const Case cases[] = {
      {"spec: {predictor: {minReplicas: -1, sklearn: {storageUri: /m}}}",
       "spec.predictor.minReplicas: must be >= 0"},
      {"spec: {predictor: {maxReplicas: -2, sklearn: {storageUri: /m}}}",
       "spec.predictor.maxReplicas: must be >= 0"},
      {"spec: {predictor: {minReplicas: 3, maxReplicas: 2, sklearn: {storageUri: /m}}}",
       "spec.predictor.minReplicas: cannot be greater than maxReplicas"},
      {"spec: {predictor: {canaryTrafficPercent: 101, sklearn: {storageUri: /m}}}",
       "spec.predictor.canaryTrafficPercent: must be <= 100"},
      {"spec: {predictor: {scaleMetric: cpu, sklearn: {storageUri: /m}}}",
       "spec.predictor.scaleMetric: \"cpu\""},
      {"spec: {predictor: {scaleMetric: qps, sklearn: {storageUri: /m}}}",
       "spec.predictor.scaleMetric: must be one of"},
      {"spec: {predictor: {scaleTarget: 0, sklearn: {storageUri: /m}}}",
       "spec.predictor.scaleTarget: must be >= 1"},
      {"spec: {predictor: {containerConcurrency: -1, sklearn: {storageUri: /m}}}",
       "spec.predictor.containerConcurrency: must be >= 0"},
      {"spec: {predictor: {timeout: 0, sklearn: {storageUri: /m}}}",
       "spec.predictor.timeout: must be >= 1"},
      {"spec: {predictor: {batcher: {maxBatchSize: 0}, sklearn: {storageUri: /m}}}",
       "spec.predictor.batcher.maxBatchSize: must be >= 1"},
      {"spec: {predictor: {logger: {mode: some}, sklearn: {storageUri: /m}}}",
       "spec.predictor.logger.mode"},
      {"spec: {predictor: {sklearn: {storageUri: ftp://x/m}}}",
       "spec.predictor.sklearn.storageUri: unsupported"},
      {"spec: {predictor: {sklearn: {storageUri: 'file://relative'}}}",
       "spec.predictor.sklearn.storageUri: file://"},
      {"spec: {predictor: {sklearn: {storageUri: 'pvc:///x'}}}",
       "spec.predictor.sklearn.storageUri: pvc://"},
      {"spec: {predictor: {sklearn: {storageUri: /m, protocolVersion: v3}}}",
       "spec.predictor.sklearn.protocolVersion"},
      {"spec: {predictor: {model: {storageUri: /m}}}",
       "spec.predictor.model.modelFormat: required"},
      {"spec: {predictor: {model: {modelFormat: {}, storageUri: /m}}}",
       "spec.predictor.model.modelFormat.name"},
      {"spec: {predictor: {}}", "spec.predictor: exactly one of"},
      {"spec: {predictor: {sklearn: {storageUri: /m}, xgboost: {storageUri: /m}}}",
       "spec.predictor: exactly one of"},
      {"spec: {predictor: {containers: [{name: a, command: [x]}, {name: b}]}}",
       "spec.predictor.containers: one container must be named"},
      {"spec: {predictor: {containers: [{name: kserve-container, command: x}]}}",
       "spec.predictor.containers[0].command: must be a list"},
      {"spec: {predictor: {sklearn: {storageUri: /m}}, transformer: {sklearn: {storageUri: /m}}}",
       "spec.transformer.containers: required"},
      {"spec: {}", "spec.predictor: required"},
  };
  for (const auto& c : cases) {
    auto r = ParseInferenceService(Yaml(head + c.spec));
    ASSERT_FALSE(r.ok()) << c.spec;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message().rfind(c.error_prefix, 0), 0u)
        << c.spec << "\n  got: " << r.status().message();
  }
  // A bad autoscaling annotation is named by its key.
  auto bad = ParseInferenceService(
      Yaml("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\n"
           "metadata: {name: m, annotations: {autoscaling.knative.dev/window: '1s'}}\n"
           "spec: {predictor: {sklearn: {storageUri: /m}}}"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("autoscaling.knative.dev/window"), std::string::npos)
      << bad.status().message();
}

TEST(InferenceServiceTest, FieldsMapToKnativeAnnotations) {
  auto isvc = ParseInferenceService(Yaml(R"(
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: digits
  namespace: team
  annotations: {autoscaling.knative.dev/window: "6s", autoscaling.knative.dev/min-scale: "4"}
spec:
  predictor:
    minReplicas: 0
    maxReplicas: 5
    scaleTarget: 10
    scaleMetric: rps
    containerConcurrency: 4
    model:
      modelFormat: {name: XGBoost}
      storageUri: pvc://models/digits/v1
)"));
  ASSERT_TRUE(isvc.ok()) << isvc.status().ToString();
  const Component& p = isvc->predictor;
  EXPECT_EQ(p.model_format, "xgboost");
  EXPECT_EQ(p.storage.scheme, StorageScheme::kPvc);
  EXPECT_EQ(p.storage.claim, "models");
  EXPECT_EQ(p.storage.path, "digits/v1");
  // The field wins over the annotation, as in KServe's reconciler.
  EXPECT_EQ(StringField(p.scaling_annotations, "autoscaling.knative.dev/min-scale"), "0");
  EXPECT_EQ(p.scaling.min_scale, 0);
  EXPECT_EQ(p.scaling.max_scale, 5);
  EXPECT_EQ(p.scaling.metric, autoscale::Metric::kRps);
  EXPECT_DOUBLE_EQ(p.scaling.target, 7.0);
  EXPECT_EQ(p.scaling.stable_window, Seconds(6));
  EXPECT_TRUE(HostRuntimeError(p).ok());

  // Without the field, the annotation sets minReplicas.
  auto ann = ParseInferenceService(Yaml(R"(
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: d, annotations: {autoscaling.knative.dev/min-scale: "2"}}
spec: {predictor: {sklearn: {storageUri: "file:///m"}}}
)"));
  ASSERT_TRUE(ann.ok());
  EXPECT_EQ(ann->predictor.min_replicas, 2);
  EXPECT_EQ(ann->predictor.scaling.min_scale, 2);
}

TEST(InferenceServiceTest, StorageUriIsOptionalButNeededToRunHere) {
  // KServe accepts a model without storageUri (its runtime image may hold it).
  auto isvc = ParseInferenceService(
      Yaml("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: m}\n"
           "spec: {predictor: {model: {modelFormat: {name: xgboost}}}}"));
  ASSERT_TRUE(isvc.ok()) << isvc.status().ToString();
  Status host = HostRuntimeError(isvc->predictor);
  EXPECT_EQ(host.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(host.message().rfind("storageUri: required", 0), 0u) << host.message();
}

TEST(InferenceServiceTest, CanaryPercentDoesNotChangeTheRevision) {
  auto spec = [](const std::string& extra) {
    return Yaml(
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: m}\n"
        "spec: {predictor: {" +
        extra + "sklearn: {storageUri: /models/a}}}");
  };
  auto a = ParseInferenceService(spec(""));
  auto b = ParseInferenceService(spec("canaryTrafficPercent: 20, "));
  auto c = ParseInferenceService(spec("minReplicas: 2, "));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->predictor.revision_fingerprint, b->predictor.revision_fingerprint);
  EXPECT_NE(a->predictor.revision_fingerprint, c->predictor.revision_fingerprint);
}

}  // namespace
}  // namespace skiff::kserve
