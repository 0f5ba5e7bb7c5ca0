#include "engine/autoscale/config.h"

#include <gtest/gtest.h>

namespace skiff::autoscale {
namespace {

Json A(std::initializer_list<std::pair<const char*, const char*>> kv) {
  Json j = Json::object();
  for (const auto& [k, v] : kv) j[std::string("autoscaling.knative.dev/") + k] = v;
  return j;
}

TEST(ResolveScalingSpecTest, DefaultsMatchKnative) {
  auto spec = ResolveScalingSpec(nullptr, 0);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->metric, Metric::kConcurrency);
  EXPECT_DOUBLE_EQ(spec->total, 100);
  EXPECT_NEAR(spec->target, 70, 1e-9);  // 100 x 70%
  EXPECT_EQ(spec->stable_window, Seconds(60));
  EXPECT_EQ(spec->panic_window, Seconds(6));  // 10% of the stable window
  EXPECT_DOUBLE_EQ(spec->panic_threshold, 2.0);
  EXPECT_DOUBLE_EQ(spec->max_scale_up_rate, 1000);
  EXPECT_DOUBLE_EQ(spec->max_scale_down_rate, 2);
  EXPECT_EQ(spec->scale_to_zero_grace_period, Seconds(30));
  EXPECT_EQ(spec->tick_interval, Seconds(2));
  EXPECT_EQ(spec->min_scale, 0);
  EXPECT_EQ(spec->max_scale, 0);
  EXPECT_EQ(spec->initial_scale, 1);
}

TEST(ResolveScalingSpecTest, AnnotationTargetIsMultipliedByUtilization) {
  auto spec = ResolveScalingSpec(A({{"target", "3"}}), 0);
  ASSERT_TRUE(spec.ok());
  EXPECT_DOUBLE_EQ(spec->total, 3);
  EXPECT_NEAR(spec->target, 2.1, 1e-9);
}

TEST(ResolveScalingSpecTest, ContainerConcurrencyIsTheDefaultTotalAndCapsTheAnnotation) {
  auto spec = ResolveScalingSpec(nullptr, 10);
  ASSERT_TRUE(spec.ok());
  EXPECT_NEAR(spec->target, 7, 1e-9);
  spec = ResolveScalingSpec(A({{"target", "20"}}), 10);
  ASSERT_TRUE(spec.ok());
  EXPECT_DOUBLE_EQ(spec->total, 10);  // min(annotation, containerConcurrency)
  EXPECT_NEAR(spec->target, 7, 1e-9);
  spec = ResolveScalingSpec(A({{"target", "5"}}), 10);
  ASSERT_TRUE(spec.ok());
  EXPECT_NEAR(spec->target, 3.5, 1e-9);
}

TEST(ResolveScalingSpecTest, UtilizationAnnotationAndRpsDefaults) {
  auto spec = ResolveScalingSpec(A({{"target", "10"}, {"target-utilization-percentage", "50"}}), 0);
  ASSERT_TRUE(spec.ok());
  EXPECT_NEAR(spec->target, 5, 1e-9);
  spec = ResolveScalingSpec(A({{"metric", "rps"}}), 10);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->metric, Metric::kRps);
  EXPECT_NEAR(spec->target, 140, 1e-9);  // rps default 200 x 70%; containerConcurrency ignored
  spec = ResolveScalingSpec(A({{"metric", "rps"}, {"target", "150"}}), 10);
  ASSERT_TRUE(spec.ok());
  EXPECT_NEAR(spec->target, 105, 1e-9);  // the cap by containerConcurrency is for concurrency only
}

TEST(ResolveScalingSpecTest, WindowsThresholdsAndScales) {
  auto spec = ResolveScalingSpec(
      A({{"class", "kpa.autoscaling.knative.dev"},
         {"window", "120s"},
         {"panic-window-percentage", "20"},
         {"panic-threshold-percentage", "150"},
         {"min-scale", "2"},
         {"max-scale", "8"},
         {"initial-scale", "3"},
         {"scale-down-delay", "1m"},
         {"scale-to-zero-pod-retention-period", "90s"},
         {"activation-scale", "2"}}),
      0);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->stable_window, Seconds(120));
  EXPECT_EQ(spec->panic_window, Seconds(24));
  EXPECT_DOUBLE_EQ(spec->panic_threshold, 1.5);
  EXPECT_EQ(spec->min_scale, 2);
  EXPECT_EQ(spec->max_scale, 8);
  EXPECT_EQ(spec->initial_scale, 3);
  EXPECT_EQ(spec->scale_down_delay, Seconds(60));
  EXPECT_EQ(spec->scale_to_zero_pod_retention_period, Seconds(90));
  EXPECT_EQ(spec->activation_scale, 2);
}

void ExpectError(const Json& annotations, std::string_view needle, int64_t cc = 0) {
  auto spec = ResolveScalingSpec(annotations, cc);
  ASSERT_FALSE(spec.ok()) << annotations.dump();
  EXPECT_NE(spec.status().message().find(needle), std::string::npos)
      << spec.status().ToString() << " should mention " << needle;
}

TEST(ResolveScalingSpecTest, ErrorsNameTheAnnotation) {
  ExpectError(A({{"metric", "cpu"}}), "autoscaling.knative.dev/metric=\"cpu\"");
  ExpectError(A({{"target", "0"}}), "autoscaling.knative.dev/target=\"0\"");
  ExpectError(A({{"target", "lots"}}), "autoscaling.knative.dev/target=\"lots\": must be a number");
  ExpectError(A({{"target-utilization-percentage", "150"}}),
              "autoscaling.knative.dev/target-utilization-percentage");
  ExpectError(A({{"window", "5s"}}), "autoscaling.knative.dev/window=\"5s\": must be between");
  ExpectError(A({{"window", "60"}}), "autoscaling.knative.dev/window=\"60\": must be a duration");
  ExpectError(A({{"window", "6500ms"}}), "whole number of seconds");
  ExpectError(A({{"panic-window-percentage", "0"}}), "panic-window-percentage");
  ExpectError(A({{"panic-threshold-percentage", "100"}}), "panic-threshold-percentage");
  ExpectError(A({{"min-scale", "-1"}}), "autoscaling.knative.dev/min-scale");
  ExpectError(A({{"min-scale", "1.5"}}), "min-scale=\"1.5\": must be an integer");
  ExpectError(A({{"min-scale", "5"}, {"max-scale", "2"}}), "max-scale");
  ExpectError(A({{"initial-scale", "0"}}), "initial-scale=\"0\"");
  ExpectError(A({{"scale-down-delay", "2h"}}), "scale-down-delay");
  ExpectError(A({{"activation-scale", "0"}}), "activation-scale");
  ExpectError(A({{"class", "foo"}}), "autoscaling.knative.dev/class=\"foo\"");
  auto hpa = ResolveScalingSpec(A({{"class", "hpa.autoscaling.knative.dev"}}), 0);
  ASSERT_FALSE(hpa.ok());
  EXPECT_EQ(hpa.status().code(), StatusCode::kUnimplemented);
  EXPECT_FALSE(ResolveScalingSpec(nullptr, -1).ok());
}

TEST(ResolveScalingSpecTest, ZeroInitialScaleNeedsTheGlobalSwitch) {
  GlobalConfig global;
  global.allow_zero_initial_scale = true;
  auto spec = ResolveScalingSpec(A({{"initial-scale", "0"}}), 0, global);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->initial_scale, 0);
}

}  // namespace
}  // namespace skiff::autoscale
