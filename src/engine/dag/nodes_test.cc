#include "engine/dag/nodes.h"

#include <gtest/gtest.h>

namespace skiff::dag {
namespace {

TEST(NodeStatusTest, JsonTextIsTheDumpOfToJson) {
  NodeStatus bare;
  bare.id = "wf";
  bare.name = "wf";
  EXPECT_EQ(bare.ToJsonText(), DumpJson(bare.ToJson()));

  NodeStatus full;
  full.id = "wf-123";
  full.name = "wf.a(0)";
  full.display_name = "a(0)";
  full.type = NodeType::kRetry;
  full.template_name = "noop";
  full.template_ref = {{"name", "lib"}, {"template", "t"}, {"clusterScope", true}};
  full.template_scope = "local/wf";
  full.phase = NodePhase::kFailed;
  full.boundary_id = "wf";
  full.message = "quote \" backslash \\ tab \t caf\xC3\xA9 bad \xFF";
  full.started_at = TimePoint(std::chrono::seconds(1700000000));
  full.finished_at = TimePoint(std::chrono::seconds(1700000042));
  full.children = {"wf-1", "wf-2"};
  full.outbound_nodes = {"wf-2"};
  full.inputs = {{"parameters", {{{"name", "i"}, {"value", "x"}}}}};
  full.outputs = {{"result", "ok"}, {"exitCode", "0"}};
  full.host_node_name = "local";
  full.pod_name = "wf-noop-123";
  full.memoization_status = {{"hit", true}, {"key", "k"}, {"cacheName", "c"}};
  full.daemoned = true;
  for (bool hooked : {false, true}) {
    for (bool retried : {false, true}) {
      full.hooked = hooked;
      full.retried = retried;
      full.resources_duration = hooked ? Json{{"cpu", 1}, {"memory", 2}} : Json();
      full.progress = retried ? "1/1" : "";
      EXPECT_EQ(full.ToJsonText(), DumpJson(full.ToJson()));
    }
  }
  auto back = NodeStatus::FromJson(*ParseJson(full.ToJsonText()));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->ToJsonText(), full.ToJsonText());
}

TEST(NodeStatusTest, JsonTextWritesNestedValuesAndTimesAsDumpJsonDoes) {
  NodeStatus n;
  n.id = "wf-1";
  n.name = "wf.a";
  n.inputs = {{"parameters", {{{"name", "i"}, {"value", "caf\xC3\xA9 \"q\" \xFF"}}}},
              {"artifacts", Json::array()},
              {"k\xC3\xA9y\n", Json::object()}};
  n.outputs = {{"exitCode", "0"},
               {"ints", {0, -1, 42, int64_t{1} << 62, uint64_t{18446744073709551615ULL}}},
               {"floats", {1.5, -0.25, 1e300, 3.0}},
               {"flags", {true, false, nullptr}},
               {"nested", {{"a", {{"b", Json::array({Json::object()})}}}}}};
  n.resources_duration = {{"cpu", 1}, {"memory", 2.5}};
  // Times in the same second, then another second, then the first again.
  for (int64_t ms : {int64_t{1700000000123}, int64_t{1700000000999}, int64_t{1700000001000}, int64_t{1700000000000}, int64_t{0}}) {
    n.started_at = TimePoint(std::chrono::milliseconds(ms));
    n.finished_at = TimePoint(std::chrono::milliseconds(ms + 1500));
    EXPECT_EQ(n.ToJsonText(), DumpJson(n.ToJson())) << ms;
  }
}

}  // namespace
}  // namespace skiff::dag
