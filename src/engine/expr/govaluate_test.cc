#include <gtest/gtest.h>

#include "engine/expr/expr.h"

namespace skiff::expr {
namespace {

// "true", "false", or "error: <message>".
std::string When(std::string_view src) {
  auto r = EvaluateWhen(src);
  if (!r.ok()) return "error: " + r.status().message();
  return *r ? "true" : "false";
}

bool FailsWith(std::string_view src, std::string_view text) {
  auto r = EvaluateWhen(src);
  return !r.ok() && r.status().code() == StatusCode::kInvalidArgument &&
         r.status().message().find(text) != std::string::npos;
}

TEST(GovaluateWhenTest, BareWordsAreStrings) {
  EXPECT_EQ(When("heads == heads"), "true");
  EXPECT_EQ(When("tails == heads"), "false");
  EXPECT_EQ(When("Succeeded == Succeeded"), "true");
  EXPECT_EQ(When("Succeeded != Failed"), "true");
  EXPECT_EQ(When("hea =~ hea"), "true");
  EXPECT_EQ(When("heads =~ '^h'"), "true");
  EXPECT_EQ(When("tails !~ '^h'"), "true");
  EXPECT_EQ(When("[escaped name] == 'escaped name'"), "true");
}

TEST(GovaluateWhenTest, NumbersBooleansAndLogic) {
  EXPECT_EQ(When("5 < 10"), "true");
  EXPECT_EQ(When("10 < 5"), "false");
  EXPECT_EQ(When("7 != 1 && 7 != 2"), "true");
  EXPECT_EQ(When("true == true"), "true");
  EXPECT_EQ(When("true && false || true"), "true");
  EXPECT_EQ(When("!false"), "true");
  EXPECT_EQ(When("-5 < 3"), "true");
  EXPECT_EQ(When("1.5 >= 1.5"), "true");
  EXPECT_EQ(When("0x10 == 16"), "true");
}

TEST(GovaluateWhenTest, MultiLineGroupedConditions) {
  EXPECT_EQ(When("( heads == heads && tails == tails ) ||\n  ( tails == tails && tails == tails )"),
            "true");
  EXPECT_EQ(When("(heads == tails) ||\n(tails == heads)"), "false");
}

TEST(GovaluateWhenTest, ArithmeticPrecedenceAndAssociativity) {
  EXPECT_EQ(When("1 + 2 * 3 == 7"), "true");
  EXPECT_EQ(When("(1 + 2) * 3 == 9"), "true");
  EXPECT_EQ(When("10 - 2 - 3 == 5"), "true");
  EXPECT_EQ(When("16 / 4 / 2 == 2"), "true");
  EXPECT_EQ(When("2 ** 3 == 8"), "true");
  EXPECT_EQ(When("7 % 4 == 3"), "true");
  EXPECT_EQ(When("(6 & 3) == 2"), "true");
}

TEST(GovaluateWhenTest, EqualityIsTypeStrict) {
  EXPECT_EQ(When("'5' == 5"), "false");
  EXPECT_EQ(When("'1' + 1 == '11'"), "true");  // + with a string concatenates %v forms
  EXPECT_EQ(When("1 + 1 == 2"), "true");
  EXPECT_EQ(When("'abc' < 'abd'"), "true");
}

TEST(GovaluateWhenTest, InTernaryAndCoalesce) {
  EXPECT_EQ(When("b in (a, b, c)"), "true");
  EXPECT_EQ(When("2 in (1, 3)"), "false");
  EXPECT_EQ(When("1 > 0 ? true : false"), "true");
  EXPECT_EQ(When("1 < 0 ? true : false"), "false");
  EXPECT_EQ(When("false ? 1 : 2 == 2"), "true");
}

TEST(GovaluateWhenTest, DateStringsCompareAsTimes) {
  EXPECT_EQ(When("'2024-01-02' > '2024-01-01'"), "true");
  EXPECT_EQ(When("'2024-01-02T10:00:00Z' == '2024-01-02T12:00:00+02:00'"), "true");
}

TEST(GovaluateWhenTest, TwoBareWordsInARowAreASyntaxError) {
  EXPECT_TRUE(FailsWith("hello world == hello world",
                        "Cannot transition token types from VARIABLE [hello] to VARIABLE [world]"));
}

TEST(GovaluateWhenTest, DashedBareWordsAreATypeError) {
  EXPECT_TRUE(FailsWith("foo-bar == foo-bar",
                        "Value 'foo' cannot be used with the modifier '-', it is not a number"));
}

TEST(GovaluateWhenTest, TypeErrorsNameValueAndOperator) {
  EXPECT_TRUE(FailsWith("1 > 'a'", "Value '1' cannot be used with the comparator '>'"));
  EXPECT_TRUE(FailsWith("a && true", "Value 'a' cannot be used with the logical operator '&&'"));
  EXPECT_TRUE(FailsWith("1 in 2", "it is not an array"));
  EXPECT_TRUE(FailsWith("a.b == a.b", "No parameter 'a' found."));
  EXPECT_TRUE(FailsWith("!foo", "Cannot transition token types from PREFIX [!] to STRING [foo]"));
}

TEST(GovaluateWhenTest, SyntaxErrorsNameTheToken) {
  EXPECT_TRUE(FailsWith("5 === 5", "Invalid token: '==='"));
  EXPECT_TRUE(FailsWith("(5 == 5", "Unbalanced parenthesis"));
  EXPECT_TRUE(FailsWith("5 ==", "Unexpected end of expression"));
  EXPECT_TRUE(FailsWith("'open == x", "Unclosed string literal"));
  EXPECT_TRUE(FailsWith("x =~ '('", "error parsing regexp"));
}

TEST(GovaluateWhenTest, EmptyConditionIsTrueButBlankIsAnError) {
  EXPECT_EQ(When(""), "true");
  EXPECT_TRUE(FailsWith("   ", "Unexpected end of expression"));
}

TEST(GovaluateWhenTest, NonBooleanResultIsAnError) {
  EXPECT_TRUE(FailsWith("5", "expected boolean result, got 5"));
  EXPECT_TRUE(FailsWith("heads", "expected boolean result, got heads"));
  EXPECT_TRUE(FailsWith("1 + 2", "expected boolean result, got 3"));
}

}  // namespace
}  // namespace skiff::expr
