#include "common/json.h"

#include <gtest/gtest.h>

namespace skiff {
namespace {

TEST(YamlTest, PlainScalarsAreTypedQuotedOnesAreStrings) {
  auto r = ParseYaml(
      "a: 1\nb: '1'\nc: true\nd: \"true\"\ne: 1.5\nf: ~\ng: hello\nh: yes\ni: 0x1f\nj: |\n  x\n  y\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Json& j = *r;
  EXPECT_TRUE(j["a"].is_number_integer());
  EXPECT_EQ(j["a"].get<int>(), 1);
  EXPECT_EQ(j["b"], "1");
  EXPECT_EQ(j["c"], true);
  EXPECT_EQ(j["d"], "true");
  EXPECT_DOUBLE_EQ(j["e"].get<double>(), 1.5);
  EXPECT_TRUE(j["f"].is_null());
  EXPECT_EQ(j["g"], "hello");
  EXPECT_EQ(j["h"], "yes");  // YAML 1.2: not a bool
  EXPECT_EQ(j["i"], 31);
  EXPECT_EQ(j["j"], "x\ny\n");
}

TEST(YamlTest, MultipleDocumentsSkipEmptyOnes) {
  auto r = ParseYamlDocuments("---\na: 1\n---\n---\nb: 2\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1]["b"], 2);
}

TEST(YamlTest, SyntaxErrorNamesLine) {
  auto r = ParseYaml("a: 1\nb: [1, 2\nc: 3\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("line"), std::string::npos);
}

TEST(YamlTest, EmitterRoundTripsTrickyValues) {
  Json j = {{"plain", "hello"},
            {"num_string", "1"},
            {"bool_string", "true"},
            {"yes", "yes"},
            {"colon", "a: b"},
            {"empty", ""},
            {"multi", "line1\nline2\n"},
            {"multi_no_nl", "l1\nl2"},
            {"multi_many_nl", "l1\n\n\n"},
            {"list", {1, "two", Json::object({{"k", "v"}, {"k2", {1, 2}}})}},
            {"nested", {{"a", {{"b", nullptr}}}}},
            {"emptyobj", Json::object()},
            {"emptylist", Json::array()},
            {"float", 2.5},
            {"hash", "a #b"},
            {"dash", "-x"}};
  std::string y = ToYaml(j);
  auto back = ParseYaml(y);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << y;
  EXPECT_EQ(*back, j) << y;
}

TEST(JsonTest, ScalarToStringPrintsLikeGo) {
  EXPECT_EQ(ScalarToString(Json(3)), "3");
  EXPECT_EQ(ScalarToString(Json(3.0)), "3");
  EXPECT_EQ(ScalarToString(Json(2.5)), "2.5");
  EXPECT_EQ(ScalarToString(Json(true)), "true");
  EXPECT_EQ(ScalarToString(Json("x")), "x");
  EXPECT_EQ(ScalarToString(Json({1, 2})), "[1,2]");
}

}  // namespace
}  // namespace skiff

namespace skiff {
namespace {

// Plain scalars typed as the YAML 1.2 core schema: numbers only where the whole text is one.
TEST(YamlTest, CoreSchemaNumbersAndLookalikes) {
  auto typed = [](const std::string& text) {
    auto doc = ParseYaml("v: " + text);
    EXPECT_TRUE(doc.ok()) << text;
    return doc.ok() ? (*doc)["v"] : Json();
  };
  EXPECT_EQ(typed("42"), Json(42));
  EXPECT_EQ(typed("-7"), Json(-7));
  EXPECT_EQ(typed("+7"), Json(7));
  EXPECT_EQ(typed("0o17"), Json(15));
  EXPECT_EQ(typed("0x1F"), Json(31));
  EXPECT_EQ(typed("1.5"), Json(1.5));
  EXPECT_EQ(typed("1."), Json(1.0));
  EXPECT_EQ(typed(".5"), Json(0.5));
  EXPECT_EQ(typed("-2.5e3"), Json(-2500.0));
  EXPECT_EQ(typed("1E-2"), Json(0.01));
  EXPECT_TRUE(typed(".inf").is_number_float());
  EXPECT_TRUE(typed("99999999999999999999").is_number_float());  // beyond int64: a double
  for (const char* s : {"+", ".", "1.2.3", "e5", "1e", "1e+", "0x", "0o8", "0xG", "1_000",
                        "12ab", "--1", "1-2", "0o", ".e1", "+.5x"}) {
    EXPECT_EQ(typed(s), Json(s)) << s;
  }
}

}  // namespace
}  // namespace skiff
