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

}  // namespace
}  // namespace skiff::dag
