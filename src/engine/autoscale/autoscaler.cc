#include "engine/autoscale/autoscaler.h"

#include <algorithm>
#include <cmath>

namespace skiff::autoscale {

namespace {

constexpr Duration kBucketSize = Seconds(1);  // Knative's scrape tick and bucket granularity

int32_t ToInt32(double v) {
  if (v >= 2147483647.0) return 2147483647;
  if (v <= -2147483648.0) return -2147483647 - 1;
  return static_cast<int32_t>(v);
}

}  // namespace

std::string_view ModeName(Mode m) { return m == Mode::kPanic ? "panic" : "stable"; }

Autoscaler::Autoscaler(ScalingSpec spec, TimePoint created, int32_t ready_pods)
    : spec_(std::move(spec)),
      concurrency_stable_(spec_.stable_window, kBucketSize),
      concurrency_panic_(spec_.panic_window, kBucketSize),
      rps_stable_(spec_.stable_window, kBucketSize),
      rps_panic_(spec_.panic_window, kBucketSize),
      active_since_(created) {
  if (spec_.scale_down_delay > Duration(0)) {
    delay_window_.emplace(spec_.scale_down_delay, spec_.tick_interval);
  }
  // Knative starts a new decider in panic mode when the revision already runs more than one
  // pod: the metric history is lost and scaling down on partial data would be wrong.
  if (ready_pods > 1) {
    panic_time_ = created;
    max_panic_pods_ = ready_pods;
  }
}

void Autoscaler::Update(ScalingSpec spec) {
  bool delay_changed = spec.scale_down_delay != spec_.scale_down_delay ||
                       spec.tick_interval != spec_.tick_interval;
  spec_ = std::move(spec);
  concurrency_stable_.Resize(spec_.stable_window);
  rps_stable_.Resize(spec_.stable_window);
  concurrency_panic_.Resize(spec_.panic_window);
  rps_panic_.Resize(spec_.panic_window);
  if (delay_changed) {
    delay_window_.reset();
    if (spec_.scale_down_delay > Duration(0)) {
      delay_window_.emplace(spec_.scale_down_delay, spec_.tick_interval);
    }
  }
}

void Autoscaler::Record(TimePoint t, const Sample& sample) {
  concurrency_stable_.Record(t, sample.concurrency);
  concurrency_panic_.Record(t, sample.concurrency);
  rps_stable_.Record(t, sample.rps);
  rps_panic_.Record(t, sample.rps);
}

Autoscaler::Scale Autoscaler::DecideKnative(TimePoint now, int32_t ready_pods, Decision& out) {
  const WindowedAverage& stable_window =
      spec_.metric == Metric::kRps ? rps_stable_ : concurrency_stable_;
  const WindowedAverage& panic_window =
      spec_.metric == Metric::kRps ? rps_panic_ : concurrency_panic_;
  if (stable_window.IsEmpty(now)) return {};  // no data to scale on yet

  // Use 1 if there are zero ready pods.
  const double ready = std::max(1.0, static_cast<double>(ready_pods));
  const double observed_stable = stable_window.Average(now);
  const double observed_panic = panic_window.Average(now);
  out.observed_stable = observed_stable;
  out.observed_panic = observed_panic;

  // The ceilings let a conservative rate still grow by one pod; the floor likewise.
  const double max_scale_up = std::ceil(spec_.max_scale_up_rate * ready);
  const double max_scale_down = spec_.reachable ? std::floor(ready / spec_.max_scale_down_rate) : 0;

  const double dspc = std::ceil(observed_stable / spec_.target);
  const double dppc = std::ceil(observed_panic / spec_.target);
  out.desired_stable_pods = dspc;
  out.desired_panic_pods = dppc;

  int32_t desired_stable = ToInt32(std::min(std::max(dspc, max_scale_down), max_scale_up));
  int32_t desired_panic = ToInt32(std::min(std::max(dppc, max_scale_down), max_scale_up));

  if (spec_.activation_scale > 1) {
    if (dspc > 0 && spec_.activation_scale > desired_stable) desired_stable = spec_.activation_scale;
    if (dppc > 0 && spec_.activation_scale > desired_panic) desired_panic = spec_.activation_scale;
  }

  const bool over_panic_threshold = dppc / ready >= spec_.panic_threshold;
  if (over_panic_threshold) {
    panic_time_ = now;  // 1: begin panicking, or 2: extend the panic
  } else if (panic_time_ && *panic_time_ + spec_.stable_window < now) {
    // 3: the surge has made its way into the stable window.
    panic_time_.reset();
    max_panic_pods_ = 0;
  }

  int32_t desired = desired_stable;
  if (panic_time_) {
    // Provision for whichever window asks for more, and never scale down while panicking.
    desired = std::max(desired, desired_panic);
    max_panic_pods_ = std::max(max_panic_pods_, desired);
    desired = max_panic_pods_;
    out.mode = Mode::kPanic;
  } else {
    out.mode = Mode::kStable;
  }

  if (delay_window_) {
    delay_window_->Record(now, desired);
    desired = delay_window_->Current();
  }

  // Excess burst capacity = total capacity - in flight (panic window) - target burst capacity.
  if (spec_.target_burst_capacity == 0) {
    out.excess_burst_capacity = 0;
  } else if (spec_.target_burst_capacity > 0) {
    const double capacity = static_cast<double>(std::max(0, ready_pods)) * spec_.total;
    out.excess_burst_capacity =
        ToInt32(std::floor(capacity - spec_.target_burst_capacity - observed_panic));
  } else {
    out.excess_burst_capacity = -1;
  }
  return {true, desired};
}

int32_t Autoscaler::ApplyBoundsAndZero(TimePoint now, int32_t desired, Decision& out) {
  // ScaleBounds: min-scale only holds for a reachable revision; max-scale 0 means unbounded.
  int32_t min = spec_.reachable ? spec_.min_scale : 0;
  const int32_t max = spec_.max_scale;
  if (spec_.initial_scale > 1 && !scale_target_initialized_) min = std::max(min, spec_.initial_scale);
  if (desired < min) desired = min;
  if (max > 0 && desired > max) desired = max;

  if (desired != 0) {
    if (!active_) {
      active_ = true;  // 7
      active_since_ = now;
    }
    return desired;
  }
  if (!spec_.enable_scale_to_zero) return 1;
  if (active_) {
    if (now - active_since_ >= spec_.stable_window) {
      active_ = false;  // 4
      inactive_since_ = now;
      out.inactive = true;
      return -1;  // keep the current scale until the grace period has passed
    }
    return 1;  // 5
  }
  out.inactive = true;
  const Duration wait =
      std::max(spec_.scale_to_zero_grace_period, spec_.scale_to_zero_pod_retention_period);
  if (now - inactive_since_ >= wait) {
    out.scale_to_zero_allowed = true;  // 6
    return 0;
  }
  return -1;
}

Decision Autoscaler::Decide(TimePoint now, int32_t ready_pods) {
  Decision out;
  out.next_decision = now + spec_.tick_interval;
  if (!scale_target_initialized_ && ready_pods >= spec_.initial_scale) {
    scale_target_initialized_ = true;
  }
  Scale scale = DecideKnative(now, ready_pods, out);
  if (!scale.valid) {
    out.mode = panic_time_ ? Mode::kPanic : Mode::kStable;
    out.inactive = !active_;
    if (!scale_target_initialized_) {
      int32_t initial = spec_.initial_scale;
      if (spec_.max_scale > 0) initial = std::min(initial, spec_.max_scale);
      out.desired_scale = std::max(initial, spec_.reachable ? spec_.min_scale : 0);
    }
    return out;
  }
  int32_t desired = ApplyBoundsAndZero(now, scale.desired, out);
  if (desired >= 0) out.desired_scale = desired;
  return out;
}

}  // namespace skiff::autoscale
