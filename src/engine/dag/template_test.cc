#include "engine/dag/template.h"

#include <gtest/gtest.h>

namespace skiff::dag {
namespace {

TEST(TemplateTest, SimpleTagsReplaceAndUnknownOnesFailOrStay) {
  Vars v;
  v.Set("inputs.parameters.message", "hello");
  EXPECT_EQ(*ReplaceTags("say {{inputs.parameters.message}}!", v, false), "say hello!");
  EXPECT_EQ(*ReplaceTags("say {{ inputs.parameters.message }}", v, false), "say hello");
  auto missing = ReplaceTags("{{steps.a.outputs.result}}", v, false);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("failed to resolve {{steps.a.outputs.result}}"), std::string::npos);
  EXPECT_EQ(*ReplaceTags("{{steps.a.outputs.result}}", v, true), "{{steps.a.outputs.result}}");
}

TEST(TemplateTest, ExpressionTagsUseNestedEnvironment) {
  Vars v;
  v.Set("inputs.parameters.foo", "3");
  v.Set("inputs.parameters", "[{\"name\":\"foo\",\"value\":\"3\"}]");
  EXPECT_EQ(*ReplaceTags("{{=asInt(inputs.parameters.foo) * 10}}", v, false), "30");
  // Unknown variables leave the tag in place when unresolved tags are allowed.
  EXPECT_EQ(*ReplaceTags("{{=item}}", v, true), "{{=item}}");
  EXPECT_FALSE(ReplaceTags("{{=item}}", v, false).ok());
}

TEST(TemplateTest, GoFormatMatchesPercentV) {
  EXPECT_EQ(GoFormatV(Json(35.8)), "35.8");
  EXPECT_EQ(GoFormatV(Json(3.0)), "3");
  EXPECT_EQ(GoFormatV(Json(1000000.0)), "1e+06");
  EXPECT_EQ(GoFormatV(Json(123456.0)), "123456");
  EXPECT_EQ(GoFormatV(Json(0.0001)), "0.0001");
  EXPECT_EQ(GoFormatV(Json(0.00001)), "1e-05");
  EXPECT_EQ(GoFormatV(Json(30)), "30");
  EXPECT_EQ(GoFormatV(Json({"a", "b"})), "[a b]");
  EXPECT_EQ(GoFormatV(Json{{"k", 1}}), "map[k:1]");
  EXPECT_EQ(GoFormatV(Json(true)), "true");
}

TEST(TemplateTest, VarScopeChainsWithoutCopying) {
  Vars globals, scope, item;
  globals.Set("workflow.name", "wf");
  scope.Set("steps.a.outputs.result", "x");
  item.Set("item", "i0");
  VarScope chain{&scope, &globals};
  auto r = ReplaceTags("{{workflow.name}}/{{steps.a.outputs.result}}/{{item}}", chain.With(&item), false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "wf/x/i0");
}

TEST(TemplateTest, ReplaceInJsonTouchesOnlyStringLeaves) {
  Vars v;
  v.Set("x", "1");
  Json in = {{"a", "{{x}}"}, {"b", {{"c", "{{x}}{{x}}"}}}, {"n", 5}, {"{{x}}", "key stays"}};
  auto out = ReplaceTagsInJson(in, v, false);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ((*out)["a"], "1");
  EXPECT_EQ((*out)["b"]["c"], "11");
  EXPECT_EQ((*out)["n"], 5);
  EXPECT_TRUE(out->contains("{{x}}"));
}

TEST(TemplateTest, ReplaceInPlaceRewritesOnlyTaggedStrings) {
  Vars v;
  v.Set("x", "1");
  Json value = {{"a", "{{x}}"}, {"b", {{"c", {"{{x}}-{{y}}", "plain", 2}}}}, {"{{x}}", "key stays"}};
  ASSERT_TRUE(ReplaceTagsInPlace(value, v, /*allow_unresolved=*/true).ok());
  EXPECT_EQ(value["a"], "1");
  EXPECT_EQ(value["b"]["c"], Json({"1-{{y}}", "plain", 2}));
  EXPECT_EQ(value["{{x}}"], "key stays");
  // Unresolved tags are errors unless allowed; the copying form leaves its input as it was.
  Json in = {{"a", "{{y}}"}};
  EXPECT_FALSE(ReplaceTagsInPlace(in, v, false).ok());
  auto copy = ReplaceTagsInJson(in, v, false);
  EXPECT_FALSE(copy.ok());
  EXPECT_EQ(in["a"], "{{y}}");
  auto untouched = ReplaceTagsInJson(Json{{"a", "no tags"}}, v, false);
  ASSERT_TRUE(untouched.ok());
  EXPECT_EQ(*untouched, Json({{"a", "no tags"}}));
}

}  // namespace
}  // namespace skiff::dag
