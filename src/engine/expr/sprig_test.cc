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

TEST(SprigTest, Base64) {
  EXPECT_EQ(Eval("sprig.b64enc('hello')"), "\"aGVsbG8=\"");
  EXPECT_EQ(Eval("sprig.b64dec('aGVsbG8=')"), "\"hello\"");
  // sprig returns the decoder's error text rather than failing.
  EXPECT_EQ(Eval("sprig.b64dec('***')"), "\"illegal base64 data at input byte 0\"");
}

TEST(SprigTest, IntegerArithmeticCastsArguments) {
  EXPECT_EQ(Eval("sprig.add(1, '2', 3.9)"), "6");
  EXPECT_EQ(Eval("sprig.add1(41)"), "42");
  EXPECT_EQ(Eval("sprig.sub(10, '3')"), "7");
  EXPECT_EQ(Eval("sprig.mul(2, 3, 4)"), "24");
  EXPECT_EQ(Eval("sprig.div(7, 2)"), "3");
  EXPECT_EQ(Eval("sprig.mod(7, 3)"), "1");
  EXPECT_EQ(Eval("sprig.max(1, 9.5, '4')"), "9");
  EXPECT_EQ(Eval("sprig.min(5, 2, 8)"), "2");
  EXPECT_EQ(Eval("sprig.add('x', 1)"), "1");  // unparsable strings cast to 0
  EXPECT_EQ(Eval("sprig.int('0x10')"), "16");
  EXPECT_EQ(Eval("sprig.int64('3.0')"), "3");
  EXPECT_EQ(Eval("sprig.float64('2.5')"), "2.5");
  EXPECT_EQ(Eval("sprig.atoi('12')"), "12");
  EXPECT_EQ(Eval("sprig.atoi('x')"), "0");
  EXPECT_NE(Eval("sprig.div(1, 0)").find("integer divide by zero"), std::string::npos);
}

TEST(SprigTest, FloatFunctions) {
  EXPECT_EQ(Eval("sprig.floor(1.7)"), "1.0");
  EXPECT_EQ(Eval("sprig.ceil('1.2')"), "2.0");
  EXPECT_EQ(Eval("sprig.round(3.14159, 2)"), "3.14");
  EXPECT_EQ(Eval("sprig.round(2.5, 0)"), "3.0");
  EXPECT_EQ(Eval("sprig.addf(0.1, 0.2)"), "0.3");  // decimal arithmetic, as sprig does
  EXPECT_EQ(Eval("sprig.mulf(1.1, 3)"), "3.3");
  EXPECT_EQ(Eval("sprig.subf(1, 0.9)"), "0.1");
  EXPECT_EQ(Eval("sprig.divf(1, 4)"), "0.25");
  EXPECT_EQ(Eval("sprig.maxf(1, 2.5)"), "2.5");
}

TEST(SprigTest, StringFunctionsTakeSubjectLast) {
  EXPECT_EQ(Eval("sprig.upper('abc')"), "\"ABC\"");
  EXPECT_EQ(Eval("sprig.lower('ABC')"), "\"abc\"");
  EXPECT_EQ(Eval("sprig.title('hello wide world')"), "\"Hello Wide World\"");
  EXPECT_EQ(Eval("sprig.trim('  x ')"), "\"x\"");
  EXPECT_EQ(Eval("sprig.trimAll('$', '$5.00$')"), "\"5.00\"");
  EXPECT_EQ(Eval("sprig.trimPrefix('-', '-x')"), "\"x\"");
  EXPECT_EQ(Eval("sprig.trimSuffix('-', 'x-')"), "\"x\"");
  EXPECT_EQ(Eval("sprig.replace(' ', '-', 'a b c')"), "\"a-b-c\"");
  EXPECT_EQ(Eval("sprig.contains('cat', 'catch')"), "true");
  EXPECT_EQ(Eval("sprig.hasPrefix('ca', 'catch')"), "true");
  EXPECT_EQ(Eval("sprig.hasSuffix('ch', 'catch')"), "true");
  EXPECT_EQ(Eval("sprig.repeat(3, 'ab')"), "\"ababab\"");
  EXPECT_EQ(Eval("sprig.substr(1, 3, 'hello')"), "\"el\"");
  EXPECT_EQ(Eval("sprig.substr(2, 99, 'hello')"), "\"llo\"");
  EXPECT_EQ(Eval("sprig.trunc(3, 'hello')"), "\"hel\"");
  EXPECT_EQ(Eval("sprig.trunc(-2, 'hello')"), "\"lo\"");
  EXPECT_EQ(Eval("sprig.split('$', 'a$b')"), R"({"_0":"a","_1":"b"})");
  EXPECT_EQ(Eval("sprig.splitList(',', 'a,b')"), R"(["a","b"])");
  EXPECT_EQ(Eval("sprig.join('-', [1, 'a', nil])"), "\"1-a\"");
  EXPECT_EQ(Eval("sprig.toString(1.5)"), "\"1.5\"");
  EXPECT_EQ(Eval("sprig.quote('a\"b', 1)"), R"("\"a\\\"b\" \"1\"")");
  EXPECT_EQ(Eval("sprig.squote('a')"), "\"'a'\"");
  EXPECT_EQ(Eval("sprig.cat('a', 1, nil, true)"), "\"a 1 true\"");
  EXPECT_EQ(Eval("sprig.indent(2, 'a\\nb')"), R"("  a\n  b")");
  EXPECT_EQ(Eval("sprig.nindent(2, 'a')"), R"("\n  a")");
  EXPECT_EQ(Eval("sprig.nospace(' a b ')"), "\"ab\"");
}

TEST(SprigTest, ListsAndDicts) {
  EXPECT_EQ(Eval("sprig.list(1, 'a')"), R"([1,"a"])");
  EXPECT_EQ(Eval("sprig.dict('a', 1, 'b')"), R"({"a":1,"b":""})");
  EXPECT_EQ(Eval("sprig.get(sprig.dict('a', 1), 'a')"), "1");
  EXPECT_EQ(Eval("sprig.get(sprig.dict('a', 1), 'z')"), "\"\"");
  EXPECT_EQ(Eval("sprig.hasKey({a: 1}, 'a')"), "true");
  EXPECT_EQ(Eval("sprig.keys({b: 1, a: 2})"), R"(["a","b"])");
  EXPECT_EQ(Eval("sprig.values({b: 1, a: 2})"), "[2,1]");
  EXPECT_EQ(Eval("sprig.pick({a: 1, b: 2}, 'a')"), R"({"a":1})");
  EXPECT_EQ(Eval("sprig.omit({a: 1, b: 2}, 'a')"), R"({"b":2})");
  EXPECT_EQ(Eval("sprig.first([1, 2])"), "1");
  EXPECT_EQ(Eval("sprig.last([1, 2])"), "2");
  EXPECT_EQ(Eval("sprig.rest([1, 2, 3])"), "[2,3]");
  EXPECT_EQ(Eval("sprig.append([1], 2)"), "[1,2]");
  EXPECT_EQ(Eval("sprig.prepend([1], 0)"), "[0,1]");
  EXPECT_EQ(Eval("sprig.uniq([1, 1, 2])"), "[1,2]");
  EXPECT_EQ(Eval("sprig.without([1, 2, 3], 2)"), "[1,3]");
  EXPECT_EQ(Eval("sprig.has(2, [1, 2])"), "true");
  EXPECT_EQ(Eval("sprig.compact([0, 1, '', 'a', nil])"), R"([1,"a"])");
  EXPECT_EQ(Eval("sprig.sortAlpha(['b', 'a', 'c'])"), R"(["a","b","c"])");
  EXPECT_EQ(Eval("sprig.until(3)"), "[0,1,2]");
}

TEST(SprigTest, DefaultsAndLogic) {
  EXPECT_EQ(Eval("sprig.default('d', '')"), "\"d\"");
  EXPECT_EQ(Eval("sprig.default('d', 'x')"), "\"x\"");
  EXPECT_EQ(Eval("sprig.default('d', missing)"), "\"d\"");
  EXPECT_EQ(Eval("sprig.empty(0)"), "true");
  EXPECT_EQ(Eval("sprig.empty([1])"), "false");
  EXPECT_EQ(Eval("sprig.coalesce(nil, '', 'x')"), "\"x\"");
  EXPECT_EQ(Eval("sprig.ternary('yes', 'no', 1 > 0)"), "\"yes\"");
  EXPECT_EQ(Eval("sprig.kindOf([1])"), "\"slice\"");
  EXPECT_EQ(Eval("sprig.typeOf(1.5)"), "\"float64\"");
  EXPECT_EQ(Eval("sprig.deepEqual([1], [1])"), "true");
}

TEST(SprigTest, JsonAndHashes) {
  EXPECT_EQ(Eval("sprig.toJson({a: [1, '<']})"), R"("{\"a\":[1,\"\\u003c\"]}")");
  EXPECT_EQ(Eval("sprig.toPrettyJson({a: 1})"), R"("{\n  \"a\": 1\n}")");
  EXPECT_EQ(Eval("sprig.fromJson('{\"a\": 1}').a"), "1.0");
  EXPECT_EQ(Eval("sprig.fromJson('nope')"), "null");
  EXPECT_EQ(Eval("sprig.sha256sum('abc')"),
            "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"");
  EXPECT_EQ(Eval("len(sprig.uuidv4())"), "36");
}

TEST(SprigTest, RegularExpressions) {
  EXPECT_EQ(Eval("sprig.regexMatch('^[a-z]+\\\\d$', 'abc1')"), "true");
  EXPECT_EQ(Eval("sprig.regexMatch('(', 'x')"), "false");  // an invalid pattern is no match
  EXPECT_EQ(Eval("sprig.regexFindAll('[0-9]+', 'a1b22c333', -1)"), R"(["1","22","333"])");
  EXPECT_EQ(Eval("sprig.regexFindAll('[0-9]+', 'a1b22c333', 2)"), R"(["1","22"])");
  EXPECT_EQ(Eval("sprig.regexReplaceAll('a(x*)b', '-ab-axxb-', '${1}W')"), "\"-W-xxW-\"");
  EXPECT_EQ(Eval("sprig.regexReplaceAll('a(x*)b', '-ab-axxb-', '$1W')"), "\"---\"");
  EXPECT_EQ(Eval("sprig.regexReplaceAll('(?P<first>\\\\w+) (\\\\w+)', 'hello world', '$2 $first')"),
            "\"world hello\"");
}

TEST(SprigTest, Dates) {
  EXPECT_EQ(Eval("sprig.date('2006-01-02', now())"), "\"2026-01-01\"");
  EXPECT_EQ(Eval("sprig.date('2006', 'not a time')"), "\"2026\"");
  EXPECT_EQ(Eval("sprig.date('2006-01-02T15:04:05Z07:00', 86400)"), "\"1970-01-02T00:00:00Z\"");
  EXPECT_EQ(Eval("sprig.date('Mon Jan _2 15:04:05 MST 2006', now())"),
            "\"Thu Jan  1 00:00:00 UTC 2026\"");
  EXPECT_EQ(Eval("sprig.dateInZone('15:04', now(), 'UTC')"), "\"00:00\"");
  EXPECT_EQ(Eval("sprig.unixEpoch(sprig.toDate('2006-01-02', '2024-03-01'))"), "\"1709251200\"");
  EXPECT_EQ(Eval("sprig.toDate('2006-01-02', 'bad').Year()"), "1");
  EXPECT_EQ(Eval("sprig.dateModify('-1h', now()).Hour()"), "23");
  EXPECT_EQ(Eval("sprig.now().Unix()"), "1767225600");
  EXPECT_EQ(Eval("sprig.duration(95)"), "\"1m35s\"");
}

TEST(SprigTest, NamespaceIsAMapOfFunctions) {
  EXPECT_EQ(Eval("'add' in sprig"), "true");
  EXPECT_EQ(Eval("type(sprig.add)"), "\"func\"");
  EXPECT_NE(Eval("sprig.upper(1)").find("must be a string"), std::string::npos);
}

}  // namespace
}  // namespace skiff::expr
