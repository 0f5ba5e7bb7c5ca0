// The Knative Pod Autoscaler (KPA) for one revision, as a pure state machine. It combines what
// Knative splits over two places:
//   - the decider (pkg/autoscaler/scaling/autoscaler.go, `Scale`): stable and panic window
//     averages of the observed metric, desired pods = ceil(observed / target per pod), limited
//     by the max scale up/down rates, panic mode, activation-scale and scale-down-delay;
//   - the KPA reconciler's scaler (pkg/reconciler/autoscaling/kpa/scaler.go): min/max scale,
//     initial-scale and the scale-to-zero sequence (stay active for a stable window, go
//     inactive, wait max(grace period, pod retention), then zero).
//
// The caller (the serving controller, fed by the gateway's stats) records one `Sample` per
// revision per second, zeros included, and calls `Decide(now, ready_pods)` every
// `spec.tick_interval` (2 s). No clock, threads or I/O of its own.
//
// Modes and transitions (numbers are the transitions tests name):
//
//   Stable --1 panic pods / ready pods >= panic threshold--> Panic
//   Panic  --2 still over the threshold: panic extended (panic time := now)--> Panic
//   Panic  --3 a stable window since the last time over the threshold--> Stable
//   In Panic the desired scale never decreases (it is the maximum seen since panic began).
//   A new autoscaler starts in Panic when it is created with more than one ready pod, so that
//   a restart (which loses the metric history) does not scale down.
//
// Activity, for scale to zero:
//
//   Active --4 desired 0 and active for >= stable window--> Inactive (current scale kept)
//   Active --5 desired 0 but active for < stable window--> Active (desired 1)
//   Inactive --6 inactive for >= max(grace period, pod retention)--> scale to zero allowed (0)
//     (before that the current scale is kept)
//   Inactive --7 desired > 0 (traffic came back)--> Active
//   "desired 0" is after min/max scale; with scale to zero disabled it becomes 1.
//
// Thread-compatible: one `Autoscaler` per revision, used from one thread.
#pragma once

#include <cstdint>
#include <optional>

#include "common/clock.h"
#include "engine/autoscale/config.h"
#include "engine/autoscale/window.h"

namespace skiff::autoscale {

// One second of observations for a whole revision (all its pods plus the activator's share):
// average concurrent in-flight requests, and requests received during that second.
struct Sample {
  double concurrency = 0;
  double rps = 0;
};

enum class Mode { kStable, kPanic };
std::string_view ModeName(Mode m);

struct Decision {
  // The number of replicas to run; nullopt when the current scale should be kept: no metrics
  // yet (Knative's invalid scale result; before the revision first reached its initial scale
  // the initial scale is returned instead), or inactive and waiting out the grace period.
  std::optional<int32_t> desired_scale;
  Mode mode = Mode::kStable;
  // True when the revision may go to zero replicas now (then `desired_scale` is 0).
  bool scale_to_zero_allowed = false;
  // True once the revision is inactive: requests must go through the activator/buffer.
  bool inactive = false;
  // Window averages of the scaling metric for the whole revision.
  double observed_stable = 0;
  double observed_panic = 0;
  // ceil(stable / target) and ceil(panic / target), before rates and bounds.
  double desired_stable_pods = 0;
  double desired_panic_pods = 0;
  // Knative's excess burst capacity: negative means the activator should stay in the path.
  int32_t excess_burst_capacity = 0;
  // When the controller should decide again.
  TimePoint next_decision{};
};

class Autoscaler {
 public:
  // `created` and `ready_pods` at creation decide whether it starts in panic mode.
  Autoscaler(ScalingSpec spec, TimePoint created, int32_t ready_pods = 0);

  // Records one sample (normally one per second).
  void Record(TimePoint t, const Sample& sample);

  // Decides the desired scale at `now` given the currently ready pods.
  Decision Decide(TimePoint now, int32_t ready_pods);

  // Applies a new spec (annotations changed); metric history is kept.
  void Update(ScalingSpec spec);

  const ScalingSpec& spec() const { return spec_; }
  bool in_panic() const { return panic_time_.has_value(); }

 private:
  struct Scale {
    bool valid = false;
    int32_t desired = 0;
  };
  Scale DecideKnative(TimePoint now, int32_t ready_pods, Decision& out);
  // Returns the desired scale, or -1 to keep the current one.
  int32_t ApplyBoundsAndZero(TimePoint now, int32_t desired, Decision& out);

  ScalingSpec spec_;
  WindowedAverage concurrency_stable_, concurrency_panic_;
  WindowedAverage rps_stable_, rps_panic_;
  std::optional<MaxWindow> delay_window_;

  // Panic state (Knative's panicTime / maxPanicPods).
  std::optional<TimePoint> panic_time_;
  int32_t max_panic_pods_ = 0;

  // Activity state for scale to zero.
  bool active_ = true;
  TimePoint active_since_;
  TimePoint inactive_since_{};
  // Set once ready pods reached the initial scale (Knative's ScaleTargetInitialized).
  bool scale_target_initialized_ = false;
};

}  // namespace skiff::autoscale
