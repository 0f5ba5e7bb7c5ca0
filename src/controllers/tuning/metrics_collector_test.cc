// The collectors' parsers and spec validation (metrics_collector.h): pure functions, edge cases.
#include "controllers/tuning/metrics_collector.h"

#include <gtest/gtest.h>

namespace skiff::controllers {
namespace {

Json Yaml(const std::string& text) {
  auto j = ParseYaml(text);
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  return j.ok() ? *j : Json();
}

TEST(MetricsTextTest, SkipsMalformedLinesNaNAndInfinities) {
  MetricReports r = ParseMetricsLog(
      "epoch 1 accuracy=0.5\n"
      "garbage line without pairs\n"
      "accuracy = nan\n"
      "accuracy=inf loss=0.3\n"
      "accuracy=\n"
      "2024-01-02T03:04:05Z accuracy=0.75 loss=1e-2\r\n",
      {"accuracy", "loss"});
  EXPECT_EQ(r["accuracy"], (std::vector<std::string>{"0.5", "0.75"}));
  EXPECT_EQ(r["loss"], (std::vector<std::string>{"0.3", "1e-2"}));
}

TEST(MetricsTextTest, CustomFilterFromKatibsFileExample) {
  // The filter of conformance/katib/file-metrics-collector.yaml.
  std::vector<std::string> filter = {R"({metricName: ([\w|-]+), metricValue: ((-?\d+)(\.\d+)?)})"};
  MetricReports r = ParseMetricsLog(
      "{metricName: accuracy, metricValue: 0.91}\naccuracy=0.1\n{metricName: loss, metricValue: -2}\n",
      {"accuracy", "loss"}, filter);
  EXPECT_EQ(r["accuracy"], (std::vector<std::string>{"0.91"}));
  EXPECT_EQ(r["loss"], (std::vector<std::string>{"-2"}));
}

TEST(MetricsJsonTest, OrdersByTimestampAndSkipsBadLines) {
  MetricReports r = ParseMetricsJsonLines(
      R"({"accuracy": "0.7", "timestamp": 1700000002.5}
not json at all
[1, 2, 3]
{"accuracy": 0.6, "loss": "NaN", "timestamp": 1700000001}
{"accuracy": "high", "loss": 0.25}
{"accuracy": 0.9, "timestamp": "2023-11-14T22:13:25Z"}
{"loss": 0.125, "timestamp": "2023-11-14T22:13:21Z"}
{"accuracy": 0.8
)",
      {"accuracy", "loss"});
  // 22:13:21Z = 1700000001 (loss), then 1700000001 (0.6), 1700000002.5 (0.7), 22:13:25Z (0.9).
  EXPECT_EQ(r["accuracy"], (std::vector<std::string>{"0.6", "0.7", "0.9"}));
  // The line without a timestamp takes its predecessor's (1700000001), so it stays before the
  // later line stamped with the same second.
  EXPECT_EQ(r["loss"], (std::vector<std::string>{"0.25", "0.125"}));
}

TEST(MetricsJsonTest, WithoutTimestampsKeepsFileOrder) {
  MetricReports r = ParseMetricsJsonLines("{\"a\": 3}\n\n{\"a\": 1}\n{\"b\": 2}\n{\"a\": 2}\n", {"a"});
  EXPECT_EQ(r["a"], (std::vector<std::string>{"3", "1", "2"}));
  EXPECT_EQ(r.count("b"), 0u);
}

TEST(PrometheusTextTest, PicksUnlabelledSeriesAndSkipsComments) {
  MetricReports r = ParsePrometheusText(
      "# HELP accuracy Validation accuracy.\n"
      "# TYPE accuracy gauge\n"
      "accuracy{split=\"train\",note=\"a } b\"} 0.99\n"
      "accuracy 0.93 1700000000000\n"
      "loss{split=\"val\"} 0.2\n"
      "loss{split=\"train\"} 0.1\n"
      "latency NaN\n"
      "broken{unterminated 1\n",
      {"accuracy", "loss", "latency", "broken"});
  EXPECT_EQ(r["accuracy"], (std::vector<std::string>{"0.93"}));
  EXPECT_EQ(r["loss"], (std::vector<std::string>{"0.2"}));
  EXPECT_EQ(r.count("latency"), 0u);
  EXPECT_EQ(r.count("broken"), 0u);
}

TEST(ObservationLogTest, AcceptsThreeShapesAndNamesBadFields) {
  TimePoint now = TimePoint(std::chrono::seconds(1700000000));
  auto a = ParseObservationLog(Json::parse(R"({"metrics": [{"name": "accuracy", "value": "0.93"},
      {"name": "loss", "value": 0.5}], "timestamp": "2024-01-01T00:00:00Z"})"), now);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ((*a)["metrics"]["accuracy"], "0.93");
  EXPECT_EQ((*a)["metrics"]["loss"], "0.5");
  EXPECT_EQ((*a)["timestamp"], "2024-01-01T00:00:00Z");
  auto b = ParseObservationLog(Json::parse(R"({"trial_name": "t", "observation_log": {"metric_logs":
      [{"time_stamp": "2024-01-01T00:00:01Z", "metric": {"name": "accuracy", "value": "0.5"}}]}})"), now);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ((*b)["metrics"]["accuracy"], "0.5");
  auto c = ParseObservationLog(Json::parse(R"({"accuracy": 0.25})"), now);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)["metrics"]["accuracy"], "0.25");
  EXPECT_EQ((*c)["timestamp"], FormatRfc3339(now));

  auto bad = ParseObservationLog(Json::parse(R"({"metrics": [{"name": "a", "value": "1"},
      {"name": "b", "value": "NaN"}]})"), now);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("metrics[1].value"), std::string::npos);
  EXPECT_FALSE(ParseObservationLog(Json::parse(R"({"metrics": []})"), now).ok());
  EXPECT_FALSE(ParseObservationLog(Json::parse(R"([1])"), now).ok());
}

TEST(ObservationLogTest, KeysSortInTimeOrder) {
  std::string k1 = ObservationKey(TimePoint(std::chrono::seconds(9)));
  std::string k2 = ObservationKey(TimePoint(std::chrono::seconds(10)));
  std::string k3 = ObservationKey(TimePoint(std::chrono::seconds(10)));
  EXPECT_LT(k1, k2);
  EXPECT_NE(k2, k3);
  std::map<std::string, Json> records = {
      {k2, {{"metrics", {{"a", "2"}}}}}, {k1, {{"metrics", {{"a", "1"}, {"b", "x"}}}}}};
  MetricReports r = ReportsFromObservationLogs(records, {"a", "b"});
  EXPECT_EQ(r["a"], (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(r.count("b"), 0u);
}

TEST(CollectorSpecTest, DefaultsAndErrorsNameTheField) {
  auto d = ParseCollectorSpec(Json());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->kind, CollectorKind::kStdOut);
  auto f = ParseCollectorSpec(Yaml(
      "collector: {kind: File}\nsource: {fileSystemPath: {path: /var/log/katib/m.json, kind: File, format: JSON}}"));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->format, FileFormat::kJson);
  EXPECT_EQ(f->file_path, "/var/log/katib/m.json");
  auto p = ParseCollectorSpec(Yaml("collector: {kind: PrometheusMetric}\nsource: {httpGet: {port: 9100}}"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->port, 9100);
  EXPECT_EQ(p->http_path, "/metrics");

  struct Case {
    const char* yaml;
    const char* field;
  } cases[] = {
      {"collector: {kind: File}", "spec.metricsCollectorSpec.source.fileSystemPath.path"},
      {"collector: {kind: File}\nsource: {fileSystemPath: {path: rel/m.log}}", ".path: must be absolute"},
      {"collector: {kind: File}\nsource: {fileSystemPath: {path: /m.log}}", ".path: must name a file"},
      {"collector: {kind: File}\nsource: {fileSystemPath: {path: /a/m.log, format: XML}}", ".format"},
      {"collector: {kind: Bogus}", "spec.metricsCollectorSpec.collector.kind: unknown"},
      {"collector: {kind: TensorFlowEvent}", "collector.kind: TensorFlowEvent is not supported"},
      {"source: {filter: {metricsFormat: [\"([a-z]+\"]}}", "metricsFormat[0]: not a valid"},
      {"source: {filter: {metricsFormat: [\"([a-z]+)=\"]}}", "metricsFormat[0]: needs two groups"},
      {"collector: {kind: PrometheusMetric}\nsource: {httpGet: {port: http}}", "httpGet.port"},
  };
  for (const auto& c : cases) {
    auto r = ParseCollectorSpec(Yaml(c.yaml));
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_NE(r.status().message().find(c.field), std::string::npos) << r.status().message();
  }
}

TEST(MetricsVolumeTest, MountsAnEmptyDirAtTheFilesDirectoryOfThePrimaryContainer) {
  Json run = Yaml(R"(
kind: Job
spec:
  template:
    spec:
      containers:
        - {name: sidecar}
        - {name: training-container, volumeMounts: [{name: data, mountPath: /data}]}
      volumes: [{name: data, emptyDir: {}}]
)");
  AddMetricsVolume(run, "training-container", "/var/log/katib");
  AddMetricsVolume(run, "training-container", "/var/log/katib");  // idempotent
  const Json& pod = run["spec"]["template"]["spec"];
  EXPECT_EQ(pod["containers"][0].count("volumeMounts"), 0u);
  ASSERT_EQ(pod["containers"][1]["volumeMounts"].size(), 2u);
  EXPECT_EQ(pod["containers"][1]["volumeMounts"][1]["mountPath"], "/var/log/katib");
  ASSERT_EQ(pod["volumes"].size(), 2u);
  EXPECT_EQ(pod["volumes"][1]["name"], kKatibMetricsVolume);
  EXPECT_TRUE(pod["volumes"][1].contains("emptyDir"));
  // Under /tmp or an existing mount: nothing to add.
  Json before = run;
  AddMetricsVolume(run, "training-container", "/tmp/out");
  AddMetricsVolume(run, "training-container", "/data/sub");
  AddMetricsVolume(run, "training-container", "/var/log/katib/deeper");
  EXPECT_EQ(run, before);
  AddMetricsVolume(run, "training-container", "/database");  // not under /data
  EXPECT_EQ(run["spec"]["template"]["spec"]["containers"][1]["volumeMounts"].size(), 3u);
}

}  // namespace
}  // namespace skiff::controllers
