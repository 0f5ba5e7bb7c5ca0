#include "common/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

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

namespace skiff {
namespace {

// ParseJson against nlohmann::json::parse, which it replaces: the same acceptance and the same
// value, down to the number types and the bits of doubles.

// nlohmann's reading of `text`, or nullopt when it rejects it (a parse_error, or out_of_range
// for a number too large for a double).
std::optional<Json> NlohmannParse(std::string_view text) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

// Equal values of equal types (nlohmann's == holds 1 == 1u == 1.0 and -0.0 == 0.0); an empty
// string when they are, else where they differ.
std::string Difference(const Json& a, const Json& b, const std::string& path = "$") {
  if (a.type() != b.type()) {
    return path + ": type " + a.type_name() + " vs " + b.type_name();
  }
  switch (a.type()) {
    case Json::value_t::object: {
      const auto& ao = a.get_ref<const Json::object_t&>();
      const auto& bo = b.get_ref<const Json::object_t&>();
      if (ao.size() != bo.size()) return path + ": object sizes differ";
      for (auto i = ao.begin(), j = bo.begin(); i != ao.end(); ++i, ++j) {
        if (i->first != j->first) return path + ": keys " + i->first + " vs " + j->first;
        std::string d = Difference(i->second, j->second, path + "." + i->first);
        if (!d.empty()) return d;
      }
      return "";
    }
    case Json::value_t::array: {
      if (a.size() != b.size()) return path + ": array sizes differ";
      for (size_t i = 0; i < a.size(); ++i) {
        std::string d = Difference(a[i], b[i], path + "[" + std::to_string(i) + "]");
        if (!d.empty()) return d;
      }
      return "";
    }
    case Json::value_t::number_float: {
      const double x = a.get<double>();
      const double y = b.get<double>();
      if (std::memcmp(&x, &y, sizeof x) != 0) return path + ": " + a.dump() + " vs " + b.dump();
      return "";
    }
    default:
      return a == b ? "" : path + ": " + a.dump() + " vs " + b.dump();
  }
}

// Empty if ParseJson and nlohmann agree on `text`, else what differs.
std::string Disagreement(std::string_view text) {
  const std::optional<Json> want = NlohmannParse(text);
  const Result<Json> got = ParseJson(text);
  if (want.has_value() != got.ok()) {
    return want.has_value() ? "rejected what nlohmann accepts: " + got.status().message()
                            : "accepted what nlohmann rejects";
  }
  return want.has_value() ? Difference(*got, *want) : "";
}

std::string Printable(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

TEST(ParseJsonTest, EdgeCasesMatchNlohmann) {
  const std::vector<std::string> cases = {
      // documents and whitespace
      "", " ", "null", " null ", "\t\r\n null \n", "true", "false", "nul", "nulll", "True",
      "null x", "null null", "[] []", "{}", "[]", "{ }", "[ ]", "\f1", "\v1", "1\f", "\xa0" "1",
      "\xef\xbb\xbf" "1", "\xef\xbb\xbf", "\xef\xbb" "1", " \xef\xbb\xbf" "1", "\xef\xbb\xbf\xef\xbb\xbf" "1",
      std::string("1\0", 2), std::string("1 \0 x", 5), std::string("\0", 1),
      std::string("[1\0]", 5), std::string("\"a\"\0\"b\"", 7), std::string(" \0", 2), std::string("[\"a\0\"]", 6),
      // numbers
      "0", "-0", "-0.0", "0.0", "-", "+1", "01", "-01", "00", "1.", ".5", "1.e5", "1e", "1e+",
      "1e-", "1E5", "1e+5", "1e-5", "1.5E-3", "-1.5e+300", "1e308", "1e309", "-1e309", "1e-400",
      "4.9e-324", "2.4e-324", "2.5e-324", "1.7976931348623157e308", "1.7976931348623159e308",
      "0.1", "0.30000000000000004", "123456789012345678901234567890",
      "9223372036854775807", "9223372036854775808", "-9223372036854775808",
      "-9223372036854775809", "18446744073709551615", "18446744073709551616",
      "-18446744073709551616", "100000000000000000000", "1.0", "10", "-10", "0e0", "0E+0", "-0e-0",
      "1x", "1 2", "[1,]", "[,1]", "[1 2]", "[01]", "[-]", "[1.]", "[1e]", "NaN", "Infinity",
      "-Infinity", "0x10", "1_0", "٣",
      "2.2250738585072011e-308", "2.2250738585072014e-308", "9007199254740993",
      "0.000000000000000000000000000000000000000000001e-280",
      // strings
      "\"\"", "\"abc\"", "\"a\\\"b\"", "\"\\\\\"", "\"\\/\"", "\"\\b\\f\\n\\r\\t\"", "\"\\a\"",
      "\"\\x41\"", "\"\\'\"", "\"\\u0041\"", "\"\\u00e9\"", "\"\\u00E9\"", "\"\\u20ac\"",
      "\"\\u0000\"", "\"a\\u0000b\"", "\"\\u001f\"", "\"\\uD83D\\uDE00\"", "\"\\ud83d\\ude00\"",
      "\"\\uD83D\"", "\"\\uD83Dx\"", "\"\\uD83D\\u0041\"", "\"\\uDE00\"", "\"\\uDE00\\uD83D\"",
      "\"\\uD83D\\uD83D\"", "\"\\uDBFF\\uDFFF\"", "\"\\uD800\\uDC00\"", "\"\\u12\"", "\"\\u12G4\"",
      "\"\\u\"", "\"\\uD83D\\u\"", "\"\\uD83D\\\"", "\"\\", "\"abc", "\"", "\"\\\"",
      "\"tab\there\"", "\"nl\nhere\"", "\"\x01\"", "\"\x1f\"", "\"\x7f\"", "\"\xc3\xa9\"",
      "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"", "\"\xc3\"", "\"\xc3(\"", "\"\x80\"", "\"\xbf\"",
      "\"\xc0\x80\"", "\"\xc1\xbf\"", "\"\xc2\x80\"", "\"\xdf\xbf\"", "\"\xe0\x80\x80\"",
      "\"\xe0\x9f\xbf\"", "\"\xe0\xa0\x80\"", "\"\xed\x9f\xbf\"", "\"\xed\xa0\x80\"",
      "\"\xed\xbf\xbf\"", "\"\xee\x80\x80\"", "\"\xef\xbf\xbf\"", "\"\xf0\x80\x80\x80\"",
      "\"\xf0\x8f\xbf\xbf\"", "\"\xf0\x90\x80\x80\"", "\"\xf4\x8f\xbf\xbf\"", "\"\xf4\x90\x80\x80\"",
      "\"\xf5\x80\x80\x80\"", "\"\xff\"", "\"\xfe\"", "\"\xe2\x82\"", "\"\xf0\x9f\x98\"",
      "\"\xf0\x9f\x98", "\"\xe2\x82", "'a'", "\"a\"\"b\"",
      // objects and arrays
      "{\"a\":1}", "{\"a\":1,}", "{,\"a\":1}", "{\"a\" 1}", "{\"a\":}", "{\"a\"}", "{a:1}",
      "{1:1}", "{\"a\":1 \"b\":2}", "{\"a\":1,\"a\":2}", "{\"a\":[1],\"a\":{\"b\":2}}",
      "{\"a\":{\"x\":1},\"a\":{\"y\":2}}", "{\"b\":1,\"a\":2,\"c\":3}", "{\"\":0}",
      "{\"a\\u0000b\":1,\"a\":2}", " { \"a\" : [ 1 , { } , [ ] , \"x\" ] } ", "[[[[]]]]", "[[[[]]]",
      "[]]", "{}}", "{\"a\":1}}", "[1,2,3", "{\"a\":1", "{\"a\"", "{\"a", "{", "[", "]", "}",
      ":", ",", "[1:2]", "{\"a\",1}", "[true,false,null]", "[truex]", "[nul]",
      "{\"k\":\"\\uD83D\\uDE00\",\"\xf0\x9f\x98\x80\":true}",
  };
  for (const std::string& text : cases) {
    EXPECT_EQ(Disagreement(text), "") << "input: " << Printable(text);
  }
}

TEST(ParseJsonTest, NumberTypes) {
  EXPECT_TRUE(ParseJson("1")->is_number_unsigned());
  EXPECT_TRUE(ParseJson("-1")->is_number_integer());
  EXPECT_FALSE(ParseJson("-1")->is_number_unsigned());
  EXPECT_TRUE(ParseJson("-0")->is_number_integer());  // as nlohmann: an integer 0
  EXPECT_TRUE(ParseJson("1.0")->is_number_float());
  EXPECT_TRUE(ParseJson("1e2")->is_number_float());
  EXPECT_TRUE(ParseJson("18446744073709551616")->is_number_float());
  EXPECT_TRUE(std::signbit(ParseJson("-0.0")->get<double>()));
  EXPECT_EQ(ParseJson("-9223372036854775808")->get<int64_t>(), INT64_MIN);
  EXPECT_EQ(ParseJson("18446744073709551615")->get<uint64_t>(), UINT64_MAX);
}

TEST(ParseJsonTest, ErrorsNameTheByte) {
  const Result<Json> r = ParseJson("{\"a\": [1, 2,, 3]}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind("invalid JSON: ", 0), 0u) << r.status().message();
  EXPECT_NE(r.status().message().find("at byte 12"), std::string::npos) << r.status().message();
  EXPECT_NE(ParseJson("").status().message().find("at byte 0"), std::string::npos);
  EXPECT_NE(ParseJson("1e999").status().message().find("number overflow"), std::string::npos);
}

TEST(ParseJsonTest, RepeatedKeyKeepsTheLastValue) {
  const Result<Json> r = ParseJson("{\"a\":1,\"b\":2,\"a\":{\"c\":3}}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Json::parse("{\"a\":{\"c\":3},\"b\":2}"));
}

// No recursion: nesting as deep as nlohmann takes does not overflow the stack.
TEST(ParseJsonTest, DeepNesting) {
  constexpr size_t kDepth = 100000;
  const std::string arrays = std::string(kDepth, '[') + std::string(kDepth, ']');
  Result<Json> r = ParseJson(arrays);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  size_t depth = 0;
  for (const Json* j = &*r; j->is_array(); j = j->empty() ? nullptr : &(*j)[0]) {
    ++depth;
    if (j->empty()) break;
  }
  EXPECT_EQ(depth, kDepth);
  std::string objects;
  for (size_t i = 0; i < kDepth; ++i) objects += "{\"k\":";
  objects += "1" + std::string(kDepth, '}');
  EXPECT_TRUE(ParseJson(objects).ok());
  EXPECT_FALSE(ParseJson(std::string(kDepth, '[')).ok());
  EXPECT_FALSE(ParseJson(std::string(kDepth, '[') + std::string(kDepth - 1, ']')).ok());
}

// Random documents with awkward strings and numbers, dumped by nlohmann in several styles.
class RandomJson {
 public:
  explicit RandomJson(uint32_t seed) : rng_(seed) {}

  Json Value(int depth) {
    switch (Pick(depth > 4 ? 6 : 8)) {
      case 0: return nullptr;
      case 1: return Pick(2) == 0;
      case 2: return Integer();
      case 3: return Unsigned();
      case 4: return Double();
      case 5: return String();
      case 6: {
        Json a = Json::array();
        for (int n = Pick(6); n > 0; --n) a.push_back(Value(depth + 1));
        return a;
      }
      default: {
        Json o = Json::object();
        for (int n = Pick(6); n > 0; --n) o[String()] = Value(depth + 1);
        return o;
      }
    }
  }

  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint32_t>(n)); }

 private:
  int64_t Integer() {
    static const int64_t kEdges[] = {0, -1, 1, INT64_MIN, INT64_MAX, INT64_MIN + 1, -10, -9};
    if (Pick(4) == 0) return kEdges[Pick(8)];
    const int64_t v = static_cast<int64_t>(rng_() >> Pick(64));
    return Pick(2) == 0 ? -v : v;
  }
  uint64_t Unsigned() {
    static const uint64_t kEdges[] = {0, 1, UINT64_MAX, uint64_t{1} << 63, 9999999999999999999u};
    if (Pick(4) == 0) return kEdges[Pick(5)];
    return rng_() >> Pick(64);
  }
  double Double() {
    static const double kEdges[] = {0.0, -0.0, 0.1, 1.0, -1.5, 1e300, 5e-324, 2.2250738585072014e-308,
                                    1.7976931348623157e308, 123456789.125, 1e21, 1e-7};
    if (Pick(3) == 0) return kEdges[Pick(12)];
    if (Pick(2) == 0) return static_cast<double>(Integer()) / static_cast<double>(1 + Pick(1000));
    for (;;) {  // random bits: any finite double
      const uint64_t bits = rng_();
      double d;
      std::memcpy(&d, &bits, sizeof d);
      if (std::isfinite(d)) return d;
    }
  }
  std::string String() {
    static const char* kPieces[] = {"a", "key", "\"", "\\", "/", "\b", "\f", "\n", "\r", "\t",
                                    "" /* a NUL, below */, "\x01", "\x1f", "\x7f", " ",
                                    "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xef\xbf\xbf",
                                    "\xed\x9f\xbf", "\xee\x80\x80", "\xf4\x8f\xbf\xbf", "u", "{", "]",
                                    "\\u0041", "0123456789abcdefghijklmnopqrstuvwxyz"};
    std::string s;
    for (int n = Pick(8); n > 0; --n) {
      const int i = Pick(27);
      if (i == 10) {
        s += '\0';
      } else {
        s += kPieces[i];
      }
    }
    return s;
  }

  std::mt19937_64 rng_;
};

TEST(ParseJsonTest, RandomDocumentsMatchNlohmann) {
  RandomJson gen(20261129);
  for (int i = 0; i < 3000; ++i) {
    const Json value = gen.Value(0);
    const std::string texts[] = {value.dump(), value.dump(2), value.dump(-1, ' ', true),
                                 value.dump(1, '\t', true)};
    for (const std::string& text : texts) {
      ASSERT_EQ(Disagreement(text), "") << "input: " << Printable(text);
      const Result<Json> back = ParseJson(text);
      ASSERT_TRUE(back.ok());
      ASSERT_EQ(*back, value) << "input: " << Printable(text);  // 1 reads back unsigned
    }
  }
}

// Damaged documents: a byte replaced, dropped or added, then both must agree on acceptance (and
// on the value where they accept).
TEST(ParseJsonTest, DamagedDocumentsMatchNlohmann) {
  RandomJson gen(7);
  static const char kBytes[] = "{}[],:\"\\ 0123456789.eE+-tfnulrsabxu\xc3\xa9\xed\xa0\x80\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string text = gen.Value(0).dump(gen.Pick(2) == 0 ? -1 : 1, ' ', gen.Pick(2) == 0);
    for (int edits = 1 + gen.Pick(3); edits > 0; --edits) {
      const size_t at = static_cast<size_t>(gen.Pick(static_cast<int>(text.size()) + 1));
      const char c = kBytes[gen.Pick(sizeof kBytes - 1)];
      switch (gen.Pick(3)) {
        case 0:
          if (at < text.size()) text[at] = c;
          break;
        case 1:
          if (at < text.size()) text.erase(at, 1);
          break;
        default:
          text.insert(at, 1, c);
      }
    }
    ASSERT_EQ(Disagreement(text), "") << "input: " << Printable(text);
  }
}

TEST(ParseJsonTest, ConformanceFilesMatchNlohmann) {
  const std::filesystem::path root = "/work/shared/conformance";
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec)) GTEST_SKIP() << root << " is not here";
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root, ec)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(Disagreement(text), "") << entry.path();
    ++files;
  }
  EXPECT_GT(files, 0);
}

}  // namespace
}  // namespace skiff

namespace skiff {
namespace {

// DumpJson against nlohmann's dump, which it replaces: the same text, byte for byte (content
// hashes are taken over it).
std::string NlohmannDump(const Json& value, int indent) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

TEST(DumpJsonTest, EdgeCasesMatchNlohmann) {
  const std::vector<Json> values = {
      nullptr, true, false, 0, -1, 1u, INT64_MIN, INT64_MAX, UINT64_MAX, 0.0, -0.0, 1.0, 0.1, 1e21,
      1e-7, 1.5e300, 5e-324, 1.7976931348623157e308, 123456789.125, 1e15, 1e16, 1e17, 0.30000000000000004,
      std::nan(""), HUGE_VAL, -HUGE_VAL, "", "plain", "\"\\/\b\f\n\r\t", std::string("\0\x01\x1f\x7f", 4),
      "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\xc3", "a\xc3", "\xc3(", "\x80", "a\x80z", "\xc0\x80",
      "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\xf0\x9f\x98", "\xff\xfe", "ok\xe2\x82\xac\xe2",
      Json::object(), Json::array(), Json::array({Json::object(), Json::array()}),
      Json::parse(R"({"a":{"b":[1,2,{"c":null}],"d":{}},"e":[],"f":"x"})"),
      Json::object({{"\n\xff", "\x01"}}),
  };
  for (const Json& value : values) {
    for (int indent : {-1, 0, 1, 2, 4}) {
      EXPECT_EQ(DumpJson(value, indent), NlohmannDump(value, indent))
          << "value " << NlohmannDump(value, -1) << " indent " << indent;
    }
  }
}

TEST(DumpJsonTest, RandomDocumentsMatchNlohmann) {
  RandomJson gen(42);
  for (int i = 0; i < 3000; ++i) {
    const Json value = gen.Value(0);
    for (int indent : {-1, 2}) {
      ASSERT_EQ(DumpJson(value, indent), NlohmannDump(value, indent));
    }
  }
  // Strings of random bytes, valid UTF-8 or not.
  std::mt19937 rng(9);
  static const unsigned char kBytes[] = {'a', '"', '\\', 0, 0x1f, 0x7f, 0x80, 0xbf, 0xc2, 0xc3, 0xe0,
                                         0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0xa0, 0x9f, 0x8f};
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (int n = static_cast<int>(rng() % 10); n > 0; --n) s += static_cast<char>(kBytes[rng() % sizeof kBytes]);
    const Json value = Json::object({{s, s}});
    ASSERT_EQ(DumpJson(value), NlohmannDump(value, -1)) << Printable(s);
  }
}

TEST(DumpJsonTest, ConformanceFilesMatchNlohmann) {
  const std::filesystem::path root = "/work/shared/conformance";
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec)) GTEST_SKIP() << root << " is not here";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root, ec)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const Result<Json> value = ParseJson(text);
    ASSERT_TRUE(value.ok()) << entry.path();
    EXPECT_EQ(DumpJson(*value), NlohmannDump(*value, -1)) << entry.path();
    EXPECT_EQ(DumpJson(*value, 2), NlohmannDump(*value, 2)) << entry.path();
  }
}

}  // namespace
}  // namespace skiff
