#include "engine/autoscale/window.h"

#include <gtest/gtest.h>

namespace skiff::autoscale {
namespace {

const TimePoint kT0 = TimePoint(Seconds(1767225600));

TEST(WindowedAverageTest, AveragesOverBucketsWrittenSoFar) {
  WindowedAverage w(Seconds(60));
  EXPECT_TRUE(w.IsEmpty(kT0));
  EXPECT_EQ(w.Average(kT0), 0);
  w.Record(kT0, 10);
  w.Record(kT0 + Seconds(1), 20);
  // Two buckets written: averaged over two seconds, not sixty.
  EXPECT_DOUBLE_EQ(w.Average(kT0 + Seconds(1)), 15);
}

TEST(WindowedAverageTest, ValuesInOneBucketAreSummed) {
  WindowedAverage w(Seconds(60));
  w.Record(kT0, 3);
  w.Record(kT0 + Millis(500), 4);  // another reporter, same second
  EXPECT_DOUBLE_EQ(w.Average(kT0 + Millis(900)), 7);
}

TEST(WindowedAverageTest, OldBucketsLeaveTheWindow) {
  WindowedAverage w(Seconds(6));
  for (int i = 0; i < 6; ++i) w.Record(kT0 + Seconds(i), 60);
  for (int i = 6; i < 9; ++i) w.Record(kT0 + Seconds(i), 0);
  // Window [3, 8]: three 60s and three 0s.
  EXPECT_DOUBLE_EQ(w.Average(kT0 + Seconds(8)), 30);
  // No writes at 9 and 10: bucket 3 and 4 leave; the unwritten seconds are not counted.
  EXPECT_DOUBLE_EQ(w.Average(kT0 + Seconds(10)), 60.0 / 4);
  EXPECT_FALSE(w.IsEmpty(kT0 + Seconds(13)));
  EXPECT_TRUE(w.IsEmpty(kT0 + Seconds(14)));
  EXPECT_EQ(w.Average(kT0 + Seconds(14)), 0);
  // A write after a long gap starts over.
  w.Record(kT0 + Seconds(100), 5);
  EXPECT_DOUBLE_EQ(w.Average(kT0 + Seconds(100)), 5);
}

TEST(WindowedAverageTest, ResizeKeepsRecentData) {
  WindowedAverage w(Seconds(60));
  for (int i = 0; i < 10; ++i) w.Record(kT0 + Seconds(i), i);
  w.Resize(Seconds(4));  // keeps 6, 7, 8, 9
  EXPECT_DOUBLE_EQ(w.Average(kT0 + Seconds(9)), 7.5);
}

TEST(MaxWindowTest, HoldsTheMaximumForTheDuration) {
  MaxWindow m(Seconds(10), Seconds(2));  // five buckets
  m.Record(kT0, 10);
  EXPECT_EQ(m.Current(), 10);
  m.Record(kT0 + Seconds(2), 3);
  m.Record(kT0 + Seconds(8), 4);
  EXPECT_EQ(m.Current(), 10);
  m.Record(kT0 + Seconds(10), 2);  // bucket of kT0 leaves
  EXPECT_EQ(m.Current(), 4);
  m.Record(kT0 + Seconds(11), 7);  // same bucket: the largest wins
  m.Record(kT0 + Seconds(11), 1);
  EXPECT_EQ(m.Current(), 7);
}

}  // namespace
}  // namespace skiff::autoscale
