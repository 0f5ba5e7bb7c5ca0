// The lineage recorder's records of cache hits: a memoized node of a finished Workflow becomes a
// CACHED execution naming the execution that produced the cached outputs, with the same output
// artifacts, in the run's context inside its pipeline's; nodes that missed, failed or are not
// memoized are not recorded as CACHED.
#include <gtest/gtest.h>

#include <map>

#include "common/fs.h"
#include "controllers/metadata/lineage_recorder_test_base.h"
#include "controllers/pipeline/workflow_controller.h"

namespace skiff::controllers {
namespace {

class LineageRecorderCachedTest : public LineageRecorderTestBase {
 protected:
  // A finished Pod of the workflow `wf` that ran node `node_id` (the producer of a cache entry).
  void ProducerPod(const std::string& name, const std::string& wf, const std::string& node_id) {
    Json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata",
                 {{"name", name},
                  {"namespace", "default"},
                  {"labels", {{"workflows.argoproj.io/workflow", wf}}},
                  {"annotations", {{"workflows.argoproj.io/node-id", node_id}}}}},
                {"spec", {{"containers", Json::array({{{"name", "main"}, {"image", "busybox"}}})}}}};
    CreateSucceededPod(pod);
  }

  void MemoEntry(const std::string& key, Json entry) {
    ASSERT_TRUE(store_->Commit({store::Write::PutRecord(kMemoizeRecords, "default/cache", key, std::move(entry))}).ok());
  }

  // A finished Workflow whose nodes are kept as node records (as the workflow controller keeps
  // them), or with `inline_nodes` in its status.
  void FinishedWorkflow(Json metadata, Json spec, const std::map<std::string, Json>& nodes,
                        bool inline_nodes = false) {
    metadata["namespace"] = "default";
    Json wf = {{"apiVersion", "argoproj.io/v1alpha1"}, {"kind", "Workflow"}, {"metadata", metadata}, {"spec", spec}};
    auto created = store_->Create(wf);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    std::string uid = StringField((*created)["metadata"], "uid");
    std::vector<store::Write> writes;
    Json done = *created;
    done["status"] = {{"phase", "Succeeded"}};
    for (const auto& [id, node] : nodes) {
      if (inline_nodes) {
        done["status"]["nodes"][id] = node;
      } else {
        writes.push_back(store::Write::PutRecord(kNodeRecords, uid, id, node));
      }
    }
    if (!inline_nodes) done["status"]["offloadNodeStatusVersion"] = "records";
    done["metadata"].erase("resourceVersion");
    writes.push_back(store::Write::UpdateStatus(done));
    ASSERT_TRUE(store_->Commit(std::move(writes)).ok());
  }

  static Json Hit(const std::string& name, const std::string& key, const std::string& phase = "Succeeded") {
    return {{"name", name},
            {"templateName", "noop"},
            {"type", "Pod"},
            {"phase", phase},
            {"memoizationStatus", {{"hit", true}, {"key", key}, {"cacheName", "cache"}}}};
  }

  // Delivers the store's events to the recorder and writes what it queued.
  void Record() {
    for (int i = 0; i < 5; ++i) loop_.RunOnce(std::chrono::milliseconds(10));
    ASSERT_TRUE(controller_->Flush().ok());
  }

  std::map<std::string, metadata::ExecutionRecord> Cached(const std::string& context = "") {
    auto got = lineage_->Executions("default", context, "CACHED");
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    std::map<std::string, metadata::ExecutionRecord> out;
    if (got.ok()) {
      for (auto& e : *got) out[e.name] = e;
    }
    return out;
  }

};

TEST_F(LineageRecorderCachedTest, CacheHitsAreCachedExecutionsLinkedToTheirProducerWithItsOutputs) {
  auto blob = artifacts_->PutBytes("model bytes");
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(artifacts_->BindKey("src/src-1/model.tgz", *blob).ok());
  ProducerPod("src-noop-1", "src", "src-1");
  ProducerPod("src-noop-2", "src", "src-2");
  Json outputs = {{"parameters", Json::array({{{"name", "p"}, {"value", "cached"}}})},
                  {"artifacts", Json::array({{{"name", "model"}, {"path", "/tmp/model"},
                                              {"s3", {{"key", "src/src-1/model.tgz"}}}}})},
                  {"exitCode", "0"}};
  // The entry names its Pod; an older one only its node (found among the workflow's Pods).
  MemoEntry("k1", {{"nodeID", "src-1"}, {"pod", "src-noop-1"}, {"workflow", "src"}, {"outputs", outputs}});
  MemoEntry("k2", {{"nodeID", "src-2"}, {"workflow", "src"}, {"outputs", {{"exitCode", "0"}}}});

  Json hit1 = Hit("memo-x.a", "k1");
  hit1["outputs"] = outputs;
  Json hit2 = Hit("memo-x.b", "k2");
  hit2["outputs"] = {{"exitCode", "0"}};
  Json no_outputs = Hit("memo-x.c", "k3");  // no entry: the producer is unknown
  Json miss = Hit("memo-x.d", "k4");
  miss["memoizationStatus"]["hit"] = false;
  Json failed = Hit("memo-x.e", "k1", "Failed");
  Json dag = {{"name", "memo-x"}, {"type", "DAG"}, {"phase", "Succeeded"}};
  FinishedWorkflow({{"name", "memo-x"}, {"generateName", "memo-"}}, {{"entrypoint", "main"}},
                   {{"memo-x", dag}, {"memo-x-1", hit1}, {"memo-x-2", hit2}, {"memo-x-3", no_outputs},
                    {"memo-x-4", miss}, {"memo-x-5", failed}});
  Record();

  auto cached = Cached();
  ASSERT_EQ(cached.size(), 3u);
  Json p1 = {{"workflow", "memo-x"}, {"node", "memo-x.a"}, {"template", "noop"}, {"cacheKey", "k1"},
             {"cacheName", "cache"}, {"cachedExecution", "src-noop-1"}, {"cachedNodeId", "src-1"},
             {"outputParameters", outputs["parameters"]}};
  Json p2 = {{"workflow", "memo-x"}, {"node", "memo-x.b"}, {"template", "noop"}, {"cacheKey", "k2"},
             {"cacheName", "cache"}, {"cachedExecution", "src-noop-2"}, {"cachedNodeId", "src-2"}};
  Json p3 = {{"workflow", "memo-x"}, {"node", "memo-x.c"}, {"template", "noop"}, {"cacheKey", "k3"},
             {"cacheName", "cache"}, {"cachedExecution", ""}, {"cachedNodeId", ""}};
  EXPECT_EQ(cached["memo-x.memo-x-1"].properties, p1);
  EXPECT_EQ(cached["memo-x.memo-x-2"].properties, p2);
  EXPECT_EQ(cached["memo-x.memo-x-3"].properties, p3);
  EXPECT_EQ(cached["memo-x.memo-x-1"].type, "argo.Step");

  // Nodes with outputs are in the run's context, inside the pipeline (the generateName).
  auto in_run = Cached("skiff.WorkflowRun/memo-x");
  EXPECT_EQ(in_run.size(), 2u);
  EXPECT_TRUE(in_run.count("memo-x.memo-x-1") && in_run.count("memo-x.memo-x-2"));
  auto runs = lineage_->Contexts("default", "skiff.WorkflowRun", "memo-x");
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].parent_type + "/" + (*runs)[0].parent_name, "skiff.Pipeline/memo");

  // The cached step "produced" the same artifact as the original.
  metadata::LineageQuery q;
  q.ns = "default";
  q.execution_name = "memo-x.memo-x-1";
  q.direction = metadata::Direction::kDownstream;
  q.max_hops = 1;
  auto g = lineage_->Lineage(q);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_EQ(g->artifacts.size(), 1u);
  EXPECT_EQ(g->artifacts[0].digest, blob->digest);
  EXPECT_EQ(g->artifacts[0].uri, "skiff-artifacts://src/src-1/model.tgz");
  ASSERT_EQ(g->edges.size(), 1u);
  EXPECT_EQ(g->edges[0].type, "OUTPUT");
  EXPECT_EQ(g->edges[0].path, "model");
  auto attributed = lineage_->Artifacts("default", "", "skiff.WorkflowRun/memo-x", "");
  ASSERT_TRUE(attributed.ok());
  EXPECT_EQ(attributed->size(), 1u);
}

TEST_F(LineageRecorderCachedTest, AWorkflowFromATemplateIsInThatTemplatesPipeline) {
  MemoEntry("k1", {{"nodeID", "src-1"}, {"pod", "src-noop-1"}, {"workflow", "src"}});
  Json hit = Hit("tw.a", "k1");
  hit["outputs"] = {{"exitCode", "0"}};
  FinishedWorkflow({{"name", "tw"}}, {{"workflowTemplateRef", {{"name", "train"}}}}, {{"tw-1", hit}});
  Record();
  EXPECT_EQ(Cached("skiff.WorkflowRun/tw").size(), 1u);
  auto runs = lineage_->Contexts("default", "skiff.WorkflowRun", "tw");
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].parent_type + "/" + (*runs)[0].parent_name, "skiff.Pipeline/train");
}

TEST_F(LineageRecorderCachedTest, NodesInTheWorkflowsStatusAreReadThere) {
  MemoEntry("k1", {{"nodeID", "src-1"}, {"pod", "src-noop-1"}, {"workflow", "src"}});
  Json hit = Hit("iw.a", "k1");
  hit["outputs"] = {{"exitCode", "0"}};
  FinishedWorkflow({{"name", "iw"}}, {{"entrypoint", "main"}}, {{"iw-1", hit}}, /*inline_nodes=*/true);
  Record();
  auto cached = Cached("skiff.WorkflowRun/iw");
  ASSERT_EQ(cached.size(), 1u);
  EXPECT_EQ(cached["iw.iw-1"].properties["cachedExecution"], "src-noop-1");
}

}  // namespace
}  // namespace skiff::controllers
