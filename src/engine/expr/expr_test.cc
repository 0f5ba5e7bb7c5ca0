#include "engine/expr/expr.h"

#include <gtest/gtest.h>

namespace skiff::expr {
namespace {

// 2026-01-01T00:00:00Z.
const TimePoint kNow = TimePoint(std::chrono::seconds(1767225600));

// Runs `src` and returns the result as compact JSON text, which tells ints ("3") from floats
// ("3.0") apart.
std::string Eval(std::string_view src, const Json& env = Json::object()) {
  FakeClock clock(kNow);
  auto p = Program::Compile(src);
  if (!p.ok()) return "compile error: " + p.status().message();
  auto r = p->Run(env, clock);
  if (!r.ok()) return "runtime error: " + r.status().message();
  return r->dump();
}

Status Error(std::string_view src, const Json& env = Json::object()) {
  FakeClock clock(kNow);
  auto p = Program::Compile(src);
  if (!p.ok()) return p.status();
  auto r = p->Run(env, clock);
  if (r.ok()) return Internal("unexpectedly succeeded with " + r->dump());
  return r.status();
}

bool Contains(const Status& s, std::string_view text) {
  return s.message().find(text) != std::string::npos;
}

// ---- Argo's example workflows ----

TEST(ExprArgoExamplesTest, AsIntOfParameterTimesTenIsInt) {
  Json env = {{"inputs", {{"parameters", {{"foo", "3"}}}}}};
  EXPECT_EQ(Eval("asInt(inputs.parameters.foo) * 10", env), "30");
}

TEST(ExprArgoExamplesTest, ToJsonOfFilteredArray) {
  EXPECT_EQ(Eval("toJson(filter([1, 3], {# > 1}))"), "\"[3]\"");
}

TEST(ExprArgoExamplesTest, FilterWithEndsWithOnElement) {
  Json env = {{"data", {"a/main.log", "b/init.log", "c/main.log"}}};
  EXPECT_EQ(Eval("filter(data, {# endsWith \"main.log\"})", env), R"(["a/main.log","c/main.log"])");
}

TEST(ExprArgoExamplesTest, TernaryOnStepResultWithDashedName) {
  Json env = {{"steps",
               {{"flip-coin", {{"outputs", {{"result", "heads"}}}}},
                {"heads", {{"outputs", {{"result", "it was heads"}}}}},
                {"tails", {{"outputs", {{"result", "it was tails"}}}}}}}};
  const char* src =
      "steps['flip-coin'].outputs.result == 'heads' ? steps.heads.outputs.result : "
      "steps.tails.outputs.result";
  EXPECT_EQ(Eval(src, env), "\"it was heads\"");
  env["steps"]["flip-coin"]["outputs"]["result"] = "tails";
  EXPECT_EQ(Eval(src, env), "\"it was tails\"");
}

TEST(ExprArgoExamplesTest, NilCoalescingReturnsFallbackForMissingKey) {
  Json env = {{"tasks", {{"producer", {{"outputs", {{"parameters", Json::object()}}}}}}}};
  EXPECT_EQ(Eval("tasks.producer.outputs.parameters.msg ?? 'expr-fallback'", env),
            "\"expr-fallback\"");
  env["tasks"]["producer"]["outputs"]["parameters"]["msg"] = "hello";
  EXPECT_EQ(Eval("tasks.producer.outputs.parameters.msg ?? 'expr-fallback'", env), "\"hello\"");
}

TEST(ExprArgoExamplesTest, NestedTernaryFibonacci) {
  const char* src =
      "asInt(inputs.parameters.num) == 1? 1: asInt(inputs.parameters.num) == 2? 1: "
      "steps['fibonacci-helper'].outputs.parameters.result";
  Json env = {{"inputs", {{"parameters", {{"num", "1"}}}}},
              {"steps", {{"fibonacci-helper", {{"outputs", {{"parameters", {{"result", "5"}}}}}}}}}};
  EXPECT_EQ(Eval(src, env), "1");
  env["inputs"]["parameters"]["num"] = "2";
  EXPECT_EQ(Eval(src, env), "1");
  env["inputs"]["parameters"]["num"] = "5";
  EXPECT_EQ(Eval(src, env), "\"5\"");
}

TEST(ExprArgoExamplesTest, BracketAccessToDashedParameter) {
  Json env = {{"inputs", {{"parameters", {{"should-print", "true"}}}}}};
  EXPECT_EQ(Eval("inputs.parameters[\"should-print\"] == 'true'", env), "true");
}

TEST(ExprArgoExamplesTest, JsonPathOnWorkflowParameter) {
  Json env = {{"workflow", {{"parameters", {{"json", R"([{"value": "true"}, {"value": "x"}])"}}}}}};
  EXPECT_EQ(Eval("jsonpath(workflow.parameters.json, '$[0].value') == 'true'", env), "true");
}

TEST(ExprArgoExamplesTest, JsonPathQueriesOnEmployees) {
  Json env = {{"workflow",
               {{"parameters",
                 {{"config",
                   R"({"a": "hello", "employees": [{"name": "Baris", "age": 43},
                       {"name": "Mo", "age": 42}, {"name": "Catherine", "age": 34}]})"}}}}}};
  EXPECT_EQ(Eval(R"(jsonpath(workflow.parameters.config, '$.employees[?(@.name=="Baris")].age'))",
                env),
            "[43.0]");
  EXPECT_EQ(Eval("jsonpath(workflow.parameters.config, '$.employees[?(@.age>42 && @.age<44)].age')",
                env),
            "[43.0]");
  EXPECT_EQ(Eval("jsonpath(workflow.parameters.config, '$.employees[0:1]')", env),
            R"([{"age":43.0,"name":"Baris"}])");
  EXPECT_EQ(Eval("jsonpath(workflow.parameters.config, '$.employees[*].name')", env),
            R"(["Baris","Mo","Catherine"])");
  EXPECT_EQ(Eval("jsonpath(workflow.parameters.config, '$.a')", env), "\"hello\"");
  EXPECT_EQ(Eval("toJson(jsonpath(workflow.parameters.config, '$.employees[0].age'))", env),
            "\"43\"");
}

TEST(ExprArgoExamplesTest, RetryStrategyExpression) {
  const char* src =
      "asInt(lastRetry.exitCode) > 1 && lastRetry.status != \"Error\" && "
      "asInt(lastRetry.duration) < 120 && (true == true || lastRetry.message matches "
      "'imminent node shutdown|pod deleted')";
  Json env = {{"lastRetry",
               {{"exitCode", "2"}, {"status", "Failed"}, {"duration", "30"}, {"message", ""}}}};
  EXPECT_EQ(Eval(src, env), "true");
  env["lastRetry"]["exitCode"] = "1";
  EXPECT_EQ(Eval(src, env), "false");
  env["lastRetry"]["exitCode"] = "3";
  env["lastRetry"]["status"] = "Error";
  EXPECT_EQ(Eval(src, env), "false");
}

TEST(ExprArgoExamplesTest, SprigDateWithNonTimeUsesNow) {
  Json env = {{"workflow", {{"creationTimestamp", "2020-05-05T10:00:00Z"}}}};
  EXPECT_EQ(Eval("sprig.date('2006', workflow.creationTimestamp)", env), "\"2026\"");
  // Through the public entry point, "now" is the real clock.
  auto r = Evaluate("sprig.date('2006', workflow.creationTimestamp)", env);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->get<std::string>().size(), 4u);
}

TEST(ExprArgoExamplesTest, CronLastScheduledTime) {
  const char* src =
      "cronworkflow.lastScheduledTime == nil || (now() - cronworkflow.lastScheduledTime)"
      ".Seconds() > 360";
  EXPECT_EQ(Eval(src, {{"cronworkflow", {{"lastScheduledTime", nullptr}}}}), "true");
  EXPECT_EQ(Eval(src, {{"cronworkflow", Json::object()}}), "true");
  EXPECT_EQ(Eval(src, {{"cronworkflow", {{"lastScheduledTime", {{"$time", "2025-12-31T23:50:00Z"}}}}}}),
            "true");
  EXPECT_EQ(Eval(src, {{"cronworkflow", {{"lastScheduledTime", {{"$time", "2025-12-31T23:58:00Z"}}}}}}),
            "false");
}

TEST(ExprArgoExamplesTest, WeatherStatisticsWithSprigAndJsonPath) {
  const char* src = R"(
map([
    jsonpath(sprig.b64dec(jsonpath(workflow.parameters.weather, '$.weekWeather')), '$.temps')
  ], {
    toJson({
      avg: sprig.add(#[0], #[1], #[2], #[3], #[4]) / 5,
      min: sprig.min(#[0], #[1], #[2], #[3], #[4]),
      max: sprig.max(#[0], #[1], #[2], #[3], #[4])
    })
})[0]
)";
  Json env = {{"workflow",
               {{"parameters",
                 {{"weather",
                   R"({"weekWeather": "eyJ0ZW1wcyI6IFszNCwgMjcsIDE1LCA1NywgNDZdfQo="})"}}}}}};
  EXPECT_EQ(Eval(src, env), R"("{\"avg\":35.8,\"max\":57,\"min\":15}")");
}

TEST(ExprArgoExamplesTest, StatusComparisons) {
  Json env = {{"workflow", {{"status", "Running"}}},
              {"steps", {{"step-1", {{"status", "Succeeded"}}}}}};
  EXPECT_EQ(Eval("workflow.status == \"Running\"", env), "true");
  EXPECT_EQ(Eval("steps[\"step-1\"].status == \"Succeeded\"", env), "true");
  EXPECT_EQ(Eval("steps[\"step-1\"].status == \"Failed\"", env), "false");
}

// ---- literals ----

TEST(ExprLiteralTest, IntegerForms) {
  EXPECT_EQ(Eval("0x1F"), "31");
  EXPECT_EQ(Eval("0o17"), "15");
  EXPECT_EQ(Eval("0b101"), "5");
  EXPECT_EQ(Eval("1_000_000"), "1000000");
  EXPECT_EQ(Eval("017"), "17");  // upstream parses a leading zero as decimal
}

TEST(ExprLiteralTest, FloatForms) {
  EXPECT_EQ(Eval("1.5"), "1.5");
  EXPECT_EQ(Eval(".5"), "0.5");
  EXPECT_EQ(Eval("1e3"), "1000.0");
  EXPECT_EQ(Eval("2.5e-1"), "0.25");
}

TEST(ExprLiteralTest, StringsAndEscapes) {
  EXPECT_EQ(Eval(R"("a\tb\n")"), R"("a\tb\n")");
  EXPECT_EQ(Eval(R"('it\'s')"), R"("it's")");
  EXPECT_EQ(Eval(R"("\u00e9\x41")"), "\"\xC3\xA9" "A\"");
  EXPECT_EQ(Eval("`raw\\n`"), R"("raw\\n")");
}

TEST(ExprLiteralTest, ArraysMapsAndConstants) {
  EXPECT_EQ(Eval("[1, 'a', true, nil]"), R"([1,"a",true,null])");
  EXPECT_EQ(Eval("{a: 1, \"b c\": 2, (\"x\" + \"y\"): 3, 4: 5}"), R"({"4":5,"a":1,"b c":2,"xy":3})");
  EXPECT_EQ(Eval("[1, 2,]"), "[1,2]");
}

// ---- operators ----

TEST(ExprOperatorTest, ArithmeticKeepsIntsAndDivisionIsFloat) {
  EXPECT_EQ(Eval("1 + 2 * 3"), "7");
  EXPECT_EQ(Eval("(1 + 2) * 3"), "9");
  EXPECT_EQ(Eval("7 / 2"), "3.5");
  EXPECT_EQ(Eval("6 / 2"), "3.0");
  EXPECT_EQ(Eval("7 % 3"), "1");
  EXPECT_EQ(Eval("1 + 1.5"), "2.5");
  EXPECT_EQ(Eval("2 ** 3"), "8.0");
  EXPECT_EQ(Eval("2 ^ 3 ^ 2"), "512.0");  // right associative
  EXPECT_EQ(Eval("-2 ** 2"), "-4.0");     // unary minus binds looser than **
  EXPECT_EQ(Eval("10 - 2 - 3"), "5");
  EXPECT_EQ(Eval("9223372036854775807 + 1"), "-9223372036854775808");  // wraps like Go
}

TEST(ExprOperatorTest, StringAndArrayConcatenation) {
  EXPECT_EQ(Eval("'a' + 'b'"), "\"ab\"");
  EXPECT_EQ(Eval("[1] + [2, 3]"), "[1,2,3]");
}

TEST(ExprOperatorTest, ComparisonsAcrossNumberTypes) {
  EXPECT_EQ(Eval("1 == 1.0"), "true");
  EXPECT_EQ(Eval("1 < 1.5"), "true");
  EXPECT_EQ(Eval("'abc' < 'abd'"), "true");
  EXPECT_EQ(Eval("'1' == 1"), "false");
  EXPECT_EQ(Eval("[1, 'a'] == [1, 'a']"), "true");
  EXPECT_EQ(Eval("{a: 1} == {a: 1}"), "true");
  EXPECT_EQ(Eval("nil == nil"), "true");
  EXPECT_EQ(Eval("1 < 2 < 3"), "true");
  EXPECT_EQ(Eval("3 > 2 > 2"), "false");
}

TEST(ExprOperatorTest, LogicalOperatorsShortCircuit) {
  EXPECT_EQ(Eval("true && false"), "false");
  EXPECT_EQ(Eval("false or true"), "true");
  EXPECT_EQ(Eval("not true"), "false");
  EXPECT_EQ(Eval("!false"), "true");
  // The right side would fail (fetch from nil) if it were evaluated.
  EXPECT_EQ(Eval("false && missing.field"), "false");
  EXPECT_EQ(Eval("true || missing.field"), "true");
  EXPECT_EQ(Eval("'x' ?? missing.field"), "\"x\"");
  EXPECT_EQ(Eval("true ? 1 : missing.field"), "1");
}

TEST(ExprOperatorTest, PrecedenceOfLogicAndComparison) {
  EXPECT_EQ(Eval("1 + 1 == 2 and 3 > 2 or false"), "true");
  EXPECT_EQ(Eval("true or false and false"), "true");
  EXPECT_EQ(Eval("not false == true"), "true");  // `not` binds tighter than `==`
  EXPECT_EQ(Eval("1 in [1, 2] && 'a' in {a: 1}"), "true");
  EXPECT_EQ(Eval("1..3"), "[1,2,3]");
  EXPECT_EQ(Eval("2 + 1..2 + 2"), "[3,4]");
}

TEST(ExprOperatorTest, CoalesceBindsTighterThanArithmetic) {
  // expr gives ?? the highest binary precedence.
  EXPECT_EQ(Eval("x ?? 1 + 2"), "3");
  EXPECT_EQ(Eval("x ?? y ?? 'z'"), "\"z\"");
}

TEST(ExprOperatorTest, StringOperators) {
  EXPECT_EQ(Eval("'hello' contains 'ell'"), "true");
  EXPECT_EQ(Eval("'hello' startsWith 'he'"), "true");
  EXPECT_EQ(Eval("'hello' endsWith 'lo'"), "true");
  EXPECT_EQ(Eval("'hello' matches '^h.*o$'"), "true");
  EXPECT_EQ(Eval("'HELLO' matches '(?i)hello'"), "true");
  EXPECT_EQ(Eval("'hello' not contains 'z'"), "true");
  EXPECT_EQ(Eval("'hello' not matches 'z'"), "true");
  EXPECT_EQ(Eval("3 not in [1, 2]"), "true");
  EXPECT_EQ(Eval("'p' matches x", {{"x", "p+"}}), "true");
}

TEST(ExprOperatorTest, TernaryAndElvis) {
  EXPECT_EQ(Eval("1 > 2 ? 'a' : 2 > 1 ? 'b' : 'c'"), "\"b\"");
  EXPECT_EQ(Eval("false ?: 'fallback'"), "\"fallback\"");
  EXPECT_EQ(Eval("true ?: 'fallback'"), "true");
}

TEST(ExprOperatorTest, PipeCallsWithLeftAsFirstArgument) {
  EXPECT_EQ(Eval("'a,b' | split(',')"), R"(["a","b"])");
  EXPECT_EQ(Eval("[1, 2, 3] | filter(# > 1) | map(# * 2)"), "[4,6]");
}

TEST(ExprOperatorTest, LetBindsVariables) {
  EXPECT_EQ(Eval("let x = 2; let y = x * 3; x + y"), "8");
}

// ---- member access ----

TEST(ExprMemberTest, IndexesSlicesAndNegativeIndexes) {
  Json env = {{"a", {10, 20, 30, 40}}, {"s", "hello"}};
  EXPECT_EQ(Eval("a[0]", env), "10");
  EXPECT_EQ(Eval("a[-1]", env), "40");
  EXPECT_EQ(Eval("a[1:3]", env), "[20,30]");
  EXPECT_EQ(Eval("a[:2]", env), "[10,20]");
  EXPECT_EQ(Eval("a[2:]", env), "[30,40]");
  EXPECT_EQ(Eval("a[-2:]", env), "[30,40]");
  EXPECT_EQ(Eval("a[3:1]", env), "[]");
  EXPECT_EQ(Eval("s[1:]", env), "\"ello\"");
  EXPECT_EQ(Eval("s[:2]", env), "\"he\"");
}

TEST(ExprMemberTest, MissingKeyIsNilAndMissingIdentifierIsNil) {
  Json env = {{"m", {{"a", 1}}}};
  EXPECT_EQ(Eval("m.b", env), "null");
  EXPECT_EQ(Eval("m['b']", env), "null");
  EXPECT_EQ(Eval("undefinedThing", env), "null");
  EXPECT_EQ(Eval("undefinedThing == nil", env), "true");
}

TEST(ExprMemberTest, FetchFromNilIsAnErrorUnlessOptional) {
  Json env = {{"m", {{"a", nullptr}}}};
  Status s = Error("m.a.b", env);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s, "cannot fetch b from nil")) << s.message();
  EXPECT_TRUE(Contains(s, "(1:5)")) << s.message();
  EXPECT_EQ(Eval("m.a?.b", env), "null");
  EXPECT_EQ(Eval("m.a?.b.c.d", env), "null");  // the whole chain short-circuits
  EXPECT_EQ(Eval("m.a?.[0]", env), "null");
  EXPECT_EQ(Eval("m?.a", env), "null");
  EXPECT_EQ(Eval("nothing?.x ?? 'd'", env), "\"d\"");
}

TEST(ExprMemberTest, StringIndexYieldsTheByteLikeGo) {
  EXPECT_EQ(Eval("'abc'[0]"), "97");
  EXPECT_EQ(Eval("'abc'[-1]"), "99");
}

TEST(ExprMemberTest, IndexOutOfRangeIsAnError) {
  Status s = Error("[1, 2][5]");
  EXPECT_TRUE(Contains(s, "index out of range: 5 (array length is 2)")) << s.message();
}

TEST(ExprMemberTest, EnvOperatorNamesAsProperties) {
  Json env = {{"x", {{"in", 1}, {"matches", 2}}}};
  EXPECT_EQ(Eval("x.in + x.matches", env), "3");
  EXPECT_EQ(Eval("$env.x.in", env), "1");
}

// ---- closures ----

TEST(ExprClosureTest, PredicatesOverArrays) {
  Json env = {{"xs", {1, 2, 3, 4}}};
  EXPECT_EQ(Eval("all(xs, {# > 0})", env), "true");
  EXPECT_EQ(Eval("any(xs, {# > 3})", env), "true");
  EXPECT_EQ(Eval("none(xs, {# > 4})", env), "true");
  EXPECT_EQ(Eval("one(xs, {# == 2})", env), "true");
  EXPECT_EQ(Eval("map(xs, {# * #index})", env), "[0,2,6,12]");
  EXPECT_EQ(Eval("count(xs, {# % 2 == 0})", env), "2");
  EXPECT_EQ(Eval("find(xs, # > 2)", env), "3");
  EXPECT_EQ(Eval("findIndex(xs, # > 2)", env), "2");
  EXPECT_EQ(Eval("findLast(xs, # < 3)", env), "2");
  EXPECT_EQ(Eval("findLastIndex(xs, # < 3)", env), "1");
  EXPECT_EQ(Eval("find(xs, # > 10)", env), "null");
  EXPECT_EQ(Eval("sum(xs)", env), "10");
  EXPECT_EQ(Eval("sum(xs, # * 0.5)", env), "5.0");
  EXPECT_EQ(Eval("reduce(xs, #acc + #)", env), "10");
  EXPECT_EQ(Eval("reduce(xs, #acc + #, 100)", env), "110");
}

TEST(ExprClosureTest, FieldShorthandAndElementIndexing) {
  Json env = {{"items", {{{"name", "a"}, {"n", 2}}, {{"name", "b"}, {"n", 1}}}},
              {"pairs", {{1, 2}, {3, 4}}}};
  EXPECT_EQ(Eval("filter(items, {.n == 2})[0].name", env), "\"a\"");
  EXPECT_EQ(Eval("map(items, .name)", env), R"(["a","b"])");
  EXPECT_EQ(Eval("map(pairs, #[0] + #[1])", env), "[3,7]");
  EXPECT_EQ(Eval("sortBy(items, .n)[0].name", env), "\"b\"");
  EXPECT_EQ(Eval("sortBy(items, .n, 'desc')[0].name", env), "\"a\"");
  EXPECT_EQ(Eval("groupBy(items, .n > 1)", env),
            R"({"false":[{"n":1,"name":"b"}],"true":[{"n":2,"name":"a"}]})");
}

TEST(ExprClosureTest, NestedClosuresSeeTheirOwnElement) {
  EXPECT_EQ(Eval("map([[1, 2], [3]], {map(#, {# * 10})})"), "[[10,20],[30]]");
  EXPECT_EQ(Eval("filter([[1, 2], [3]], {any(#, {# == 3})})"), "[[3]]");
}

TEST(ExprClosureTest, PredicateMustReturnBool) {
  Status s = Error("filter([1], {#})");
  EXPECT_TRUE(Contains(s, "must return bool")) << s.message();
}

TEST(ExprClosureTest, PointerOutsidePredicateIsASyntaxError) {
  auto p = Program::Compile("# > 1");
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(Contains(p.status(), "cannot use pointer accessor outside predicate"));
}

// ---- errors ----

TEST(ExprErrorTest, UnknownFunctionIsACompileError) {
  auto p = Program::Compile("1 + foo(2)");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(p.status(), "unknown function \"foo\"")) << p.status().message();
  EXPECT_TRUE(Contains(p.status(), "(1:5)")) << p.status().message();
  auto q = Program::Compile("sprig.nope(1)");
  ASSERT_FALSE(q.ok());
  EXPECT_TRUE(Contains(q.status(), "unknown function \"sprig.nope\"")) << q.status().message();
}

TEST(ExprErrorTest, SyntaxErrorsNameTokenAndPosition) {
  auto p = Program::Compile("a +\n  )");
  ASSERT_FALSE(p.ok());
  EXPECT_TRUE(Contains(p.status(), "unexpected token Bracket(\")\")")) << p.status().message();
  EXPECT_TRUE(Contains(p.status(), "(2:3)")) << p.status().message();
  EXPECT_FALSE(Program::Compile("(1 + 2").ok());
  EXPECT_FALSE(Program::Compile("'unterminated").ok());
  EXPECT_FALSE(Program::Compile("1 @ 2").ok());
  EXPECT_FALSE(Program::Compile("'a' matches '('").ok());  // invalid regex literal
  EXPECT_FALSE(Program::Compile("").ok());
}

TEST(ExprErrorTest, TypeErrorsNameTheTypes) {
  EXPECT_TRUE(Contains(Error("'a' < 1"), "cannot compare string and int"));
  EXPECT_TRUE(Contains(Error("'a' + 1"), "invalid operation: string + int"));
  EXPECT_TRUE(Contains(Error("1.5 % 2"), "invalid operation: float % int"));
  EXPECT_TRUE(Contains(Error("1 % 0"), "integer divide by zero"));
  EXPECT_TRUE(Contains(Error("'a' && true"), "non-bool value (type string)"));
  EXPECT_TRUE(Contains(Error("1 ? 2 : 3"), "non-bool expression (type int) used as condition"));
  EXPECT_TRUE(Contains(Error("asInt('abc')"), "invalid operation: int(abc)"));
  EXPECT_TRUE(Contains(Error("len(1)"), "invalid argument for len (type int)"));
  EXPECT_TRUE(Contains(Error("1 in 'abc'"), "operator \"in\" not defined on string"));
}

TEST(ExprErrorTest, DeepNestingIsRejectedNotCrashing) {
  std::string deep(1000, '(');
  deep += "1";
  deep += std::string(1000, ')');
  EXPECT_FALSE(Program::Compile(deep).ok());
  std::string long_sum = "1";
  for (int i = 0; i < 5000; ++i) long_sum += " + 1";
  EXPECT_FALSE(Program::Compile(long_sum).ok());
}

// ---- programs ----

TEST(ExprProgramTest, CompiledProgramRunsAgainstManyEnvironments) {
  auto p = Program::Compile("x * 2");
  ASSERT_TRUE(p.ok());
  Program copy = *p;
  auto a = copy.Run({{"x", 2}});
  auto b = p->Run({{"x", 1.5}});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->dump(), "4");
  EXPECT_EQ(b->dump(), "3.0");
  EXPECT_EQ(copy.source(), "x * 2");
}

TEST(ExprProgramTest, TimesAndDurationsConvertAtTheBoundary) {
  EXPECT_EQ(Eval("now()"), R"({"$time":"2026-01-01T00:00:00Z"})");
  EXPECT_EQ(Eval("duration('1h30m')"), "\"1h30m0s\"");
  EXPECT_EQ(Eval("t + duration('90s')", {{"t", {{"$time", "2026-01-01T10:00:00+02:00"}}}}),
            R"({"$time":"2026-01-01T10:01:30+02:00"})");
  EXPECT_EQ(Eval("t", {{"t", {{"$time", "not a time"}}}}), R"({"$time":"not a time"})");
}

TEST(ExprProgramTest, EvaluateCompilesAndRuns) {
  auto r = Evaluate("a.b + 1", {{"a", {{"b", 41}}}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Json(42));
  EXPECT_FALSE(Evaluate("a.b.c", {{"a", Json::object()}}).ok());
}

}  // namespace
}  // namespace skiff::expr
