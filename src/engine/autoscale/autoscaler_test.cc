// Load traces replayed against the KPA. Samples are recorded every second and decisions taken
// every tick (2 s), as the serving controller does; time is passed in.
#include "engine/autoscale/autoscaler.h"

#include <gtest/gtest.h>

#include <functional>
#include <vector>

namespace skiff::autoscale {
namespace {

const TimePoint kT0 = TimePoint(Seconds(1767225600));

ScalingSpec Spec(Json annotations = nullptr, int64_t cc = 0, GlobalConfig global = {}) {
  auto spec = ResolveScalingSpec(annotations, cc, global);
  EXPECT_TRUE(spec.ok()) << spec.status().ToString();
  return *spec;
}

Json A(std::initializer_list<std::pair<const char*, const char*>> kv) {
  Json j = Json::object();
  for (const auto& [k, v] : kv) j[std::string("autoscaling.knative.dev/") + k] = v;
  return j;
}

struct Step {
  int t;  // seconds since kT0
  Decision d;
};

// Records `load(t)` at every second in [from, to] and decides at every even second, with
// `ready(t)` ready pods.
std::vector<Step> Replay(Autoscaler& as, int from, int to, const std::function<double(int)>& load,
                         const std::function<int32_t(int)>& ready, bool rps = false) {
  std::vector<Step> out;
  for (int t = from; t <= to; ++t) {
    TimePoint now = kT0 + Seconds(t);
    Sample s;
    (rps ? s.rps : s.concurrency) = load(t);
    as.Record(now, s);
    if (t % 2 == 0) out.push_back({t, as.Decide(now, ready(t))});
  }
  return out;
}

int32_t Desired(const Decision& d) { return d.desired_scale.value_or(-1); }

// The example: target 3 with 100 concurrent requests is 100 / (3 x 0.7) = 47.6 -> 48.
TEST(AutoscalerTest, TargetThreeWithHundredConcurrentRequestsGivesFortyEight) {
  Autoscaler as(Spec(A({{"target", "3"}})), kT0);
  auto steps = Replay(as, 0, 60, [](int) { return 100; }, [](int) { return 48; });
  const Decision& d = steps.back().d;
  EXPECT_EQ(Desired(d), 48);
  EXPECT_EQ(d.mode, Mode::kStable);
  EXPECT_DOUBLE_EQ(d.observed_stable, 100);

  // From a single pod the same load panics (48 / 1 >= 200%) and asks for 48 at once.
  Autoscaler cold(Spec(A({{"target", "3"}})), kT0);
  cold.Record(kT0, Sample{100, 0});
  Decision first = cold.Decide(kT0, 1);
  EXPECT_EQ(Desired(first), 48);
  EXPECT_EQ(first.mode, Mode::kPanic);
}

TEST(AutoscalerTest, SteadyStateHoldsTheFormula) {
  Autoscaler as(Spec(), kT0);  // target 100 x 70% = 70 per pod
  auto steps = Replay(as, 0, 120, [](int) { return 140; }, [](int) { return 2; });
  for (const auto& s : steps) {
    EXPECT_EQ(Desired(s.d), 2) << "t=" << s.t;
    EXPECT_EQ(s.d.mode, Mode::kStable) << "t=" << s.t;
  }
  auto more = Replay(as, 121, 240, [](int) { return 141; }, [](int) { return 2; });
  EXPECT_EQ(Desired(more.back().d), 3);  // ceil(141 / 70)
}

// A burst panics, panic never scales down, and panic ends a stable window after the panic
// window last saw the threshold crossed (transitions 1, 2, 3).
TEST(AutoscalerTest, BurstPanicsHoldsAndExitsAfterTheStableWindow) {
  Autoscaler as(Spec(), kT0);
  auto load = [](int t) { return t >= 60 && t < 70 ? 700.0 : 70.0; };
  auto steps = Replay(as, 0, 140, load, [](int) { return 1; });  // pods are slow to come up
  int32_t previous = 0;
  for (const auto& s : steps) {
    if (s.t < 60) {
      EXPECT_EQ(s.d.mode, Mode::kStable) << "t=" << s.t;
      EXPECT_EQ(Desired(s.d), 1) << "t=" << s.t;
    } else if (s.t <= 134) {
      // Last crossing at t=74 (the panic window 69..74 still holds one 700); exit needs
      // t > 74 + 60.
      EXPECT_EQ(s.d.mode, Mode::kPanic) << "t=" << s.t;
      EXPECT_GE(Desired(s.d), previous) << "panic scaled down at t=" << s.t;
      if (s.t >= 66) {
        EXPECT_EQ(Desired(s.d), 10) << "t=" << s.t;
      }
    } else {
      EXPECT_EQ(s.d.mode, Mode::kStable) << "t=" << s.t;
      EXPECT_EQ(Desired(s.d), 1) << "t=" << s.t;
    }
    previous = Desired(s.d);
  }
  // The first panic decision: panic window 55..60 averages (5 x 70 + 700) / 6 = 175 -> 3 pods.
  EXPECT_EQ(steps[30].t, 60);
  EXPECT_EQ(Desired(steps[30].d), 3);
}

TEST(AutoscalerTest, PanicIsDrivenByReadyPodsNotDesiredPods) {
  // With ten ready pods the same burst (dppc 10) stays below 200% of capacity: no panic.
  Autoscaler as(Spec(), kT0);
  auto load = [](int t) { return t >= 60 && t < 70 ? 700.0 : 70.0; };
  auto steps = Replay(as, 0, 80, load, [](int) { return 10; });
  for (const auto& s : steps) EXPECT_EQ(s.d.mode, Mode::kStable) << "t=" << s.t;
}

TEST(AutoscalerTest, StartsInPanicWithMoreThanOneReadyPodAndScalesDownByHalf) {
  Autoscaler as(Spec(), kT0, /*ready_pods=*/10);
  EXPECT_TRUE(as.in_panic());
  auto steps = Replay(as, 0, 60, [](int) { return 70; }, [](int) { return 10; });
  for (const auto& s : steps) {
    EXPECT_EQ(s.d.mode, Mode::kPanic) << "t=" << s.t;
    EXPECT_EQ(Desired(s.d), 10) << "t=" << s.t;
  }
  // t=62 > created + 60 s: stable again; max scale down rate 2 allows 10 -> 5, not 1.
  auto next = Replay(as, 61, 62, [](int) { return 70; }, [](int) { return 10; });
  EXPECT_EQ(next.back().d.mode, Mode::kStable);
  EXPECT_EQ(Desired(next.back().d), 5);
  next = Replay(as, 63, 64, [](int) { return 70; }, [](int) { return 5; });
  EXPECT_EQ(Desired(next.back().d), 2);
  next = Replay(as, 65, 66, [](int) { return 70; }, [](int) { return 2; });
  EXPECT_EQ(Desired(next.back().d), 1);
}

TEST(AutoscalerTest, MaxScaleUpRateLimitsGrowth) {
  GlobalConfig global;
  global.max_scale_up_rate = 2;
  Autoscaler as(Spec(nullptr, 0, global), kT0);
  as.Record(kT0, Sample{1000, 0});  // wants ceil(1000 / 70) = 15
  EXPECT_EQ(Desired(as.Decide(kT0, 1)), 2);
  EXPECT_EQ(Desired(as.Decide(kT0 + Seconds(2), 2)), 4);
  // Panicking (15 / 2 pods >= 200%): the maximum so far is held even though fewer pods are ready.
  EXPECT_EQ(Desired(as.Decide(kT0 + Seconds(4), 0)), 4);
  Autoscaler cold(Spec(nullptr, 0, global), kT0);
  cold.Record(kT0, Sample{1000, 0});
  EXPECT_EQ(Desired(cold.Decide(kT0, 0)), 2);  // zero ready pods count as one
}

TEST(AutoscalerTest, UnreachableRevisionScalesDownWithoutTheRateLimit) {
  ScalingSpec spec = Spec(A({{"min-scale", "3"}}));
  spec.reachable = false;
  Autoscaler as(spec, kT0);
  auto steps = Replay(as, 0, 60, [](int) { return 1; }, [](int) { return 10; });
  EXPECT_EQ(Desired(steps.back().d), 1);  // neither floor(10 / 2) nor min-scale apply
}

// Transitions 5, 4, 6 and 7.
TEST(AutoscalerTest, ScalesToZeroOnlyAfterTheStableWindowAndTheGracePeriod) {
  Autoscaler as(Spec(), kT0);
  auto load = [](int t) { return t < 30 ? 1.0 : 0.0; };
  auto steps = Replay(as, 0, 130, load, [](int) { return 1; });
  for (const auto& s : steps) {
    if (s.t <= 88) {
      // The stable window still holds the last request (t=29) until t=89.
      EXPECT_EQ(Desired(s.d), 1) << "t=" << s.t;
      EXPECT_FALSE(s.d.inactive) << "t=" << s.t;
    } else if (s.t < 120) {
      // Inactive from t=90: the current scale is kept while the grace period runs.
      EXPECT_FALSE(s.d.desired_scale.has_value()) << "t=" << s.t;
      EXPECT_TRUE(s.d.inactive) << "t=" << s.t;
      EXPECT_FALSE(s.d.scale_to_zero_allowed) << "t=" << s.t;
    } else {
      EXPECT_EQ(Desired(s.d), 0) << "t=" << s.t;
      EXPECT_TRUE(s.d.scale_to_zero_allowed) << "t=" << s.t;
    }
  }
  // A request arrives through the activator while at zero: one pod, active again.
  as.Record(kT0 + Seconds(131), Sample{1, 0});
  Decision back = as.Decide(kT0 + Seconds(132), 0);
  EXPECT_EQ(Desired(back), 1);
  EXPECT_FALSE(back.inactive);
  EXPECT_FALSE(back.scale_to_zero_allowed);
}

TEST(AutoscalerTest, NoScaleToZeroBeforeActiveForAStableWindow) {
  Autoscaler as(Spec(), kT0);
  // No traffic at all from creation: desired 0 from the first decision, but the revision
  // must have been active for 60 s (transition 5) and then wait the grace period.
  auto steps = Replay(as, 0, 92, [](int) { return 0; }, [](int) { return 1; });
  for (const auto& s : steps) {
    if (s.t < 60) {
      EXPECT_EQ(Desired(s.d), 1) << "t=" << s.t;
    }
    if (s.t >= 60 && s.t < 90) {
      EXPECT_FALSE(s.d.desired_scale.has_value()) << "t=" << s.t;
    }
    if (s.t >= 90) {
      EXPECT_EQ(Desired(s.d), 0) << "t=" << s.t;
    }
  }
}

TEST(AutoscalerTest, PodRetentionExtendsTheWaitForZero) {
  Autoscaler as(Spec(A({{"scale-to-zero-pod-retention-period", "60s"}})), kT0);
  auto steps = Replay(as, 0, 150, [](int t) { return t < 30 ? 1.0 : 0.0; },
                      [](int) { return 1; });
  for (const auto& s : steps) {
    if (s.t >= 90 && s.t < 150) {
      EXPECT_FALSE(s.d.scale_to_zero_allowed) << "t=" << s.t;
    }
  }
  EXPECT_TRUE(steps.back().d.scale_to_zero_allowed);
  EXPECT_EQ(Desired(steps.back().d), 0);
}

TEST(AutoscalerTest, MinScaleAndDisabledScaleToZeroKeepPods) {
  Autoscaler min(Spec(A({{"min-scale", "2"}})), kT0);
  auto steps = Replay(min, 0, 200, [](int) { return 0; }, [](int) { return 2; });
  for (const auto& s : steps) {
    EXPECT_EQ(Desired(s.d), 2) << "t=" << s.t;
    EXPECT_FALSE(s.d.scale_to_zero_allowed);
  }
  GlobalConfig global;
  global.enable_scale_to_zero = false;
  Autoscaler off(Spec(nullptr, 0, global), kT0);
  steps = Replay(off, 0, 200, [](int) { return 0; }, [](int) { return 1; });
  for (const auto& s : steps) EXPECT_EQ(Desired(s.d), 1) << "t=" << s.t;
}

TEST(AutoscalerTest, MaxScaleCapsTheFormula) {
  Autoscaler as(Spec(A({{"target", "3"}, {"max-scale", "5"}})), kT0);
  auto steps = Replay(as, 0, 60, [](int) { return 100; }, [](int) { return 5; });
  for (const auto& s : steps) EXPECT_EQ(Desired(s.d), 5) << "t=" << s.t;
}

TEST(AutoscalerTest, InitialScaleHoldsUntilReached) {
  Autoscaler as(Spec(A({{"initial-scale", "3"}})), kT0);
  Decision d = as.Decide(kT0, 0);  // no metrics yet
  EXPECT_EQ(Desired(d), 3);
  as.Record(kT0 + Seconds(1), Sample{10, 0});  // wants 1
  EXPECT_EQ(Desired(as.Decide(kT0 + Seconds(2), 1)), 3);
  as.Record(kT0 + Seconds(3), Sample{10, 0});
  // Three pods are ready: initial scale reached, the formula takes over (floor(3 / 2) = 1).
  EXPECT_EQ(Desired(as.Decide(kT0 + Seconds(4), 3)), 1);
  // Without metrics and after initialization: keep the current scale.
  Autoscaler idle(Spec(), kT0);
  EXPECT_EQ(Desired(idle.Decide(kT0, 0)), 1);
  EXPECT_FALSE(idle.Decide(kT0 + Seconds(2), 1).desired_scale.has_value());
}

TEST(AutoscalerTest, ActivationScaleIsTheSmallestNonZeroScale) {
  Autoscaler as(Spec(A({{"activation-scale", "3"}})), kT0);
  as.Record(kT0, Sample{1, 0});
  EXPECT_EQ(Desired(as.Decide(kT0, 0)), 3);
}

// The scale-down delay holds the maximum desired scale of the last delay window.
TEST(AutoscalerTest, ScaleDownDelayHoldsTheMaximumOverTheDelay) {
  auto load = [](int t) { return t < 20 ? 700.0 : 70.0; };
  Autoscaler delayed(Spec(A({{"window", "6s"}, {"scale-down-delay", "20s"}})), kT0);
  Autoscaler plain(Spec(A({{"window", "6s"}})), kT0);
  auto with = Replay(delayed, 0, 60, load, [](int) { return 10; });
  auto without = Replay(plain, 0, 60, load, [](int) { return 10; });
  ASSERT_EQ(with.size(), without.size());
  for (size_t i = 0; i < with.size(); ++i) {
    int32_t expected = 0;
    for (size_t j = 0; j < without.size(); ++j) {
      if (without[j].t > with[i].t - 20 && without[j].t <= with[i].t) {
        expected = std::max(expected, Desired(without[j].d));
      }
    }
    EXPECT_EQ(Desired(with[i].d), expected) << "t=" << with[i].t;
  }
  // Concretely: without the delay 5 pods at t=36; with it still 10 (seen at t=18).
  EXPECT_EQ(Desired(without[18].d), 5);
  EXPECT_EQ(with[18].t, 36);
  EXPECT_EQ(Desired(with[18].d), 10);
  EXPECT_EQ(Desired(with.back().d), 5);
}

TEST(AutoscalerTest, RpsMetricScalesOnRequestsPerSecond) {
  Autoscaler as(Spec(A({{"metric", "rps"}, {"target", "100"}})), kT0);  // 70 rps per pod
  auto steps = Replay(as, 0, 60, [](int) { return 500; }, [](int) { return 8; }, /*rps=*/true);
  EXPECT_EQ(Desired(steps.back().d), 8);  // ceil(500 / 70)
  EXPECT_DOUBLE_EQ(steps.back().d.observed_stable, 500);
  // Concurrency samples do not count for an rps revision.
  Autoscaler conc(Spec(A({{"metric", "rps"}})), kT0);
  auto c = Replay(conc, 0, 10, [](int) { return 1000; }, [](int) { return 1; });
  EXPECT_EQ(c.back().d.observed_stable, 0);
}

TEST(AutoscalerTest, ExcessBurstCapacity) {
  Autoscaler as(Spec(), kT0);  // total 100 per pod, target burst capacity 211
  as.Record(kT0, Sample{50, 0});
  // 3 pods x 100 - 211 - 50 = 39.
  EXPECT_EQ(as.Decide(kT0, 3).excess_burst_capacity, 39);
  Autoscaler always(Spec(A({{"target-burst-capacity", "-1"}})), kT0);
  always.Record(kT0, Sample{50, 0});
  EXPECT_EQ(always.Decide(kT0, 3).excess_burst_capacity, -1);
}

TEST(AutoscalerTest, NextDecisionIsOneTickLater) {
  Autoscaler as(Spec(), kT0);
  EXPECT_EQ(as.Decide(kT0, 0).next_decision, kT0 + Seconds(2));
}

}  // namespace
}  // namespace skiff::autoscale
