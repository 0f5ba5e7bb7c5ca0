#include <gtest/gtest.h>

#include "engine/expr/expr.h"
#include "engine/expr/go_format.h"
#include "engine/expr/go_time.h"
#include "engine/expr/regex.h"

namespace skiff::expr {
namespace {

TEST(MarshalGoJsonTest, FloatsPrintLikeGo) {
  EXPECT_EQ(MarshalGoJson(1.0), "1");
  EXPECT_EQ(MarshalGoJson(35.8), "35.8");
  EXPECT_EQ(MarshalGoJson(1e21), "1e+21");
  EXPECT_EQ(MarshalGoJson(1e20), "100000000000000000000");
  EXPECT_EQ(MarshalGoJson(0.000001), "0.000001");
  EXPECT_EQ(MarshalGoJson(1e-7), "1e-7");  // Go trims "e-07" to "e-7"
  EXPECT_EQ(MarshalGoJson(1.5e-10), "1.5e-10");
  EXPECT_EQ(MarshalGoJson(-2.5), "-2.5");
  EXPECT_EQ(MarshalGoJson(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(MarshalGoJson(123456789.0), "123456789");
  EXPECT_EQ(MarshalGoJson(42), "42");
  EXPECT_EQ(MarshalGoJson(std::nan("")), "null");
}

TEST(MarshalGoJsonTest, StringsEscapeLikeGo) {
  EXPECT_EQ(MarshalGoJson("<a href=\"x\">&</a>"),
            R"("\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e")");
  EXPECT_EQ(MarshalGoJson("tab\tnl\ncr\rbs\\"), R"("tab\tnl\ncr\rbs\\")");
  EXPECT_EQ(MarshalGoJson(std::string("\x01\x1f", 2)), R"("\u0001\u001f")");
  EXPECT_EQ(MarshalGoJson("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  EXPECT_EQ(MarshalGoJson("bad\xFF"), R"("bad\ufffd")");
  EXPECT_EQ(MarshalGoJson("\xE2\x80\xA8"), R"("\u2028")");
}

TEST(MarshalGoJsonTest, CompactSortedAndTimesQuoted) {
  Json v = {{"b", {1, 2.5, nullptr, true}}, {"a", {{"z", "x"}, {"y", Json::object()}}}};
  EXPECT_EQ(MarshalGoJson(v), R"({"a":{"y":{},"z":"x"},"b":[1,2.5,null,true]})");
  EXPECT_EQ(MarshalGoJson(Json::array()), "[]");
  EXPECT_EQ(MarshalGoJson({{"$time", "2026-01-02T03:04:05.5Z"}}), R"("2026-01-02T03:04:05.5Z")");
}

TEST(GoFloatFormatTest, PercentVUsesExponentFromSixDigits) {
  EXPECT_EQ(FormatFloatV(100000), "100000");
  EXPECT_EQ(FormatFloatV(1000000), "1e+06");
  EXPECT_EQ(FormatFloatV(1234567), "1.234567e+06");
  EXPECT_EQ(FormatFloatV(0.0001), "0.0001");
  EXPECT_EQ(FormatFloatV(0.00001), "1e-05");
  EXPECT_EQ(FormatFloatV(3.0), "3");
  EXPECT_EQ(FormatFloatV(-0.5), "-0.5");
  EXPECT_EQ(FormatFloatV(1.0 / 0.0), "+Inf");
}

TEST(GoQuoteTest, QuotesLikeStrconv) {
  EXPECT_EQ(GoQuote("a\"b\\c\n\x01"), R"("a\"b\\c\n\x01")");
  EXPECT_EQ(GoQuote("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
}

TEST(Base64Test, RoundTripsAndRejectsBadInput) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(*Base64Decode("Zm9v\nYmFy"), "foobar");
  EXPECT_FALSE(Base64Decode("Zm9").ok());
  EXPECT_FALSE(Base64Decode("Zm=v").ok());
}

TEST(GoTimeTest, FormatsReferenceLayouts) {
  Time t = UnixTime(1709289845, 123456789);  // 2024-03-01T10:44:05.123456789Z
  EXPECT_EQ(FormatGoTime(t, kRfc3339), "2024-03-01T10:44:05Z");
  EXPECT_EQ(FormatGoTime(t, kRfc3339Nano), "2024-03-01T10:44:05.123456789Z");
  EXPECT_EQ(FormatGoTime(t, "Mon Jan _2 3:04PM 06"), "Fri Mar  1 10:44AM 24");
  EXPECT_EQ(FormatGoTime(t, "Monday, January 2 2006 15h .000 pm"),
            "Friday, March 1 2024 10h .123 am");
  EXPECT_EQ(FormatGoTime(t, "002 __2 -0700 -07:00 Z07:00 MST"), "061  61 +0000 +00:00 Z UTC");
  Time plus2 = t;
  plus2.offset = 7200;
  plus2.zone = "";
  EXPECT_EQ(FormatGoTime(plus2, "15:04 Z07:00 MST"), "12:44 +02:00 +0200");
  EXPECT_EQ(GoTimeString(t), "2024-03-01 10:44:05.123456789 +0000 UTC");
}

TEST(GoTimeTest, ParsesLayoutsAndOffsets) {
  auto t = ParseGoTime(kRfc3339, "2024-03-01T12:44:05.5+02:00");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->sec, 1709289845);
  EXPECT_EQ(t->nsec, 500000000);
  EXPECT_EQ(t->offset, 7200);
  auto k = ParseGoTime("3:04PM Jan 2, 2006", "9:30PM Feb 29, 2024");
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(FormatGoTime(*k, kRfc3339), "2024-02-29T21:30:00Z");
  EXPECT_FALSE(ParseGoTime("2006-01-02", "2023-02-29").ok());  // day out of range
  EXPECT_FALSE(ParseGoTime("2006-01-02", "2023-02-01x").ok());  // extra text
  EXPECT_FALSE(ParseGoTime("2006-01-02", "23-02-01").ok());
}

TEST(GoDurationTest, ParsesAndFormatsLikeGo) {
  EXPECT_EQ(*ParseGoDurationNs("1h2m3.5s"), 3723500000000);
  EXPECT_EQ(*ParseGoDurationNs("-1.5h"), -5400000000000);
  EXPECT_EQ(*ParseGoDurationNs("300ms"), 300000000);
  EXPECT_EQ(*ParseGoDurationNs("0"), 0);
  EXPECT_FALSE(ParseGoDurationNs("5").ok());
  EXPECT_FALSE(ParseGoDurationNs("1d").ok());
  EXPECT_EQ(FormatGoDurationNs(0), "0s");
  EXPECT_EQ(FormatGoDurationNs(3600000000000), "1h0m0s");
  EXPECT_EQ(FormatGoDurationNs(1500000000), "1.5s");
  EXPECT_EQ(FormatGoDurationNs(59123456789), "59.123456789s");
  EXPECT_EQ(FormatGoDurationNs(1500000), "1.5ms");
  EXPECT_EQ(FormatGoDurationNs(2000), "2\xC2\xB5s");
  EXPECT_EQ(FormatGoDurationNs(-90000000000), "-1m30s");
}

TEST(GoRegexTest, TranslatesRe2Forms) {
  auto icase = GoRegex::Compile("(?i)^abc$");
  ASSERT_TRUE(icase.ok());
  EXPECT_TRUE(*(*icase)->Search("ABC"));
  auto named = GoRegex::Compile("(?P<y>\\d{4})-(?P<m>\\d{2})");
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(*(*named)->ReplaceAll("on 2024-03", "$m/$y"), "on 03/2024");
  auto quoted = GoRegex::Compile("\\Qa.b\\E");
  ASSERT_TRUE(quoted.ok());
  EXPECT_FALSE(*(*quoted)->Search("axb"));
  EXPECT_TRUE(*(*quoted)->Search("a.b"));
  EXPECT_FALSE(GoRegex::Compile("\\p{Greek}").ok());
  EXPECT_FALSE(GoRegex::Compile("(?=x)").ok());
}

}  // namespace
}  // namespace skiff::expr
