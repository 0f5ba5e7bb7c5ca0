#include <gtest/gtest.h>

#include "engine/expr/expr.h"

namespace skiff::expr {
namespace {

const TimePoint kNow = TimePoint(std::chrono::seconds(1767225600));  // 2026-01-01T00:00:00Z

std::string Eval(std::string_view src, const Json& env = Json::object()) {
  FakeClock clock(kNow);
  auto p = Program::Compile(src);
  if (!p.ok()) return "compile error: " + p.status().message();
  auto r = p->Run(env, clock);
  if (!r.ok()) return "runtime error: " + r.status().message();
  return r->dump();
}

bool Fails(std::string_view src, std::string_view text, const Json& env = Json::object()) {
  FakeClock clock(kNow);
  auto p = Program::Compile(src);
  if (!p.ok()) return p.status().message().find(text) != std::string::npos;
  auto r = p->Run(env, clock);
  return !r.ok() && r.status().message().find(text) != std::string::npos;
}

TEST(ExprBuiltinsTest, LenTypeAndConversions) {
  EXPECT_EQ(Eval("len('héllo')"), "6");  // bytes, like Go
  EXPECT_EQ(Eval("len([1, 2])"), "2");
  EXPECT_EQ(Eval("len({a: 1})"), "1");
  EXPECT_EQ(Eval("type(1)"), "\"int\"");
  EXPECT_EQ(Eval("type(1.5)"), "\"float\"");
  EXPECT_EQ(Eval("type(nil)"), "\"nil\"");
  EXPECT_EQ(Eval("type([])"), "\"array\"");
  EXPECT_EQ(Eval("type(now())"), "\"time.Time\"");
  EXPECT_EQ(Eval("int('42')"), "42");
  EXPECT_EQ(Eval("int(3.9)"), "3");
  EXPECT_EQ(Eval("int(-3.9)"), "-3");
  EXPECT_EQ(Eval("float('1.5')"), "1.5");
  EXPECT_EQ(Eval("float(2)"), "2.0");
  EXPECT_EQ(Eval("asFloat('2')"), "2.0");
  EXPECT_EQ(Eval("asInt(7.0)"), "7");
  EXPECT_TRUE(Fails("int('3.5')", "invalid operation: int(3.5)"));
  EXPECT_TRUE(Fails("float('x')", "invalid operation: float(x)"));
}

TEST(ExprBuiltinsTest, StringFormatsLikeGoPercentV) {
  EXPECT_EQ(Eval("string(1)"), "\"1\"");
  EXPECT_EQ(Eval("string(1.0)"), "\"1\"");
  EXPECT_EQ(Eval("string(1e6)"), "\"1e+06\"");
  EXPECT_EQ(Eval("string(123456.5)"), "\"123456.5\"");
  EXPECT_EQ(Eval("string([1, 'a'])"), "\"[1 a]\"");
  EXPECT_EQ(Eval("string({b: 2, a: nil})"), "\"map[a:<nil> b:2]\"");
  EXPECT_EQ(Eval("string(true)"), "\"true\"");
  EXPECT_EQ(Eval("string(now())"), "\"2026-01-01 00:00:00 +0000 UTC\"");
}

TEST(ExprBuiltinsTest, MathFunctions) {
  EXPECT_EQ(Eval("abs(-3)"), "3");
  EXPECT_EQ(Eval("abs(-3.5)"), "3.5");
  EXPECT_EQ(Eval("ceil(1.2)"), "2.0");
  EXPECT_EQ(Eval("floor(1.8)"), "1.0");
  EXPECT_EQ(Eval("round(2.5)"), "3.0");
  EXPECT_EQ(Eval("round(2)"), "2.0");
  EXPECT_EQ(Eval("max(1, 5, 3)"), "5");
  EXPECT_EQ(Eval("max([1, 2.5])"), "2.5");
  EXPECT_EQ(Eval("min(4, 2, 8)"), "2");
  EXPECT_EQ(Eval("max([])"), "null");
  EXPECT_EQ(Eval("mean([1, 2, 3, 4])"), "2.5");
  EXPECT_EQ(Eval("median([3, 1, 2])"), "2.0");
  EXPECT_EQ(Eval("median([4, 1, 2, 3])"), "2.5");
  EXPECT_TRUE(Fails("max(1, 'a')", "invalid argument for max (type string)"));
}

TEST(ExprBuiltinsTest, StringFunctions) {
  EXPECT_EQ(Eval("trim('  x  ')"), "\"x\"");
  EXPECT_EQ(Eval("trim('__x__', '_')"), "\"x\"");
  EXPECT_EQ(Eval("trimPrefix('prefix-x', 'prefix-')"), "\"x\"");
  EXPECT_EQ(Eval("trimSuffix('x.log', '.log')"), "\"x\"");
  EXPECT_EQ(Eval("upper('abc')"), "\"ABC\"");
  EXPECT_EQ(Eval("lower('ABC')"), "\"abc\"");
  EXPECT_EQ(Eval("split('a,b,c', ',')"), R"(["a","b","c"])");
  EXPECT_EQ(Eval("split('a,b,c', ',', 2)"), R"(["a","b,c"])");
  EXPECT_EQ(Eval("split('abc', '')"), R"(["a","b","c"])");
  EXPECT_EQ(Eval("splitAfter('a,b', ',')"), R"(["a,","b"])");
  EXPECT_EQ(Eval("replace('aaa', 'a', 'b')"), "\"bbb\"");
  EXPECT_EQ(Eval("replace('aaa', 'a', 'b', 2)"), "\"bba\"");
  EXPECT_EQ(Eval("repeat('ab', 3)"), "\"ababab\"");
  EXPECT_EQ(Eval("indexOf('hello', 'l')"), "2");
  EXPECT_EQ(Eval("lastIndexOf('hello', 'l')"), "3");
  EXPECT_EQ(Eval("indexOf('hello', 'z')"), "-1");
  EXPECT_EQ(Eval("hasPrefix('hello', 'he')"), "true");
  EXPECT_EQ(Eval("hasSuffix('hello', 'x')"), "false");
  EXPECT_EQ(Eval("join(['a', 'b'], '-')"), "\"a-b\"");
  EXPECT_EQ(Eval("join(['a', 'b'])"), "\"ab\"");
  EXPECT_TRUE(Fails("join([1], '-')", "invalid argument for join"));
}

TEST(ExprBuiltinsTest, JsonAndBase64) {
  EXPECT_EQ(Eval("toJSON({b: [1, 2], a: 'x'})"),
            R"("{\n  \"a\": \"x\",\n  \"b\": [\n    1,\n    2\n  ]\n}")");
  EXPECT_EQ(Eval("toJson({b: [1, 2], a: '<x>'})"), R"("{\"a\":\"\\u003cx\\u003e\",\"b\":[1,2]}")");
  EXPECT_EQ(Eval("fromJSON('{\"a\": [1, 2.5]}')"), R"({"a":[1.0,2.5]})");
  EXPECT_EQ(Eval("toBase64('hello')"), "\"aGVsbG8=\"");
  EXPECT_EQ(Eval("fromBase64('aGVsbG8=')"), "\"hello\"");
  EXPECT_TRUE(Fails("fromJSON('{')", "invalid JSON"));
  EXPECT_TRUE(Fails("fromBase64('!!!')", "illegal base64 data"));
}

TEST(ExprBuiltinsTest, CollectionFunctions) {
  EXPECT_EQ(Eval("first([1, 2])"), "1");
  EXPECT_EQ(Eval("last([1, 2])"), "2");
  EXPECT_EQ(Eval("first([])"), "null");
  EXPECT_EQ(Eval("get({a: 1}, 'a')"), "1");
  EXPECT_EQ(Eval("get([1], 5)"), "null");
  EXPECT_EQ(Eval("keys({b: 1, a: 2})"), R"(["a","b"])");
  EXPECT_EQ(Eval("values({b: 1, a: 2})"), "[2,1]");
  EXPECT_EQ(Eval("sort([3, 1, 2])"), "[1,2,3]");
  EXPECT_EQ(Eval("sort(['b', 'a'], 'desc')"), R"(["b","a"])");
  EXPECT_EQ(Eval("reverse([1, 2, 3])"), "[3,2,1]");
  EXPECT_EQ(Eval("uniq([1, 2, 1, 1.0])"), "[1,2]");
  EXPECT_EQ(Eval("concat([1], [2, 3])"), "[1,2,3]");
  EXPECT_EQ(Eval("flatten([1, [2, [3]]])"), "[1,2,3]");
  EXPECT_EQ(Eval("take([1, 2, 3], 2)"), "[1,2]");
  EXPECT_EQ(Eval("toPairs({a: 1})"), R"([["a",1]])");
  EXPECT_EQ(Eval("fromPairs([['a', 1]])"), R"({"a":1})");
  EXPECT_EQ(Eval("bitand(6, 3) + bitor(4, 1) + bitshl(1, 3)"), "15");
  EXPECT_TRUE(Fails("sort([1, 'a'])", "cannot compare"));
  EXPECT_TRUE(Fails("keys([1])", "cannot get keys from array"));
}

TEST(ExprBuiltinsTest, TimeFunctionsAndMethods) {
  EXPECT_EQ(Eval("now().Unix()"), "1767225600");
  EXPECT_EQ(Eval("now().Year()"), "2026");
  EXPECT_EQ(Eval("now().Format('2006-01-02 Mon')"), "\"2026-01-01 Thu\"");
  EXPECT_EQ(Eval("date('2024-02-29').Format('Jan _2 2006')"), "\"Feb 29 2024\"");
  EXPECT_EQ(Eval("date('10/03/2024', '02/01/2006').Month()"), "3");
  EXPECT_EQ(Eval("date('2024-01-01T10:00:00+02:00').Unix()"), "1704096000");
  EXPECT_EQ(Eval("(now() - date('2025-12-31')).Hours()"), "24.0");
  EXPECT_EQ(Eval("duration('1h30m').Minutes()"), "90.0");
  EXPECT_EQ(Eval("duration('1500ms').Seconds()"), "1.5");
  EXPECT_EQ(Eval("duration('2s').Milliseconds()"), "2000");
  EXPECT_EQ(Eval("duration('1m') > duration('59s')"), "true");
  EXPECT_EQ(Eval("date('2025-01-01') < now()"), "true");
  EXPECT_EQ(Eval("now() - duration('24h') == date('2025-12-31')"), "true");
  EXPECT_EQ(Eval("now().Add(duration('1h')).Hour()"), "1");
  EXPECT_EQ(Eval("now().Sub(date('2025-12-31T23:00:00Z')).String()"), "\"1h0m0s\"");
  EXPECT_TRUE(Fails("duration('10')", "missing unit"));
  EXPECT_TRUE(Fails("date('not a date')", "invalid date not a date"));
  EXPECT_TRUE(Fails("now().Nope()", "has no method Nope"));
}

}  // namespace
}  // namespace skiff::expr
