#include "controllers/tuning/trial_condition.h"

#include <gtest/gtest.h>

namespace skiff::controllers {
namespace {

Json Obj(const char* text) { return Json::parse(text); }

TEST(TrialConditionTest, KatibDefaultsReadTheRunObjectsConditions) {
  const Json complete = Obj(R"({"status": {"conditions": [
      {"type": "Created", "status": "True"}, {"type": "Complete", "status": "True"}]}})");
  const Json running = Obj(R"({"status": {"conditions": [{"type": "Complete", "status": "False"}]}})");
  const Json failed = Obj(R"({"status": {"conditions": [{"type": "Failed", "status": "True"}]}})");
  const Json none = Obj(R"({"status": {}})");
  const std::string ok = DefaultSuccessCondition("Job"), bad = DefaultFailureCondition("Job");
  EXPECT_TRUE(TrialConditionHolds(complete, ok));
  EXPECT_FALSE(TrialConditionHolds(running, ok)) << "a matching type whose status is not True";
  EXPECT_FALSE(TrialConditionHolds(none, ok));
  EXPECT_FALSE(TrialConditionHolds(complete, bad));
  EXPECT_TRUE(TrialConditionHolds(failed, bad));
  const Json pytorch = Obj(R"({"status": {"conditions": [{"type": "Succeeded", "status": "True"}]}})");
  EXPECT_TRUE(TrialConditionHolds(pytorch, DefaultSuccessCondition("PyTorchJob")));
  EXPECT_FALSE(TrialConditionHolds(pytorch, ok));
}

TEST(TrialConditionTest, PathsQueriesPipesAndThis) {
  const Json wf = Obj(R"({"status": {"phase": "Succeeded", "succeeded": 3,
      "nodes": [{"name": "a", "phase": "Failed", "exit": {"code": 2}}, {"name": "b", "phase": "Succeeded"}],
      "dotted.key": 1, "ready": true}})");
  // Katib's Argo Workflow example.
  EXPECT_TRUE(TrialConditionHolds(wf, R"(status.[@this].#(phase=="Succeeded")#)"));
  EXPECT_FALSE(TrialConditionHolds(wf, R"(status.[@this].#(phase=="Failed")#)"));
  EXPECT_TRUE(TrialConditionHolds(wf, "status.phase"));
  EXPECT_FALSE(TrialConditionHolds(wf, "status.missing"));
  EXPECT_TRUE(TrialConditionHolds(wf, "status.nodes.1.name"));
  EXPECT_FALSE(TrialConditionHolds(wf, "status.nodes.2"));
  EXPECT_TRUE(TrialConditionHolds(wf, R"(status.dotted\.key)"));
  // First match, every match, keys mapped over every match, numbers, booleans, nested fields.
  EXPECT_TRUE(TrialConditionHolds(wf, R"(status.nodes.#(phase!="Succeeded").name)"));
  EXPECT_TRUE(TrialConditionHolds(wf, R"(status.nodes.#(phase=="Succeeded")#.name)"));
  EXPECT_FALSE(TrialConditionHolds(wf, R"(status.nodes.#(phase=="Omitted")#.name)"));
  EXPECT_TRUE(TrialConditionHolds(wf, R"(status.nodes.#(exit.code>=2)#)"));
  EXPECT_FALSE(TrialConditionHolds(wf, R"(status.nodes.#(exit.code>2)#)"));
  EXPECT_TRUE(TrialConditionHolds(wf, R"(status.[@this].#(succeeded>2)#)"));
  EXPECT_TRUE(TrialConditionHolds(wf, R"(status.[@this].#(ready==true)#)"));
  EXPECT_TRUE(TrialConditionHolds(wf, R"(status.nodes|#(name=="b")#|#(phase=="Succeeded")#)"));
  EXPECT_FALSE(TrialConditionHolds(wf, R"(status.nodes|#(name=="a")#|#(phase=="Succeeded")#)"));
  // An operator inside the value is the value's; the field's comparison comes first.
  const Json odd = Obj(R"({"items": [{"name": "a==b"}, {"name": "c", "n": 1}], "pairs": [[1, 2], [3, 4]]})");
  EXPECT_TRUE(TrialConditionHolds(odd, R"(items.#(name=="a==b")#)"));
  EXPECT_TRUE(TrialConditionHolds(odd, R"(items.#(name!="a==b").n)"));
  EXPECT_FALSE(TrialConditionHolds(odd, R"(items.#(name=="a")#)"));
  // A first match that is itself a list is a match.
  EXPECT_TRUE(TrialConditionHolds(odd, R"(pairs.#(0==3).1)"));
  EXPECT_FALSE(TrialConditionHolds(odd, R"(pairs.#(0==5))"));
}

TEST(TrialConditionTest, BadConditionsAreRefusedSayingWhere) {
  for (const char* bad : {"", "status.", ".status", "status.#(type==\"x\"", "status.#(type)#",
                          "status.#(type==x)#", "a||b", "a|"}) {
    Status st = ValidateTrialCondition(bad);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_FALSE(TrialConditionHolds(Obj(R"({"a": 1})"), bad)) << bad;
  }
  EXPECT_NE(ValidateTrialCondition("status.#(type)#").message().find("character"), std::string::npos);
  EXPECT_TRUE(ValidateTrialCondition(DefaultSuccessCondition("Job")).ok());
}

}  // namespace
}  // namespace skiff::controllers
