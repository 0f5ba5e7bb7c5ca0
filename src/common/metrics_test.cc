#include "common/metrics.h"

#include <gtest/gtest.h>

namespace skiff {
namespace {

TEST(MetricsTest, ExposesCountersGaugesAndCumulativeHistograms) {
  Metrics m;
  m.Declare("requests_total", Metrics::Type::kCounter, "Requests served.");
  m.Declare("latency_seconds", Metrics::Type::kHistogram, "Latency.", {0.1, 1});
  m.Declare("pods", Metrics::Type::kGauge, "Pods by phase.");
  m.Inc("requests_total", {{"code", "200"}, {"verb", "GET"}});
  m.Inc("requests_total", {{"code", "200"}, {"verb", "GET"}}, 2);
  m.Observe("latency_seconds", {{"verb", "GET"}}, 0.05);
  m.Observe("latency_seconds", {{"verb", "GET"}}, 0.5);
  m.Observe("latency_seconds", {{"verb", "GET"}}, 5);
  m.AddCollector([](Metrics& self) {
    self.Clear("pods");
    self.Set("pods", {{"phase", "Run\"ning"}}, 4);
  });
  std::string text = m.Expose();
  EXPECT_NE(text.find("# TYPE requests_total counter\nrequests_total{code=\"200\",verb=\"GET\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("latency_seconds_bucket{verb=\"GET\",le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_bucket{verb=\"GET\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{verb=\"GET\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_count{verb=\"GET\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("pods{phase=\"Run\\\"ning\"} 4\n"), std::string::npos);
}

}  // namespace
}  // namespace skiff
