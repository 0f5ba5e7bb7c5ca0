#include "serving/stats/stats.h"

#include <gtest/gtest.h>

namespace skiff::serving {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RevisionStatsTest, ConcurrencyIsTimeWeightedOverTheInterval) {
  FakeClock clock;
  RevisionStats stats(clock);
  const std::string rev = "default/digits/digits-predictor-00001";
  stats.RequestStarted(rev);  // interval starts here
  clock.Advance(milliseconds(500));
  stats.RequestStarted(rev);  // 2 in flight for the second half
  clock.Advance(milliseconds(500));
  auto samples = stats.TakeSamples();
  ASSERT_EQ(samples.count(rev), 1u);
  EXPECT_DOUBLE_EQ(samples[rev].concurrency, 1.5);
  EXPECT_DOUBLE_EQ(samples[rev].rps, 2.0);
  EXPECT_EQ(stats.InFlight(rev), 2);

  // Next second: both finish at 250 ms; no new requests.
  clock.Advance(milliseconds(250));
  stats.RequestFinished(rev);
  stats.RequestFinished(rev);
  clock.Advance(milliseconds(750));
  samples = stats.TakeSamples();
  EXPECT_DOUBLE_EQ(samples[rev].concurrency, 0.5);
  EXPECT_DOUBLE_EQ(samples[rev].rps, 0.0);

  // An idle interval reports zeros once, then the revision is dropped.
  clock.Advance(seconds(1));
  samples = stats.TakeSamples();
  ASSERT_EQ(samples.count(rev), 1u);
  EXPECT_DOUBLE_EQ(samples[rev].concurrency, 0.0);
  clock.Advance(seconds(1));
  EXPECT_TRUE(stats.TakeSamples().empty());
}

TEST(RevisionStatsTest, FinishWithoutStartIsIgnored) {
  FakeClock clock;
  RevisionStats stats(clock);
  stats.RequestFinished("a/b/c");
  EXPECT_EQ(stats.InFlight("a/b/c"), 0);
  EXPECT_TRUE(stats.TakeSamples().empty());
}

TEST(RevisionStatsTest, ActivationReachesTheHandler) {
  FakeClock clock;
  RevisionStats stats(clock);
  stats.RequestActivation("default/x", "default/x/x-predictor-00001");  // no handler: no-op
  std::string got_service, got_revision;
  stats.SetActivationHandler([&](const std::string& s, const std::string& r) {
    got_service = s;
    got_revision = r;
  });
  stats.RequestActivation("default/x", "default/x/x-predictor-00001");
  EXPECT_EQ(got_service, "default/x");
  EXPECT_EQ(got_revision, "default/x/x-predictor-00001");
}

}  // namespace
}  // namespace skiff::serving
