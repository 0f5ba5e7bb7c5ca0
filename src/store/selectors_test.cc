#include "store/selectors.h"

#include <gtest/gtest.h>

#include "store/store.h"

namespace skiff::store {
namespace {

bool Match(const std::string& selector, const Json& labels) {
  auto r = MatchesLabelSelector(selector, labels);
  EXPECT_TRUE(r.ok()) << selector << ": " << r.status().ToString();
  return r.ok() && *r;
}

TEST(LabelSelectorTest, EmptySelectorMatchesEverything) {
  EXPECT_TRUE(Match("", Json()));
  EXPECT_TRUE(Match("  ", {{"a", "b"}}));
}

TEST(LabelSelectorTest, EqualityOperators) {
  Json labels = {{"app", "web"}, {"env", ""}};
  EXPECT_TRUE(Match("app=web", labels));
  EXPECT_TRUE(Match("app==web", labels));
  EXPECT_TRUE(Match(" app = web ", labels));
  EXPECT_FALSE(Match("app=db", labels));
  EXPECT_TRUE(Match("app!=db", labels));
  EXPECT_FALSE(Match("app!=web", labels));
  EXPECT_TRUE(Match("missing!=x", labels));  // != matches a missing key
  EXPECT_FALSE(Match("missing=x", labels));
  EXPECT_TRUE(Match("env=", labels));  // an empty value
  EXPECT_FALSE(Match("app=", labels));
}

TEST(LabelSelectorTest, SetOperators) {
  Json labels = {{"app", "web"}};
  EXPECT_TRUE(Match("app in (web,db)", labels));
  EXPECT_TRUE(Match("app in(db, web )", labels));
  EXPECT_FALSE(Match("app in (db)", labels));
  EXPECT_FALSE(Match("other in (web)", labels));
  EXPECT_TRUE(Match("app notin (db)", labels));
  EXPECT_FALSE(Match("app notin (web, db)", labels));
  EXPECT_TRUE(Match("other notin (web)", labels));  // notin matches a missing key
}

TEST(LabelSelectorTest, ExistenceOperators) {
  Json labels = {{"app", "web"}, {"example.com/team", "ml"}};
  EXPECT_TRUE(Match("app", labels));
  EXPECT_TRUE(Match("example.com/team", labels));
  EXPECT_FALSE(Match("!app", labels));
  EXPECT_TRUE(Match("!other", labels));
  EXPECT_TRUE(Match("app,!other,example.com/team=ml", labels));
  EXPECT_FALSE(Match("app,other", labels));
}

TEST(LabelSelectorTest, NumericComparisons) {
  Json labels = {{"gpu", "4"}, {"name", "x"}};
  EXPECT_TRUE(Match("gpu>3", labels));
  EXPECT_FALSE(Match("gpu>4", labels));
  EXPECT_TRUE(Match("gpu<5", labels));
  EXPECT_FALSE(Match("name>1", labels));
  EXPECT_FALSE(Match("other<1", labels));
}

TEST(LabelSelectorTest, MalformedSelectorsAreInvalidArguments) {
  for (const char* bad : {"a=b,", ",a", "a in (x", "a in x", "a notin ()", "=b", "a b", "a=b c",
                          "!", "a>x", "a===b", "-a=b", "a=b)", "a=(b)", "a in (b c)"}) {
    auto r = MatchesLabelSelector(bad, Json::object());
    EXPECT_FALSE(r.ok()) << "accepted: " << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
}

// The filter skips rows whose text lacks a selected value without parsing them; what it keeps
// must still be exactly what the selector matches (a value inside another value, or under
// another key, is no match).
TEST(ListFilterTest, TextPrefilterKeepsExactMatches) {
  auto filter = ListFilter::Parse({"wf=run-1,step", "", 0});
  ASSERT_TRUE(filter.ok()) << filter.status().ToString();
  std::vector<Json> items;
  auto add = [&](const std::string& name, const std::string& data) {
    auto more = filter->Add("ns", name, data, items);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
  };
  add("a", R"({"metadata":{"name":"a","labels":{"wf":"run-1","step":"x"}}})");   // match
  add("b", R"({"metadata":{"name":"b","labels":{"wf":"run-10","step":"x"}}})");  // longer value
  add("c", R"({"metadata":{"name":"c","labels":{"other":"run-1","step":"x"}}})");  // other key
  add("d", R"({"metadata":{"name":"d","labels":{"wf":"run-1"}}})");               // no "step"
  add("e", R"({"metadata": {"name": "e", "labels": {"step": "", "wf": "run-1"}}})");  // spaced text
  add("f", "not json, and no selected value in it");  // skipped unparsed: no error
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(StringField(items[0]["metadata"], "name"), "a");
  EXPECT_EQ(StringField(items[1]["metadata"], "name"), "e");
  // A row that has the values but is not JSON is still an error, as before.
  auto corrupt = filter->Add("ns", "g", "run-1 step {", items);
  EXPECT_FALSE(corrupt.ok());
}

TEST(FieldSelectorTest, MatchesNameNamespaceAndPhase) {
  Json pod = {{"metadata", {{"name", "p"}, {"namespace", "ns"}}},
              {"status", {{"phase", "Failed"}}}};
  auto matches = [&](const std::string& text) {
    auto sel = FieldSelector::Parse(text);
    EXPECT_TRUE(sel.ok()) << text;
    return sel.ok() && sel->Matches(pod);
  };
  EXPECT_TRUE(matches(""));
  EXPECT_TRUE(matches("metadata.name=p"));
  EXPECT_TRUE(matches("metadata.name==p,metadata.namespace=ns"));
  EXPECT_FALSE(matches("metadata.namespace!=ns"));
  EXPECT_TRUE(matches("status.phase=Failed"));
  EXPECT_TRUE(matches("status.phase!=Running"));
  EXPECT_FALSE(matches("status.phase=Running"));
}

TEST(FieldSelectorTest, RejectsUnsupportedFieldsAndSyntax) {
  EXPECT_EQ(FieldSelector::Parse("spec.nodeName=x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(FieldSelector::Parse("metadata.name").ok());
  EXPECT_FALSE(FieldSelector::Parse("metadata.name=a,").ok());
  EXPECT_FALSE(FieldSelector::Parse("metadata.name!x").ok());
}

TEST(StoreHelpersTest, KeysAndResourceVersions) {
  Json obj = {{"kind", "Pod"}, {"metadata", {{"name", "a"}, {"namespace", "n"}}}};
  EXPECT_EQ(KeyString(KeyOf(obj)), "Pod n/a");
  EXPECT_EQ(KeyString({"Namespace", "", "x"}), "Namespace x");
  EXPECT_EQ(ParseResourceVersion(obj), 0);
  obj["metadata"]["resourceVersion"] = "42";
  EXPECT_EQ(ParseResourceVersion(obj), 42);
  obj["metadata"]["resourceVersion"] = "4x";
  EXPECT_EQ(ParseResourceVersion(obj), 0);
  EXPECT_EQ(EventTypeName(EventType::kModified), "MODIFIED");
}

}  // namespace
}  // namespace skiff::store
