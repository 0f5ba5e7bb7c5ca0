// Engine tests: a workflow is fed to the Executor and its Pods are "run" by the test, which
// decides each Pod's exit code and outputs. Numbers in names refer to the state machine in
// executor.h.
#include "engine/dag/executor.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>

namespace skiff::dag {
namespace {

class FakeEnv : public ExecutorEnv {
 public:
  const Clock& clock() const override { return clock_; }
  Result<Json> GetWorkflowTemplate(std::string_view, std::string_view name, bool) override {
    auto it = templates.find(std::string(name));
    if (it == templates.end()) return NotFound("no template");
    return it->second;
  }
  Result<std::string> GetConfigMapKey(std::string_view, std::string_view name, std::string_view key) override {
    auto it = configmaps.find(std::string(name) + "/" + std::string(key));
    if (it == configmaps.end()) return NotFound("no key");
    return it->second;
  }
  std::optional<Json> GetCacheEntry(std::string_view, std::string_view cache, std::string_view key) override {
    auto it = cache_.find(std::string(cache) + "/" + std::string(key));
    if (it == cache_.end()) return std::nullopt;
    return it->second;
  }
  FakeClock clock_;
  std::map<std::string, Json> templates;
  std::map<std::string, std::string> configmaps;
  std::map<std::string, Json> cache_;
};

struct PodOutcome {
  int exit_code = 0;
  Json outputs = Json::object();  // parameters / result, merged into the reported outputs
};

// Decides what a Pod does from its node name and the template annotation.
using Behavior = std::function<PodOutcome(const std::string& node_name, const Json& tmpl, int attempt)>;

struct RunResult {
  std::string phase;
  std::vector<std::string> pod_order;  // node names in creation order
  std::map<std::string, NodeStatus> by_name;
  Json workflow;
  int max_concurrent = 0;
};

Json Wf(const std::string& yaml_like_json) {
  auto j = ParseYaml(yaml_like_json);
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  Json wf = *j;
  wf["metadata"]["name"] = "wf";
  wf["metadata"]["namespace"] = "default";
  wf["metadata"]["uid"] = "uid-1";
  return wf;
}

RunResult RunWorkflow(Json wf, FakeEnv& env, const Behavior& behavior, int max_passes = 500) {
  Executor exec(std::move(wf), {}, env);
  RunResult out;
  std::vector<Json> running;
  std::map<std::string, int> attempts;
  for (int pass = 0; pass < max_passes && !exec.Finished(); ++pass) {
    Actions a = exec.Reconcile();
    for (const auto& w : a.cache_writes) env.cache_[w.cache + "/" + w.key] = w.entry;
    for (auto& pod : a.create_pods) {
      out.pod_order.push_back(StringField(pod["metadata"]["annotations"], "workflows.argoproj.io/node-name"));
      running.push_back(pod);
    }
    out.max_concurrent = std::max(out.max_concurrent, static_cast<int>(running.size()));
    if (exec.Finished()) break;
    if (running.empty()) {
      // Nothing to run: time must pass (backoff, suspend duration).
      env.clock_.Advance(std::chrono::seconds(1));
      continue;
    }
    // Finish the oldest running Pod.
    Json pod = running.front();
    running.erase(running.begin());
    const Json& ann = pod["metadata"]["annotations"];
    std::string node_name = StringField(ann, "workflows.argoproj.io/node-name");
    auto tmpl = ParseJson(StringField(ann, "workflows.argoproj.io/template"));
    std::string base = node_name.substr(0, node_name.rfind('('));
    int attempt = attempts[base]++;
    PodOutcome o = behavior(node_name, *tmpl, attempt);
    env.clock_.Advance(std::chrono::seconds(1));
    PodResult r;
    r.node_id = StringField(ann, "workflows.argoproj.io/node-id");
    r.phase = o.exit_code == 0 ? NodePhase::kSucceeded : NodePhase::kFailed;
    r.finished_at = env.clock_.Now();
    r.outputs = o.outputs;
    r.outputs["exitCode"] = std::to_string(o.exit_code);
    if (o.exit_code != 0) r.message = "Error (exit code " + std::to_string(o.exit_code) + ")";
    exec.ApplyPodResult(r);
  }
  out.phase = exec.Phase();
  out.workflow = exec.workflow();
  for (const auto& [id, n] : exec.nodes()) out.by_name[n.name] = n;
  return out;
}

PodOutcome Ok(const std::string&, const Json&, int) { return {}; }

TEST(ExecutorTest, StepsRunGroupsInOrderAndSucceed) {
  FakeEnv env;
  Json wf = Wf(R"YAML(
apiVersion: argoproj.io/v1alpha1
kind: Workflow
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: hello1, template: say, arguments: {parameters: [{name: message, value: hello1}]}}
    - - {name: hello2a, template: say, arguments: {parameters: [{name: message, value: hello2a}]}}
      - {name: hello2b, template: say, arguments: {parameters: [{name: message, value: hello2b}]}}
  - name: say
    inputs: {parameters: [{name: message}]}
    container: {image: busybox, command: [echo, "{{inputs.parameters.message}}"]}
)YAML");
  RunResult r = RunWorkflow(wf, env, Ok);
  EXPECT_EQ(r.phase, "Succeeded");
  ASSERT_EQ(r.pod_order.size(), 3u);
  EXPECT_EQ(r.pod_order[0], "wf[0].hello1");
  EXPECT_EQ(r.by_name["wf"].type, NodeType::kSteps);
  EXPECT_EQ(r.by_name["wf[1]"].type, NodeType::kStepGroup);
  EXPECT_EQ(r.by_name["wf[1].hello2b"].display_name, "hello2b");
  EXPECT_EQ(r.by_name["wf[1].hello2b"].phase, NodePhase::kSucceeded);
  // Argo's ids and pod names.
  EXPECT_EQ(r.by_name["wf"].id, "wf");
  EXPECT_EQ(r.by_name["wf[0].hello1"].pod_name.rfind("wf-say-", 0), 0u);
  EXPECT_EQ(StringField(r.workflow["status"], "progress"), "3/3");
}

TEST(ExecutorTest, PodCommandGetsInputsSubstituted) {
  FakeEnv env;
  Json wf = Wf(R"YAML(
spec:
  entrypoint: say
  arguments: {parameters: [{name: message, value: hi there}]}
  templates:
  - name: say
    inputs: {parameters: [{name: message}]}
    container: {image: busybox, command: [echo, "{{inputs.parameters.message}} from {{workflow.name}}"]}
)YAML");
  Executor exec(wf, {}, env);
  Actions a = exec.Reconcile();
  ASSERT_EQ(a.create_pods.size(), 1u);
  const Json& c = a.create_pods[0]["spec"]["containers"][0];
  EXPECT_EQ(c["command"][1], "hi there from wf");
  EXPECT_EQ(c["name"], "main");
  EXPECT_EQ(a.create_pods[0]["spec"]["restartPolicy"], "Never");
  EXPECT_EQ(a.create_pods[0]["metadata"]["ownerReferences"][0]["uid"], "uid-1");
}

TEST(ExecutorTest, DagDiamondRespectsDependencies) {
  FakeEnv env;
  Json wf = Wf(R"YAML(
spec:
  entrypoint: diamond
  templates:
  - name: diamond
    dag:
      tasks:
      - {name: A, template: t}
      - {name: B, depends: A, template: t}
      - {name: C, depends: A, template: t}
      - {name: D, depends: "B && C", template: t}
  - name: t
    container: {image: busybox, command: ["true"]}
)YAML");
  RunResult r = RunWorkflow(wf, env, Ok);
  EXPECT_EQ(r.phase, "Succeeded");
  ASSERT_EQ(r.pod_order.size(), 4u);
  EXPECT_EQ(r.pod_order.front(), "wf.A");
  EXPECT_EQ(r.pod_order.back(), "wf.D");
  EXPECT_EQ(r.by_name["wf"].type, NodeType::kDAG);
  // D hangs off both B and C in the graph.
  const NodeStatus& b = r.by_name["wf.B"];
  EXPECT_NE(std::find(b.children.begin(), b.children.end(), r.by_name["wf.D"].id), b.children.end());
}

// The outer diamond's target D waits on B, which waits on A: a nested DAG that only progresses
// when it is re-entered. Remembering "D is blocked on A" must not stop A from being driven.
TEST(ExecutorTest, NestedDagsBehindABlockedTargetStillProgress) {
  FakeEnv env;
  Json wf = Wf(R"YAML(
spec:
  entrypoint: diamond
  templates:
  - name: diamond
    dag:
      tasks:
      - {name: A, template: inner}
      - {name: B, depends: A, template: inner}
      - {name: C, depends: A, template: inner}
      - {name: D, depends: "B && C", template: inner}
  - name: inner
    dag:
      tasks:
      - {name: A, template: t}
      - {name: B, depends: A, template: t}
      - {name: C, depends: A, template: t}
      - {name: D, depends: "B && C", template: t}
  - name: t
    container: {image: busybox, command: ["true"]}
)YAML");
  RunResult r = RunWorkflow(wf, env, Ok);
  EXPECT_EQ(r.phase, "Succeeded");
  ASSERT_EQ(r.pod_order.size(), 16u);
  EXPECT_EQ(r.pod_order.front(), "wf.A.A");
  EXPECT_EQ(r.pod_order.back(), "wf.D.D");
}

// Pods carry how much work is still behind them, so a waiting chain can start first.
TEST(ExecutorTest, PodsAreRankedByTheLongestChainBehindThem) {
  FakeEnv env;
  Json wf = Wf(R"YAML(
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: alone, template: t}
      - {name: c0, template: t}
      - {name: c1, depends: c0, template: t}
      - {name: c2, depends: c1, template: t}
      - {name: side, depends: c0, template: t}
  - name: t
    container: {image: busybox, command: ["true"]}
)YAML");
  Executor exec(wf, {}, env);
  Actions a = exec.Reconcile();
  std::map<std::string, std::string> rank;
  for (const auto& pod : a.create_pods) {
    const Json& ann = pod["metadata"]["annotations"];
    rank[StringField(ann, "workflows.argoproj.io/node-name")] = StringField(ann, "skiff.dev/rank");
  }
  ASSERT_EQ(rank.size(), 2u);
  EXPECT_EQ(rank["wf.c0"], "2");
  EXPECT_EQ(rank["wf.alone"], "");  // nothing after it: no annotation
}

TEST(ExecutorTest, WhenFalseSkipsAndDependsFalseOmits_6_7) {
  FakeEnv env;
  Json wf = Wf(R"YAML(
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: flip, template: flip}
      - {name: heads, depends: flip, template: t, when: "{{tasks.flip.outputs.result}} == heads"}
      - {name: tails, depends: flip, template: t, when: "{{tasks.flip.outputs.result}} == tails"}
      - {name: on-fail, depends: heads.Failed, template: t}
  - name: flip
    script: {image: python, command: [python], source: "print('heads')"}
  - name: t
    container: {image: busybox, command: ["true"]}
)YAML");
  RunResult r = RunWorkflow(wf, env, [](const std::string& name, const Json&, int) {
    PodOutcome o;
    if (name == "wf.flip") o.outputs["result"] = "heads";
    return o;
  });
  EXPECT_EQ(r.phase, "Succeeded");
  EXPECT_EQ(r.by_name["wf.heads"].phase, NodePhase::kSucceeded);
  EXPECT_EQ(r.by_name["wf.tails"].phase, NodePhase::kSkipped);
  EXPECT_EQ(r.by_name["wf.tails"].message, "when 'heads == tails' evaluated false");
  EXPECT_EQ(r.by_name["wf.on-fail"].phase, NodePhase::kOmitted);
}

TEST(ExecutorTest, RetriesUntilSuccess_9_10) {
  FakeEnv env;
  Json wf = Wf(R"YAML(
spec:
  entrypoint: flaky
  templates:
  - name: flaky
    retryStrategy: {limit: 3, backoff: {duration: "2s", factor: 2}}
    container: {image: busybox, command: [sh, -c, "exit 1"]}
)YAML");
  RunResult r = RunWorkflow(wf, env, [](const std::string&, const Json&, int attempt) {
    return PodOutcome{attempt < 2 ? 1 : 0, Json::object()};
  });
  EXPECT_EQ(r.phase, "Succeeded");
  const NodeStatus& retry = r.by_name["wf"];
  EXPECT_EQ(retry.type, NodeType::kRetry);
  EXPECT_EQ(retry.children.size(), 3u);
  EXPECT_EQ(r.by_name["wf(0)"].phase, NodePhase::kFailed);
  EXPECT_EQ(r.by_name["wf(2)"].phase, NodePhase::kSucceeded);
  // Backoff: the third attempt starts at least 2s + 4s after the failures.
  EXPECT_GE(r.by_name["wf(2)"].started_at - r.by_name["wf(0)"].finished_at, std::chrono::seconds(6));
}

TEST(ExecutorTest, RetriesExhaustedFail_11) {
  FakeEnv env;
  Json wf = Wf(R"YAML(
spec:
  entrypoint: flaky
  templates:
  - name: flaky
    retryStrategy: {limit: "1"}
    container: {image: busybox, command: [sh, -c, "exit 1"]}
)YAML");
  RunResult r = RunWorkflow(wf, env, [](const std::string&, const Json&, int) { return PodOutcome{1, Json::object()}; });
  EXPECT_EQ(r.phase, "Failed");
  EXPECT_EQ(r.by_name["wf"].children.size(), 2u);
  EXPECT_EQ(r.by_name["wf"].message, "No more retries left");
}

TEST(ExecutorTest, LoopAggregatesOutputsInOrder) {
  FakeEnv env;
  Json wf = Wf(R"YAML(
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: gen, template: gen, arguments: {parameters: [{name: n, value: "{{item}}"}]}, withItems: [1, 2, 3]}
    - - {name: sum, template: sum, arguments: {parameters: [{name: vals, value: "{{steps.gen.outputs.parameters.out}}"}]}}
  - name: gen
    inputs: {parameters: [{name: n}]}
    outputs: {parameters: [{name: out, valueFrom: {path: /tmp/out}}]}
    container: {image: busybox, command: [sh, -c, "echo {{inputs.parameters.n}} > /tmp/out"]}
  - name: sum
    inputs: {parameters: [{name: vals}]}
    container: {image: busybox, command: [echo, "{{inputs.parameters.vals}}"]}
)YAML");
  std::string sum_command;
  RunResult r = RunWorkflow(wf, env, [&](const std::string& name, const Json& tmpl, int) {
    PodOutcome o;
    if (name.find(".gen(") != std::string::npos) {
      std::string n = StringField(tmpl["inputs"]["parameters"][0], "value");
      o.outputs["parameters"] = Json::array({{{"name", "out"}, {"value", "v" + n}}});
    }
    if (name.find(".sum") != std::string::npos) sum_command = tmpl["container"]["command"][1];
    return o;
  });
  EXPECT_EQ(r.phase, "Succeeded");
  EXPECT_EQ(r.by_name["wf[0].gen(1:2)"].display_name, "gen(1:2)");
  EXPECT_EQ(sum_command, R"(["v1","v2","v3"])");
}

TEST(ExecutorTest, ExitHandlerSeesWorkflowStatus) {
  FakeEnv env;
  Json wf = Wf(R"YAML(
spec:
  entrypoint: main
  onExit: exit
  templates:
  - name: main
    container: {image: busybox, command: [sh, -c, "exit 3"]}
  - name: exit
    container: {image: busybox, command: [echo, "status={{workflow.status}}"]}
)YAML");
  std::string exit_cmd;
  RunResult r = RunWorkflow(wf, env, [&](const std::string& name, const Json& tmpl, int) {
    if (name == "wf.onExit") {
      exit_cmd = tmpl["container"]["command"][1];
      return PodOutcome{};
    }
    return PodOutcome{3, Json::object()};
  });
  EXPECT_EQ(r.phase, "Failed");
  EXPECT_EQ(exit_cmd, "status=Failed");
  EXPECT_EQ(r.by_name["wf.onExit"].phase, NodePhase::kSucceeded);
  EXPECT_EQ(StringField(r.workflow["status"], "message"), "Error (exit code 3)");
}

// A Pod that reports output parameter `out` = "42".
PodOutcome ReportsOut42(const std::string&, const Json&, int) {
  PodOutcome o;
  o.outputs["parameters"] = Json::array({{{"name", "out"}, {"value", "42"}}});
  return o;
}

TEST(ExecutorTest, MemoizedStepIsNotRunAgain_8) {
  FakeEnv env;
  std::string yaml = R"YAML(
spec:
  entrypoint: main
  templates:
  - name: main
    memoize: {key: "k1", cache: {configMap: {name: c}}}
    outputs: {parameters: [{name: out, valueFrom: {path: /tmp/o}}]}
    container: {image: busybox, command: ["true"]}
)YAML";
  auto behavior = ReportsOut42;
  RunResult first = RunWorkflow(Wf(yaml), env, behavior);
  EXPECT_EQ(first.phase, "Succeeded");
  EXPECT_EQ(first.pod_order.size(), 1u);
  ASSERT_EQ(env.cache_.count("c/k1"), 1u);
  RunResult second = RunWorkflow(Wf(yaml), env, behavior);
  EXPECT_EQ(second.phase, "Succeeded");
  EXPECT_TRUE(second.pod_order.empty());
  EXPECT_EQ(second.by_name["wf"].memoization_status["hit"], true);
  EXPECT_EQ(second.by_name["wf"].outputs["parameters"][0]["value"], "42");
}

// A memo hit takes its key and inputs from the template's inputs and memoize fields processed
// alone: they must come out as the whole template's do on the run that missed, with defaults,
// ConfigMap inputs, expressions, output paths and templateRef'd templates, and a bad input must
// fail the same way before any lookup.
TEST(ExecutorTest, MemoHitHasTheKeyAndInputsOfTheWholeProcessedTemplate_8) {
  FakeEnv env;
  env.configmaps["cm/salt"] = "pepper";
  env.templates["lib"] = {{"spec", {{"templates", Json::array({{
      {"name", "shared"},
      {"inputs", {{"parameters", Json::array({{{"name", "x"}}})}}},
      {"memoize", {{"key", "lib-{{inputs.parameters.x}}-{{workflow.namespace}}"}, {"cache", {{"configMap", {{"name", "c"}}}}}}},
      {"container", {{"image", "busybox"}, {"command", Json::array({"true"})}}}}})}}}};
  std::string yaml = R"YAML(
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: m, arguments: {parameters: [{name: x, value: "1"}]}}
      - {name: b, template: m, depends: a, arguments: {parameters: [{name: x, value: "2"}, {name: mode, value: fast}]}}
      - {name: c, templateRef: {name: lib, template: shared}, arguments: {parameters: [{name: x, value: "3"}]}}
      - {name: bad, template: m, arguments: {parameters: [{name: x, value: "4"}, {name: mode, value: nope}]}}
  - name: m
    inputs:
      parameters:
      - {name: x}
      - {name: mode, default: slow, enum: [slow, fast]}
      - {name: salt, valueFrom: {configMapKeyRef: {name: cm, key: salt}}}
      - {name: derived, value: "{{inputs.parameters.x}}-{{tasks.name}}"}
    outputs: {parameters: [{name: out, valueFrom: {path: /tmp/o}}]}
    memoize:
      key: "{{=inputs.parameters.x + '/' + inputs.parameters.mode}}-{{inputs.parameters.salt}}-{{outputs.parameters.out.path}}-{{inputs.parameters}}"
      maxAge: 1h
      cache: {configMap: {name: c}}
    container: {image: busybox, command: ["{{inputs.parameters.derived}}", "{{pod.name}}"]}
)YAML";
  auto behavior = ReportsOut42;
  RunResult first = RunWorkflow(Wf(yaml), env, behavior);
  EXPECT_EQ(first.pod_order.size(), 3u);
  RunResult second = RunWorkflow(Wf(yaml), env, behavior);
  EXPECT_TRUE(second.pod_order.empty());
  for (const char* task : {"a", "b", "c"}) {
    const NodeStatus& missed = first.by_name["wf." + std::string(task)];
    const NodeStatus& hit = second.by_name["wf." + std::string(task)];
    EXPECT_EQ(missed.memoization_status["hit"], false) << task;
    EXPECT_EQ(hit.memoization_status["hit"], true) << task;
    EXPECT_EQ(hit.memoization_status["key"], missed.memoization_status["key"]) << task;
    EXPECT_EQ(hit.inputs, missed.inputs) << task;
    EXPECT_EQ(hit.type, NodeType::kPod) << task;
    EXPECT_EQ(hit.phase, NodePhase::kSucceeded) << task;
  }
  EXPECT_TRUE(StringField(first.by_name["wf.b"].memoization_status, "key").starts_with("2/fast-pepper-/tmp/o-[{"))
      << first.by_name["wf.b"].memoization_status;
  EXPECT_EQ(StringField(second.by_name["wf.c"].memoization_status, "key"), "lib-3-default");
  EXPECT_EQ(first.by_name["wf.bad"].phase, NodePhase::kError);
  EXPECT_EQ(second.by_name["wf.bad"].phase, NodePhase::kError);
  EXPECT_EQ(second.by_name["wf.bad"].message, first.by_name["wf.bad"].message);
  EXPECT_NE(first.by_name["wf.bad"].message.find("not in enum"), std::string::npos)
      << first.by_name["wf.bad"].message;
  // Past maxAge the entry is not a hit.
  env.clock_.Advance(std::chrono::hours(2));
  RunResult third = RunWorkflow(Wf(yaml), env, behavior);
  EXPECT_EQ(third.by_name["wf.a"].memoization_status["hit"], false);
  EXPECT_EQ(third.by_name["wf.c"].memoization_status["hit"], true);  // no maxAge
}

TEST(ExecutorTest, SkippedProducerExposesOutputDefaults) {
  FakeEnv env;
  Json wf = Wf(R"YAML(
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: producer, template: produce, when: "false"}
      - name: consumer
        template: consume
        depends: "producer.Succeeded || producer.Skipped"
        arguments: {parameters: [{name: in, value: "{{tasks.producer.outputs.parameters.msg}}"}]}
  - name: produce
    outputs: {parameters: [{name: msg, valueFrom: {path: /tmp/out.txt, default: hello-from-producer}}]}
    container: {image: busybox, command: ["true"]}
  - name: consume
    inputs: {parameters: [{name: in}]}
    container: {image: busybox, command: [echo, "{{inputs.parameters.in}}"]}
)YAML");
  RunResult r = RunWorkflow(wf, env, Ok);
  EXPECT_EQ(r.phase, "Succeeded");
  EXPECT_EQ(r.by_name["wf.producer"].phase, NodePhase::kSkipped);
  EXPECT_EQ(r.by_name["wf.consumer"].inputs["parameters"][0]["value"], "hello-from-producer");
}

TEST(ExecutorTest, WorkflowParallelismLimitsRunningPods) {
  FakeEnv env;
  Json wf = Wf(R"YAML(
spec:
  entrypoint: main
  parallelism: 2
  templates:
  - name: main
    steps:
    - - {name: s, template: t, withSequence: {count: "6"}}
  - name: t
    container: {image: busybox, command: ["true"]}
)YAML");
  RunResult r = RunWorkflow(wf, env, Ok);
  EXPECT_EQ(r.phase, "Succeeded");
  EXPECT_EQ(r.pod_order.size(), 6u);
  EXPECT_LE(r.max_concurrent, 2);
}

TEST(ExecutorTest, FailedStepFailsWorkflowUnlessContinueOn) {
  FakeEnv env;
  Json wf = Wf(R"YAML(
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: fail, continueOn: {failed: true}}
    - - {name: b, template: ok}
  - name: fail
    container: {image: busybox, command: [sh, -c, "exit 1"]}
  - name: ok
    container: {image: busybox, command: ["true"]}
)YAML");
  RunResult r = RunWorkflow(wf, env, [](const std::string& name, const Json&, int) {
    return PodOutcome{name.find(".a") != std::string::npos ? 1 : 0, Json::object()};
  });
  EXPECT_EQ(r.phase, "Succeeded");
  EXPECT_EQ(r.by_name["wf[0].a"].phase, NodePhase::kFailed);
  EXPECT_EQ(r.by_name["wf[1].b"].phase, NodePhase::kSucceeded);
}

TEST(ExecutorTest, ReconcileIsIdempotentAndResumesFromRecordedNodes) {
  FakeEnv env;
  Json wf = Wf(R"YAML(
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: t}
    - - {name: b, template: t}
  - name: t
    container: {image: busybox, command: ["true"]}
)YAML");
  Executor first(wf, {}, env);
  Actions a1 = first.Reconcile();
  ASSERT_EQ(a1.create_pods.size(), 1u);
  Actions again = first.Reconcile();
  EXPECT_TRUE(again.create_pods.empty());
  // "Crash": a new executor from the recorded state creates nothing new either.
  std::vector<NodeStatus> nodes;
  for (const auto& [id, n] : first.nodes()) nodes.push_back(*NodeStatus::FromJson(n.ToJson()));
  Executor second(first.workflow(), nodes, env);
  EXPECT_TRUE(second.Reconcile().create_pods.empty());
  PodResult done;
  done.node_id = NodeId("wf", "wf[0].a");
  done.phase = NodePhase::kSucceeded;
  second.ApplyPodResult(done);
  Actions a2 = second.Reconcile();
  ASSERT_EQ(a2.create_pods.size(), 1u);
  EXPECT_EQ(StringField(a2.create_pods[0]["metadata"]["annotations"], "workflows.argoproj.io/node-name"), "wf[1].b");
}

TEST(ExecutorTest, MissingArgumentErrorsTheNode) {
  FakeEnv env;
  Json wf = Wf(R"YAML(
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: a, template: t}
  - name: t
    inputs: {parameters: [{name: x}]}
    container: {image: busybox, command: [echo, "{{inputs.parameters.x}}"]}
)YAML");
  RunResult r = RunWorkflow(wf, env, Ok);
  EXPECT_EQ(r.phase, "Failed");
  EXPECT_NE(r.by_name["wf[0].a"].message.find("inputs.parameters.x was not supplied"), std::string::npos);
}

}  // namespace
}  // namespace skiff::dag
