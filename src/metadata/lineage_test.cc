#include "metadata/lineage.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace skiff::metadata {
namespace {

// Every test runs on SQLite and on PostgreSQL. The PostgreSQL server: the URL in the file
// SKIFF_TEST_PG_URL_FILE names (CTest's `postgres_server` fixture), else SKIFF_TEST_PG_URL;
// with neither (a run by hand) those cases skip. Each store gets a fresh schema.
std::string PostgresUrl() {
  if (const char* file = std::getenv("SKIFF_TEST_PG_URL_FILE"); file != nullptr && *file != '\0') {
    std::ifstream in(file);
    std::string url;
    std::getline(in, url);
    return url.empty() ? "!" + std::string(file) : url;
  }
  const char* url = std::getenv("SKIFF_TEST_PG_URL");
  return url != nullptr ? url : "";
}

class LineageTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      std::string url = PostgresUrl();
      if (url.empty()) GTEST_SKIP() << "no PostgreSQL server (SKIFF_TEST_PG_URL)";
      ASSERT_NE(url[0], '!') << "no server URL in " << url.substr(1);
      static int n = 0;
      url += std::string(url.find('?') == std::string::npos ? "?" : "&") + "schema=lt_" +
             std::to_string(::getpid()) + "_" + std::to_string(++n);
      auto s = LineageStore::OpenPostgres(url);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      store_ = std::move(*s);
      return;
    }
    char tmpl[] = "/tmp/skiff-lineage-XXXXXX";
    dir_ = mkdtemp(tmpl);
    store_ = std::move(*LineageStore::Open(dir_ + "/lineage.db"));
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  static ArtifactRecord A(const std::string& digest, const std::string& type, const std::string& name) {
    ArtifactRecord a;
    a.ns = "default";
    a.digest = "sha256:" + digest;
    a.type = type;
    a.name = name;
    a.uri = "blob://" + digest;
    a.size = 10;
    return a;
  }
  static ExecutionWrite Step(const std::string& name, std::vector<ArtifactRecord> in, std::vector<ArtifactRecord> out,
                             const std::string& run = "run-1") {
    ExecutionWrite w;
    w.execution.ns = "default";
    w.execution.type = "argo.Step";
    w.execution.name = name;
    for (auto& a : in) w.inputs.push_back({a, a.name});
    for (auto& a : out) w.outputs.push_back({a, a.name});
    w.contexts.push_back({0, "default", "skiff.WorkflowRun", run, Json::object(), "skiff.Pipeline", "digits"});
    return w;
  }
  // The names of the executions and artifacts of a graph, sorted.
  static std::vector<std::string> Names(const LineageGraph& g) {
    std::vector<std::string> out;
    for (const auto& e : g.executions) out.push_back("e:" + e.name);
    for (const auto& a : g.artifacts) out.push_back("a:" + a.name);
    std::sort(out.begin(), out.end());
    return out;
  }
  void RecordPipeline() {
    auto raw = A("00", "Dataset", "raw"), data = A("01", "Dataset", "prepared"), model = A("02", "Model", "model"),
         metrics = A("03", "Metrics", "metrics");
    ASSERT_TRUE(store_->Record({Step("prepare", {raw}, {data}), Step("train", {data}, {model}),
                                Step("evaluate", {model, data}, {metrics})})
                    .ok());
  }

  std::string dir_;
  std::unique_ptr<LineageStore> store_;
};

TEST_P(LineageTest, UpstreamOfAModelReachesTheRawData) {
  RecordPipeline();
  LineageQuery q;
  q.ns = "default";
  q.digest = "sha256:02";
  auto g = store_->Lineage(q);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(Names(*g), (std::vector<std::string>{"a:model", "a:prepared", "a:raw", "e:prepare", "e:train"}));
  EXPECT_EQ(g->edges.size(), 4u);
  // Hops bound the walk: model <- train <- prepared.
  q.max_hops = 2;
  g = store_->Lineage(q);
  EXPECT_EQ(Names(*g), (std::vector<std::string>{"a:model", "a:prepared", "e:train"}));
}

TEST_P(LineageTest, DownstreamOfRawDataReachesEverythingBuiltFromIt) {
  RecordPipeline();
  LineageQuery q;
  q.ns = "default";
  q.digest = "00";
  q.direction = Direction::kDownstream;
  auto g = store_->Lineage(q);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(Names(*g), (std::vector<std::string>{"a:metrics", "a:model", "a:prepared", "a:raw", "e:evaluate",
                                                 "e:prepare", "e:train"}));
  q.artifact_type = "Model";
  g = store_->Lineage(q);
  EXPECT_EQ(g->artifacts.size(), 1u);
  EXPECT_EQ(g->artifacts[0].name, "model");
}

TEST_P(LineageTest, RecordingAgainIsIdempotentAndContentIsDeduplicated) {
  RecordPipeline();
  RecordPipeline();
  auto arts = store_->Artifacts("default", "", "", "");
  ASSERT_TRUE(arts.ok());
  EXPECT_EQ(arts->size(), 4u);
  auto execs = store_->Executions("default", "", "");
  EXPECT_EQ(execs->size(), 3u);
  // A second run producing the same model bytes shares the artifact.
  ASSERT_TRUE(store_->Record({Step("train-2", {A("01", "Dataset", "prepared")}, {A("02", "Model", "model")}, "run-2")}).ok());
  EXPECT_EQ(store_->Artifacts("default", "Model", "", "")->size(), 1u);
  EXPECT_EQ(store_->Artifacts("default", "", "skiff.WorkflowRun/run-2", "")->size(), 2u);
  EXPECT_EQ(store_->Executions("default", "skiff.WorkflowRun/run-1", "")->size(), 3u);
  EXPECT_EQ(store_->Executions("default", "run-2", "COMPLETE")->size(), 1u);
  // A context filter keeps only that run's part of the graph.
  LineageQuery q;
  q.ns = "default";
  q.digest = "01";
  q.direction = Direction::kDownstream;
  q.context = "skiff.WorkflowRun/run-2";
  auto g = store_->Lineage(q);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(Names(*g), (std::vector<std::string>{"a:model", "a:prepared", "e:train-2"}));
  auto contexts = store_->Contexts("default", "skiff.WorkflowRun");
  ASSERT_EQ(contexts->size(), 2u);
  EXPECT_EQ((*contexts)[0].parent_name, "digits");
}

TEST_P(LineageTest, ContextsAreListedByTypeNameAndParent) {
  RecordPipeline();
  ASSERT_TRUE(store_->Record({Step("train-2", {A("01", "Dataset", "prepared")}, {A("02", "Model", "model")}, "run-2")}).ok());
  auto runs = store_->Contexts("default", "skiff.WorkflowRun");
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 2u);
  std::string parent = (*runs)[0].parent_type + "/" + (*runs)[0].parent_name;
  // Both runs are children of the pipeline; the pipeline itself is not its own child.
  auto children = store_->Contexts("default", "", "", parent);
  ASSERT_TRUE(children.ok()) << children.status().ToString();
  ASSERT_EQ(children->size(), 2u);
  EXPECT_EQ((*children)[0].name, "run-1");
  EXPECT_EQ((*children)[1].name, "run-2");
  auto one = store_->Contexts("default", "", "run-2");
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].type, "skiff.WorkflowRun");
  EXPECT_EQ((*one)[0].parent_name, "digits");
  EXPECT_TRUE(store_->Contexts("default", "skiff.Pipeline", "run-2")->empty());
  EXPECT_TRUE(store_->Contexts("other", "skiff.WorkflowRun")->empty());
  EXPECT_EQ(store_->Contexts("default", "", "", "nope/none").status().code(), StatusCode::kNotFound);
}

TEST_P(LineageTest, QuotesBackslashesAndPlaceholdersInValuesRoundTrip) {
  // On PostgreSQL the link rows travel inlined as literals, several statements at once.
  std::string odd = "it's a \\ \"test\" ?1 $1 ;\n--";
  ExecutionWrite w = Step("odd", {A("10", "Dataset", odd)}, {A("11", "Model", "out")}, odd);
  w.inputs[0].second = odd;
  w.metrics.push_back({odd, 0.5, 2, 1000});
  ASSERT_TRUE(store_->Record({w}).ok());
  auto metrics = store_->ExecutionMetrics("default", "odd");
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  ASSERT_EQ(metrics->size(), 1u);
  EXPECT_EQ((*metrics)[0].name, odd);
  EXPECT_EQ((*metrics)[0].value, 0.5);
  LineageQuery q;
  q.ns = "default";
  q.execution_name = "odd";
  q.direction = Direction::kBoth;
  auto g = store_->Lineage(q);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  std::vector<std::string> paths;
  for (const auto& e : g->edges) paths.push_back(e.path);
  std::sort(paths.begin(), paths.end());
  EXPECT_EQ(paths, (std::vector<std::string>{odd, "out"}));
  EXPECT_EQ(store_->Executions("default", "skiff.WorkflowRun/" + odd, "")->size(), 1u);
}

TEST_P(LineageTest, NamespacesAreSeparateAndMissingStartsAreNotFound) {
  RecordPipeline();
  LineageQuery q;
  q.ns = "other";
  q.digest = "sha256:02";
  EXPECT_EQ(store_->Lineage(q).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->Artifacts("other", "", "", "")->empty());
  q.ns = "default";
  q.digest.clear();
  q.execution_name = "train";
  q.direction = Direction::kBoth;
  auto g = store_->Lineage(q);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(Names(*g), (std::vector<std::string>{"a:metrics", "a:model", "a:prepared", "a:raw", "e:evaluate",
                                                 "e:prepare", "e:train"}));
  EXPECT_EQ(store_->Executions("default", "nope/none", "").status().code(), StatusCode::kNotFound);
}

TEST_P(LineageTest, LoggedMetricsAndArtifactsSurviveTheFinalRecord) {
  // User code logs while the step runs: the execution exists as RUNNING before its recorder
  // writes it, and what was logged stays when the recorder does.
  ExecutionWrite log;
  log.execution.ns = "default";
  log.execution.type = "skiff.Pod";
  log.execution.name = "train";
  log.metrics = {{"accuracy", 0.5, 0, 1000}, {"accuracy", 0.97, 1, 2000}};
  log.outputs.push_back({A("0a", "Model", "logged-model"), "model.ubj"});
  ASSERT_TRUE(store_->Log(log).ok());
  EXPECT_EQ(store_->Executions("default", "", "RUNNING")->size(), 1u);
  // Replaying the same log (the offline file read twice) adds nothing.
  ASSERT_TRUE(store_->Log(log).ok());
  RecordPipeline();
  auto execs = store_->Executions("default", "", "COMPLETE");
  ASSERT_EQ(execs->size(), 3u);
  auto m = store_->ExecutionMetrics("default", "train");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].value, 0.5);
  EXPECT_EQ((*m)[1].value, 0.97);
  EXPECT_EQ((*m)[1].step, 1);
  // The logged model is an output of the step, beside the one its outputs declared.
  LineageQuery q;
  q.ns = "default";
  q.digest = "sha256:0a";
  auto g = store_->Lineage(q);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(Names(*g), (std::vector<std::string>{"a:logged-model", "a:prepared", "a:raw", "e:prepare", "e:train"}));
  // A metric that is not a number is refused with its name.
  log.metrics = {{"loss", std::nan(""), 0, 0}};
  Status bad = store_->Log(log);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("metrics.loss"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Stores, LineageTest, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           return p.param == "sqlite" ? std::string("Sqlite") : std::string("Postgres");
                         });

}  // namespace
}  // namespace skiff::metadata
