#include "engine/autoscale/config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>

namespace skiff::autoscale {

namespace {

// Knative's bounds (pkg/apis/autoscaling/register.go).
constexpr double kTargetMin = 0.01;
constexpr Duration kWindowMin = Seconds(6);
constexpr Duration kWindowMax = Seconds(3600);
constexpr Duration kScaleDownDelayMax = Seconds(3600);
constexpr double kPanicWindowPercentageMin = 1;
constexpr double kPanicWindowPercentageMax = 100;
constexpr double kPanicThresholdPercentageMin = 110;
constexpr double kPanicThresholdPercentageMax = 1000;

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

Status Invalid(std::string_view key, std::string_view value, std::string_view why) {
  return InvalidArgument("annotation " + std::string(key) + "=" + Quote(value) + ": " +
                         std::string(why));
}

// The annotation's value as text, if present. Kubernetes annotation values are strings; a
// number written unquoted in YAML is accepted as its JSON rendering.
std::optional<std::string> Lookup(const Json& annotations, std::string_view key) {
  if (!annotations.is_object()) return std::nullopt;
  auto it = annotations.find(std::string(key));
  if (it == annotations.end() || it->is_null()) return std::nullopt;
  return ScalarToString(*it);
}

Result<double> ParseFloat(std::string_view key, const std::string& text) {
  if (text.empty()) return Invalid(key, text, "must be a number");
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size() || !std::isfinite(v)) {
    return Invalid(key, text, "must be a number");
  }
  return v;
}

Result<int32_t> ParseInt32(std::string_view key, const std::string& text) {
  if (text.empty()) return Invalid(key, text, "must be an integer");
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size() ||
      v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
    return Invalid(key, text, "must be an integer");
  }
  return static_cast<int32_t>(v);
}

// Go's time.ParseDuration (a unit is required, unlike Argo's bare seconds), at second precision
// as Knative requires for windows and delays.
Result<Duration> ParseDurationAnnotation(std::string_view key, const std::string& text) {
  bool has_unit = std::any_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  });
  if (!has_unit && text != "0") return Invalid(key, text, "must be a duration such as \"60s\"");
  auto d = ParseGoDuration(text);
  if (!d.ok()) return Invalid(key, text, "must be a duration such as \"60s\"");
  if (*d % Seconds(1) != Duration(0)) {
    return Invalid(key, text, "must be a whole number of seconds");
  }
  return *d;
}

Status CheckRange(std::string_view key, const std::string& text, double v, double lo, double hi) {
  if (v < lo || v > hi) {
    return Invalid(key, text,
                   "must be between " + ScalarToString(Json(lo)) + " and " +
                       ScalarToString(Json(hi)));
  }
  return OkStatus();
}

}  // namespace

std::string_view MetricName(Metric m) {
  switch (m) {
    case Metric::kConcurrency: return "concurrency";
    case Metric::kRps: return "rps";
  }
  return "concurrency";
}

Result<ScalingSpec> ResolveScalingSpec(const Json& annotations, int64_t container_concurrency,
                                       const GlobalConfig& global) {
  if (!annotations.is_null() && !annotations.is_object()) {
    return InvalidArgument("annotations must be an object");
  }
  if (container_concurrency < 0) {
    return InvalidArgument("containerConcurrency must be >= 0, got " +
                           std::to_string(container_concurrency));
  }
  ScalingSpec spec;

  if (auto cls = Lookup(annotations, kClassAnnotation)) {
    if (*cls == kHpaClass) {
      return Unimplemented("annotation " + std::string(kClassAnnotation) + "=" + Quote(*cls) +
                           ": only the KPA class (" + std::string(kKpaClass) + ") is supported");
    }
    if (*cls != kKpaClass) {
      return Invalid(kClassAnnotation, *cls, "must be " + Quote(kKpaClass));
    }
  }
  if (auto m = Lookup(annotations, kMetricAnnotation)) {
    if (*m == "concurrency") {
      spec.metric = Metric::kConcurrency;
    } else if (*m == "rps") {
      spec.metric = Metric::kRps;
    } else {
      return Invalid(kMetricAnnotation, *m,
                     "must be \"concurrency\" or \"rps\" for the KPA class");
    }
  }

  // ResolveMetricTarget: `total` is the per-pod maximum, `target` = total x utilization.
  double utilization = global.target_utilization;
  double total = 0;
  if (spec.metric == Metric::kRps) {
    total = global.rps_target_default;
  } else {
    total = container_concurrency > 0 ? static_cast<double>(container_concurrency)
                                      : global.container_concurrency_target_default;
  }
  if (auto t = Lookup(annotations, kTargetAnnotation)) {
    SKIFF_ASSIGN_OR_RETURN(double v, ParseFloat(kTargetAnnotation, *t));
    if (v < kTargetMin) return Invalid(kTargetAnnotation, *t, "must be at least 0.01");
    total = v;
    // An annotation target above containerConcurrency would underprovision the revision.
    if (spec.metric == Metric::kConcurrency && container_concurrency > 0) {
      total = std::min(v, static_cast<double>(container_concurrency));
    }
  }
  if (auto u = Lookup(annotations, kTargetUtilizationAnnotation)) {
    SKIFF_ASSIGN_OR_RETURN(double v, ParseFloat(kTargetUtilizationAnnotation, *u));
    SKIFF_RETURN_IF_ERROR(CheckRange(kTargetUtilizationAnnotation, *u, v, 1, 100));
    utilization = v / 100.0;
  }
  spec.total = total;
  spec.target = std::max(kTargetMin, total * utilization);

  spec.target_burst_capacity = global.target_burst_capacity;
  if (auto b = Lookup(annotations, kTargetBurstCapacityAnnotation)) {
    SKIFF_ASSIGN_OR_RETURN(double v, ParseFloat(kTargetBurstCapacityAnnotation, *b));
    if (v < 0 && v != -1) {
      return Invalid(kTargetBurstCapacityAnnotation, *b, "must be -1 or at least 0");
    }
    spec.target_burst_capacity = v;
  }

  spec.stable_window = global.stable_window;
  if (auto w = Lookup(annotations, kWindowAnnotation)) {
    SKIFF_ASSIGN_OR_RETURN(spec.stable_window, ParseDurationAnnotation(kWindowAnnotation, *w));
    if (spec.stable_window < kWindowMin || spec.stable_window > kWindowMax) {
      return Invalid(kWindowAnnotation, *w, "must be between 6s and 1h0m0s");
    }
  }
  double panic_window_percentage = global.panic_window_percentage;
  if (auto p = Lookup(annotations, kPanicWindowPercentageAnnotation)) {
    SKIFF_ASSIGN_OR_RETURN(panic_window_percentage,
                           ParseFloat(kPanicWindowPercentageAnnotation, *p));
    SKIFF_RETURN_IF_ERROR(CheckRange(kPanicWindowPercentageAnnotation, *p,
                                     panic_window_percentage, kPanicWindowPercentageMin,
                                     kPanicWindowPercentageMax));
  }
  spec.panic_window = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double, std::nano>(static_cast<double>(spec.stable_window.count()) *
                                               panic_window_percentage / 100.0));
  double panic_threshold_percentage = global.panic_threshold_percentage;
  if (auto p = Lookup(annotations, kPanicThresholdPercentageAnnotation)) {
    SKIFF_ASSIGN_OR_RETURN(panic_threshold_percentage,
                           ParseFloat(kPanicThresholdPercentageAnnotation, *p));
    SKIFF_RETURN_IF_ERROR(CheckRange(kPanicThresholdPercentageAnnotation, *p,
                                     panic_threshold_percentage, kPanicThresholdPercentageMin,
                                     kPanicThresholdPercentageMax));
  }
  spec.panic_threshold = panic_threshold_percentage / 100.0;

  spec.min_scale = global.min_scale;
  spec.max_scale = global.max_scale;
  if (auto v = Lookup(annotations, kMinScaleAnnotation)) {
    SKIFF_ASSIGN_OR_RETURN(spec.min_scale, ParseInt32(kMinScaleAnnotation, *v));
    if (spec.min_scale < 0) return Invalid(kMinScaleAnnotation, *v, "must be at least 0");
  }
  if (auto v = Lookup(annotations, kMaxScaleAnnotation)) {
    SKIFF_ASSIGN_OR_RETURN(spec.max_scale, ParseInt32(kMaxScaleAnnotation, *v));
    if (spec.max_scale < 0) return Invalid(kMaxScaleAnnotation, *v, "must be at least 0");
  }
  if (spec.max_scale != 0 && spec.min_scale > spec.max_scale) {
    return InvalidArgument("annotation " + std::string(kMinScaleAnnotation) + "=" +
                           Quote(std::to_string(spec.min_scale)) + " must be less than or equal to " +
                           std::string(kMaxScaleAnnotation) + "=" +
                           Quote(std::to_string(spec.max_scale)));
  }
  spec.initial_scale = global.initial_scale;
  if (auto v = Lookup(annotations, kInitialScaleAnnotation)) {
    SKIFF_ASSIGN_OR_RETURN(spec.initial_scale, ParseInt32(kInitialScaleAnnotation, *v));
    if (spec.initial_scale < 0) {
      return Invalid(kInitialScaleAnnotation, *v, "must be at least 0");
    }
    if (spec.initial_scale == 0 && !global.allow_zero_initial_scale) {
      return Invalid(kInitialScaleAnnotation, *v,
                     "must be at least 1 unless allow-zero-initial-scale is enabled");
    }
  }
  spec.activation_scale = global.activation_scale;
  if (auto v = Lookup(annotations, kActivationScaleAnnotation)) {
    SKIFF_ASSIGN_OR_RETURN(spec.activation_scale, ParseInt32(kActivationScaleAnnotation, *v));
    if (spec.activation_scale < 1) {
      return Invalid(kActivationScaleAnnotation, *v, "must be at least 1");
    }
    if (spec.max_scale != 0 && spec.activation_scale > spec.max_scale) {
      return Invalid(kActivationScaleAnnotation, *v, "must not exceed max-scale");
    }
  }
  spec.scale_down_delay = global.scale_down_delay;
  if (auto v = Lookup(annotations, kScaleDownDelayAnnotation)) {
    SKIFF_ASSIGN_OR_RETURN(spec.scale_down_delay,
                           ParseDurationAnnotation(kScaleDownDelayAnnotation, *v));
    if (spec.scale_down_delay < Duration(0) || spec.scale_down_delay > kScaleDownDelayMax) {
      return Invalid(kScaleDownDelayAnnotation, *v, "must be between 0s and 1h0m0s");
    }
  }
  spec.scale_to_zero_pod_retention_period = global.scale_to_zero_pod_retention_period;
  if (auto v = Lookup(annotations, kScaleToZeroPodRetentionAnnotation)) {
    SKIFF_ASSIGN_OR_RETURN(spec.scale_to_zero_pod_retention_period,
                           ParseDurationAnnotation(kScaleToZeroPodRetentionAnnotation, *v));
    if (spec.scale_to_zero_pod_retention_period < Duration(0) ||
        spec.scale_to_zero_pod_retention_period > kWindowMax) {
      return Invalid(kScaleToZeroPodRetentionAnnotation, *v, "must be between 0s and 1h0m0s");
    }
  }

  spec.max_scale_up_rate = global.max_scale_up_rate;
  spec.max_scale_down_rate = global.max_scale_down_rate;
  spec.scale_to_zero_grace_period = global.scale_to_zero_grace_period;
  spec.tick_interval = global.tick_interval;
  spec.enable_scale_to_zero = global.enable_scale_to_zero;
  return spec;
}

}  // namespace skiff::autoscale
