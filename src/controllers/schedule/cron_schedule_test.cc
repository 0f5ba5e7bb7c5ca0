// Cron expressions: fields, names, descriptors and time zones.
#include "controllers/schedule/cron_schedule.h"

#include <gtest/gtest.h>

namespace skiff::controllers {
namespace {

TimePoint At(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

std::string NextOf(const char* expr, const char* after, const char* tz = "UTC") {
  auto s = CronSchedule::Parse(expr, tz);
  EXPECT_TRUE(s.ok()) << expr << ": " << s.status().ToString();
  if (!s.ok()) return "";
  TimePoint n = s->Next(At(after));
  return n == TimePoint::max() ? "never" : FormatRfc3339(n);
}

TEST(CronScheduleTest, StepsRangesAndLists) {
  EXPECT_EQ(NextOf("* * * * *", "2026-01-01T00:00:00Z"), "2026-01-01T00:01:00Z");
  EXPECT_EQ(NextOf("* * * * *", "2026-01-01T00:00:59Z"), "2026-01-01T00:01:00Z");
  EXPECT_EQ(NextOf("*/15 * * * *", "2026-01-01T00:00:00Z"), "2026-01-01T00:15:00Z");
  EXPECT_EQ(NextOf("*/15 * * * *", "2026-01-01T00:45:00Z"), "2026-01-01T01:00:00Z");
  EXPECT_EQ(NextOf("5,10 * * * *", "2026-01-01T00:05:00Z"), "2026-01-01T00:10:00Z");
  EXPECT_EQ(NextOf("0 8-10/2 * * *", "2026-01-01T08:00:00Z"), "2026-01-01T10:00:00Z");
  EXPECT_EQ(NextOf("7/20 * * * *", "2026-01-01T00:30:00Z"), "2026-01-01T00:47:00Z");
  EXPECT_EQ(NextOf("59 23 31 12 *", "2026-01-01T00:00:00Z"), "2026-12-31T23:59:00Z");
  EXPECT_EQ(NextOf("0 0 29 2 *", "2026-01-01T00:00:00Z"), "2028-02-29T00:00:00Z");
  EXPECT_EQ(NextOf("0 0 30 2 *", "2026-01-01T00:00:00Z"), "never");
}

TEST(CronScheduleTest, NamesAndDayOfWeek) {
  // 2026-01-01 is a Thursday.
  EXPECT_EQ(NextOf("0 9 * * MON-FRI", "2026-01-01T00:00:00Z"), "2026-01-01T09:00:00Z");
  EXPECT_EQ(NextOf("0 9 * * mon-fri", "2026-01-02T09:00:00Z"), "2026-01-05T09:00:00Z");
  EXPECT_EQ(NextOf("0 0 * * 0", "2026-01-01T00:00:00Z"), "2026-01-04T00:00:00Z");
  EXPECT_EQ(NextOf("0 0 * * 7", "2026-01-01T00:00:00Z"), "2026-01-04T00:00:00Z");
  EXPECT_EQ(NextOf("0 0 1 MAR,JUN *", "2026-01-01T00:00:00Z"), "2026-03-01T00:00:00Z");
  // Both day fields restricted: either matches (the 13th, or a Friday: Jan 2).
  EXPECT_EQ(NextOf("0 0 13 * FRI", "2026-01-01T00:00:00Z"), "2026-01-02T00:00:00Z");
  // One of them starting with '*' or '?': both must match (an odd day that is a Friday).
  EXPECT_EQ(NextOf("0 0 */2 * FRI", "2026-01-01T00:00:00Z"), "2026-01-09T00:00:00Z");
  EXPECT_EQ(NextOf("0 0 * * FRI", "2026-01-01T00:00:00Z"), "2026-01-02T00:00:00Z");
}

TEST(CronScheduleTest, Descriptors) {
  EXPECT_EQ(NextOf("@hourly", "2026-01-01T00:00:00Z"), "2026-01-01T01:00:00Z");
  EXPECT_EQ(NextOf("@daily", "2026-01-01T00:00:00Z"), "2026-01-02T00:00:00Z");
  EXPECT_EQ(NextOf("@midnight", "2026-01-01T10:00:00Z"), "2026-01-02T00:00:00Z");
  EXPECT_EQ(NextOf("@weekly", "2026-01-01T00:00:00Z"), "2026-01-04T00:00:00Z");
  EXPECT_EQ(NextOf("@monthly", "2026-01-01T00:00:00Z"), "2026-02-01T00:00:00Z");
  EXPECT_EQ(NextOf("@yearly", "2026-01-01T00:00:00Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(NextOf("@annually", "2026-01-01T00:00:00Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(NextOf("@every 1h30m", "2026-01-01T00:00:10Z"), "2026-01-01T01:30:10Z");
  EXPECT_EQ(NextOf("@every 90s", "2026-01-01T00:00:00Z"), "2026-01-01T00:01:30Z");
}

TEST(CronScheduleTest, TimeZones) {
  // New York is UTC-5 in winter and UTC-4 in summer; Berlin UTC+1 in winter.
  EXPECT_EQ(NextOf("0 9 * * *", "2026-01-01T00:00:00Z", "America/New_York"),
            "2026-01-01T14:00:00Z");
  EXPECT_EQ(NextOf("0 9 * * *", "2026-07-01T00:00:00Z", "America/New_York"),
            "2026-07-01T13:00:00Z");
  EXPECT_EQ(NextOf("0 12 * * *", "2026-01-01T00:00:00Z", "Europe/Berlin"), "2026-01-01T11:00:00Z");
  // Across the spring-forward night (2026-03-08): 09:00 local moves from 14:00Z to 13:00Z.
  EXPECT_EQ(NextOf("0 9 * * *", "2026-03-07T14:00:00Z", "America/New_York"),
            "2026-03-08T13:00:00Z");
  // A local midnight in New York is still Dec 31 in UTC terms the day before.
  EXPECT_EQ(NextOf("0 0 1 1 *", "2026-06-01T00:00:00Z", "America/New_York"),
            "2027-01-01T05:00:00Z");
  // The zone is only set while converting: TZ is restored.
  const char* tz = std::getenv("TZ");
  std::string before = tz != nullptr ? tz : "<unset>";
  NextOf("0 9 * * *", "2026-01-01T00:00:00Z", "Asia/Tokyo");
  tz = std::getenv("TZ");
  EXPECT_EQ(tz != nullptr ? tz : "<unset>", before);
}

TEST(CronScheduleTest, RejectsMalformedExpressions) {
  EXPECT_FALSE(CronSchedule::Parse("* * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("* * * * * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("61 * * * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("* 24 * * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("* * 0 * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("* * * FOO *").ok());
  EXPECT_FALSE(CronSchedule::Parse("*/0 * * * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("5-1 * * * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("@fortnightly").ok());
  EXPECT_FALSE(CronSchedule::Parse("@every banana").ok());
  EXPECT_FALSE(CronSchedule::Parse("* * * * *", "Mars/Olympus_Mons").ok());
  EXPECT_FALSE(CronSchedule::Parse("* * * * *", "../../etc/passwd").ok());
  EXPECT_TRUE(CronSchedule::Parse("* * * * *", "America/Los_Angeles").ok());
}

}  // namespace
}  // namespace skiff::controllers
