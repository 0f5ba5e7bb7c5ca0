#include "common/clock.h"

#include <gtest/gtest.h>

namespace skiff {
namespace {

TEST(ClockTest, Rfc3339RoundTrip) {
  auto t = ParseRfc3339("2024-02-29T12:34:56Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatRfc3339(*t), "2024-02-29T12:34:56Z");
  auto off = ParseRfc3339("2024-02-29T14:34:56+02:00");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(*off, *t);
  EXPECT_FALSE(ParseRfc3339("yesterday").ok());
}

TEST(ClockTest, GoDurations) {
  EXPECT_EQ(*ParseGoDuration("1h2m3s"), std::chrono::seconds(3723));
  EXPECT_EQ(*ParseGoDuration("300ms"), std::chrono::milliseconds(300));
  EXPECT_EQ(*ParseGoDuration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(*ParseGoDuration("10"), std::chrono::seconds(10));
  EXPECT_EQ(*ParseGoDuration("0"), Duration(0));
  EXPECT_FALSE(ParseGoDuration("5 parsecs").ok());
  EXPECT_EQ(FormatGoDuration(std::chrono::seconds(3723)), "1h2m3s");
  EXPECT_EQ(FormatGoDuration(std::chrono::milliseconds(1500)), "1.5s");
}

TEST(ClockTest, FakeClockOnlyMovesWhenAdvanced) {
  FakeClock c;
  TimePoint a = c.Now();
  EXPECT_EQ(c.Now(), a);
  c.Advance(std::chrono::seconds(5));
  EXPECT_EQ(c.Now() - a, std::chrono::seconds(5));
}

}  // namespace
}  // namespace skiff
