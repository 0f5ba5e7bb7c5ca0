#include "api/kube_patch.h"

#include <gtest/gtest.h>

namespace skiff::api {
namespace {

Json J(const char* text) { return *ParseJson(text); }

TEST(KubePatchTest, MergePatchReplacesListsAndNullRemoves) {
  auto out = ApplyPatch(J(R"({"a":1,"b":{"c":2,"d":3},"l":[1,2]})"), J(R"({"b":{"c":null,"e":4},"l":[3]})"),
                        PatchType::kMerge);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, J(R"({"a":1,"b":{"d":3,"e":4},"l":[3]})"));
}

TEST(KubePatchTest, StrategicMergeMergesContainersByNameAndHonoursDeleteDirectives) {
  Json pod = J(R"({"spec":{"containers":[{"name":"a","image":"x","env":[{"name":"K","value":"1"}]},
                                          {"name":"b","image":"y"}]}})");
  Json patch = J(R"({"spec":{"$setElementOrder/containers":[{"name":"a"},{"name":"b"}],
                             "containers":[{"name":"a","image":"x2","env":[{"name":"J","value":"2"}]},
                                           {"name":"b","$patch":"delete"},
                                           {"name":"c","image":"z"}]}})");
  auto out = ApplyPatch(pod, patch, PatchType::kStrategicMerge);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, J(R"({"spec":{"containers":[{"name":"a","image":"x2","env":[{"name":"K","value":"1"},{"name":"J","value":"2"}]},
                                              {"name":"c","image":"z"}]}})"));
}

TEST(KubePatchTest, StrategicMergeReplacesPrimitiveListsAndHandlesDeleteFromPrimitiveList) {
  auto out = ApplyPatch(J(R"({"args":["a","b"],"f":["x","y","z"]})"),
                        J(R"({"args":["c"],"$deleteFromPrimitiveList/f":["y"]})"), PatchType::kStrategicMerge);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, J(R"({"args":["c"],"f":["x","z"]})"));
}

TEST(KubePatchTest, JsonPatchAppliesOperationsAndReportsAFailedTest) {
  auto out = ApplyPatch(J(R"({"a":[1]})"), J(R"([{"op":"add","path":"/a/-","value":2},{"op":"replace","path":"/b","value":1}])"),
                        PatchType::kJsonPatch);
  EXPECT_FALSE(out.ok());  // /b does not exist for replace
  out = ApplyPatch(J(R"({"a":[1]})"), J(R"([{"op":"add","path":"/a/-","value":2}])"), PatchType::kJsonPatch);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, J(R"({"a":[1,2]})"));
  out = ApplyPatch(J(R"({"a":1})"), J(R"([{"op":"test","path":"/a","value":2}])"), PatchType::kJsonPatch);
  EXPECT_FALSE(out.ok());
}

TEST(KubePatchTest, ContentTypesMapToPatchTypes) {
  EXPECT_EQ(*PatchTypeFromContentType("application/merge-patch+json"), PatchType::kMerge);
  EXPECT_EQ(*PatchTypeFromContentType("application/strategic-merge-patch+json; charset=utf-8"),
            PatchType::kStrategicMerge);
  EXPECT_EQ(*PatchTypeFromContentType("application/json-patch+json"), PatchType::kJsonPatch);
  EXPECT_FALSE(PatchTypeFromContentType("application/json").ok());
}

}  // namespace
}  // namespace skiff::api
