// Knative Pod Autoscaler (KPA) configuration: the cluster-wide defaults of Knative's
// `config-autoscaler` ConfigMap (`GlobalConfig`) and the per-revision spec they resolve to
// (`ScalingSpec`) once a revision's `autoscaling.knative.dev/*` annotations and its
// `containerConcurrency` are taken into account. Resolution follows Knative Serving's
// `ResolveMetricTarget` (pkg/reconciler/autoscaling/resources/target.go) and the annotation
// validation of pkg/apis/autoscaling; errors name the offending annotation.
//
// Plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/json.h"
#include "common/status.h"

namespace skiff::autoscale {

enum class Metric { kConcurrency, kRps };
std::string_view MetricName(Metric m);

// Annotation keys (the `autoscaling.knative.dev/` group).
inline constexpr std::string_view kClassAnnotation = "autoscaling.knative.dev/class";
inline constexpr std::string_view kMetricAnnotation = "autoscaling.knative.dev/metric";
inline constexpr std::string_view kTargetAnnotation = "autoscaling.knative.dev/target";
inline constexpr std::string_view kTargetUtilizationAnnotation =
    "autoscaling.knative.dev/target-utilization-percentage";
inline constexpr std::string_view kTargetBurstCapacityAnnotation =
    "autoscaling.knative.dev/target-burst-capacity";
inline constexpr std::string_view kWindowAnnotation = "autoscaling.knative.dev/window";
inline constexpr std::string_view kPanicWindowPercentageAnnotation =
    "autoscaling.knative.dev/panic-window-percentage";
inline constexpr std::string_view kPanicThresholdPercentageAnnotation =
    "autoscaling.knative.dev/panic-threshold-percentage";
inline constexpr std::string_view kMinScaleAnnotation = "autoscaling.knative.dev/min-scale";
inline constexpr std::string_view kMaxScaleAnnotation = "autoscaling.knative.dev/max-scale";
inline constexpr std::string_view kInitialScaleAnnotation =
    "autoscaling.knative.dev/initial-scale";
inline constexpr std::string_view kScaleDownDelayAnnotation =
    "autoscaling.knative.dev/scale-down-delay";
inline constexpr std::string_view kScaleToZeroPodRetentionAnnotation =
    "autoscaling.knative.dev/scale-to-zero-pod-retention-period";
inline constexpr std::string_view kActivationScaleAnnotation =
    "autoscaling.knative.dev/activation-scale";

inline constexpr std::string_view kKpaClass = "kpa.autoscaling.knative.dev";
inline constexpr std::string_view kHpaClass = "hpa.autoscaling.knative.dev";

// Knative's `config-autoscaler` defaults. Percentages are stored as fractions
// (`target_utilization` 0.7 is `container-concurrency-target-percentage: "70"`).
struct GlobalConfig {
  double container_concurrency_target_default = 100;  // per pod, when containerConcurrency == 0
  double rps_target_default = 200;                    // per pod
  double target_utilization = 0.7;                    // applies to both metrics
  double target_burst_capacity = 211;                 // -1: activator always in the path
  Duration stable_window = Seconds(60);
  double panic_window_percentage = 10;     // of the stable window
  double panic_threshold_percentage = 200;  // of the current capacity
  double max_scale_up_rate = 1000;
  double max_scale_down_rate = 2;
  Duration scale_to_zero_grace_period = Seconds(30);
  Duration scale_to_zero_pod_retention_period = Seconds(0);
  Duration tick_interval = Seconds(2);  // how often the controller should call `Decide`
  bool enable_scale_to_zero = true;
  int32_t min_scale = 0;
  int32_t max_scale = 0;  // 0: unbounded
  int32_t initial_scale = 1;
  bool allow_zero_initial_scale = false;
  int32_t activation_scale = 1;
  Duration scale_down_delay = Seconds(0);
};

// Everything the autoscaler needs about one revision, fully resolved.
struct ScalingSpec {
  Metric metric = Metric::kConcurrency;
  // Knative's `TargetValue`: the per-pod value the autoscaler aims for, after utilization.
  double target = 70;
  // Knative's `TotalValue`: the per-pod maximum (before utilization); used for burst capacity.
  double total = 100;
  double target_burst_capacity = 211;
  Duration stable_window = Seconds(60);
  Duration panic_window = Seconds(6);
  double panic_threshold = 2.0;  // ratio: desired panic pods / ready pods
  double max_scale_up_rate = 1000;
  double max_scale_down_rate = 2;
  int32_t min_scale = 0;
  int32_t max_scale = 0;  // 0: unbounded
  int32_t initial_scale = 1;
  int32_t activation_scale = 1;
  Duration scale_down_delay = Seconds(0);
  Duration scale_to_zero_grace_period = Seconds(30);
  Duration scale_to_zero_pod_retention_period = Seconds(0);
  Duration tick_interval = Seconds(2);
  bool enable_scale_to_zero = true;
  // Knative's `Reachable`: false for a revision no route sends traffic to, which may then be
  // scaled down without the max-scale-down-rate limit.
  bool reachable = true;
};

// Resolves a revision's spec from its annotations (a JSON object of strings; null is allowed),
// its `containerConcurrency` (0 = unlimited) and the cluster defaults. Errors are
// InvalidArgument naming the annotation, or Unimplemented for the HPA class.
Result<ScalingSpec> ResolveScalingSpec(const Json& annotations, int64_t container_concurrency,
                                       const GlobalConfig& global = GlobalConfig());

}  // namespace skiff::autoscale
